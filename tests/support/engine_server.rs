//! An in-process server that speaks just enough Engine.IO v4 / Socket.IO v5
//! for the throughput benchmark and the driver's paused-time tests, over any
//! byte stream: a TCP connection in the benchmark, an in-memory pipe in the
//! tests (where time can be paused, since nothing waits on the network).
//!
//! Every connection gets the open packet it is given, then the CONNECT reply
//! (with a `pid`, as a server with connection state recovery sends it, so that
//! the client strips offsets) once it sends `40`, or its CONNECT in
//! socket.io-msgpack-parser's form, which makes the connection a msgpack one.
//! What follows depends on the [`Mode`]. It never pings.

#![allow(dead_code)]

use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

/// The open packet of the benchmark: a 25 s heartbeat, so that none is due
/// within a run.
pub const OPEN: &str = r#"0{"sid":"bench-engine-sid","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

/// The CONNECT reply.
pub const CONNECT_REPLY: &str = r#"40{"sid":"bench-socket-sid","pid":"bench-private-pid"}"#;

/// The frame the blast mode sends as its `i`th event.
pub fn blast_frame(i: usize) -> String {
    format!(r#"42["tick",{i},{{"user":"alice","text":"hello world"}},"Q8Ftu{i}"]"#)
}

/// The CONNECT reply in socket.io-msgpack-parser's form:
/// `{type:0, nsp:"/", data:{sid:"bench-socket-sid", pid:"bench-private-pid"}}`.
pub fn connect_reply_msgpack() -> Vec<u8> {
    let mut out = vec![0x83];
    msgpack_str(&mut out, "type");
    out.push(0);
    msgpack_str(&mut out, "nsp");
    msgpack_str(&mut out, "/");
    msgpack_str(&mut out, "data");
    out.push(0x82);
    msgpack_str(&mut out, "sid");
    msgpack_str(&mut out, "bench-socket-sid");
    msgpack_str(&mut out, "pid");
    msgpack_str(&mut out, "bench-private-pid");
    out
}

/// [`blast_frame`] in socket.io-msgpack-parser's form.
pub fn blast_frame_msgpack(i: usize) -> Vec<u8> {
    let mut out = vec![0x83];
    msgpack_str(&mut out, "type");
    out.push(2);
    msgpack_str(&mut out, "nsp");
    msgpack_str(&mut out, "/");
    msgpack_str(&mut out, "data");
    out.push(0x94);
    msgpack_str(&mut out, "tick");
    out.push(0xcf);
    out.extend_from_slice(&(i as u64).to_be_bytes());
    out.push(0x82);
    msgpack_str(&mut out, "user");
    msgpack_str(&mut out, "alice");
    msgpack_str(&mut out, "text");
    msgpack_str(&mut out, "hello world");
    msgpack_str(&mut out, &format!("Q8Ftu{i}"));
    out
}

/// A msgpack string shorter than 256 bytes.
fn msgpack_str(out: &mut Vec<u8>, text: &str) {
    if text.len() < 32 {
        out.push(0xa0 | text.len() as u8);
    } else {
        out.extend_from_slice(&[0xd9, text.len() as u8]);
    }
    out.extend_from_slice(text.as_bytes());
}

/// What a connection does once its namespace is connected.
pub enum Mode {
    /// Reads until the client goes.
    Idle,
    /// Never answers the CONNECT; reads until the client goes.
    Mute,
    /// After the client's `42["go"]` (any binary message from a msgpack
    /// client), writes the first `n` of `frames` (of `msgpack`) with `feed`
    /// and one `flush`.
    Blast {
        frames: Arc<[Utf8Bytes]>,
        msgpack: Arc<[Bytes]>,
        n: usize,
    },
    /// Counts the `42...` frames it receives (binary ones from a msgpack
    /// client) and reports the instant the `n`th arrived.
    Sink {
        n: usize,
        report: mpsc::UnboundedSender<std::time::Instant>,
    },
    /// Answers each `42<id>[...]` with `43<id>["ok"]`, except the first
    /// `ignore` of them.
    Ack { ignore: usize },
    /// Ends the namespace at once with a DISCONNECT, as `socket.disconnect()`
    /// on the server does.
    Disconnect,
}

/// Serves one connection, whose WebSocket handshake is done. Every text
/// frame the client sends is also reported on `heard`, if given, with the
/// instant it arrived.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: WebSocketStream<S>,
    open: &str,
    mode: Mode,
    heard: Option<mpsc::UnboundedSender<(tokio::time::Instant, String)>>,
) {
    if ws.send(Message::text(open)).await.is_err() {
        return;
    }
    if let Mode::Mute = mode {
        while next(&mut ws, &heard).await.is_some() {}
        return;
    }
    // The CONNECT reply answers the client's `40`, or its msgpack CONNECT.
    let msgpack = loop {
        match next(&mut ws, &heard).await {
            Some(Message::Text(text)) if text.starts_with("40") => break false,
            Some(Message::Binary(_)) => break true,
            Some(_) => {}
            None => return,
        }
    };
    let reply = if msgpack {
        Message::binary(connect_reply_msgpack())
    } else {
        Message::text(CONNECT_REPLY)
    };
    if ws.send(reply).await.is_err() {
        return;
    }
    match mode {
        Mode::Idle | Mode::Mute => {}
        Mode::Disconnect => {
            let _ = ws.send(Message::text("41")).await;
        }
        Mode::Blast {
            frames,
            msgpack: msgpack_frames,
            n,
        } => {
            let encoded = if msgpack {
                msgpack_frames.len()
            } else {
                frames.len()
            };
            assert!(n <= encoded, "blast of {n} events asked, {encoded} encoded");
            loop {
                match next(&mut ws, &heard).await {
                    Some(Message::Text(text)) if text.starts_with(r#"42["go""#) => break,
                    Some(Message::Binary(_)) if msgpack => break,
                    Some(_) => {}
                    None => return,
                }
            }
            for i in 0..n {
                let frame = if msgpack {
                    Message::Binary(msgpack_frames[i].clone())
                } else {
                    Message::Text(frames[i].clone())
                };
                if ws.feed(frame).await.is_err() {
                    return;
                }
            }
            let _ = ws.flush().await;
        }
        Mode::Sink { n, report } => {
            let mut count = 0;
            while let Some(message) = next(&mut ws, &heard).await {
                let event = match &message {
                    Message::Text(text) => text.starts_with("42"),
                    Message::Binary(_) => msgpack,
                    _ => false,
                };
                if event {
                    count += 1;
                    if count == n {
                        let _ = report.send(std::time::Instant::now());
                        break;
                    }
                }
            }
        }
        Mode::Ack { mut ignore } => {
            while let Some(message) = next(&mut ws, &heard).await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Some(rest) = text.strip_prefix("42") else {
                    continue;
                };
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                if digits == 0 {
                    continue;
                }
                if ignore > 0 {
                    ignore -= 1;
                    continue;
                }
                let reply = format!(r#"43{}["ok"]"#, &rest[..digits]);
                if ws.send(Message::text(reply)).await.is_err() {
                    return;
                }
            }
        }
    }
    // Whatever comes now is read and ignored until the client goes.
    while next(&mut ws, &heard).await.is_some() {}
}

/// The next message from the client, reported on `heard` if it is text.
async fn next<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    heard: &Option<mpsc::UnboundedSender<(tokio::time::Instant, String)>>,
) -> Option<Message> {
    let message = ws.next().await?.ok()?;
    if let (Some(heard), Message::Text(text)) = (heard, &message) {
        let _ = heard.send((tokio::time::Instant::now(), text.to_string()));
    }
    Some(message)
}
