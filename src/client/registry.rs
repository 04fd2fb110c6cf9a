//! The listeners a socket runs, as the builder and the socket register them.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::proto::event::{Event, SocketEvent};

/// A boxed handler future.
pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A handler of named server events.
pub(crate) type EventHandler<S> = Arc<dyn Fn(Event, S) -> BoxFuture + Send + Sync>;

/// A handler of connection state changes (connect, disconnect, reconnect...).
pub(crate) type LifecycleHandler<S> = Arc<dyn Fn(SocketEvent, S) -> BoxFuture + Send + Sync>;

/// One registered handler and the id that removes it.
#[derive(Clone)]
pub(crate) struct Listener<H> {
    pub(crate) id: ListenerId,
    pub(crate) handler: H,
    /// Removed before its first run (`once`).
    pub(crate) once: bool,
}

impl<H> Listener<H> {
    /// A listener with a new id.
    fn new(handler: H, once: bool) -> Self {
        Listener {
            id: ListenerId::next(),
            handler,
            once,
        }
    }
}

/// The listeners of one socket, each list in the order its listeners run.
/// Generic over the socket handle they are given, which is defined above
/// this file.
pub(crate) struct Handlers<S> {
    /// Listeners of named server events.
    named: HashMap<Box<str>, Vec<Listener<EventHandler<S>>>>,
    /// Catch-all listeners of server events; they run before the named ones.
    any: Vec<Listener<EventHandler<S>>>,
    /// Listeners of every emitted event, as it is written to the connection.
    outgoing: Vec<Listener<EventHandler<S>>>,
    lifecycle: Vec<Listener<LifecycleHandler<S>>>,
}

// Not derived: the derives would ask `S` for `Default` and `Clone`.
impl<S> Default for Handlers<S> {
    fn default() -> Self {
        Handlers {
            named: HashMap::new(),
            any: Vec::new(),
            outgoing: Vec::new(),
            lifecycle: Vec::new(),
        }
    }
}

impl<S> Clone for Handlers<S> {
    fn clone(&self) -> Self {
        Handlers {
            named: self.named.clone(),
            any: self.any.clone(),
            outgoing: self.outgoing.clone(),
            lifecycle: self.lifecycle.clone(),
        }
    }
}

impl<S: 'static> Handlers<S> {
    /// Adds a listener of the server event `name`, after the ones it has.
    pub(crate) fn on<F, Fut>(&mut self, name: &str, handler: F) -> ListenerId
    where
        F: Fn(Event, S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add_named(name, boxed(handler), false)
    }

    /// Adds a listener of the next server event `name` only.
    pub(crate) fn once<F, Fut>(&mut self, name: &str, handler: F) -> ListenerId
    where
        F: FnOnce(Event, S) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        // The dispatcher removes it before running it, so it is called once;
        // the cell lets it be an `FnOnce`, which may move what it captured.
        let cell = Mutex::new(Some(handler));
        let handler = move |event, socket| -> BoxFuture {
            let handler = cell.lock().unwrap_or_else(PoisonError::into_inner).take();
            match handler {
                Some(handler) => Box::pin(handler(event, socket)),
                None => Box::pin(async {}),
            }
        };
        self.add_named(name, Arc::new(handler), true)
    }

    fn add_named(&mut self, name: &str, handler: EventHandler<S>, once: bool) -> ListenerId {
        let listener = Listener::new(handler, once);
        let id = listener.id;
        let listeners = self.named.entry(name.into()).or_default();
        // Listeners come one at a time, and every connection keeps them.
        listeners.reserve_exact(1);
        listeners.push(listener);
        id
    }

    /// Adds a catch-all listener of server events, after the ones there are.
    pub(crate) fn on_any<F, Fut>(&mut self, handler: F) -> ListenerId
    where
        F: Fn(Event, S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        push(&mut self.any, boxed(handler))
    }

    /// Adds a catch-all listener of server events, before the ones there are.
    pub(crate) fn prepend_any<F, Fut>(&mut self, handler: F) -> ListenerId
    where
        F: Fn(Event, S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        prepend(&mut self.any, boxed(handler))
    }

    /// Adds a listener of emitted events, after the ones there are.
    pub(crate) fn on_any_outgoing<F, Fut>(&mut self, handler: F) -> ListenerId
    where
        F: Fn(Event, S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        push(&mut self.outgoing, boxed(handler))
    }

    /// Adds a listener of emitted events, before the ones there are.
    pub(crate) fn prepend_any_outgoing<F, Fut>(&mut self, handler: F) -> ListenerId
    where
        F: Fn(Event, S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        prepend(&mut self.outgoing, boxed(handler))
    }

    /// Adds a listener of state changes.
    pub(crate) fn on_lifecycle<F, Fut>(&mut self, handler: F) -> ListenerId
    where
        F: Fn(SocketEvent, S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        push(&mut self.lifecycle, boxed(handler))
    }

    /// Removes every listener of the server event `name`.
    pub(crate) fn off(&mut self, name: &str) {
        self.named.remove(name);
    }

    /// Removes every catch-all listener of server events.
    pub(crate) fn off_any(&mut self) {
        self.any.clear();
    }

    /// Removes every listener of emitted events.
    pub(crate) fn off_any_outgoing(&mut self) {
        self.outgoing.clear();
    }

    /// Removes the listener `id`, whatever it listens to. False when there
    /// is none (already removed, or a `once` listener that ran).
    pub(crate) fn remove(&mut self, id: ListenerId) -> bool {
        let mut found = remove_from(&mut self.any, id)
            || remove_from(&mut self.outgoing, id)
            || remove_from(&mut self.lifecycle, id);
        if !found {
            self.named.retain(|_, listeners| {
                found |= remove_from(listeners, id);
                !listeners.is_empty()
            });
        }
        found
    }

    /// The listeners of the server event `name`, in the order they run.
    pub(crate) fn listeners(&self, name: &str) -> Vec<ListenerId> {
        self.named
            .get(name)
            .map_or_else(Vec::new, |listeners| ids(listeners))
    }

    /// The catch-all listeners of server events, in the order they run.
    pub(crate) fn listeners_any(&self) -> Vec<ListenerId> {
        ids(&self.any)
    }

    /// The listeners of emitted events, in the order they run.
    pub(crate) fn listeners_any_outgoing(&self) -> Vec<ListenerId> {
        ids(&self.outgoing)
    }

    pub(crate) fn has_outgoing(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// Puts the handlers of a server event in `out`, in place of what it
    /// held, catch-all ones first; returns whether a `once` listener is
    /// among them (see [`remove_once`](Self::remove_once)).
    pub(crate) fn for_event(&self, name: &str, out: &mut Vec<EventHandler<S>>) -> bool {
        let named = self.named.get(name).map_or(&[][..], Vec::as_slice);
        out.clear();
        out.extend(
            self.any
                .iter()
                .chain(named)
                .map(|listener| listener.handler.clone()),
        );
        named.iter().any(|listener| listener.once)
    }

    /// Removes the `once` listeners of `name`, once they were taken to run.
    pub(crate) fn remove_once(&mut self, name: &str) {
        if let Some(listeners) = self.named.get_mut(name) {
            listeners.retain(|listener| !listener.once);
            if listeners.is_empty() {
                self.named.remove(name);
            }
        }
    }

    pub(crate) fn for_outgoing(&self) -> Vec<EventHandler<S>> {
        handlers(&self.outgoing)
    }

    pub(crate) fn for_lifecycle(&self) -> Vec<LifecycleHandler<S>> {
        handlers(&self.lifecycle)
    }
}

fn push<H>(list: &mut Vec<Listener<H>>, handler: H) -> ListenerId {
    let listener = Listener::new(handler, false);
    let id = listener.id;
    // Listeners come one at a time, and every connection keeps them.
    list.reserve_exact(1);
    list.push(listener);
    id
}

fn prepend<H>(list: &mut Vec<Listener<H>>, handler: H) -> ListenerId {
    let listener = Listener::new(handler, false);
    let id = listener.id;
    list.reserve_exact(1);
    list.insert(0, listener);
    id
}

fn remove_from<H>(list: &mut Vec<Listener<H>>, id: ListenerId) -> bool {
    let before = list.len();
    list.retain(|listener| listener.id != id);
    list.len() != before
}

fn ids<H>(list: &[Listener<H>]) -> Vec<ListenerId> {
    list.iter().map(|listener| listener.id).collect()
}

fn handlers<H: Clone>(list: &[Listener<H>]) -> Vec<H> {
    list.iter()
        .map(|listener| listener.handler.clone())
        .collect()
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

/// Names a listener, to remove it with
/// [`Socket::remove_listener`](crate::Socket::remove_listener).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

impl ListenerId {
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ListenerId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop(_: Event, _: ()) -> BoxFuture {
        Box::pin(async {})
    }

    /// How many handlers `name` has, and whether a `once` listener is among them.
    fn for_event(handlers: &Handlers<()>, name: &str) -> (usize, bool) {
        let mut out = Vec::new();
        let once = handlers.for_event(name, &mut out);
        (out.len(), once)
    }

    #[test]
    fn listeners_of_a_name_add_up_and_come_off_one_or_all_at_once() {
        let mut handlers = Handlers::<()>::default();
        let first = handlers.on("chat", noop);
        let second = handlers.on("chat", noop);
        let once = handlers.once("chat", noop);
        assert_eq!(handlers.listeners("chat"), [first, second, once]);
        assert_eq!(for_event(&handlers, "chat").0, 3);
        assert!(
            for_event(&handlers, "chat").1,
            "a once listener is among them"
        );

        handlers.remove_once("chat");
        assert_eq!(handlers.listeners("chat"), [first, second]);
        assert!(handlers.remove(first));
        assert!(!handlers.remove(first), "an id removes once");
        assert_eq!(handlers.listeners("chat"), [second]);
        handlers.off("chat");
        assert!(handlers.listeners("chat").is_empty());
        assert_eq!(for_event(&handlers, "chat").0, 0);
    }

    #[test]
    fn catch_all_listeners_run_first_and_prepended_ones_before_them() {
        let mut handlers = Handlers::<()>::default();
        let named = handlers.on("chat", noop);
        let any = handlers.on_any(noop);
        let front = handlers.prepend_any(noop);
        assert_eq!(handlers.listeners_any(), [front, any]);
        assert_eq!(for_event(&handlers, "chat").0, 3);
        assert_eq!(for_event(&handlers, "other").0, 2);
        assert!(handlers.remove(front));
        handlers.off_any();
        assert!(handlers.listeners_any().is_empty());
        assert_eq!(handlers.listeners("chat"), [named]);
    }

    #[test]
    fn lifecycle_and_outgoing_listeners_come_off_by_id() {
        let mut handlers = Handlers::<()>::default();
        let lifecycle = handlers.on_lifecycle(|_, _| async {});
        let outgoing = handlers.on_any_outgoing(noop);
        assert_eq!(handlers.for_lifecycle().len(), 1);
        assert!(handlers.has_outgoing());
        assert!(handlers.remove(lifecycle));
        assert!(handlers.remove(outgoing));
        assert!(handlers.for_lifecycle().is_empty());
        assert!(!handlers.has_outgoing());
    }
}
