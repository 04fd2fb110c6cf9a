//! What a socket delivers to the application: events from the server and
//! changes of the connection's state.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc::WeakUnboundedSender;

use crate::error::{ConnectError, EmitError};
use crate::event_args::ArgsDeserializer;
use crate::socketio::args::write_args;
use crate::socketio::packet::write_ack;

/// Why a socket was disconnected. Displays as the reference client's reason string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The server disconnected the socket (`socket.disconnect()` on the server). No reconnection.
    IoServerDisconnect,
    /// The client called `disconnect()`. No reconnection.
    IoClientDisconnect,
    /// Nothing arrived from the server for pingInterval + pingTimeout.
    PingTimeout,
    /// The connection was closed (by the server or the network).
    TransportClose,
    /// The connection failed with an error.
    TransportError,
    /// The server sent something this client cannot parse.
    ParseError,
    /// The link was dropped on purpose with `engine().close()`.
    ForcedClose,
}

impl DisconnectReason {
    /// The reason as the reference JavaScript client names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IoServerDisconnect => "io server disconnect",
            Self::IoClientDisconnect => "io client disconnect",
            Self::PingTimeout => "ping timeout",
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::ParseError => "parse error",
            Self::ForcedClose => "forced close",
        }
    }

    /// Whether the client reconnects by itself after this reason (when reconnection is on).
    pub fn reconnects(self) -> bool {
        !matches!(self, Self::IoServerDisconnect | Self::IoClientDisconnect)
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happened on a socket, in the order it happened.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SocketEvent {
    /// The namespace is connected. `recovered` says whether the server restored the
    /// previous session (see [`Socket::recovered`](crate::Socket::recovered)).
    Connect {
        /// Whether the session was recovered.
        recovered: bool,
    },
    /// The socket lost its connection.
    Disconnect(DisconnectReason),
    /// A connection attempt failed (the server refused the namespace, or the link could not be opened).
    ConnectError(ConnectError),
    /// A reconnection attempt starts; the number counts from 1.
    ReconnectAttempt(u32),
    /// Reconnected after the given number of attempts.
    Reconnect(u32),
    /// A reconnection attempt failed.
    ReconnectError(ConnectError),
    /// Every reconnection attempt failed; the client stops trying.
    ReconnectFailed,
    /// An event sent by the server.
    Event(Event),
}

/// What the driver hands a socket's dispatcher.
#[derive(Debug, Clone)]
pub(crate) enum Dispatch {
    /// For the handlers and the streams.
    Socket(SocketEvent),
    /// An emitted event just written to the connection, for the outgoing listeners.
    Outgoing(Event),
}

impl From<SocketEvent> for Dispatch {
    fn from(event: SocketEvent) -> Self {
        Dispatch::Socket(event)
    }
}

/// An event sent by the server: a name, its arguments, and, when the server asked
/// for one, the means to acknowledge it.
///
/// Cloning is cheap: clones share the same arguments.
#[derive(Clone)]
pub struct Event {
    inner: Arc<EventInner>,
}

struct EventInner {
    name: String,
    args: Vec<Value>,
    attachments: Vec<Bytes>,
    offset: Option<String>,
    ack: Option<AckRequest>,
}

/// The server's request for an acknowledgement, answerable once.
pub(crate) struct AckRequest {
    pub(crate) id: u64,
    pub(crate) nsp: Arc<str>,
    /// Which link the request came on: an answer on a later link would reach the wrong socket.
    pub(crate) link: u64,
    pub(crate) sink: WeakUnboundedSender<crate::driver::Control>,
    pub(crate) answered: AtomicBool,
}

impl Event {
    pub(crate) fn new(
        name: String,
        args: Vec<Value>,
        attachments: Vec<Bytes>,
        offset: Option<String>,
        ack: Option<AckRequest>,
    ) -> Self {
        Event {
            inner: Arc::new(EventInner {
                name,
                args,
                attachments,
                offset,
                ack,
            }),
        }
    }

    /// The event name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The arguments as JSON values, without the recovery offset: the untyped view.
    ///
    /// A binary attachment stays where the server put it, as the placeholder
    /// `{"_placeholder":true,"num":N}`; its bytes are
    /// [`attachments()[N]`](Self::attachments). [`decode`](Self::decode) puts the
    /// bytes in place instead.
    pub fn args(&self) -> &[Value] {
        &self.inner.args
    }

    /// The binary attachments that came with the event, in order: the bytes of the
    /// placeholder `{"_placeholder":true,"num":N}` in [`args`](Self::args) are
    /// `attachments()[N]`. Empty for an event without binary data.
    ///
    /// The client waits for exactly as many binary frames as the packet announces,
    /// at most 256 (more is a protocol error, and so is a placeholder whose `N` has
    /// no attachment): the link then ends with the reason "parse error" and
    /// reconnects per the policy.
    pub fn attachments(&self) -> &[Bytes] {
        &self.inner.attachments
    }

    /// Decodes the arguments into `T`.
    ///
    /// A tuple type takes the arguments one per field (`(String, u32)` for two
    /// arguments), `()` takes none, and any other type takes the single argument.
    ///
    /// Binary attachments decode as their bytes, at any depth, into fields of type
    /// [`Bytes`], `Vec<u8>` or `serde_bytes` types. A `serde_json::Value` cannot hold
    /// bytes, so it receives the placeholder, as in [`args`](Self::args); so do
    /// untagged enums. [`attachments`](Self::attachments) has the bytes.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(ArgsDeserializer::new(
            &self.inner.args,
            &self.inner.attachments,
        ))
    }

    /// The connection-state-recovery offset the server attached to this event, if any.
    ///
    /// Store it with the session's pid (see
    /// [`Socket::recovery_state`](crate::Socket::recovery_state)) once the event is
    /// handled, to resume after a restart.
    pub fn offset(&self) -> Option<&str> {
        self.inner.offset.as_deref()
    }

    /// Whether the server asked for an acknowledgement that has not been sent yet.
    pub fn wants_ack(&self) -> bool {
        self.inner
            .ack
            .as_ref()
            .is_some_and(|ack| !ack.answered.load(Ordering::Acquire))
    }

    /// Answers the server's acknowledgement request with `args` (same rules as
    /// [`Socket::emit`](crate::Socket::emit): a tuple is several arguments).
    ///
    /// Binary values ([`Bytes`], `serde_bytes`) in `args` go out as attachments of a
    /// BINARY_ACK, as with `emit`.
    ///
    /// Only the first answer is sent; later ones, or an answer to an event that asked
    /// for none, fail with [`EmitError::NoAckPending`]. An answer after the link was
    /// lost is dropped, since the server's request died with the link. So is an
    /// answer with a frame larger than the server's maxPayload (logged as a warning),
    /// since the server would close the whole connection over it.
    pub fn ack<A: Serialize + ?Sized>(&self, args: &A) -> Result<(), EmitError> {
        let Some(ack) = &self.inner.ack else {
            return Err(EmitError::NoAckPending);
        };
        let mut json = String::new();
        let mut attachments = Vec::new();
        write_args(&mut json, args, &mut attachments).map_err(EmitError::Serialize)?;
        if ack.answered.swap(true, Ordering::AcqRel) {
            return Err(EmitError::NoAckPending);
        }
        let mut frame = String::with_capacity(json.len() + ack.nsp.len() + 24);
        frame.push('4');
        write_ack(&mut frame, &ack.nsp, ack.id, &json, attachments.len());
        let sink = ack.sink.upgrade().ok_or(EmitError::Closed)?;
        sink.send(crate::driver::Control::Ack {
            link: ack.link,
            frame,
            attachments,
        })
        .map_err(|_| EmitError::Closed)
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("name", &self.inner.name)
            .field("args", &self.inner.args)
            .field("attachments", &self.inner.attachments.len())
            .field("offset", &self.inner.offset)
            .field("ack", &self.inner.ack.as_ref().map(|a| a.id))
            .finish()
    }
}
