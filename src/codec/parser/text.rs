//! socket.io-parser's format, the default: each packet is a text message,
//! its binary parts (a BINARY_EVENT's or BINARY_ACK's attachments) follow
//! it as binary messages, and placeholders in the JSON say where each
//! stands. See `codec::packet` for the text itself.

use std::borrow::Cow;
use std::collections::VecDeque;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use super::{take_name, Body, EventData, Incoming};
use crate::codec::args::{encode_event, write_args};
use crate::codec::limits::MAX_MESSAGE_BYTES;
use crate::codec::packet::{write_ack, Packet, PacketKind, Received};
use crate::codec::Frame;
use crate::error::protocol::ProtocolError;

/// A binary packet whose attachments are on their way.
pub(crate) struct Partial {
    nsp: String,
    kind: PacketKind,
    id: Option<u64>,
    data: Value,
    expected: usize,
    buffers: Vec<Bytes>,
    /// Bytes of the text message and the attachments so far.
    bytes: usize,
}

/// Decodes the payload of a text message; a binary packet waits in
/// `partial` for its attachments.
pub(super) fn decode_text<'a>(
    partial: &mut Option<Box<Partial>>,
    payload: &'a str,
) -> Result<Option<Incoming<'a>>, ProtocolError> {
    if partial.is_some() {
        return Err(ProtocolError::MissingAttachments);
    }
    let size = payload.len();
    let packet = match Received::decode(payload)? {
        Received::Event { nsp, id, event } => {
            return Ok(Some(Incoming {
                nsp: Cow::Borrowed(nsp),
                body: Body::Event {
                    id,
                    data: EventData::Raw(event),
                },
                size,
            }))
        }
        Received::Packet(packet) => packet,
    };
    let Packet {
        kind,
        nsp,
        attachments,
        id,
        data,
    } = packet;
    if attachments > 0 {
        *partial = Some(Box::new(Partial {
            nsp: nsp.into_owned(),
            kind,
            id,
            data: data.unwrap_or_default(),
            expected: attachments,
            buffers: Vec::new(),
            bytes: size,
        }));
        return Ok(None);
    }
    if matches!(kind, PacketKind::BinaryEvent | PacketKind::BinaryAck) {
        // A binary packet announcing no attachment can still hold placeholders.
        check_placeholders(data.as_ref().unwrap_or(&Value::Null), 0)?;
    }
    let body = match kind {
        PacketKind::Connect => Body::Connect(data),
        PacketKind::ConnectError => Body::ConnectError(data.unwrap_or_default()),
        PacketKind::Disconnect => Body::Disconnect,
        PacketKind::Event | PacketKind::BinaryEvent => event_body(id, data, Vec::new())?,
        PacketKind::Ack | PacketKind::BinaryAck => ack_body(id, data, Vec::new())?,
    };
    Ok(Some(Incoming { nsp, body, size }))
}

/// Takes a binary message: the next attachment of the packet in `partial`.
pub(super) fn decode_binary(
    partial: &mut Option<Box<Partial>>,
    data: Bytes,
) -> Result<Option<Incoming<'static>>, ProtocolError> {
    let Some(waiting) = partial else {
        return Err(ProtocolError::UnexpectedBinary);
    };
    // The count is capped, but each message may be as large as a WebSocket
    // message: cap the sum too, so a hostile server cannot make one
    // half-received packet hold gigabytes.
    waiting.bytes = waiting.bytes.saturating_add(data.len());
    if waiting.bytes > MAX_MESSAGE_BYTES {
        return Err(ProtocolError::AttachmentsTooLarge {
            max: MAX_MESSAGE_BYTES,
        });
    }
    waiting.buffers.push(data);
    if waiting.buffers.len() < waiting.expected {
        return Ok(None);
    }
    let Some(done) = partial.take() else {
        return Ok(None);
    };
    let Partial {
        nsp,
        kind,
        id,
        data,
        buffers,
        bytes,
        ..
    } = *done;
    check_placeholders(&data, buffers.len())?;
    let body = match kind {
        PacketKind::Ack | PacketKind::BinaryAck => ack_body(id, Some(data), buffers)?,
        _ => event_body(id, Some(data), buffers)?,
    };
    Ok(Some(Incoming {
        nsp: Cow::Owned(nsp),
        body,
        size: bytes,
    }))
}

/// An event parsed into values; `Packet::decode` checked its shape.
fn event_body(
    id: Option<u64>,
    data: Option<Value>,
    attachments: Vec<Bytes>,
) -> Result<Body<'static>, ProtocolError> {
    let mut args = match data {
        Some(Value::Array(args)) => args,
        _ => return Err(ProtocolError::InvalidPayload("expected an array")),
    };
    let name =
        take_name(&mut args).ok_or(ProtocolError::InvalidPayload("event name must be a string"))?;
    Ok(Body::Event {
        id,
        data: EventData::Parsed {
            name,
            args,
            attachments,
        },
    })
}

/// The text after the Engine.IO `4` of an EVENT, parsed into values as a
/// binary event is (no attachments), for tests that compare both paths.
#[cfg(test)]
pub(crate) fn parse_event(wire: &str) -> (Option<u64>, EventData<'static>) {
    let packet = Packet::decode(wire).expect(wire);
    match event_body(packet.id, packet.data, Vec::new()).expect(wire) {
        Body::Event { id, data } => (id, data),
        other => panic!("{wire}: {other:?}"),
    }
}

/// An acknowledgement; `Packet::decode` checked its shape.
fn ack_body(
    id: Option<u64>,
    data: Option<Value>,
    attachments: Vec<Bytes>,
) -> Result<Body<'static>, ProtocolError> {
    match data {
        Some(Value::Array(args)) => Ok(Body::Ack {
            id,
            args,
            attachments,
        }),
        _ => Err(ProtocolError::InvalidPayload("expected an array")),
    }
}

/// Checks that every placeholder points at an attachment that exists.
fn check_placeholders(value: &Value, count: usize) -> Result<(), ProtocolError> {
    // Iterative so a deeply nested payload cannot overflow the stack.
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                if map.get("_placeholder") == Some(&Value::Bool(true)) {
                    if let Some(num) = map.get("num").and_then(Value::as_u64) {
                        if num >= count as u64 {
                            return Err(ProtocolError::PlaceholderOutOfRange { num, count });
                        }
                        continue;
                    }
                }
                stack.extend(map.values());
            }
            _ => {}
        }
    }
    Ok(())
}

/// See [`super::connect_frame`].
pub(super) fn connect_frame(nsp: &str, data: Option<Value>) -> Frame {
    control_frame(PacketKind::Connect, nsp, data)
}

/// See [`super::disconnect_frame`].
pub(super) fn disconnect_frame(nsp: &str) -> Frame {
    control_frame(PacketKind::Disconnect, nsp, None)
}

fn control_frame(kind: PacketKind, nsp: &str, data: Option<Value>) -> Frame {
    let mut text = String::from("4");
    Packet {
        kind,
        nsp: Cow::Borrowed(nsp),
        attachments: 0,
        id: None,
        data,
    }
    .encode(&mut text);
    Frame::Text(text)
}

/// The digits of the longest ack id (`u64::MAX`).
const MAX_ID_DIGITS: usize = 20;

/// An event's messages as this parser encodes them, without an ack id: a
/// text message (`42...`), then one binary message per attachment.
#[derive(Debug)]
pub(super) struct TextEvent {
    text: String,
    /// Boxed, and only when there is any: a plain emit has none of it, and
    /// small emits make a small queue.
    extra: Option<Box<Extra>>,
}

#[derive(Debug)]
struct Extra {
    /// Where the ack id goes in the text: 0 for an emit that asks for none.
    id_at: usize,
    attachments: Vec<Bytes>,
}

impl TextEvent {
    /// Encodes event `name` with `args` for namespace `nsp`; `acked`: leave
    /// room for an ack id.
    pub(super) fn encode<A: Serialize + ?Sized>(
        nsp: &str,
        name: &str,
        args: &A,
        acked: bool,
    ) -> Result<Self, serde_json::Error> {
        let mut text = String::with_capacity(64 + name.len());
        let mut attachments = Vec::new();
        let id_at = encode_event(&mut text, &mut attachments, nsp, None, name, args)?;
        let plain = !acked && attachments.is_empty();
        Ok(TextEvent {
            text,
            extra: (!plain).then(|| {
                Box::new(Extra {
                    id_at: if acked { id_at } else { 0 },
                    attachments,
                })
            }),
        })
    }

    /// The size of its largest message, which the server's maxPayload
    /// limits. The ack id is not in yet: an emit that asks for one counts
    /// the longest id there is.
    pub(super) fn largest_message(&self) -> usize {
        let id_room = match &self.extra {
            Some(extra) if extra.id_at > 0 => MAX_ID_DIGITS,
            _ => 0,
        };
        self.attachments()
            .iter()
            .map(Bytes::len)
            .chain([self.text.len() + id_room])
            .max()
            .unwrap_or_default()
    }

    /// Queues its messages, with ack id `id` when it asked for an ack.
    pub(super) fn write(&self, id: Option<u64>, out: &mut VecDeque<Frame>) {
        let text = match (id, &self.extra) {
            (Some(id), Some(extra)) if extra.id_at > 0 => with_ack_id(&self.text, extra.id_at, id),
            _ => self.text.clone(),
        };
        out.push_back(Frame::Text(text));
        out.extend(self.attachments().iter().cloned().map(Frame::Binary));
    }

    /// Queues its messages, consuming it: a plain emit moves its text.
    pub(super) fn write_plain(self, out: &mut VecDeque<Frame>) {
        out.push_back(Frame::Text(self.text));
        if let Some(extra) = self.extra {
            out.extend(extra.attachments.into_iter().map(Frame::Binary));
        }
    }

    /// The event's name, arguments and attachments, decoded back. It was
    /// encoded here, so it decodes; anything else gives an empty event.
    pub(super) fn decode(&self) -> (String, Vec<Value>, Vec<Bytes>) {
        let data = self
            .text
            .get(1..)
            .and_then(|packet| Packet::decode(packet).ok())
            .and_then(|packet| packet.data);
        let mut args = match data {
            Some(Value::Array(args)) => args,
            _ => Vec::new(),
        };
        let name = take_name(&mut args).unwrap_or_default();
        (name, args, self.attachments().to_vec())
    }

    fn attachments(&self) -> &[Bytes] {
        self.extra.as_ref().map_or(&[], |extra| &extra.attachments)
    }

    /// A message from its text written by hand (`id_at` 0: no ack id), for
    /// tests.
    #[cfg(test)]
    pub(super) fn from_parts(text: &str, id_at: usize, attachments: Vec<Bytes>) -> Self {
        let plain = id_at == 0 && attachments.is_empty();
        TextEvent {
            text: text.to_owned(),
            extra: (!plain).then(|| Box::new(Extra { id_at, attachments })),
        }
    }
}

/// `text` with ack id `id` inserted at byte `at`.
fn with_ack_id(text: &str, at: usize, id: u64) -> String {
    let id = id.to_string();
    let (head, body) = text.split_at(at.min(text.len()));
    let mut out = String::with_capacity(text.len() + id.len());
    out.push_str(head);
    out.push_str(&id);
    out.push_str(body);
    out
}

/// See [`super::ack_message`].
pub(super) fn ack_message<A: Serialize + ?Sized>(
    nsp: &str,
    id: u64,
    args: &A,
) -> Result<Vec<Frame>, serde_json::Error> {
    let mut json = String::new();
    let mut attachments = Vec::new();
    write_args(&mut json, args, &mut attachments)?;
    let mut text = String::with_capacity(json.len() + nsp.len() + 24);
    text.push('4');
    write_ack(&mut text, nsp, id, &json, attachments.len());
    let mut frames = Vec::with_capacity(1 + attachments.len());
    frames.push(Frame::Text(text));
    frames.extend(attachments.into_iter().map(Frame::Binary));
    Ok(frames)
}
