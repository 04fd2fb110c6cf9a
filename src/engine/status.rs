//! What the handles may read of the link: which transport carries it now,
//! its Engine.IO session id, and whether an upgrade ever succeeded. Written
//! by the engine when a link opens or upgrades, and by the driver when it
//! ends.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::engine::transport::Transport;

/// Shared between the engine, the driver and the manager's handles.
#[derive(Debug, Default)]
pub(crate) struct LinkStatus {
    /// 0: no link; then the transport's code.
    transport: AtomicU8,
    sid: Mutex<Option<Arc<str>>>,
    /// An upgrade to WebSocket succeeded once, for `remember_upgrade`.
    upgraded: AtomicBool,
}

impl LinkStatus {
    /// A link opened with `transport`, for session `sid`.
    pub(crate) fn opened(&self, transport: Transport, sid: &Arc<str>) {
        *self.sid.lock().unwrap_or_else(PoisonError::into_inner) = Some(sid.clone());
        self.set_transport(transport);
    }

    /// The link moved to `transport`.
    pub(crate) fn set_transport(&self, transport: Transport) {
        let code = match transport {
            #[cfg(feature = "polling")]
            Transport::Polling => 1,
            Transport::WebSocket => 2,
        };
        self.transport.store(code, Ordering::Release);
    }

    /// An upgrade to WebSocket succeeded.
    #[cfg(feature = "polling")]
    pub(crate) fn upgraded(&self) {
        self.upgraded.store(true, Ordering::Relaxed);
        self.set_transport(Transport::WebSocket);
    }

    /// Whether an upgrade to WebSocket ever succeeded on this manager.
    pub(crate) fn ever_upgraded(&self) -> bool {
        self.upgraded.load(Ordering::Relaxed)
    }

    /// The link is gone.
    pub(crate) fn closed(&self) {
        self.transport.store(0, Ordering::Release);
        *self.sid.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The transport carrying the link, while one is open.
    pub(crate) fn transport(&self) -> Option<Transport> {
        match self.transport.load(Ordering::Acquire) {
            #[cfg(feature = "polling")]
            1 => Some(Transport::Polling),
            2 => Some(Transport::WebSocket),
            _ => None,
        }
    }

    /// The Engine.IO session id, while a link is open.
    pub(crate) fn sid(&self) -> Option<Arc<str>> {
        self.sid
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
