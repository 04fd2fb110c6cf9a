//! The packet trace: at `trace` level (target `sioclient::packet`), one line
//! per Engine.IO and Socket.IO packet in and out, so what was said can be
//! read without a proxy in between.
//!
//! Each line shows the packet type, the namespace, the ack id, the
//! attachment count and the start of the payload. Secrets never reach it:
//! the values of a CONNECT's auth (the pid and offset of a recovery among
//! them) and the pid of a CONNECT reply are redacted, and so is the offset
//! the server appends to an event.

use serde_json::Value;

use crate::codec::engine::EnginePacket;
use crate::codec::packet::{Packet, PacketKind};
use crate::codec::parser::{self, Parser};

/// How much of a payload a line shows, in bytes.
const SHOWN: usize = 96;

/// Which way a packet went.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    In,
    Out,
}

/// Whether the trace is on: checked before any work, so the hot path pays
/// for one cached comparison.
fn enabled() -> bool {
    tracing::enabled!(target: "sioclient::packet", tracing::Level::TRACE)
}

/// A text message from the server.
pub(crate) fn incoming_text(text: &str) {
    if enabled() {
        tracing::trace!(target: "sioclient::packet", "<< {}", describe(text, Direction::In));
    }
}

/// A text message to the server.
pub(crate) fn outgoing_text(text: &str) {
    if enabled() {
        tracing::trace!(target: "sioclient::packet", ">> {}", describe(text, Direction::Out));
    }
}

/// A binary message from the server: an attachment, or with
/// socket.io-msgpack-parser a packet.
pub(crate) fn incoming_binary(parser: Parser, data: &[u8]) {
    if enabled() {
        tracing::trace!(target: "sioclient::packet", "<< {}", describe_binary(parser, data, Direction::In));
    }
}

/// A binary message to the server, as [`incoming_binary`].
pub(crate) fn outgoing_binary(parser: Parser, data: &[u8]) {
    if enabled() {
        tracing::trace!(target: "sioclient::packet", ">> {}", describe_binary(parser, data, Direction::Out));
    }
}

fn describe_binary(parser: Parser, data: &[u8], direction: Direction) -> String {
    match parser::binary_as_packet(parser, data) {
        None => describe_attachment(data),
        Some(Ok(packet)) => describe_packet(packet, direction),
        Some(Err(error)) => format!(
            "binary, undecodable ({error}): {}",
            describe_attachment(data)
        ),
    }
}

fn describe_attachment(data: &[u8]) -> String {
    let head: Vec<String> = data.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let more = if data.len() > 16 { " …" } else { "" };
    format!("attachment {} bytes: {}{more}", data.len(), head.join(" "))
}

/// One line for a text message.
fn describe(text: &str, direction: Direction) -> String {
    let packet = match EnginePacket::decode(text) {
        Ok(packet) => packet,
        Err(error) => return format!("undecodable ({error}): {}", shown(text)),
    };
    match packet {
        EnginePacket::Open(info) => format!(
            "open sid={} upgrades={:?} pingInterval={:?} pingTimeout={:?} maxPayload={}",
            info.sid, info.upgrades, info.ping_interval, info.ping_timeout, info.max_payload
        ),
        EnginePacket::Close => "close".into(),
        EnginePacket::Ping(payload) => format!("ping {payload}"),
        EnginePacket::Pong(payload) => format!("pong {payload}"),
        EnginePacket::Upgrade => "upgrade".into(),
        EnginePacket::Noop => "noop".into(),
        EnginePacket::Message(message) => match Packet::decode(message) {
            Ok(packet) => describe_packet(packet, direction),
            Err(error) => format!("message, undecodable ({error}): {}", shown(message)),
        },
    }
}

fn describe_packet(packet: Packet<'_>, direction: Direction) -> String {
    let Packet {
        kind,
        nsp,
        attachments,
        id,
        data,
    } = packet;
    let data = data.map(|data| redact(kind, id, data, direction));
    let payload = data
        .map(|data| shown(&data.to_string()).to_owned())
        .unwrap_or_default();
    let id = id.map_or_else(|| "-".to_owned(), |id| id.to_string());
    format!("{kind:?} nsp={nsp} id={id} attachments={attachments} {payload}")
}

/// The payload with its secrets replaced.
fn redact(kind: PacketKind, id: Option<u64>, data: Value, direction: Direction) -> Value {
    match (kind, data, direction) {
        // The client's CONNECT carries the auth, and the pid and offset of a recovery.
        (PacketKind::Connect, Value::Object(map), Direction::Out) => Value::Object(
            map.into_iter()
                .map(|(key, _)| (key, Value::from("<redacted>")))
                .collect(),
        ),
        // The server's reply carries the pid.
        (PacketKind::Connect, Value::Object(mut map), Direction::In) => {
            if let Some(pid) = map.get_mut("pid") {
                *pid = Value::from("<redacted>");
            }
            Value::Object(map)
        }
        // An event that asks for no ack may end with its recovery offset.
        (PacketKind::Event | PacketKind::BinaryEvent, Value::Array(mut args), Direction::In)
            if id.is_none() && args.len() > 1 =>
        {
            if let Some(last) = args.last_mut().filter(|last| last.is_string()) {
                *last = Value::from("<offset>");
            }
            Value::Array(args)
        }
        (_, data, _) => data,
    }
}

/// The start of `text`, cut on a character boundary.
fn shown(text: &str) -> &str {
    let mut end = text.len().min(SHOWN);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_the_packet_and_hide_the_secrets() {
        use Direction::{In, Out};
        let table = [
            (
                Out,
                r#"40{"token":"abc","pid":"p1","offset":"o1"}"#,
                r#"Connect nsp=/ id=- attachments=0 {"offset":"<redacted>","pid":"<redacted>","token":"<redacted>"}"#,
            ),
            (
                In,
                r#"40/admin,{"sid":"s1","pid":"p1"}"#,
                r#"Connect nsp=/admin id=- attachments=0 {"pid":"<redacted>","sid":"s1"}"#,
            ),
            (
                In,
                r#"42["tick",1,"Q8Ftvuo"]"#,
                r#"Event nsp=/ id=- attachments=0 ["tick",1,"<offset>"]"#,
            ),
            (
                In,
                r#"421["ask","kept"]"#,
                r#"Event nsp=/ id=1 attachments=0 ["ask","kept"]"#,
            ),
            (
                Out,
                r#"42["say","kept"]"#,
                r#"Event nsp=/ id=- attachments=0 ["say","kept"]"#,
            ),
            (
                In,
                r#"451-["bin",{"_placeholder":true,"num":0},"o2"]"#,
                r#"BinaryEvent nsp=/ id=- attachments=1 ["bin",{"_placeholder":true,"num":0},"<offset>"]"#,
            ),
            (In, "2", "ping "),
            (Out, "3", "pong "),
            (
                In,
                "9x",
                "undecodable (unknown Engine.IO packet type '9'): 9x",
            ),
        ];
        for (direction, frame, want) in table {
            assert_eq!(describe(frame, direction), want, "{frame}");
        }
    }

    /// socket.io-msgpack-parser's packets, as bytes the server and the
    /// client send, with the same secrets hidden.
    #[cfg(feature = "msgpack")]
    #[test]
    fn msgpack_packets_show_decoded_with_the_secrets_hidden() {
        use Direction::{In, Out};
        fn map(entries: &[(&str, &[u8])]) -> Vec<u8> {
            let mut out = vec![0x80 | entries.len() as u8];
            for (key, value) in entries {
                out.push(0xa0 | key.len() as u8);
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(value);
            }
            out
        }
        let connect = map(&[
            ("type", &[0]),
            ("nsp", b"\xa1/"),
            ("data", b"\x82\xa3pid\xa2p1\xa5token\xa1t"),
        ]);
        let tick = map(&[
            ("type", &[2]),
            ("nsp", b"\xa1/"),
            ("data", b"\x93\xa4tick\xc4\x01\x07\xa2o1"),
        ]);
        let table = [
            (
                Out,
                connect.clone(),
                r#"Connect nsp=/ id=- attachments=0 {"pid":"<redacted>","token":"<redacted>"}"#,
            ),
            (
                In,
                connect,
                r#"Connect nsp=/ id=- attachments=0 {"pid":"<redacted>","token":"t"}"#,
            ),
            (
                In,
                tick,
                r#"Event nsp=/ id=- attachments=1 ["tick",{"_placeholder":true,"num":0},"<offset>"]"#,
            ),
            (
                In,
                vec![0x93],
                "binary, undecodable (invalid msgpack packet: a packet must be a map): attachment 1 bytes: 93",
            ),
        ];
        for (direction, message, want) in table {
            assert_eq!(describe_binary(Parser::MsgPack, &message, direction), want);
        }
    }

    #[test]
    fn long_payloads_are_cut_on_a_character_boundary() {
        let frame = format!(r#"42["say","{}"]"#, "é".repeat(200));
        let line = describe(&frame, Direction::Out);
        assert!(line.len() < 200, "{line}");
        assert_eq!(
            describe_binary(Parser::Default, &[1, 2, 3], Direction::In),
            "attachment 3 bytes: 01 02 03"
        );
    }
}
