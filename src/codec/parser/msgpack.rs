//! socket.io-msgpack-parser's format: each packet is one msgpack map
//! `{type, nsp, data, id?}` sent as one binary message. There are no binary
//! packet types and no attachments: a byte string (`bin`) stands where it is
//! in the data.
//!
//! Packets are turned into the parts the text parser makes, so that what an
//! application reads of an event does not depend on the parser: a `bin`
//! becomes a placeholder `{"_placeholder":true,"num":N}` and attachment `N`,
//! and back on the way out. The extension types the server's encoder
//! (notepack.io) uses become what its JSON would carry: `undefined` is
//! `null`, a `Date` its ISO 8601 text, an `ArrayBuffer` bytes. Any other
//! extension type is refused.

use std::collections::VecDeque;

use bytes::Bytes;
use rmp::{encode, Marker};
use serde::Serialize;
use serde_json::{Map, Number, Value};

use super::{take_name, Body, EventData, Incoming};
use crate::codec::limits::{MAX_MSGPACK_VALUES, MAX_NESTING, RESERVED_EVENTS};
use crate::codec::packet::{Packet, PacketKind};
use crate::codec::Frame;
use crate::error::protocol::ProtocolError;

mod args;

/// The packet types this parser knows: no binary kinds.
const CONNECT: u64 = 0;
const DISCONNECT: u64 = 1;
const EVENT: u64 = 2;
const ACK: u64 = 3;
const CONNECT_ERROR: u64 = 4;

fn invalid(problem: impl Into<String>) -> ProtocolError {
    ProtocolError::InvalidMsgPack(problem.into())
}

/// The fields of a packet, checked one by one.
struct Fields {
    kind: u64,
    nsp: String,
    id: Option<u64>,
    data: Option<Value>,
    attachments: Vec<Bytes>,
}

/// Reads a packet's map and checks its type, namespace and ack id.
fn fields(message: &Bytes) -> Result<Fields, ProtocolError> {
    let mut reader = Reader::new(message);
    let entries = match Marker::from_u8(reader.byte()?) {
        Marker::FixMap(entries) => usize::from(entries),
        Marker::Map16 => reader.length(2)?,
        Marker::Map32 => reader.length(4)?,
        _ => return Err(invalid("a packet must be a map")),
    };
    let (mut kind, mut nsp, mut data, mut id) = (None, None, None, None);
    for _ in 0..entries {
        let key = match reader.value(1)? {
            Value::String(key) => key,
            _ => return Err(invalid("a packet's keys must be strings")),
        };
        let value = reader.value(1)?;
        match key.as_str() {
            "type" => kind = Some(value),
            "nsp" => nsp = Some(value),
            "data" => data = Some(value),
            "id" => id = Some(value),
            // Unknown keys are the server's business, as in the reference decoder.
            _ => {}
        }
    }
    if reader.at != message.len() {
        return Err(invalid("bytes after the packet"));
    }
    let kind = kind
        .as_ref()
        .and_then(Value::as_u64)
        .filter(|kind| *kind <= CONNECT_ERROR)
        .ok_or_else(|| invalid("the packet type must be an integer from 0 to 4"))?;
    let nsp = match nsp {
        Some(Value::String(nsp)) => nsp,
        _ => return Err(invalid("the namespace must be a string")),
    };
    let id = match id {
        None => None,
        Some(id) => Some(
            id.as_u64()
                .ok_or_else(|| invalid("the ack id must be a non-negative integer"))?,
        ),
    };
    Ok(Fields {
        kind,
        nsp,
        id,
        data,
        attachments: reader.attachments,
    })
}

/// Decodes one binary message: a whole packet.
pub(super) fn decode(message: Bytes) -> Result<Incoming<'static>, ProtocolError> {
    let size = message.len();
    let Fields {
        kind,
        nsp,
        id,
        data,
        attachments,
    } = fields(&message)?;
    if !attachments.is_empty() && !matches!(kind, EVENT | ACK) {
        return Err(invalid("binary data in a packet that takes none"));
    }
    let body = match (kind, data) {
        (CONNECT, None) => Body::Connect(None),
        (CONNECT, Some(data @ Value::Object(_))) => Body::Connect(Some(data)),
        (DISCONNECT, None) => Body::Disconnect,
        (CONNECT_ERROR, Some(data @ (Value::Object(_) | Value::String(_)))) => {
            Body::ConnectError(data)
        }
        (EVENT, Some(Value::Array(mut args))) => {
            let name = take_name(&mut args)
                .ok_or_else(|| invalid("an event's data must start with its name"))?;
            if RESERVED_EVENTS.contains(&name.as_str()) {
                return Err(invalid("the event name is reserved"));
            }
            Body::Event {
                id,
                data: EventData::Parsed {
                    name,
                    args,
                    attachments,
                },
            }
        }
        (ACK, Some(Value::Array(args))) => Body::Ack {
            id,
            args,
            attachments,
        },
        (CONNECT, _) => return Err(invalid("a CONNECT's data must be a map")),
        (DISCONNECT, _) => return Err(invalid("a DISCONNECT carries no data")),
        (CONNECT_ERROR, _) => {
            return Err(invalid("a CONNECT_ERROR's data must be a map or a string"))
        }
        _ => return Err(invalid("an EVENT's or ACK's data must be an array")),
    };
    Ok(Incoming {
        nsp: nsp.into(),
        body,
        size,
    })
}

/// A message as a packet of the text format would show it, for the packet
/// trace: its byte strings counted as attachments, placeholders in place.
pub(super) fn as_packet(message: &[u8]) -> Result<Packet<'static>, ProtocolError> {
    let fields = fields(&Bytes::copy_from_slice(message))?;
    let kind = match fields.kind {
        CONNECT => PacketKind::Connect,
        DISCONNECT => PacketKind::Disconnect,
        EVENT => PacketKind::Event,
        ACK => PacketKind::Ack,
        _ => PacketKind::ConnectError,
    };
    Ok(Packet {
        kind,
        nsp: fields.nsp.into(),
        attachments: fields.attachments.len(),
        id: fields.id,
        data: fields.data,
    })
}

/// Reads msgpack values off a message, collecting its byte strings.
struct Reader<'a> {
    message: &'a Bytes,
    at: usize,
    attachments: Vec<Bytes>,
    /// Values read so far, bounded: a value takes 32 bytes in memory and
    /// can take 1 on the wire.
    values: usize,
}

impl<'a> Reader<'a> {
    fn new(message: &'a Bytes) -> Self {
        Reader {
            message,
            at: 0,
            attachments: Vec::new(),
            values: 0,
        }
    }

    fn left(&self) -> usize {
        self.message.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&[u8], ProtocolError> {
        if n > self.left() {
            return Err(invalid("truncated"));
        }
        let bytes = &self.message[self.at..self.at + n];
        self.at += n;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.take(1)?[0])
    }

    /// A big-endian unsigned integer of `n` bytes (at most 8).
    fn uint(&mut self, n: usize) -> Result<u64, ProtocolError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |value, byte| (value << 8) | u64::from(*byte)))
    }

    /// A big-endian signed integer of `n` bytes (at most 8).
    fn int(&mut self, n: usize) -> Result<i64, ProtocolError> {
        let bits = 64 - 8 * n as u32;
        // Shifting up then down carries the sign bit of the n-byte value.
        Ok(((self.uint(n)? << bits) as i64) >> bits)
    }

    /// A length of `n` bytes. Whatever it claims, it must fit in what is
    /// left of the message, so that nothing is allocated for bytes that are
    /// not there.
    fn length(&mut self, n: usize) -> Result<usize, ProtocolError> {
        let length = usize::try_from(self.uint(n)?).unwrap_or(usize::MAX);
        if length > self.left() {
            return Err(invalid("truncated"));
        }
        Ok(length)
    }

    fn string(&mut self, length: usize) -> Result<Value, ProtocolError> {
        let bytes = self.take(length)?;
        let text = std::str::from_utf8(bytes).map_err(|_| invalid("a string is not UTF-8"))?;
        Ok(Value::String(text.to_owned()))
    }

    /// A byte string: an attachment, and its placeholder in the data.
    fn binary(&mut self, length: usize) -> Result<Value, ProtocolError> {
        let start = self.at;
        self.take(length)?;
        let num = self.attachments.len();
        self.attachments
            .push(self.message.slice(start..start + length));
        let mut placeholder = Map::new();
        placeholder.insert("_placeholder".into(), Value::Bool(true));
        placeholder.insert("num".into(), Value::from(num));
        Ok(Value::Object(placeholder))
    }

    fn float(value: f64) -> Value {
        // What JSON.stringify makes of NaN and the infinities.
        Number::from_f64(value).map_or(Value::Null, Value::Number)
    }

    fn array(&mut self, length: usize, depth: usize) -> Result<Value, ProtocolError> {
        // Each element takes at least a byte, which `length` checked; the
        // room made ahead is bounded all the same.
        let mut items = Vec::with_capacity(length.min(1024));
        for _ in 0..length {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, entries: usize, depth: usize) -> Result<Value, ProtocolError> {
        let mut map = Map::new();
        for _ in 0..entries {
            // A JavaScript object's keys are strings: scalars become their text.
            let key = match self.value(depth + 1)? {
                Value::String(key) => key,
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                Value::Null => "null".to_owned(),
                _ => return Err(invalid("a map key must be a string or a number")),
            };
            let value = self.value(depth + 1)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }

    /// An extension value of `length` bytes: what notepack.io encodes this way.
    fn extension(&mut self, length: usize, fixed: bool) -> Result<Value, ProtocolError> {
        let kind = self.byte()? as i8;
        match (kind, fixed, length) {
            // `undefined`, which JSON turns into null.
            (0, true, 1) => {
                self.take(1)?;
                Ok(Value::Null)
            }
            // A Date: milliseconds since the epoch, which JSON writes as text.
            (0, true, 8) => {
                let millis = self.int(8)?;
                Ok(iso_8601(millis).map_or(Value::Null, Value::String))
            }
            // An ArrayBuffer or a typed array: bytes, as a Buffer is.
            (0, false, _) => self.binary(length),
            (kind, _, _) => Err(invalid(format!("extension type {kind}"))),
        }
    }

    /// The next value; `depth` counts the arrays and maps it is in.
    fn value(&mut self, depth: usize) -> Result<Value, ProtocolError> {
        if depth > MAX_NESTING {
            return Err(invalid(format!("nested deeper than {MAX_NESTING} levels")));
        }
        self.values += 1;
        if self.values > MAX_MSGPACK_VALUES {
            return Err(invalid(format!("more than {MAX_MSGPACK_VALUES} values")));
        }
        let marker = Marker::from_u8(self.byte()?);
        Ok(match marker {
            Marker::FixPos(value) => Value::from(value),
            Marker::FixNeg(value) => Value::from(value),
            Marker::Null => Value::Null,
            Marker::False => Value::Bool(false),
            Marker::True => Value::Bool(true),
            Marker::U8 => Value::from(self.uint(1)?),
            Marker::U16 => Value::from(self.uint(2)?),
            Marker::U32 => Value::from(self.uint(4)?),
            Marker::U64 => Value::from(self.uint(8)?),
            Marker::I8 => Value::from(self.int(1)?),
            Marker::I16 => Value::from(self.int(2)?),
            Marker::I32 => Value::from(self.int(4)?),
            Marker::I64 => Value::from(self.int(8)?),
            Marker::F32 => Self::float(f64::from(f32::from_bits(self.uint(4)? as u32))),
            Marker::F64 => Self::float(f64::from_bits(self.uint(8)?)),
            Marker::FixStr(length) => return self.string(usize::from(length)),
            Marker::Str8 => {
                let length = self.length(1)?;
                return self.string(length);
            }
            Marker::Str16 => {
                let length = self.length(2)?;
                return self.string(length);
            }
            Marker::Str32 => {
                let length = self.length(4)?;
                return self.string(length);
            }
            Marker::Bin8 => {
                let length = self.length(1)?;
                return self.binary(length);
            }
            Marker::Bin16 => {
                let length = self.length(2)?;
                return self.binary(length);
            }
            Marker::Bin32 => {
                let length = self.length(4)?;
                return self.binary(length);
            }
            Marker::FixArray(length) => return self.array(usize::from(length), depth),
            Marker::Array16 => {
                let length = self.length(2)?;
                return self.array(length, depth);
            }
            Marker::Array32 => {
                let length = self.length(4)?;
                return self.array(length, depth);
            }
            Marker::FixMap(entries) => return self.map(usize::from(entries), depth),
            Marker::Map16 => {
                let entries = self.length(2)?;
                return self.map(entries, depth);
            }
            Marker::Map32 => {
                let entries = self.length(4)?;
                return self.map(entries, depth);
            }
            Marker::FixExt1 => return self.extension(1, true),
            Marker::FixExt2 => return self.extension(2, true),
            Marker::FixExt4 => return self.extension(4, true),
            Marker::FixExt8 => return self.extension(8, true),
            Marker::FixExt16 => return self.extension(16, true),
            Marker::Ext8 => {
                let length = self.length(1)?;
                return self.extension(length, false);
            }
            Marker::Ext16 => {
                let length = self.length(2)?;
                return self.extension(length, false);
            }
            Marker::Ext32 => {
                let length = self.length(4)?;
                return self.extension(length, false);
            }
            Marker::Reserved => return Err(invalid("the never-used marker 0xc1")),
        })
    }
}

/// A JavaScript Date's JSON text (`toISOString`), for milliseconds since
/// the epoch; `None` outside the range a Date can hold.
fn iso_8601(millis: i64) -> Option<String> {
    // A Date holds ±8.64e15 ms.
    if millis.unsigned_abs() > 8_640_000_000_000_000 {
        return None;
    }
    let days = millis.div_euclid(86_400_000);
    let in_day = millis.rem_euclid(86_400_000);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (hours, minutes) = (in_day / 3_600_000, in_day / 60_000 % 60);
    let (seconds, ms) = (in_day / 1_000 % 60, in_day % 1_000);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{}{:06}", if year < 0 { '-' } else { '+' }, year.abs())
    };
    Some(format!(
        "{year}-{month:02}-{day:02}T{hours:02}:{minutes:02}:{seconds:02}.{ms:03}Z"
    ))
}

/// Room for a packet's map around an event's data: its keys, its type, the
/// longest ack id, and the heads of the namespace and the data.
const PACKET_ROOM: usize = 40;

/// An event's message as this parser encodes it, without an ack id: its
/// data array, encoded once; the packet around it is written for each send.
#[derive(Debug)]
pub(super) struct MsgPackEvent {
    nsp: Box<str>,
    data: Vec<u8>,
    acked: bool,
}

impl MsgPackEvent {
    /// Encodes event `name` with `args` for namespace `nsp`; `acked`: it
    /// asks for an ack.
    pub(super) fn encode<A: Serialize + ?Sized>(
        nsp: &str,
        name: &str,
        args: &A,
        acked: bool,
    ) -> Result<Self, serde_json::Error> {
        let mut data = Vec::with_capacity(64);
        args::write_event_data(&mut data, name, args)?;
        Ok(MsgPackEvent {
            nsp: nsp.into(),
            data,
            acked,
        })
    }

    /// The size of its message, counting the longest ack id there is.
    pub(super) fn largest_message(&self) -> usize {
        self.data.len() + self.nsp.len() + PACKET_ROOM
    }

    /// Queues its message, with ack id `id` when it asked for an ack.
    pub(super) fn write(&self, id: Option<u64>, out: &mut VecDeque<Frame>) {
        out.push_back(Frame::Binary(self.packet(id)));
    }

    fn packet(&self, id: Option<u64>) -> Bytes {
        let id = id.filter(|_| self.acked);
        let mut writer = Writer::new();
        writer.packet_head(3 + u32::from(id.is_some()), EVENT, &self.nsp);
        writer.str("data");
        writer.raw(&self.data);
        if let Some(id) = id {
            writer.str("id");
            writer.uint(id);
        }
        Bytes::from(writer.finish())
    }

    /// The event's name, arguments and attachments, decoded back.
    pub(super) fn decode(&self) -> (String, Vec<Value>, Vec<Bytes>) {
        let data = Bytes::from(self.data.clone());
        let mut reader = Reader::new(&data);
        let mut args = match reader.value(1) {
            Ok(Value::Array(args)) => args,
            _ => Vec::new(),
        };
        let name = take_name(&mut args).unwrap_or_default();
        (name, args, reader.attachments)
    }
}

/// See [`super::ack_message`].
pub(super) fn ack_message<A: Serialize + ?Sized>(
    nsp: &str,
    id: u64,
    args: &A,
) -> Result<Vec<Frame>, serde_json::Error> {
    let mut data = Vec::new();
    args::write_ack_data(&mut data, args)?;
    let mut writer = Writer::new();
    writer.packet_head(4, ACK, nsp);
    writer.str("data");
    writer.raw(&data);
    writer.str("id");
    writer.uint(id);
    Ok(vec![Frame::Binary(Bytes::from(writer.finish()))])
}

/// See [`super::connect_frame`]. The data goes even when empty, as the
/// reference client sends it.
pub(super) fn connect_frame(nsp: &str, data: Option<Value>) -> Frame {
    let mut writer = Writer::new();
    writer.packet_head(3, CONNECT, nsp);
    writer.str("data");
    writer.value(&data.unwrap_or_else(|| Value::Object(Map::new())));
    Frame::Binary(Bytes::from(writer.finish()))
}

/// See [`super::disconnect_frame`].
pub(super) fn disconnect_frame(nsp: &str) -> Frame {
    let mut writer = Writer::new();
    writer.packet_head(2, DISCONNECT, nsp);
    Frame::Binary(Bytes::from(writer.finish()))
}

/// Writes msgpack values, in the shortest form of each (floats as float
/// 64), as notepack.io does. Writing to a `Vec` cannot fail, and no length
/// here reaches 4 GiB (an emit is checked against the server's maxPayload,
/// 1 MB by default), hence the ignored results and the `as u32`.
pub(super) struct Writer {
    out: Vec<u8>,
}

impl Writer {
    pub(super) fn new() -> Self {
        Writer {
            out: Vec::with_capacity(64),
        }
    }

    pub(super) fn finish(self) -> Vec<u8> {
        self.out
    }

    /// The packet map's head, for a map of `entries` entries, and its
    /// `type` and `nsp`.
    pub(super) fn packet_head(&mut self, entries: u32, kind: u64, nsp: &str) {
        let _ = encode::write_map_len(&mut self.out, entries);
        self.str("type");
        self.uint(kind);
        self.str("nsp");
        self.str(nsp);
    }

    /// Appends bytes already encoded.
    pub(super) fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    pub(super) fn str(&mut self, text: &str) {
        let _ = encode::write_str(&mut self.out, text);
    }

    pub(super) fn uint(&mut self, value: u64) {
        let _ = encode::write_uint(&mut self.out, value);
    }

    /// An array head for `length` elements, which the caller writes next.
    pub(super) fn array_head(&mut self, length: usize) {
        let _ = encode::write_array_len(&mut self.out, length as u32);
    }

    /// Writes `value` (the data of a CONNECT).
    pub(super) fn value(&mut self, value: &Value) {
        match value {
            Value::Null => {
                let _ = encode::write_nil(&mut self.out);
            }
            Value::Bool(flag) => {
                let _ = encode::write_bool(&mut self.out, *flag);
            }
            Value::Number(number) => {
                if let Some(value) = number.as_u64() {
                    self.uint(value);
                } else if let Some(value) = number.as_i64() {
                    let _ = encode::write_sint(&mut self.out, value);
                } else {
                    let _ = encode::write_f64(&mut self.out, number.as_f64().unwrap_or_default());
                }
            }
            Value::String(text) => self.str(text),
            Value::Array(items) => {
                self.array_head(items.len());
                for item in items {
                    self.value(item);
                }
            }
            Value::Object(map) => {
                let _ = encode::write_map_len(&mut self.out, map.len() as u32);
                for (key, value) in map {
                    self.str(key);
                    self.value(value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
