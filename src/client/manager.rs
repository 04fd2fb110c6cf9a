//! The handle to one connection, shared by every namespace socket on it.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use crate::client::dispatcher::{self, Checkpoint, Handlers, Listeners};
use crate::client::socket::{Socket, SocketInner};
use crate::driver::command::{Attach, Command};
use crate::error::ConnectError;
use crate::proto::connection::{AuthSource, Resume};
use crate::proto::status::SocketStatus;
use crate::queue;

/// Tells sockets of the same path apart across drops and re-creations.
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// The connection (one Engine.IO link, reconnected as needed) that one or more
/// namespace sockets share, like the JS client's `Manager`.
///
/// Cheap to clone. The connection's task ends when every manager and socket
/// handle is gone.
#[derive(Clone)]
pub struct Manager {
    inner: Arc<ManagerInner>,
}

struct ManagerInner {
    command: queue::Sender<Command>,
    settings: SocketSettings,
    sockets: Mutex<HashMap<String, Weak<SocketInner>>>,
}

/// Options every socket of a manager is created with.
#[derive(Clone)]
pub(crate) struct SocketSettings {
    pub(crate) auth: AuthSource,
    pub(crate) offline_capacity: usize,
    pub(crate) event_buffer: usize,
    pub(crate) ack_timeout: Duration,
    pub(crate) retries: u32,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager").finish_non_exhaustive()
    }
}

impl Manager {
    pub(crate) fn new(command: queue::Sender<Command>, settings: SocketSettings) -> Self {
        Manager {
            inner: Arc::new(ManagerInner {
                command,
                settings,
                sockets: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Whether this is the only handle left, so the connection goes when it goes.
    pub(crate) fn is_last_handle(&self) -> bool {
        // No weak references exist, so a count of one cannot grow behind our back.
        Arc::strong_count(&self.inner) == 1
    }

    pub(crate) fn command(&self, command: Command) {
        // Fails only when the driver is gone, and then there is nothing left to command.
        let _ = self.inner.command.try_send(command);
    }

    /// The Engine.IO connection itself.
    pub fn engine(&self) -> Engine {
        Engine {
            manager: self.clone(),
        }
    }

    /// A socket for another namespace over the same connection, connected.
    ///
    /// Returns the existing socket when one is already open for `namespace`.
    /// Uses the auth given to the builder.
    pub async fn socket(&self, namespace: &str) -> Result<Socket, ConnectError> {
        let namespace = normalize_namespace(namespace);
        let socket = self.attach(&namespace, Handlers::default(), None);
        socket.connect().await?;
        Ok(socket)
    }

    /// The socket of `path`, registering a new one with the driver when needed.
    pub(crate) fn attach(&self, path: &str, handlers: Handlers, resume: Option<Resume>) -> Socket {
        let mut sockets = self
            .inner
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(inner) = sockets.get(path).and_then(Weak::upgrade) {
            return Socket::from_inner(inner);
        }
        let settings = &self.inner.settings;
        let (emit_tx, emit_rx) = queue::bounded(settings.offline_capacity);
        let (delivery_tx, delivery_rx) = queue::bounded(settings.event_buffer);
        let status = Arc::new(SocketStatus::default());
        let checkpoint = Checkpoint {
            pid: resume.as_ref().map(|resume| Arc::from(resume.pid.as_str())),
            offset: resume.as_ref().and_then(|resume| resume.offset.clone()),
            last: None,
        };
        let listeners = Arc::new(Listeners::new(handlers, status.clone(), checkpoint));
        let path: Arc<str> = Arc::from(path);
        let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
        let inner = Arc::new(SocketInner {
            path: path.clone(),
            generation,
            manager: self.clone(),
            status: status.clone(),
            listeners: listeners.clone(),
            emits: emit_tx,
            offline_capacity: settings.offline_capacity.max(1),
            ack_timeout: settings.ack_timeout,
            retries: settings.retries,
        });
        tokio::spawn(dispatcher::run(
            delivery_rx,
            listeners,
            Arc::downgrade(&inner),
        ));
        self.command(Command::Attach(Box::new(Attach {
            path: path.clone(),
            generation,
            auth: settings.auth.clone(),
            status,
            resume,
            emits: emit_rx,
            deliveries: delivery_tx,
        })));
        sockets.insert(path.to_string(), Arc::downgrade(&inner));
        Socket::from_inner(inner)
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
}
