//! Socket.IO v5 packets, as carried in the payload of an Engine.IO message
//! packet (the text after the Engine.IO `4`).
//!
//! Wire format: `<type>[<attachments>-][<nsp>,][<ack id>][<json>]`.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use serde_json::Value;

use crate::codec::json::write_str;
use crate::codec::limits::{MAX_ATTACHMENTS, RESERVED_EVENTS};
use crate::codec::raw::{self, Spans, Text};
use crate::error::protocol::ProtocolError;

/// Socket.IO packet type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PacketKind {
    /// `0`: join a namespace (client) or confirm it (server).
    Connect,
    /// `1`: leave a namespace.
    Disconnect,
    /// `2`: an event with JSON arguments.
    Event,
    /// `3`: the reply to an event that asked for an acknowledgement.
    Ack,
    /// `4`: the server refused to connect the namespace.
    ConnectError,
    /// `5`: an event whose arguments hold binary attachments.
    BinaryEvent,
    /// `6`: an acknowledgement whose arguments hold binary attachments.
    BinaryAck,
}

impl PacketKind {
    /// The kind for a type byte, if it is one.
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    /// The type digit on the wire.
    fn as_char(self) -> char {
        match self {
            Self::Connect => '0',
            Self::Disconnect => '1',
            Self::Event => '2',
            Self::Ack => '3',
            Self::ConnectError => '4',
            Self::BinaryEvent => '5',
            Self::BinaryAck => '6',
        }
    }

    /// Whether packets of this kind carry an attachment count.
    fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

/// A decoded or to-be-encoded Socket.IO packet.
///
/// `Debug` hides the value of a `pid` key in CONNECT data: the private
/// session id for connection state recovery is a secret of this client.
#[derive(Clone, PartialEq)]
pub(crate) struct Packet<'a> {
    /// The packet type.
    pub kind: PacketKind,
    /// The namespace, `/` when the wire form omits it.
    pub nsp: Cow<'a, str>,
    /// How many binary attachments follow; only meaningful (and only
    /// encoded) for the binary kinds.
    pub attachments: usize,
    /// The acknowledgement id, if any.
    pub id: Option<u64>,
    /// The JSON payload, if any.
    pub data: Option<Value>,
}

impl fmt::Debug for Packet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// CONNECT data with the pid replaced.
        struct Redacted<'v>(&'v serde_json::Map<String, Value>);
        impl fmt::Debug for Redacted<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut map = f.debug_map();
                for (k, v) in self.0 {
                    if k == "pid" {
                        map.entry(k, &format_args!("<redacted>"));
                    } else {
                        map.entry(k, v);
                    }
                }
                map.finish()
            }
        }

        let mut s = f.debug_struct("Packet");
        s.field("kind", &self.kind)
            .field("nsp", &self.nsp)
            .field("attachments", &self.attachments)
            .field("id", &self.id);
        match (&self.kind, &self.data) {
            (PacketKind::Connect, Some(Value::Object(map))) => {
                s.field("data", &Some(Redacted(map)));
            }
            (_, data) => {
                s.field("data", data);
            }
        }
        s.finish()
    }
}

/// Splits the leading ASCII digits off `s`.
fn split_digits(s: &str) -> (&str, &str) {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    // `n` counts ASCII bytes from the start, so it is a char boundary.
    s.split_at(n)
}

/// Parses ASCII digits as a `u64`, `None` on overflow or if empty.
fn parse_u64(digits: &str) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.bytes().try_fold(0u64, |n, b| {
        n.checked_mul(10)?
            .checked_add(u64::from(b.wrapping_sub(b'0')))
    })
}

/// The problem with an EVENT whose payload is not an array starting with a
/// string.
const EVENT_SHAPE: &str = "EVENT payload must be an array starting with the event name";

/// Checks `data` has the shape `kind` requires, as socket.io-parser's
/// `isPayloadValid` does, except that EVENT, ACK and CONNECT_ERROR need a
/// payload and event names must be strings.
fn check_payload(kind: PacketKind, data: Option<&Value>) -> Result<(), ProtocolError> {
    let problem = match (kind, data) {
        (PacketKind::Connect, None | Some(Value::Object(_))) => return Ok(()),
        (PacketKind::Connect, Some(_)) => "CONNECT payload must be an object",
        (PacketKind::Disconnect, None) => return Ok(()),
        (PacketKind::Disconnect, Some(_)) => "DISCONNECT must not carry a payload",
        (PacketKind::Event | PacketKind::BinaryEvent, Some(Value::Array(items))) => {
            match items.first() {
                Some(Value::String(name)) if RESERVED_EVENTS.contains(&name.as_str()) => {
                    "event name is reserved"
                }
                Some(Value::String(_)) => return Ok(()),
                _ => EVENT_SHAPE,
            }
        }
        (PacketKind::Event | PacketKind::BinaryEvent, _) => EVENT_SHAPE,
        (PacketKind::Ack | PacketKind::BinaryAck, Some(Value::Array(_))) => return Ok(()),
        (PacketKind::Ack | PacketKind::BinaryAck, _) => "ACK payload must be an array",
        (PacketKind::ConnectError, Some(Value::Object(_) | Value::String(_))) => return Ok(()),
        (PacketKind::ConnectError, _) => "CONNECT_ERROR payload must be an object or a string",
    };
    Err(ProtocolError::InvalidPayload(problem))
}

/// Appends `<type>[<attachments>-][<nsp>,][<id>]`.
fn write_head(out: &mut String, kind: PacketKind, attachments: usize, nsp: &str, id: Option<u64>) {
    out.push(kind.as_char());
    // Writing to a String cannot fail.
    if kind.is_binary() {
        let _ = write!(out, "{attachments}-");
    }
    if !nsp.is_empty() && nsp != "/" {
        out.push_str(nsp);
        out.push(',');
    }
    if let Some(id) = id {
        let _ = write!(out, "{id}");
    }
}

/// Appends an EVENT packet (without the Engine.IO `4`) up to its first
/// argument: `2[<nsp>,][<id>]["<name>"`, or with attachments a BINARY_EVENT
/// `5<attachments>-[<nsp>,][<id>]["<name>"`. The caller writes the arguments,
/// `,<json>` each as `codec::args::write_args` produces them, and the
/// closing `]`. The namespace `/` is omitted; `name` is JSON-escaped.
///
/// Returns the byte index in `out` where the ack id stands (or would stand,
/// without one), so an at-least-once emit can take a fresh id per try.
pub(crate) fn write_event_open(
    out: &mut String,
    nsp: &str,
    id: Option<u64>,
    name: &str,
    attachments: usize,
) -> usize {
    // The reference parser refuses a binary packet announcing 0 attachments.
    let kind = if attachments == 0 {
        PacketKind::Event
    } else {
        PacketKind::BinaryEvent
    };
    write_head(out, kind, attachments, nsp, None);
    let id_at = out.len();
    if let Some(id) = id {
        // Writing to a String cannot fail.
        let _ = write!(out, "{id}");
    }
    out.push('[');
    write_str(out, name);
    id_at
}

/// Appends a whole ACK packet (without the Engine.IO `4`):
/// `3[<nsp>,]<id>[<args>]`, or with attachments a BINARY_ACK
/// `6<attachments>-[<nsp>,]<id>[<args>]`.
///
/// `args_json` is the serialized argument list, `,<json>` per argument, as
/// `codec::args::write_args` produces it (its leading `,` is dropped), and
/// `attachments` the number of attachments it collected.
pub(crate) fn write_ack(out: &mut String, nsp: &str, id: u64, args_json: &str, attachments: usize) {
    let kind = if attachments == 0 {
        PacketKind::Ack
    } else {
        PacketKind::BinaryAck
    };
    write_head(out, kind, attachments, nsp, Some(id));
    out.push('[');
    out.push_str(args_json.strip_prefix(',').unwrap_or(args_json));
    out.push(']');
}

/// The parts of a packet before its JSON payload.
struct Head<'a> {
    kind: PacketKind,
    attachments: usize,
    nsp: &'a str,
    id: Option<u64>,
    /// The JSON payload's text, empty for none.
    rest: &'a str,
}

impl<'a> Head<'a> {
    /// Decodes `<type>[<attachments>-][<nsp>,][<ack id>]` off the front of
    /// `text`, the text after the Engine.IO `4`.
    ///
    /// The namespace, when present, starts with `/` and runs to the first
    /// `,`, or to the end of the text if there is none (as in the reference
    /// parser, so `1/admin` is a DISCONNECT of `/admin`).
    fn decode(text: &'a str) -> Result<Self, ProtocolError> {
        let (&first, _) = text.as_bytes().split_first().ok_or(ProtocolError::Empty)?;
        let Some(kind) = PacketKind::from_byte(first) else {
            let c = text.chars().next().unwrap_or_default();
            return Err(ProtocolError::UnknownPacketType(c));
        };
        // The first byte is an ASCII digit, so index 1 is a char boundary.
        let rest = text.get(1..).unwrap_or_default();

        let (attachments, rest) = if kind.is_binary() {
            let (digits, rest) = split_digits(rest);
            let rest = rest
                .strip_prefix('-')
                .ok_or(ProtocolError::BadAttachmentCount)?;
            if digits.is_empty() {
                return Err(ProtocolError::BadAttachmentCount);
            }
            let count = digits.bytes().fold(0usize, |n, b| {
                n.saturating_mul(10)
                    .saturating_add(usize::from(b.wrapping_sub(b'0')))
            });
            if count > MAX_ATTACHMENTS {
                return Err(ProtocolError::TooManyAttachments {
                    count,
                    max: MAX_ATTACHMENTS,
                });
            }
            (count, rest)
        } else {
            (0, rest)
        };

        let (nsp, rest) = if rest.starts_with('/') {
            match rest.split_once(',') {
                Some((nsp, rest)) => (nsp, rest),
                None => (rest, ""),
            }
        } else {
            ("/", rest)
        };

        let (digits, rest) = split_digits(rest);
        let id = if digits.is_empty() {
            None
        } else {
            Some(parse_u64(digits).ok_or(ProtocolError::BadAckId)?)
        };
        Ok(Head {
            kind,
            attachments,
            nsp,
            id,
            rest,
        })
    }
}

/// A received packet, as the connection handles it: an EVENT's arguments are
/// only split (see `codec::raw`), every other packet is decoded whole.
pub(crate) enum Received<'a> {
    /// An EVENT (not a BINARY_EVENT).
    Event {
        /// The namespace, `/` when the wire form omits it.
        nsp: &'a str,
        /// The acknowledgement id, if the server asked for one.
        id: Option<u64>,
        /// The payload.
        event: RawEvent<'a>,
    },
    /// Any other packet.
    Packet(Packet<'a>),
}

impl<'a> Received<'a> {
    /// Decodes the text after the Engine.IO `4`, accepting and refusing
    /// exactly what [`Packet::decode`] does.
    pub(crate) fn decode(text: &'a str) -> Result<Self, ProtocolError> {
        let head = Head::decode(text)?;
        if head.kind != PacketKind::Event {
            return Packet::from_head(head).map(Received::Packet);
        }
        Ok(Received::Event {
            nsp: head.nsp,
            id: head.id,
            event: RawEvent::parse(head.rest)?,
        })
    }
}

/// The payload of an EVENT, checked as `Packet::decode` checks it but not
/// parsed: its text and where each element stands in it.
#[derive(Debug)]
pub(crate) struct RawEvent<'a> {
    /// The JSON array, as it came (whitespace included).
    pub(crate) json: &'a str,
    /// The elements of the array: the name first, then the arguments.
    pub(crate) elements: Spans,
    /// The event name.
    pub(crate) name: Text,
}

impl<'a> RawEvent<'a> {
    /// Checks and splits the payload of an EVENT.
    fn parse(json: &'a str) -> Result<Self, ProtocolError> {
        if json.is_empty() {
            return Err(ProtocolError::InvalidPayload(EVENT_SHAPE));
        }
        let elements = match raw::split_simple(json) {
            Some(elements) => elements,
            None => {
                raw::validate(json).map_err(|e| ProtocolError::InvalidJson(e.to_string()))?;
                raw::split_array(json).ok_or(ProtocolError::InvalidPayload(EVENT_SHAPE))?
            }
        };
        let name = elements
            .as_slice()
            .first()
            .and_then(|&span| Text::of(json, span))
            .ok_or(ProtocolError::InvalidPayload(EVENT_SHAPE))?;
        if RESERVED_EVENTS.contains(&name.get(json)) {
            return Err(ProtocolError::InvalidPayload("event name is reserved"));
        }
        Ok(RawEvent {
            json,
            elements,
            name,
        })
    }

    /// If the event has no ack id (`id`) and
    /// has >= 2 elements, the last of which is a JSON string, removes that
    /// element and returns the string (the connection-state-recovery
    /// offset). Otherwise returns None and leaves the event whole.
    pub(crate) fn take_offset(&mut self, id: Option<u64>) -> Option<Text> {
        let elements = self.elements.as_slice();
        if id.is_some() || elements.len() < 2 {
            return None;
        }
        let offset = Text::of(self.json, *elements.last()?)?;
        self.elements.pop();
        Some(offset)
    }
}

impl<'a> Packet<'a> {
    /// Decodes the text after the Engine.IO `4`.
    ///
    /// The namespace, when present, starts with `/` and runs to the first
    /// `,`, or to the end of the text if there is none (as in the reference
    /// parser, so `1/admin` is a DISCONNECT of `/admin`).
    pub(crate) fn decode(text: &'a str) -> Result<Self, ProtocolError> {
        Self::from_head(Head::decode(text)?)
    }

    /// Parses the payload after `head` and checks the packet's shape.
    fn from_head(head: Head<'a>) -> Result<Self, ProtocolError> {
        let Head {
            kind,
            attachments,
            nsp,
            id,
            rest,
        } = head;
        let data = if rest.is_empty() {
            None
        } else {
            let value: Value = serde_json::from_str(rest)
                .map_err(|e| ProtocolError::InvalidJson(e.to_string()))?;
            Some(value)
        };
        check_payload(kind, data.as_ref())?;

        Ok(Packet {
            kind,
            nsp: Cow::Borrowed(nsp),
            attachments,
            id,
            data,
        })
    }

    /// Appends the wire form (without the Engine.IO `4`) to `out`.
    pub(crate) fn encode(&self, out: &mut String) {
        write_head(out, self.kind, self.attachments, &self.nsp, self.id);
        if let Some(data) = &self.data {
            // Value's Display is compact JSON; writing to a String cannot
            // fail.
            let _ = write!(out, "{data}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::parser::parse_event;

    /// A whole EVENT packet, as an emit writes it.
    fn write_event(
        out: &mut String,
        nsp: &str,
        id: Option<u64>,
        name: &str,
        args_json: &str,
        attachments: usize,
    ) -> usize {
        let id_at = write_event_open(out, nsp, id, name, attachments);
        out.push_str(args_json);
        out.push(']');
        id_at
    }
    use serde_json::json;

    fn packet(
        kind: PacketKind,
        nsp: &'static str,
        attachments: usize,
        id: Option<u64>,
        data: Option<Value>,
    ) -> Packet<'static> {
        Packet {
            kind,
            nsp: Cow::Borrowed(nsp),
            attachments,
            id,
            data,
        }
    }

    /// Canonical wire forms (from PROTOCOL.md, without the Engine.IO `4`):
    /// decode gives the packet, encode gives the same text back.
    fn canonical() -> Vec<(&'static str, Packet<'static>)> {
        use PacketKind::*;
        vec![
            ("0", packet(Connect, "/", 0, None, None)),
            (
                r#"0{"token":"abc"}"#,
                packet(Connect, "/", 0, None, Some(json!({"token": "abc"}))),
            ),
            (
                r#"0/admin,{"token":"abc"}"#,
                packet(Connect, "/admin", 0, None, Some(json!({"token": "abc"}))),
            ),
            ("0/admin,", packet(Connect, "/admin", 0, None, None)),
            (
                "0/admin?x=1&y=é,",
                packet(Connect, "/admin?x=1&y=é", 0, None, None),
            ),
            (
                r#"0{"sid":"vweq","pid":"yTIX"}"#,
                packet(
                    Connect,
                    "/",
                    0,
                    None,
                    Some(json!({"sid": "vweq", "pid": "yTIX"})),
                ),
            ),
            (
                r#"0{"pid":"yTIX","offset":"Q8Ftvuo"}"#,
                packet(
                    Connect,
                    "/",
                    0,
                    None,
                    Some(json!({"pid": "yTIX", "offset": "Q8Ftvuo"})),
                ),
            ),
            ("1", packet(Disconnect, "/", 0, None, None)),
            ("1/admin,", packet(Disconnect, "/admin", 0, None, None)),
            (
                r#"2["foo","bar","Q8FtvoZ"]"#,
                packet(Event, "/", 0, None, Some(json!(["foo", "bar", "Q8FtvoZ"]))),
            ),
            (
                r#"21["withack",1]"#,
                packet(Event, "/", 0, Some(1), Some(json!(["withack", 1]))),
            ),
            (
                r#"21["hello",{"x":1}]"#,
                packet(Event, "/", 0, Some(1), Some(json!(["hello", {"x": 1}]))),
            ),
            (
                r#"2/admin,12["x"]"#,
                packet(Event, "/admin", 0, Some(12), Some(json!(["x"]))),
            ),
            (
                r#"218446744073709551615["max"]"#,
                packet(Event, "/", 0, Some(u64::MAX), Some(json!(["max"]))),
            ),
            (
                r#"2["é","😀"]"#,
                packet(Event, "/", 0, None, Some(json!(["é", "😀"]))),
            ),
            (
                r#"31["ok"]"#,
                packet(Ack, "/", 0, Some(1), Some(json!(["ok"]))),
            ),
            ("30[]", packet(Ack, "/", 0, Some(0), Some(json!([])))),
            (
                r#"3/admin,7[null]"#,
                packet(Ack, "/admin", 0, Some(7), Some(json!([null]))),
            ),
            (
                r#"4{"message":"rejected by middleware","data":{"code":42}}"#,
                packet(
                    ConnectError,
                    "/",
                    0,
                    None,
                    Some(json!({"message": "rejected by middleware", "data": {"code": 42}})),
                ),
            ),
            (
                r#"4/nope,{"message":"Invalid namespace"}"#,
                packet(
                    ConnectError,
                    "/nope",
                    0,
                    None,
                    Some(json!({"message": "Invalid namespace"})),
                ),
            ),
            (
                r#"4"not authorized""#,
                packet(ConnectError, "/", 0, None, Some(json!("not authorized"))),
            ),
            (
                r#"51-["bin",{"_placeholder":true,"num":0},"Q8FtvoZ.2"]"#,
                packet(
                    BinaryEvent,
                    "/",
                    1,
                    None,
                    Some(json!(["bin", {"_placeholder": true, "num": 0}, "Q8FtvoZ.2"])),
                ),
            ),
            (
                r#"52-["bin2",{"buf":{"_placeholder":true,"num":0},"s":"t"},{"_placeholder":true,"num":1},"Q8FtvqR"]"#,
                packet(
                    BinaryEvent,
                    "/",
                    2,
                    None,
                    Some(json!([
                        "bin2",
                        {"buf": {"_placeholder": true, "num": 0}, "s": "t"},
                        {"_placeholder": true, "num": 1},
                        "Q8FtvqR"
                    ])),
                ),
            ),
            (
                r#"5256-/admin,3["many"]"#,
                packet(BinaryEvent, "/admin", 256, Some(3), Some(json!(["many"]))),
            ),
            (
                r#"50-["none"]"#,
                packet(BinaryEvent, "/", 0, None, Some(json!(["none"]))),
            ),
            (
                r#"61-[{"_placeholder":true,"num":0}]"#,
                packet(
                    BinaryAck,
                    "/",
                    1,
                    None,
                    Some(json!([{"_placeholder": true, "num": 0}])),
                ),
            ),
            (
                r#"61-/admin,4[{"_placeholder":true,"num":0}]"#,
                packet(
                    BinaryAck,
                    "/admin",
                    1,
                    Some(4),
                    Some(json!([{"_placeholder": true, "num": 0}])),
                ),
            ),
        ]
    }

    #[test]
    fn round_trip_table() {
        // serde_json is built without `preserve_order`, so objects encode
        // with their keys sorted.
        let sorted: &[(&str, &str)] = &[
            (
                r#"0{"sid":"vweq","pid":"yTIX"}"#,
                r#"0{"pid":"yTIX","sid":"vweq"}"#,
            ),
            (
                r#"0{"pid":"yTIX","offset":"Q8Ftvuo"}"#,
                r#"0{"offset":"Q8Ftvuo","pid":"yTIX"}"#,
            ),
            (
                r#"4{"message":"rejected by middleware","data":{"code":42}}"#,
                r#"4{"data":{"code":42},"message":"rejected by middleware"}"#,
            ),
        ];
        for (wire, want) in canonical() {
            assert_eq!(Packet::decode(wire).as_ref(), Ok(&want), "{wire}");
            let mut out = String::from("4");
            want.encode(&mut out);
            let encoded = sorted
                .iter()
                .find(|(w, _)| *w == wire)
                .map_or(wire, |(_, e)| *e);
            assert_eq!(out, format!("4{encoded}"), "{want:?}");
            assert_eq!(Packet::decode(encoded), Ok(want), "{encoded}");
        }
    }

    /// Accepted inputs that do not encode back to the same text.
    #[test]
    fn lenient_decode_table() {
        use PacketKind::*;
        let table: Vec<(&str, Packet<'static>)> = vec![
            ("1/admin", packet(Disconnect, "/admin", 0, None, None)),
            ("0/admin", packet(Connect, "/admin", 0, None, None)),
            ("0/,", packet(Connect, "/", 0, None, None)),
            (
                "5007-[\"x\"]",
                packet(BinaryEvent, "/", 7, None, Some(json!(["x"]))),
            ),
            (
                "2 [\"x\" , 1 ] ",
                packet(Event, "/", 0, None, Some(json!(["x", 1]))),
            ),
            ("3007[]", packet(Ack, "/", 0, Some(7), Some(json!([])))),
        ];
        for (wire, want) in table {
            assert_eq!(Packet::decode(wire), Ok(want), "{wire}");
        }
    }

    #[test]
    fn decode_errors() {
        use ProtocolError as E;
        /// The error a bad packet must give.
        enum Want {
            Is(E),
            Json,
            Payload,
        }
        let table: &[(&str, Want)] = &[
            ("", Want::Is(E::Empty)),
            ("7", Want::Is(E::UnknownPacketType('7'))),
            ("x[]", Want::Is(E::UnknownPacketType('x'))),
            ("é", Want::Is(E::UnknownPacketType('é'))),
            ("😀0", Want::Is(E::UnknownPacketType('😀'))),
            ("2", Want::Payload),
            ("2[", Want::Json),
            ("2[]", Want::Payload),
            ("2[1]", Want::Payload),
            ("2[null]", Want::Payload),
            ("2{}", Want::Payload),
            ("2\"x\"", Want::Payload),
            ("2[\"connect\"]", Want::Payload),
            ("2[\"disconnect\",1]", Want::Payload),
            ("2[\"newListener\"]", Want::Payload),
            ("2[\"x\"]]", Want::Json),
            ("2[\"x\"]x", Want::Json),
            ("2[\"x\"][]", Want::Json),
            ("2/admin", Want::Payload),
            ("2/admin[\"x\"]", Want::Payload),
            ("2/é", Want::Payload),
            ("2/é,é", Want::Json),
            ("2é", Want::Json),
            ("21-[\"x\"]", Want::Json),
            ("0\"hello\"", Want::Payload),
            ("0[]", Want::Payload),
            ("0{bad", Want::Json),
            ("1{}", Want::Payload),
            ("1/admin,{}", Want::Payload),
            ("3", Want::Payload),
            ("31", Want::Payload),
            ("3x[]", Want::Json),
            ("31{}", Want::Payload),
            ("399999999999999999999999[]", Want::Is(E::BadAckId)),
            ("218446744073709551616[\"x\"]", Want::Is(E::BadAckId)),
            ("4", Want::Payload),
            ("4[]", Want::Payload),
            ("41", Want::Payload),
            ("5[]", Want::Is(E::BadAttachmentCount)),
            ("5", Want::Is(E::BadAttachmentCount)),
            ("51", Want::Is(E::BadAttachmentCount)),
            ("5-[\"a\"]", Want::Is(E::BadAttachmentCount)),
            ("5a-[\"a\"]", Want::Is(E::BadAttachmentCount)),
            ("5é-[\"a\"]", Want::Is(E::BadAttachmentCount)),
            ("51é-[\"a\"]", Want::Is(E::BadAttachmentCount)),
            (
                "5257-[\"a\"]",
                Want::Is(E::TooManyAttachments {
                    count: 257,
                    max: MAX_ATTACHMENTS,
                }),
            ),
            (
                "5999999999999999999999999999-[\"a\"]",
                Want::Is(E::TooManyAttachments {
                    count: usize::MAX,
                    max: MAX_ATTACHMENTS,
                }),
            ),
            ("51-", Want::Payload),
            ("51-[1]", Want::Payload),
            ("6-[]", Want::Is(E::BadAttachmentCount)),
            ("61-{}", Want::Payload),
            ("61-", Want::Payload),
        ];
        for (wire, want) in table {
            match (Packet::decode(wire), want) {
                (Err(e), Want::Is(w)) => assert_eq!(&e, w, "{wire}"),
                (Err(e), Want::Json) => assert!(matches!(e, E::InvalidJson(_)), "{wire}: {e:?}"),
                (Err(e), Want::Payload) => {
                    assert!(matches!(e, E::InvalidPayload(_)), "{wire}: {e:?}")
                }
                (Ok(p), _) => panic!("{wire}: decoded {p:?}"),
            }
        }
    }

    /// Deeply nested JSON is refused by serde_json's recursion limit, not by
    /// a stack overflow.
    #[test]
    fn deep_nesting_is_an_error() {
        let frame = format!("2[\"x\",{}{}]", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            Packet::decode(&frame),
            Err(ProtocolError::InvalidJson(_))
        ));
    }

    /// Every prefix and suffix (at char boundaries) of every valid frame,
    /// and every single-byte ASCII mutation, decodes to Ok or Err without
    /// panicking.
    #[test]
    fn truncations_never_panic() {
        let mut frames: Vec<String> = canonical().iter().map(|(w, _)| w.to_string()).collect();
        frames.push("2/é,1[\"é\",\"😀\"]".into());
        frames.push("5999999999999999999999999999-/a,99999999999999999999[]".into());
        for frame in &frames {
            for (i, _) in frame.char_indices().chain([(frame.len(), ' ')]) {
                let _ = Packet::decode(&frame[..i]);
                let _ = Packet::decode(&frame[i..]);
                for c in ['0', '5', '-', '/', ',', '"', '[', 'é'] {
                    let mut mutated = frame.clone();
                    mutated.insert(i, c);
                    let _ = Packet::decode(&mutated);
                }
            }
        }
    }

    /// What [`Received::decode`] makes of `wire`, in [`Packet`] form (an
    /// EVENT's elements parsed from their spans), to compare with
    /// [`Packet::decode`].
    fn received_as_packet(wire: &str) -> Result<Packet<'_>, ProtocolError> {
        match Received::decode(wire)? {
            Received::Packet(packet) => {
                assert_ne!(packet.kind, PacketKind::Event, "{wire}");
                Ok(packet)
            }
            Received::Event { nsp, id, event } => Ok(Packet {
                kind: PacketKind::Event,
                nsp: Cow::Borrowed(nsp),
                attachments: 0,
                id,
                data: Some(Value::Array(elements(&event))),
            }),
        }
    }

    /// The elements of a split event, each parsed from its span, the first
    /// replaced by the name as `RawEvent` unescaped it.
    fn elements(event: &RawEvent<'_>) -> Vec<Value> {
        let spans = event.elements.as_slice();
        let mut values: Vec<Value> = spans
            .iter()
            .map(|&(s, e)| serde_json::from_str(&event.json[s..e]).expect("a validated element"))
            .collect();
        assert_eq!(
            values.first(),
            Some(&Value::from(event.name.get(event.json)))
        );
        if let Some(first) = values.first_mut() {
            *first = Value::from(event.name.get(event.json));
        }
        values
    }

    /// `Received::decode` accepts and refuses exactly what `Packet::decode`
    /// does, with the same error and the same content, and takes the same
    /// offset off.
    fn assert_same(wire: &str) {
        let packet = Packet::decode(wire);
        assert_eq!(received_as_packet(wire), packet, "{wire}");
        if let (Ok(Received::Event { id, mut event, .. }), Ok(packet)) =
            (Received::decode(wire), packet)
        {
            assert_eq!(Some(Value::Array(elements(&event))), packet.data, "{wire}");
            let (_, mut parsed) = parse_event(wire);
            assert_eq!(
                event.take_offset(id).as_ref().map(|o| o.get(event.json)),
                parsed.take_offset(id).as_ref().map(|o| o.get("")),
                "{wire}"
            );
        }
    }

    /// Frames of PROTOCOL.md and of the benchmark, without the Engine.IO `4`.
    const EVENT_FRAMES: &[&str] = &[
        r#"2["foo","bar","Q8FtvoZ"]"#,
        r#"21["withack",1]"#,
        r#"21["hello",{"x":1}]"#,
        r#"2["tick","A",39,"Q8Ftvxw"]"#,
        r#"2["tick",7,{"user":"alice","text":"hello world"},"Q8Ftu7"]"#,
        r#"2["foo","1795562728913-0"]"#,
        r#"2/admin,["foo",""]"#,
        r#"2/admin,12["x",[1,{"a":"]"}],"s"]"#,
        r#"51-["bin",{"_placeholder":true,"num":0},"Q8FtvoZ.2"]"#,
        r#"52-["bin2",{"buf":{"_placeholder":true,"num":0},"s":"t"},{"_placeholder":true,"num":1},"Q8FtvqR"]"#,
        r#"2["a\"b\\c\né😀",1,2,3,4,5,"o\u0041"]"#,
    ];

    #[test]
    fn received_event_table() {
        /// Wire form, namespace, ack id, name, argument texts after the
        /// offset was taken, offset.
        type Case<'a> = (
            &'a str,
            &'a str,
            Option<u64>,
            &'a str,
            &'a [&'a str],
            Option<&'a str>,
        );
        let table: &[Case] = &[
            (
                r#"2["foo","bar","Q8FtvoZ"]"#,
                "/",
                None,
                "foo",
                &[r#""bar""#],
                Some("Q8FtvoZ"),
            ),
            (r#"21["withack",1]"#, "/", Some(1), "withack", &["1"], None),
            (
                r#"21["withack","s"]"#,
                "/",
                Some(1),
                "withack",
                &[r#""s""#],
                None,
            ),
            (
                r#"21["hello",{"x":1}]"#,
                "/",
                Some(1),
                "hello",
                &[r#"{"x":1}"#],
                None,
            ),
            (
                r#"2["tick","A",39,"Q8Ftvxw"]"#,
                "/",
                None,
                "tick",
                &[r#""A""#, "39"],
                Some("Q8Ftvxw"),
            ),
            (
                r#"2["tick",7,{"user":"alice","text":"hello world"},"Q8Ftu7"]"#,
                "/",
                None,
                "tick",
                &["7", r#"{"user":"alice","text":"hello world"}"#],
                Some("Q8Ftu7"),
            ),
            (
                r#"2["foo","1795562728913-0"]"#,
                "/",
                None,
                "foo",
                &[],
                Some("1795562728913-0"),
            ),
            (
                r#"2/admin,["foo",""]"#,
                "/admin",
                None,
                "foo",
                &[],
                Some(""),
            ),
            (r#"2["foo"]"#, "/", None, "foo", &[], None),
            (r#"2["foo",1]"#, "/", None, "foo", &["1"], None),
            (r#"2["foo",["x"]]"#, "/", None, "foo", &[r#"["x"]"#], None),
            (
                r#"2["foo",null,"o"]"#,
                "/",
                None,
                "foo",
                &["null"],
                Some("o"),
            ),
            (
                "2/a,9 [ \"x\" , 1 ,\n\"o\" ] ",
                "/a",
                Some(9),
                "x",
                &["1", "\"o\""],
                None,
            ),
            (" 2[\"x\"]".trim_start(), "/", None, "x", &[], None),
            (
                r#"2["a\"b\u00e9",1,"o\\p"]"#,
                "/",
                None,
                "a\"bé",
                &["1"],
                Some("o\\p"),
            ),
            (
                r#"2["many",1,2,3,4,5,6,"o"]"#,
                "/",
                None,
                "many",
                &["1", "2", "3", "4", "5", "6"],
                Some("o"),
            ),
        ];
        for &(wire, want_nsp, want_id, want_name, want_args, want_offset) in table {
            let Ok(Received::Event { nsp, id, mut event }) = Received::decode(wire) else {
                panic!("{wire}: not an event");
            };
            assert_eq!((nsp, id), (want_nsp, want_id), "{wire}");
            assert_eq!(event.name.get(event.json), want_name, "{wire}");
            let offset = event.take_offset(id);
            assert_eq!(
                offset.as_ref().map(|o| o.get(event.json)),
                want_offset,
                "{wire}"
            );
            let args: Vec<&str> = event.elements.as_slice()[1..]
                .iter()
                .map(|&(s, e)| &event.json[s..e])
                .collect();
            assert_eq!(args, want_args, "{wire}");
            assert_same(wire);
        }
    }

    #[test]
    fn received_matches_packet_decode() {
        let deep = format!("2[\"x\",{}{}]", "[".repeat(100_000), "]".repeat(100_000));
        let just_deep_enough = format!("2[\"x\",{}{}]", "[".repeat(126), "]".repeat(126));
        let too_deep = format!("2[\"x\",{}{}]", "[".repeat(127), "]".repeat(127));
        let mut inputs: Vec<&str> = vec![
            "",
            "2",
            "2[",
            "2]",
            "2[]",
            "2[ ]",
            "2[1]",
            "2[null]",
            "2{}",
            "2{bad",
            "2\"x\"",
            "2[\"x\"",
            "2[\"x\",]",
            "2[,\"x\"]",
            "2[\"x\" 1]",
            "2[\"x\"]]",
            "2[\"x\"]x",
            "2[\"x\"][]",
            "2/admin",
            "2/admin[\"x\"]",
            "2/é",
            "2/é,é",
            "2é",
            "21-[\"x\"]",
            "2[\"connect\"]",
            "2[\"disconnect\",1]",
            "2[\"newListener\"]",
            "2[\"conn\\u0065ct\"]",
            "2[\"removeListener \"]",
            "2[\"x\",1e400]",
            "2[\"x\",-1e400]",
            "2[\"x\",18446744073709551616]",
            "2[\"x\",\"\\ud800\"]",
            "2[\"\\ud800\"]",
            "2[\"x\",\"\\x\"]",
            "2[\"x\u{1}\"]",
            "2[\"x\",tru]",
            "2[\"x\",01]",
            "218446744073709551616[\"x\"]",
            "2999[\"x\"]",
            "20[\"x\"]",
            "2 [\"x\" , 1 ] ",
            "2\n[\"x\"]\n",
            "2[{\"a\":1}]",
            "2[[\"x\"]]",
            "2[true]",
            "0",
            "0{\"sid\":\"s\",\"pid\":\"p\"}",
            "1",
            "31[\"ok\"]",
            "4\"err\"",
            "51-[\"bin\",{\"_placeholder\":true,\"num\":0}]",
            "50-[\"x\"]",
            &deep,
            &just_deep_enough,
            &too_deep,
        ];
        inputs.extend(EVENT_FRAMES);
        for wire in inputs {
            assert_same(wire);
        }
    }

    /// Every prefix and suffix of the event frames, and every single-char
    /// insertion into them, decodes through `Received::decode` as through
    /// `Packet::decode`, and never panics.
    #[test]
    fn received_truncations_match_packet_decode() {
        for frame in EVENT_FRAMES {
            for (i, _) in frame.char_indices().chain([(frame.len(), ' ')]) {
                assert_same(&frame[..i]);
                assert_same(&frame[i..]);
                for c in [
                    '0', '2', '-', '/', ',', '"', '\\', '[', ']', '{', '}', ' ', 'é',
                ] {
                    let mut mutated = (*frame).to_owned();
                    mutated.insert(i, c);
                    assert_same(&mutated);
                }
            }
        }
    }

    #[test]
    fn write_event_table() {
        let ph = r#"{"_placeholder":true,"num":0}"#;
        let ph2 = r#"{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}"#;
        /// Namespace, ack id, name, args JSON, attachments, wire form.
        type Case<'a> = (&'a str, Option<u64>, &'a str, String, usize, &'a str);
        let table: &[Case] = &[
            ("/", None, "foo", String::new(), 0, r#"2["foo"]"#),
            (
                "/",
                None,
                "foo",
                r#","bar",1"#.into(),
                0,
                r#"2["foo","bar",1]"#,
            ),
            (
                "/",
                Some(1),
                "hello",
                r#",{"x":1}"#.into(),
                0,
                r#"21["hello",{"x":1}]"#,
            ),
            (
                "/admin",
                Some(12),
                "x",
                String::new(),
                0,
                r#"2/admin,12["x"]"#,
            ),
            (
                "/admin",
                None,
                "x",
                ",[1]".into(),
                0,
                r#"2/admin,["x",[1]]"#,
            ),
            ("", None, "x", String::new(), 0, r#"2["x"]"#),
            (
                "/",
                None,
                "a\"b\\c\né😀",
                String::new(),
                0,
                r#"2["a\"b\\c\né😀"]"#,
            ),
            (
                "/",
                None,
                "bin",
                format!(",{ph}"),
                1,
                r#"51-["bin",{"_placeholder":true,"num":0}]"#,
            ),
            (
                "/",
                Some(7),
                "up",
                format!(",{{\"b\":{ph}}},\"s\""),
                1,
                r#"51-7["up",{"b":{"_placeholder":true,"num":0}},"s"]"#,
            ),
            (
                "/admin",
                Some(3),
                "two",
                format!(",{ph2}"),
                2,
                r#"52-/admin,3["two",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            ),
            (
                "/admin",
                None,
                "two",
                format!(",[{ph2}]"),
                2,
                r#"52-/admin,["two",[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]]"#,
            ),
        ];
        for (nsp, id, name, args, attachments, wire) in table {
            let mut out = String::from("4");
            write_event(&mut out, nsp, *id, name, args, *attachments);
            assert_eq!(out, format!("4{wire}"));
            let p = Packet::decode(wire).expect(wire);
            let kind = if *attachments == 0 {
                PacketKind::Event
            } else {
                PacketKind::BinaryEvent
            };
            assert_eq!((p.kind, p.attachments, p.id), (kind, *attachments, *id));
            let first = p
                .data
                .as_ref()
                .and_then(|d| d.get(0))
                .and_then(Value::as_str);
            assert_eq!(first, Some(*name));
        }
    }

    #[test]
    fn write_ack_table() {
        let table: &[(&str, u64, &str, usize, &str)] = &[
            ("/", 1, r#","ok""#, 0, r#"31["ok"]"#),
            ("/", 0, "", 0, "30[]"),
            ("/", 7, r#","a",{"b":null}"#, 0, r#"37["a",{"b":null}]"#),
            (
                "/admin",
                u64::MAX,
                ",1",
                0,
                r#"3/admin,18446744073709551615[1]"#,
            ),
            (
                "/",
                4,
                r#",{"_placeholder":true,"num":0}"#,
                1,
                r#"61-4[{"_placeholder":true,"num":0}]"#,
            ),
            (
                "/admin",
                0,
                r#","x",[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#,
                2,
                r#"62-/admin,0["x",[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]]"#,
            ),
        ];
        for (nsp, id, args, attachments, wire) in table {
            let mut out = String::from("4");
            write_ack(&mut out, nsp, *id, args, *attachments);
            assert_eq!(out, format!("4{wire}"));
            let p = Packet::decode(wire).expect(wire);
            let kind = if *attachments == 0 {
                PacketKind::Ack
            } else {
                PacketKind::BinaryAck
            };
            assert_eq!(
                (p.kind, p.attachments, p.id),
                (kind, *attachments, Some(*id))
            );
        }
    }

    #[test]
    fn debug_hides_pid() {
        let p = Packet::decode(r#"0{"sid":"vweq","pid":"yTIXsecret"}"#).expect("connect");
        let text = format!("{p:?}");
        assert!(!text.contains("yTIXsecret"), "{text}");
        assert!(text.contains("vweq"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
        let e = Packet::decode(r#"2["pid","shown"]"#).expect("event");
        assert!(format!("{e:?}").contains("shown"));
    }
}
