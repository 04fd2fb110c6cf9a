//! Unit tests of the connection state machine: literal frames in, frames and
//! socket events out, synthetic time.
//!
//! Frames are written as they appear on the WebSocket, Engine.IO type digit
//! included (`42[...]` is an Engine.IO message carrying a Socket.IO EVENT).
//! Time is `Instant::now()` plus durations; nothing sleeps and nothing does IO.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{
    test_open_info, AuthSource, Connection, ConnectionOptions, Dial, Ending, LinkFault, NsState,
    SocketId, HELD_MAX_BYTES, HELD_MAX_EVENTS,
};
use crate::codec::parser::Parser;
use crate::codec::Frame;
use crate::error::protocol::ProtocolError;
use crate::error::{AckError, ConnectError, EmitError};
use crate::proto::ack_sink::{AckAnswer, AckSink, SinkClosed};
use crate::proto::emit::{AckPayload, EmitKind, EncodedEvent};
use crate::proto::event::{Delivery, DisconnectReason, Event, SocketEvent, Waiting};
use crate::proto::reconnect::{ReconnectOptions, ReconnectPolicy};
use crate::proto::recovery::RecoveryState;
use crate::proto::update::{StatusChange, Update};

#[path = "../../../tests/support/rng.rs"]
mod rng;
use rng::Rng;

const PING_INTERVAL: Duration = Duration::from_secs(25);
const PING_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

type ConnectOutcome = oneshot::Receiver<Result<(), ConnectError>>;
type AckOutcome = oneshot::Receiver<Result<AckPayload, AckError>>;

/// A socket event reduced to what tests compare.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Connect {
        recovered: bool,
    },
    Disconnect(DisconnectReason),
    /// The error's Display text.
    ConnectError(String),
    ReconnectAttempt(u32),
    Reconnect(u32),
    ReconnectError(String),
    ReconnectFailed,
    /// The error's Display text.
    RecoveryAbandoned(String),
    Ping,
    Event {
        name: String,
        args: Value,
        attachments: Vec<Bytes>,
        offset: Option<String>,
        wants_ack: bool,
    },
}

impl Seen {
    fn of(event: &SocketEvent) -> Seen {
        match event {
            SocketEvent::Connect { recovered } => Seen::Connect {
                recovered: *recovered,
            },
            SocketEvent::Disconnect(reason) => Seen::Disconnect(*reason),
            SocketEvent::ConnectError(error) => Seen::ConnectError(error.to_string()),
            SocketEvent::ReconnectAttempt(n) => Seen::ReconnectAttempt(*n),
            SocketEvent::Reconnect(n) => Seen::Reconnect(*n),
            SocketEvent::ReconnectError(error) => Seen::ReconnectError(error.to_string()),
            SocketEvent::ReconnectFailed => Seen::ReconnectFailed,
            SocketEvent::RecoveryAbandoned(error) => Seen::RecoveryAbandoned(error.to_string()),
            SocketEvent::Ping => Seen::Ping,
            SocketEvent::Event(event) => Seen::Event {
                name: event.name().to_owned(),
                args: Value::Array(event.args().to_vec()),
                attachments: event.attachments().to_vec(),
                offset: event.offset().map(str::to_owned),
                wants_ack: event.wants_ack(),
            },
        }
    }
}

/// The reconnection rules of the tests: retries without end, 1 s doubling
/// up to 5 s, no jitter, no first-connect window.
fn rules() -> ReconnectOptions {
    ReconnectOptions {
        enabled: true,
        attempts: None,
        first_connect_window: None,
        policy: ReconnectPolicy {
            delay: Duration::from_secs(1),
            delay_max: Duration::from_secs(5),
            randomization_factor: 0.0,
        },
    }
}

/// The options of a connection with these settings and the test rules.
fn options(strip_offsets: bool, retries: u32, reconnect: ReconnectOptions) -> ConnectionOptions {
    ConnectionOptions {
        strip_offsets,
        retries,
        reconnect,
        parser: Parser::Default,
    }
}

const CONNECTED: Seen = Seen::Connect { recovered: false };
const RECOVERED: Seen = Seen::Connect { recovered: true };

/// An event without offset, attachments or ack request.
fn ev(name: &str, args: Value) -> Seen {
    Seen::Event {
        name: name.to_owned(),
        args,
        attachments: Vec::new(),
        offset: None,
        wants_ack: false,
    }
}

/// An event whose recovery offset was stripped off its arguments.
fn ev_at(name: &str, args: Value, offset: &str) -> Seen {
    Seen::Event {
        name: name.to_owned(),
        args,
        attachments: Vec::new(),
        offset: Some(offset.to_owned()),
        wants_ack: false,
    }
}

fn static_auth(value: Value) -> AuthSource {
    match value {
        Value::Object(map) => AuthSource::Static(map),
        other => panic!("static auth must be an object, got {other}"),
    }
}

fn resume(pid: &str, offset: Option<&str>) -> Option<RecoveryState> {
    Some(RecoveryState {
        pid: pid.to_owned(),
        offset: offset.map(str::to_owned),
        sid: None,
    })
}

/// Splits a CONNECT frame into its head (`40`, `40/admin,`) and its JSON
/// payload, so payloads compare independently of key order.
fn split_connect(frame: &str) -> (&str, Option<Value>) {
    match frame.find('{') {
        Some(at) => (
            &frame[..at],
            Some(serde_json::from_str(&frame[at..]).expect("CONNECT payload is JSON")),
        ),
        None => (frame, None),
    }
}

/// The text message of an ack answer of the default parser, and the
/// attachments that follow it.
fn split_answer(frames: &[Frame]) -> (String, Vec<Bytes>) {
    let Some((Frame::Text(text), rest)) = frames.split_first() else {
        panic!("an answer starts with its text: {frames:?}");
    };
    let attachments = rest
        .iter()
        .map(|frame| match frame {
            Frame::Binary(data) => data.clone(),
            Frame::Text(text) => panic!("a second text message {text:?}"),
        })
        .collect();
    (text.clone(), attachments)
}

/// Ack answers collected in memory, in the order they were sent.
#[derive(Default)]
struct CollectedAnswers(Mutex<VecDeque<AckAnswer>>);

impl CollectedAnswers {
    fn take(&self) -> Option<AckAnswer> {
        self.0.lock().unwrap().pop_front()
    }
}

impl AckSink for CollectedAnswers {
    fn send(&self, answer: AckAnswer) -> Result<(), SinkClosed> {
        self.0.lock().unwrap().push_back(answer);
        Ok(())
    }
}

/// The sink of a connection whose driver is gone.
struct ClosedSink;

impl AckSink for ClosedSink {
    fn send(&self, _: AckAnswer) -> Result<(), SinkClosed> {
        Err(SinkClosed)
    }
}

/// What the handles read of a socket: the connection's status changes,
/// applied as the driver applies them.
#[derive(Default)]
struct Status(Mutex<StatusState>);

#[derive(Default)]
struct StatusState {
    connected: bool,
    recovered: bool,
    id: Option<Arc<str>>,
    pid: Option<Arc<str>>,
    max_payload: Option<u64>,
}

impl Status {
    fn apply(&self, change: StatusChange) {
        let mut state = self.0.lock().unwrap();
        match change {
            StatusChange::Connected {
                sid,
                pid,
                recovered,
            } => {
                state.connected = true;
                state.recovered = recovered;
                state.id = sid;
                state.pid = pid;
            }
            StatusChange::Refused => state.recovered = false,
            StatusChange::Disconnected => {
                state.connected = false;
                state.id = None;
            }
            StatusChange::MaxPayload(max) => state.max_payload = Some(max),
        }
    }

    fn connected(&self) -> bool {
        self.0.lock().unwrap().connected
    }

    fn recovered(&self) -> bool {
        self.0.lock().unwrap().recovered
    }

    fn id(&self) -> Option<Arc<str>> {
        self.0.lock().unwrap().id.clone()
    }

    fn pid(&self) -> Option<Arc<str>> {
        self.0.lock().unwrap().pid.clone()
    }

    fn max_payload(&self) -> Option<u64> {
        self.0.lock().unwrap().max_payload
    }
}

/// A connection state machine with an ack sink and a clock, and what the
/// driver holds for the handles: their status and their waiters, answered
/// as the connection's updates and deliveries say.
struct Harness {
    conn: Connection,
    /// Where `Event::ack` sends its answers.
    acks: Arc<CollectedAnswers>,
    now: Instant,
    statuses: Vec<(SocketId, Arc<Status>)>,
    /// `connect()` callers, the oldest first.
    connects: Vec<(SocketId, oneshot::Sender<Result<(), ConnectError>>)>,
    /// Emits waiting for an ack, by socket and ack id.
    ack_waiters: HashMap<(SocketId, u64), oneshot::Sender<Result<AckPayload, AckError>>>,
    /// At-least-once emits waiting for theirs, by socket and key.
    reliable_waiters: HashMap<(SocketId, u64), oneshot::Sender<Result<AckPayload, AckError>>>,
}

impl Harness {
    fn new() -> Self {
        Self::with_strip(true)
    }

    fn with_strip(strip_offsets: bool) -> Self {
        let acks = Arc::new(CollectedAnswers::default());
        let now = Instant::now();
        Harness {
            conn: Connection::new(
                options(strip_offsets, 0, rules()),
                CONNECT_TIMEOUT,
                acks.clone(),
                now,
            ),
            acks,
            now,
            statuses: Vec::new(),
            connects: Vec::new(),
            ack_waiters: HashMap::new(),
            reliable_waiters: HashMap::new(),
        }
    }

    /// A fresh connection with these settings, in place of the harness's.
    fn replace(&mut self, strip_offsets: bool, retries: u32, rules: ReconnectOptions) {
        self.conn = Connection::new(
            options(strip_offsets, retries, rules),
            CONNECT_TIMEOUT,
            self.acks.clone(),
            self.now,
        );
    }

    /// Applies the connection's updates, as the driver does.
    fn route(&mut self) {
        while let Some((ns, update)) = self.conn.poll_update() {
            match update {
                Update::Status(change) => {
                    if let Some((_, status)) = self.statuses.iter().find(|(id, _)| *id == ns) {
                        status.apply(change);
                    }
                }
                Update::Ack(id, payload) => {
                    if let Some(waiter) = self.ack_waiters.remove(&(ns, id)) {
                        let _ = waiter.send(Ok(payload));
                    }
                }
                Update::AcksLost => {
                    let lost: Vec<_> = self
                        .ack_waiters
                        .keys()
                        .filter(|(id, _)| *id == ns)
                        .copied()
                        .collect();
                    for key in lost {
                        if let Some(waiter) = self.ack_waiters.remove(&key) {
                            let _ = waiter.send(Err(AckError::Disconnected));
                        }
                    }
                }
                Update::Reliable(key, result) => {
                    if let Some(waiter) = self.reliable_waiters.remove(&(ns, key)) {
                        let _ = waiter.send(result);
                    }
                }
            }
        }
    }

    /// Answers the `waiting` oldest `connect()` callers of socket `ns`.
    fn answer_connects(
        &mut self,
        ns: SocketId,
        waiting: Waiting,
        outcome: Result<(), ConnectError>,
    ) {
        for _ in 0..waiting.0 {
            let at = self
                .connects
                .iter()
                .position(|(id, _)| *id == ns)
                .expect("as many callers as counted");
            let (_, waiter) = self.connects.remove(at);
            let _ = waiter.send(outcome.clone());
        }
    }

    fn add(
        &mut self,
        path: &str,
        auth: AuthSource,
        recovery: Option<RecoveryState>,
    ) -> (SocketId, Arc<Status>) {
        let status = Arc::new(Status::default());
        let ns = self
            .conn
            .add_namespace(SocketId::next(), path, auth, recovery);
        self.statuses.push((ns, status.clone()));
        self.route();
        (ns, status)
    }

    /// `connect()` of socket `ns`, with a caller that waits for the outcome.
    fn connect(&mut self, ns: SocketId) -> ConnectOutcome {
        let (tx, rx) = oneshot::channel();
        match self.conn.connect(ns, true, self.now) {
            Some(outcome) => {
                let _ = tx.send(outcome);
            }
            None => self.connects.push((ns, tx)),
        }
        self.settle();
        rx
    }

    /// `connect()` of socket `ns`, with no caller waiting.
    fn want(&mut self, ns: SocketId) {
        assert!(self.conn.connect(ns, false, self.now).is_none());
        self.settle();
    }

    fn open(&mut self) {
        self.conn
            .handle_open(test_open_info(PING_INTERVAL, PING_TIMEOUT), self.now);
        self.route();
    }

    fn text(&mut self, frame: &str) -> Result<(), DisconnectReason> {
        let result = self.conn.handle_text(frame, self.now);
        self.settle();
        result.map_err(|fault| fault.reason)
    }

    /// Applies the updates and answers the connect waiters whose outcome is
    /// queued, as the dispatcher does once it reaches them; other deliveries
    /// stay.
    fn settle(&mut self) {
        self.route();
        let deliveries = std::mem::take(&mut self.conn.deliveries);
        for (ns, dispatch) in deliveries {
            match dispatch {
                Delivery::Settled(settled) => {
                    self.answer_connects(ns, settled.waiters, settled.outcome);
                }
                other => self.conn.deliveries.push_back((ns, other)),
            }
        }
    }

    /// Feeds a frame that must end the link; returns the attempt's error.
    fn fault(&mut self, frame: &str) -> ConnectError {
        let result = self.conn.handle_text(frame, self.now);
        self.route();
        match result {
            Err(fault) => fault.error,
            Ok(()) => panic!("{frame:?} was accepted"),
        }
    }

    /// Ends the link with `reason`; returns whether it was established.
    fn lose(&mut self, reason: DisconnectReason) -> bool {
        let established = self.conn.handle_link_lost(&LinkFault {
            reason,
            error: ConnectError::HandshakeClosed,
        });
        self.settle();
        established
    }

    /// Gives up connecting with `error`.
    fn give_up(&mut self, error: ConnectError) {
        self.conn.give_up(error);
        self.settle();
    }

    /// Feeds frames that must all be accepted.
    fn recv(&mut self, frames: &[&str]) {
        for frame in frames {
            assert_eq!(self.text(frame), Ok(()), "frame {frame:?}");
        }
    }

    fn binary(&mut self, data: &'static [u8]) -> Result<(), DisconnectReason> {
        let result = self.conn.handle_binary(Bytes::from_static(data), self.now);
        self.settle();
        result.map_err(|fault| fault.reason)
    }

    /// Drains the outbox.
    fn frames(&mut self) -> Vec<Frame> {
        self.conn.outbox.drain(..).collect()
    }

    /// Drains the outbox, which must hold only text frames.
    fn texts(&mut self) -> Vec<String> {
        self.frames()
            .into_iter()
            .map(|frame| match frame {
                Frame::Text(text) => text,
                Frame::Binary(data) => panic!("unexpected binary frame {data:?}"),
            })
            .collect()
    }

    /// Drains the deliveries, answering connect waiters as the dispatcher does.
    fn events(&mut self) -> Vec<(SocketId, SocketEvent)> {
        self.route();
        let mut events = Vec::new();
        for (ns, dispatch) in std::mem::take(&mut self.conn.deliveries) {
            match dispatch {
                Delivery::Event(event) => events.push((ns, SocketEvent::Event(event))),
                Delivery::Lifecycle(event) => events.push((ns, *event)),
                Delivery::Outgoing(event) => panic!("unexpected outgoing {event:?}"),
                Delivery::Settled(settled) => {
                    self.answer_connects(ns, settled.waiters, settled.outcome);
                }
            }
        }
        events
    }

    /// Drains the deliveries, summarised.
    fn seen(&mut self) -> Vec<(SocketId, Seen)> {
        self.events()
            .iter()
            .map(|(ns, event)| (*ns, Seen::of(event)))
            .collect()
    }

    /// Drains the deliveries and returns the single event delivered.
    fn one_event(&mut self) -> (SocketId, SocketEvent) {
        let mut events = self.events();
        assert_eq!(events.len(), 1, "{events:?}");
        events.remove(0)
    }

    fn state(&self, ns: SocketId) -> NsState {
        self.conn.namespaces[self.conn.find_socket(ns).unwrap()].state
    }

    /// Adds a namespace, opens the link, and has the server accept it with
    /// `reply`; outbox and deliveries are drained.
    fn connected(&mut self, path: &str, reply: &str) -> (SocketId, Arc<Status>) {
        let (ns, status) = self.add(path, AuthSource::None, None);
        self.want(ns);
        if self.conn.link.is_none() {
            self.open();
        }
        self.recv(&[reply]);
        assert!(status.connected(), "{path} connected by {reply}");
        self.texts();
        self.events();
        (ns, status)
    }

    /// A session on "/" with server-side recovery: pid `p1`, and one event
    /// with offset `o1` received.
    fn with_session() -> (Self, SocketId, Arc<Status>) {
        let mut h = Harness::new();
        let (ns, status) = h.connected("/", r#"40{"sid":"s1","pid":"p1"}"#);
        h.recv(&[r#"42["tick",0,"o1"]"#]);
        assert_eq!(h.seen(), [(ns, ev_at("tick", json!([0]), "o1"))]);
        (h, ns, status)
    }

    /// [`with_session`](Self::with_session) after a lost link, with the
    /// recovery CONNECT sent on a new one; outbox and deliveries are drained.
    fn recovering() -> (Self, SocketId, Arc<Status>) {
        let (mut h, ns, status) = Harness::with_session();
        h.lose(DisconnectReason::TransportClose);
        h.open();
        assert_eq!(h.texts(), [r#"40{"offset":"o1","pid":"p1"}"#]);
        h.events();
        (h, ns, status)
    }

    /// Queues an emit asking for an ack; `text` shows it sent with ack id `id`.
    fn send_with_ack(&mut self, ns: SocketId, text: &str, id: u64) -> AckOutcome {
        self.send_with_ack_and(ns, text, id, Vec::new())
    }

    /// Queues an emit asking for an ack, with attachments.
    fn send_with_ack_and(
        &mut self,
        ns: SocketId,
        text: &str,
        id: u64,
        attachments: Vec<Bytes>,
    ) -> AckOutcome {
        let (waiter, rx) = oneshot::channel();
        let at = self.conn.find_socket(ns).unwrap();
        self.conn.namespaces[at].next_ack_id = id;
        // The id stands before the data array, if `text` shows it.
        let digits = id.to_string();
        let data_at = text.find('[').expect("an event frame");
        let id_at = match text[..data_at].strip_suffix(digits.as_str()) {
            Some(head) => head.len(),
            None => data_at,
        };
        let without = format!("{}{}", &text[..id_at], &text[data_at..]);
        let event = EncodedEvent::from_parts(&without, id_at, attachments, None);
        let key = self.conn.send(ns, event, EmitKind::WithAck, self.now);
        assert_eq!(key, Some(id), "sent with ack id {id}");
        self.ack_waiters.insert((ns, id), waiter);
        rx
    }

    /// Queues an at-least-once emit whose ack id goes at `id_at`, kept for
    /// the outgoing listeners as `notify`.
    fn send_reliable_with(
        &mut self,
        ns: SocketId,
        text: &str,
        id_at: usize,
        notify: Option<Event>,
    ) -> AckOutcome {
        let (waiter, rx) = oneshot::channel();
        let event = EncodedEvent::from_parts(text, id_at, Vec::new(), notify);
        let kind = EmitKind::AtLeastOnce(Duration::from_millis(50));
        let key = self.conn.send(ns, event, kind, self.now).expect("attached");
        self.reliable_waiters.insert((ns, key), waiter);
        self.route();
        rx
    }

    /// Queues a plain emit.
    fn send_plain(&mut self, ns: SocketId, text: &str, attachments: Vec<Bytes>) {
        let event = EncodedEvent::from_parts(text, 0, attachments, None);
        self.conn.send(ns, event, EmitKind::Plain, self.now);
    }
}

fn connect_ok(outcome: &mut ConnectOutcome) -> bool {
    matches!(outcome.try_recv(), Ok(Ok(())))
}

fn connect_pending(outcome: &mut ConnectOutcome) -> bool {
    matches!(outcome.try_recv(), Err(oneshot::error::TryRecvError::Empty))
}

// ---------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------

#[test]
fn connect_frame_table() {
    // (path, auth, resume, expected head, expected payload)
    type Row = (
        &'static str,
        AuthSource,
        Option<RecoveryState>,
        &'static str,
        Option<Value>,
    );
    let table: Vec<Row> = vec![
        ("/", AuthSource::None, None, "40", None),
        (
            "/",
            static_auth(json!({"token": "abc"})),
            None,
            "40",
            Some(json!({"token": "abc"})),
        ),
        (
            "/admin",
            static_auth(json!({"token": "abc"})),
            None,
            "40/admin,",
            Some(json!({"token": "abc"})),
        ),
        ("/admin", AuthSource::None, None, "40/admin,", None),
        // An empty static object sends no payload at all.
        ("/", AuthSource::Static(Map::new()), None, "40", None),
        (
            "/",
            AuthSource::Dynamic(Arc::new(|| json!({"token": "fresh"}))),
            None,
            "40",
            Some(json!({"token": "fresh"})),
        ),
        // A resumable session sends its pid and offset...
        (
            "/",
            AuthSource::None,
            resume("p1", Some("o1")),
            "40",
            Some(json!({"pid": "p1", "offset": "o1"})),
        ),
        // ... merged with the user's auth ...
        (
            "/admin",
            static_auth(json!({"token": "abc"})),
            resume("p1", Some("o1")),
            "40/admin,",
            Some(json!({"token": "abc", "pid": "p1", "offset": "o1"})),
        ),
        // ... whose pid/offset keys never override the session's.
        (
            "/",
            static_auth(json!({"pid": "user", "offset": "user", "token": "abc"})),
            resume("p1", Some("o1")),
            "40",
            Some(json!({"token": "abc", "pid": "p1", "offset": "o1"})),
        ),
        // Without an offset the pid goes alone, and a user "offset" key is dropped.
        (
            "/",
            AuthSource::None,
            resume("p1", None),
            "40",
            Some(json!({"pid": "p1"})),
        ),
        (
            "/",
            static_auth(json!({"offset": "user", "token": "abc"})),
            resume("p1", None),
            "40",
            Some(json!({"token": "abc", "pid": "p1"})),
        ),
        // Without a session the user's keys go as they are.
        (
            "/",
            static_auth(json!({"pid": "user", "offset": "user"})),
            None,
            "40",
            Some(json!({"pid": "user", "offset": "user"})),
        ),
    ];
    for (path, auth, resume, head, payload) in table {
        let mut h = Harness::new();
        let (ns, _) = h.add(path, auth, resume);
        h.open();
        assert_eq!(
            h.texts(),
            Vec::<String>::new(),
            "{path}: inactive sends nothing"
        );
        let mut outcome = h.connect(ns);
        let sent = h.texts();
        assert_eq!(sent.len(), 1, "{path}: {sent:?}");
        assert_eq!(split_connect(&sent[0]), (head, payload), "{}", sent[0]);
        assert!(connect_pending(&mut outcome));
    }
}

#[test]
fn connect_frames_are_exact_on_the_wire() {
    let table: [(&str, AuthSource, &str); 3] = [
        ("/", AuthSource::None, "40"),
        (
            "/",
            static_auth(json!({"token": "abc"})),
            r#"40{"token":"abc"}"#,
        ),
        (
            "/admin",
            static_auth(json!({"token": "abc"})),
            r#"40/admin,{"token":"abc"}"#,
        ),
    ];
    for (path, auth, expected) in table {
        let mut h = Harness::new();
        let (ns, _) = h.add(path, auth, None);
        h.want(ns);
        h.open();
        assert_eq!(h.texts(), [expected]);
    }
}

fn async_auth() -> AuthSource {
    AuthSource::Async(Arc::new(|| Box::pin(async { Ok(json!({})) })))
}

#[test]
fn an_async_auth_holds_the_connect_until_its_outcome() {
    let mut h = Harness::new();
    let (ns, _) = h.add("/admin", async_auth(), resume("p1", Some("o1")));
    let mut outcome = h.connect(ns);
    h.open();
    assert_eq!(
        h.texts(),
        Vec::<String>::new(),
        "no CONNECT before the auth"
    );
    let first = h.conn.poll_auth().expect("an auth request");
    assert!(h.conn.poll_auth().is_none());

    // A second link asks again; the outcome of the first request is stale.
    h.lose(DisconnectReason::TransportClose);
    h.open();
    let second = h.conn.poll_auth().expect("an auth request");
    h.conn
        .handle_auth(first.socket, first.request, Ok(json!({"token": "old"})))
        .unwrap();
    assert_eq!(h.texts(), Vec::<String>::new());

    // The payload goes out with the session keys; a second outcome of the
    // same request is ignored.
    h.conn
        .handle_auth(second.socket, second.request, Ok(json!({"token": "t"})))
        .unwrap();
    let sent = h.texts();
    assert_eq!(
        split_connect(&sent[0]),
        (
            "40/admin,",
            Some(json!({"token": "t", "pid": "p1", "offset": "o1"}))
        )
    );
    h.conn
        .handle_auth(second.socket, second.request, Ok(json!({"token": "t"})))
        .unwrap();
    assert_eq!(h.texts(), Vec::<String>::new());
    assert!(connect_pending(&mut outcome));
}

#[test]
fn a_failed_async_auth_fails_the_attempt_and_a_payload_that_is_no_object_the_namespace() {
    let mut h = Harness::new();
    let (ns, _) = h.add("/", async_auth(), None);
    let mut outcome = h.connect(ns);
    h.open();
    let request = h.conn.poll_auth().unwrap();
    let failure = ConnectError::AuthFailed(Arc::new(std::io::Error::other("no token")));
    let fault = h
        .conn
        .handle_auth(request.socket, request.request, Err(failure))
        .expect_err("the attempt fails before any namespace connected");
    assert!(matches!(fault.error, ConnectError::AuthFailed(_)));
    assert!(connect_pending(&mut outcome), "reconnection retries it");

    h.lose(fault.reason);
    h.open();
    let request = h.conn.poll_auth().unwrap();
    h.conn
        .handle_auth(request.socket, request.request, Ok(json!("a string")))
        .unwrap();
    assert!(matches!(
        h.seen().as_slice(),
        [(_, Seen::ConnectError(message))] if message.contains("a string")
    ));
}

#[test]
fn connect_reply_connects_the_namespace() {
    let mut h = Harness::new();
    let (ns, status) = h.add("/", AuthSource::None, None);
    let mut outcome = h.connect(ns);
    h.open();
    assert_eq!(h.texts(), ["40"]);
    assert!(!status.connected());
    assert!(!h.conn.is_connected(ns));
    assert!(connect_pending(&mut outcome));

    h.recv(&[r#"40{"sid":"s1","pid":"p1"}"#]);
    assert_eq!(h.seen(), [(ns, CONNECTED)]);
    assert!(status.connected());
    assert!(!status.recovered());
    assert_eq!(status.id().as_deref(), Some("s1"));
    assert!(h.conn.is_connected(ns));
    assert!(connect_ok(&mut outcome));
    assert_eq!(h.texts(), Vec::<String>::new());
    assert!(h.conn.recovery(ns) == resume("p1", None));
}

#[test]
fn connect_reply_without_pid_leaves_no_session() {
    let mut h = Harness::new();
    let (ns, status) = h.connected("/", r#"40{"sid":"s1"}"#);
    assert_eq!(status.id().as_deref(), Some("s1"));
    assert!(h.conn.recovery(ns).is_none());
}

#[test]
fn namespace_connected_before_the_link_opens_sends_on_open() {
    let mut h = Harness::new();
    let (root, _) = h.add("/", AuthSource::None, None);
    let (admin, _) = h.add("/admin", static_auth(json!({"token": "abc"})), None);
    let (_idle, _) = h.add("/idle", AuthSource::None, None);
    assert!(!h.conn.wants_link());
    let mut root_outcome = h.connect(root);
    let mut admin_outcome = h.connect(admin);
    assert!(h.conn.wants_link());
    assert_eq!(h.texts(), Vec::<String>::new(), "no link yet");

    h.open();
    // In namespace order; the inactive namespace sends nothing.
    assert_eq!(h.texts(), ["40", r#"40/admin,{"token":"abc"}"#]);

    h.recv(&[r#"40/admin,{"sid":"a1"}"#]);
    assert!(connect_ok(&mut admin_outcome));
    assert!(connect_pending(&mut root_outcome));
    h.recv(&[r#"40{"sid":"r1"}"#]);
    assert!(connect_ok(&mut root_outcome));
    assert_eq!(h.seen(), [(admin, CONNECTED), (root, CONNECTED)]);
}

#[test]
fn namespace_connecting_while_the_link_is_open_sends_at_once() {
    let mut h = Harness::new();
    h.connected("/", r#"40{"sid":"s1"}"#);
    let (admin, admin_status) = h.add("/admin", AuthSource::None, None);
    let mut outcome = h.connect(admin);
    assert_eq!(h.texts(), ["40/admin,"]);
    h.recv(&[r#"40/admin,{"sid":"a1"}"#]);
    assert_eq!(h.seen(), [(admin, CONNECTED)]);
    assert_eq!(admin_status.id().as_deref(), Some("a1"));
    assert!(connect_ok(&mut outcome));
}

#[test]
fn connect_while_connecting_sends_one_connect_and_resolves_every_waiter() {
    let mut h = Harness::new();
    let (ns, _) = h.add("/", AuthSource::None, None);
    h.open();
    let mut first = h.connect(ns);
    let mut second = h.connect(ns);
    h.want(ns);
    assert_eq!(h.texts(), ["40"]);
    h.recv(&[r#"40{"sid":"s1"}"#]);
    assert!(connect_ok(&mut first));
    assert!(connect_ok(&mut second));
}

#[test]
fn connect_when_connected_resolves_at_once_and_sends_nothing() {
    let mut h = Harness::new();
    let (ns, _) = h.connected("/", r#"40{"sid":"s1"}"#);
    let mut outcome = h.connect(ns);
    assert!(connect_ok(&mut outcome));
    assert_eq!(h.texts(), Vec::<String>::new());
    assert_eq!(h.seen(), []);
}

#[test]
fn connect_of_an_unknown_socket_fails_closed() {
    let mut h = Harness::new();
    h.open();
    let unknown = SocketId::next();
    let mut outcome = h.connect(unknown);
    assert!(matches!(outcome.try_recv(), Ok(Err(ConnectError::Closed))));
    h.conn.end(unknown, Ending::Disconnected);
    assert_eq!(h.texts(), Vec::<String>::new());
    assert!(!h.conn.is_connected(unknown));
    assert!(h.conn.recovery(unknown).is_none());
}

#[test]
fn duplicate_connect_reply_is_ignored() {
    let mut h = Harness::new();
    let (ns, status) = h.connected("/", r#"40{"sid":"s1","pid":"p1"}"#);
    h.recv(&[r#"40{"sid":"s2","pid":"p2"}"#]);
    assert_eq!(h.seen(), []);
    assert_eq!(status.id().as_deref(), Some("s1"));
    assert!(h.conn.recovery(ns) == resume("p1", None));
}

#[test]
fn dynamic_auth_is_evaluated_on_every_connect() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let auth = AuthSource::Dynamic(Arc::new(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        json!({ "token": format!("t{n}") })
    }));
    let mut h = Harness::new();
    let (ns, _) = h.add("/", auth, None);
    h.want(ns);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "not before the link opens");
    h.open();
    assert_eq!(h.texts(), [r#"40{"token":"t1"}"#]);
    h.recv(&[r#"40{"sid":"s1"}"#]);
    h.lose(DisconnectReason::TransportClose);
    h.open();
    assert_eq!(h.texts(), [r#"40{"token":"t2"}"#]);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn dynamic_auth_that_is_not_an_object_fails_the_namespace() {
    let table: [(Value, &str); 4] = [
        (json!("token"), "a string"),
        (json!(null), "null"),
        (json!([1]), "an array"),
        (json!(5), "a number"),
    ];
    for (value, kind) in table {
        let mut h = Harness::new();
        let (other, _) = h.add("/other", AuthSource::None, None);
        let (ns, status) = h.add(
            "/",
            AuthSource::Dynamic(Arc::new(move || value.clone())),
            None,
        );
        h.want(other);
        let mut outcome = h.connect(ns);
        h.open();
        assert_eq!(
            h.texts(),
            ["40/other,"],
            "{kind}: no CONNECT for a bad auth"
        );
        assert_eq!(
            h.seen(),
            [(
                ns,
                Seen::ConnectError(format!("auth must be a JSON object, got {kind}"))
            )]
        );
        assert!(
            matches!(outcome.try_recv(), Ok(Err(ConnectError::InvalidAuth(k))) if k == kind),
            "{kind}"
        );
        assert_eq!(h.state(ns), NsState::Inactive);
        assert!(!status.connected());
    }
}

#[test]
fn dynamic_auth_failing_while_the_link_is_open_fails_at_once() {
    let mut h = Harness::new();
    h.open();
    let (ns, _) = h.add("/", AuthSource::Dynamic(Arc::new(|| json!(1))), None);
    let mut outcome = h.connect(ns);
    assert_eq!(h.texts(), Vec::<String>::new());
    assert!(matches!(
        outcome.try_recv(),
        Ok(Err(ConnectError::InvalidAuth(_)))
    ));
    assert!(!h.conn.wants_link());
}

#[test]
fn link_loss_and_reopen_reconnect_every_wanted_namespace() {
    let mut h = Harness::new();
    let (root, root_status) = h.connected("/", r#"40{"sid":"r1"}"#);
    let (admin, admin_status) = h.connected("/admin", r#"40/admin,{"sid":"a1"}"#);
    let (idle, _) = h.add("/idle", AuthSource::None, None);
    h.conn
        .outbox
        .push_back(Frame::Text("42[\"unsent\"]".into()));

    h.lose(DisconnectReason::PingTimeout);
    assert_eq!(
        h.seen(),
        [
            (root, Seen::Disconnect(DisconnectReason::PingTimeout)),
            (admin, Seen::Disconnect(DisconnectReason::PingTimeout)),
        ]
    );
    assert_eq!(h.texts(), Vec::<String>::new(), "outbox cleared");
    assert!(!root_status.connected());
    assert_eq!(root_status.id(), None);
    assert!(!admin_status.connected());
    assert!(h.conn.wants_link());
    assert_eq!(h.state(idle), NsState::Inactive);

    h.open();
    assert_eq!(h.texts(), ["40", "40/admin,"]);
    h.recv(&[r#"40{"sid":"r2"}"#, r#"40/admin,{"sid":"a2"}"#]);
    assert_eq!(h.seen(), [(root, CONNECTED), (admin, CONNECTED)]);
    assert_eq!(root_status.id().as_deref(), Some("r2"));
    assert_eq!(admin_status.id().as_deref(), Some("a2"));
}

#[test]
fn re_adding_a_path_replaces_the_old_socket_and_aborts_it() {
    let mut h = Harness::new();
    let (old, old_status) = h.add("/", AuthSource::None, None);
    h.open();
    let mut outcome = h.connect(old);
    h.texts();
    let (ns, new_status) = h.add("/", AuthSource::None, resume("p9", Some("o9")));
    assert_ne!(ns, old);
    assert_eq!(h.conn.find("/"), h.conn.find_socket(ns));
    assert_eq!(h.conn.find_socket(old), None);
    h.settle();
    assert!(
        matches!(outcome.try_recv(), Ok(Err(ConnectError::Aborted))),
        "the old socket's connect is aborted"
    );
    assert_eq!(
        h.state(ns),
        NsState::Inactive,
        "the new socket starts inactive"
    );
    assert!(h.conn.recovery(ns) == resume("p9", Some("o9")));
    h.recv(&[r#"40{"sid":"s1"}"#]);
    assert!(!old_status.connected());
    assert!(!new_status.connected(), "reply for the old socket ignored");

    h.texts();

    // A connected namespace that is replaced leaves the server, and what is
    // queued for the old socket names the old socket, not the new one.
    let (admin, admin_status) = h.connected("/admin", r#"40/admin,{"sid":"a1"}"#);
    h.recv(&[r#"42/admin,["for the old socket"]"#]);
    let (again, _) = h.add("/admin", AuthSource::None, None);
    assert_ne!(again, admin);
    assert_eq!(h.texts(), ["41/admin,"]);
    let seen = h.seen();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|(id, _)| *id == admin), "{seen:?}");
    assert!(!admin_status.connected());
}

// ---------------------------------------------------------------------------
// Heartbeat and Engine.IO packets
// ---------------------------------------------------------------------------

#[test]
fn engine_packet_table() {
    // (frame, result, frames written)
    let table: [(&str, Result<(), DisconnectReason>, &[&str]); 9] = [
        ("2", Ok(()), &["3"]),
        ("2probe", Ok(()), &["3probe"]),
        ("3", Ok(()), &[]),
        ("3probe", Ok(()), &[]),
        ("5", Ok(()), &[]),
        ("6", Ok(()), &[]),
        ("6junk", Ok(()), &[]),
        (
            r#"0{"sid":"x","upgrades":[],"pingInterval":1,"pingTimeout":1}"#,
            Ok(()),
            &[],
        ),
        ("1", Err(DisconnectReason::TransportClose), &[]),
    ];
    for (frame, result, written) in table {
        let mut h = Harness::new();
        let (ns, _) = h.connected("/", r#"40{"sid":"s1"}"#);
        assert_eq!(h.text(frame), result, "{frame:?}");
        assert_eq!(h.texts(), written, "{frame:?}");
        // A ping is the server's heartbeat, which the sockets hear of.
        let heard: &[(SocketId, Seen)] = if frame.starts_with('2') {
            &[(ns, Seen::Ping)]
        } else {
            &[]
        };
        assert_eq!(h.seen(), heard, "{frame:?}");
        assert!(h.conn.is_connected(ns), "{frame:?}");
    }
}

#[test]
fn deadline_is_last_seen_plus_ping_interval_plus_ping_timeout() {
    let mut h = Harness::new();
    let t0 = h.now;
    assert_eq!(h.conn.poll_timeout(), None, "no link, no deadline");
    assert!(!h.conn.ping_expired(t0 + Duration::from_secs(3600)));

    h.open();
    let deadline = t0 + PING_INTERVAL + PING_TIMEOUT;
    assert_eq!(h.conn.poll_timeout(), Some(deadline));
    let table = [
        (t0, false),
        (deadline - Duration::from_millis(1), false),
        (deadline, true),
        (deadline + Duration::from_millis(1), true),
        (deadline + Duration::from_secs(600), true),
    ];
    for (now, expired) in table {
        assert_eq!(h.conn.ping_expired(now), expired, "{:?}", now - t0);
    }

    h.lose(DisconnectReason::PingTimeout);
    assert_eq!(h.conn.poll_timeout(), None);
    assert!(!h.conn.ping_expired(deadline));
}

#[test]
fn every_frame_moves_last_seen() {
    let frames: [&str; 5] = ["2", "3", "6", r#"42["foo"]"#, r#"42/nope,["foo"]"#];
    for frame in frames {
        let mut h = Harness::new();
        h.connected("/", r#"40{"sid":"s1"}"#);
        let t0 = h.now;
        h.now = t0 + Duration::from_secs(30);
        assert_eq!(h.text(frame), Ok(()), "{frame}");
        let deadline = t0 + Duration::from_secs(30) + PING_INTERVAL + PING_TIMEOUT;
        assert_eq!(h.conn.poll_timeout(), Some(deadline), "{frame}");
        assert!(!h.conn.ping_expired(t0 + PING_INTERVAL + PING_TIMEOUT));
        assert!(h.conn.ping_expired(deadline));
    }

    // A binary attachment counts too.
    let mut h = Harness::new();
    h.connected("/", r#"40{"sid":"s1"}"#);
    let t0 = h.now;
    h.recv(&[r#"451-["bin",{"_placeholder":true,"num":0}]"#]);
    h.now = t0 + Duration::from_secs(40);
    assert_eq!(h.binary(&[1]), Ok(()));
    assert_eq!(
        h.conn.poll_timeout(),
        Some(t0 + Duration::from_secs(40) + PING_INTERVAL + PING_TIMEOUT)
    );
}

#[test]
fn reopening_restarts_the_deadline_from_the_open() {
    let mut h = Harness::new();
    h.open();
    h.lose(DisconnectReason::TransportClose);
    h.now += Duration::from_secs(100);
    h.open();
    assert_eq!(
        h.conn.poll_timeout(),
        Some(h.now + PING_INTERVAL + PING_TIMEOUT)
    );
}

#[test]
fn the_heartbeat_is_not_judged_while_reading_is_paused() {
    let mut h = Harness::new();
    h.connected("/", r#"40{"sid":"s1"}"#);
    let t0 = h.now;
    let deadline = t0 + PING_INTERVAL + PING_TIMEOUT;
    h.conn.handle_reading(false, t0 + Duration::from_secs(10));
    assert_eq!(h.conn.poll_timeout(), None);
    assert!(h
        .conn
        .handle_timeout(deadline + Duration::from_secs(60))
        .is_ok());
    // Resumed 100 s later: the 10 s already counted stay counted.
    h.conn.handle_reading(true, t0 + Duration::from_secs(110));
    let resumed = deadline + Duration::from_secs(100);
    assert_eq!(h.conn.poll_timeout(), Some(resumed));
    assert!(h
        .conn
        .handle_timeout(resumed - Duration::from_millis(1))
        .is_ok());
    let fault = h.conn.handle_timeout(resumed).unwrap_err();
    assert_eq!(fault.reason, DisconnectReason::PingTimeout);
}

// ---------------------------------------------------------------------------
// Events from the server
// ---------------------------------------------------------------------------

#[test]
fn event_offset_table() {
    const PID: &str = r#"40{"sid":"s1","pid":"p1"}"#;
    const NO_PID: &str = r#"40{"sid":"s1"}"#;
    // (strip_offsets, connect reply, event, name, args, offset, wants_ack)
    type Row = (
        bool,
        &'static str,
        &'static str,
        &'static str,
        Value,
        Option<&'static str>,
        bool,
    );
    let table: [Row; 12] = [
        (
            true,
            NO_PID,
            r#"42["foo","bar"]"#,
            "foo",
            json!(["bar"]),
            None,
            false,
        ),
        (
            true,
            PID,
            r#"42["foo","bar","Q8FtvoZ"]"#,
            "foo",
            json!(["bar"]),
            Some("Q8FtvoZ"),
            false,
        ),
        (
            true,
            PID,
            r#"42["foo","Q8FtvoZ.1"]"#,
            "foo",
            json!([]),
            Some("Q8FtvoZ.1"),
            false,
        ),
        (
            true,
            PID,
            r#"42["foo",1,{"a":"b"},"1795562728913-0"]"#,
            "foo",
            json!([1, {"a": "b"}]),
            Some("1795562728913-0"),
            false,
        ),
        // Without a pid the server adds no offset: nothing is stripped.
        (
            true,
            NO_PID,
            r#"42["foo","bar","Q8FtvoZ"]"#,
            "foo",
            json!(["bar", "Q8FtvoZ"]),
            None,
            false,
        ),
        // Stripping off: nothing is stripped, even with a pid.
        (
            false,
            PID,
            r#"42["foo","bar","Q8FtvoZ"]"#,
            "foo",
            json!(["bar", "Q8FtvoZ"]),
            None,
            false,
        ),
        // Only a trailing string can be an offset.
        (
            true,
            PID,
            r#"42["foo","bar",1]"#,
            "foo",
            json!(["bar", 1]),
            None,
            false,
        ),
        (
            true,
            PID,
            r#"42["foo","bar",null]"#,
            "foo",
            json!(["bar", null]),
            None,
            false,
        ),
        (
            true,
            PID,
            r#"42["foo",["o"]]"#,
            "foo",
            json!([["o"]]),
            None,
            false,
        ),
        // The name alone is never taken for an offset.
        (true, PID, r#"42["foo"]"#, "foo", json!([]), None, false),
        // Ack-requesting events carry no offset.
        (
            true,
            PID,
            r#"421["withack",1]"#,
            "withack",
            json!([1]),
            None,
            true,
        ),
        (
            true,
            PID,
            r#"427["withack","last"]"#,
            "withack",
            json!(["last"]),
            None,
            true,
        ),
    ];
    for (strip, reply, frame, name, args, offset, wants_ack) in table {
        let mut h = Harness::with_strip(strip);
        let (ns, _) = h.connected("/", reply);
        h.recv(&[frame]);
        let expected = Seen::Event {
            name: name.to_owned(),
            args,
            attachments: Vec::new(),
            offset: offset.map(str::to_owned),
            wants_ack,
        };
        assert_eq!(h.seen(), [(ns, expected)], "{frame} strip={strip} {reply}");
        // The session reports the last offset it recorded.
        let pid = reply.contains("pid").then(|| RecoveryState {
            pid: "p1".into(),
            offset: offset.map(str::to_owned),
            sid: None,
        });
        assert!(h.conn.recovery(ns) == pid, "{frame} strip={strip} {reply}");
    }
}

#[test]
fn resume_reports_the_latest_offset() {
    let (mut h, ns, _) = Harness::with_session();
    assert!(h.conn.recovery(ns) == resume("p1", Some("o1")));
    // Events without an offset leave the last one in place.
    h.recv(&[r#"42["foo"]"#, r#"421["ask","x"]"#, r#"42["foo",7]"#]);
    assert!(h.conn.recovery(ns) == resume("p1", Some("o1")));
    h.recv(&[r#"42["foo","a","o2"]"#, r#"42["foo","b","o3"]"#]);
    assert!(h.conn.recovery(ns) == resume("p1", Some("o3")));
    assert_eq!(h.seen().len(), 5);
}

#[test]
fn events_of_other_namespaces_go_to_their_own_slot() {
    let mut h = Harness::new();
    let (root, _) = h.connected("/", r#"40{"sid":"r","pid":"pr"}"#);
    let (admin, _) = h.connected("/admin", r#"40/admin,{"sid":"a","pid":"pa"}"#);
    h.recv(&[
        r#"42/admin,["news","x","oa1"]"#,
        r#"42["news","y","or1"]"#,
        r#"42/admin,3["ask",1]"#,
    ]);
    assert_eq!(
        h.seen(),
        [
            (admin, ev_at("news", json!(["x"]), "oa1")),
            (root, ev_at("news", json!(["y"]), "or1")),
            (
                admin,
                Seen::Event {
                    name: "ask".into(),
                    args: json!([1]),
                    attachments: Vec::new(),
                    offset: None,
                    wants_ack: true,
                }
            ),
        ]
    );
    assert!(h.conn.recovery(admin) == resume("pa", Some("oa1")));
    assert!(h.conn.recovery(root) == resume("pr", Some("or1")));
}

#[test]
fn server_ack_request_is_answered_on_the_link_it_came_on() {
    // (namespace, reply, request, answer frame)
    let table = [
        (
            "/",
            r#"40{"sid":"s1","pid":"p1"}"#,
            r#"421["withack",1]"#,
            r#"431["ok"]"#,
        ),
        (
            "/admin",
            r#"40/admin,{"sid":"s1"}"#,
            r#"42/admin,17["withack"]"#,
            r#"43/admin,17["ok"]"#,
        ),
    ];
    for (path, reply, request, answer) in table {
        let mut h = Harness::new();
        h.connected(path, reply);
        h.recv(&[request]);
        let (_, event) = h.one_event();
        let SocketEvent::Event(event) = event else {
            panic!("{event:?}");
        };
        assert!(event.wants_ack());
        event.ack(&("ok",)).expect("ack queued");
        assert!(!event.wants_ack(), "answered");
        assert!(matches!(
            event.ack(&("again",)),
            Err(EmitError::NoAckPending)
        ));

        let Some(sent) = h.acks.take() else {
            panic!("no ack answer sent");
        };
        let AckAnswer { link, frames } = sent;
        let (frame, attachments) = split_answer(&frames);
        assert_eq!(frame, answer);
        assert_eq!(link, h.conn.link_id);
        assert!(attachments.is_empty());
        assert!(h.acks.take().is_none(), "only one answer");

        h.conn.send_ack_answer(link, frames);
        assert_eq!(h.texts(), [answer]);
    }
}

#[test]
fn ack_answers_follow_the_emit_argument_rules() {
    type Answer = fn(&Event) -> Result<(), EmitError>;
    let table: [(Answer, &str); 5] = [
        (|event| event.ack(&()), "431[]"),
        (
            |event| event.ack(&("a", 1, None::<u8>)),
            r#"431["a",1,null]"#,
        ),
        (
            |event| event.ack(&json!({"x": [1, 2]})),
            r#"431[{"x":[1,2]}]"#,
        ),
        (|event| event.ack(&vec![1, 2]), "431[[1,2]]"),
        (|event| event.ack("é\""), r#"431["é\""]"#),
    ];
    for (answer, expected) in table {
        let mut h = Harness::new();
        h.connected("/", r#"40{"sid":"s1"}"#);
        h.recv(&[r#"421["withack"]"#]);
        let (_, SocketEvent::Event(event)) = h.one_event() else {
            panic!("not an event");
        };
        answer(&event).expect("ack queued");
        let Some(sent) = h.acks.take() else {
            panic!("no ack answer sent");
        };
        let (frame, _) = split_answer(&sent.frames);
        assert_eq!(frame, expected);
    }
}

#[test]
fn ack_answer_from_an_older_link_is_dropped() {
    let mut h = Harness::new();
    h.connected("/", r#"40{"sid":"s1"}"#);
    h.recv(&[r#"421["withack",1]"#]);
    let (_, SocketEvent::Event(event)) = h.one_event() else {
        panic!("not an event");
    };
    let old_link = h.conn.link_id;

    // The link drops before the handler answers.
    h.lose(DisconnectReason::TransportClose);
    event.ack(&("late",)).expect("queued to the driver");
    let Some(sent) = h.acks.take() else {
        panic!("no ack answer sent");
    };
    let AckAnswer { link, frames } = sent;
    assert_eq!(link, old_link);
    h.conn.send_ack_answer(link, frames.clone());
    assert_eq!(h.texts(), Vec::<String>::new(), "no link at all");

    // Nor does it go out on the next link.
    h.open();
    h.recv(&[r#"40{"sid":"s2"}"#]);
    h.texts();
    assert_ne!(h.conn.link_id, old_link);
    h.conn.send_ack_answer(link, frames);
    assert_eq!(h.texts(), Vec::<String>::new());

    // An answer from the current link still goes out.
    h.conn
        .send_ack_answer(h.conn.link_id, vec![Frame::Text(r#"432["now"]"#.into())]);
    assert_eq!(h.texts(), [r#"432["now"]"#]);
}

#[test]
fn binary_ack_answer_goes_out_with_its_attachments_in_order() {
    let mut h = Harness::new();
    h.connected("/admin", r#"40/admin,{"sid":"s1"}"#);
    h.recv(&[r#"42/admin,5["withack"]"#]);
    let (_, SocketEvent::Event(event)) = h.one_event() else {
        panic!("not an event");
    };
    let (a, b) = (Bytes::from_static(&[1, 2]), Bytes::from_static(b"b"));
    event
        .ack(&("x", json!({"n": 1}), (&a, [&b])))
        .expect("ack queued");
    let Some(sent) = h.acks.take() else {
        panic!("no ack answer sent");
    };
    let AckAnswer { link, frames } = sent;
    let (frame, attachments) = split_answer(&frames);
    let text = r#"462-/admin,5["x",{"n":1},[{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1}]]]"#;
    assert_eq!(frame, text);
    assert_eq!(attachments.len(), 2);
    h.conn.send_ack_answer(link, frames);
    assert_eq!(
        h.frames(),
        [Frame::Text(text.into()), Frame::Binary(a), Frame::Binary(b)]
    );
}

#[test]
fn ack_answer_above_max_payload_is_dropped() {
    let mut h = Harness::new();
    h.connected("/", r#"40{"sid":"s1"}"#);
    let link = h.conn.link_id;
    // test_open_info announces 1_000_000 bytes.
    let big = Bytes::from(vec![0; 1_000_001]);
    let head = || Frame::Text(r#"461-1[{"_placeholder":true,"num":0}]"#.into());
    h.conn
        .send_ack_answer(link, vec![head(), Frame::Binary(big)]);
    assert_eq!(h.frames(), [], "neither the text nor its attachment");
    let text = format!("431[\"{}\"]", "x".repeat(1_000_000));
    h.conn.send_ack_answer(link, vec![Frame::Text(text)]);
    assert_eq!(h.frames(), []);
    // At the limit is fine.
    let fits = Bytes::from(vec![0; 1_000_000]);
    h.conn
        .send_ack_answer(link, vec![head(), Frame::Binary(fits)]);
    assert_eq!(h.frames().len(), 2);
}

#[test]
fn open_tells_every_namespace_the_max_payload() {
    let mut h = Harness::new();
    let (_, early) = h.add("/", AuthSource::None, None);
    assert_eq!(early.max_payload(), None, "unknown before a link opened");
    h.open();
    assert_eq!(early.max_payload(), Some(1_000_000), "even an inactive one");
    let (_, late) = h.add("/admin", AuthSource::None, None);
    assert_eq!(
        late.max_payload(),
        Some(1_000_000),
        "added while the link is open"
    );
}

#[test]
fn ack_of_an_event_that_asked_for_none_fails() {
    let mut h = Harness::new();
    h.connected("/", r#"40{"sid":"s1"}"#);
    h.recv(&[r#"42["plain"]"#]);
    let (_, SocketEvent::Event(event)) = h.one_event() else {
        panic!("not an event");
    };
    assert!(!event.wants_ack());
    assert!(matches!(event.ack(&("x",)), Err(EmitError::NoAckPending)));
    assert!(h.acks.take().is_none());
}

#[test]
fn ack_when_the_driver_is_gone_fails_closed() {
    let mut conn = Connection::new(
        options(true, 0, rules()),
        CONNECT_TIMEOUT,
        Arc::new(ClosedSink),
        Instant::now(),
    );
    let ns = conn.add_namespace(SocketId::next(), "/", AuthSource::None, None);
    let now = Instant::now();
    conn.connect(ns, false, now);
    conn.handle_open(test_open_info(PING_INTERVAL, PING_TIMEOUT), now);
    assert!(conn.handle_text(r#"40{"sid":"s1"}"#, now).is_ok());
    assert!(conn.handle_text(r#"421["withack"]"#, now).is_ok());
    let Some((_, Delivery::Event(event))) = conn.deliveries.pop_back() else {
        panic!("no event");
    };
    assert!(matches!(event.ack(&("ok",)), Err(EmitError::Closed)));
}

// ---------------------------------------------------------------------------
// Acks from the server (replies to our emits)
// ---------------------------------------------------------------------------

#[test]
fn ack_reply_resolves_its_waiter() {
    let mut h = Harness::new();
    let (ns, _) = h.connected("/", r#"40{"sid":"s1","pid":"p1"}"#);
    let mut first = h.send_with_ack(ns, r#"421["x"]"#, 1);
    let mut second = h.send_with_ack(ns, r#"422["hello",{"x":1}]"#, 2);
    assert_eq!(h.texts(), [r#"421["x"]"#, r#"422["hello",{"x":1}]"#]);

    // Replies in any order; a trailing string in an ack is never an offset.
    h.recv(&[r#"432["second","Q8FtvoZ"]"#, r#"431["r"]"#]);
    assert_eq!(h.seen(), [], "acks are not socket events");
    let Ok(Ok(reply)) = first.try_recv() else {
        panic!("first waiter not resolved");
    };
    assert_eq!(
        reply,
        AckPayload {
            args: vec![json!("r")],
            attachments: vec![]
        }
    );
    let Ok(Ok(reply)) = second.try_recv() else {
        panic!("second waiter not resolved");
    };
    assert_eq!(reply.args, [json!("second"), json!("Q8FtvoZ")]);
    assert!(
        h.conn.recovery(ns) == resume("p1", None),
        "no offset recorded"
    );

    // A second reply with the same id finds no waiter.
    assert_eq!(h.text(r#"431["again"]"#), Ok(()));
}

#[test]
fn ack_reply_on_admin_resolves_only_its_namespace() {
    let mut h = Harness::new();
    let (root, _) = h.connected("/", r#"40{"sid":"r"}"#);
    let (admin, _) = h.connected("/admin", r#"40/admin,{"sid":"a"}"#);
    let mut on_root = h.send_with_ack(root, r#"421["x"]"#, 1);
    let mut on_admin = h.send_with_ack(admin, r#"42/admin,1["x"]"#, 1);
    h.texts();
    h.recv(&[r#"43/admin,1["from admin"]"#]);
    assert!(matches!(
        on_root.try_recv(),
        Err(oneshot::error::TryRecvError::Empty)
    ));
    let Ok(Ok(reply)) = on_admin.try_recv() else {
        panic!("admin waiter not resolved");
    };
    assert_eq!(reply.args, [json!("from admin")]);
}

#[test]
fn ack_reply_with_an_unknown_id_is_ignored() {
    let mut h = Harness::new();
    let (ns, _) = h.connected("/", r#"40{"sid":"s1"}"#);
    let mut waiter = h.send_with_ack(ns, r#"421["x"]"#, 1);
    h.texts();
    h.recv(&[r#"4399["r"]"#, r#"43/nope,1["r"]"#]);
    assert_eq!(h.seen(), []);
    assert!(matches!(
        waiter.try_recv(),
        Err(oneshot::error::TryRecvError::Empty)
    ));
}

#[test]
fn emit_without_ack_and_with_attachments_goes_out_in_order() {
    let mut h = Harness::new();
    let (ns, _) = h.connected("/", r#"40{"sid":"s1"}"#);
    h.send_plain(
        ns,
        r#"452-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
        vec![Bytes::from_static(&[1]), Bytes::from_static(&[2, 3])],
    );
    h.send_plain(ns, r#"42["after"]"#, Vec::new());
    assert_eq!(
        h.frames(),
        [
            Frame::Text(
                r#"452-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#.into()
            ),
            Frame::Binary(Bytes::from_static(&[1])),
            Frame::Binary(Bytes::from_static(&[2, 3])),
            Frame::Text(r#"42["after"]"#.into()),
        ]
    );
}

#[test]
fn binary_ack_reply_carries_its_attachments() {
    let mut h = Harness::new();
    let (ns, _) = h.connected("/", r#"40{"sid":"s1","pid":"p1"}"#);
    let mut waiter = h.send_with_ack(ns, r#"423["file"]"#, 3);
    h.texts();
    h.recv(&[r#"461-3[{"_placeholder":true,"num":0},"tail"]"#]);
    assert!(matches!(
        waiter.try_recv(),
        Err(oneshot::error::TryRecvError::Empty)
    ));
    assert_eq!(h.binary(&[9, 8]), Ok(()));
    let Ok(Ok(reply)) = waiter.try_recv() else {
        panic!("waiter not resolved");
    };
    assert_eq!(
        reply,
        AckPayload {
            args: vec![json!({"_placeholder": true, "num": 0}), json!("tail")],
            attachments: vec![Bytes::from_static(&[9, 8])],
        }
    );
    assert_eq!(h.seen(), []);
}

#[test]
fn link_loss_fails_pending_acks_with_disconnected() {
    let mut h = Harness::new();
    let (root, _) = h.connected("/", r#"40{"sid":"r"}"#);
    let (admin, _) = h.connected("/admin", r#"40/admin,{"sid":"a"}"#);
    let mut waiters = [
        h.send_with_ack(root, r#"421["x"]"#, 1),
        h.send_with_ack(root, r#"422["x"]"#, 2),
        h.send_with_ack(admin, r#"42/admin,1["x"]"#, 1),
    ];
    h.lose(DisconnectReason::TransportError);
    for waiter in &mut waiters {
        assert!(matches!(waiter.try_recv(), Ok(Err(AckError::Disconnected))));
    }
    // A late reply on the next link finds nothing.
    h.open();
    h.recv(&[r#"40{"sid":"r2"}"#, r#"431["late"]"#]);
}

// ---------------------------------------------------------------------------
// Connection state recovery
// ---------------------------------------------------------------------------

/// A cluster node can deliver its own broadcast ("o3") before one relayed
/// from another node ("o2"), so the offset sent on recovery lies before an
/// event already received, and the server sends it again, in the replay or
/// live. Each event reaches the application once.
#[test]
fn a_recovery_drops_events_received_before() {
    let (mut h, ns, _status) = Harness::with_session();
    h.recv(&[r#"42["tick",3,"o3"]"#, r#"42["tick",2,"o2"]"#]);
    assert_eq!(h.seen().len(), 2);
    h.lose(DisconnectReason::TransportClose);
    h.seen();

    h.open();
    assert_eq!(h.texts(), [r#"40{"offset":"o2","pid":"p1"}"#]);
    h.recv(&[
        r#"42["tick",3,"o3"]"#,
        r#"42["tick",4,"o4"]"#,
        r#"40{"sid":"s1","pid":"p1"}"#,
        r#"42["tick",4,"o4"]"#,
        r#"42["tick",5,"o5"]"#,
    ]);
    assert_eq!(
        h.seen(),
        [
            (ns, RECOVERED),
            (ns, ev_at("tick", json!([4]), "o4")),
            (ns, ev_at("tick", json!([5]), "o5")),
        ]
    );
    assert!(h.conn.recovery(ns) == resume("p1", Some("o5")));
}

/// Without a recovery in between, offsets are not compared: a server whose
/// adapter reuses them loses nothing.
#[test]
fn a_live_event_with_a_known_offset_is_delivered() {
    let (mut h, ns, _status) = Harness::with_session();
    h.recv(&[r#"42["tick",1,"o1"]"#]);
    assert_eq!(h.seen(), [(ns, ev_at("tick", json!([1]), "o1"))]);
}

#[test]
fn a_recovery_replay_is_held_until_the_reply_grants_it() {
    let (mut h, ns, status) = Harness::with_session();
    assert_eq!(status.id().as_deref(), Some("s1"));

    h.lose(DisconnectReason::TransportClose);
    assert_eq!(
        h.seen(),
        [(ns, Seen::Disconnect(DisconnectReason::TransportClose))]
    );
    assert!(!status.connected());
    assert!(!h.conn.is_connected(ns));
    assert!(h.conn.wants_link());

    h.now += Duration::from_secs(3);
    h.open();
    assert_eq!(h.texts(), [r#"40{"offset":"o1","pid":"p1"}"#]);

    // The server replays what was missed, then replies: nothing is
    // announced before the reply grants the connect.
    h.recv(&[r#"42["tick",1,"o2"]"#, r#"42["tick",2,"o3"]"#]);
    assert_eq!(h.seen(), [], "held for the reply");
    assert!(!status.connected());
    assert!(!h.conn.is_connected(ns));
    assert!(h.conn.recovery(ns) == resume("p1", Some("o3")));

    h.recv(&[r#"40{"sid":"s1","pid":"p1"}"#]);
    assert_eq!(
        h.seen(),
        [
            (ns, RECOVERED),
            (ns, ev_at("tick", json!([1]), "o2")),
            (ns, ev_at("tick", json!([2]), "o3")),
        ]
    );
    assert!(h.conn.is_connected(ns));
    assert!(status.connected());
    assert!(status.recovered());
    assert_eq!(
        status.id().as_deref(),
        Some("s1"),
        "a recovered session keeps its sid"
    );

    // Live events after the reply flow straight through.
    h.recv(&[r#"42["tick",3,"o4"]"#]);
    assert_eq!(h.seen(), [(ns, ev_at("tick", json!([3]), "o4"))]);
}

/// A server whose middleware runs on recovery (`skipMiddlewares: false`)
/// replays, then refuses the CONNECT: the socket never counted as
/// connected, let alone recovered.
#[test]
fn a_refusal_after_a_replay_announces_no_connect_and_recovers_nothing() {
    let (mut h, ns, status) = Harness::recovering();
    // A first recovery succeeds.
    h.recv(&[r#"42["tick",1,"o2"]"#, r#"40{"sid":"s1","pid":"p1"}"#]);
    assert!(status.recovered());
    h.lose(DisconnectReason::TransportClose);
    h.open();
    assert_eq!(h.texts(), [r#"40{"offset":"o2","pid":"p1"}"#]);
    h.seen();
    h.recv(&[r#"42["tick",2,"o3"]"#, r#"44{"message":"token expired"}"#]);
    assert_eq!(
        h.seen(),
        [(
            ns,
            Seen::ConnectError(
                ConnectError::Rejected {
                    message: "token expired".into(),
                    data: None
                }
                .to_string()
            )
        )]
    );
    assert!(!status.connected());
    assert!(!status.recovered());
    assert_eq!(h.state(ns), NsState::Inactive);
}

#[test]
fn a_replay_ended_by_a_fresh_session_reply_announces_the_fresh_session() {
    let (mut h, ns, status) = Harness::recovering();
    h.recv(&[r#"42["tick",1,"o2"]"#]);
    assert_eq!(h.seen(), []);
    h.recv(&[r#"40{"sid":"s2","pid":"p2"}"#]);
    assert_eq!(
        h.seen(),
        [(ns, CONNECTED), (ns, ev_at("tick", json!([1]), "o2"))]
    );
    assert!(!status.recovered());
    assert_eq!(status.id().as_deref(), Some("s2"));
    assert!(h.conn.recovery(ns) == resume("p2", None));
}

#[test]
fn a_replay_past_the_hold_flows_before_the_reply() {
    let (mut h, ns, status) = Harness::recovering();
    // Held up to the bound; past it, the connect is announced and every
    // event is handed on as it comes.
    for i in 0..(HELD_MAX_EVENTS * 3) {
        let frame = format!(r#"42["tick",{i},"r{i}"]"#);
        assert_eq!(h.text(&frame), Ok(()));
        let handed_on = match i.cmp(&HELD_MAX_EVENTS) {
            std::cmp::Ordering::Less => 0,
            std::cmp::Ordering::Equal => 1 + HELD_MAX_EVENTS + 1,
            std::cmp::Ordering::Greater => 1,
        };
        assert_eq!(h.events().len(), handed_on, "event {i}");
    }
    assert!(h.conn.namespaces[h.conn.find_socket(ns).unwrap()]
        .held
        .is_empty());
    assert!(status.connected() && status.recovered());
    assert!(!h.conn.is_connected(ns), "emits wait for the reply");
    h.recv(&[r#"40{"sid":"s1","pid":"p1"}"#]);
    assert_eq!(h.seen(), [], "the connect was announced already");
    assert!(h.conn.is_connected(ns));
}

#[test]
fn events_before_a_reply_without_recovery_are_held_within_a_bound() {
    let mut h = Harness::new();
    let (ns, _) = h.add("/", AuthSource::None, None);
    h.want(ns);
    h.open();
    for i in 0..HELD_MAX_EVENTS {
        assert_eq!(h.text(&format!(r#"42["early",{i}]"#)), Ok(()));
    }
    assert_eq!(h.seen(), [], "held for the reply");
    assert!(matches!(
        h.fault(r#"42["early",-1]"#),
        ConnectError::Protocol(ProtocolError::TooMuchBeforeConnect { .. })
    ));

    // The bound counts bytes too.
    let mut h = Harness::new();
    let (ns, _) = h.add("/", AuthSource::None, None);
    h.want(ns);
    h.open();
    let big = format!(r#"42["early","{}"]"#, "x".repeat(HELD_MAX_BYTES / 2));
    assert_eq!(h.text(&big), Ok(()));
    assert!(matches!(
        h.fault(&big),
        ConnectError::Protocol(ProtocolError::TooMuchBeforeConnect { .. })
    ));
}

#[test]
fn recovery_connect_merges_user_auth_without_letting_it_override() {
    let mut h = Harness::new();
    let auth = static_auth(json!({"token": "abc", "pid": "mine", "offset": "mine"}));
    let (ns, _) = h.add("/admin", auth, None);
    h.want(ns);
    h.open();
    assert_eq!(
        split_connect(&h.texts()[0]),
        (
            "40/admin,",
            Some(json!({"token": "abc", "pid": "mine", "offset": "mine"}))
        ),
        "no session yet: the user's keys go as they are"
    );
    h.recv(&[
        r#"40/admin,{"sid":"s1","pid":"p1"}"#,
        r#"42/admin,["tick","Q8Ftvuo"]"#,
    ]);
    h.lose(DisconnectReason::ForcedClose);
    h.open();
    assert_eq!(
        split_connect(&h.texts()[0]),
        (
            "40/admin,",
            Some(json!({"token": "abc", "pid": "p1", "offset": "Q8Ftvuo"}))
        )
    );
}

#[test]
fn failed_recovery_starts_a_fresh_session() {
    let (mut h, ns, status) = Harness::with_session();
    h.lose(DisconnectReason::TransportClose);
    h.open();
    assert_eq!(h.texts(), [r#"40{"offset":"o1","pid":"p1"}"#]);
    h.events();

    // The server did not recover: new sid, new pid, no error.
    h.recv(&[r#"40{"sid":"s2","pid":"p2"}"#]);
    assert_eq!(h.seen(), [(ns, CONNECTED)]);
    assert!(status.connected());
    assert!(!status.recovered());
    assert_eq!(status.id().as_deref(), Some("s2"));
    assert!(
        h.conn.recovery(ns) == resume("p2", None),
        "the old offset means nothing to the new session"
    );

    // Reconnecting before any event: the new pid alone.
    h.lose(DisconnectReason::TransportClose);
    h.open();
    assert_eq!(h.texts(), [r#"40{"pid":"p2"}"#]);
    h.recv(&[r#"40{"sid":"s3","pid":"p3"}"#, r#"42["tick","o9"]"#]);
    assert!(h.conn.recovery(ns) == resume("p3", Some("o9")));

    // Once an event came, the offset goes with the pid.
    h.lose(DisconnectReason::TransportClose);
    h.open();
    assert_eq!(h.texts(), [r#"40{"offset":"o9","pid":"p3"}"#]);
}

#[test]
fn recovery_against_a_server_that_lost_recovery_drops_the_session() {
    let (mut h, ns, status) = Harness::recovering();
    h.recv(&[r#"40{"sid":"s2"}"#]);
    assert_eq!(h.seen(), [(ns, CONNECTED)]);
    assert!(!status.recovered());
    assert!(h.conn.recovery(ns).is_none());
    h.recv(&[r#"42["foo","kept"]"#]);
    assert_eq!(h.seen(), [(ns, ev("foo", json!(["kept"])))]);
    h.lose(DisconnectReason::TransportClose);
    h.open();
    assert_eq!(h.texts(), ["40"]);
}

#[test]
fn recovered_flag_resets_on_a_later_fresh_connect() {
    let (mut h, ns, status) = Harness::with_session();
    h.lose(DisconnectReason::TransportClose);
    h.open();
    h.recv(&[r#"40{"sid":"s1","pid":"p1"}"#]);
    assert!(status.recovered());
    h.lose(DisconnectReason::TransportClose);
    h.open();
    h.recv(&[r#"40{"sid":"s5","pid":"p5"}"#]);
    assert!(!status.recovered());
    assert_eq!(
        h.seen(),
        [
            (ns, Seen::Disconnect(DisconnectReason::TransportClose)),
            (ns, RECOVERED),
            (ns, Seen::Disconnect(DisconnectReason::TransportClose)),
            (ns, CONNECTED),
        ]
    );
}

#[test]
fn namespace_with_a_pid_but_no_offset_sends_the_pid_alone() {
    let mut h = Harness::new();
    let (ns, _) = h.connected("/", r#"40{"sid":"s1","pid":"p1"}"#);
    // Ack-requesting events carry no offset: still none recorded.
    h.recv(&[r#"421["ask"]"#]);
    h.lose(DisconnectReason::TransportClose);
    h.open();
    assert_eq!(h.texts(), [r#"40{"pid":"p1"}"#]);
    h.recv(&[r#"40{"sid":"s2","pid":"p2"}"#]);
    assert!(h.conn.recovery(ns) == resume("p2", None));
}

#[test]
fn link_lost_during_a_replay_resumes_after_the_last_replayed_event() {
    let (mut h, ns, status) = Harness::recovering();
    h.recv(&[r#"42["tick",1,"o2"]"#]);
    // The link drops mid-replay, before the reply: a failed attempt.
    assert!(
        !h.lose(DisconnectReason::TransportClose),
        "no connect was granted on the link"
    );
    assert_eq!(h.seen(), []);
    h.open();
    assert_eq!(
        h.texts(),
        [r#"40{"offset":"o2","pid":"p1"}"#],
        "resumes after the last replayed event"
    );
    h.recv(&[r#"42["tick",2,"o3"]"#, r#"40{"sid":"s1","pid":"p1"}"#]);
    assert_eq!(
        h.seen(),
        [
            (ns, RECOVERED),
            (ns, ev_at("tick", json!([1]), "o2")),
            (ns, ev_at("tick", json!([2]), "o3"))
        ]
    );
    assert!(status.recovered());
}

#[test]
fn session_restored_from_storage_resumes_on_first_connect() {
    let mut h = Harness::new();
    let (ns, status) = h.add("/", AuthSource::None, resume("p1", Some("o1")));
    let mut outcome = h.connect(ns);
    h.open();
    assert_eq!(h.texts(), [r#"40{"offset":"o1","pid":"p1"}"#]);
    h.recv(&[
        r#"42["missed","a","o2"]"#,
        r#"451-["bin",{"_placeholder":true,"num":0},"o3"]"#,
    ]);
    assert_eq!(h.binary(&[7]), Ok(()));
    h.recv(&[r#"40{"sid":"s1","pid":"p1"}"#]);
    assert!(connect_ok(&mut outcome));
    assert!(status.recovered());
    assert_eq!(
        h.seen(),
        [
            (ns, RECOVERED),
            (ns, ev_at("missed", json!(["a"]), "o2")),
            (
                ns,
                Seen::Event {
                    name: "bin".into(),
                    args: json!([{"_placeholder": true, "num": 0}]),
                    attachments: vec![Bytes::from_static(&[7])],
                    offset: Some("o3".into()),
                    wants_ack: false,
                }
            ),
        ]
    );
}

#[test]
fn events_before_the_first_connect_reply_are_held_then_delivered() {
    let mut h = Harness::new();
    let (ns, _) = h.add("/", AuthSource::None, None);
    h.want(ns);
    h.open();
    h.recv(&[r#"42["early",1]"#, r#"42["early",2]"#]);
    assert_eq!(h.seen(), []);
    h.recv(&[r#"40{"sid":"s1"}"#, r#"42["late",3]"#]);
    assert_eq!(
        h.seen(),
        [
            (ns, CONNECTED),
            (ns, ev("early", json!([1]))),
            (ns, ev("early", json!([2]))),
            (ns, ev("late", json!([3]))),
        ]
    );
}

#[test]
fn strip_offsets_off_records_no_offset() {
    let mut h = Harness::with_strip(false);
    let (ns, _) = h.connected("/", r#"40{"sid":"s1","pid":"p1"}"#);
    h.recv(&[r#"42["tick","o1"]"#]);
    assert_eq!(h.seen(), [(ns, ev("tick", json!(["o1"])))]);
    assert!(h.conn.recovery(ns) == resume("p1", None));
}

// ---------------------------------------------------------------------------
// Server DISCONNECT and CONNECT_ERROR
// ---------------------------------------------------------------------------

#[test]
fn server_disconnect_ends_the_namespace_for_good() {
    // (namespace, connect reply, event head, DISCONNECT)
    let table = [
        ("/", r#"40{"sid":"s1","pid":"p1"}"#, "42", "41"),
        (
            "/admin",
            r#"40/admin,{"sid":"s1","pid":"p1"}"#,
            "42/admin,",
            "41/admin,",
        ),
        // The namespace may run to the end of the frame.
        (
            "/admin",
            r#"40/admin,{"sid":"s1","pid":"p1"}"#,
            "42/admin,",
            "41/admin",
        ),
    ];
    for (path, reply, head, frame) in table {
        let mut h = Harness::new();
        let (ns, status) = h.connected(path, reply);
        h.recv(&[format!(r#"{head}["e","o1"]"#).as_str()]);
        assert!(h.conn.recovery(ns).is_some(), "{frame}");
        h.events();
        let mut pending = h.send_with_ack(ns, "42[\"x\"]", 1);

        h.recv(&[frame]);
        assert_eq!(
            h.seen(),
            [(ns, Seen::Disconnect(DisconnectReason::IoServerDisconnect))],
            "{frame}"
        );
        assert!(!status.connected());
        assert_eq!(status.id(), None);
        assert_eq!(h.state(ns), NsState::Inactive);
        assert!(!h.conn.wants_link(), "{frame}: it was the only one");
        assert!(h.conn.recovery(ns).is_none(), "{frame}: session gone");
        assert!(matches!(
            pending.try_recv(),
            Ok(Err(AckError::Disconnected))
        ));

        // Later events for it are dropped, and it does not reconnect.
        h.recv(&[format!(r#"{head}["e"]"#).as_str()]);
        assert_eq!(h.seen(), []);
        h.texts();
        h.lose(DisconnectReason::TransportClose);
        h.open();
        assert_eq!(h.texts(), Vec::<String>::new());
        assert_eq!(h.seen(), []);
    }
}

#[test]
fn server_disconnect_of_one_namespace_leaves_the_others() {
    let mut h = Harness::new();
    let (root, root_status) = h.connected("/", r#"40{"sid":"r"}"#);
    let (admin, _) = h.connected("/admin", r#"40/admin,{"sid":"a"}"#);
    h.recv(&["41/admin,"]);
    assert_eq!(
        h.seen(),
        [(
            admin,
            Seen::Disconnect(DisconnectReason::IoServerDisconnect)
        )]
    );
    assert!(h.conn.wants_link());
    assert!(h.conn.is_connected(root));
    assert!(root_status.connected());
}

#[test]
fn server_disconnect_while_connecting_fails_the_waiter() {
    let mut h = Harness::new();
    let (ns, _) = h.add("/", AuthSource::None, None);
    let mut outcome = h.connect(ns);
    h.open();
    h.recv(&["41"]);
    assert_eq!(h.seen(), [], "never connected: no disconnect");
    assert!(matches!(
        outcome.try_recv(),
        Ok(Err(ConnectError::ServerDisconnect))
    ));
    assert!(!h.conn.wants_link());
}

#[test]
fn connect_error_rejects_the_namespace() {
    // (namespace, frame, message, data)
    let table: [(&str, &str, &str, Option<Value>); 5] = [
        (
            "/",
            r#"44{"message":"rejected by middleware","data":{"code":42}}"#,
            "rejected by middleware",
            Some(json!({"code": 42})),
        ),
        (
            "/nope",
            r#"44/nope,{"message":"Invalid namespace"}"#,
            "Invalid namespace",
            None,
        ),
        ("/", r#"44"plain words""#, "plain words", None),
        ("/", r#"44{"message":7}"#, "7", None),
        ("/", r#"44{}"#, "", None),
    ];
    for (path, frame, message, data) in table {
        let mut h = Harness::new();
        let (ns, status) = h.add(path, AuthSource::None, None);
        let mut outcome = h.connect(ns);
        h.open();
        h.texts();
        h.recv(&[r#"42["early"]"#]);
        h.recv(&[frame]);

        let events = h.events();
        assert_eq!(events.len(), 1, "{frame}: held events dropped: {events:?}");
        let (
            at,
            SocketEvent::ConnectError(ConnectError::Rejected {
                message: m,
                data: d,
            }),
        ) = &events[0]
        else {
            panic!("{frame}: {events:?}");
        };
        assert_eq!((*at, m.as_str(), d), (ns, message, &data), "{frame}");
        let Ok(Err(ConnectError::Rejected {
            message: m,
            data: d,
        })) = outcome.try_recv()
        else {
            panic!("{frame}: waiter not failed with Rejected");
        };
        assert_eq!((m.as_str(), d), (message, data), "{frame}");
        assert_eq!(h.state(ns), NsState::Inactive);
        assert!(!h.conn.wants_link());
        assert!(!status.connected());

        // It stays down across links until connected again.
        h.lose(DisconnectReason::TransportClose);
        h.open();
        assert_eq!(h.texts(), Vec::<String>::new(), "{frame}");
    }
}

#[test]
fn connect_after_a_rejection_tries_again() {
    let mut h = Harness::new();
    let (ns, _) = h.add("/", static_auth(json!({"token": "bad"})), None);
    h.want(ns);
    h.open();
    h.texts();
    h.recv(&[r#"44{"message":"nope"}"#]);
    h.events();
    let mut outcome = h.connect(ns);
    assert_eq!(h.texts(), [r#"40{"token":"bad"}"#]);
    h.recv(&[r#"40{"sid":"s1"}"#]);
    assert!(connect_ok(&mut outcome));
    assert_eq!(h.seen(), [(ns, CONNECTED)]);
}

// ---------------------------------------------------------------------------
// Client disconnect
// ---------------------------------------------------------------------------

#[test]
fn client_disconnect_of_a_connected_namespace() {
    for (path, reply, goodbye) in [
        ("/", r#"40{"sid":"s1"}"#, "41"),
        ("/admin", r#"40/admin,{"sid":"s1"}"#, "41/admin,"),
    ] {
        let mut h = Harness::new();
        let (ns, status) = h.connected(path, reply);
        let mut pending = h.send_with_ack(ns, "42[\"x\"]", 1);
        h.texts();
        h.conn.end(ns, Ending::Disconnected);
        assert_eq!(h.texts(), [goodbye]);
        assert_eq!(
            h.seen(),
            [(ns, Seen::Disconnect(DisconnectReason::IoClientDisconnect))]
        );
        assert!(!status.connected());
        assert_eq!(status.id(), None);
        assert!(!h.conn.is_connected(ns));
        assert!(!h.conn.wants_link());
        assert!(matches!(
            pending.try_recv(),
            Ok(Err(AckError::Disconnected))
        ));

        // Disconnecting again does nothing.
        h.conn.end(ns, Ending::Disconnected);
        assert_eq!(h.texts(), Vec::<String>::new());
        assert_eq!(h.seen(), []);
    }
}

#[test]
fn client_disconnect_while_connecting_aborts_the_waiters() {
    let mut h = Harness::new();
    let (ns, _) = h.add("/admin", AuthSource::None, None);
    let mut first = h.connect(ns);
    let mut second = h.connect(ns);
    h.open();
    assert_eq!(h.texts(), ["40/admin,"]);
    h.recv(&[r#"42/admin,["early"]"#]);
    h.conn.end(ns, Ending::Disconnected);
    // The server may have no socket to end yet: the DISCONNECT waits for its reply.
    assert_eq!(h.texts(), Vec::<String>::new());
    assert_eq!(h.seen(), [], "never connected, held events dropped");
    assert!(matches!(first.try_recv(), Ok(Err(ConnectError::Aborted))));
    assert!(matches!(second.try_recv(), Ok(Err(ConnectError::Aborted))));
    assert!(!h.conn.wants_link());

    // The server's reply to the abandoned CONNECT is answered with a DISCONNECT.
    h.recv(&[r#"40/admin,{"sid":"s1"}"#, r#"42/admin,["late"]"#]);
    assert_eq!(h.texts(), ["41/admin,"]);
    assert_eq!(h.seen(), []);
    assert!(!h.conn.is_connected(ns));
}

#[test]
fn client_disconnect_while_the_link_is_down_sends_nothing() {
    let mut h = Harness::new();
    let (ns, status) = h.connected("/", r#"40{"sid":"s1","pid":"p1"}"#);
    h.lose(DisconnectReason::TransportClose);
    assert_eq!(
        h.seen(),
        [(ns, Seen::Disconnect(DisconnectReason::TransportClose))]
    );
    let mut outcome = h.connect(ns);
    h.conn.end(ns, Ending::Disconnected);
    assert_eq!(h.texts(), Vec::<String>::new());
    assert_eq!(h.seen(), [], "the socket already saw its disconnect");
    assert!(matches!(outcome.try_recv(), Ok(Err(ConnectError::Aborted))));
    assert!(!status.connected());
    assert!(!h.conn.wants_link());
    h.open();
    assert_eq!(h.texts(), Vec::<String>::new());
}

#[test]
fn client_disconnect_of_an_inactive_namespace_does_nothing() {
    let mut h = Harness::new();
    h.open();
    let (ns, _) = h.add("/", AuthSource::None, None);
    h.conn.end(ns, Ending::Disconnected);
    assert_eq!(h.texts(), Vec::<String>::new());
    assert_eq!(h.seen(), []);
}

#[test]
fn disconnect_then_connect_on_the_same_link() {
    let mut h = Harness::new();
    let (ns, status) = h.connected("/", r#"40{"sid":"s1"}"#);
    h.conn.end(ns, Ending::Disconnected);
    let mut outcome = h.connect(ns);
    assert_eq!(h.texts(), ["41", "40"]);
    h.recv(&[r#"40{"sid":"s2"}"#]);
    assert!(connect_ok(&mut outcome));
    assert_eq!(status.id().as_deref(), Some("s2"));
    assert_eq!(
        h.seen(),
        [
            (ns, Seen::Disconnect(DisconnectReason::IoClientDisconnect)),
            (ns, CONNECTED),
        ]
    );
}

// ---------------------------------------------------------------------------
// Binary events
// ---------------------------------------------------------------------------

#[test]
fn binary_event_with_one_attachment() {
    let mut h = Harness::new();
    let (ns, _) = h.connected("/", r#"40{"sid":"s1","pid":"p1"}"#);
    h.recv(&[r#"451-["bin",{"_placeholder":true,"num":0},"Q8FtvoZ.2"]"#]);
    assert_eq!(h.seen(), [], "waits for its attachment");
    assert_eq!(h.binary(&[1, 2, 3]), Ok(()));
    assert_eq!(
        h.seen(),
        [(
            ns,
            Seen::Event {
                name: "bin".into(),
                args: json!([{"_placeholder": true, "num": 0}]),
                attachments: vec![Bytes::from_static(&[1, 2, 3])],
                offset: Some("Q8FtvoZ.2".into()),
                wants_ack: false,
            }
        )]
    );
    assert!(h.conn.recovery(ns) == resume("p1", Some("Q8FtvoZ.2")));
}

#[test]
fn binary_event_waits_for_every_attachment() {
    let mut h = Harness::new();
    let (ns, _) = h.connected("/", r#"40{"sid":"s1","pid":"p1"}"#);
    h.recv(&[
        r#"452-["bin2",{"buf":{"_placeholder":true,"num":0},"s":"t"},{"_placeholder":true,"num":1},"Q8FtvqR"]"#,
    ]);
    assert_eq!(h.binary(&[4, 5]), Ok(()));
    assert_eq!(h.seen(), [], "one of two");
    // A ping between attachments is still answered, and heard.
    assert_eq!(h.text("2"), Ok(()));
    assert_eq!(h.texts(), ["3"]);
    assert_eq!(h.seen(), [(ns, Seen::Ping)]);
    assert_eq!(h.binary(&[6]), Ok(()));
    assert_eq!(
        h.seen(),
        [(
            ns,
            Seen::Event {
                name: "bin2".into(),
                args: json!([
                    {"buf": {"_placeholder": true, "num": 0}, "s": "t"},
                    {"_placeholder": true, "num": 1}
                ]),
                attachments: vec![Bytes::from_static(&[4, 5]), Bytes::from_static(&[6])],
                offset: Some("Q8FtvqR".into()),
                wants_ack: false,
            }
        )]
    );
    // The next binary frame is unexpected again.
    assert_eq!(h.binary(&[7]), Err(DisconnectReason::ParseError));
}

#[test]
fn binary_event_with_ack_on_admin() {
    let mut h = Harness::new();
    let (ns, _) = h.connected("/admin", r#"40/admin,{"sid":"s1","pid":"p1"}"#);
    h.recv(&[r#"451-/admin,4["up",{"_placeholder":true,"num":0},"not an offset"]"#]);
    assert_eq!(h.binary(b"data"), Ok(()));
    let (at, SocketEvent::Event(event)) = h.one_event() else {
        panic!("not an event");
    };
    assert_eq!(at, ns);
    assert_eq!(
        event.args(),
        [
            json!({"_placeholder": true, "num": 0}),
            json!("not an offset")
        ]
    );
    assert_eq!(event.offset(), None);
    assert_eq!(event.attachments(), [Bytes::from_static(b"data")]);
    event.ack(&("got it",)).expect("ack queued");
    let Some(sent) = h.acks.take() else {
        panic!("no ack answer");
    };
    let (frame, _) = split_answer(&sent.frames);
    assert_eq!(frame, r#"43/admin,4["got it"]"#);
}

#[test]
fn binary_event_with_no_attachment_is_complete_at_once() {
    let mut h = Harness::new();
    let (ns, _) = h.connected("/", r#"40{"sid":"s1"}"#);
    h.recv(&[r#"450-["bin0",1]"#]);
    assert_eq!(h.seen(), [(ns, ev("bin0", json!([1])))]);
    assert_eq!(h.binary(&[1]), Err(DisconnectReason::ParseError));
}

#[test]
fn binary_event_is_held_like_any_event_before_the_reply() {
    let mut h = Harness::new();
    let (ns, _) = h.add("/", AuthSource::None, None);
    h.want(ns);
    h.open();
    h.recv(&[r#"451-["bin",{"_placeholder":true,"num":0}]"#]);
    assert_eq!(h.binary(&[1]), Ok(()));
    assert_eq!(h.seen(), []);
    h.recv(&[r#"40{"sid":"s1"}"#]);
    let seen = h.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], (ns, CONNECTED));
}

#[test]
fn binary_protocol_errors() {
    let placeholder_past_the_end = |h: &mut Harness| {
        h.recv(&[r#"451-["bin",{"_placeholder":true,"num":1}]"#]);
        h.binary(&[1])
    };
    let nested_placeholder_past_the_end = |h: &mut Harness| {
        h.recv(&[r#"452-["bin",[{"x":{"_placeholder":true,"num":2}}]]"#]);
        assert_eq!(h.binary(&[1]), Ok(()));
        h.binary(&[2])
    };
    let text_before_the_attachments = |h: &mut Harness| {
        h.recv(&[r#"452-["bin",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#]);
        assert_eq!(h.binary(&[1]), Ok(()));
        h.text(r#"42["foo"]"#)
    };
    let ack_before_the_attachments = |h: &mut Harness| {
        h.recv(&[r#"451-["bin",{"_placeholder":true,"num":0}]"#]);
        h.text(r#"431["r"]"#)
    };
    let binary_when_none_expected = |h: &mut Harness| h.binary(&[1, 2, 3]);
    let too_many_attachments = |h: &mut Harness| h.text(r#"45999-["bin"]"#);
    type Step = fn(&mut Harness) -> Result<(), DisconnectReason>;
    let table: [(&str, Step); 6] = [
        ("placeholder past the end", placeholder_past_the_end),
        (
            "nested placeholder past the end",
            nested_placeholder_past_the_end,
        ),
        ("text before the attachments", text_before_the_attachments),
        ("ack before the attachments", ack_before_the_attachments),
        ("binary when none expected", binary_when_none_expected),
        ("too many attachments", too_many_attachments),
    ];
    for (what, run) in table {
        let mut h = Harness::new();
        h.connected("/", r#"40{"sid":"s1","pid":"p1"}"#);
        assert_eq!(run(&mut h), Err(DisconnectReason::ParseError), "{what}");
        assert_eq!(h.seen(), [], "{what}");
    }
}

#[test]
fn placeholders_that_are_not_placeholders_are_left_alone() {
    let mut h = Harness::new();
    let (ns, _) = h.connected("/", r#"40{"sid":"s1"}"#);
    // `_placeholder` must be true and `num` a non-negative integer.
    let frames = [
        r#"451-["bin",{"_placeholder":false,"num":5},{"_placeholder":true,"num":0}]"#,
        r#"451-["bin",{"_placeholder":true,"num":-1},{"_placeholder":true,"num":0}]"#,
        r#"451-["bin",{"_placeholder":true},{"_placeholder":true,"num":0}]"#,
    ];
    for frame in frames {
        h.recv(&[frame]);
        assert_eq!(h.binary(&[1]), Ok(()), "{frame}");
        let seen = h.seen();
        assert_eq!(seen.len(), 1, "{frame}");
        assert_eq!(seen[0].0, ns, "{frame}");
    }
}

#[test]
fn link_loss_drops_a_half_received_binary_event() {
    let mut h = Harness::new();
    let (ns, _) = h.connected("/", r#"40{"sid":"s1"}"#);
    h.recv(&[r#"452-["bin",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#]);
    assert_eq!(h.binary(&[1]), Ok(()));
    h.lose(DisconnectReason::TransportClose);
    h.events();
    h.open();
    h.recv(&[r#"40{"sid":"s2"}"#]);
    assert_eq!(h.binary(&[2]), Err(DisconnectReason::ParseError));
    h.recv(&[r#"42["fresh"]"#]);
    assert_eq!(
        h.seen(),
        [(ns, CONNECTED), (ns, ev("fresh", json!([])))],
        "nothing of the half event"
    );
}

#[test]
fn binary_event_for_an_inactive_namespace_is_consumed_and_dropped() {
    let mut h = Harness::new();
    let (root, _) = h.connected("/", r#"40{"sid":"s1"}"#);
    let (_admin, _) = h.add("/admin", AuthSource::None, None);
    h.recv(&[r#"451-/admin,["bin",{"_placeholder":true,"num":0}]"#]);
    assert_eq!(h.binary(&[1]), Ok(()));
    h.recv(&[r#"42["after"]"#]);
    assert_eq!(h.seen(), [(root, ev("after", json!([])))]);
}

#[test]

fn binary_event_for_an_unknown_namespace_is_consumed_and_dropped() {
    let mut h = Harness::new();
    let (root, _) = h.connected("/", r#"40{"sid":"s1"}"#);
    h.recv(&[r#"451-/nope,["bin",{"_placeholder":true,"num":0}]"#]);
    // The reference client assembles the packet, then drops it for want of a socket.
    assert_eq!(h.binary(&[1]), Ok(()));
    h.recv(&[r#"42["after"]"#]);
    assert_eq!(h.seen(), [(root, ev("after", json!([])))]);
}

#[test]

fn placeholder_lookalike_in_a_plain_event_is_data() {
    let mut h = Harness::new();
    let (ns, _) = h.connected("/", r#"40{"sid":"s1"}"#);
    // socket.emit("x", {_placeholder: true, num: 0}) on the server sends this
    // as a plain EVENT (no binary inside).
    assert_eq!(h.text(r#"42["x",{"_placeholder":true,"num":0}]"#), Ok(()));
    assert_eq!(
        h.seen(),
        [(ns, ev("x", json!([{"_placeholder": true, "num": 0}])))]
    );
}

// ---------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------

#[test]
fn malformed_frames_table() {
    use DisconnectReason::{ParseError, TransportClose};
    let table: &[(&str, Result<(), DisconnectReason>)] = &[
        ("", Err(ParseError)),
        ("9", Err(ParseError)),
        ("x", Err(ParseError)),
        ("é", Err(ParseError)),
        ("🦀42", Err(ParseError)),
        ("4", Err(ParseError)),
        ("4x", Err(ParseError)),
        ("47", Err(ParseError)),
        ("4é", Err(ParseError)),
        ("42", Err(ParseError)),
        ("42{", Err(ParseError)),
        ("42[", Err(ParseError)),
        ("42[]", Err(ParseError)),
        ("42{}", Err(ParseError)),
        ("42\"foo\"", Err(ParseError)),
        ("42[1]", Err(ParseError)),
        ("42[null,\"x\"]", Err(ParseError)),
        ("42[\"connect\"]", Err(ParseError)),
        ("42[\"é\"", Err(ParseError)),
        ("42[\"a\"]trailing", Err(ParseError)),
        ("42é", Err(ParseError)),
        ("421é", Err(ParseError)),
        ("4218446744073709551616[\"x\"]", Err(ParseError)),
        ("42/admin", Err(ParseError)),
        ("40\"hello\"", Err(ParseError)),
        ("40{bad", Err(ParseError)),
        ("40[]", Err(ParseError)),
        ("41{\"x\":1}", Err(ParseError)),
        ("43", Err(ParseError)),
        // An ACK without an id cannot be matched to anything: refused.
        // An ACK without an id is ignored, as the reference client does.
        ("43[\"r\"]", Ok(())),
        ("431{}", Err(ParseError)),
        ("44", Err(ParseError)),
        ("44[1]", Err(ParseError)),
        ("45[\"bin\"]", Err(ParseError)),
        ("45-[\"bin\"]", Err(ParseError)),
        ("451[\"bin\"]", Err(ParseError)),
        ("45999-[]", Err(ParseError)),
        ("45257-[\"bin\"]", Err(ParseError)),
        ("4599999999999999999999999999-[\"bin\"]", Err(ParseError)),
        ("451-[]", Err(ParseError)),
        ("451-[1]", Err(ParseError)),
        ("461-", Err(ParseError)),
        ("0", Err(ParseError)),
        ("0{bad", Err(ParseError)),
        // Ignorable Engine.IO packets.
        ("1", Err(TransportClose)),
        ("1junk", Err(TransportClose)),
        ("2", Ok(())),
        ("3", Ok(())),
        ("5", Ok(())),
        ("6", Ok(())),
        ("6é", Ok(())),
        // Well-formed packets for namespaces this client never added.
        ("42/nope,[\"x\"]", Ok(())),
        ("40/nope,{\"sid\":\"x\"}", Ok(())),
        ("41/nope,", Ok(())),
        ("44/nope,{\"message\":\"Invalid namespace\"}", Ok(())),
        ("43/nope,1[]", Ok(())),
        // Well-formed but odd: a CONNECT reply without data while connected.
        ("40", Ok(())),
        ("42[\"é\",\"ü\"]", Ok(())),
    ];
    for (frame, expected) in table {
        let mut h = Harness::new();
        let (ns, status) = h.connected("/", r#"40{"sid":"s1"}"#);
        assert_eq!(h.text(frame), *expected, "{frame:?}");
        if expected.is_err() {
            assert_eq!(h.seen(), [], "{frame:?}");
        }
        assert!(
            h.conn.is_connected(ns),
            "{frame:?}: only the driver ends the link"
        );
        assert!(status.connected());
    }
}

/// Frames captured from a real server, the seeds of the malformed-input tests.
const REAL_FRAMES: [&str; 14] = [
    r#"0{"sid":"D2zu","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
    r#"40{"sid":"vweq","pid":"yTIX"}"#,
    r#"40/admin,{"sid":"a"}"#,
    r#"44{"message":"rejected by middleware","data":{"code":42}}"#,
    r#"44/nope,{"message":"Invalid namespace"}"#,
    r#"42["foo","bar","Q8FtvoZ"]"#,
    r#"421["withack",1]"#,
    r#"431["ok"]"#,
    r#"42/admin,17["ü","é"]"#,
    r#"451-["bin",{"_placeholder":true,"num":0},"Q8FtvoZ.2"]"#,
    r#"452-["bin2",{"buf":{"_placeholder":true,"num":0},"s":"t"},{"_placeholder":true,"num":1},"Q8FtvqR"]"#,
    r#"461-3[{"_placeholder":true,"num":0}]"#,
    "2probe",
    "41/admin,",
];

#[test]
fn no_prefix_of_a_real_frame_panics() {
    for frame in REAL_FRAMES {
        for (end, _) in frame.char_indices().chain([(frame.len(), ' ')]) {
            let prefix = &frame[..end];
            for strip in [true, false] {
                let mut h = Harness::with_strip(strip);
                let (ns, _) = h.connected("/", r#"40{"sid":"s1","pid":"p1"}"#);
                let _ = h.connected("/admin", r#"40/admin,{"sid":"a1","pid":"p2"}"#);
                let _pending = h.send_with_ack(ns, r#"421["x"]"#, 1);
                let _ = h.text(prefix);
                let _ = h.binary(&[1]);
                let _ = h.binary(&[2]);
                let _ = h.text(prefix);
                h.events();
            }
        }
    }
}

/// Real frames with random bytes changed, inserted, repeated or cut, fed in
/// random order with stray binary frames, and every delivered event read in
/// every way the application can: whatever the server sends gives a value
/// or an error, never a panic.
#[test]
fn mutated_frames_never_panic() {
    const BYTES: &[u8] = b"0123456789-,/[]{}\":_a\\ \x00";
    let mut rng = Rng::seeded(0x5eed);
    for round in 0..2000 {
        let mut h = Harness::with_strip(round % 2 == 0);
        let (ns, _) = h.connected("/", r#"40{"sid":"s1","pid":"p1"}"#);
        let _ = h.connected("/admin", r#"40/admin,{"sid":"a1","pid":"p2"}"#);
        let _pending = h.send_with_ack(ns, r#"421["x"]"#, 1);
        for _ in 0..12 {
            if rng.below(5) == 0 {
                let _ = h.binary(&[1, 2, 3]);
                continue;
            }
            let mut frame = REAL_FRAMES[rng.below(REAL_FRAMES.len())]
                .as_bytes()
                .to_vec();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(frame.len() + 1);
                let byte = BYTES[rng.below(BYTES.len())];
                match rng.below(4) {
                    0 if at < frame.len() => frame[at] = byte,
                    1 => frame.insert(at, byte),
                    2 => frame.truncate(at),
                    _ => {
                        let tail = frame[at..].to_vec();
                        frame.extend_from_slice(&tail);
                    }
                }
            }
            let Ok(text) = String::from_utf8(frame) else {
                continue;
            };
            if let Err(reason) = h.text(&text) {
                h.lose(reason);
                h.open();
            }
            for (_, event) in h.events() {
                if let SocketEvent::Event(event) = event {
                    let _ = event.args();
                    let _ = event.offset();
                    let _ = event.decode::<Value>();
                    let _ = event.decode::<(String, Value)>();
                    let _ = event.decode::<(u64, u64, u64)>();
                    let _ = event.ack(&("x", Bytes::from_static(b"y")));
                }
            }
            h.frames();
            if let Err(fault) = h.conn.handle_timeout(h.now) {
                h.lose(fault.reason);
                h.open();
            }
        }
    }
}

#[test]
fn deep_nesting_neither_panics_nor_overflows() {
    let mut h = Harness::new();
    let (ns, _) = h.connected("/", r#"40{"sid":"s1"}"#);
    // Within serde_json's recursion limit: accepted.
    let depth = 100;
    let frame = format!("42[\"deep\",{}{}]", "[".repeat(depth), "]".repeat(depth));
    assert_eq!(h.text(&frame), Ok(()));
    assert_eq!(h.seen().len(), 1);
    // Far beyond it: refused, no stack overflow.
    let depth = 100_000;
    let frame = format!("42[\"deep\",{}{}]", "[".repeat(depth), "]".repeat(depth));
    assert_eq!(h.text(&frame), Err(DisconnectReason::ParseError));
    let frame = format!("42[\"deep\",{}", "{\"a\":".repeat(depth));
    assert_eq!(h.text(&frame), Err(DisconnectReason::ParseError));
    assert!(h.conn.is_connected(ns));
}

// ---------------------------------------------------------------------------
// give_up and broadcast
// ---------------------------------------------------------------------------

#[test]
fn give_up_fails_connecting_namespaces_and_delivers_their_held_events() {
    let mut h = Harness::new();
    let (ns, status) = h.add("/", AuthSource::None, None);
    let (admin, _) = h.add("/admin", AuthSource::None, None);
    let mut admin_outcome = h.connect(admin);
    let mut outcome = h.connect(ns);
    h.open();
    h.texts();
    // An event before the reply (no recovery asked for) is held; then the
    // link drops for good.
    h.recv(&[r#"42["early",1]"#]);
    h.lose(DisconnectReason::TransportClose);

    h.give_up(ConnectError::ReconnectFailed {
        attempts: 3,
        last: None,
    });
    assert_eq!(h.seen(), [(ns, ev("early", json!([1])))]);
    assert!(matches!(
        outcome.try_recv(),
        Ok(Err(ConnectError::ReconnectFailed { attempts: 3, .. }))
    ));
    assert!(matches!(
        admin_outcome.try_recv(),
        Ok(Err(ConnectError::ReconnectFailed { attempts: 3, .. }))
    ));
    assert_eq!(h.state(ns), NsState::Inactive);
    assert_eq!(h.state(admin), NsState::Inactive);
    assert!(!h.conn.wants_link());
    assert!(!status.connected());
}

#[test]
fn give_up_keeps_the_session_for_a_later_connect() {
    let (mut h, ns, status) = Harness::with_session();
    h.lose(DisconnectReason::TransportClose);
    h.open();
    h.texts();
    // Part of a replay came, then the link dropped for good.
    h.recv(&[r#"42["tick",1,"o2"]"#]);
    h.lose(DisconnectReason::TransportClose);
    h.events();
    h.give_up(ConnectError::Closed);
    assert!(!status.connected());
    assert!(h.conn.recovery(ns) == resume("p1", Some("o2")));
    h.open();
    assert_eq!(h.texts(), Vec::<String>::new());
    h.connect(ns);
    assert_eq!(h.texts(), [r#"40{"offset":"o2","pid":"p1"}"#]);
}

#[test]
fn give_up_leaves_connected_namespaces_alone() {
    let mut h = Harness::new();
    let (root, root_status) = h.connected("/", r#"40{"sid":"r"}"#);
    let (admin, _) = h.add("/admin", AuthSource::None, None);
    let mut outcome = h.connect(admin);
    h.give_up(ConnectError::Closed);
    assert!(matches!(outcome.try_recv(), Ok(Err(ConnectError::Closed))));
    assert_eq!(h.seen(), []);
    assert!(h.conn.is_connected(root));
    assert!(root_status.connected());
    assert!(h.conn.wants_link());
}

#[test]
fn broadcast_reaches_only_namespaces_that_want_the_link() {
    let mut h = Harness::new();
    let (connected, _) = h.connected("/", r#"40{"sid":"r"}"#);
    let (_inactive, _) = h.add("/inactive", AuthSource::None, None);
    let (connecting, _) = h.add("/connecting", AuthSource::None, None);
    h.want(connecting);
    let (left, _) = h.connected("/left", r#"40/left,{"sid":"l"}"#);
    h.conn.end(left, Ending::Disconnected);
    h.events();

    let table = [
        SocketEvent::ReconnectAttempt(1),
        SocketEvent::Reconnect(2),
        SocketEvent::ReconnectFailed,
        SocketEvent::ReconnectError(ConnectError::HandshakeClosed),
        SocketEvent::ConnectError(ConnectError::Timeout(Duration::from_secs(20))),
    ];
    for event in table {
        let expected = Seen::of(&event);
        h.conn.broadcast(event);
        assert_eq!(
            h.seen(),
            [(connected, expected.clone()), (connecting, expected)]
        );
    }
    h.lose(DisconnectReason::TransportClose);
    h.events();
    h.conn.broadcast(SocketEvent::ReconnectAttempt(1));
    assert_eq!(
        h.seen(),
        [
            (connected, Seen::ReconnectAttempt(1)),
            (connecting, Seen::ReconnectAttempt(1))
        ]
    );
}

// ---------------------------------------------------------------------------
// Namespaces the client does not serve
// ---------------------------------------------------------------------------

#[test]
fn events_for_a_namespace_never_added_are_ignored() {
    let mut h = Harness::new();
    let (ns, status) = h.connected("/", r#"40{"sid":"s1","pid":"p1"}"#);
    h.recv(&[
        r#"42/nope,["x","o1"]"#,
        r#"42/nope,1["x"]"#,
        r#"40/nope,{"sid":"n"}"#,
        r#"44/nope,{"message":"Invalid namespace"}"#,
        r#"41/nope,"#,
    ]);
    assert_eq!(h.seen(), []);
    assert_eq!(h.texts(), Vec::<String>::new());
    assert!(h.conn.find("/nope").is_none());
    assert!(status.connected());
    assert!(h.conn.recovery(ns) == resume("p1", None), "no offset taken");
}

#[test]
fn events_for_an_inactive_namespace_are_dropped() {
    let mut h = Harness::new();
    let (_root, _) = h.connected("/", r#"40{"sid":"s1"}"#);
    let (admin, _) = h.add("/admin", AuthSource::None, resume("p1", Some("o1")));
    h.recv(&[r#"42/admin,["x","o2"]"#, r#"40/admin,{"sid":"a"}"#]);
    assert_eq!(h.seen(), []);
    assert!(h.conn.recovery(admin) == resume("p1", Some("o1")));
    assert!(!h.conn.is_connected(admin));
}

// ---------------------------------------------------------------------------
// forget and the shared pid
// ---------------------------------------------------------------------------

#[test]
fn forget_leaves_without_telling_the_server_and_keeps_the_session() {
    let (mut h, ns, status) = Harness::with_session();
    let mut pending = h.send_with_ack(ns, r#"421["x"]"#, 1);
    h.texts();
    h.conn.end(ns, Ending::Dropped);
    assert_eq!(
        h.texts(),
        Vec::<String>::new(),
        "no DISCONNECT: the server keeps the session"
    );
    assert_eq!(
        h.seen(),
        [(ns, Seen::Disconnect(DisconnectReason::IoClientDisconnect))]
    );
    assert!(!status.connected());
    assert!(!h.conn.wants_link());
    assert!(matches!(
        pending.try_recv(),
        Ok(Err(AckError::Disconnected))
    ));
    assert!(h.conn.recovery(ns) == resume("p1", Some("o1")));
    assert_eq!(status.pid().as_deref(), Some("p1"));
}

#[test]
fn forget_while_connecting_fails_the_waiters_with_closed() {
    let mut h = Harness::new();
    let (ns, _) = h.add("/", AuthSource::None, None);
    let mut outcome = h.connect(ns);
    h.open();
    h.texts();
    h.conn.end(ns, Ending::Dropped);
    assert_eq!(h.texts(), Vec::<String>::new());
    assert_eq!(h.seen(), []);
    assert!(matches!(outcome.try_recv(), Ok(Err(ConnectError::Closed))));
}

#[test]
fn status_pid_follows_the_server_session() {
    let mut h = Harness::new();
    let (_, plain_status) = h.connected("/plain", r#"40/plain,{"sid":"x"}"#);
    assert_eq!(plain_status.pid(), None);

    let (ns, status) = h.connected("/", r#"40{"sid":"s1","pid":"p1"}"#);
    assert_eq!(status.pid().as_deref(), Some("p1"));
    h.recv(&[r#"42["tick","o1"]"#]);

    // The pid outlives the link, so the session can be saved while offline.
    h.lose(DisconnectReason::TransportClose);
    assert_eq!(status.pid().as_deref(), Some("p1"));
    assert_eq!(status.id(), None);

    h.open();
    h.recv(&[r#"40{"sid":"s1","pid":"p1"}"#]);
    assert_eq!(status.pid().as_deref(), Some("p1"));
    h.lose(DisconnectReason::TransportClose);
    h.open();
    h.recv(&[r#"40{"sid":"s2","pid":"p2"}"#]);
    assert_eq!(status.pid().as_deref(), Some("p2"));
    assert!(h.conn.recovery(ns) == resume("p2", None));
}

// ---------------------------------------------------------------------------
// At-least-once emits and outgoing listeners

/// Queues an at-least-once emit whose ack id goes at `id_at`.
fn send_reliable(h: &mut Harness, ns: SocketId, text: &str, id_at: usize) -> AckOutcome {
    h.send_reliable_with(ns, text, id_at, None)
}

fn with_retries(retries: u32) -> Harness {
    let mut h = Harness::new();
    h.replace(true, retries, rules());
    h
}

#[test]
fn reliable_emits_resend_first_after_a_reconnect_before_the_connect_event() {
    let mut h = with_retries(2);
    let (ns, _) = h.connected("/", r#"40{"sid":"s1"}"#);
    let mut first = send_reliable(&mut h, ns, r#"42["a"]"#, 2);
    let mut second = send_reliable(&mut h, ns, r#"42["b"]"#, 2);
    assert_eq!(h.texts(), [r#"420["a"]"#], "one in flight");
    h.lose(DisconnectReason::TransportClose);
    h.events();
    assert!(!h.conn.accepts_emits(ns));
    assert_eq!(h.conn.poll_timeout(), None, "no retry timer without a link");
    h.open();
    assert_eq!(h.texts(), ["40"]);
    h.recv(&[r#"40{"sid":"s2"}"#]);
    assert_eq!(h.texts(), [r#"421["a"]"#], "sent again, fresh id");
    assert_eq!(h.seen(), [(ns, CONNECTED)]);
    h.recv(&[r#"431["A"]"#]);
    assert_eq!(first.try_recv().unwrap().unwrap().args, [json!("A")]);
    assert_eq!(h.texts(), [r#"422["b"]"#]);
    h.recv(&[r#"432["B"]"#]);
    assert_eq!(second.try_recv().unwrap().unwrap().args, [json!("B")]);
    assert_eq!(h.texts(), Vec::<String>::new());
}

#[test]
fn reliable_timers_resend_then_give_up_even_while_reading_is_paused() {
    let mut h = with_retries(1);
    let (ns, _) = h.connected("/", r#"40{"sid":"s1"}"#);
    let mut outcome = send_reliable(&mut h, ns, r#"42["x"]"#, 2);
    assert_eq!(h.texts(), [r#"420["x"]"#]);
    let retry_at = h.now + Duration::from_millis(50);
    assert_eq!(
        h.conn.poll_timeout(),
        Some(retry_at),
        "sooner than the heartbeat"
    );
    h.conn.handle_reading(false, h.now);
    assert_eq!(h.conn.poll_timeout(), Some(retry_at));
    h.conn
        .handle_timeout(retry_at - Duration::from_millis(1))
        .expect("no fault");
    assert_eq!(h.texts(), Vec::<String>::new());
    h.conn.handle_timeout(retry_at).expect("no fault");
    assert_eq!(h.texts(), [r#"421["x"]"#]);
    h.conn
        .handle_timeout(retry_at + Duration::from_millis(50))
        .expect("no fault");
    assert_eq!(h.texts(), Vec::<String>::new());
    h.route();
    match outcome.try_recv().unwrap() {
        Err(AckError::Emit(EmitError::Unacknowledged { tries })) => assert_eq!(tries, 2),
        other => panic!("{other:?}"),
    }
    // Only the heartbeat is left, and it waits for reading to resume.
    assert_eq!(h.conn.poll_timeout(), None);
    h.conn.handle_reading(true, retry_at);
    assert!(h.conn.poll_timeout().is_some());
}

#[test]
fn outgoing_listeners_hear_of_each_packet_as_it_is_written() {
    let mut h = with_retries(1);
    let (ns, _) = h.connected("/", r#"40{"sid":"s1"}"#);
    let notify = Event::new("x".into(), vec![json!(1)], Vec::new(), None, None);
    let _reply = h.send_reliable_with(ns, r#"42["x",1]"#, 2, Some(notify));
    h.conn
        .handle_timeout(h.now + Duration::from_millis(50))
        .expect("no fault");
    let heard: Vec<String> = h
        .conn
        .deliveries
        .drain(..)
        .map(|(_, dispatch)| match dispatch {
            Delivery::Outgoing(event) => format!("{} {:?}", event.name(), event.args()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(heard, ["x [Number(1)]", "x [Number(1)]"], "once per try");
}

#[test]
fn attachments_adding_up_past_the_limit_end_the_link() {
    let mut h = Harness::new();
    let (ns, _) = h.connected("/", r#"40{"sid":"s1"}"#);
    h.recv(&[r#"452-["big",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#]);
    // One buffer, shared: the test allocates it once.
    let half = Bytes::from(vec![0u8; crate::codec::limits::MAX_MESSAGE_BYTES / 2 + 1]);
    assert!(h.conn.handle_binary(half.clone(), h.now).is_ok());
    assert_eq!(
        h.conn
            .handle_binary(half, h.now)
            .map_err(|fault| fault.reason),
        Err(DisconnectReason::ParseError)
    );
    assert_eq!(h.seen(), [], "{ns:?}: nothing delivered");
}

// ---------------------------------------------------------------------------
// The unhappy path: replies that connect nothing, timeouts, poison messages
// ---------------------------------------------------------------------------

#[test]
fn connect_replies_that_connect_nothing_fail_the_attempt() {
    /// What the attempt's error must be.
    enum Want {
        UnsupportedServer,
        Protocol,
    }
    let table = [
        // A Socket.IO v2 server answers with a bare CONNECT.
        ("40", Want::UnsupportedServer),
        ("40/admin,", Want::UnsupportedServer),
        ("40[1]", Want::Protocol),
        ("40\"sid\"", Want::Protocol),
        ("40{}", Want::Protocol),
        (r#"40{"sid":1}"#, Want::Protocol),
        ("44[1,2,3]", Want::Protocol),
        ("44null", Want::Protocol),
        ("4412345", Want::Protocol),
    ];
    for (reply, want) in table {
        let mut h = Harness::new();
        let path = if reply.contains("/admin") {
            "/admin"
        } else {
            "/"
        };
        let (ns, status) = h.add(path, AuthSource::None, None);
        let mut outcome = h.connect(ns);
        h.open();
        h.texts();
        let error = h.fault(reply);
        match want {
            Want::UnsupportedServer => assert!(
                matches!(error, ConnectError::UnsupportedServer),
                "{reply}: {error:?}"
            ),
            Want::Protocol => {
                assert!(
                    matches!(error, ConnectError::Protocol(_)),
                    "{reply}: {error:?}"
                )
            }
        }
        assert!(!status.connected(), "{reply}");
        assert!(connect_pending(&mut outcome), "{reply}: the driver decides");
        assert!(
            !h.lose(DisconnectReason::ParseError),
            "{reply}: never established"
        );
        assert_eq!(
            h.state(ns),
            NsState::Connecting,
            "{reply}: retried per the policy"
        );
    }
}

#[test]
fn connect_error_payload_table() {
    let table = [
        (r#"44{"message":"no","data":{"code":1}}"#, "no"),
        (r#"44"plain""#, "plain"),
        (r#"44{"message":7}"#, "7"),
        ("44{}", ""),
    ];
    for (reply, message) in table {
        let mut h = Harness::new();
        let (ns, _) = h.add("/", AuthSource::None, None);
        let mut outcome = h.connect(ns);
        h.open();
        h.recv(&[reply]);
        let seen = h.seen();
        assert_eq!(
            seen,
            [(
                ns,
                Seen::ConnectError(format!("the server refused the connection: {message}"))
            )],
            "{reply}"
        );
        assert!(
            matches!(outcome.try_recv(), Ok(Err(ConnectError::Rejected { .. }))),
            "{reply}"
        );
        assert_eq!(h.state(ns), NsState::Inactive, "{reply}: final");
    }
}

#[test]
fn an_unanswered_connect_fails_the_attempt_at_the_timeout() {
    let mut h = Harness::new();
    let (ns, _) = h.add("/", AuthSource::None, None);
    let mut outcome = h.connect(ns);
    let t0 = h.now;
    h.open();
    h.texts();
    // A reply for another namespace is no reply.
    h.recv(&[r#"40/other,{"sid":"x"}"#]);
    let due = t0 + CONNECT_TIMEOUT;
    assert_eq!(h.conn.poll_timeout(), Some(due));
    // Paused reading stops the clock, and it resumes where it stopped.
    let pause = Duration::from_secs(7);
    h.conn.handle_reading(false, t0);
    assert_eq!(h.conn.poll_timeout(), None, "paused");
    assert!(
        h.conn.handle_timeout(due).is_ok(),
        "not judged while paused"
    );
    h.conn.handle_reading(true, t0 + pause);
    let due = due + pause;
    assert_eq!(h.conn.poll_timeout(), Some(due));
    assert!(h
        .conn
        .handle_timeout(due - Duration::from_millis(1))
        .is_ok());
    let fault = h.conn.handle_timeout(due).unwrap_err();
    assert!(matches!(fault.error, ConnectError::Timeout(t) if t == CONNECT_TIMEOUT));
    assert!(!h.lose(fault.reason));
    assert!(
        connect_pending(&mut outcome),
        "a failed attempt; the driver decides"
    );
    assert_eq!(h.conn.poll_timeout(), None, "no link, no deadline");
}

#[test]
fn on_an_established_link_an_unanswered_namespace_fails_alone() {
    let mut h = Harness::new();
    let (root, root_status) = h.connected("/", r#"40{"sid":"r"}"#);
    let (admin, _) = h.add("/admin", AuthSource::None, None);
    let mut outcome = h.connect(admin);
    h.texts();
    let due = h.now + CONNECT_TIMEOUT;
    assert!(h.conn.handle_timeout(due).is_ok());
    h.settle();
    assert!(matches!(
        outcome.try_recv(),
        Ok(Err(ConnectError::Timeout(_)))
    ));
    assert_eq!(
        h.seen(),
        [(
            admin,
            Seen::ConnectError(ConnectError::Timeout(CONNECT_TIMEOUT).to_string())
        )]
    );
    assert_eq!(h.state(admin), NsState::Inactive);
    assert!(root_status.connected());
    assert_eq!(h.state(root), NsState::Connected);
}

#[test]
fn a_reconnect_is_announced_when_a_namespace_connects_not_when_the_link_opens() {
    let (mut h, ns, _) = Harness::with_session();
    let lost = LinkFault {
        reason: DisconnectReason::TransportClose,
        error: ConnectError::HandshakeClosed,
    };
    assert!(h.conn.handle_link_ended(&lost, h.now).is_none());
    h.events();
    // Attempt 1, after the first delay, opens a link that never connects
    // the namespace.
    let second = Duration::from_secs(1);
    assert_eq!(h.conn.poll_dial(h.now), Dial::At(h.now + second));
    h.now += second;
    assert!(matches!(
        h.conn.poll_dial(h.now),
        Dial::Now { attempt: 1, .. }
    ));
    h.open();
    h.texts();
    assert_eq!(h.seen(), [(ns, Seen::ReconnectAttempt(1))]);
    assert!(h.conn.handle_link_ended(&lost, h.now).is_some());
    assert!(matches!(
        h.seen().as_slice(),
        [(_, Seen::ReconnectError(_))]
    ));
    // Attempt 2, after twice the delay, connects it.
    assert_eq!(h.conn.poll_dial(h.now), Dial::At(h.now + 2 * second));
    h.now += 2 * second;
    assert!(matches!(
        h.conn.poll_dial(h.now),
        Dial::Now { attempt: 2, .. }
    ));
    h.open();
    h.recv(&[r#"40{"sid":"s2","pid":"p2"}"#]);
    assert_eq!(
        h.seen(),
        [
            (ns, Seen::ReconnectAttempt(2)),
            (ns, Seen::Reconnect(2)),
            (ns, CONNECTED)
        ]
    );
    assert!(h.conn.handle_link_ended(&lost, h.now).is_none());
    // Connected again: the next attempt is attempt 1 again.
    h.now += second;
    assert!(matches!(
        h.conn.poll_dial(h.now),
        Dial::Now { attempt: 1, .. }
    ));
}

#[test]
fn a_connect_outcome_is_answered_behind_what_came_before() {
    let mut h = Harness::new();
    let (ns, _) = h.add("/", AuthSource::None, None);
    let mut outcome = h.connect(ns);
    h.conn
        .broadcast(SocketEvent::ConnectError(ConnectError::HandshakeClosed));
    h.conn.broadcast(SocketEvent::ReconnectFailed);
    h.conn.give_up(ConnectError::Closed);
    let order: Vec<&str> = h
        .conn
        .deliveries
        .iter()
        .map(|(_, dispatch)| match dispatch {
            Delivery::Lifecycle(event) => match **event {
                SocketEvent::ConnectError(_) => "connect_error",
                SocketEvent::ReconnectFailed => "reconnect_failed",
                _ => "other",
            },
            Delivery::Settled(_) => "settled",
            _ => "other",
        })
        .collect();
    assert_eq!(order, ["connect_error", "reconnect_failed", "settled"]);
    assert!(connect_pending(&mut outcome));
    h.events();
    assert!(matches!(outcome.try_recv(), Ok(Err(ConnectError::Closed))));
}

/// A frame the client refuses: nested deeper than serde_json's limit.
fn poison_frame() -> String {
    format!("42[\"deep\",{}{}]", "[".repeat(200), "]".repeat(200))
}

#[test]
fn a_refused_message_replayed_after_a_recovery_gives_the_session_up() {
    let (mut h, ns, status) = Harness::with_session();
    // Live, the server sends a message the client refuses.
    let fault = h.conn.handle_text(&poison_frame(), h.now).unwrap_err();
    assert!(h.conn.handle_link_lost(&fault));
    h.events();

    // The recovery replays it first, and it is refused again before any new
    // event: recovering would loop forever.
    h.open();
    assert_eq!(h.texts(), [r#"40{"offset":"o1","pid":"p1"}"#]);
    let fault = h.conn.handle_text(&poison_frame(), h.now).unwrap_err();
    h.conn.handle_link_lost(&fault);
    let seen = h.seen();
    assert!(
        matches!(&seen[..], [(n, Seen::RecoveryAbandoned(_))] if *n == ns),
        "{seen:?}"
    );
    h.open();
    assert_eq!(h.texts(), ["40"], "a fresh session");
    h.recv(&[r#"40{"sid":"s2","pid":"p2"}"#]);
    assert!(!status.recovered());
}

#[test]
fn a_recovery_that_makes_progress_is_not_given_up() {
    let (mut h, _ns, _) = Harness::with_session();
    h.lose(DisconnectReason::TransportClose);
    h.open();
    h.texts();
    // The replay delivers an event, then a refused message ends the link.
    h.recv(&[r#"42["tick",1,"o2"]"#]);
    let fault = h.conn.handle_text(&poison_frame(), h.now).unwrap_err();
    h.conn.handle_link_lost(&fault);
    assert!(
        !h.seen()
            .iter()
            .any(|(_, seen)| matches!(seen, Seen::RecoveryAbandoned(_))),
        "progress was made"
    );
    h.open();
    assert_eq!(h.texts(), [r#"40{"offset":"o2","pid":"p1"}"#]);
}

/// A session restored from a saved state that names its sid knows its id
/// when the connect is announced, even when a long replay announces it
/// before the server's reply.
#[test]
fn a_restored_session_knows_its_id_from_the_saved_state() {
    let mut h = Harness::new();
    let saved = RecoveryState {
        pid: "p1".into(),
        offset: Some("o1".into()),
        sid: Some("s1".into()),
    };
    let (ns, status) = h.add("/", AuthSource::None, Some(saved));
    h.want(ns);
    h.open();
    assert_eq!(h.texts(), [r#"40{"offset":"o1","pid":"p1"}"#]);
    for i in 0..=HELD_MAX_EVENTS {
        assert_eq!(h.text(&format!(r#"42["tick",{i},"r{i}"]"#)), Ok(()));
    }
    assert_eq!(h.seen()[0], (ns, RECOVERED));
    assert_eq!(status.id().as_deref(), Some("s1"));
}

// ---------------------------------------------------------------------------
// When to dial, through the connection's inputs
// ---------------------------------------------------------------------------

/// A connection whose first connect is wanted, with these rules.
fn dialing(rules: ReconnectOptions) -> (Harness, SocketId) {
    let mut h = Harness::new();
    h.replace(true, 0, rules);
    let (ns, _) = h.add("/", AuthSource::None, None);
    h.want(ns);
    (h, ns)
}

fn refused() -> ConnectError {
    ConnectError::HttpRefused {
        url: "http://h/socket.io/?EIO=4&transport=polling".into(),
        status: 403,
        body: String::new(),
        engine_io: None,
        other_transport: None,
    }
}

#[test]
fn nothing_is_dialed_until_a_namespace_wants_the_link() {
    let mut h = Harness::new();
    let (ns, _) = h.add("/", AuthSource::None, None);
    assert_eq!(h.conn.poll_dial(h.now), Dial::Idle);
    h.want(ns);
    assert_eq!(
        h.conn.poll_dial(h.now),
        Dial::Now {
            attempt: 0,
            timeout: CONNECT_TIMEOUT
        }
    );
    assert_eq!(h.seen(), [], "a first try is not announced");
}

#[test]
fn failed_dials_are_announced_and_retried_after_growing_delays() {
    let (mut h, ns) = dialing(rules());
    let t0 = h.now;
    let mut starts = Vec::new();
    for _ in 0..5 {
        loop {
            match h.conn.poll_dial(h.now) {
                Dial::At(at) => h.now = at,
                Dial::Now { attempt, .. } => {
                    starts.push((attempt, (h.now - t0).as_secs()));
                    break;
                }
                Dial::Idle => panic!("gave up"),
            }
        }
        h.conn
            .handle_dial_failed(ConnectError::HandshakeClosed, h.now);
    }
    assert_eq!(starts, [(0, 0), (1, 1), (2, 3), (3, 7), (4, 12)]);
    let seen = h.seen();
    assert!(matches!(seen[0], (id, Seen::ConnectError(_)) if id == ns));
    assert!(matches!(seen[1], (_, Seen::ReconnectAttempt(1))));
    assert!(matches!(seen[2], (_, Seen::ReconnectError(_))));
}

#[test]
fn what_retrying_cannot_fix_ends_a_first_connect_and_the_next_starts_over() {
    let (mut h, ns) = dialing(rules());
    assert!(matches!(
        h.conn.poll_dial(h.now),
        Dial::Now { attempt: 0, .. }
    ));
    h.conn.handle_dial_failed(refused(), h.now);
    assert_eq!(h.state(ns), NsState::Inactive);
    assert_eq!(h.conn.poll_dial(h.now), Dial::Idle, "given up");
    // A later connect() starts a fresh run at attempt 0.
    h.want(ns);
    assert!(matches!(
        h.conn.poll_dial(h.now),
        Dial::Now { attempt: 0, .. }
    ));
}

#[test]
fn a_first_connects_window_bounds_the_attempts_and_their_time() {
    let window = Duration::from_secs(30);
    let policy = ReconnectPolicy {
        delay: Duration::from_secs(1),
        delay_max: Duration::from_secs(5),
        randomization_factor: 0.0,
    };
    let (mut h, ns) = dialing(ReconnectOptions {
        first_connect_window: Some(window),
        policy,
        ..rules()
    });
    let t0 = h.now;
    // A silent server: each attempt runs out its time.
    let Dial::Now { timeout, .. } = h.conn.poll_dial(h.now) else {
        panic!("no dial");
    };
    assert_eq!(timeout, CONNECT_TIMEOUT);
    h.now += timeout;
    h.conn
        .handle_dial_failed(ConnectError::Timeout(timeout), h.now);
    let Dial::At(at) = h.conn.poll_dial(h.now) else {
        panic!("no delay");
    };
    h.now = at;
    let Dial::Now {
        attempt: 1,
        timeout,
    } = h.conn.poll_dial(h.now)
    else {
        panic!("no second dial");
    };
    assert_eq!(
        timeout,
        Duration::from_secs(9),
        "what is left of the window"
    );
    h.now += timeout;
    h.conn
        .handle_dial_failed(ConnectError::Timeout(timeout), h.now);
    assert_eq!(h.now - t0, window);
    assert_eq!(h.state(ns), NsState::Inactive);
    assert_eq!(
        h.conn.poll_dial(h.now),
        Dial::Idle,
        "given up at the window's end"
    );
    assert!(h
        .seen()
        .iter()
        .any(|(_, seen)| *seen == Seen::ReconnectFailed));
}

#[test]
fn a_lost_link_after_a_connect_is_redialed_after_the_first_delay() {
    let (mut h, ns, _) = Harness::with_session();
    let lost = LinkFault {
        reason: DisconnectReason::PingTimeout,
        error: ConnectError::Timeout(PING_INTERVAL + PING_TIMEOUT),
    };
    assert!(h.conn.handle_link_ended(&lost, h.now).is_none());
    assert_eq!(
        h.seen(),
        [(ns, Seen::Disconnect(DisconnectReason::PingTimeout))]
    );
    assert_eq!(
        h.conn.poll_dial(h.now),
        Dial::At(h.now + Duration::from_secs(1))
    );
    // A server disconnect is final: nothing is dialed again.
    let (mut h, _, _) = Harness::with_session();
    h.recv(&["41"]);
    let closed = LinkFault {
        reason: DisconnectReason::IoServerDisconnect,
        error: ConnectError::ServerDisconnect,
    };
    h.conn.handle_link_ended(&closed, h.now);
    assert_eq!(h.conn.poll_dial(h.now), Dial::Idle);
}

/// The socket events seen so far, by kind, as the reconnection rules name them.
fn lifecycle(h: &mut Harness) -> Vec<String> {
    h.seen()
        .into_iter()
        .map(|(_, seen)| match seen {
            Seen::ConnectError(_) => "connect_error".to_owned(),
            Seen::ReconnectAttempt(n) => format!("attempt {n}"),
            Seen::ReconnectError(_) => "reconnect_error".to_owned(),
            Seen::ReconnectFailed => "reconnect_failed".to_owned(),
            Seen::Disconnect(_) => "disconnect".to_owned(),
            Seen::Reconnect(n) => format!("reconnect {n}"),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Waits out any delay and starts the next attempt; its number.
fn next_attempt(h: &mut Harness) -> u32 {
    loop {
        match h.conn.poll_dial(h.now) {
            Dial::At(at) => h.now = at,
            Dial::Now { attempt, .. } => return attempt,
            Dial::Idle => panic!("gave up"),
        }
    }
}

/// The delay before the next attempt, without starting it.
fn delay(h: &mut Harness) -> Duration {
    match h.conn.poll_dial(h.now) {
        Dial::At(at) => at - h.now,
        other => panic!("no delay: {other:?}"),
    }
}

/// A session on "/" whose link was lost, with the reconnection `rules`.
fn lost_session(rules: ReconnectOptions) -> (Harness, SocketId) {
    let mut h = Harness::new();
    h.replace(true, 0, rules);
    let (ns, _) = h.add("/", AuthSource::None, None);
    h.want(ns);
    assert_eq!(next_attempt(&mut h), 0);
    h.open();
    h.recv(&[r#"40{"sid":"s1"}"#]);
    let lost = LinkFault {
        reason: DisconnectReason::TransportClose,
        error: ConnectError::HandshakeClosed,
    };
    assert!(h.conn.handle_link_ended(&lost, h.now).is_none());
    h.texts();
    h.seen();
    (h, ns)
}

/// A first connect with these rules whose first dial failed (the server
/// closed it): the harness, the socket, and its caller's outcome.
fn failed_first_dial(rules: ReconnectOptions) -> (Harness, SocketId, ConnectOutcome) {
    let (mut h, ns) = dialing(rules);
    let outcome = h.connect(ns);
    assert_eq!(next_attempt(&mut h), 0);
    h.conn
        .handle_dial_failed(ConnectError::HandshakeClosed, h.now);
    h.settle();
    (h, ns, outcome)
}

#[test]
fn after_a_reconnect_a_lost_link_starts_the_delays_over_from_attempt_1() {
    let (mut h, ns) = lost_session(rules());
    for expected in [1, 2, 4] {
        assert_eq!(delay(&mut h), Duration::from_secs(expected));
        next_attempt(&mut h);
        h.conn
            .handle_dial_failed(ConnectError::HandshakeClosed, h.now);
    }
    assert_eq!(next_attempt(&mut h), 4);
    h.open();
    h.recv(&[r#"40{"sid":"s2"}"#]);
    assert_eq!(
        lifecycle(&mut h),
        [
            "attempt 1",
            "reconnect_error",
            "attempt 2",
            "reconnect_error",
            "attempt 3",
            "reconnect_error",
            "attempt 4",
            "reconnect 4",
            "Connect { recovered: false }"
        ]
    );
    let lost = LinkFault {
        reason: DisconnectReason::PingTimeout,
        error: ConnectError::Timeout(PING_INTERVAL + PING_TIMEOUT),
    };
    assert!(h.conn.handle_link_ended(&lost, h.now).is_none());
    assert_eq!(
        lifecycle(&mut h),
        ["disconnect"],
        "a loss is not an attempt"
    );
    assert_eq!(delay(&mut h), Duration::from_secs(1));
    assert_eq!(next_attempt(&mut h), 1);
    assert_eq!(h.state(ns), NsState::Connecting);
}

#[test]
fn only_a_lost_link_the_client_did_not_choose_reconnects() {
    let table = [
        (DisconnectReason::TransportClose, true),
        (DisconnectReason::TransportError, true),
        (DisconnectReason::PingTimeout, true),
        (DisconnectReason::ParseError, true),
        (DisconnectReason::ForcedClose, true),
        (DisconnectReason::IoServerDisconnect, false),
        (DisconnectReason::IoClientDisconnect, false),
    ];
    for (reason, reconnects) in table {
        let (mut h, ns, _) = Harness::with_session();
        let fault = LinkFault {
            reason,
            error: ConnectError::HandshakeClosed,
        };
        h.conn.handle_link_ended(&fault, h.now);
        let dial = h.conn.poll_dial(h.now);
        assert_eq!(
            matches!(dial, Dial::At(_)),
            reconnects,
            "{reason}: {dial:?}"
        );
        assert_eq!(h.state(ns) == NsState::Connecting, reconnects, "{reason}");
    }
}

#[test]
fn with_reconnection_off_the_first_failure_or_loss_is_final() {
    let off = ReconnectOptions {
        enabled: false,
        ..rules()
    };
    let (mut h, _, mut outcome) = failed_first_dial(off);
    assert!(matches!(
        outcome.try_recv(),
        Ok(Err(ConnectError::HandshakeClosed))
    ));
    assert_eq!(lifecycle(&mut h), ["connect_error"]);
    assert_eq!(h.conn.poll_dial(h.now), Dial::Idle);

    let (mut h, ns) = lost_session(off);
    assert_eq!(h.conn.poll_dial(h.now), Dial::Idle, "a loss is final");
    assert_eq!(h.state(ns), NsState::Inactive);
    // A later connect() starts over.
    h.want(ns);
    assert_eq!(next_attempt(&mut h), 0);
}

#[test]
fn once_connected_a_refusal_is_retried() {
    let (mut h, ns) = lost_session(rules());
    assert_eq!(next_attempt(&mut h), 1);
    h.conn.handle_dial_failed(refused(), h.now);
    assert_eq!(delay(&mut h), Duration::from_secs(2));
    assert_eq!(h.state(ns), NsState::Connecting);
}

#[test]
fn the_attempt_limit_ends_with_reconnect_failed_and_the_last_error() {
    let three = ReconnectOptions {
        attempts: Some(3),
        ..rules()
    };
    let (mut h, ns) = lost_session(three);
    let mut outcome = h.connect(ns);
    for attempt in 1..=3 {
        assert_eq!(next_attempt(&mut h), attempt);
        let error = if attempt == 3 {
            refused()
        } else {
            ConnectError::HandshakeClosed
        };
        h.conn.handle_dial_failed(error, h.now);
    }
    h.settle();
    match outcome.try_recv() {
        Ok(Err(ConnectError::ReconnectFailed {
            attempts: 3,
            last: Some(last),
        })) => assert!(matches!(*last, ConnectError::HttpRefused { .. })),
        other => panic!("{other:?}"),
    }
    let seen = lifecycle(&mut h);
    assert_eq!(
        seen[seen.len() - 2..],
        ["reconnect_error", "reconnect_failed"]
    );
    assert_eq!(h.conn.poll_dial(h.now), Dial::Idle);
    // A later connect() starts over.
    h.want(ns);
    assert_eq!(next_attempt(&mut h), 0);
}

#[test]
fn a_limit_of_0_gives_up_with_the_first_error_or_after_a_loss() {
    let none = ReconnectOptions {
        attempts: Some(0),
        ..rules()
    };
    let (mut h, _, mut outcome) = failed_first_dial(none);
    assert!(matches!(
        outcome.try_recv(),
        Ok(Err(ConnectError::HandshakeClosed))
    ));
    assert_eq!(lifecycle(&mut h), ["connect_error", "reconnect_failed"]);

    let (mut h, ns) = dialing(none);
    assert_eq!(next_attempt(&mut h), 0);
    h.open();
    h.recv(&[r#"40{"sid":"s1"}"#]);
    h.seen();
    let mut outcome = h.connect(ns);
    assert!(matches!(outcome.try_recv(), Ok(Ok(()))));
    let lost = LinkFault {
        reason: DisconnectReason::PingTimeout,
        error: ConnectError::Timeout(PING_INTERVAL + PING_TIMEOUT),
    };
    h.conn.handle_link_ended(&lost, h.now);
    assert_eq!(lifecycle(&mut h), ["disconnect", "reconnect_failed"]);
    assert_eq!(h.conn.poll_dial(h.now), Dial::Idle);
}

#[test]
fn a_first_connect_gives_up_with_the_last_cause_when_its_window_ends() {
    let window = Duration::from_secs(30);
    let (mut h, ns) = dialing(ReconnectOptions {
        first_connect_window: Some(window),
        ..rules()
    });
    let mut outcome = h.connect(ns);
    let t0 = h.now;
    // Refused at once each time: 1, 2, 4, 5, 5, 5, 5 s apart.
    let mut starts = Vec::new();
    loop {
        match h.conn.poll_dial(h.now) {
            Dial::At(at) => h.now = at,
            Dial::Now { .. } => {
                starts.push((h.now - t0).as_secs());
                h.conn
                    .handle_dial_failed(ConnectError::HandshakeClosed, h.now);
            }
            Dial::Idle => break,
        }
    }
    assert_eq!(starts, [0, 1, 3, 7, 12, 17, 22, 27]);
    h.settle();
    assert!(matches!(
        outcome.try_recv(),
        Ok(Err(ConnectError::HandshakeClosed))
    ));
    let seen = lifecycle(&mut h);
    assert_eq!(
        seen[seen.len() - 2..],
        ["reconnect_error", "reconnect_failed"]
    );
    // A later connect() opens a new window.
    h.want(ns);
    assert_eq!(
        h.conn.poll_dial(h.now),
        Dial::Now {
            attempt: 0,
            timeout: CONNECT_TIMEOUT
        }
    );
}

#[test]
fn the_window_bounds_only_a_first_connect() {
    let window = ReconnectOptions {
        first_connect_window: Some(Duration::from_secs(30)),
        ..rules()
    };
    let (mut h, ns) = lost_session(window);
    let t0 = h.now;
    for _ in 0..100 {
        next_attempt(&mut h);
        h.conn
            .handle_dial_failed(ConnectError::HandshakeClosed, h.now);
    }
    assert!(h.now - t0 > Duration::from_secs(400));
    assert_eq!(h.state(ns), NsState::Connecting, "still reconnecting");
}

#[test]
fn a_window_shorter_than_the_first_delay_allows_one_attempt() {
    let (mut h, ns) = dialing(ReconnectOptions {
        first_connect_window: Some(Duration::from_millis(500)),
        ..rules()
    });
    assert_eq!(
        h.conn.poll_dial(h.now),
        Dial::Now {
            attempt: 0,
            timeout: Duration::from_millis(500)
        },
        "the attempt gets what the window leaves"
    );
    h.now += Duration::from_millis(100);
    h.conn
        .handle_dial_failed(ConnectError::HandshakeClosed, h.now);
    assert_eq!(lifecycle(&mut h), ["connect_error", "reconnect_failed"]);
    assert_eq!(h.state(ns), NsState::Inactive);
    assert_eq!(h.conn.poll_dial(h.now), Dial::Idle);
}

#[test]
fn a_close_between_the_connect_and_any_packet_names_the_parser() {
    let (mut h, ns) = dialing(rules());
    let mut outcome = h.connect(ns);
    assert_eq!(next_attempt(&mut h), 0);
    h.open();
    assert_eq!(h.texts(), ["40"]);
    let error = h
        .conn
        .handle_link_ended(&LinkFault::closed_by_server(), h.now);
    assert!(matches!(
        error,
        Some(ConnectError::ClosedAtConnect {
            parser: Parser::Default
        })
    ));
    h.settle();
    assert!(
        matches!(
            outcome.try_recv(),
            Ok(Err(ConnectError::ClosedAtConnect { .. }))
        ),
        "a first connect ends at once"
    );
    assert_eq!(h.conn.poll_dial(h.now), Dial::Idle);

    // Once the server sent a packet, a close is only a close, and retried.
    let (mut h, _) = dialing(rules());
    assert_eq!(next_attempt(&mut h), 0);
    h.open();
    h.recv(&[r#"42/other,["x"]"#]);
    let error = h
        .conn
        .handle_link_ended(&LinkFault::closed_by_server(), h.now);
    assert!(matches!(error, Some(ConnectError::HandshakeClosed)));
    assert_eq!(delay(&mut h), Duration::from_secs(1));

    // Nor is a close before any CONNECT went out.
    let mut h = Harness::new();
    h.add("/", AuthSource::None, None);
    h.open();
    assert!(h.texts().is_empty());
    let error = h.conn.attempt_error(&LinkFault::closed_by_server());
    assert!(matches!(error, ConnectError::HandshakeClosed));
}
