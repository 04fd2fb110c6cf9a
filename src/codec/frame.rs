//! One WebSocket message, as the connection writes it.

use bytes::Bytes;

/// One message to write on the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A text message (an Engine.IO packet).
    Text(String),
    /// A binary message (a Socket.IO attachment, or a msgpack packet).
    Binary(Bytes),
}

impl Frame {
    /// Its size in bytes, which the server's maxPayload limits.
    pub(crate) fn len(&self) -> usize {
        match self {
            Frame::Text(text) => text.len(),
            Frame::Binary(data) => data.len(),
        }
    }
}
