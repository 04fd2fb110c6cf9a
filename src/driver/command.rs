//! What the handles ask of the driver: the one vocabulary between the
//! public face and the IO task. Each command is at most a pointer.

use std::sync::Arc;

use crate::queue::{self, WeakSender};

use crate::proto::ack_sink::{AckAnswer, AckSink, SinkClosed};
use crate::proto::connection::{AuthSource, ConnectWaiter, Resume};
use crate::proto::emit::Emit;
use crate::proto::event::Delivery;
use crate::proto::status::SocketStatus;

/// A namespace socket handed to the driver.
pub(crate) struct Attach {
    pub(crate) path: Arc<str>,
    pub(crate) generation: u64,
    pub(crate) auth: AuthSource,
    pub(crate) status: Arc<SocketStatus>,
    pub(crate) resume: Option<Resume>,
    pub(crate) emits: queue::Receiver<Emit>,
    pub(crate) deliveries: queue::Sender<Delivery>,
}

/// Commands from the handles to the driver. Each is at most a pointer: the
/// queue allocates room for a block of them up front on every connection, and
/// commands are rare.
pub(crate) enum Command {
    /// Register a namespace socket (it stays inactive until `Connect`).
    Attach(Box<Attach>),
    /// Connect the namespace; the waiter learns the outcome.
    Connect(Box<ConnectRequest>),
    /// Disconnect the namespace for good.
    Disconnect(Box<SocketRef>),
    /// The socket's last handle is gone.
    Dropped(Box<DroppedSocket>),
    /// The answer to a server's ack request.
    Ack(Box<AckAnswer>),
    /// Drop the link without a goodbye (`engine().close()`); reconnection follows.
    CloseEngine,
}

/// A namespace socket as its handles know it: a later socket of the same
/// path has another generation.
pub(crate) struct SocketRef {
    pub(crate) path: Arc<str>,
    pub(crate) generation: u64,
}

/// See [`Command::Connect`].
pub(crate) struct ConnectRequest {
    pub(crate) socket: SocketRef,
    pub(crate) waiter: Option<ConnectWaiter>,
}

/// See [`Command::Dropped`].
pub(crate) struct DroppedSocket {
    pub(crate) socket: SocketRef,
    /// Whether to send DISCONNECT: not when the whole connection goes with
    /// the socket, so that the server keeps the session for a later recovery,
    /// as after a process exit.
    pub(crate) leave: bool,
}

/// Ack answers travel on the command channel, so they are written in order
/// with everything else. Weak: a pending answer does not keep the connection
/// alive once every handle is gone.
impl AckSink for WeakSender<Command> {
    fn send(&self, answer: AckAnswer) -> Result<(), SinkClosed> {
        let commands = self.upgrade().ok_or(SinkClosed)?;
        commands
            .try_send(Command::Ack(Box::new(answer)))
            .map_err(|_| SinkClosed)
    }
}
