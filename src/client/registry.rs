//! The handlers a socket runs, as the builder and the socket register them.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::proto::event::{Event, SocketEvent};

/// A boxed handler future.
pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A handler of named server events.
pub(crate) type EventHandler<S> = Arc<dyn Fn(Event, S) -> BoxFuture + Send + Sync>;

/// A handler of connection state changes (connect, disconnect, reconnect...).
pub(crate) type LifecycleHandler<S> = Arc<dyn Fn(SocketEvent, S) -> BoxFuture + Send + Sync>;

/// The handlers of one socket. Generic over the socket handle they are
/// given, which is defined above this file.
pub(crate) struct Handlers<S> {
    pub(crate) events: HashMap<String, EventHandler<S>>,
    /// Catch-all handlers of server events, in registration order.
    pub(crate) any: Vec<(ListenerId, EventHandler<S>)>,
    /// Handlers of every emitted event, as it is written to the connection.
    pub(crate) outgoing: Vec<(ListenerId, EventHandler<S>)>,
    pub(crate) lifecycle: Vec<LifecycleHandler<S>>,
}

// Not derived: the derives would ask `S` for `Default` and `Clone`.
impl<S> Default for Handlers<S> {
    fn default() -> Self {
        Handlers {
            events: HashMap::new(),
            any: Vec::new(),
            outgoing: Vec::new(),
            lifecycle: Vec::new(),
        }
    }
}

impl<S> Clone for Handlers<S> {
    fn clone(&self) -> Self {
        Handlers {
            events: self.events.clone(),
            any: self.any.clone(),
            outgoing: self.outgoing.clone(),
            lifecycle: self.lifecycle.clone(),
        }
    }
}

impl<S: 'static> Handlers<S> {
    /// Sets the handler of the server event `name`, replacing any earlier one.
    pub(crate) fn on<F, Fut>(&mut self, name: &str, handler: F)
    where
        F: Fn(Event, S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.events.insert(name.to_owned(), boxed(handler));
    }

    /// Adds a catch-all handler of server events.
    pub(crate) fn on_any<F, Fut>(&mut self, handler: F) -> ListenerId
    where
        F: Fn(Event, S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let id = ListenerId::next();
        self.any.push((id, boxed(handler)));
        id
    }

    /// Adds a handler of emitted events.
    pub(crate) fn on_any_outgoing<F, Fut>(&mut self, handler: F) -> ListenerId
    where
        F: Fn(Event, S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let id = ListenerId::next();
        self.outgoing.push((id, boxed(handler)));
        id
    }

    /// Adds a handler of state changes.
    pub(crate) fn on_lifecycle<F, Fut>(&mut self, handler: F)
    where
        F: Fn(SocketEvent, S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.lifecycle.push(boxed(handler));
    }
}

/// A user's async closure as a shareable handler with a boxed future.
fn boxed<E, S, F, Fut>(handler: F) -> Arc<dyn Fn(E, S) -> BoxFuture + Send + Sync>
where
    E: 'static,
    S: 'static,
    F: Fn(E, S) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |event, socket| Box::pin(handler(event, socket)) as BoxFuture)
}

/// Names a catch-all listener, to remove it with
/// [`Socket::off_any`](crate::Socket::off_any).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

impl ListenerId {
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ListenerId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}
