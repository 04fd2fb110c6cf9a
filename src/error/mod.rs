//! Typed errors, one enum per kind of operation.

pub(crate) mod protocol;
pub(crate) mod transport;

use crate::codec::parser::Parser;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use crate::error::protocol::ProtocolError;

pub use transport::TransportError;

/// Why a connection, or a namespace on it, could not be established.
///
/// Each variant's message says what happened once; the error it stems from,
/// if any, is its [`source`](std::error::Error::source), so reporters that
/// walk the chain (anyhow, eyre) print every cause exactly once.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL given to the builder does not parse.
    #[error("invalid URL {url:?}")]
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
    /// The async auth callback of
    /// [`ClientBuilder::auth_with`](crate::ClientBuilder::auth_with) failed
    /// (or gave a payload that does not serialize); the source is its error.
    #[error("the auth callback failed")]
    AuthFailed(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The connection under Socket.IO could not be opened, or broke before
    /// the namespace connected: refused, reset, a failed TLS handshake, a
    /// WebSocket or HTTP failure. Its accessors tell which.
    #[error(transparent)]
    Transport(TransportError),
    /// The server answered the WebSocket handshake with an HTTP status other
    /// than 101 Switching Protocols, or a polling request with a status
    /// other than 200 (the URL's `transport=` says which).
    #[error("{}", http_refusal(url, *status, body, engine_io.as_ref()))]
    HttpRefused {
        /// The URL tried, query values redacted.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body, as text (de-chunked).
        body: String,
        /// The Engine.IO error the body holds, when it is one
        /// (`{"code":0,"message":"Transport unknown"}`).
        engine_io: Option<EngineIoError>,
        /// How the transport tried before this one failed, when another was
        /// tried first (a WebSocket dropped by a proxy, then this refusal of
        /// the polling request); the refusal says more, so it is the error.
        #[source]
        other_transport: Option<Box<ConnectError>>,
    },
    /// What answered at the URL does not speak Engine.IO: its answer holds no
    /// open packet, or it ended the connection before the WebSocket handshake
    /// completed.
    #[error(
        "no Engine.IO server answered at {url} ({detail}): check the URL and the `path` option"
    )]
    NoEngineIo {
        /// The URL tried, query values redacted.
        url: String,
        /// What happened instead.
        detail: String,
    },
    /// The server sent something this client does not understand, before
    /// the namespace connected.
    #[error("the server broke the Socket.IO protocol")]
    Protocol(#[source] ProtocolError),
    /// The server speaks Socket.IO v2 (Engine.IO v3): it answered the
    /// CONNECT without a session id. This client speaks Socket.IO v5, the
    /// protocol of socket.io 3 and later servers, and the two cannot talk.
    #[error(
        "the server speaks Socket.IO v2 (a socket.io 2.x server), which this Socket.IO v5 \
         client cannot talk to: upgrade the server to socket.io 3 or later"
    )]
    UnsupportedServer,
    /// The server closed the connection before the namespace connected.
    #[error("the server closed the connection before the namespace connected")]
    HandshakeClosed,
    /// The server closed the link in answer to the namespace CONNECT,
    /// before it sent any Socket.IO packet: what a server does that uses
    /// another parser than this client's, as it cannot read the CONNECT.
    /// Client and server must use the same parser
    /// ([`ClientBuilder::parser`](crate::ClientBuilder::parser)); retrying
    /// cannot fix it, so a first connect ends at once.
    #[error(
        "the server closed the link in answer to the namespace CONNECT, as a server does \
         that uses another parser than this client's ({parser}): {}",
        parser_fix(*parser)
    )]
    ClosedAtConnect {
        /// This client's parser.
        parser: Parser,
    },
    /// A step of the connection got no answer within the connect timeout
    /// ([`ClientBuilder::timeout`](crate::ClientBuilder::timeout)): the HTTP
    /// response to the handshake, the Engine.IO open packet, or the server's
    /// reply to the namespace CONNECT. The `warn` log of the attempt names
    /// the step (`handshake` or `namespace CONNECT`).
    #[error(
        "no answer within {0:?} (an HTTP response, the Engine.IO open packet or the reply to \
         the namespace CONNECT): check the URL and the `path` option, or raise `timeout`"
    )]
    Timeout(Duration),
    /// The server refused the namespace (middleware error or unknown namespace).
    #[error("the server refused the connection: {message}")]
    Rejected {
        /// The server's message.
        message: String,
        /// The `data` the server attached to the error, if any.
        data: Option<Value>,
    },
    /// Every reconnection attempt failed; the source is the last attempt's error.
    #[error("gave up after {attempts} reconnection attempts")]
    ReconnectFailed {
        /// How many attempts were made.
        attempts: u32,
        /// Why the last attempt failed (none when no attempt was made).
        #[source]
        last: Option<Box<ConnectError>>,
    },
    /// The client ended the attempt before the namespace connected:
    /// `disconnect()` was called, or the link was dropped on purpose with
    /// [`Engine::close`](crate::Engine::close) (which reconnection retries).
    #[error("ended by the client before the connection was established")]
    Aborted,
    /// The server ended the namespace before it was established.
    #[error("the server disconnected the namespace")]
    ServerDisconnect,
    /// The connection is closed for good: its task is gone (every handle was
    /// dropped, or the runtime shut down), or its link ended and will not be
    /// reopened (reconnection is off, or the server or the client ended the
    /// session), so a socket still waiting to connect gives up with this.
    #[error("the connection is closed")]
    Closed,
}

/// Shows an error and its sources on one line, each once: what the logs and
/// [`SocketEvent`](crate::SocketEvent)'s `Display` print.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

/// An Engine.IO error, as a server writes it in the body of an HTTP 400:
/// `{"code":0,"message":"Transport unknown"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineIoError {
    /// The Engine.IO error code: 0 transport unknown, 1 session id unknown,
    /// 2 bad handshake method, 3 bad request, 4 forbidden, 5 unsupported
    /// protocol version.
    pub code: u64,
    /// The server's message.
    pub message: String,
}

impl EngineIoError {
    /// Reads an Engine.IO error body; `None` when the body is something else.
    /// The JSON object is looked for inside the body, so that text around it
    /// (a body kept with its chunk sizes, a proxy's wrapping) does not hide it.
    pub(crate) fn parse(body: &str) -> Option<Self> {
        #[derive(serde::Deserialize)]
        struct Wire {
            code: u64,
            #[serde(default)]
            message: String,
        }
        let json = body.get(body.find('{')?..=body.rfind('}')?)?;
        let wire: Wire = serde_json::from_str(json).ok()?;
        Some(EngineIoError {
            code: wire.code,
            message: wire.message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_io_error_bodies() {
        let table = [
            (
                r#"{"code":0,"message":"Transport unknown"}"#,
                Some((0, "Transport unknown")),
            ),
            (
                "28\r\n{\"code\":0,\"message\":\"Transport unknown\"}\r\n0\r\n\r\n",
                Some((0, "Transport unknown")),
            ),
            (r#"{"code":5}"#, Some((5, ""))),
            ("Cannot GET /", None),
            (r#"{"message":"no code"}"#, None),
            ("}{", None),
            ("", None),
        ];
        for (body, want) in table {
            let got = EngineIoError::parse(body);
            let want = want.map(|(code, message)| EngineIoError {
                code,
                message: message.to_owned(),
            });
            assert_eq!(got, want, "{body:?}");
        }
    }

    #[test]
    fn refusals_say_what_to_do() {
        let refusal_at = |url: &str, status, body: &str| ConnectError::HttpRefused {
            url: url.into(),
            status,
            body: body.into(),
            engine_io: EngineIoError::parse(body),
            other_transport: None,
        };
        let refusal = |status, body: &str| {
            refusal_at("ws://h/socket.io/?EIO=4&transport=websocket", status, body)
        };
        let unknown = r#"{"code":0,"message":"Transport unknown"}"#;
        let no_ws = refusal(400, unknown).to_string();
        assert!(no_ws.contains("WebSocket handshake"), "{no_ws}");
        assert!(no_ws.contains("does not allow WebSocket"), "{no_ws}");
        assert!(no_ws.contains("[Transport::Polling]"), "{no_ws}");
        let url = "http://h/socket.io/?EIO=4&transport=polling";
        let no_polling = refusal_at(url, 400, unknown).to_string();
        assert!(no_polling.contains("polling request"), "{no_polling}");
        assert!(
            no_polling.contains("does not allow polling"),
            "{no_polling}"
        );
        assert!(
            no_polling.contains("[Transport::WebSocket]"),
            "{no_polling}"
        );
        let missing = refusal_at(url, 404, "Cannot GET").to_string();
        assert!(missing.contains("`path`"), "{missing}");
        assert!(missing.contains(r#".path("/app/socket.io/")"#), "{missing}");
        assert!(missing.contains("\"Cannot GET\""), "{missing}");
        assert!(refusal(403, "").retrying_cannot_fix());
        assert!(!refusal(429, "").retrying_cannot_fix());
        assert!(!refusal(408, "").retrying_cannot_fix());
        assert!(!refusal(503, "").retrying_cannot_fix());
        assert!(ConnectError::UnsupportedServer.retrying_cannot_fix());
        assert!(!ConnectError::Timeout(Duration::from_secs(1)).retrying_cannot_fix());
    }
}

/// The message of [`ConnectError::HttpRefused`]: what the server said, and
/// what to do about it where that is known.
fn http_refusal(url: &str, status: u16, body: &str, engine_io: Option<&EngineIoError>) -> String {
    let polling = url.contains("transport=polling");
    let (what, other) = if polling {
        ("polling request", "WebSocket")
    } else {
        ("WebSocket handshake", "Polling")
    };
    let mut text = format!("the server answered the {what} at {url} with HTTP {status}");
    match engine_io {
        Some(error) => {
            text.push_str(&format!(
                ", Engine.IO error {} {:?}",
                error.code, error.message
            ));
            match error.code {
                0 => {
                    let refused = if polling { "polling" } else { "WebSocket" };
                    text.push_str(&format!(
                        ": the server does not allow {refused} (its `transports` option): \
                         use .transports([Transport::{other}])"
                    ));
                }
                5 => text.push_str(": the server speaks another Engine.IO protocol version"),
                _ => {}
            }
        }
        None => {
            let body = body.trim();
            if !body.is_empty() {
                text.push_str(&format!(": {body:?}"));
            }
            if status == 404 {
                text.push_str(
                    ": check the `path` option; the URL's path names the namespace, so a \
                     server under a prefix (http://host/app) is reached with \
                     .path(\"/app/socket.io/\")",
                );
            }
        }
    }
    text
}

impl ConnectError {
    /// Whether retrying the same connection cannot help: the server is of
    /// another kind or version, refuses the transport or the request, or the
    /// TLS handshake failed. Such a failure ends a first `connect()` at once.
    pub(crate) fn retrying_cannot_fix(&self) -> bool {
        match self {
            ConnectError::UnsupportedServer | ConnectError::ClosedAtConnect { .. } => true,
            ConnectError::HttpRefused {
                status, engine_io, ..
            } => {
                engine_io
                    .as_ref()
                    .is_some_and(|e| e.code == 0 || e.code == 5)
                    || ((400..500).contains(status) && *status != 408 && *status != 429)
            }
            ConnectError::Transport(error) => error.is_tls(),
            _ => false,
        }
    }
}

/// What to change when a server closes the link at a CONNECT of `parser`.
fn parser_fix(parser: Parser) -> &'static str {
    match parser {
        Parser::Default => {
            "for a server that runs socket.io-msgpack-parser, set \
             ClientBuilder::parser(Parser::MsgPack) (cargo feature `msgpack`)"
        }
        #[cfg(feature = "msgpack")]
        Parser::MsgPack => {
            "for a server with socket.io's own parser, leave ClientBuilder::parser at \
             Parser::Default"
        }
    }
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
    #[error("cannot serialize the arguments")]
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
    #[error("cannot decode the acknowledgement")]
    Decode(#[source] serde_json::Error),
}
