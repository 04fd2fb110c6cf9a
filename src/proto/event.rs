//! What a socket delivers to the application: events from the server and
//! changes of the connection's state.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::codec::arg_deserializer::{TextArgsDeserializer, ValueArgsDeserializer};
use crate::codec::packet::RawEvent;
use crate::codec::parser::{self, EventData, Parser};
use crate::codec::raw::{Span, Spans, Text};
use crate::error::protocol::ProtocolError;
use crate::error::{ConnectError, EmitError, ErrorChain};
use crate::proto::ack_sink::{AckAnswer, AckSink};

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
    /// The session cannot be recovered and is given up: after a recovery,
    /// the server replayed the message that ended the previous link (one the
    /// client refuses: too large, or malformed), and would replay it after
    /// every reconnect. The next connect starts a fresh session; what the
    /// server held for the old one from that message on is not received.
    RecoveryAbandoned(ProtocolError),
    /// The server's heartbeat: a ping came (and was answered), as the JS
    /// manager's `ping` event. For liveness displays; every
    /// `pingInterval` (25 s by default).
    Ping,
    /// An event sent by the server.
    Event(Event),
}

/// One line for a log or a status display: what happened, and for a failure
/// the error's message with its hint and every cause.
impl fmt::Display for SocketEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect { recovered: true } => f.write_str("connected, session recovered"),
            Self::Connect { recovered: false } => f.write_str("connected"),
            Self::Disconnect(reason) => write!(f, "disconnected: {reason}"),
            Self::ConnectError(error) => write!(f, "connect error: {}", ErrorChain(error)),
            Self::ReconnectAttempt(n) => write!(f, "reconnection attempt {n}"),
            Self::Reconnect(n) => write!(f, "reconnected after {n} attempts"),
            Self::ReconnectError(error) => {
                write!(f, "reconnection attempt failed: {}", ErrorChain(error))
            }
            Self::ReconnectFailed => f.write_str("gave up reconnecting"),
            Self::RecoveryAbandoned(error) => {
                write!(f, "session given up: {}", ErrorChain(error))
            }
            Self::Ping => f.write_str("ping from the server"),
            Self::Event(event) => {
                let count = event.arg_count();
                let plural = if count == 1 { "" } else { "s" };
                write!(f, "event {:?} ({count} argument{plural})", event.name())
            }
        }
    }
}

/// What the driver hands a socket's dispatcher. Kept to two words: a
/// socket's queue holds up to its `event_buffer` of these, and the rare
/// state changes can afford a box where the frequent events cannot.
///
/// `W` is who waits for a `connect()`: the connection counts them
/// ([`Waiting`]); the driver, which holds them, hands them on.
#[derive(Debug)]
pub(crate) enum Delivery<W = Waiting> {
    /// A server event, for the handlers and the streams.
    Event(Event),
    /// Any other socket event (connect, disconnect, reconnect...).
    Lifecycle(Box<SocketEvent>),
    /// An emitted event just written to the connection, for the outgoing listeners.
    Outgoing(Event),
    /// The outcome of a `connect()`, answered once everything delivered
    /// before it was handled: lifecycle handlers see every failed attempt
    /// before the caller learns that connecting failed.
    Settled(Box<Settled<W>>),
}

/// See [`Delivery::Settled`].
#[derive(Debug)]
pub(crate) struct Settled<W> {
    pub(crate) outcome: Result<(), ConnectError>,
    pub(crate) waiters: W,
}

/// How many `connect()` calls wait for an outcome, the oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Waiting(pub(crate) u32);

impl<W> Delivery<W> {
    /// The same delivery, with the waiters `hand_on` gives for the
    /// count of a [`Settled`].
    pub(crate) fn with_waiters<V>(self, hand_on: impl FnOnce(W) -> V) -> Delivery<V> {
        match self {
            Delivery::Event(event) => Delivery::Event(event),
            Delivery::Lifecycle(event) => Delivery::Lifecycle(event),
            Delivery::Outgoing(event) => Delivery::Outgoing(event),
            Delivery::Settled(settled) => {
                let Settled { outcome, waiters } = *settled;
                Delivery::Settled(Box::new(Settled {
                    outcome,
                    waiters: hand_on(waiters),
                }))
            }
        }
    }
}

impl From<SocketEvent> for Delivery {
    fn from(event: SocketEvent) -> Self {
        match event {
            SocketEvent::Event(event) => Delivery::Event(event),
            other => Delivery::Lifecycle(Box::new(other)),
        }
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
    /// The JSON text the spans of `name`, `offset` and `args` refer to: the
    /// data array of a plain received event, empty otherwise.
    json: Box<str>,
    name: Text,
    args: EventArgs,
    attachments: Vec<Bytes>,
    offset: Option<Text>,
    ack: Option<AckRequest>,
}

/// The arguments of an event.
enum EventArgs {
    /// Parsed: binary events (their placeholders are checked against the
    /// attachments on arrival) and the client's own emits.
    Values(Vec<Value>),
    /// Plain received events: where each element of the data array stands
    /// in `EventInner::json` (the name first, then the arguments; the offset
    /// is not among them), and the values, built on first use of
    /// [`Event::args`]. Most handlers only [`decode`](Event::decode), which
    /// reads the text directly, so the values are never built.
    Raw {
        elements: Spans,
        values: OnceLock<Vec<Value>>,
    },
}

/// The server's request for an acknowledgement, answerable once.
pub(crate) struct AckRequest {
    pub(crate) id: u64,
    pub(crate) nsp: Arc<str>,
    /// Which link the request came on: an answer on a later link would reach the wrong socket.
    pub(crate) link: u64,
    pub(crate) sink: Arc<dyn AckSink>,
    pub(crate) answered: AtomicBool,
    /// The parser the answer is encoded with, the connection's.
    pub(crate) parser: Parser,
}

impl Event {
    /// An event from parsed parts: a binary event, or one the client emitted.
    pub(crate) fn new(
        name: String,
        args: Vec<Value>,
        attachments: Vec<Bytes>,
        offset: Option<Text>,
        ack: Option<AckRequest>,
    ) -> Self {
        Event {
            inner: Arc::new(EventInner {
                json: Box::default(),
                name: Text::Owned(name.into_boxed_str()),
                args: EventArgs::Values(args),
                attachments,
                offset,
                ack,
            }),
        }
    }

    /// An event as the parser decoded it; with `strip_offset`, without
    /// its recovery offset (see [`EventData::take_offset`]).
    pub(crate) fn received(
        mut data: EventData<'_>,
        id: Option<u64>,
        strip_offset: bool,
        ack: Option<AckRequest>,
    ) -> Self {
        let offset = if strip_offset {
            data.take_offset(id)
        } else {
            None
        };
        match data {
            EventData::Raw(event) => Self::from_raw(event, offset, ack),
            EventData::Parsed {
                name,
                args,
                attachments,
            } => Self::new(name, args, attachments, offset, ack),
        }
    }

    /// A plain received event from its split payload, whose offset, if any,
    /// was already taken off (`offset` refers to `event.json` too).
    ///
    /// The payload's text is copied: the frame it came in shares its buffer
    /// with the WebSocket's read buffer, which an event kept by the
    /// application would otherwise keep alive.
    pub(crate) fn from_raw(
        event: RawEvent<'_>,
        offset: Option<Text>,
        ack: Option<AckRequest>,
    ) -> Self {
        Event {
            inner: Arc::new(EventInner {
                json: Box::from(event.json),
                name: event.name,
                args: EventArgs::Raw {
                    elements: event.elements,
                    values: OnceLock::new(),
                },
                attachments: Vec::new(),
                offset,
                ack,
            }),
        }
    }

    /// The event name.
    pub fn name(&self) -> &str {
        self.inner.name.get(&self.inner.json)
    }

    /// The arguments as JSON values, without the recovery offset: the untyped view.
    ///
    /// A binary attachment stays where the server put it, as the placeholder
    /// `{"_placeholder":true,"num":N}`; its bytes are
    /// [`attachments()[N]`](Self::attachments). [`decode`](Self::decode) puts the
    /// bytes in place instead.
    ///
    /// The values are built on the first call (and kept); an event that is only
    /// [`decode`](Self::decode)d never builds them.
    pub fn args(&self) -> &[Value] {
        match &self.inner.args {
            EventArgs::Values(values) => values,
            EventArgs::Raw { elements, values } => values.get_or_init(|| {
                raw_args(elements)
                    .iter()
                    .map(|&(start, end)| {
                        let text = self.inner.json.get(start..end).unwrap_or_default();
                        // The text passed the same parser on arrival, as part of the
                        // whole array, so it parses; `Null` only keeps this total.
                        serde_json::from_str(text).unwrap_or(Value::Null)
                    })
                    .collect()
            }),
        }
    }

    /// How many arguments [`args`](Self::args) has, without building them.
    fn arg_count(&self) -> usize {
        match &self.inner.args {
            EventArgs::Values(values) => values.len(),
            EventArgs::Raw { elements, .. } => raw_args(elements).len(),
        }
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
        match &self.inner.args {
            EventArgs::Values(values) => {
                T::deserialize(ValueArgsDeserializer::new(values, &self.inner.attachments))
            }
            EventArgs::Raw { elements, .. } => T::deserialize(TextArgsDeserializer::new(
                &self.inner.json,
                raw_args(elements),
            )),
        }
    }

    /// The connection-state-recovery offset the server attached to this event, if any.
    ///
    /// Store it with the session's pid (see
    /// [`Socket::recovery_state`](crate::Socket::recovery_state)) once the event is
    /// handled, to resume after a restart.
    pub fn offset(&self) -> Option<&str> {
        let json = &self.inner.json;
        self.inner.offset.as_ref().map(|offset| offset.get(json))
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
    ///
    /// ```no_run
    /// # async fn run(socket: sioclient::Socket) {
    /// // The server calls `socket.emit("confirm", order, (reply) => ...)`.
    /// socket.on("confirm", |event, _socket| async move {
    ///     let order: u64 = event.decode().unwrap_or_default();
    ///     if event.wants_ack() {
    ///         let _ = event.ack(&("accepted", order));
    ///     }
    /// });
    /// # }
    /// ```
    pub fn ack<A: Serialize + ?Sized>(&self, args: &A) -> Result<(), EmitError> {
        let Some(ack) = &self.inner.ack else {
            return Err(EmitError::NoAckPending);
        };
        let frames = parser::ack_message(ack.parser, &ack.nsp, ack.id, args)
            .map_err(EmitError::Serialize)?;
        if ack.answered.swap(true, Ordering::AcqRel) {
            return Err(EmitError::NoAckPending);
        }
        ack.sink
            .send(AckAnswer {
                link: ack.link,
                frames,
            })
            .map_err(|_| EmitError::Closed)
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("name", &self.name())
            .field("args", &self.args())
            .field("attachments", &self.inner.attachments.len())
            .field("offset", &self.offset())
            .field("ack", &self.inner.ack.as_ref().map(|a| a.id))
            .finish()
    }
}

/// The spans of the arguments among `elements`: all but the name.
fn raw_args(elements: &Spans) -> &[Span] {
    elements.as_slice().get(1..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::packet::Received;
    use crate::codec::parser::parse_event;
    use serde::Deserialize;
    use serde_json::json;

    /// The same event received both ways: split (the receive path) and
    /// parsed into values (the path binary events take), offsets taken off.
    fn both(wire: &str) -> (Event, Event) {
        let Ok(Received::Event { id, mut event, .. }) = Received::decode(wire) else {
            panic!("{wire}: not an event");
        };
        let offset = event.take_offset(id);
        let raw = Event::from_raw(event, offset, None);

        let (id, parsed) = parse_event(wire);
        (raw, Event::received(parsed, id, true, None))
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Chat {
        user: String,
        text: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    enum Kind {
        A,
        B(u8),
    }

    /// `decode::<T>()` of both forms, as comparable text.
    fn decoded<T: DeserializeOwned + fmt::Debug>(event: &Event) -> Result<String, ()> {
        event.decode::<T>().map(|v| format!("{v:?}")).map_err(drop)
    }

    #[test]
    fn split_events_read_as_parsed_ones() {
        let frames = [
            r#"2["tick",7,{"user":"alice","text":"hello world"},"Q8Ftu7"]"#,
            r#"2["foo","bar","Q8FtvoZ"]"#,
            r#"21["withack",1]"#,
            r#"2["none"]"#,
            r#"2["one",{"user":"a","text":"b"}]"#,
            r#"2["null",null]"#,
            r#"2["esc\"aped\u00e9","v\\al","o\"ff"]"#,
            r#"2["nums",1,-2,3.5,1e300,18446744073709551615,"o"]"#,
            r#"2["kinds","A",{"B":3}]"#,
            r#"2["arr",[1,2,3]]"#,
            r#"2["big",340282366920938463463374607431768211455]"#,
            "2 [ \"ws\" , 1 , [ 2 ] ] ",
        ];
        for wire in frames {
            let (raw, parsed) = both(wire);
            assert_eq!(raw.name(), parsed.name(), "{wire}");
            assert_eq!(raw.offset(), parsed.offset(), "{wire}");
            assert_eq!(raw.args(), parsed.args(), "{wire}");
            assert_eq!(format!("{raw:?}"), format!("{parsed:?}"), "{wire}");
            assert!(raw.attachments().is_empty());
            assert!(!raw.wants_ack());
            macro_rules! same {
                ($($t:ty),* $(,)?) => {
                    $(assert_eq!(
                        decoded::<$t>(&raw),
                        decoded::<$t>(&parsed),
                        "{wire} as {}",
                        stringify!($t)
                    );)*
                };
            }
            same!(
                (),
                Value,
                (Value,),
                (Value, Value),
                (u64, Chat),
                (u64, Value),
                Chat,
                String,
                Option<String>,
                Option<u8>,
                u8,
                i64,
                f32,
                f64,
                (String,),
                (Kind, Kind),
                Vec<u8>,
                Vec<Value>,
                bytes::Bytes,
                (i64, i64, f64, f64, f64),
                (i64, i64, f64, f64, u64),
            );
        }
    }

    /// Decoding from the text is at least as precise as from a `Value`: a
    /// `u128` beyond `u64` decodes, where a `Value` holds it as an `f64`.
    #[test]
    fn decode_reads_the_text() {
        let (raw, parsed) = both(r#"2["big",340282366920938463463374607431768211455]"#);
        assert_eq!(raw.decode::<u128>().ok(), Some(u128::MAX));
        assert!(parsed.decode::<u128>().is_err());
        let (raw, _) = both(r#"2["x",1,"two",{"user":"u","text":"t"}]"#);
        let (n, s, chat): (u8, String, Chat) = raw.decode().expect("decodes");
        assert_eq!((n, s.as_str(), chat.user.as_str()), (1, "two", "u"));
        assert!(raw.decode::<(u8, String)>().is_err());
        assert!(raw.decode::<(u8, String, Chat, u8)>().is_err());
        assert!(raw.decode::<(String, String, Chat)>().is_err());
        assert!(raw.decode::<u8>().is_err());
        assert!(raw.decode::<()>().is_err());
    }

    /// The values are built once, on first use, and shared by clones.
    #[test]
    fn args_are_built_once() {
        let (raw, _) = both(r#"2["x",1,{"a":[2]}]"#);
        let clone = raw.clone();
        assert!(std::ptr::eq(raw.args(), clone.args()));
        assert_eq!(raw.args(), &[json!(1), json!({"a": [2]})]);
        assert!(std::ptr::eq(raw.args().as_ptr(), raw.args().as_ptr()));
    }

    /// Each socket event reads as one line, a failure with its hint and cause.
    #[test]
    fn socket_events_display_as_one_line() {
        let (event, _) = both(r#"2["tick",7,"x","Q8Ftu7"]"#);
        let no_engine = ConnectError::NoEngineIo {
            url: "http://h/socket.io/".into(),
            detail: "the answer holds no open packet".into(),
        };
        let table = [
            (
                SocketEvent::Connect { recovered: true },
                "connected, session recovered",
            ),
            (SocketEvent::Connect { recovered: false }, "connected"),
            (
                SocketEvent::Disconnect(DisconnectReason::PingTimeout),
                "disconnected: ping timeout",
            ),
            (SocketEvent::ReconnectAttempt(2), "reconnection attempt 2"),
            (SocketEvent::Reconnect(3), "reconnected after 3 attempts"),
            (SocketEvent::ReconnectFailed, "gave up reconnecting"),
            (
                SocketEvent::ConnectError(no_engine.clone()),
                "connect error: no Engine.IO server answered at http://h/socket.io/ \
                 (the answer holds no open packet): check the URL and the `path` option",
            ),
            (
                SocketEvent::ReconnectError(ConnectError::ReconnectFailed {
                    attempts: 2,
                    last: Some(Box::new(no_engine)),
                }),
                "reconnection attempt failed: gave up after 2 reconnection attempts: \
                 no Engine.IO server answered at http://h/socket.io/ \
                 (the answer holds no open packet): check the URL and the `path` option",
            ),
            (SocketEvent::Event(event), r#"event "tick" (2 arguments)"#),
        ];
        for (event, want) in table {
            assert_eq!(event.to_string(), want);
        }
    }
}
