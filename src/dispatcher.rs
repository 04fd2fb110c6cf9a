//! One task per socket that hands its events to the application: handlers
//! first, one at a time and in arrival order, then every `events()` stream.
//! It never runs on the driver task, so a slow or re-entrant handler cannot
//! stall the connection.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use tokio::sync::mpsc;

use crate::event::{Event, SocketEvent};
use crate::socket::{RecoveryState, Socket, SocketInner};
use crate::status::SocketStatus;

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
    pub(crate) lifecycle: Vec<LifecycleHandler>,
}

/// What the dispatcher shares with the socket's handles.
pub(crate) struct Listeners {
    pub(crate) handlers: RwLock<Handlers>,
    /// New `events()` streams, picked up by the dispatcher before its next event.
    pub(crate) subscribe: mpsc::UnboundedSender<mpsc::Sender<SocketEvent>>,
    pub(crate) status: Arc<SocketStatus>,
    pub(crate) checkpoint: Mutex<Checkpoint>,
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

/// Runs the dispatcher of one socket until the driver drops its sender.
pub(crate) async fn run(
    mut incoming: mpsc::Receiver<SocketEvent>,
    mut new_subscribers: mpsc::UnboundedReceiver<mpsc::Sender<SocketEvent>>,
    listeners: Arc<Listeners>,
    socket: Weak<SocketInner>,
) {
    let mut subscribers: Vec<mpsc::Sender<SocketEvent>> = Vec::new();
    while let Some(event) = incoming.recv().await {
        while let Ok(subscriber) = new_subscribers.try_recv() {
            subscribers.push(subscriber);
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
        let handler = {
            let handlers = listeners
                .handlers
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match &event {
                SocketEvent::Event(ev) => {
                    handlers.events.get(ev.name()).cloned().map(Either::Event)
                }
                _ if handlers.lifecycle.is_empty() => None,
                _ => Some(Either::Lifecycle(handlers.lifecycle.clone())),
            }
        };
        if let Some(handler) = handler {
            // A handler needs a live socket; once every handle is gone, only streams remain.
            if let Some(inner) = socket.upgrade() {
                let socket = Socket::from_inner(inner);
                match (handler, &event) {
                    (Either::Event(handler), SocketEvent::Event(ev)) => {
                        handler(ev.clone(), socket).await;
                    }
                    (Either::Lifecycle(handlers), _) => {
                        for handler in handlers {
                            handler(event.clone(), socket.clone()).await;
                        }
                    }
                    _ => {}
                }
            }
        }
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
                subscribers = live;
            }
        }
        if let Some(event) = finished {
            listeners.update_checkpoint(|checkpoint| checkpoint.last = Some(event));
        }
    }
}

enum Either {
    Event(EventHandler),
    Lifecycle(Vec<LifecycleHandler>),
}
