//! One task per socket that hands its events to the application: handlers
//! first, one at a time and in arrival order, then every `events()` stream.
//! It never runs on the driver task, so a slow or re-entrant handler cannot
//! stall the connection.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock, Weak};

use tokio::sync::mpsc;

use crate::event::{Event, SocketEvent};
use crate::socket::{Socket, SocketInner};

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
    }
}

enum Either {
    Event(EventHandler),
    Lifecycle(Vec<LifecycleHandler>),
}
