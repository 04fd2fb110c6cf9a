//! One WebSocket message, as the connection writes it.

use bytes::Bytes;

/// One message to write on the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A text message (an Engine.IO packet).
    Text(String),
    /// A binary message (a Socket.IO attachment).
    Binary(Bytes),
}
