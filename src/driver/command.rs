//! What the handles ask of the driver: the one vocabulary between the
//! public face and the IO task. Each command is at most a pointer.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::error::{AckError, ConnectError, UnsentEmit};
use crate::proto::ack_sink::{AckAnswer, AckSink, SinkClosed};
use crate::proto::auth::AuthSource;
use crate::proto::connection::SocketId;
use crate::proto::emit::{AckPayload, EncodedEvent};
use crate::proto::event::Delivery;
use crate::proto::recovery::RecoveryState;
use crate::queue::{self, WeakSender};

pub(crate) use super::status::SocketStatus;

/// Where the outcome of a `connect()` goes.
pub(crate) type ConnectWaiter = oneshot::Sender<Result<(), ConnectError>>;

/// Where the answer to an emit that asked for an ack goes.
pub(crate) type AckWaiter = oneshot::Sender<Result<AckPayload, AckError>>;

/// What a socket's dispatcher receives: a delivery of the connection, with
/// the `connect()` callers its outcome answers.
pub(crate) type Dispatch = Delivery<Vec<ConnectWaiter>>;

/// An emit, as a socket handle queues it for the driver.
#[derive(Debug)]
pub(crate) enum Emit {
    /// No ack asked: sent once, forgotten.
    Plain(EncodedEvent),
    /// Sent once; the waiter gets the ack. The caller times out on its own.
    WithAck(Box<AckedEmit>),
    /// Sent until acknowledged, each try waiting this long for its ack.
    AtLeastOnce(Box<AckedEmit>, Duration),
}

/// An emit that asks for an ack.
#[derive(Debug)]
pub(crate) struct AckedEmit {
    pub(crate) event: EncodedEvent,
    pub(crate) waiter: AckWaiter,
}

impl Emit {
    /// The event it carries, handed back to the caller.
    pub(crate) fn into_unsent(self) -> UnsentEmit {
        match self {
            Emit::Plain(event) => event.into_unsent(),
            Emit::WithAck(acked) | Emit::AtLeastOnce(acked, _) => acked.event.into_unsent(),
        }
    }
}

/// A namespace socket handed to the driver.
pub(crate) struct Attach {
    pub(crate) id: SocketId,
    pub(crate) path: Arc<str>,
    pub(crate) auth: AuthSource,
    pub(crate) status: Arc<SocketStatus>,
    pub(crate) recovery: Option<RecoveryState>,
    pub(crate) emits: queue::Receiver<Emit>,
    pub(crate) deliveries: queue::Sender<Dispatch>,
}

/// Commands from the handles to the driver. Each is at most a pointer, so
/// that a queue of them stays small; commands are rare.
pub(crate) enum Command {
    /// Register a namespace socket (it stays inactive until `Connect`).
    Attach(Box<Attach>),
    /// Connect the namespace; the waiter learns the outcome.
    Connect(Box<ConnectRequest>),
    /// Disconnect the namespace for good; the waiter hears once its
    /// DISCONNECT is flushed on the link, or at once without one.
    Disconnect(Box<DisconnectRequest>),
    /// Disconnect every namespace and close the link; the waiter hears once
    /// the link is closed, or at once without one.
    DisconnectAll(FlushWaiter),
    /// The socket's last handle is gone.
    Dropped(Box<DroppedSocket>),
    /// The answer to a server's ack request.
    Ack(Box<AckAnswer>),
    /// Drop the link without a goodbye (`engine().close()`); reconnection follows.
    CloseEngine,
}

/// Dropped (its only use) once what was written before it left on the link.
pub(crate) type FlushWaiter = tokio::sync::oneshot::Sender<()>;

/// See [`Command::Disconnect`].
pub(crate) struct DisconnectRequest {
    pub(crate) socket: SocketId,
    pub(crate) flushed: FlushWaiter,
}

/// See [`Command::Connect`].
pub(crate) struct ConnectRequest {
    pub(crate) socket: SocketId,
    pub(crate) waiter: Option<ConnectWaiter>,
}

/// See [`Command::Dropped`].
pub(crate) struct DroppedSocket {
    pub(crate) socket: SocketId,
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
