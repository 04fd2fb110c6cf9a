//! An open Engine.IO link, whatever transport carries it: what the driver
//! reads from and writes to. Each transport implements [`Link`]; the driver
//! knows no other.

use std::task::{Context, Poll};

use bytes::Bytes;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::codec::Frame;
use crate::error::protocol::ProtocolError;
use crate::error::ConnectError;

/// A message from the server: an Engine.IO packet, or a binary attachment.
#[derive(Debug)]
pub(crate) enum LinkMessage {
    Text(Utf8Bytes),
    Binary(Bytes),
}

/// Why a link failed.
#[derive(Debug)]
pub(crate) enum LinkError {
    /// The server sent something the client refuses, such as a message
    /// above the size limit.
    Refused(ProtocolError),
    /// Reading or writing failed.
    Failed(ConnectError),
}

/// An open link. Polled by one task only; every method may be called again
/// after `Pending`, with the latest waker.
pub(crate) trait Link: Send {
    /// The next message; `None` once the server closed the link.
    fn poll_receive(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<LinkMessage, LinkError>>>;

    /// Ready when [`start_send`](Self::start_send) may take a frame.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>>;

    /// Queues a frame; call only after `poll_ready` said ready.
    fn start_send(&mut self, frame: Frame) -> Result<(), LinkError>;

    /// Writes out what was queued.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>>;

    /// Closes the link with a goodbye to the server.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>>;
}

/// An open link of any transport.
pub(crate) type BoxedLink = Box<dyn Link>;
