//! Typed errors, one enum per kind of operation.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use crate::protocol_error::ProtocolError;

/// The error type of the WebSocket layer, re-exported so callers can match on it.
pub use tokio_tungstenite::tungstenite::Error as WsError;

/// Why a connection, or a namespace on it, could not be established.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL given to the builder does not parse.
    #[error("invalid URL {url:?}: {source}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What the URL parser said.
        #[source]
        source: url::ParseError,
    },
    /// The URL's scheme is not one of http, https, ws or wss.
    #[error("unsupported URL scheme {0:?}: use http, https, ws or wss")]
    UnsupportedScheme(String),
    /// A builder option is out of its valid range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The auth payload is not a JSON object.
    #[error("auth must be a JSON object, got {0}")]
    InvalidAuth(String),
    /// The WebSocket could not be opened or broke during the handshake.
    #[error("transport error: {0}")]
    Transport(#[source] Arc<WsError>),
    /// The server answered the handshake with something this client does not understand.
    #[error("handshake failed: {0}")]
    Protocol(#[source] ProtocolError),
    /// The server closed the connection during the handshake.
    #[error("the server closed the connection during the handshake")]
    HandshakeClosed,
    /// No Engine.IO open packet arrived within the connect timeout.
    #[error("no handshake within {0:?}")]
    Timeout(Duration),
    /// The server refused the namespace (middleware error or unknown namespace).
    #[error("the server refused the connection: {message}")]
    Rejected {
        /// The server's message.
        message: String,
        /// The `data` the server attached to the error, if any.
        data: Option<Value>,
    },
    /// Every reconnection attempt failed.
    #[error("gave up after {attempts} reconnection attempts")]
    ReconnectFailed {
        /// How many attempts were made.
        attempts: u32,
    },
    /// `disconnect()` was called before the connection was established.
    #[error("disconnected by the client before the connection was established")]
    Aborted,
    /// The server ended the namespace before it was established.
    #[error("the server disconnected the namespace")]
    ServerDisconnect,
    /// The connection's task is gone (every handle was dropped or the runtime shut down).
    #[error("the connection is closed")]
    Closed,
}

/// An emitted event that could not be queued, handed back to the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsentEmit {
    /// The event name.
    pub name: String,
    /// The arguments, as JSON. A binary value stands as the placeholder
    /// `{"_placeholder":true,"num":N}`; its bytes are `attachments[N]`.
    pub args: Vec<Value>,
    /// The binary attachments of the arguments, in order.
    pub attachments: Vec<Bytes>,
}

/// Why an event could not be emitted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The name is reserved by Socket.IO (connect, disconnect, ...).
    #[error("{0:?} is a reserved event name")]
    ReservedName(String),
    /// The arguments could not be serialized to JSON.
    #[error("cannot serialize the arguments: {0}")]
    Serialize(#[source] serde_json::Error),
    /// The socket is disconnected and the offline buffer is full; the event is handed back.
    #[error("offline buffer full ({capacity} events); event {:?} not queued", .unsent.name)]
    BufferFull {
        /// The capacity of the offline buffer.
        capacity: usize,
        /// The event that was not queued.
        unsent: Box<UnsentEmit>,
    },
    /// The encoded event has a WebSocket message larger than the server accepts
    /// (its maxPayload, announced when a link opens): the text frame, or one of
    /// the binary attachments. Nothing was sent: the server would have closed the
    /// whole connection. Checked once the first link of the connection opened.
    #[error("the event has a {size}-byte message; the server accepts at most {max} bytes")]
    PayloadTooLarge {
        /// The size in bytes of the largest message of the event.
        size: u64,
        /// The server's limit in bytes.
        max: u64,
    },
    /// With `retries`, the server acknowledged none of the tries.
    #[error("not acknowledged after {tries} tries")]
    Unacknowledged {
        /// How many times the event was sent.
        tries: u32,
    },
    /// A volatile event was dropped because the socket is not connected.
    #[error("volatile event dropped: not connected")]
    VolatileDropped,
    /// The event has already been acknowledged, or the server did not ask for an ack.
    #[error("no acknowledgement is pending for this event")]
    NoAckPending,
    /// The connection's task is gone.
    #[error("the connection is closed")]
    Closed,
}

/// Why an acknowledged emit did not produce a reply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// The event could not be emitted.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// No reply arrived in time.
    #[error("no acknowledgement within {0:?}")]
    Timeout(Duration),
    /// The connection was lost after the event was sent and before the reply came.
    #[error("disconnected before the acknowledgement arrived")]
    Disconnected,
    /// The reply does not decode into the requested type.
    #[error("cannot decode the acknowledgement: {0}")]
    Decode(#[source] serde_json::Error),
}
