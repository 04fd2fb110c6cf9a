//! Engine.IO v4 payloads, the bodies of HTTP long-polling: several packets
//! separated by the record separator `\x1e`, a binary packet written as `b`
//! and its base64.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;

use crate::codec::limits::MAX_POST_PACKETS;
use crate::codec::Frame;
use crate::error::protocol::ProtocolError;

/// The record separator between the packets of a payload.
pub(crate) const SEPARATOR: char = '\x1e';

/// One packet of a received payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PayloadPacket<'a> {
    /// A text packet, as a WebSocket text message would carry it.
    Text(&'a str),
    /// A binary packet, decoded.
    Binary(Bytes),
}

/// Splits a received payload into its packets, in order. An empty payload
/// holds none.
pub(crate) fn decode(body: &str) -> impl Iterator<Item = Result<PayloadPacket<'_>, ProtocolError>> {
    body.split(SEPARATOR)
        .filter(|packet| !packet.is_empty())
        .map(|packet| match packet.strip_prefix('b') {
            Some(base64) => STANDARD
                .decode(base64)
                .map(|data| PayloadPacket::Binary(Bytes::from(data)))
                .map_err(|_| ProtocolError::InvalidPayload("a binary packet that is not base64")),
            None => Ok(PayloadPacket::Text(packet)),
        })
}

/// Whether a polling body is framed as Engine.IO v3 (socket.io 2.x) frames
/// it: each packet behind its length and a colon, `97:0{"sid":…}2:40`.
/// A v4 packet starts with its type digit and never has a colon right
/// after the leading digits.
pub(crate) fn is_engine_io_v3(body: &str) -> bool {
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && body.as_bytes().get(digits) == Some(&b':')
}

/// The packet a frame travels as in a payload.
pub(crate) fn encode_frame(frame: Frame) -> String {
    match frame {
        Frame::Text(text) => text,
        Frame::Binary(data) => {
            let mut packet = String::with_capacity(1 + data.len().div_ceil(3) * 4);
            packet.push('b');
            STANDARD.encode_string(&data, &mut packet);
            packet
        }
    }
}

/// How many packets a POST may carry to the server whose open packet is
/// `open` (its JSON, after the `0`). The reference server (Node's
/// engine.io) takes any number, up to its byte limit, and writes its open
/// packet's keys in the order `sid, upgrades, pingInterval, pingTimeout,
/// maxPayload`; python-engineio, which refuses more than 16, writes
/// `pingTimeout` first. A server that does not write the reference order is
/// sent at most [`MAX_POST_PACKETS`] a POST, so none is refused.
pub(crate) fn post_packet_limit(open: &str) -> usize {
    match (open.find("\"pingInterval\""), open.find("\"pingTimeout\"")) {
        (Some(interval), Some(timeout)) if interval < timeout => usize::MAX,
        _ => MAX_POST_PACKETS,
    }
}

/// Joins packets into one body of at most `max` bytes (the server's
/// maxPayload, 0 for no limit) and `max_packets` packets, taking them from
/// the front of `packets`. A packet larger than `max` alone goes alone: the
/// server refuses it, as it would refuse it on a WebSocket.
pub(crate) fn take_body(
    packets: &mut std::collections::VecDeque<String>,
    max: u64,
    max_packets: usize,
) -> String {
    let mut body = String::new();
    let mut taken = 0;
    while let Some(packet) = packets.front().filter(|_| taken < max_packets) {
        taken += 1;
        let size = body.len() + usize::from(!body.is_empty()) + packet.len();
        if !body.is_empty() && max > 0 && size as u64 > max {
            break;
        }
        if !body.is_empty() {
            body.push(SEPARATOR);
        }
        body.push_str(packet);
        packets.pop_front();
    }
    body
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    #[test]
    fn a_payload_splits_into_its_packets() {
        let body = "40{\"sid\":\"S\",\"pid\":\"P\"}\x1e42[\"hello\",\"world\",\"Q8p\"]\x1e451-[\"bin\",{\"_placeholder\":true,\"num\":0},\"Q8p.0\"]\x1ebAQID";
        let packets: Vec<_> = decode(body).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            packets,
            [
                PayloadPacket::Text("40{\"sid\":\"S\",\"pid\":\"P\"}"),
                PayloadPacket::Text("42[\"hello\",\"world\",\"Q8p\"]"),
                PayloadPacket::Text("451-[\"bin\",{\"_placeholder\":true,\"num\":0},\"Q8p.0\"]"),
                PayloadPacket::Binary(Bytes::from_static(&[1, 2, 3])),
            ]
        );
    }

    #[test]
    fn odd_payloads() {
        let table: [(&str, usize); 5] =
            [("", 0), ("6", 1), ("2", 1), ("2\x1e2", 2), ("\x1e3\x1e", 1)];
        for (body, count) in table {
            assert_eq!(decode(body).count(), count, "{body:?}");
        }
        assert_eq!(
            decode("b!!!").next(),
            Some(Err(ProtocolError::InvalidPayload(
                "a binary packet that is not base64"
            )))
        );
    }

    #[test]
    fn only_the_reference_server_takes_posts_of_any_size() {
        let node = r#"{"sid":"T","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        let python = r#"{"sid":"W","upgrades":["websocket"],"pingTimeout":20000,"pingInterval":25000,"maxPayload":1000000}"#;
        assert_eq!(post_packet_limit(node), usize::MAX);
        assert_eq!(post_packet_limit(python), MAX_POST_PACKETS);
        assert_eq!(post_packet_limit(r#"{"sid":"x"}"#), MAX_POST_PACKETS);
        let mut many: VecDeque<String> = (0..20).map(|n| n.to_string()).collect();
        assert_eq!(
            take_body(&mut many, 0, usize::MAX).split(SEPARATOR).count(),
            20
        );
    }

    #[test]
    fn engine_io_v3_bodies_are_told_apart() {
        let table = [
            (
                r#"97:0{"sid":"x","upgrades":["websocket"],"pingInterval":25000}2:40"#,
                true,
            ),
            ("2:40", true),
            (
                r#"0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#,
                false,
            ),
            (r#"42["a:b"]"#, false),
            ("6", false),
            (":0", false),
            ("", false),
        ];
        for (body, v3) in table {
            assert_eq!(is_engine_io_v3(body), v3, "{body:?}");
        }
    }

    #[test]
    fn frames_become_packets() {
        assert_eq!(encode_frame(Frame::Text("3".into())), "3");
        assert_eq!(
            encode_frame(Frame::Binary(Bytes::from_static(&[1, 2, 3]))),
            "bAQID"
        );
        assert_eq!(encode_frame(Frame::Binary(Bytes::new())), "b");
    }

    #[test]
    fn bodies_fit_the_servers_limit() {
        let mut packets: VecDeque<String> = ["421[\"echo\",{\"a\":1}]", "3", "42[\"x\"]"]
            .map(String::from)
            .into();
        assert_eq!(
            take_body(&mut packets.clone(), 0, usize::MAX),
            "421[\"echo\",{\"a\":1}]\x1e3\x1e42[\"x\"]"
        );
        // 20 + 1 + 1 = 22 bytes fit; the third would make 30.
        assert_eq!(
            take_body(&mut packets, 22, usize::MAX),
            "421[\"echo\",{\"a\":1}]\x1e3"
        );
        assert_eq!(take_body(&mut packets, 22, usize::MAX), "42[\"x\"]");
        assert!(packets.is_empty());
        // At most 16 packets a body, whatever their size.
        let mut many: VecDeque<String> = (0..40).map(|n| n.to_string()).collect();
        let first = take_body(&mut many, 0, MAX_POST_PACKETS);
        assert_eq!(first.split(SEPARATOR).count(), MAX_POST_PACKETS);
        assert!(first.starts_with("0\x1e1\x1e") && first.ends_with("\x1e15"));
        assert_eq!(
            take_body(&mut many, 0, MAX_POST_PACKETS)
                .split(SEPARATOR)
                .count(),
            16
        );
        assert_eq!(
            take_body(&mut many, 0, MAX_POST_PACKETS),
            "32\x1e33\x1e34\x1e35\x1e36\x1e37\x1e38\x1e39"
        );
        // Too large alone: it goes alone.
        let mut big: VecDeque<String> = ["x".repeat(30), "3".into()].into();
        assert_eq!(take_body(&mut big, 10, usize::MAX), "x".repeat(30));
        assert_eq!(take_body(&mut big, 10, usize::MAX), "3");
    }
}
