//! The one IO task of a manager. It selects over the link, the command
//! queue from the handles, the sockets' emit queues and the connection's
//! next timeout, feeds everything to the sans-IO [`Connection`], and writes
//! and delivers what it hands back. It owns the link, the one delivery a
//! full dispatcher could not take yet, the status each socket's handles
//! read and the waiters of what they asked (`waiters.rs`), all written as
//! the connection's outputs say; nothing else touches the link, so the IO
//! path needs no lock.
//!
//! It decides nothing about reconnecting: while no link is open it asks
//! the connection what to do ([`Connection::poll_dial`]), opens a link when
//! told, and reports how each attempt and each link ended; the attempt
//! number, the delays, the first-connect window, giving up and what the
//! sockets are told are the connection's.

pub(crate) mod command;
mod status;
mod waiters;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use serde_json::Value;
use tokio::time::{sleep_until, Instant};

use crate::codec::Frame;
use crate::engine::config::{self, TransportConfig};
use crate::engine::link::{BoxedLink, LinkError, LinkMessage};
use crate::engine::open;
use crate::engine::trace;
use crate::error::{ConnectError, ErrorChain};
use crate::proto::ack_sink::AckAnswer;
use crate::proto::auth::AuthFuture;
use crate::proto::connection::{Connection, ConnectionOptions, Dial, Ending, LinkFault, SocketId};
use crate::proto::emit::EmitKind;
use crate::proto::update::Update;
use crate::queue::{self, TrySendError};
use command::{
    Command, ConnectRequest, DisconnectRequest, Dispatch, Emit, FlushWaiter, SocketStatus,
};
use waiters::Waiters;

/// How many queued emits the driver takes in one go before writing; bounds
/// the latency a burst adds to incoming traffic.
const EMIT_BATCH: usize = 1024;

/// How many buffered messages the driver handles in one go before it looks
/// at its other sources again.
const READ_BURST: usize = 64;

/// Everything the driver needs to know about its connection.
#[derive(Clone)]
pub(crate) struct DriverConfig {
    pub(crate) transport: TransportConfig,
    pub(crate) connection: ConnectionOptions,
}

/// What the driver holds of a socket for its handles: their queues, the
/// status they read, and who waits on what they asked. The socket itself is
/// the connection's, which names it by its id.
struct Slot {
    id: SocketId,
    emits: Option<queue::Receiver<Emit>>,
    deliveries: queue::Sender<Dispatch>,
    status: Arc<SocketStatus>,
    /// Boxed, and only once something waits: most sockets never ask for an ack.
    waiters: Option<Box<Waiters>>,
}

impl Slot {
    fn waiters(&mut self) -> &mut Waiters {
        self.waiters.get_or_insert_default()
    }

    /// Frees the waiters once nobody waits. Called once a `connect()` is
    /// answered, so that a socket that never asks for an ack keeps no room;
    /// one that does keeps it, rather than make it again for each ack.
    fn drop_idle_waiters(&mut self) {
        if self
            .waiters
            .as_ref()
            .is_some_and(|waiters| waiters.is_empty())
        {
            self.waiters = None;
        }
    }
}

/// How an attempt to open a link ended.
enum Opened {
    Link(BoxedLink),
    /// Boxed: rare, and large.
    Failed(Box<ConnectError>),
    /// Whether a namespace wants the link changed.
    WantChanged,
    /// Every handle is gone.
    Shutdown,
}

/// How a link ended.
enum LinkEnd {
    /// Lost: the reason the sockets see, and the attempt's error.
    Lost(LinkFault),
    /// Closed because no namespace wants it any more.
    Unwanted(LinkFault),
    /// Every handle is gone.
    Shutdown,
}

/// What woke the driver while a link is open.
enum WokenOnLink {
    Command(Option<Command>),
    Incoming(Option<Result<LinkMessage, LinkError>>),
    Emit(SocketId, Option<Emit>),
    /// The dispatcher of the pending delivery has room again.
    Room,
    Deadline,
    /// An async auth callback gave its outcome. Boxed: rare, and large.
    Auth(Box<(SocketId, u64, Result<Value, ConnectError>)>),
}

/// What woke the driver while no link is open.
enum WokenOffLink<T> {
    Done(T),
    /// Whether a namespace wants the link changed.
    WantChanged,
    Shutdown,
}

/// The task that owns one manager's connection.
pub(crate) struct Driver {
    /// How links are opened; the rest of the configuration went into the
    /// connection.
    transport: TransportConfig,
    conn: Connection,
    commands: queue::Receiver<Command>,
    slots: Vec<Slot>,
    /// The delivery a full dispatcher could not take yet, and its namespace:
    /// reading waits until it is handed on. The one place backpressure lives.
    pending: Option<(SocketId, Dispatch)>,
    /// Frames were fed to the WebSocket but not flushed yet.
    unflushed: bool,
    /// Who waits for what was queued to leave on the link (`disconnect()`);
    /// dropped once it has, or once the link is gone. Boxed, as `auth` is.
    #[allow(clippy::box_collection)]
    flush_waiters: Option<Box<Vec<FlushWaiter>>>,
    /// The async auth callbacks that CONNECTs on the open link wait for.
    /// Boxed: most connections never have one, and every idle connection
    /// carries this field: one pointer instead of a `Vec`'s three.
    #[allow(clippy::box_collection)]
    auth: Option<Box<Vec<RunningAuth>>>,
}

/// An async auth callback running for a namespace's CONNECT.
struct RunningAuth {
    socket: SocketId,
    request: u64,
    future: AuthFuture,
}

impl Driver {
    /// A driver fed by `commands`; `sink` is a weak sender on the same channel for ack answers.
    pub(crate) fn new(
        config: DriverConfig,
        commands: queue::Receiver<Command>,
        sink: queue::WeakSender<Command>,
    ) -> Self {
        Driver {
            conn: Connection::new(
                config.connection,
                config.transport.timeout,
                Arc::new(sink),
                Instant::now(),
            ),
            transport: config.transport,
            commands,
            slots: Vec::new(),
            pending: None,
            unflushed: false,
            flush_waiters: None,
            auth: None,
        }
    }

    /// Runs until every handle is gone.
    #[allow(clippy::manual_async_fn)]
    pub(crate) fn run(mut self) -> impl Future<Output = ()> {
        // Not an `async fn`: its body would hold the driver twice, as the
        // argument and as a local, and every idle connection keeps this
        // future. An async block captures it once.
        async move { self.serve().await }
    }

    // Each await below keeps only small values alive across it: what the
    // future holds at its largest await is what every idle connection costs.
    async fn serve(&mut self) {
        loop {
            let dial = self.conn.poll_dial(Instant::now());
            let woken = match dial {
                Dial::Idle => self.wait(std::future::pending::<()>()).await,
                // Boxed: an idle connection is never here, so it need not carry the timer.
                Dial::At(at) => self.wait(Box::pin(sleep_until(at))).await,
                Dial::Now { attempt, timeout } => match self.open_link(timeout).await {
                    Opened::Link(link) => {
                        let end = self.run_link(link).await;
                        // What waited for a flush has had it, or never will.
                        self.flush_waiters = None;
                        self.transport.status.closed();
                        match end {
                            LinkEnd::Shutdown => return,
                            LinkEnd::Unwanted(fault) => {
                                self.conn.handle_link_ended(&fault, Instant::now());
                            }
                            LinkEnd::Lost(fault) => {
                                if let Some(error) =
                                    self.conn.handle_link_ended(&fault, Instant::now())
                                {
                                    self.log_failed_attempt(attempt, "namespace CONNECT", &error);
                                }
                            }
                        }
                        continue;
                    }
                    Opened::Failed(error) => {
                        self.log_failed_attempt(attempt, "handshake", &error);
                        self.conn.handle_dial_failed(*error, Instant::now());
                        continue;
                    }
                    Opened::WantChanged => continue,
                    Opened::Shutdown => return,
                },
            };
            if let WokenOffLink::Shutdown = woken {
                return;
            }
        }
    }

    /// Opens a link within `timeout` and hands its open packet to the connection.
    async fn open_link(&mut self, timeout: Duration) -> Opened {
        let mut config = self.transport.clone();
        config.timeout = timeout;
        // Boxed: the connect future is large and only lives while connecting;
        // unboxed it would make every idle driver task that much bigger.
        let open = Box::pin(async move { open::open(&config).await });
        match self.wait(open).await {
            WokenOffLink::Shutdown => Opened::Shutdown,
            WokenOffLink::WantChanged => Opened::WantChanged,
            WokenOffLink::Done(Ok((ws, info))) => {
                tracing::debug!(sid = %info.sid, "engine open");
                self.conn.handle_open(info, Instant::now());
                Opened::Link(ws)
            }
            WokenOffLink::Done(Err(error)) => Opened::Failed(Box::new(error)),
        }
    }

    /// Logs a failed connection attempt, with the URL it tried and the step
    /// that failed: the handshake (HTTP, WebSocket, the open packet) or the
    /// namespace CONNECT after it.
    fn log_failed_attempt(&self, attempt: u32, step: &str, error: &ConnectError) {
        tracing::warn!(
            url = %config::redacted(&self.transport.url),
            attempt,
            step,
            error = %ErrorChain(error),
            "connection attempt failed"
        );
    }

    /// Drives `fut` while serving commands and deliveries, with no link open.
    /// Gives up on `fut` as soon as whether a namespace wants the link changes:
    /// a reconnection nobody wants stops, and an idle driver wakes for a connect.
    async fn wait<F: Future>(&mut self, fut: F) -> WokenOffLink<F::Output> {
        let mut fut = pin!(fut);
        let wanted_at_start = self.conn.wants_link();
        loop {
            self.deliver();
            if self.conn.wants_link() != wanted_at_start {
                return WokenOffLink::WantChanged;
            }
            self.conn.release_idle_room();
            tokio::select! {
                output = &mut fut => return WokenOffLink::Done(output),
                command = self.commands.recv() => match command {
                    Some(command) => {
                        self.on_command(command, false);
                    }
                    None => return WokenOffLink::Shutdown,
                },
                () = room_for_pending(&self.pending, &self.slots) => self.on_room(),
            }
        }
    }

    /// Runs an open link until it ends.
    async fn run_link(&mut self, mut link: BoxedLink) -> LinkEnd {
        // What ran for an earlier link is of no use on this one.
        self.auth = None;
        // One timer for the link, moved rather than rebuilt: registering a new
        // timer per message would cost a wake-up of the IO driver each time.
        let mut timer = pin!(sleep_until(far_future()));
        loop {
            self.cancel_abandoned();
            if let Err(error) = self.write(&mut link).await {
                tracing::debug!(?error, "write failed");
                return LinkEnd::Lost(link_fault(error));
            }
            if !self.unflushed {
                self.flush_waiters = None;
            }
            self.deliver();
            while let Some(request) = self.conn.poll_auth() {
                self.auth.get_or_insert_default().push(RunningAuth {
                    socket: request.socket,
                    request: request.request,
                    future: (request.callback)(),
                });
            }
            if !self.conn.wants_link() {
                let _ = std::future::poll_fn(|cx| link.poll_close(cx)).await;
                return LinkEnd::Unwanted(LinkFault::unwanted());
            }
            let reading = self.pending.is_none();
            // A later deadline needs no reset: the timer fires, finds nothing
            // due, and moves on.
            let deadline = self.conn.poll_timeout().unwrap_or_else(far_future);
            if deadline < timer.deadline() {
                timer.as_mut().reset(deadline);
            }
            let room = room_for_pending(&self.pending, &self.slots);
            self.conn.release_idle_room();
            let wake = tokio::select! {
                command = self.commands.recv() => WokenOnLink::Command(command),
                message = std::future::poll_fn(|cx| link.poll_receive(cx)), if reading => {
                    WokenOnLink::Incoming(message)
                }
                (id, emit) = next_emit(&self.slots, &self.conn) => WokenOnLink::Emit(id, emit),
                () = room => WokenOnLink::Room,
                () = &mut timer => WokenOnLink::Deadline,
                auth = next_auth(&mut self.auth), if self.auth.is_some() => WokenOnLink::Auth(auth),
            };
            match wake {
                WokenOnLink::Command(None) => {
                    Box::pin(self.shut_down(&mut link)).await;
                    return LinkEnd::Shutdown;
                }
                WokenOnLink::Command(Some(command)) => {
                    if let Some(end) = self.on_command(command, true) {
                        return end;
                    }
                }
                WokenOnLink::Incoming(None) => return LinkEnd::Lost(LinkFault::closed_by_server()),
                WokenOnLink::Incoming(Some(Err(error))) => {
                    tracing::debug!(?error, "read failed");
                    return LinkEnd::Lost(link_fault(error));
                }
                WokenOnLink::Incoming(Some(Ok(message))) => {
                    if let Err(fault) = self.read_burst(&mut link, message) {
                        return LinkEnd::Lost(fault);
                    }
                }
                WokenOnLink::Emit(id, None) => {
                    if let Some(slot) = self.slot_mut(id) {
                        slot.emits = None;
                    }
                }
                WokenOnLink::Emit(id, Some(emit)) => {
                    let now = Instant::now();
                    self.send(id, emit, now);
                    // Take whatever else is queued, so one flush carries the burst.
                    for _ in 1..EMIT_BATCH {
                        if !self.conn.accepts_emits(id) {
                            break;
                        }
                        let next = slot_of(&self.slots, id)
                            .and_then(|slot| slot.emits.as_ref())
                            .map(queue::Receiver::try_recv);
                        match next {
                            Some(Ok(emit)) => self.send(id, emit, now),
                            _ => break,
                        }
                    }
                }
                WokenOnLink::Room => self.on_room(),
                WokenOnLink::Auth(done) => {
                    let (socket, request, outcome) = *done;
                    if let Err(fault) = self.conn.handle_auth(socket, request, outcome) {
                        return LinkEnd::Lost(fault);
                    }
                }
                WokenOnLink::Deadline => {
                    if let Err(fault) = self.conn.handle_timeout(Instant::now()) {
                        return LinkEnd::Lost(fault);
                    }
                    let next = self.conn.poll_timeout().unwrap_or_else(far_future);
                    timer.as_mut().reset(next);
                }
            }
        }
    }

    /// Handles `first` and then whatever else the link has buffered, up to a
    /// bound, before going back to select over every source.
    fn read_burst(&mut self, link: &mut BoxedLink, first: LinkMessage) -> Result<(), LinkFault> {
        let now = Instant::now();
        // Polled only for what is already buffered: a waker is never kept.
        let mut buffered = Context::from_waker(Waker::noop());
        let mut message = first;
        for handled in 1.. {
            match message {
                LinkMessage::Text(text) => {
                    trace::incoming_text(text.as_str());
                    self.conn.handle_text(text.as_str(), now)?;
                }
                LinkMessage::Binary(data) => {
                    trace::incoming_binary(self.conn.parser(), &data);
                    self.conn.handle_binary(data, now)?;
                }
            }
            self.deliver();
            // Stop before taking the next message: one taken is one to handle.
            if handled == READ_BURST || self.pending.is_some() {
                break;
            }
            message = match link.poll_receive(&mut buffered) {
                Poll::Ready(Some(Ok(next))) => next,
                Poll::Ready(None) => return Err(LinkFault::closed_by_server()),
                Poll::Ready(Some(Err(error))) => {
                    tracing::debug!(?error, "read failed");
                    return Err(link_fault(error));
                }
                Poll::Pending => break,
            };
        }
        Ok(())
    }

    /// Writes what the connection queued. Flushes when no more emits wait,
    /// even after letting their producers run once, so that a burst of emits
    /// leaves in a few large writes rather than one per emit.
    async fn write(&mut self, link: &mut BoxedLink) -> Result<(), LinkError> {
        std::future::poll_fn(|cx| self.poll_feed(cx, link)).await?;
        if !self.unflushed || self.emits_waiting() {
            return Ok(());
        }
        behind_ready_tasks().await;
        if self.emits_waiting() {
            return Ok(());
        }
        self.unflushed = false;
        std::future::poll_fn(|cx| link.poll_flush(cx)).await
    }

    /// Feeds the WebSocket every frame the connection queued. A frame stays
    /// with the connection until the WebSocket can take it, so nothing is
    /// held here while waiting.
    fn poll_feed(
        &mut self,
        cx: &mut Context<'_>,
        link: &mut BoxedLink,
    ) -> Poll<Result<(), LinkError>> {
        loop {
            ready!(link.poll_ready(cx))?;
            let Some(frame) = self.conn.poll_transmit() else {
                return Poll::Ready(Ok(()));
            };
            match &frame {
                Frame::Text(text) => trace::outgoing_text(text),
                Frame::Binary(data) => trace::outgoing_binary(self.conn.parser(), data),
            }
            link.start_send(frame)?;
            self.unflushed = true;
        }
    }

    /// Whether a connected namespace has emits queued for the driver.
    fn emits_waiting(&self) -> bool {
        self.slots.iter().any(|slot| {
            self.conn.accepts_emits(slot.id) && slot.emits.as_ref().is_some_and(|rx| !rx.is_empty())
        })
    }

    /// Every handle is gone: close without leaving the namespaces, so the server
    /// keeps their sessions for recovery.
    async fn shut_down(&mut self, link: &mut BoxedLink) {
        let _ = self.write(link).await;
        let _ = std::future::poll_fn(|cx| link.poll_close(cx)).await;
    }

    /// Applies one command. Returns how the link ends, if it does.
    /// `linked`: whether a link is open.
    fn on_command(&mut self, command: Command, linked: bool) -> Option<LinkEnd> {
        match command {
            Command::Attach(attach) => {
                let attach = *attach;
                let id =
                    self.conn
                        .add_namespace(attach.id, &attach.path, attach.auth, attach.recovery);
                // One at a time, as the connection's table grows: most
                // connections carry one socket.
                self.slots.reserve_exact(1);
                self.slots.push(Slot {
                    id,
                    emits: Some(attach.emits),
                    deliveries: attach.deliveries,
                    status: attach.status,
                    waiters: None,
                });
            }
            Command::Connect(request) => {
                let ConnectRequest { socket, waiter } = *request;
                let known = self.conn.connect(socket, waiter.is_some(), Instant::now());
                match (waiter, known) {
                    (Some(waiter), Some(outcome)) => {
                        let _ = waiter.send(outcome);
                    }
                    (Some(waiter), None) => {
                        if let Some(slot) = self.slot_mut(socket) {
                            slot.waiters().push_connect(waiter);
                        }
                    }
                    (None, _) => {}
                }
            }
            Command::Disconnect(request) => {
                let DisconnectRequest { socket, flushed } = *request;
                self.conn.end(socket, Ending::Disconnected);
                self.wait_for_flush(flushed, linked);
            }
            Command::DisconnectAll(flushed) => {
                self.conn.end_all();
                self.wait_for_flush(flushed, linked);
            }
            Command::Dropped(dropped) => {
                let ending = if dropped.leave {
                    Ending::Disconnected
                } else {
                    Ending::Dropped
                };
                self.conn.end(dropped.socket, ending);
                self.slots.retain(|slot| slot.id != dropped.socket);
                self.drop_pending(dropped.socket);
            }
            Command::Ack(answer) => {
                let AckAnswer { link, frames } = *answer;
                self.conn.send_ack_answer(link, frames);
            }
            Command::CloseEngine => {
                if linked {
                    // No close frame: the caller drops the WebSocket as a network failure would.
                    return Some(LinkEnd::Lost(LinkFault::forced_close()));
                }
            }
        }
        None
    }

    /// `flushed` hears once what is queued now has left on the link; at once
    /// when there is no link (`linked` false).
    fn wait_for_flush(&mut self, flushed: FlushWaiter, linked: bool) {
        if linked {
            self.flush_waiters.get_or_insert_default().push(flushed);
        }
    }

    /// The slot of socket `id`, while it has one.
    fn slot_mut(&mut self, id: SocketId) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|slot| slot.id == id)
    }

    /// Hands an emit taken from socket `id`'s queue to the connection, and
    /// files who waits for its ack.
    fn send(&mut self, id: SocketId, emit: Emit, now: Instant) {
        let (event, kind, waiter) = match emit {
            Emit::Plain(event) => (event, EmitKind::Plain, None),
            Emit::WithAck(acked) => {
                if acked.waiter.is_closed() {
                    // The caller stopped waiting (its timeout ran out while the emit was
                    // queued offline): sending it now would surprise the server and nobody.
                    return;
                }
                (acked.event, EmitKind::WithAck, Some(acked.waiter))
            }
            Emit::AtLeastOnce(acked, timeout) => (
                acked.event,
                EmitKind::AtLeastOnce(timeout),
                Some(acked.waiter),
            ),
        };
        let key = self.conn.send(id, event, kind, now);
        let (Some(key), Some(waiter), Some(slot)) = (key, waiter, self.slot_mut(id)) else {
            return;
        };
        match kind {
            EmitKind::AtLeastOnce(_) => slot.waiters().push_reliable(key, waiter),
            _ => slot.waiters().push_ack(key, waiter),
        }
    }

    /// Tells the connection of the at-least-once emits whose caller gave up
    /// before they are sent (again).
    fn cancel_abandoned(&mut self) {
        for slot in &mut self.slots {
            let Some(waiters) = &mut slot.waiters else {
                continue;
            };
            while let Some(key) = waiters.take_abandoned() {
                self.conn.cancel_reliable(slot.id, key);
            }
        }
    }

    /// Applies what the handles must learn at once: status changes, and the
    /// answers to their emits.
    fn update(&mut self) {
        while let Some((id, update)) = self.conn.poll_update() {
            // A socket that is gone has no slot, and nobody to tell.
            let Some(slot) = self.slot_mut(id) else {
                continue;
            };
            match update {
                Update::Status(change) => slot.status.apply(change),
                answer => slot.waiters().answer(answer),
            }
        }
    }

    /// Applies the updates, then hands queued socket events to their
    /// dispatchers until one is full.
    fn deliver(&mut self) {
        self.update();
        if self.pending.is_some() {
            return;
        }
        while let Some((id, delivery)) = self.conn.poll_delivery() {
            // A socket that is gone has no slot: what was queued for it goes.
            let Some(slot) = self.slot_mut(id) else {
                continue;
            };
            let delivery = delivery.with_waiters(|waiting| {
                let answered = match &mut slot.waiters {
                    Some(waiters) => waiters.take_connects(waiting.0),
                    None => Vec::new(),
                };
                slot.drop_idle_waiters();
                answered
            });
            match slot.deliveries.try_send(delivery) {
                Ok(()) => {}
                Err(TrySendError::Full(delivery)) => {
                    self.pending = Some((id, delivery));
                    self.conn.handle_reading(false, Instant::now());
                    return;
                }
                Err(TrySendError::Closed(_)) => {}
            }
        }
    }

    /// Drops the pending delivery of socket `id`, which is gone.
    fn drop_pending(&mut self, id: SocketId) {
        if self
            .pending
            .as_ref()
            .is_some_and(|(pending, _)| *pending == id)
        {
            self.pending = None;
            self.conn.handle_reading(true, Instant::now());
        }
    }

    /// The dispatcher of the pending delivery has room again, or is gone.
    fn on_room(&mut self) {
        if let Some((id, delivery)) = self.pending.take() {
            if let Some(sender) = deliveries_of(&self.slots, id) {
                // The driver is the only sender, so the room is still there.
                let _ = sender.try_send(delivery);
            }
        }
        self.conn.handle_reading(true, Instant::now());
        self.deliver();
    }
}

/// Resolves when the dispatcher of the pending delivery has room (or is
/// gone); never without one.
fn room_for_pending<'a>(
    pending: &'a Option<(SocketId, Dispatch)>,
    slots: &'a [Slot],
) -> impl Future<Output = ()> + 'a {
    let sender = pending
        .as_ref()
        .and_then(|(id, _)| deliveries_of(slots, *id));
    std::future::poll_fn(move |cx| match sender {
        Some(sender) => sender.poll_ready(cx).map(|_| ()),
        None if pending.is_some() => Poll::Ready(()),
        None => Poll::Pending,
    })
}

/// The slot of socket `id`, while it has one.
fn slot_of(slots: &[Slot], id: SocketId) -> Option<&Slot> {
    slots.iter().find(|slot| slot.id == id)
}

/// The delivery queue of socket `id`, while it has a slot.
fn deliveries_of(slots: &[Slot], id: SocketId) -> Option<&queue::Sender<Dispatch>> {
    slot_of(slots, id).map(|slot| &slot.deliveries)
}

/// What the connection is told of a link that failed.
fn link_fault(error: LinkError) -> LinkFault {
    match error {
        LinkError::Refused(error) => LinkFault::protocol(error),
        LinkError::Failed(error) => LinkFault::transport(error),
    }
}

/// The next queued emit of any connected namespace.
async fn next_emit(slots: &[Slot], conn: &Connection) -> (SocketId, Option<Emit>) {
    std::future::poll_fn(|cx| {
        for slot in slots {
            if !conn.accepts_emits(slot.id) {
                continue;
            }
            if let Some(emits) = &slot.emits {
                if let Poll::Ready(emit) = emits.poll_recv(cx) {
                    return Poll::Ready((slot.id, emit));
                }
            }
        }
        Poll::Pending
    })
    .await
}

/// The next outcome of a running auth callback, which leaves the list; the
/// list goes once empty.
#[allow(clippy::box_collection)]
fn next_auth(
    running: &mut Option<Box<Vec<RunningAuth>>>,
) -> impl Future<Output = Box<(SocketId, u64, Result<Value, ConnectError>)>> + '_ {
    std::future::poll_fn(move |cx| {
        let Some(list) = running.as_mut() else {
            return Poll::Pending;
        };
        for index in 0..list.len() {
            if let Poll::Ready(outcome) = list[index].future.as_mut().poll(cx) {
                let done = list.swap_remove(index);
                if list.is_empty() {
                    *running = None;
                }
                return Poll::Ready(Box::new((done.socket, done.request, outcome)));
            }
        }
        Poll::Pending
    })
}

/// Lets the tasks that are ready to run go first, once: wakes itself and
/// waits its turn. Unlike `tokio::task::yield_now`, which waits for the
/// runtime to poll its IO driver as well, it costs no system call: an ack
/// round trip would otherwise pay one for nothing.
fn behind_ready_tasks() -> impl Future<Output = ()> {
    let mut woken = false;
    std::future::poll_fn(move |cx| {
        if woken {
            return Poll::Ready(());
        }
        woken = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
}

/// A deadline that never comes, for a timer with nothing to time.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(365 * 24 * 3600)
}
#[cfg(test)]
mod tests;
