//! A blocking client, for programs without an async runtime: the same
//! builder and options, calls that block until done, handlers that are
//! plain closures, and an iterator of events.
//!
//! It is a thin layer over the async client: the connection runs on a
//! tokio runtime of its own, on a thread of its own, which stops when the
//! last handle is dropped. Do not call it from async code (a blocking call
//! on a tokio runtime's thread panics); use the async [`Socket`](crate::Socket) there.
//!
//! ```no_run
//! use sioclient::ClientBuilder;
//!
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let socket = ClientBuilder::new("http://localhost:3000").build_blocking()?;
//! socket.on("chat", |event, _socket| {
//!     let text: String = event.decode().unwrap_or_default();
//!     println!("chat: {text}");
//! });
//! socket.connect()?;
//! socket.emit("chat", "hello")?;
//! let count: u32 = socket.emit_with_ack("count", ())?;
//! for event in socket.events() {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::client::registry::ListenerId;
use crate::client::shared::Handling;
use crate::{
    AckError, ClientBuilder, ConnectError, EmitError, Engine, Event, EventStream, RecoveryState,
    SocketEvent, TransportError,
};

impl ClientBuilder {
    /// A blocking socket, not connected yet: add its handlers, then
    /// [`connect`](Socket::connect). Starts the runtime thread the
    /// connection runs on.
    pub fn build_blocking(self) -> Result<Socket, ConnectError> {
        let runtime = Runtime::start()?;
        let socket = {
            let _entered = runtime.handle.enter();
            self.build()?
        };
        Ok(Socket {
            inner: socket,
            runtime,
        })
    }

    /// Connects and returns a blocking socket; see [`ClientBuilder::connect`].
    pub fn connect_blocking(self) -> Result<Socket, ConnectError> {
        let socket = self.build_blocking()?;
        socket.connect()?;
        Ok(socket)
    }
}

/// The runtime a blocking client's connection runs on, on a thread of its
/// own. Dropping the last reference stops it.
struct Runtime {
    handle: Handle,
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl Runtime {
    fn start() -> Result<Arc<Runtime>, ConnectError> {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("sioclient".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .thread_name("sioclient-pool")
                    .build();
                match runtime {
                    Ok(runtime) => {
                        let _ = handle_tx.send(Ok(runtime.handle().clone()));
                        // Drives the connection until every handle is gone;
                        // dropping the runtime then waits for running handlers.
                        runtime.block_on(async {
                            let _ = stopped.await;
                        });
                    }
                    Err(error) => {
                        let _ = handle_tx.send(Err(error));
                    }
                }
            });
        let started = spawned.map_err(runtime_error).and_then(|_| {
            handle_rx
                .recv()
                .map_err(|_| runtime_error(std::io::Error::other("the runtime thread ended")))?
                .map_err(runtime_error)
        });
        Ok(Arc::new(Runtime {
            handle: started?,
            stop: Mutex::new(Some(stop)),
        }))
    }

    /// Runs `future` to completion on the caller's thread, with the
    /// runtime's IO and timers.
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

fn runtime_error(error: std::io::Error) -> ConnectError {
    ConnectError::Transport(TransportError::io(error))
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Only a signal: this may run on one of the runtime's own threads.
        if let Some(stop) = self
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = stop.send(());
        }
    }
}

/// A blocking socket of one namespace: [`crate::Socket`] with calls that
/// block. Cheap to clone; every clone is the same socket. Dropping the last
/// clone closes the connection as the async socket's does, and stops the
/// runtime thread.
#[derive(Clone)]
pub struct Socket {
    inner: crate::Socket,
    runtime: Arc<Runtime>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl Socket {
    /// Connects, or connects again after [`disconnect`](Self::disconnect);
    /// returns once the server accepted the namespace. See
    /// [`crate::Socket::connect`].
    pub fn connect(&self) -> Result<(), ConnectError> {
        self.runtime.block_on(self.inner.connect())
    }

    /// Emits an event; see [`crate::Socket::emit`]. Returns once the event
    /// is queued for the connection.
    pub fn emit<A: Serialize>(&self, name: &str, args: A) -> Result<(), EmitError> {
        self.runtime.block_on(self.inner.emit(name, args))
    }

    /// Emits an event and waits for the acknowledgement; see
    /// [`crate::Socket::emit_with_ack`].
    pub fn emit_with_ack<R: DeserializeOwned, A: Serialize>(
        &self,
        name: &str,
        args: A,
    ) -> Result<R, AckError> {
        self.runtime.block_on(self.inner.emit_with_ack(name, args))
    }

    /// Emits an event and waits at most `timeout` for the acknowledgement.
    pub fn emit_with_ack_timeout<R: DeserializeOwned, A: Serialize>(
        &self,
        timeout: Duration,
        name: &str,
        args: A,
    ) -> Result<R, AckError> {
        let emitter = self.inner.timeout(timeout);
        self.runtime.block_on(emitter.emit_with_ack(name, args))
    }

    /// Adds a listener of the server event `name`; see [`crate::Socket::on`].
    /// The listeners run one at a time, in arrival order, on a thread of the
    /// runtime's blocking pool: they may block, and call this socket.
    pub fn on<F>(&self, name: &str, handler: F) -> ListenerId
    where
        F: Fn(Event, Socket) + Send + Sync + 'static,
    {
        self.inner.on(name, self.runner(handler))
    }

    /// Adds a listener of the next server event `name` only.
    pub fn once<F>(&self, name: &str, handler: F) -> ListenerId
    where
        F: FnOnce(Event, Socket) + Send + 'static,
    {
        let runtime = Arc::downgrade(&self.runtime);
        self.inner.once(name, move |event, socket| {
            run_blocking(runtime, socket, move |socket| handler(event, socket))
        })
    }

    /// Adds a listener of every server event; see [`crate::Socket::on_any`].
    pub fn on_any<F>(&self, handler: F) -> ListenerId
    where
        F: Fn(Event, Socket) + Send + Sync + 'static,
    {
        self.inner.on_any(self.runner(handler))
    }

    /// Adds a listener of state changes; see [`crate::Socket::on_lifecycle`].
    pub fn on_lifecycle<F>(&self, handler: F) -> ListenerId
    where
        F: Fn(SocketEvent, Socket) + Send + Sync + 'static,
    {
        self.inner.on_lifecycle(self.runner(handler))
    }

    /// Removes every listener of the server event `name`.
    pub fn off(&self, name: &str) {
        self.inner.off(name);
    }

    /// Removes one listener; see [`crate::Socket::remove_listener`].
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.inner.remove_listener(id)
    }

    /// An iterator over everything that happens on this socket from now on;
    /// see [`crate::Socket::events`]. `next()` blocks until the next event,
    /// and returns `None` once the connection is gone for good.
    pub fn events(&self) -> Events {
        Events {
            stream: self.inner.events(),
            runtime: self.runtime.clone(),
        }
    }

    /// Leaves the namespace for good, blocking until the DISCONNECT has left
    /// on the link (a few seconds at most); see [`crate::Socket::disconnect`].
    pub fn disconnect(&self) {
        self.runtime.block_on(self.inner.disconnect());
    }

    /// The session id the server gave this socket, while connected.
    pub fn id(&self) -> Option<String> {
        self.inner.id()
    }

    /// Whether the namespace is connected.
    pub fn connected(&self) -> bool {
        self.inner.connected()
    }

    /// Whether the last connect restored the previous session.
    pub fn recovered(&self) -> bool {
        self.inner.recovered()
    }

    /// The checkpoint of the session; see [`crate::Socket::recovery_state`]
    /// (inside a listener, it counts the event being handled).
    pub fn recovery_state(&self) -> Option<RecoveryState> {
        self.inner.recovery_state()
    }

    /// The checkpoint right after `event`, for events taken from
    /// [`events`](Self::events); see [`crate::Socket::recovery_state_after`].
    pub fn recovery_state_after(&self, event: &Event) -> Option<RecoveryState> {
        self.inner.recovery_state_after(event)
    }

    /// The manager of the connection this socket rides on:
    /// `socket.io().engine().close()` drops the link on purpose, and
    /// `socket.io().socket("/admin")` connects another namespace over it.
    pub fn io(&self) -> Manager {
        Manager {
            inner: self.inner.io(),
            runtime: self.runtime.clone(),
        }
    }

    /// The async socket under this one, for code that has a runtime.
    pub fn as_async(&self) -> &crate::Socket {
        &self.inner
    }

    /// A closure that runs `handler` on the blocking pool for each call.
    fn runner<E, F>(
        &self,
        handler: F,
    ) -> impl Fn(E, crate::Socket) -> futures::future::BoxFuture<'static, ()> + Send + Sync + 'static
    where
        E: Send + 'static,
        F: Fn(E, Socket) + Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        // Weak: the listeners live on the runtime, which must not keep itself alive.
        let runtime = Arc::downgrade(&self.runtime);
        move |event, socket| {
            let handler = handler.clone();
            Box::pin(run_blocking(runtime.clone(), socket, move |socket| {
                handler(event, socket)
            }))
        }
    }
}

/// Runs a blocking listener on the blocking pool and waits for it, so the
/// listeners of a socket still run one at a time and in order.
async fn run_blocking(
    runtime: Weak<Runtime>,
    socket: crate::Socket,
    handler: impl FnOnce(Socket) + Send + 'static,
) {
    let Some(runtime) = runtime.upgrade() else {
        return;
    };
    let socket = Socket {
        inner: socket,
        runtime,
    };
    // The checkpoint taken inside counts the event, as in an async handler.
    let handling = Handling::current();
    let run = move || match handling {
        Some(handling) => handling.run_here(|| handler(socket)),
        None => handler(socket),
    };
    if tokio::task::spawn_blocking(run).await.is_err() {
        tracing::error!("an event handler panicked; the socket goes on");
    }
}

/// The connection that one or more blocking sockets share: [`crate::Manager`]
/// with calls that block. Cheap to clone.
#[derive(Clone)]
pub struct Manager {
    inner: crate::Manager,
    runtime: Arc<Runtime>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl Manager {
    /// The Engine.IO connection itself; see [`crate::Manager::engine`].
    pub fn engine(&self) -> Engine {
        self.inner.engine()
    }

    /// Disconnects every namespace and closes the link, blocking until it is
    /// closed (a few seconds at most); see [`crate::Manager::disconnect`].
    pub fn disconnect(&self) {
        self.runtime.block_on(self.inner.disconnect());
    }

    /// A socket for another namespace over the same connection, not
    /// connected yet, for listeners to be added before
    /// [`Socket::connect`]; see [`crate::Manager::build_socket`].
    pub fn build_socket(&self, namespace: &str) -> Socket {
        let _runtime = self.runtime.handle.enter();
        Socket {
            inner: self.inner.build_socket(namespace),
            runtime: self.runtime.clone(),
        }
    }

    /// A socket for another namespace over the same connection, connected;
    /// see [`crate::Manager::socket`].
    pub fn socket(&self, namespace: &str) -> Result<Socket, ConnectError> {
        let socket = self.runtime.block_on(self.inner.socket(namespace))?;
        Ok(Socket {
            inner: socket,
            runtime: self.runtime.clone(),
        })
    }
}

/// The iterator of [`Socket::events`].
#[derive(Debug)]
pub struct Events {
    stream: EventStream,
    runtime: Arc<Runtime>,
}

impl Events {
    /// The next event, waiting at most `timeout`.
    /// [`Timeout`](RecvTimeoutError::Timeout) when none came in time,
    /// [`Disconnected`](RecvTimeoutError::Disconnected) once the connection
    /// is gone for good.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<SocketEvent, RecvTimeoutError> {
        // The timer is made inside: it needs the runtime's context.
        let next = async { tokio::time::timeout(timeout, self.stream.next()).await };
        match self.runtime.block_on(next) {
            Ok(Some(event)) => Ok(event),
            Ok(None) => Err(RecvTimeoutError::Disconnected),
            Err(_) => Err(RecvTimeoutError::Timeout),
        }
    }
}

impl Iterator for Events {
    type Item = SocketEvent;

    fn next(&mut self) -> Option<SocketEvent> {
        self.runtime.block_on(self.stream.next())
    }
}
