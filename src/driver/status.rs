//! The few facts about a socket that its handles read while the driver owns
//! the connection. Written only on (dis)connect, never per event, by the
//! driver, as the connection's [`StatusChange`]s say.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::proto::update::StatusChange;

/// Shared between a socket's handles, which read it, and the driver.
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

    /// Applies what the connection says changed.
    pub(crate) fn apply(&self, change: StatusChange) {
        match change {
            StatusChange::Connected {
                sid,
                pid,
                recovered,
            } => {
                *self.id.lock().unwrap_or_else(PoisonError::into_inner) = sid;
                *self.pid.lock().unwrap_or_else(PoisonError::into_inner) = pid;
                self.recovered.store(recovered, Ordering::Release);
                self.connected.store(true, Ordering::Release);
            }
            StatusChange::Refused => self.recovered.store(false, Ordering::Release),
            StatusChange::Disconnected => {
                self.connected.store(false, Ordering::Release);
                *self.id.lock().unwrap_or_else(PoisonError::into_inner) = None;
            }
            // Nothing else is published with it, so no ordering is needed.
            StatusChange::MaxPayload(max) => self.max_payload.store(max, Ordering::Relaxed),
        }
    }
}
