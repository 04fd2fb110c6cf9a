//! The public socket of one namespace: emit, acks, handlers, events, state.

use std::future::Future;
use std::pin::Pin;
use std::sync::RwLockWriteGuard;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::client::manager::until_flushed;
use crate::client::registry::ListenerId;
use crate::client::shared::{Manager, Socket, SocketHandlers};
use crate::codec::arg_deserializer::ValueArgsDeserializer;
use crate::driver::command::{AckedEmit, Emit};
use crate::driver::command::{Command, ConnectRequest, DisconnectRequest};
use crate::error::{AckError, ConnectError, EmitError};
use crate::proto::emit::{AckPayload, EncodedEvent};
use crate::proto::event::{Event, SocketEvent};
use crate::proto::recovery::RecoveryState;
use crate::queue::{self, TrySendError};

/// How many events each `events()` stream buffers before the socket waits for it.
const STREAM_BUFFER: usize = 64;

impl Socket {
    /// The namespace this socket is attached to, such as `/` or `/admin`.
    pub fn namespace(&self) -> &str {
        &self.inner.path
    }

    /// The session id the server gave this socket, while connected.
    ///
    /// A session restored with
    /// [`ClientBuilder::recovery_state`](crate::ClientBuilder::recovery_state)
    /// has its id once connected, from the saved state or the server's reply;
    /// only a state saved without a `sid`, restored with a replay longer than
    /// the hold (see the crate docs), is `None` until the reply.
    pub fn id(&self) -> Option<String> {
        self.inner.status.id().map(|id| id.to_string())
    }

    /// Whether the namespace is connected.
    pub fn connected(&self) -> bool {
        self.inner.status.connected()
    }

    /// Whether the last connect restored the previous session (connection state
    /// recovery): the server replayed what was missed and `id()` stayed the same.
    ///
    /// False on the first connect and whenever the server started a fresh session.
    /// Recovery needs an offset, so a socket that has not yet received one event
    /// with an offset cannot recover: that is the protocol, not a failure.
    pub fn recovered(&self) -> bool {
        self.inner.status.recovered()
    }

    /// The manager of the connection this socket rides on.
    pub fn io(&self) -> Manager {
        self.inner.manager.clone()
    }

    /// Emits an event. `args` is a tuple for several arguments, `()` for none, and
    /// any other value for one argument (a `Vec` is one array argument).
    ///
    /// While disconnected, the event waits in the offline buffer and is sent after
    /// the next connect; when that buffer is full the event is handed back in
    /// [`EmitError::BufferFull`].
    ///
    /// ```no_run
    /// # async fn run(socket: sioclient::Socket) -> Result<(), sioclient::EmitError> {
    /// use serde::Serialize;
    ///
    /// #[derive(Serialize)]
    /// struct Move { x: i32, y: i32 }
    ///
    /// socket.emit("ping", ()).await?; // no argument
    /// socket.emit("chat", "hello").await?; // one argument
    /// socket.emit("move", Move { x: 1, y: 2 }).await?; // one object
    /// socket.emit("scores", ("alice", 3, vec![1, 2])).await?; // three arguments
    /// // `Bytes` goes as a binary attachment.
    /// socket.emit("file", sioclient::bytes::Bytes::from_static(b"\x00\x01")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn emit<A: Serialize>(&self, name: &str, args: A) -> Result<(), EmitError> {
        Emitter::new(self).emit(name, args).await
    }

    /// Emits an event and waits for the server's acknowledgement, decoded into `R`
    /// (a tuple type for several arguments). Fails after the socket's ack timeout.
    ///
    /// ```no_run
    /// # async fn run(socket: sioclient::Socket) -> Result<(), sioclient::AckError> {
    /// use std::time::Duration;
    /// use serde::Deserialize;
    ///
    /// // The server answers `callback({ id: 7, total: 3 })`.
    /// #[derive(Deserialize)]
    /// struct Receipt { id: u64, total: u32 }
    ///
    /// let receipt: Receipt = socket.emit_with_ack("order", ("apples", 3)).await?;
    /// // The server answers `callback("ok", 2)`: a tuple for several arguments.
    /// let (status, n): (String, u32) = socket
    ///     .timeout(Duration::from_secs(2))
    ///     .emit_with_ack("count", ())
    ///     .await?;
    /// # let _ = (receipt.id, receipt.total, status, n); Ok(()) }
    /// ```
    pub async fn emit_with_ack<R: DeserializeOwned, A: Serialize>(
        &self,
        name: &str,
        args: A,
    ) -> Result<R, AckError> {
        Emitter::new(self).emit_with_ack(name, args).await
    }

    /// Emits with a different ack timeout: `socket.timeout(d).emit_with_ack(..)`.
    pub fn timeout(&self, timeout: Duration) -> Emitter<'_> {
        Emitter {
            timeout: Some(timeout),
            ..Emitter::new(self)
        }
    }

    /// Emits that are dropped instead of buffered while disconnected.
    pub fn volatile(&self) -> Emitter<'_> {
        Emitter {
            volatile: true,
            ..Emitter::new(self)
        }
    }

    /// Adds a listener of the server event `name`, after the ones it has
    /// (listeners add up, as in the JS client). Returns the id that removes
    /// it with [`remove_listener`](Self::remove_listener).
    ///
    /// The listeners of one socket run one at a time, in arrival order, and
    /// those of one event in the order they were added, after the catch-all
    /// ones ([`on_any`](Self::on_any)). A listener that wants concurrency
    /// spawns a task. A panic in a listener is logged and contained.
    ///
    /// ```no_run
    /// # async fn run(socket: sioclient::Socket) {
    /// socket.on("chat", |event, socket| async move {
    ///     let Ok((user, text)) = event.decode::<(String, String)>() else {
    ///         return;
    ///     };
    ///     println!("{user}: {text}");
    ///     // Listeners may emit and await acks: they run on a task of their own.
    ///     let _ = socket.emit("seen", user).await;
    /// });
    /// # }
    /// ```
    pub fn on<F, Fut>(&self, name: &str, handler: F) -> ListenerId
    where
        F: Fn(Event, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers_mut().on(name, handler)
    }

    /// Adds a listener of the next server event `name` only: it is removed
    /// before it runs. It may consume what it captured (an `FnOnce`).
    pub fn once<F, Fut>(&self, name: &str, handler: F) -> ListenerId
    where
        F: FnOnce(Event, Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers_mut().once(name, handler)
    }

    /// Removes every listener of the server event `name`.
    pub fn off(&self, name: &str) {
        self.handlers_mut().off(name);
    }

    /// Removes one listener, whatever it listens to: an id from
    /// [`on`](Self::on), [`once`](Self::once), [`on_any`](Self::on_any),
    /// [`prepend_any`](Self::prepend_any),
    /// [`on_any_outgoing`](Self::on_any_outgoing) or
    /// [`on_lifecycle`](Self::on_lifecycle). Returns false when there is no
    /// such listener (removed already, or a `once` listener that ran).
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        let mut handlers = self.handlers_mut();
        let removed = handlers.remove(id);
        self.inner
            .listeners
            .set_has_outgoing(handlers.has_outgoing());
        removed
    }

    /// The listeners of the server event `name`, in the order they run;
    /// `.len()` counts them.
    pub fn listeners(&self, name: &str) -> Vec<ListenerId> {
        self.inner.listeners.read_handlers().listeners(name)
    }

    /// Adds a listener that sees every server event, in arrival order, before
    /// the listeners of its name, and after the catch-all listeners added
    /// before it. Returns the id that removes it.
    ///
    /// ```no_run
    /// # async fn run(socket: sioclient::Socket) {
    /// socket.on_any(|event, _socket| async move {
    ///     println!("{} with {} arguments", event.name(), event.args().len());
    /// });
    /// # }
    /// ```
    pub fn on_any<F, Fut>(&self, handler: F) -> ListenerId
    where
        F: Fn(Event, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers_mut().on_any(handler)
    }

    /// Adds a catch-all listener that runs before every other one.
    pub fn prepend_any<F, Fut>(&self, handler: F) -> ListenerId
    where
        F: Fn(Event, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers_mut().prepend_any(handler)
    }

    /// Removes every catch-all listener of server events.
    pub fn off_any(&self) {
        self.handlers_mut().off_any();
    }

    /// The catch-all listeners of server events, in the order they run.
    pub fn listeners_any(&self) -> Vec<ListenerId> {
        self.inner.listeners.read_handlers().listeners_any()
    }

    /// Adds a listener that sees every event this socket emits, as it is
    /// written to the connection (again for each try with `retries`; not while
    /// it waits in the offline buffer). Returns the id that removes it.
    pub fn on_any_outgoing<F, Fut>(&self, handler: F) -> ListenerId
    where
        F: Fn(Event, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let id = self.handlers_mut().on_any_outgoing(handler);
        self.inner.listeners.set_has_outgoing(true);
        id
    }

    /// Adds a listener of emitted events that runs before the others, as
    /// [`on_any_outgoing`](Self::on_any_outgoing) otherwise.
    pub fn prepend_any_outgoing<F, Fut>(&self, handler: F) -> ListenerId
    where
        F: Fn(Event, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let id = self.handlers_mut().prepend_any_outgoing(handler);
        self.inner.listeners.set_has_outgoing(true);
        id
    }

    /// The listeners of emitted events, in the order they run.
    pub fn listeners_any_outgoing(&self) -> Vec<ListenerId> {
        self.inner
            .listeners
            .read_handlers()
            .listeners_any_outgoing()
    }

    /// Removes every listener of emitted events.
    pub fn off_any_outgoing(&self) {
        self.handlers_mut().off_any_outgoing();
        self.inner.listeners.set_has_outgoing(false);
    }

    /// Adds a listener of the socket's state changes: every [`SocketEvent`]
    /// other than [`SocketEvent::Event`]. Returns the id that removes it.
    pub fn on_lifecycle<F, Fut>(&self, handler: F) -> ListenerId
    where
        F: Fn(SocketEvent, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers_mut().on_lifecycle(handler)
    }

    fn handlers_mut(&self) -> RwLockWriteGuard<'_, SocketHandlers> {
        self.inner.listeners.write_handlers()
    }

    /// A stream of everything that happens on this socket from now on, in order.
    ///
    /// "From now on" means: every socket event that the socket's handlers have
    /// not started on yet when this is called. Events arrive and are handed to
    /// the handlers on a task of their own, so what the server sends while
    /// `connect().await` returns (the events a server emits on connection)
    /// may already be past. To miss nothing from the first connect on, take
    /// the stream from
    /// [`ClientBuilder::connect_with_events`](crate::ClientBuilder::connect_with_events).
    ///
    /// The stream applies backpressure: while it is not polled, the socket stops
    /// reading from the server once the buffers between them fill. Drop it when done.
    pub fn events(&self) -> EventStream {
        let (sender, receiver) = queue::bounded(STREAM_BUFFER);
        self.inner.listeners.subscribe(sender);
        EventStream { receiver }
    }

    /// A stream that starts with the next connect event of this socket.
    pub(crate) fn events_from_connect(&self) -> EventStream {
        let (sender, receiver) = queue::bounded(STREAM_BUFFER);
        self.inner.listeners.subscribe_from_connect(sender);
        EventStream { receiver }
    }

    /// Connects a socket made with
    /// [`ClientBuilder::build`](crate::ClientBuilder::build), or connects
    /// again after [`disconnect`](Self::disconnect) (or after the server
    /// refused the namespace). Resolves once the server accepts the namespace.
    pub async fn connect(&self) -> Result<(), ConnectError> {
        let (waiter, outcome) = oneshot::channel();
        self.inner
            .manager
            .command(Command::Connect(Box::new(ConnectRequest {
                socket: self.inner.id,
                waiter: Some(waiter),
            })));
        outcome.await.unwrap_or(Err(ConnectError::Closed))
    }

    /// Leaves the namespace for good: sends DISCONNECT, so the server ends
    /// the session (no recovery follows), and stops reconnecting. The
    /// connection closes when no other socket of its manager is active.
    ///
    /// Resolves once the DISCONNECT has been written and flushed on the link
    /// (at once when no link is up), within a few seconds at most: awaited
    /// before `main` returns, it reaches the server. Dropping the last handle
    /// instead keeps the session on the server for a later recovery.
    pub async fn disconnect(&self) {
        let (flushed, done) = oneshot::channel();
        self.inner
            .manager
            .command(Command::Disconnect(Box::new(DisconnectRequest {
                socket: self.inner.id,
                flushed,
            })));
        until_flushed(done).await;
    }

    /// A checkpoint of the session, to resume it in another process with
    /// [`ClientBuilder::recovery_state`](crate::ClientBuilder::recovery_state):
    /// the private session id and the offset of the last event the application
    /// finished with. `None` when the server does not offer connection state recovery.
    ///
    /// Called from a handler of an event (see [`on`](Self::on)), the event
    /// being handled counts as finished: save the state at the end of the
    /// handler, once its work is done, and a restart resumes right after
    /// that event. Elsewhere, an event counts as finished once its handlers
    /// have returned and it has been handed to every [`events`](Self::events)
    /// stream. Events still waiting in the socket's buffers do not count, so
    /// a restart from this checkpoint gets them again rather than skipping
    /// them. An application that processes events from a stream saves
    /// [`recovery_state_after`](Self::recovery_state_after) the event it
    /// finished instead: the stream's buffer may hold events already
    /// counted here.
    ///
    /// ```no_run
    /// # fn save(_: &sioclient::RecoveryState) {}
    /// # async fn run(socket: sioclient::Socket) {
    /// socket.on("order", |event, socket| async move {
    ///     // ... process the order ...
    ///     if let Some(state) = socket.recovery_state() {
    ///         save(&state); // includes this event: a restart resumes after it
    ///     }
    /// });
    /// # }
    /// ```
    pub fn recovery_state(&self) -> Option<RecoveryState> {
        self.inner.listeners.checkpoint()
    }

    /// The checkpoint that resumes right after `event`, an event of this
    /// socket: for applications that finish events taken from a stream.
    /// Same as [`recovery_state`](Self::recovery_state) for an event without
    /// an offset.
    ///
    /// ```no_run
    /// # fn save(_: &sioclient::RecoveryState) {}
    /// # async fn run(socket: sioclient::Socket) {
    /// use futures::StreamExt;
    /// use sioclient::SocketEvent;
    ///
    /// let mut events = socket.events();
    /// while let Some(SocketEvent::Event(event)) = events.next().await {
    ///     // ... process the event ...
    ///     if let Some(state) = socket.recovery_state_after(&event) {
    ///         save(&state);
    ///     }
    /// }
    /// # }
    /// ```
    pub fn recovery_state_after(&self, event: &Event) -> Option<RecoveryState> {
        let mut state = self.recovery_state()?;
        if let Some(offset) = event.offset() {
            state.offset = Some(offset.to_owned());
        }
        Some(state)
    }
}

/// Emits with options: see [`Socket::timeout`] and [`Socket::volatile`].
#[derive(Debug, Clone, Copy)]
#[must_use = "an Emitter does nothing until emit or emit_with_ack is called"]
pub struct Emitter<'a> {
    socket: &'a Socket,
    timeout: Option<Duration>,
    volatile: bool,
}

impl<'a> Emitter<'a> {
    fn new(socket: &'a Socket) -> Self {
        Emitter {
            socket,
            timeout: None,
            volatile: false,
        }
    }

    /// Sets the ack timeout of this emit.
    pub fn timeout(self, timeout: Duration) -> Self {
        Emitter {
            timeout: Some(timeout),
            ..self
        }
    }

    /// Makes this emit volatile: dropped, not buffered, while disconnected.
    pub fn volatile(self) -> Self {
        Emitter {
            volatile: true,
            ..self
        }
    }

    /// Emits an event; see [`Socket::emit`].
    pub async fn emit<A: Serialize>(self, name: &str, args: A) -> Result<(), EmitError> {
        if self.reliable() {
            return match self.send_reliable(name, &args).await {
                Ok(_) => Ok(()),
                Err(AckError::Emit(error)) => Err(error),
                Err(_) => Err(EmitError::Closed),
            };
        }
        let event = self.encode(name, &args, false)?;
        self.send(Emit::Plain(event)).await
    }

    /// Emits an event and waits for its acknowledgement; see [`Socket::emit_with_ack`].
    pub async fn emit_with_ack<R: DeserializeOwned, A: Serialize>(
        self,
        name: &str,
        args: A,
    ) -> Result<R, AckError> {
        let payload = if self.reliable() {
            self.send_reliable(name, &args).await?
        } else {
            self.send_once(name, &args).await?
        };
        R::deserialize(ValueArgsDeserializer::new(
            &payload.args,
            &payload.attachments,
        ))
        .map_err(AckError::Decode)
    }

    /// With the `retries` option, every emit but a volatile one is delivered at
    /// least once.
    fn reliable(&self) -> bool {
        !self.volatile && self.socket.inner.retries > 0
    }

    fn ack_timeout(&self) -> Duration {
        self.timeout.unwrap_or(self.socket.inner.ack_timeout)
    }

    /// Sends once and waits for the ack within the timeout.
    async fn send_once<A: Serialize>(&self, name: &str, args: &A) -> Result<AckPayload, AckError> {
        let event = self.encode(name, args, true)?;
        let (waiter, reply) = oneshot::channel();
        self.send(Emit::WithAck(Box::new(AckedEmit { event, waiter })))
            .await?;
        let timeout = self.ack_timeout();
        match tokio::time::timeout(timeout, reply).await {
            Err(_) => Err(AckError::Timeout(timeout)),
            Ok(Err(_)) => Err(AckError::Disconnected),
            Ok(Ok(result)) => result,
        }
    }

    /// Queues for at-least-once delivery: one packet in flight per socket, each
    /// try with a fresh ack id and the ack timeout, until acknowledged or out of
    /// retries. Waits while disconnected.
    async fn send_reliable<A: Serialize>(
        &self,
        name: &str,
        args: &A,
    ) -> Result<AckPayload, AckError> {
        let event = self.encode(name, args, true)?;
        let (waiter, reply) = oneshot::channel();
        let emit = Box::new(AckedEmit { event, waiter });
        self.send(Emit::AtLeastOnce(emit, self.ack_timeout()))
            .await?;
        reply.await.unwrap_or(Err(AckError::Disconnected))
    }

    /// The event as it goes out, checked against the server's maxPayload.
    fn encode<A: Serialize>(
        &self,
        name: &str,
        args: &A,
        acked: bool,
    ) -> Result<EncodedEvent, EmitError> {
        let inner = &self.socket.inner;
        let notify = inner.listeners.has_outgoing();
        let event = EncodedEvent::encode(inner.parser, &inner.path, name, args, acked, notify)?;
        // Engine.IO over WebSocket limits each message, and the server drops the
        // whole connection over one that is too large; refuse it here instead.
        if let Some(max) = inner.status.max_payload() {
            let size = event.largest_message() as u64;
            if size > max {
                return Err(EmitError::PayloadTooLarge { size, max });
            }
        }
        Ok(event)
    }

    async fn send(&self, emit: Emit) -> Result<(), EmitError> {
        let inner = &self.socket.inner;
        if self.volatile {
            // Dropped rather than queued, offline or while the connection is
            // backed up (its queue to the driver is full).
            if !inner.status.connected() {
                return Err(EmitError::VolatileDropped);
            }
            return match inner.emits.try_send(emit) {
                Ok(()) => Ok(()),
                Err(TrySendError::Closed(_)) => Err(EmitError::Closed),
                Err(TrySendError::Full(_)) => Err(EmitError::VolatileDropped),
            };
        }
        if inner.status.connected() {
            return inner.emits.send(emit).await.map_err(|_| EmitError::Closed);
        }
        match inner.emits.try_send(emit) {
            Ok(()) => Ok(()),
            Err(TrySendError::Closed(_)) => Err(EmitError::Closed),
            Err(TrySendError::Full(emit)) => Err(EmitError::BufferFull {
                capacity: inner.offline_buffer,
                unsent: Box::new(emit.into_unsent()),
            }),
        }
    }
}

/// The stream returned by [`Socket::events`].
#[derive(Debug)]
pub struct EventStream {
    receiver: queue::Receiver<SocketEvent>,
}

impl Stream for EventStream {
    type Item = SocketEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SocketEvent>> {
        self.receiver.poll_recv(cx)
    }
}
