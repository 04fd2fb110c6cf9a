//! What a socket's handles learn from the connection at once, outside the
//! order of its deliveries: its status, and the answers to its emits. The
//! connection queues them; the driver, which holds the status the handles
//! read and the waiters of their emits, applies them.

use std::sync::Arc;

use crate::error::AckError;
use crate::proto::emit::AckPayload;

/// One thing for a socket's handles, as `Connection::poll_update` hands it out.
#[derive(Debug)]
pub(crate) enum Update {
    /// What the handles read of the socket changed.
    Status(StatusChange),
    /// The server acknowledged the emit sent with this ack id. An id
    /// nobody waits for (the caller gave up) is for the driver to drop.
    Ack(u64, AckPayload),
    /// The emits sent with an ack id will get no answer: the link that
    /// carried them is gone, or the socket ended.
    AcksLost,
    /// The at-least-once emit queued with this key is done.
    Reliable(u64, Result<AckPayload, AckError>),
}

/// A change of what the handles read of a socket.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StatusChange {
    /// Connected. `sid` is `None` while a long replay flows of a session
    /// restored from a state that does not name its sid, before the server's
    /// reply names it.
    Connected {
        sid: Option<Arc<str>>,
        pid: Option<Arc<str>>,
        recovered: bool,
    },
    /// The server refused the last connect: it recovered nothing.
    Refused,
    Disconnected,
    /// The maxPayload of the link that opened.
    MaxPayload(u64),
}
