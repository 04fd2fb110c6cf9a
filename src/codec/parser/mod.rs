//! The parser seam: the one place where the payloads of Engine.IO messages
//! become Socket.IO packets, and packets become messages. The connection
//! sees [`Incoming`] packets and the frames the encoders here make; which
//! wire format stands behind them is this module's business.
//!
//! One parser runs today, socket.io-parser's text format ([`text`]), with
//! its fast path: a plain EVENT's arguments are split, not parsed.

use std::borrow::Cow;

use bytes::Bytes;
use serde_json::Value;

use crate::codec::packet::RawEvent;
use crate::codec::raw::Text;
use crate::codec::Frame;
use crate::error::protocol::ProtocolError;

mod text;

#[cfg(test)]
pub(crate) use text::parse_event;
pub(crate) use text::{ack_message, EventMessage};

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

/// The parsing state of one connection: a packet whose binary parts are
/// still on their way.
#[derive(Default)]
pub(crate) struct Decoder {
    /// Boxed: rare, and every idle connection would carry its room.
    partial: Option<Box<text::Partial>>,
}

impl Decoder {
    /// The payload of a text message (after the Engine.IO `4`). `None`: the
    /// packet waits for its binary parts.
    pub(crate) fn decode_text<'a>(
        &mut self,
        payload: &'a str,
    ) -> Result<Option<Incoming<'a>>, ProtocolError> {
        text::decode_text(&mut self.partial, payload)
    }

    /// A binary message. `None`: more binary parts are to come.
    pub(crate) fn decode_binary(
        &mut self,
        data: Bytes,
    ) -> Result<Option<Incoming<'static>>, ProtocolError> {
        text::decode_binary(&mut self.partial, data)
    }

    /// A new link starts: nothing half-received carries over.
    pub(crate) fn reset(&mut self) {
        self.partial = None;
    }
}

/// The CONNECT of namespace `nsp`, with its payload (auth, pid and offset)
/// unless empty.
pub(crate) fn connect_frame(nsp: &str, data: Option<Value>) -> Frame {
    text::connect_frame(nsp, data)
}

/// The DISCONNECT of namespace `nsp`.
pub(crate) fn disconnect_frame(nsp: &str) -> Frame {
    text::disconnect_frame(nsp)
}

#[cfg(test)]
mod tests;
