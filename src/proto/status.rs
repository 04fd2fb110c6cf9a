//! The few facts about a socket that its handles read while the driver owns
//! the connection. Written only on (dis)connect, never per event.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Shared between a socket's handles and the connection state machine that drives it.
#[derive(Default)]
pub(crate) struct SocketStatus {
    connected: AtomicBool,
    recovered: AtomicBool,
    id: Mutex<Option<Arc<str>>>,
    pid: Mutex<Option<Arc<str>>>,
    /// The server's maxPayload from the last Engine.IO open packet; 0 until a
    /// link opened.
    max_payload: AtomicU64,
}

impl SocketStatus {
    pub(crate) fn connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    pub(crate) fn recovered(&self) -> bool {
        self.recovered.load(Ordering::Acquire)
    }

    pub(crate) fn id(&self) -> Option<Arc<str>> {
        self.id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The private session id of the current session, if the server offers recovery.
    pub(crate) fn pid(&self) -> Option<Arc<str>> {
        self.pid
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The largest WebSocket message the server accepts, in bytes; `None` until
    /// the first link opened.
    pub(crate) fn max_payload(&self) -> Option<u64> {
        match self.max_payload.load(Ordering::Relaxed) {
            0 => None,
            max => Some(max),
        }
    }

    /// Records the maxPayload a new link announced.
    pub(crate) fn set_max_payload(&self, max: u64) {
        // Nothing else is published with it, so no ordering is needed.
        self.max_payload.store(max, Ordering::Relaxed);
    }

    /// The socket is connected; `id` is `None` while a long replay of a
    /// session restored from a state that does not name its sid flows,
    /// before the server's reply names it.
    pub(crate) fn set_connected(
        &self,
        id: Option<Arc<str>>,
        pid: Option<Arc<str>>,
        recovered: bool,
    ) {
        *self.id.lock().unwrap_or_else(PoisonError::into_inner) = id;
        *self.pid.lock().unwrap_or_else(PoisonError::into_inner) = pid;
        self.recovered.store(recovered, Ordering::Release);
        self.connected.store(true, Ordering::Release);
    }

    /// The server refused the last connect: it recovered nothing.
    pub(crate) fn set_refused(&self) {
        self.recovered.store(false, Ordering::Release);
    }

    pub(crate) fn set_disconnected(&self) {
        self.connected.store(false, Ordering::Release);
        *self.id.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}
