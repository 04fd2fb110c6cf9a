//! The parser seam: the one place where the payloads of Engine.IO messages
//! become Socket.IO packets, and packets become messages. The connection
//! sees [`Incoming`] packets and the frames the encoders here make; which
//! wire format stands behind them is this module's business.
//!
//! Two parsers stand behind it: socket.io-parser's text format (`text`),
//! the default, with its fast path (a plain EVENT's arguments are split,
//! not parsed), and socket.io-msgpack-parser (`msgpack`, with the feature of
//! that name), whose packets become the same parts.

use std::borrow::Cow;
use std::collections::VecDeque;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use crate::codec::packet::{Packet, RawEvent};
use crate::codec::raw::Text;
use crate::codec::Frame;
use crate::error::protocol::ProtocolError;

#[cfg(feature = "msgpack")]
mod msgpack;
mod text;

#[cfg(test)]
pub(crate) use text::parse_event;

/// The wire format of Socket.IO packets. Client and server must use the
/// same: a server that runs another parser closes the link at the first
/// packet, which [`ClientBuilder::parser`](crate::ClientBuilder::parser)
/// explains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Parser {
    /// socket.io-parser: packets as text, binary data as attachments. What
    /// a socket.io server uses unless it is given another parser.
    #[default]
    Default,
    /// [socket.io-msgpack-parser](https://github.com/socketio/socket.io-msgpack-parser):
    /// every packet one msgpack message, binary data in place. For a server
    /// created with `new Server({ parser: require("socket.io-msgpack-parser") })`.
    #[cfg(feature = "msgpack")]
    #[cfg_attr(docsrs, doc(cfg(feature = "msgpack")))]
    MsgPack,
}

impl std::fmt::Display for Parser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Parser::Default => "the default parser (socket.io-parser)",
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => "socket.io-msgpack-parser",
        })
    }
}

/// A Socket.IO packet as a parser hands it to the connection: checked, with
/// its binary parts in place.
#[derive(Debug)]
pub(crate) struct Incoming<'a> {
    /// The namespace, `/` when the wire form omits it.
    pub(crate) nsp: Cow<'a, str>,
    pub(crate) body: Body<'a>,
    /// The bytes its messages took, for the bounds on what is held.
    pub(crate) size: usize,
}

/// What a packet says.
#[derive(Debug)]
pub(crate) enum Body<'a> {
    /// The server's reply to a CONNECT: an object, or nothing from a v2 server.
    Connect(Option<Value>),
    /// The server refused the CONNECT: an object or a string.
    ConnectError(Value),
    /// The server ended the namespace.
    Disconnect,
    /// An event; `id` when the server asks for an acknowledgement.
    Event {
        id: Option<u64>,
        data: EventData<'a>,
    },
    /// The answer to an emit that asked for an acknowledgement.
    Ack {
        id: Option<u64>,
        args: Vec<Value>,
        attachments: Vec<Bytes>,
    },
}

/// An event's name and arguments, as the parser left them.
#[derive(Debug)]
pub(crate) enum EventData<'a> {
    /// A plain text event: split, not parsed (the fast path).
    Raw(RawEvent<'a>),
    /// Parsed into values: the binary parts are the attachments.
    Parsed {
        name: String,
        args: Vec<Value>,
        attachments: Vec<Bytes>,
    },
}

impl EventData<'_> {
    /// Takes off the connection-state-recovery offset: the last argument,
    /// when it is a string and the event asks for no ack (`id` is `None`).
    /// Otherwise returns `None` and leaves the event whole.
    pub(crate) fn take_offset(&mut self, id: Option<u64>) -> Option<Text> {
        match self {
            EventData::Raw(event) => event.take_offset(id),
            EventData::Parsed { args, .. } => {
                if id.is_some() || !matches!(args.last(), Some(Value::String(_))) {
                    return None;
                }
                match args.pop() {
                    Some(Value::String(offset)) => Some(Text::Owned(offset.into_boxed_str())),
                    _ => None,
                }
            }
        }
    }
}

/// Takes an event's name off the front of its data array; `None` when the
/// array is empty or starts with something else than a string.
fn take_name(data: &mut Vec<Value>) -> Option<String> {
    match (!data.is_empty()).then(|| data.remove(0)) {
        Some(Value::String(name)) => Some(name),
        _ => None,
    }
}

/// The parsing state of one connection: its parser, and a packet whose
/// binary parts are still on their way.
#[derive(Default)]
pub(crate) struct Decoder {
    parser: Parser,
    /// Boxed: rare, and every idle connection would carry its room.
    partial: Option<Box<text::Partial>>,
}

impl Decoder {
    pub(crate) fn new(parser: Parser) -> Self {
        Decoder {
            parser,
            partial: None,
        }
    }

    /// The parser it decodes for.
    pub(crate) fn parser(&self) -> Parser {
        self.parser
    }

    /// The payload of a text message (after the Engine.IO `4`). `None`: the
    /// packet waits for its binary parts.
    pub(crate) fn decode_text<'a>(
        &mut self,
        payload: &'a str,
    ) -> Result<Option<Incoming<'a>>, ProtocolError> {
        match self.parser {
            Parser::Default => text::decode_text(&mut self.partial, payload),
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => Err(ProtocolError::ParserMismatch { ours: self.parser }),
        }
    }

    /// A binary message. `None`: more binary parts are to come.
    pub(crate) fn decode_binary(
        &mut self,
        data: Bytes,
    ) -> Result<Option<Incoming<'static>>, ProtocolError> {
        match self.parser {
            Parser::Default => text::decode_binary(&mut self.partial, data),
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => msgpack::decode(data).map(Some),
        }
    }

    /// A new link starts: nothing half-received carries over.
    pub(crate) fn reset(&mut self) {
        self.partial = None;
    }
}

/// A binary message as a packet of the text format would show it, for the
/// packet trace; `None` for the default parser, whose binary messages are
/// attachments.
pub(crate) fn binary_as_packet(
    parser: Parser,
    message: &[u8],
) -> Option<Result<Packet<'static>, ProtocolError>> {
    match parser {
        Parser::Default => {
            let _ = message;
            None
        }
        #[cfg(feature = "msgpack")]
        Parser::MsgPack => Some(msgpack::as_packet(message)),
    }
}

/// The CONNECT of namespace `nsp`, with its payload (auth, pid and offset).
pub(crate) fn connect_frame(parser: Parser, nsp: &str, data: Option<Value>) -> Frame {
    match parser {
        Parser::Default => text::connect_frame(nsp, data),
        #[cfg(feature = "msgpack")]
        Parser::MsgPack => msgpack::connect_frame(nsp, data),
    }
}

/// The DISCONNECT of namespace `nsp`.
pub(crate) fn disconnect_frame(parser: Parser, nsp: &str) -> Frame {
    match parser {
        Parser::Default => text::disconnect_frame(nsp),
        #[cfg(feature = "msgpack")]
        Parser::MsgPack => msgpack::disconnect_frame(nsp),
    }
}

/// The answer to the server's ack request `id` of namespace `nsp`, with
/// `args` as an emit takes them: its messages, in order.
pub(crate) fn ack_message<A: Serialize + ?Sized>(
    parser: Parser,
    nsp: &str,
    id: u64,
    args: &A,
) -> Result<Vec<Frame>, serde_json::Error> {
    match parser {
        Parser::Default => text::ack_message(nsp, id, args),
        #[cfg(feature = "msgpack")]
        Parser::MsgPack => msgpack::ack_message(nsp, id, args),
    }
}

/// An event's messages as the parser encoded them, without an ack id: the
/// form an emit waits in, offline or for a retry.
#[derive(Debug)]
pub(crate) struct EventMessage(Encoded);

#[derive(Debug)]
enum Encoded {
    Text(text::TextEvent),
    /// Boxed: the default parser's emits stay small.
    #[cfg(feature = "msgpack")]
    MsgPack(Box<msgpack::MsgPackEvent>),
}

impl EventMessage {
    /// Encodes event `name` with `args` for namespace `nsp`; `acked`: it
    /// asks for an ack, whose id goes in when it is sent.
    pub(crate) fn encode<A: Serialize + ?Sized>(
        parser: Parser,
        nsp: &str,
        name: &str,
        args: &A,
        acked: bool,
    ) -> Result<Self, serde_json::Error> {
        Ok(EventMessage(match parser {
            Parser::Default => Encoded::Text(text::TextEvent::encode(nsp, name, args, acked)?),
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => Encoded::MsgPack(Box::new(msgpack::MsgPackEvent::encode(
                nsp, name, args, acked,
            )?)),
        }))
    }

    /// The size of its largest message, which the server's maxPayload
    /// limits. The ack id is not in yet: an emit that asks for one counts
    /// the longest id there is.
    pub(crate) fn largest_message(&self) -> usize {
        match &self.0 {
            Encoded::Text(event) => event.largest_message(),
            #[cfg(feature = "msgpack")]
            Encoded::MsgPack(event) => event.largest_message(),
        }
    }

    /// Queues its messages, with ack id `id` when it asked for an ack.
    pub(crate) fn write(&self, id: Option<u64>, out: &mut VecDeque<Frame>) {
        match &self.0 {
            Encoded::Text(event) => event.write(id, out),
            #[cfg(feature = "msgpack")]
            Encoded::MsgPack(event) => event.write(id, out),
        }
    }

    /// Queues its messages, consuming it: a plain text emit moves its text.
    pub(crate) fn write_plain(self, out: &mut VecDeque<Frame>) {
        match self.0 {
            Encoded::Text(event) => event.write_plain(out),
            #[cfg(feature = "msgpack")]
            Encoded::MsgPack(event) => event.write(None, out),
        }
    }

    /// The event's name, arguments and attachments, decoded back: what the
    /// outgoing listeners see, and what an emit that could not be queued
    /// hands back.
    pub(crate) fn decode(&self) -> (String, Vec<Value>, Vec<Bytes>) {
        match &self.0 {
            Encoded::Text(event) => event.decode(),
            #[cfg(feature = "msgpack")]
            Encoded::MsgPack(event) => event.decode(),
        }
    }

    /// A text message written by hand (`id_at` 0: no ack id), for tests.
    #[cfg(test)]
    pub(crate) fn from_parts(text: &str, id_at: usize, attachments: Vec<Bytes>) -> Self {
        EventMessage(Encoded::Text(text::TextEvent::from_parts(
            text,
            id_at,
            attachments,
        )))
    }
}

#[cfg(test)]
mod tests;
