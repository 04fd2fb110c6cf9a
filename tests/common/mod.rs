//! Shared test harness for the interop tests: a real Socket.IO server
//! (`server`), a link-fault TCP proxy (`proxy`) and a few helpers.
//!
//! Only `client` uses the library; the server, the proxy and the raw client
//! do not, so they can check the library from the outside.
#![allow(dead_code, unused_imports, unused_macros)]

pub mod client;
pub mod daemon;
pub mod haproxy;
pub mod install_lock;
pub mod parsers;
pub mod proxies;
pub mod proxy;
pub mod python;
pub mod redis;
#[path = "../support/rng.rs"]
pub mod rng;
pub mod scripted;
pub mod server;

use std::future::Future;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use proxy::Proxy;
pub use server::{ServerOptions, TestServer};

/// Generous safety-net timeout for things that should happen "soon".
/// Tests must not assert on timing; this only keeps a broken test from
/// hanging forever.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Awaits `fut`, panicking with `what` if it takes longer than `timeout`.
pub async fn within<F: Future>(timeout: Duration, what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(timeout, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// Predicate matching server log lines whose `ev` field equals `name`.
pub fn ev(name: &'static str) -> impl Fn(&Value) -> bool {
    move |v: &Value| v["ev"] == name
}

/// Predicate matching server log lines with the given `ev` and `id`
/// (socket id) fields.
pub fn ev_id(name: &'static str, id: impl Into<String>) -> impl Fn(&Value) -> bool {
    let id = id.into();
    move |v: &Value| v["ev"] == name && v["id"] == id.as_str()
}

/// A raw Engine.IO/Socket.IO WebSocket connection that does not use the
/// library: for checking the server, the proxy, or exact frames.
pub struct RawClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Answer Engine.IO pings (`2`) with pongs (`3`) while receiving.
    pub auto_pong: bool,
}

/// A frame received by [`RawClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawFrame {
    Text(String),
    Binary(Vec<u8>),
}

impl RawClient {
    /// The Engine.IO WebSocket URL for a server base URL such as
    /// `http://127.0.0.1:1234`.
    pub fn ws_url(base: &str) -> String {
        let base = base
            .replacen("http://", "ws://", 1)
            .replacen("https://", "wss://", 1);
        format!(
            "{}/socket.io/?EIO=4&transport=websocket",
            base.trim_end_matches('/')
        )
    }

    /// Opens the WebSocket (`base` is `http://host:port`). Does not read the
    /// open packet.
    pub async fn connect(base: &str) -> Result<RawClient, tokio_tungstenite::tungstenite::Error> {
        let url = Self::ws_url(base);
        let (ws, _) = within(TIMEOUT, "raw websocket connect", async {
            tokio_tungstenite::connect_async(url.as_str()).await
        })
        .await?;
        Ok(RawClient {
            ws,
            auto_pong: true,
        })
    }

    /// Opens the WebSocket, checks the Engine.IO open packet and returns
    /// it parsed (`sid`, `pingInterval`, ...).
    pub async fn connect_open(base: &str) -> (RawClient, Value) {
        let mut c = Self::connect(base).await.expect("raw websocket connect");
        let open = c.recv_text().await;
        assert!(open.starts_with("0{"), "expected open packet, got {open:?}");
        let v: Value = serde_json::from_str(&open[1..]).expect("open packet JSON");
        (c, v)
    }

    /// Sends a text frame.
    pub async fn send(&mut self, text: &str) {
        within(TIMEOUT, "raw send", self.ws.send(Message::text(text)))
            .await
            .expect("raw send");
    }

    /// Sends a binary frame.
    pub async fn send_binary(&mut self, data: Vec<u8>) {
        within(TIMEOUT, "raw send", self.ws.send(Message::binary(data)))
            .await
            .expect("raw send");
    }

    /// Next text or binary frame, or `None` when the connection ended
    /// (closed or failed). Answers pings when `auto_pong` is set (the pings
    /// are not returned then). Panics after [`TIMEOUT`].
    pub async fn recv_opt(&mut self) -> Option<RawFrame> {
        self.recv_timeout(TIMEOUT)
            .await
            .unwrap_or_else(|| panic!("raw client: no frame within {TIMEOUT:?}"))
    }

    /// Like [`RawClient::recv_opt`] but returns `None` (outer) when nothing
    /// arrived within `timeout`.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<Option<RawFrame>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => return Some(None),
                Ok(Some(Ok(m))) => m,
            };
            match msg {
                Message::Text(t) => {
                    if self.auto_pong && t.as_str() == "2" {
                        let _ = self.ws.send(Message::text("3")).await;
                        continue;
                    }
                    return Some(Some(RawFrame::Text(t.as_str().to_owned())));
                }
                Message::Binary(b) => return Some(Some(RawFrame::Binary(b.to_vec()))),
                Message::Close(_) => return Some(None),
                _ => continue,
            }
        }
    }

    /// Next frame, which must be text.
    pub async fn recv_text(&mut self) -> String {
        match self.recv_opt().await {
            Some(RawFrame::Text(t)) => t,
            other => panic!("raw client: expected a text frame, got {other:?}"),
        }
    }

    /// Next frame, which must be binary.
    pub async fn recv_binary(&mut self) -> Vec<u8> {
        match self.recv_opt().await {
            Some(RawFrame::Binary(b)) => b,
            other => panic!("raw client: expected a binary frame, got {other:?}"),
        }
    }

    /// Waits until the connection ends (closed or failed), discarding
    /// frames. Panics after `timeout`.
    pub async fn wait_closed(&mut self, timeout: Duration) {
        within(timeout, "raw connection to close", async {
            while self.recv_timeout(timeout).await.flatten().is_some() {}
        })
        .await
    }

    /// Closes the WebSocket politely.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    /// The underlying WebSocket stream.
    pub fn ws(&mut self) -> &mut WebSocketStream<MaybeTlsStream<TcpStream>> {
        &mut self.ws
    }
}

/// Splits a Socket.IO packet text (the part after the Engine.IO `4`) into
/// (type, attachments, namespace, ack id, JSON payload). Only for tests;
/// tolerant rather than strict.
pub fn split_sio(packet: &str) -> (u8, Option<usize>, String, Option<u64>, Option<Value>) {
    let bytes = packet.as_bytes();
    assert!(!bytes.is_empty(), "empty socket.io packet");
    let ty = bytes[0] - b'0';
    let mut rest = &packet[1..];
    let mut attachments = None;
    if ty == 5 || ty == 6 {
        let dash = rest.find('-').expect("binary packet without '-'");
        attachments = Some(rest[..dash].parse().expect("attachment count"));
        rest = &rest[dash + 1..];
    }
    let mut nsp = "/".to_owned();
    if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        nsp = rest[..end].to_owned();
        rest = rest.get(end + 1..).unwrap_or("");
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let ack = if digits > 0 {
        Some(rest[..digits].parse().expect("ack id"))
    } else {
        None
    };
    rest = &rest[digits..];
    let data = if rest.is_empty() {
        None
    } else {
        Some(serde_json::from_str(rest).expect("socket.io packet JSON"))
    };
    (ty, attachments, nsp, ack, data)
}
