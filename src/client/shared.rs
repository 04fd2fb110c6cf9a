//! What a socket's handles, its manager and its dispatcher share: the
//! handles themselves ([`Socket`], [`Manager`]), their shared state, and the
//! listeners. Each piece has one owner: the handlers and streams are the
//! handles' to change and the dispatcher's to run; the checkpoint (the
//! session and the last event the application finished) is the
//! dispatcher's to move.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::Duration;

use crate::client::registry::Handlers;
use crate::codec::parser::Parser;
use crate::driver::command::{Command, DroppedSocket};
use crate::driver::command::{Emit, SocketStatus};
use crate::engine::status::LinkStatus;
use crate::proto::auth::AuthSource;
use crate::proto::connection::SocketId;
use crate::proto::event::{Event, SocketEvent};
use crate::proto::recovery::RecoveryState;
use crate::queue;

/// The handlers of a socket.
pub(crate) type SocketHandlers = Handlers<Socket>;

/// A socket connected to one namespace of a Socket.IO server.
///
/// Cheap to clone; every clone is the same socket. When the last clone is
/// dropped while other sockets of its [`Manager`] live on, it leaves its
/// namespace. When the last handle of the whole connection is dropped, the
/// connection closes without leaving, as a process exit would: a server with
/// connection state recovery keeps the session, which
/// [`recovery_state`](Self::recovery_state) can resume. Call
/// [`disconnect`](Self::disconnect) to end the session for good.
#[derive(Clone)]
pub struct Socket {
    pub(crate) inner: Arc<SocketShared>,
}

/// What every handle of one socket shares.
pub(crate) struct SocketShared {
    pub(crate) path: Arc<str>,
    pub(crate) id: SocketId,
    pub(crate) manager: Manager,
    pub(crate) status: Arc<SocketStatus>,
    pub(crate) listeners: Arc<Listeners>,
    pub(crate) emits: queue::Sender<Emit>,
    pub(crate) offline_buffer: usize,
    pub(crate) ack_timeout: Duration,
    /// Resends of an at-least-once emit; 0 sends every emit once.
    pub(crate) retries: u32,
    /// How emits are encoded: the connection's parser.
    pub(crate) parser: Parser,
}

impl Drop for SocketShared {
    fn drop(&mut self) {
        self.manager
            .command(Command::Dropped(Box::new(DroppedSocket {
                socket: self.id,
                leave: !self.manager.is_last_handle(),
            })));
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("namespace", &self.inner.path)
            .field("id", &self.inner.status.id())
            .field("connected", &self.inner.status.connected())
            .finish()
    }
}

/// The connection (one Engine.IO link, reconnected as needed) that one or more
/// namespace sockets share, like the JS client's `Manager`.
///
/// Cheap to clone. The connection's task ends when every manager and socket
/// handle is gone.
#[derive(Clone)]
pub struct Manager {
    pub(crate) inner: Arc<ManagerShared>,
}

/// What every handle of one manager shares.
pub(crate) struct ManagerShared {
    command: queue::Sender<Command>,
    /// What the handles see of the link.
    pub(crate) engine: Arc<LinkStatus>,
    pub(crate) settings: SocketSettings,
    /// The socket of each namespace, and the id of the next one.
    pub(crate) sockets: Mutex<Sockets>,
}

/// The live sockets of a manager, so that asking for a namespace twice
/// gives the same socket while it lives. A list: most connections carry one
/// or two namespaces, and a map would cost every one a table.
pub(crate) struct Sockets {
    pub(crate) live: Vec<Weak<SocketShared>>,
    /// The manager's sockets are numbered in the order they are made.
    pub(crate) next_id: SocketId,
}

/// Options every socket of a manager is created with.
#[derive(Clone)]
pub(crate) struct SocketSettings {
    pub(crate) auth: AuthSource,
    pub(crate) offline_buffer: usize,
    pub(crate) event_buffer: usize,
    pub(crate) ack_timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) parser: Parser,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager").finish_non_exhaustive()
    }
}

impl Manager {
    pub(crate) fn new(
        command: queue::Sender<Command>,
        engine: Arc<LinkStatus>,
        settings: SocketSettings,
    ) -> Self {
        Manager {
            inner: Arc::new(ManagerShared {
                command,
                engine,
                settings,
                sockets: Mutex::new(Sockets {
                    live: Vec::new(),
                    next_id: SocketId::FIRST,
                }),
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
}

/// What the dispatcher shares with the socket's handles.
pub(crate) struct Listeners {
    handlers: RwLock<SocketHandlers>,
    /// Counts the times the handlers were taken to be changed, so the
    /// dispatcher can keep the handlers of an event between events and look
    /// again only after a change.
    handlers_version: AtomicU64,
    /// New `events()` streams, picked up by the dispatcher before its next
    /// event; a list rather than a channel, which would cost memory up front.
    pub(crate) new_subscribers: Mutex<Vec<queue::Sender<SocketEvent>>>,
    pub(crate) has_new_subscribers: AtomicBool,
    /// A stream that starts at the next connect event (see
    /// `ClientBuilder::connect_with_events`).
    pub(crate) from_connect: Mutex<Option<queue::Sender<SocketEvent>>>,
    pub(crate) status: Arc<SocketStatus>,
    checkpoint: Mutex<Checkpoint>,
    /// Whether outgoing listeners exist, so emits without any skip building
    /// the event they would see.
    has_outgoing: AtomicBool,
}

tokio::task_local! {
    /// The event whose handlers run on this task, if any.
    static HANDLING: Handling;
}

thread_local! {
    /// The same, for a handler that runs on a thread of its own (the
    /// blocking client's listeners).
    static HANDLING_ON_THREAD: RefCell<Option<Handling>> = const { RefCell::new(None) };
}

/// An event with an offset whose handlers are running, and the socket whose
/// they are, named by the address of its listeners.
#[derive(Clone)]
pub(crate) struct Handling {
    listeners: usize,
    event: Event,
}

impl Handling {
    /// The event being handled where this is called, if any.
    pub(crate) fn current() -> Option<Handling> {
        HANDLING
            .try_with(Handling::clone)
            .ok()
            .or_else(|| HANDLING_ON_THREAD.with(|handling| handling.borrow().clone()))
    }

    /// Runs `handler` on this thread as a handler of the event.
    #[cfg(feature = "blocking")]
    pub(crate) fn run_here<R>(self, handler: impl FnOnce() -> R) -> R {
        /// Puts the previous value back, even when the handler panics.
        struct Restore(Option<Handling>);
        impl Drop for Restore {
            fn drop(&mut self) {
                HANDLING_ON_THREAD.set(self.0.take());
            }
        }
        let _restore = Restore(HANDLING_ON_THREAD.replace(Some(self)));
        handler()
    }
}

/// The session and the last event the application finished with.
#[derive(Default)]
pub(crate) struct Checkpoint {
    /// The session, and the offset to resume from until an event with an
    /// offset is finished.
    pub(crate) state: Option<RecoveryState>,
    /// The last finished event with an offset: its offset is read only when
    /// asked for, so finishing an event copies nothing.
    pub(crate) last: Option<Event>,
}

impl Listeners {
    /// Listeners with these handlers, for a socket with this status and checkpoint.
    pub(crate) fn new(
        handlers: SocketHandlers,
        status: Arc<SocketStatus>,
        checkpoint: Checkpoint,
    ) -> Self {
        Listeners {
            has_outgoing: AtomicBool::new(handlers.has_outgoing()),
            handlers: RwLock::new(handlers),
            handlers_version: AtomicU64::new(0),
            new_subscribers: Mutex::new(Vec::new()),
            has_new_subscribers: AtomicBool::new(false),
            from_connect: Mutex::new(None),
            status,
            checkpoint: Mutex::new(checkpoint),
        }
    }

    /// Adds an `events()` stream, which sees what the dispatcher handles next.
    pub(crate) fn subscribe(&self, subscriber: queue::Sender<SocketEvent>) {
        self.new_subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(subscriber);
        self.has_new_subscribers.store(true, Ordering::Release);
    }

    /// Adds a stream that sees the next connect event and everything after it.
    pub(crate) fn subscribe_from_connect(&self, subscriber: queue::Sender<SocketEvent>) {
        *self
            .from_connect
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(subscriber);
    }

    pub(crate) fn read_handlers(&self) -> RwLockReadGuard<'_, SocketHandlers> {
        self.handlers.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write_handlers(&self) -> RwLockWriteGuard<'_, SocketHandlers> {
        let handlers = self
            .handlers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Counted while the lock is held: a reader that sees the new count
        // takes the read lock after the change is done.
        self.handlers_version.fetch_add(1, Ordering::Release);
        handlers
    }

    /// The count of changes to the handlers so far (see `write_handlers`).
    pub(crate) fn handlers_version(&self) -> u64 {
        self.handlers_version.load(Ordering::Acquire)
    }

    pub(crate) fn has_outgoing(&self) -> bool {
        self.has_outgoing.load(Ordering::Acquire)
    }

    pub(crate) fn set_has_outgoing(&self, any: bool) {
        self.has_outgoing.store(any, Ordering::Release);
    }

    /// The resumable state, when the server gave a session id: past the
    /// event being handled when called from one of its handlers, otherwise
    /// past the last finished event.
    pub(crate) fn checkpoint(&self) -> Option<RecoveryState> {
        let handling = Handling::current()
            .filter(|handling| handling.listeners == self as *const Listeners as usize)
            .map(|handling| handling.event);
        let checkpoint = self
            .checkpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let session = checkpoint.state.as_ref()?;
        let offset = match handling.as_ref().or(checkpoint.last.as_ref()) {
            Some(event) => event.offset().map(str::to_owned),
            None => session.offset.clone(),
        };
        Some(RecoveryState {
            pid: session.pid.clone(),
            offset,
            sid: session.sid.clone(),
        })
    }

    /// Runs `handlers`, the handlers of `event`, so that a checkpoint taken
    /// inside them counts `event` as finished: a handler saves its state
    /// once it has done its work, and a restart from that state must not
    /// replay the event again.
    pub(crate) async fn handling<F: Future>(&self, event: Event, handlers: F) -> F::Output {
        let handling = Handling {
            listeners: self as *const Listeners as usize,
            event,
        };
        HANDLING.scope(handling, handlers).await
    }

    pub(crate) fn update_checkpoint(&self, update: impl FnOnce(&mut Checkpoint)) {
        update(
            &mut self
                .checkpoint
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
    }
}
