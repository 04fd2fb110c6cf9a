//! Engine.IO v4 packets as carried by the WebSocket transport: one packet
//! per text message, the first character being the packet type. Binary
//! WebSocket messages are raw Socket.IO attachments and are not handled
//! here.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::codec::limits::{DEFAULT_MAX_PAYLOAD, MAX_HEARTBEAT};
use crate::error::protocol::ProtocolError;

/// Handshake values from the server's open packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenInfo {
    /// Engine.IO session id; shared, as the engine's status shows it too.
    pub sid: std::sync::Arc<str>,
    /// Transports the server offers to upgrade to (empty over WebSocket).
    pub upgrades: Vec<String>,
    /// How often the server sends a ping.
    pub ping_interval: Duration,
    /// How long after a missed ping the server gives up on the client.
    pub ping_timeout: Duration,
    /// The largest message, in bytes, the server accepts.
    pub max_payload: u64,
}

/// One Engine.IO packet carried in a text WebSocket message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EnginePacket<'a> {
    /// `0`: the handshake, sent by the server first.
    Open(OpenInfo),
    /// `1`: the peer closes the session.
    Close,
    /// `2`: heartbeat request; the payload (`probe` during an upgrade, else
    /// empty) is echoed in the pong.
    Ping(&'a str),
    /// `3`: heartbeat reply.
    Pong(&'a str),
    /// `4`: a Socket.IO packet, as text after the `4`.
    Message(&'a str),
    /// `5`: completes a transport upgrade.
    Upgrade,
    /// `6`: does nothing; used while upgrading.
    Noop,
}

/// The open packet's JSON, as the server sends it.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct OpenWire {
    sid: String,
    #[serde(default)]
    upgrades: Vec<String>,
    ping_interval: u64,
    ping_timeout: u64,
    #[serde(default = "default_max_payload")]
    max_payload: u64,
}

/// Serde default for [`OpenWire::max_payload`].
fn default_max_payload() -> u64 {
    DEFAULT_MAX_PAYLOAD
}

/// Milliseconds in `d`, saturating at `u64::MAX` so that any decoded value
/// encodes back unchanged.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl<'a> EnginePacket<'a> {
    /// Decodes a text frame; the first char is the type: 0 open, 1 close,
    /// 2 ping, 3 pong, 4 message, 5 upgrade, 6 noop.
    ///
    /// Payloads of close, upgrade and noop are ignored, as the reference
    /// parser does.
    pub(crate) fn decode(frame: &'a str) -> Result<Self, ProtocolError> {
        let mut chars = frame.chars();
        let kind = chars.next().ok_or(ProtocolError::Empty)?;
        let payload = chars.as_str();
        Ok(match kind {
            '0' => {
                let wire: OpenWire = serde_json::from_str(payload)
                    .map_err(|e| ProtocolError::InvalidOpen(e.to_string()))?;
                // A zero interval would have the link declared dead between
                // any two pings: the client would flap without end.
                if wire.ping_interval == 0 {
                    return Err(ProtocolError::InvalidOpen(
                        "pingInterval must be positive".into(),
                    ));
                }
                let heartbeat = |ms| Duration::from_millis(ms).min(MAX_HEARTBEAT);
                EnginePacket::Open(OpenInfo {
                    sid: wire.sid.into(),
                    upgrades: wire.upgrades,
                    ping_interval: heartbeat(wire.ping_interval),
                    ping_timeout: heartbeat(wire.ping_timeout),
                    max_payload: wire.max_payload,
                })
            }
            '1' => EnginePacket::Close,
            '2' => EnginePacket::Ping(payload),
            '3' => EnginePacket::Pong(payload),
            '4' => EnginePacket::Message(payload),
            '5' => EnginePacket::Upgrade,
            '6' => EnginePacket::Noop,
            other => return Err(ProtocolError::UnknownEnginePacket(other)),
        })
    }

    /// Appends the wire form (type digit then payload) to `out`.
    pub(crate) fn encode(&self, out: &mut String) {
        match self {
            EnginePacket::Open(info) => {
                out.push('0');
                let wire = OpenWire {
                    sid: info.sid.to_string(),
                    upgrades: info.upgrades.clone(),
                    ping_interval: millis(info.ping_interval),
                    ping_timeout: millis(info.ping_timeout),
                    max_payload: info.max_payload,
                };
                // Only the server sends open packets, so this path serves
                // tests and tools; the copies above do not matter. A struct
                // of strings and integers always serializes.
                if let Ok(json) = serde_json::to_string(&wire) {
                    out.push_str(&json);
                }
            }
            EnginePacket::Close => out.push('1'),
            EnginePacket::Ping(data) => {
                out.push('2');
                out.push_str(data);
            }
            EnginePacket::Pong(data) => {
                out.push('3');
                out.push_str(data);
            }
            EnginePacket::Message(data) => {
                out.push('4');
                out.push_str(data);
            }
            EnginePacket::Upgrade => out.push('5'),
            EnginePacket::Noop => out.push('6'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(sid: &str, upgrades: &[&str], interval: u64, timeout: u64, max: u64) -> OpenInfo {
        OpenInfo {
            sid: sid.into(),
            upgrades: upgrades.iter().map(|s| s.to_string()).collect(),
            ping_interval: Duration::from_millis(interval),
            ping_timeout: Duration::from_millis(timeout),
            max_payload: max,
        }
    }

    /// Canonical wire forms: decode gives the packet, encode gives the
    /// same text back.
    #[test]
    fn round_trip_table() {
        let table: Vec<(&str, EnginePacket<'_>)> = vec![
            (
                r#"0{"sid":"D2zuAAB","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
                EnginePacket::Open(open("D2zuAAB", &[], 25000, 20000, 1_000_000)),
            ),
            (
                r#"0{"sid":"a\"é","upgrades":["websocket"],"pingInterval":1,"pingTimeout":0,"maxPayload":5}"#,
                EnginePacket::Open(open("a\"é", &["websocket"], 1, 0, 5)),
            ),
            ("1", EnginePacket::Close),
            ("2", EnginePacket::Ping("")),
            ("2probe", EnginePacket::Ping("probe")),
            ("3", EnginePacket::Pong("")),
            ("3probe", EnginePacket::Pong("probe")),
            ("4", EnginePacket::Message("")),
            (
                r#"40{"token":"abc"}"#,
                EnginePacket::Message(r#"0{"token":"abc"}"#),
            ),
            (r#"42["é","ü"]"#, EnginePacket::Message(r#"2["é","ü"]"#)),
            ("5", EnginePacket::Upgrade),
            ("6", EnginePacket::Noop),
        ];
        for (wire, packet) in table {
            assert_eq!(EnginePacket::decode(wire).as_ref(), Ok(&packet), "{wire}");
            let mut out = String::from("prefix:");
            packet.encode(&mut out);
            assert_eq!(out, format!("prefix:{wire}"), "{packet:?}");
        }
    }

    /// Non-canonical but acceptable inputs.
    #[test]
    fn lenient_decode_table() {
        let table: Vec<(&str, EnginePacket<'_>)> = vec![
            (
                r#"0{"sid":"x","pingInterval":1,"pingTimeout":2}"#,
                EnginePacket::Open(open("x", &[], 1, 2, DEFAULT_MAX_PAYLOAD)),
            ),
            (
                r#"0 {"maxPayload":7,"extra":[1],"pingTimeout":2,"sid":"x","pingInterval":1} "#,
                EnginePacket::Open(open("x", &[], 1, 2, 7)),
            ),
            // Heartbeats past the bound are cut to it.
            (
                r#"0{"sid":"x","pingInterval":18446744073709551615,"pingTimeout":300001}"#,
                EnginePacket::Open(OpenInfo {
                    ping_interval: MAX_HEARTBEAT,
                    ping_timeout: MAX_HEARTBEAT,
                    ..open("x", &[], 0, 0, DEFAULT_MAX_PAYLOAD)
                }),
            ),
            (
                r#"0{"sid":"x","pingInterval":300000,"pingTimeout":299999}"#,
                EnginePacket::Open(open("x", &[], 300_000, 299_999, DEFAULT_MAX_PAYLOAD)),
            ),
            ("1ignored", EnginePacket::Close),
            ("5x", EnginePacket::Upgrade),
            ("6é", EnginePacket::Noop),
        ];
        for (wire, packet) in table {
            assert_eq!(EnginePacket::decode(wire), Ok(packet), "{wire}");
        }
    }

    #[test]
    fn decode_errors() {
        /// The error a bad frame must give.
        enum Want {
            Is(ProtocolError),
            Open,
        }
        let table: &[(&str, Want)] = &[
            ("", Want::Is(ProtocolError::Empty)),
            ("7", Want::Is(ProtocolError::UnknownEnginePacket('7'))),
            ("b4AQID", Want::Is(ProtocolError::UnknownEnginePacket('b'))),
            ("é", Want::Is(ProtocolError::UnknownEnginePacket('é'))),
            ("0", Want::Open),
            ("0{}", Want::Open),
            (r#"0{"sid":"x","pingInterval":1}"#, Want::Open),
            (
                r#"0{"sid":"x","pingInterval":-1,"pingTimeout":2}"#,
                Want::Open,
            ),
            (
                r#"0{"sid":"x","pingInterval":1.5,"pingTimeout":2}"#,
                Want::Open,
            ),
            (
                r#"0{"sid":"x","pingInterval":1,"pingTimeout":2}x"#,
                Want::Open,
            ),
            (r#"0{"sid":1,"pingInterval":1,"pingTimeout":2}"#, Want::Open),
            (
                r#"0{"sid":"x","pingInterval":0,"pingTimeout":2}"#,
                Want::Is(ProtocolError::InvalidOpen(
                    "pingInterval must be positive".into(),
                )),
            ),
        ];
        for (wire, want) in table {
            match (EnginePacket::decode(wire), want) {
                (Err(e), Want::Is(w)) => assert_eq!(&e, w, "{wire}"),
                (Err(e), Want::Open) => {
                    assert!(matches!(e, ProtocolError::InvalidOpen(_)), "{wire}: {e:?}")
                }
                (Ok(p), _) => panic!("{wire}: decoded {p:?}"),
            }
        }
    }

    #[test]
    fn prefixes_never_panic() {
        let frames = [
            r#"0{"sid":"D2zuAAB","upgrades":["é"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
            "2probe",
            r#"42["é"]"#,
        ];
        for frame in frames {
            for (i, _) in frame.char_indices() {
                let _ = EnginePacket::decode(&frame[..i]);
                let _ = EnginePacket::decode(&frame[i..]);
            }
        }
    }
}
