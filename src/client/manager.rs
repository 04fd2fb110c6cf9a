//! The handle to one connection, shared by every namespace socket on it.

use std::sync::{Arc, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::client::dispatcher;
use crate::client::shared::{Checkpoint, Listeners, Manager, Socket, SocketHandlers, SocketShared};
use crate::driver::command::SocketStatus;
use crate::driver::command::{Attach, Command};
use crate::engine::transport::Transport;
use crate::error::ConnectError;
use crate::proto::recovery::RecoveryState;
use crate::queue;

impl Manager {
    /// The Engine.IO connection itself.
    pub fn engine(&self) -> Engine {
        Engine {
            manager: self.clone(),
        }
    }

    /// Disconnects every namespace of the connection (each sends DISCONNECT,
    /// so the server ends its session) and closes the link. Resolves once
    /// the link is closed (at once when none is up), within a few seconds at
    /// most. A later [`Socket::connect`] opens a new link.
    pub async fn disconnect(&self) {
        let (flushed, done) = oneshot::channel();
        self.command(Command::DisconnectAll(flushed));
        until_flushed(done).await;
    }

    /// A socket for another namespace over the same connection, connected.
    ///
    /// Returns the existing socket when one is already open for `namespace`.
    /// Uses the auth given to the builder. What the server emits on
    /// connection may come before a listener added once this returns: use
    /// [`build_socket`](Self::build_socket) to add listeners first.
    ///
    /// ```no_run
    /// # async fn run(socket: sioclient::Socket) -> Result<(), sioclient::ConnectError> {
    /// // `socket` is connected to "/"; "/admin" rides on the same connection.
    /// let admin = socket.io().socket("/admin").await?;
    /// admin.on("alert", |event, _admin| async move {
    ///     println!("admin alert: {:?}", event.args());
    /// });
    /// # Ok(()) }
    /// ```
    pub async fn socket(&self, namespace: &str) -> Result<Socket, ConnectError> {
        let socket = self.build_socket(namespace);
        socket.connect().await?;
        Ok(socket)
    }

    /// A socket for another namespace over the same connection, not
    /// connected yet, as [`ClientBuilder::build`](crate::ClientBuilder::build)
    /// makes the first one: its listeners and streams are put in place
    /// first, then [`Socket::connect`] connects it, so nothing the server
    /// emits on connection is missed.
    ///
    /// Returns the existing socket when one is already open for `namespace`.
    ///
    /// ```no_run
    /// # async fn run(socket: sioclient::Socket) -> Result<(), sioclient::ConnectError> {
    /// let admin = socket.io().build_socket("/admin");
    /// admin.on("welcome", |event, _admin| async move {
    ///     println!("welcome: {:?}", event.args());
    /// });
    /// admin.connect().await?;
    /// # Ok(()) }
    /// ```
    pub fn build_socket(&self, namespace: &str) -> Socket {
        let namespace = normalize_namespace(namespace);
        self.attach(&namespace, SocketHandlers::default(), None)
    }

    /// The socket of `path`, registering a new one with the driver when needed.
    pub(crate) fn attach(
        &self,
        path: &str,
        handlers: SocketHandlers,
        recovery: Option<RecoveryState>,
    ) -> Socket {
        let mut sockets = self
            .inner
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The sockets that are gone go too.
        sockets.live.retain(|socket| socket.strong_count() > 0);
        if let Some(inner) = sockets
            .live
            .iter()
            .filter_map(Weak::upgrade)
            .find(|socket| &*socket.path == path)
        {
            return Socket { inner };
        }
        let settings = &self.inner.settings;
        let (emit_tx, emit_rx) = queue::bounded(settings.offline_buffer);
        let (delivery_tx, delivery_rx) = queue::bounded(settings.event_buffer);
        let status = Arc::new(SocketStatus::default());
        let checkpoint = Checkpoint {
            state: recovery.clone(),
            last: None,
        };
        let listeners = Arc::new(Listeners::new(handlers, status.clone(), checkpoint));
        let path: Arc<str> = Arc::from(path);
        let id = sockets.next_id;
        sockets.next_id = id.following();
        let inner = Arc::new(SocketShared {
            path: path.clone(),
            id,
            manager: self.clone(),
            status: status.clone(),
            listeners: listeners.clone(),
            emits: emit_tx,
            offline_buffer: settings.offline_buffer.max(1),
            ack_timeout: settings.ack_timeout,
            retries: settings.retries,
            parser: settings.parser,
        });
        tokio::spawn(dispatcher::run(
            delivery_rx,
            listeners,
            Arc::downgrade(&inner),
        ));
        self.command(Command::Attach(Box::new(Attach {
            id,
            path: path.clone(),
            auth: settings.auth.clone(),
            status,
            recovery,
            emits: emit_rx,
            deliveries: delivery_tx,
        })));
        sockets.live.push(Arc::downgrade(&inner));
        Socket { inner }
    }
}

/// How long `disconnect()` waits for its DISCONNECT to leave: a dead link
/// must not hold a program that is about to exit.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// Waits until the driver drops the waiter of `done`: what was queued before
/// it has left on the link, or never will. Bounded by [`FLUSH_TIMEOUT`].
pub(crate) async fn until_flushed(done: oneshot::Receiver<()>) {
    if tokio::time::timeout(FLUSH_TIMEOUT, done).await.is_err() {
        tracing::debug!("the link did not flush the DISCONNECT in time");
    }
}

/// `admin` and `/admin` name the same namespace.
pub(crate) fn normalize_namespace(namespace: &str) -> String {
    if namespace.starts_with('/') {
        namespace.to_owned()
    } else {
        format!("/{namespace}")
    }
}

/// The Engine.IO connection under a [`Manager`].
#[derive(Debug, Clone)]
pub struct Engine {
    manager: Manager,
}

impl Engine {
    /// Drops the WebSocket at once, without any goodbye, as a network failure
    /// would. Sockets see the reason "forced close" and reconnect (and recover
    /// their session when the server offers connection state recovery): this is
    /// the way to test recovery.
    pub fn close(&self) {
        self.manager.command(Command::CloseEngine);
    }

    /// The transport that carries the link now; `None` while no link is
    /// open. It changes when a polling session upgrades to WebSocket.
    pub fn transport(&self) -> Option<Transport> {
        self.manager.inner.engine.transport()
    }

    /// The Engine.IO session id of the link, while one is open.
    pub fn id(&self) -> Option<String> {
        self.manager.inner.engine.sid().map(|sid| sid.to_string())
    }
}
