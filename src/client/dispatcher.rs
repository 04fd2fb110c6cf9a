//! One task per socket that hands its events to the application: handlers
//! first, one at a time and in arrival order, then every `events()` stream.
//! It never runs on the driver task, so a slow or re-entrant handler cannot
//! stall the connection.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use futures::FutureExt;
use tokio::sync::mpsc;

use crate::client::socket::{RecoveryState, Socket, SocketInner};
use crate::proto::event::{Delivery, Event, SocketEvent};
use crate::proto::status::SocketStatus;
use crate::queue;

/// A boxed handler future.
pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A handler of named server events.
pub(crate) type EventHandler = Arc<dyn Fn(Event, Socket) -> BoxFuture + Send + Sync>;

/// A handler of connection state changes (connect, disconnect, reconnect...).
pub(crate) type LifecycleHandler = Arc<dyn Fn(SocketEvent, Socket) -> BoxFuture + Send + Sync>;

/// The handlers of one socket.
#[derive(Default, Clone)]
pub(crate) struct Handlers {
    pub(crate) events: HashMap<String, EventHandler>,
    /// Catch-all handlers of server events, in registration order.
    pub(crate) any: Vec<(ListenerId, EventHandler)>,
    /// Handlers of every emitted event, as it is written to the connection.
    pub(crate) outgoing: Vec<(ListenerId, EventHandler)>,
    pub(crate) lifecycle: Vec<LifecycleHandler>,
}

impl Handlers {
    /// Sets the handler of the server event `name`, replacing any earlier one.
    pub(crate) fn on<F, Fut>(&mut self, name: &str, handler: F)
    where
        F: Fn(Event, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.events.insert(name.to_owned(), boxed(handler));
    }

    /// Adds a catch-all handler of server events.
    pub(crate) fn on_any<F, Fut>(&mut self, handler: F) -> ListenerId
    where
        F: Fn(Event, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let id = ListenerId::next();
        self.any.push((id, boxed(handler)));
        id
    }

    /// Adds a handler of emitted events.
    pub(crate) fn on_any_outgoing<F, Fut>(&mut self, handler: F) -> ListenerId
    where
        F: Fn(Event, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let id = ListenerId::next();
        self.outgoing.push((id, boxed(handler)));
        id
    }

    /// Adds a handler of state changes.
    pub(crate) fn on_lifecycle<F, Fut>(&mut self, handler: F)
    where
        F: Fn(SocketEvent, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.lifecycle.push(boxed(handler));
    }
}

/// A user's async closure as a shareable handler with a boxed future.
fn boxed<E, F, Fut>(handler: F) -> Arc<dyn Fn(E, Socket) -> BoxFuture + Send + Sync>
where
    E: 'static,
    F: Fn(E, Socket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |event, socket| Box::pin(handler(event, socket)) as BoxFuture)
}

/// Names a catch-all listener, to remove it with [`Socket::off_any`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

impl ListenerId {
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ListenerId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// What the dispatcher shares with the socket's handles.
pub(crate) struct Listeners {
    pub(crate) handlers: RwLock<Handlers>,
    /// New `events()` streams, picked up by the dispatcher before its next
    /// event; a list rather than a channel, which would cost memory up front.
    new_subscribers: Mutex<Vec<mpsc::Sender<SocketEvent>>>,
    has_new_subscribers: AtomicBool,
    /// A stream that starts at the next connect event (see
    /// `ClientBuilder::connect_with_events`).
    from_connect: Mutex<Option<mpsc::Sender<SocketEvent>>>,
    status: Arc<SocketStatus>,
    checkpoint: Mutex<Checkpoint>,
    /// Whether outgoing listeners exist, so emits without any skip building
    /// the event they would see.
    has_outgoing: AtomicBool,
}

/// The session and the last event the application finished with.
#[derive(Default)]
pub(crate) struct Checkpoint {
    pub(crate) pid: Option<Arc<str>>,
    /// The offset to resume from until an event with an offset is finished.
    pub(crate) offset: Option<String>,
    pub(crate) last: Option<Event>,
}

impl Listeners {
    /// Listeners with these handlers, for a socket with this status and checkpoint.
    pub(crate) fn new(
        handlers: Handlers,
        status: Arc<SocketStatus>,
        checkpoint: Checkpoint,
    ) -> Self {
        Listeners {
            has_outgoing: AtomicBool::new(!handlers.outgoing.is_empty()),
            handlers: RwLock::new(handlers),
            new_subscribers: Mutex::new(Vec::new()),
            has_new_subscribers: AtomicBool::new(false),
            from_connect: Mutex::new(None),
            status,
            checkpoint: Mutex::new(checkpoint),
        }
    }

    /// Adds an `events()` stream, which sees what the dispatcher handles next.
    pub(crate) fn subscribe(&self, subscriber: mpsc::Sender<SocketEvent>) {
        self.new_subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(subscriber);
        self.has_new_subscribers.store(true, Ordering::Release);
    }

    /// Adds a stream that sees the next connect event and everything after it.
    pub(crate) fn subscribe_from_connect(&self, subscriber: mpsc::Sender<SocketEvent>) {
        *self
            .from_connect
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(subscriber);
    }

    pub(crate) fn has_outgoing(&self) -> bool {
        self.has_outgoing.load(Ordering::Acquire)
    }

    pub(crate) fn set_has_outgoing(&self, any: bool) {
        self.has_outgoing.store(any, Ordering::Release);
    }

    /// The resumable state, when the server gave a session id.
    pub(crate) fn checkpoint(&self) -> Option<RecoveryState> {
        let checkpoint = self
            .checkpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let pid = checkpoint.pid.as_deref()?.to_owned();
        let offset = match &checkpoint.last {
            Some(event) => event.offset().map(str::to_owned),
            None => checkpoint.offset.clone(),
        };
        Some(RecoveryState { pid, offset })
    }

    fn update_checkpoint(&self, update: impl FnOnce(&mut Checkpoint)) {
        update(
            &mut self
                .checkpoint
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
    }
}

/// How many queued items the dispatcher takes at once.
const DISPATCH_BATCH: usize = 32;

/// Runs the dispatcher of one socket until the driver drops its sender.
pub(crate) async fn run(
    incoming: queue::Receiver<Delivery>,
    listeners: Arc<Listeners>,
    socket: Weak<SocketInner>,
) {
    let mut subscribers: Vec<mpsc::Sender<SocketEvent>> = Vec::new();
    while let Some(first) = incoming.recv().await {
        // Boxed, once per batch: the task of an idle socket then holds what
        // waiting for the queue takes, not room for a handler's future.
        Box::pin(dispatch_batch(
            first,
            &incoming,
            &listeners,
            &socket,
            &mut subscribers,
        ))
        .await;
    }
}

/// Hands on `first` and what else is queued, up to a batch, in order.
async fn dispatch_batch(
    first: Delivery,
    incoming: &queue::Receiver<Delivery>,
    listeners: &Listeners,
    socket: &Weak<SocketInner>,
    subscribers: &mut Vec<mpsc::Sender<SocketEvent>>,
) {
    let mut next = Some(first);
    let mut taken = 1;
    while let Some(dispatch) = next.take() {
        match dispatch {
            Delivery::Event(event) => {
                let event = SocketEvent::Event(event);
                deliver(listeners, socket, subscribers, event).await;
            }
            Delivery::Lifecycle(event) => deliver(listeners, socket, subscribers, *event).await,
            Delivery::Outgoing(event) => run_outgoing(listeners, socket, event).await,
            Delivery::Settled(settled) => {
                let _ = settled.waiter.send(settled.outcome);
            }
        }
        if taken < DISPATCH_BATCH {
            next = incoming.try_recv().ok();
            taken += 1;
        }
    }
}

/// Hands one socket event to the handlers, then to every stream, and moves
/// the checkpoint once it is finished.
async fn deliver(
    listeners: &Listeners,
    socket: &Weak<SocketInner>,
    subscribers: &mut Vec<mpsc::Sender<SocketEvent>>,
    event: SocketEvent,
) {
    if listeners.has_new_subscribers.swap(false, Ordering::AcqRel) {
        subscribers.append(
            &mut listeners
                .new_subscribers
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
    }
    if let SocketEvent::Connect { .. } = &event {
        let starting = listeners
            .from_connect
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        subscribers.extend(starting);
    }
    if let SocketEvent::Connect { recovered: false } = &event {
        // A fresh session: the old checkpoint cannot resume it.
        let pid = listeners.status.pid();
        listeners.update_checkpoint(|checkpoint| {
            *checkpoint = Checkpoint {
                pid,
                ..Checkpoint::default()
            }
        });
    }
    let finished = match &event {
        SocketEvent::Event(ev) if ev.offset().is_some() => Some(ev.clone()),
        _ => None,
    };
    run_handlers(listeners, socket, &event).await;
    match subscribers.len() {
        0 => {}
        1 => {
            if subscribers[0].send(event).await.is_err() {
                subscribers.clear();
            }
        }
        _ => {
            let mut live = Vec::with_capacity(subscribers.len());
            for subscriber in subscribers.drain(..) {
                if subscriber.send(event.clone()).await.is_ok() {
                    live.push(subscriber);
                }
            }
            *subscribers = live;
        }
    }
    if let Some(event) = finished {
        listeners.update_checkpoint(|checkpoint| checkpoint.last = Some(event));
    }
}

/// Shows an emitted event to the outgoing listeners, one after the other.
async fn run_outgoing(listeners: &Listeners, socket: &Weak<SocketInner>, event: Event) {
    let handlers: Vec<EventHandler> = listeners
        .handlers
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .outgoing
        .iter()
        .map(|(_, handler)| handler.clone())
        .collect();
    let Some(inner) = socket.upgrade() else {
        return;
    };
    let socket = Socket::from_inner(inner);
    for handler in handlers {
        guarded(handler(event.clone(), socket.clone())).await;
    }
}

/// Runs a handler's future; a panic in it is logged and contained, so one
/// faulty handler does not silence the socket's later events.
async fn guarded(handler: BoxFuture) {
    if AssertUnwindSafe(handler).catch_unwind().await.is_err() {
        tracing::error!("an event handler panicked; the socket goes on");
    }
}

/// Runs the handlers `event` has, one after the other: for a server event the
/// catch-all ones first, then the one registered for its name.
async fn run_handlers(listeners: &Listeners, socket: &Weak<SocketInner>, event: &SocketEvent) {
    let (event_handlers, lifecycle_handlers) = {
        let handlers = listeners
            .handlers
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        match event {
            SocketEvent::Event(ev) => {
                let named = handlers.events.get(ev.name());
                if handlers.any.is_empty() && named.is_none() {
                    return;
                }
                let mut chosen: Vec<EventHandler> =
                    handlers.any.iter().map(|(_, h)| h.clone()).collect();
                chosen.extend(named.cloned());
                (chosen, Vec::new())
            }
            _ if handlers.lifecycle.is_empty() => return,
            _ => (Vec::new(), handlers.lifecycle.clone()),
        }
    };
    // A handler needs a live socket; once every handle is gone, only streams remain.
    let Some(inner) = socket.upgrade() else {
        return;
    };
    let socket = Socket::from_inner(inner);
    if let SocketEvent::Event(ev) = event {
        for handler in event_handlers {
            guarded(handler(ev.clone(), socket.clone())).await;
        }
    }
    for handler in lifecycle_handlers {
        guarded(handler(event.clone(), socket.clone())).await;
    }
}
