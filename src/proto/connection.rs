//! The protocol state machine of one manager ([`Connection`]): frames in,
//! frames and socket events out, time passed in, in the manner of
//! quinn-proto. No IO happens here, so every rule of the protocol can be
//! tested with literal frames and synthetic instants.
//!
//! A connection outlives the links it runs on: namespace state (pid,
//! offset, held events, pending acks) survives a dropped link, which is what
//! makes reconnection and connection state recovery possible.
//!
//! The caller feeds it with the `handle_*` methods and the commands, then
//! drains [`poll_transmit`](Connection::poll_transmit) and
//! [`poll_delivery`](Connection::poll_delivery) and sets a timer for
//! [`poll_timeout`](Connection::poll_timeout); each method says when it
//! must be called.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::codec::engine::OpenInfo;
use crate::codec::parser::{self, Decoder, Parser};
use crate::codec::Frame;
use crate::deque;
use crate::error::protocol::ProtocolError;
use crate::error::{AckError, ConnectError, EmitError};
use crate::proto::ack_sink::AckSink;
use crate::proto::auth::{self, AsyncAuth, Auth, AuthSource};
use crate::proto::emit::{EmitKind, EncodedEvent};
use crate::proto::event::{Delivery, DisconnectReason, Settled, SocketEvent, Waiting};
use crate::proto::reconnect::{ReconnectOptions, Reconnection};
use crate::proto::recovery::RecoveryState;
use crate::proto::update::{StatusChange, Update};

mod dialing;
mod incoming;
mod recent_offsets;
mod reliable;

pub(crate) use dialing::Dial;

use recent_offsets::RecentOffsets;
use reliable::ReliableQueue;

/// How many at-least-once emits a namespace takes in before the driver stops
/// reading its emit queue: bounds the memory of a producer faster than acks.
const RELIABLE_WINDOW: usize = 1024;

/// How many events a namespace holds that arrive before its CONNECT reply
/// when no recovery was asked for (a server may emit from its connection
/// handler before it replies). More is a protocol error.
const HELD_MAX_EVENTS: usize = 1024;

/// How many bytes of such events a namespace holds.
const HELD_MAX_BYTES: usize = 8 << 20;

/// The options of a connection, as the builder sets them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ConnectionOptions {
    /// Whether the recovery offset is taken off incoming events.
    pub(crate) strip_offsets: bool,
    /// How many times an at-least-once emit is sent again; 0 turns them off.
    pub(crate) retries: u32,
    pub(crate) reconnect: ReconnectOptions,
    /// The wire format of the packets.
    pub(crate) parser: Parser,
}

/// Why a link must end: the reason its sockets are told, and the error of the
/// connection attempt, which is what counts while no namespace has connected
/// on the link yet.
#[derive(Debug, Clone)]
pub(crate) struct LinkFault {
    pub(crate) reason: DisconnectReason,
    pub(crate) error: ConnectError,
}

impl LinkFault {
    /// The server closed the link.
    pub(crate) fn closed_by_server() -> Self {
        LinkFault {
            reason: DisconnectReason::TransportClose,
            error: ConnectError::HandshakeClosed,
        }
    }

    /// Reading or writing the link failed.
    pub(crate) fn transport(error: ConnectError) -> Self {
        LinkFault {
            reason: DisconnectReason::TransportError,
            error,
        }
    }

    /// The caller dropped the link on purpose (`engine().close()`), as a
    /// network failure would: reconnection follows.
    pub(crate) fn forced_close() -> Self {
        LinkFault {
            reason: DisconnectReason::ForcedClose,
            error: ConnectError::Aborted,
        }
    }

    /// No namespace wants the link any more.
    pub(crate) fn unwanted() -> Self {
        LinkFault {
            reason: DisconnectReason::IoClientDisconnect,
            error: ConnectError::Aborted,
        }
    }

    /// The server sent something this client refuses.
    pub(crate) fn protocol(error: ProtocolError) -> Self {
        tracing::warn!(%error, "protocol error from the server");
        LinkFault {
            reason: DisconnectReason::ParseError,
            error: ConnectError::Protocol(error),
        }
    }
}

/// How a namespace ends; see [`Connection::end`].
#[derive(Debug)]
pub(crate) enum Ending {
    /// The user disconnected it: a DISCONNECT goes out, no reconnection
    /// follows, and the session is forgotten.
    Disconnected,
    /// Its last handle is gone: nothing goes out, so the server keeps the
    /// session for a later recovery, as after a process exit.
    Dropped,
    /// The server ended it (a DISCONNECT, or a refused CONNECT): final, and
    /// its session is gone.
    ByServer(ConnectError),
    /// It could not connect; a later `connect()` may try again.
    Failed(ConnectError),
}

/// Names a socket across the layers: its handles, the commands they send
/// the driver, and the connection's table of namespaces, the one registry
/// of sockets. A later socket of the same namespace gets another id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SocketId(u64);

impl SocketId {
    /// The first id of a manager; each later socket takes the
    /// [`following`](Self::following) one, so ids never repeat within it.
    pub(crate) const FIRST: SocketId = SocketId(1);

    /// The id after this one.
    pub(crate) fn following(self) -> SocketId {
        SocketId(self.0.wrapping_add(1))
    }

    /// A new id, never used before in this test process.
    #[cfg(test)]
    pub(crate) fn next() -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        SocketId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NsState {
    /// The user does not want this namespace connected.
    Inactive,
    /// Wanted; a CONNECT is sent (or will be, once the link opens).
    Connecting,
    /// A recovery was asked for and the server replays what was missed, which
    /// it does only when it restores the session: the socket is connected for
    /// the application and the replay flows to it as it comes, under the usual
    /// backpressure; emits wait for the CONNECT reply that ends the replay.
    Replaying,
    /// The server accepted the CONNECT.
    Connected,
}

impl NsState {
    /// Whether the application was told that the socket is connected.
    fn announced(self) -> bool {
        matches!(self, NsState::Connected | NsState::Replaying)
    }
}

struct Namespace {
    id: SocketId,
    path: Arc<str>,
    state: NsState,
    auth: AuthSource,
    /// The async auth callback the CONNECT waits for (see [`AuthRequest`]).
    awaiting_auth: AwaitingAuth,
    /// How many auth requests this namespace made: the id of the last one.
    auth_requests: u64,
    recovery: Option<RecoveryState>,
    /// Offsets of the last events, to drop what a recovery replays twice.
    recent: RecentOffsets,
    /// The offset the CONNECT on the current link asked to recover from.
    recovery_from: Option<String>,
    /// The sid of the last connect: a recovered session keeps it.
    last_sid: Option<Arc<str>>,
    /// When the CONNECT reply is due, while connecting.
    connect_deadline: Option<Instant>,
    /// Events that came before the CONNECT reply although no recovery was
    /// asked for, and their size; bounded by [`HELD_MAX_EVENTS`] and
    /// [`HELD_MAX_BYTES`].
    held: Vec<SocketEvent>,
    held_bytes: usize,
    /// Whether an emit went out with an ack id since acks were last lost.
    acks_outstanding: bool,
    /// The ack id of the next emit that asks for one.
    next_ack_id: u64,
    /// How many `connect()` calls wait for the outcome of the current one.
    waiting: u32,
    reliable: ReliableQueue,
    /// The key of the next at-least-once emit.
    next_reliable_key: u64,
}

impl Namespace {
    /// The offset a recovery starts after: the last event received, or
    /// before any, the one the session was restored with.
    fn recovery_offset(&self) -> Option<&str> {
        let restored = self.recovery.as_ref()?.offset.as_deref();
        self.recent.last().or(restored)
    }

    /// Takes the events held for the CONNECT reply.
    fn take_held(&mut self) -> Vec<SocketEvent> {
        self.held_bytes = 0;
        std::mem::take(&mut self.held)
    }

    /// Allocates the ack id of an emit: the one place ids are made.
    fn take_ack_id(&mut self) -> u64 {
        let id = self.next_ack_id;
        self.next_ack_id = self.next_ack_id.wrapping_add(1);
        id
    }

    /// The emits sent with an ack id will get no answer.
    fn lose_acks(&mut self, updates: &mut VecDeque<(SocketId, Update)>) {
        if std::mem::take(&mut self.acks_outstanding) {
            updates.push_back((self.id, Update::AcksLost));
        }
    }

    /// Answers the `connect()` calls waiting on this namespace through its
    /// delivery queue, behind everything delivered before.
    fn settle(
        &mut self,
        deliveries: &mut VecDeque<(SocketId, Delivery)>,
        outcome: Result<(), ConnectError>,
    ) {
        let waiters = std::mem::take(&mut self.waiting);
        if waiters > 0 {
            deliveries.push_back((
                self.id,
                Delivery::Settled(Box::new(Settled {
                    outcome,
                    waiters: Waiting(waiters),
                })),
            ));
        }
    }
}

/// The open Engine.IO link.
struct OpenLink {
    info: OpenInfo,
    last_seen: Instant,
    /// Whether a namespace connected on this link, which makes the connection
    /// attempt a success.
    established: bool,
    /// Whether a CONNECT went out on it, and whether a Socket.IO packet came
    /// in: a server that closes the link after the one and before the
    /// other cannot read this client's packets.
    connect_sent: bool,
    heard: bool,
}

/// The protocol state of one manager and its namespaces.
pub(crate) struct Connection {
    link: Option<OpenLink>,
    /// Counts links, so an ack answer is never sent on a later link than its request.
    link_id: u64,
    namespaces: Vec<Namespace>,
    strip_offsets: bool,
    /// How many times an at-least-once emit is sent again.
    retries: u32,
    /// The `timeout` option: how long each step of an attempt may take.
    timeout: Duration,
    /// How long a namespace waits for its CONNECT reply on the current link.
    connect_timeout: Duration,
    /// Whether a namespace has ever connected: until then, a failure that
    /// retrying cannot fix ends the first connect at once, and a first
    /// connect's attempts are bounded in time.
    ever_connected: bool,
    /// The reconnection rules, the one owner of the attempt number.
    reconnection: Reconnection,
    /// When the next attempt may start, after a failure or a lost link.
    next_dial: Option<Instant>,
    /// Whether a namespace wanted the link when last asked: a change stops
    /// or starts a run of attempts.
    wanted: bool,
    /// The time given with the frame being handled.
    now: Instant,
    ack_sink: Arc<dyn AckSink>,
    /// Turns Engine.IO messages into Socket.IO packets; holds a packet's
    /// parts until all have come.
    decoder: Decoder,
    /// Since when reading has been paused for a slow consumer, if it is.
    paused_since: Option<Instant>,
    /// Frames to write, in order; see [`poll_transmit`](Self::poll_transmit).
    outbox: VecDeque<Frame>,
    /// Socket events for each namespace's dispatcher, in order; see
    /// [`poll_delivery`](Self::poll_delivery).
    deliveries: VecDeque<(SocketId, Delivery)>,
    /// What each socket's handles learn at once; see
    /// [`poll_update`](Self::poll_update).
    updates: VecDeque<(SocketId, Update)>,
}

/// Whether a namespace's CONNECT waits for an async auth callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AwaitingAuth {
    No,
    /// Request `n` is for the driver to start.
    ToStart(u64),
    /// Request `n` runs in the driver.
    Running(u64),
}

/// An async auth callback a namespace's CONNECT waits for, for the driver
/// to run.
pub(crate) struct AuthRequest {
    pub(crate) socket: SocketId,
    /// Which request of the namespace this is; only the last one counts.
    pub(crate) request: u64,
    pub(crate) callback: AsyncAuth,
}

impl Connection {
    /// A session with no link and no namespace yet, at `now`; `timeout`
    /// times each step of an attempt.
    pub(crate) fn new(
        options: ConnectionOptions,
        timeout: Duration,
        ack_sink: Arc<dyn AckSink>,
        now: Instant,
    ) -> Self {
        Connection {
            link: None,
            link_id: 0,
            namespaces: Vec::new(),
            strip_offsets: options.strip_offsets,
            retries: options.retries,
            timeout,
            connect_timeout: timeout,
            ever_connected: false,
            reconnection: Reconnection::new(options.reconnect),
            next_dial: None,
            wanted: false,
            now,
            ack_sink,
            decoder: Decoder::new(options.parser),
            paused_since: None,
            outbox: VecDeque::new(),
            deliveries: VecDeque::new(),
            updates: VecDeque::new(),
        }
    }

    /// Registers socket `id` for a namespace (taking over from a dropped
    /// socket of the same path) and returns the id. It starts inactive.
    pub(crate) fn add_namespace(
        &mut self,
        id: SocketId,
        path: &str,
        auth: AuthSource,
        recovery: Option<RecoveryState>,
    ) -> SocketId {
        let last_sid = recovery
            .as_ref()
            .and_then(|recovery| recovery.sid.as_deref())
            .map(Arc::from);
        let fresh = Namespace {
            id,
            path: Arc::from(path),
            state: NsState::Inactive,
            auth,
            awaiting_auth: AwaitingAuth::No,
            auth_requests: 0,
            recovery,
            recent: RecentOffsets::default(),
            recovery_from: None,
            last_sid,
            connect_deadline: None,
            held: Vec::new(),
            held_bytes: 0,
            acks_outstanding: false,
            next_ack_id: 0,
            waiting: 0,
            reliable: ReliableQueue::default(),
            next_reliable_key: 0,
        };
        if let Some(link) = &self.link {
            let max = StatusChange::MaxPayload(link.info.max_payload);
            self.updates.push_back((id, Update::Status(max)));
        }
        if let Some(index) = self.find(path) {
            // The old socket is gone: end its server-side socket. What is still
            // queued for it names it, not the new one.
            self.end_at(index, Ending::Disconnected);
            self.namespaces[index] = fresh;
        } else {
            // Most connections carry one namespace; room for four (what `push`
            // takes) would cost every idle connection a kilobyte.
            self.namespaces.reserve_exact(1);
            self.namespaces.push(fresh);
        }
        id
    }

    /// The index of the namespace of socket `id`, while that socket is the
    /// one attached to it: where it stands in the one table of sockets.
    fn find_socket(&self, id: SocketId) -> Option<usize> {
        self.namespaces.iter().position(|ns| ns.id == id)
    }

    /// The index of the namespace with this path.
    fn find(&self, path: &str) -> Option<usize> {
        self.namespaces.iter().position(|ns| &*ns.path == path)
    }

    /// The pid and last offset received of a namespace.
    #[cfg(test)]
    pub(crate) fn recovery(&self, id: SocketId) -> Option<RecoveryState> {
        let namespace = self.namespaces.get(self.find_socket(id)?)?;
        let recovery = namespace.recovery.as_ref()?;
        Some(RecoveryState {
            pid: recovery.pid.clone(),
            offset: namespace.recovery_offset().map(str::to_owned),
            sid: None,
        })
    }

    /// Whether socket `id` is connected, so emits can go out.
    #[cfg(test)]
    pub(crate) fn is_connected(&self, id: SocketId) -> bool {
        self.find_socket(id).is_some_and(|ns| self.connected_at(ns))
    }

    /// Whether the namespace at `ns` is connected.
    fn connected_at(&self, ns: usize) -> bool {
        self.namespaces
            .get(ns)
            .is_some_and(|ns| ns.state == NsState::Connected)
    }

    /// The parser its packets are encoded with.
    pub(crate) fn parser(&self) -> Parser {
        self.decoder.parser()
    }

    /// Whether any namespace wants the link.
    pub(crate) fn wants_link(&self) -> bool {
        self.namespaces
            .iter()
            .any(|ns| ns.state != NsState::Inactive)
    }

    /// The user wants socket `id` connected. With `waits`, the caller waits
    /// for the outcome: returned when it is known at once (`Closed` when
    /// the socket is not attached), else a [`Delivery::Settled`] for the
    /// socket answers it.
    pub(crate) fn connect(
        &mut self,
        id: SocketId,
        waits: bool,
        now: Instant,
    ) -> Option<Result<(), ConnectError>> {
        self.now = now;
        let Some(ns) = self.find_socket(id) else {
            return waits.then_some(Err(ConnectError::Closed));
        };
        let namespace = &mut self.namespaces[ns];
        if waits {
            if namespace.state.announced() {
                return Some(Ok(()));
            }
            namespace.waiting += 1;
        }
        if namespace.state == NsState::Inactive {
            namespace.state = NsState::Connecting;
            if self.link.is_some() {
                self.send_connect(ns);
            }
        }
        None
    }

    /// Ends the namespace of socket `id`, if it is attached; see
    /// [`end_at`](Self::end_at). Call with [`Ending::Disconnected`] or
    /// [`Ending::Dropped`] for the commands of the same name.
    pub(crate) fn end(&mut self, id: SocketId, ending: Ending) {
        if let Some(ns) = self.find_socket(id) {
            self.end_at(ns, ending);
        }
    }

    /// Ends a namespace, the one way a namespace ends. Its socket sees a
    /// disconnect if it was connected; pending acks and connect waiters fail.
    fn end_at(&mut self, ns: usize, ending: Ending) {
        let Some(namespace) = self.namespaces.get_mut(ns) else {
            return;
        };
        let (reason, waiter_error) = match ending {
            Ending::Disconnected => {
                // The server ends the session for good, so it is forgotten here too.
                namespace.recovery = None;
                // A namespace still waiting for its CONNECT reply gets its DISCONNECT
                // when the reply comes: the server may not have a socket to end before.
                if namespace.state.announced() && self.link.is_some() {
                    self.send_disconnect(ns);
                }
                (DisconnectReason::IoClientDisconnect, ConnectError::Aborted)
            }
            Ending::Dropped => (DisconnectReason::IoClientDisconnect, ConnectError::Closed),
            Ending::ByServer(error) => {
                namespace.recovery = None;
                (DisconnectReason::IoServerDisconnect, error)
            }
            Ending::Failed(error) => (DisconnectReason::IoClientDisconnect, error),
        };
        let namespace = &mut self.namespaces[ns];
        if namespace.state.announced() {
            let disconnected = Update::Status(StatusChange::Disconnected);
            self.updates.push_back((namespace.id, disconnected));
            self.deliveries
                .push_back((namespace.id, SocketEvent::Disconnect(reason).into()));
        }
        namespace.state = NsState::Inactive;
        namespace.connect_deadline = None;
        namespace.take_held();
        namespace.lose_acks(&mut self.updates);
        namespace.settle(&mut self.deliveries, Err(waiter_error));
        // Queued at-least-once emits wait for a later connect().
        namespace.reliable.requeue_in_flight();
    }

    /// Disconnects every namespace ([`Ending::Disconnected`]), which leaves
    /// the link unwanted.
    pub(crate) fn end_all(&mut self) {
        for ns in 0..self.namespaces.len() {
            if self.namespaces[ns].state != NsState::Inactive {
                self.end_at(ns, Ending::Disconnected);
            }
        }
    }

    fn send_disconnect(&mut self, ns: usize) {
        let frame = parser::disconnect_frame(self.decoder.parser(), &self.namespaces[ns].path);
        self.outbox.push_back(frame);
    }

    /// The Engine.IO open packet arrived on the link of the attempt
    /// [`poll_dial`](Self::poll_dial) asked for: every wanted namespace
    /// connects, each waiting for its reply for what is left of the
    /// attempt's time. Call once per link, when the transport has read the
    /// open packet.
    pub(crate) fn handle_open(&mut self, info: OpenInfo, now: Instant) {
        self.now = now;
        self.connect_timeout = self.attempt_timeout(now);
        self.wanted = self.wants_link();
        if self.paused_since.is_some() {
            // The heartbeat of the new link starts unjudged.
            self.paused_since = Some(now);
        }
        // The emitting handles check their frames against the server's limit.
        for namespace in &self.namespaces {
            let max = StatusChange::MaxPayload(info.max_payload);
            self.updates.push_back((namespace.id, Update::Status(max)));
        }
        self.link = Some(OpenLink {
            info,
            last_seen: now,
            established: false,
            connect_sent: false,
            heard: false,
        });
        self.link_id += 1;
        self.decoder.reset();
        for ns in 0..self.namespaces.len() {
            if self.namespaces[ns].state != NsState::Inactive {
                self.namespaces[ns].state = NsState::Connecting;
                self.send_connect(ns);
            }
        }
    }

    fn send_connect(&mut self, ns: usize) {
        let namespace = &mut self.namespaces[ns];
        namespace.connect_deadline = Some(self.now + self.connect_timeout);
        namespace.recovery_from = None;
        namespace.awaiting_auth = AwaitingAuth::No;
        match namespace.auth.evaluate() {
            Auth::Ready(auth) => self.write_connect(ns, auth),
            Auth::Later => {
                namespace.auth_requests = namespace.auth_requests.wrapping_add(1);
                namespace.awaiting_auth = AwaitingAuth::ToStart(namespace.auth_requests);
            }
        }
    }

    /// An async auth callback of [`poll_auth`](Self::poll_auth) gave its
    /// outcome: the CONNECT it held goes out, or the attempt fails as a
    /// CONNECT without an answer does. An outcome nobody waits for any more
    /// (the link was lost, the socket left) is ignored.
    pub(crate) fn handle_auth(
        &mut self,
        socket: SocketId,
        request: u64,
        outcome: Result<Value, ConnectError>,
    ) -> Result<(), LinkFault> {
        let Some(ns) = self.find_socket(socket) else {
            return Ok(());
        };
        let namespace = &mut self.namespaces[ns];
        if namespace.awaiting_auth != AwaitingAuth::Running(request)
            || namespace.state != NsState::Connecting
            || self.link.is_none()
        {
            return Ok(());
        }
        namespace.awaiting_auth = AwaitingAuth::No;
        match outcome {
            Ok(value) => {
                self.write_connect(ns, auth::object(value));
                Ok(())
            }
            Err(error) => self.connect_failed(ns, error),
        }
    }

    /// The next async auth callback to run, with the id of its request.
    /// Call after every input; hand the outcome to
    /// [`handle_auth`](Self::handle_auth).
    pub(crate) fn poll_auth(&mut self) -> Option<AuthRequest> {
        self.link.as_ref()?;
        self.namespaces.iter_mut().find_map(|namespace| {
            let AwaitingAuth::ToStart(request) = namespace.awaiting_auth else {
                return None;
            };
            if namespace.state != NsState::Connecting {
                return None;
            }
            let AuthSource::Async(callback) = &namespace.auth else {
                return None;
            };
            namespace.awaiting_auth = AwaitingAuth::Running(request);
            Some(AuthRequest {
                socket: namespace.id,
                request,
                callback: callback.clone(),
            })
        })
    }

    /// Writes the CONNECT of a namespace with this auth payload, or ends the
    /// namespace when there is none.
    fn write_connect(&mut self, ns: usize, auth: Result<Map<String, Value>, ConnectError>) {
        let namespace = &mut self.namespaces[ns];
        let mut auth = match auth {
            Ok(auth) => auth,
            Err(error) => {
                self.deliveries.push_back((
                    self.namespaces[ns].id,
                    SocketEvent::ConnectError(error.clone()).into(),
                ));
                self.end_at(ns, Ending::Failed(error));
                return;
            }
        };
        if let Some(recovery) = &namespace.recovery {
            // The session keys win over user keys of the same name: the server
            // reads them to decide on recovery.
            auth.insert("pid".into(), Value::String(recovery.pid.clone()));
            match namespace.recovery_offset().map(str::to_owned) {
                Some(offset) => {
                    auth.insert("offset".into(), Value::String(offset.clone()));
                    namespace.recovery_from = Some(offset);
                    namespace.recent.replay_expected();
                }
                None => {
                    auth.remove("offset");
                    tracing::debug!(
                        nsp = %namespace.path,
                        "no event received yet: the server will open a fresh session"
                    );
                }
            }
        }
        let data = (!auth.is_empty()).then_some(Value::Object(auth));
        let frame = parser::connect_frame(self.decoder.parser(), &namespace.path, data);
        self.outbox.push_back(frame);
        if let Some(link) = &mut self.link {
            link.connect_sent = true;
        }
    }

    /// The error a link that ended unestablished gives its attempt: a close
    /// by the server between a CONNECT and any packet says the parsers
    /// differ.
    fn attempt_error(&self, fault: &LinkFault) -> ConnectError {
        let at_connect = self
            .link
            .as_ref()
            .is_some_and(|link| link.connect_sent && !link.heard);
        match fault.error {
            ConnectError::HandshakeClosed if at_connect => ConnectError::ClosedAtConnect {
                parser: self.decoder.parser(),
            },
            _ => fault.error.clone(),
        }
    }

    /// The link is gone. Connected namespaces see the reason and wait to
    /// reconnect; acks already sent can no longer be answered. Returns whether
    /// a namespace had connected on the link, which made its attempt a success.
    /// Call once when the link ends, whatever ended it: a fault returned by a
    /// `handle_*` call, a read or write error, the server closing it, or the
    /// caller closing it.
    pub(crate) fn handle_link_lost(&mut self, fault: &LinkFault) -> bool {
        let established = self.link.take().is_some_and(|link| link.established);
        self.decoder.reset();
        self.outbox.clear();
        let refused = match &fault.error {
            ConnectError::Protocol(error) => Some(error),
            _ => None,
        };
        for namespace in &mut self.namespaces {
            if namespace.state.announced() {
                let disconnected = Update::Status(StatusChange::Disconnected);
                self.updates.push_back((namespace.id, disconnected));
                self.deliveries
                    .push_back((namespace.id, SocketEvent::Disconnect(fault.reason).into()));
            }
            if namespace.state != NsState::Inactive {
                namespace.state = NsState::Connecting;
            }
            namespace.connect_deadline = None;
            namespace.awaiting_auth = AwaitingAuth::No;
            namespace.lose_acks(&mut self.updates);
            namespace.reliable.requeue_in_flight();
            // A message the client refuses is replayed by the server after
            // every recovery: when a recovery ends on a refusal again before
            // any new event, give the session up rather than loop forever.
            let recovery_from = namespace.recovery_from.take();
            if let (Some(error), Some(from)) = (refused, recovery_from) {
                if namespace.recovery_offset() == Some(from.as_str()) {
                    tracing::warn!(
                        nsp = %namespace.path,
                        %error,
                        "the server replayed a refused message again: giving the session up"
                    );
                    namespace.recovery = None;
                    namespace.recent.clear();
                    self.deliveries.push_back((
                        namespace.id,
                        SocketEvent::RecoveryAbandoned(error.clone()).into(),
                    ));
                }
            }
        }
        established
    }

    /// A namespace connected on the current link: the connection attempt
    /// succeeded. Announces a reconnect to every socket that waits for the link.
    fn establish(&mut self) {
        let Some(link) = &mut self.link else {
            return;
        };
        self.ever_connected = true;
        if std::mem::replace(&mut link.established, true) {
            return;
        }
        let attempt = self.reconnection.attempt();
        if attempt > 0 {
            self.broadcast(SocketEvent::Reconnect(attempt));
        }
    }

    /// No further connection will be attempted: every waiting namespace gives up with `error`.
    pub(crate) fn give_up(&mut self, error: ConnectError) {
        for ns in 0..self.namespaces.len() {
            if self.namespaces[ns].state == NsState::Connecting {
                // Events held for a connect that will not complete are still
                // events the server sent: deliver them rather than lose them.
                let held = self.namespaces[ns].take_held();
                self.deliveries.extend(
                    held.into_iter()
                        .map(|ev| (self.namespaces[ns].id, ev.into())),
                );
                self.end_at(ns, Ending::Failed(error.clone()));
            }
        }
    }

    /// Tells every namespace that waits for the link about a manager-level event.
    pub(crate) fn broadcast(&mut self, event: SocketEvent) {
        for (ns, namespace) in self.namespaces.iter().enumerate() {
            if namespace.state != NsState::Inactive {
                self.deliveries
                    .push_back((self.namespaces[ns].id, event.clone().into()));
            }
        }
    }

    /// The next frame to write on the link, in order. Call after every
    /// `handle_*` call and command, until it returns `None`.
    pub(crate) fn poll_transmit(&mut self) -> Option<Frame> {
        self.outbox.pop_front()
    }

    /// The next thing the handles of socket `.0` must learn at once: a
    /// status change or the answer to an emit. Call after every `handle_*`
    /// call and command, until it returns `None`, whatever the dispatchers'
    /// room.
    pub(crate) fn poll_update(&mut self) -> Option<(SocketId, Update)> {
        self.updates.pop_front()
    }

    /// The next socket event for the dispatcher of socket `.0`, in order.
    /// Call after every `handle_*` call and command, until it returns `None`
    /// or a dispatcher is full; what was taken is the caller's to hand on.
    pub(crate) fn poll_delivery(&mut self) -> Option<(SocketId, Delivery)> {
        self.deliveries.pop_front()
    }

    /// Gives back the room of the queues of outputs that are empty. Call
    /// before waiting for input: they fill and drain within one wake, so
    /// an idle connection need not keep their room, nor a busy one make it
    /// again for each message.
    pub(crate) fn release_idle_room(&mut self) {
        deque::release_if_idle(&mut self.outbox);
        deque::release_if_idle(&mut self.deliveries);
        deque::release_if_idle(&mut self.updates);
    }

    /// The caller paused reading the link (`reading == false`: a
    /// dispatcher is full) or resumed it. Call on every change. While
    /// paused, the heartbeat and the CONNECT replies are not judged, since
    /// what the server sent waits unread; their clocks resume where they
    /// stopped.
    pub(crate) fn handle_reading(&mut self, reading: bool, now: Instant) {
        match (reading, self.paused_since) {
            (false, None) => self.paused_since = Some(now),
            (true, Some(since)) => {
                self.paused_since = None;
                let paused = now.saturating_duration_since(since);
                if let Some(link) = &mut self.link {
                    link.last_seen += paused;
                }
                for namespace in &mut self.namespaces {
                    if let Some(due) = &mut namespace.connect_deadline {
                        *due += paused;
                    }
                }
            }
            _ => {}
        }
    }

    /// When the link must be declared dead unless something arrives.
    fn ping_deadline(&self) -> Option<Instant> {
        self.link
            .as_ref()
            .map(|link| link.last_seen + link.info.ping_interval + link.info.ping_timeout)
    }

    /// Whether the heartbeat deadline has passed at `now`.
    fn ping_expired(&self, now: Instant) -> bool {
        self.ping_deadline().is_some_and(|deadline| now >= deadline)
    }

    /// The next instant [`handle_timeout`](Self::handle_timeout) must be
    /// called at: an at-least-once emit timing out, and while reading (see
    /// [`handle_reading`](Self::handle_reading)) the heartbeat deadline and
    /// the CONNECT replies due. Call after every `handle_*` call and command;
    /// a later instant than before needs no new timer, as an early
    /// `handle_timeout` does nothing.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let reading = self.paused_since.is_none();
        let retries = self
            .namespaces
            .iter()
            .filter_map(|ns| ns.reliable.deadline());
        let connects = self
            .namespaces
            .iter()
            .filter_map(|ns| ns.connect_deadline)
            .filter(|_| reading);
        let ping = self.ping_deadline().filter(|_| reading);
        retries.chain(connects).chain(ping).min()
    }

    /// Does what is due at `now`: resends at-least-once emits whose ack did
    /// not come in time and fails those that used up their retries, and
    /// judges the heartbeat and the CONNECT replies (while reading). `Err`
    /// means the link must end: call [`handle_link_lost`](Self::handle_link_lost).
    ///
    /// A namespace whose CONNECT reply is overdue fails the connection attempt
    /// while none has connected on the link; after that, it fails alone.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Result<(), LinkFault> {
        self.now = now;
        for ns in 0..self.namespaces.len() {
            let namespace = &mut self.namespaces[ns];
            let (resend, exhausted) = namespace.reliable.expire(now, self.retries);
            if let Some(done) = exhausted {
                let error = AckError::Emit(EmitError::Unacknowledged { tries: done.tries });
                self.updates
                    .push_back((namespace.id, Update::Reliable(done.key, Err(error))));
            }
            if resend {
                self.send_reliable(ns);
            }
        }
        if self.paused_since.is_some() {
            return Ok(());
        }
        if let Some(link) = self.link.as_ref().filter(|_| self.ping_expired(now)) {
            // Only counts as the attempt's error when the server fell
            // silent before any namespace connected.
            let silence = link.info.ping_interval + link.info.ping_timeout;
            return Err(LinkFault {
                reason: DisconnectReason::PingTimeout,
                error: ConnectError::Timeout(silence),
            });
        }
        for ns in 0..self.namespaces.len() {
            let namespace = &self.namespaces[ns];
            if namespace.state == NsState::Connecting
                && namespace.connect_deadline.is_some_and(|due| now >= due)
            {
                tracing::debug!(nsp = %namespace.path, "no reply to the namespace CONNECT in time");
                self.connect_failed(ns, ConnectError::Timeout(self.connect_timeout))?;
            }
        }
        Ok(())
    }

    /// A namespace's CONNECT could not get an answer. Before any namespace
    /// connected on the link, that fails the link's attempt, which
    /// reconnection retries; after, the namespace alone fails.
    fn connect_failed(&mut self, ns: usize, error: ConnectError) -> Result<(), LinkFault> {
        let established = self.link.as_ref().is_some_and(|link| link.established);
        if !established {
            return Err(LinkFault {
                reason: DisconnectReason::TransportError,
                error,
            });
        }
        tracing::warn!(nsp = %self.namespaces[ns].path, %error, "namespace not connected");
        self.deliveries.push_back((
            self.namespaces[ns].id,
            SocketEvent::ConnectError(error.clone()).into(),
        ));
        self.end_at(ns, Ending::Failed(error));
        Ok(())
    }

    /// Sends the front at-least-once emit of a connected namespace, if any.
    fn send_reliable(&mut self, ns: usize) {
        if self.link.is_none() || !self.connected_at(ns) {
            return;
        }
        let namespace = &mut self.namespaces[ns];
        if namespace.reliable.len() == 0 {
            return;
        }
        let id = namespace.take_ack_id();
        if let Some(Some(event)) = namespace
            .reliable
            .send_front(id, self.now, &mut self.outbox)
        {
            self.deliveries
                .push_back((self.namespaces[ns].id, Delivery::Outgoing(event)));
        }
    }

    /// Whether the driver may hand socket `id` more emits.
    pub(crate) fn accepts_emits(&self, id: SocketId) -> bool {
        self.find_socket(id).is_some_and(|ns| {
            self.connected_at(ns) && self.namespaces[ns].reliable.len() < RELIABLE_WINDOW
        })
    }

    /// Queues an emit of socket `id`, of `kind`. Returns the key its
    /// answer will name: the ack id of an emit with an ack ([`Update::Ack`]),
    /// the key of an at-least-once emit ([`Update::Reliable`]). Call for
    /// each emit taken from the socket's queue while
    /// [`accepts_emits`](Self::accepts_emits).
    pub(crate) fn send(
        &mut self,
        id: SocketId,
        event: EncodedEvent,
        kind: EmitKind,
        now: Instant,
    ) -> Option<u64> {
        self.now = now;
        let ns = self.find_socket(id)?;
        let namespace = &mut self.namespaces[ns];
        let (key, notify) = match kind {
            EmitKind::Plain => {
                let notify = event.notify();
                event.write_plain(&mut self.outbox);
                (None, notify)
            }
            EmitKind::WithAck => {
                let ack_id = namespace.take_ack_id();
                namespace.acks_outstanding = true;
                event.write(Some(ack_id), &mut self.outbox);
                (Some(ack_id), event.notify())
            }
            EmitKind::AtLeastOnce(timeout) => {
                let key = namespace.next_reliable_key;
                namespace.next_reliable_key = key.wrapping_add(1);
                let idle = !namespace.reliable.in_flight();
                namespace.reliable.push(key, event, timeout);
                if idle {
                    self.send_reliable(ns);
                }
                return Some(key);
            }
        };
        if let Some(event) = notify {
            self.deliveries
                .push_back((self.namespaces[ns].id, Delivery::Outgoing(event)));
        }
        key
    }

    /// The caller of at-least-once emit `key` of socket `id` stopped
    /// waiting: it is not sent (again), and its answer goes to nobody.
    pub(crate) fn cancel_reliable(&mut self, id: SocketId, key: u64) {
        if let Some(ns) = self.find_socket(id) {
            self.namespaces[ns].reliable.cancel(key);
        }
    }

    /// Queues the answer to a server's ack request (its text frame, then its
    /// attachments), if it was made on the current link.
    pub(crate) fn send_ack_answer(&mut self, link: u64, frames: Vec<Frame>) {
        let Some(current) = self.link.as_ref().filter(|_| link == self.link_id) else {
            tracing::debug!("dropping an ack answer: its request came on an earlier link");
            return;
        };
        // The server closes the whole connection over a message above its
        // maxPayload; losing this one answer is the smaller harm. The emitting
        // handles check this before queueing, but an answer is built where the
        // limit is not at hand.
        let max = current.info.max_payload;
        let size = frames.iter().map(Frame::len).max().unwrap_or_default();
        if max > 0 && size as u64 > max {
            tracing::warn!(
                size,
                max,
                "dropping an ack answer larger than the server's maxPayload"
            );
            return;
        }
        self.outbox.extend(frames);
    }
}

/// An open packet's values, for tests that open a link by hand.
#[cfg(test)]
pub(crate) fn test_open_info(
    ping_interval: std::time::Duration,
    ping_timeout: std::time::Duration,
) -> OpenInfo {
    OpenInfo {
        sid: "engine-sid".into(),
        upgrades: Vec::new(),
        ping_interval,
        ping_timeout,
        max_payload: 1_000_000,
    }
}

#[cfg(test)]
mod tests;
