//! Where a handler's answer to the server's ack request goes. The protocol
//! layer defines the seam; the driver implements it for its command channel,
//! so answers reach the one task that writes, and nothing here points up.

use crate::codec::Frame;

/// The answer to a server's ack request, sent only on the link that asked:
/// its messages, as the parser made them.
#[derive(Debug)]
pub(crate) struct AckAnswer {
    /// The link the request came on (see `Connection::send_ack_answer`).
    pub(crate) link: u64,
    pub(crate) frames: Vec<Frame>,
}

/// The connection is gone: the answer can no longer be sent.
#[derive(Debug)]
pub(crate) struct SinkClosed;

/// Takes ack answers to the task that writes them. Called from any thread,
/// by `Event::ack`.
pub(crate) trait AckSink: Send + Sync + 'static {
    /// Queues `answer`. Must not block.
    fn send(&self, answer: AckAnswer) -> Result<(), SinkClosed>;
}
