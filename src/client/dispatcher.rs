//! One task per socket that hands its events to the application: handlers
//! first, one at a time and in arrival order, then every `events()` stream.
//! It never runs on the driver task, so a slow or re-entrant handler cannot
//! stall the connection.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError, Weak};

use futures::FutureExt;

use crate::client::registry::{BoxFuture, EventHandler};
use crate::client::shared::{Checkpoint, Listeners, Socket, SocketShared};
use crate::driver::command::Dispatch;
use crate::proto::event::{Delivery, Event, SocketEvent};
use crate::proto::recovery::RecoveryState;
use crate::queue;

/// How many queued items the dispatcher takes at once.
const DISPATCH_BATCH: usize = 32;

/// Runs the dispatcher of one socket until the driver drops its sender.
pub(crate) async fn run(
    incoming: queue::Receiver<Dispatch>,
    listeners: Arc<Listeners>,
    socket: Weak<SocketShared>,
) {
    let mut state = State::default();
    while let Some(first) = incoming.recv().await {
        // Boxed, once per batch: the task of an idle socket then holds what
        // waiting for the queue takes, not room for a handler's future.
        Box::pin(dispatch_batch(
            first, &incoming, &listeners, &socket, &mut state,
        ))
        .await;
    }
}

/// What the dispatcher keeps between events.
#[derive(Default)]
struct State {
    subscribers: Vec<queue::Sender<SocketEvent>>,
    /// Boxed, and made at the first server event: an idle socket's task
    /// keeps a pointer.
    named: Option<Box<NamedHandlers>>,
}

/// The handlers of the event name the dispatcher ran last, kept until the
/// handlers change: events of one name look them up once, not each.
#[derive(Default)]
struct NamedHandlers {
    /// [`Listeners::handlers_version`] when they were looked up; `None`
    /// before the first look-up.
    version: Option<u64>,
    name: String,
    handlers: Vec<EventHandler<Socket>>,
    /// Whether a `once` listener is among them.
    once: bool,
}

impl NamedHandlers {
    /// The handlers of event `name` and whether a `once` listener is among them.
    fn of(&mut self, listeners: &Listeners, name: &str) -> (&[EventHandler<Socket>], bool) {
        // Read before the handlers: a change made after this is seen at the
        // next event.
        let version = listeners.handlers_version();
        if self.version != Some(version) || self.name != name {
            self.once = listeners
                .read_handlers()
                .for_event(name, &mut self.handlers);
            self.version = Some(version);
            name.clone_into(&mut self.name);
        }
        (&self.handlers, self.once)
    }
}

/// Hands on `first` and what else is queued, up to a batch, in order. The
/// batch leaves the queue at once: what the dispatcher has taken is on top of
/// the queue's capacity, as the crate docs say.
async fn dispatch_batch(
    first: Dispatch,
    incoming: &queue::Receiver<Dispatch>,
    listeners: &Listeners,
    socket: &Weak<SocketShared>,
    state: &mut State,
) {
    let rest = incoming.try_recv_many(DISPATCH_BATCH - 1);
    for dispatch in std::iter::once(first).chain(rest) {
        match dispatch {
            Delivery::Event(event) => {
                let event = SocketEvent::Event(event);
                deliver(listeners, socket, state, event).await;
            }
            Delivery::Lifecycle(event) => deliver(listeners, socket, state, *event).await,
            Delivery::Outgoing(event) => run_outgoing(listeners, socket, event).await,
            Delivery::Settled(settled) => {
                for waiter in settled.waiters {
                    let _ = waiter.send(settled.outcome.clone());
                }
            }
        }
    }
}

/// Hands one socket event to the handlers, then to every stream, and moves
/// the checkpoint once it is finished.
async fn deliver(
    listeners: &Listeners,
    socket: &Weak<SocketShared>,
    state: &mut State,
    event: SocketEvent,
) {
    let subscribers = &mut state.subscribers;
    // A load first: the swap's write is for the rare event that finds one.
    if listeners.has_new_subscribers.load(Ordering::Acquire)
        && listeners.has_new_subscribers.swap(false, Ordering::AcqRel)
    {
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
        let session = listeners.status.pid().map(|pid| RecoveryState {
            pid: pid.to_string(),
            offset: None,
            sid: listeners.status.id().map(|sid| sid.to_string()),
        });
        listeners.update_checkpoint(|checkpoint| {
            *checkpoint = Checkpoint {
                state: session,
                last: None,
            }
        });
    }
    let finished = match &event {
        SocketEvent::Event(ev) if ev.offset().is_some() => Some(ev.clone()),
        _ => None,
    };
    let named = &mut state.named;
    match &finished {
        Some(handled) => {
            let handlers = run_handlers(listeners, socket, named, &event);
            listeners.handling(handled.clone(), handlers).await;
        }
        None => run_handlers(listeners, socket, named, &event).await,
    }
    let subscribers = &mut state.subscribers;
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
async fn run_outgoing(listeners: &Listeners, socket: &Weak<SocketShared>, event: Event) {
    let handlers = listeners.read_handlers().for_outgoing();
    let Some(inner) = socket.upgrade() else {
        return;
    };
    let socket = Socket { inner };
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
/// catch-all ones first, then the ones registered for its name, each list in
/// the order it was registered.
async fn run_handlers(
    listeners: &Listeners,
    socket: &Weak<SocketShared>,
    named: &mut Option<Box<NamedHandlers>>,
    event: &SocketEvent,
) {
    if let SocketEvent::Event(ev) = event {
        let (handlers, once) = named.get_or_insert_default().of(listeners, ev.name());
        if once {
            listeners.write_handlers().remove_once(ev.name());
        }
        // A handler needs a live socket; once every handle is gone, only streams remain.
        let Some(socket) = live(socket, handlers.is_empty()) else {
            return;
        };
        for handler in handlers {
            guarded(handler(ev.clone(), socket.clone())).await;
        }
        return;
    }
    let handlers = listeners.read_handlers().for_lifecycle();
    let Some(socket) = live(socket, handlers.is_empty()) else {
        return;
    };
    for handler in handlers {
        guarded(handler(event.clone(), socket.clone())).await;
    }
}

/// The socket handlers are given, unless it is gone or there are `no_handlers`.
fn live(socket: &Weak<SocketShared>, no_handlers: bool) -> Option<Socket> {
    if no_handlers {
        return None;
    }
    socket.upgrade().map(|inner| Socket { inner })
}
