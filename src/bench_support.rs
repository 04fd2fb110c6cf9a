//! Thin wrappers over internal codecs, for the benchmarks in `bench/`
//! (a separate crate that sees only public items). Built only with the
//! private `__bench` feature, which the benchmarks turn on.
//!
//! **Not part of the API**: hidden from the docs and exempt from semver;
//! it may change or vanish in any release.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::time::Instant;

use crate::codec::args;
use crate::codec::engine::OpenInfo;
use crate::proto::ack_sink::{AckAnswer, AckSink, SinkClosed};
use crate::proto::auth::AuthSource;
use crate::proto::connection::{Connection, ConnectionOptions, SocketId};
use crate::proto::event::{Delivery, Event};
use crate::proto::reconnect::{ReconnectOptions, ReconnectPolicy};

/// Encodes an emit as `Socket::emit` does: the Engine.IO text frame is
/// appended to `out`, the binary attachments to `attachments`.
pub fn encode_event<A: Serialize + ?Sized>(
    out: &mut String,
    attachments: &mut Vec<Bytes>,
    nsp: &str,
    id: Option<u64>,
    name: &str,
    args: &A,
) -> Result<(), serde_json::Error> {
    args::encode_event(out, attachments, nsp, id, name, args).map(|_| ())
}

/// The client's receive path for namespace `/`, already connected: WebSocket
/// frames in, events out.
pub struct Receiver {
    conn: Connection,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

/// Benchmarks answer no ack request.
struct NoAnswers;

impl AckSink for NoAnswers {
    fn send(&self, _: AckAnswer) -> Result<(), SinkClosed> {
        Err(SinkClosed)
    }
}

impl Receiver {
    /// A session connected to `/`. With `strip_offsets` the server offers
    /// connection state recovery, so trailing offsets are taken off events.
    pub fn new(strip_offsets: bool) -> Self {
        let options = ConnectionOptions {
            strip_offsets,
            retries: 0,
            reconnect: ReconnectOptions {
                enabled: false,
                attempts: None,
                first_connect_window: None,
                policy: ReconnectPolicy::default(),
            },
            parser: crate::Parser::Default,
        };
        let mut conn = Connection::new(
            options,
            Duration::from_secs(20),
            Arc::new(NoAnswers),
            Instant::now(),
        );
        let ns = conn.add_namespace(SocketId::FIRST, "/", AuthSource::None, None);
        conn.connect(ns, false, Instant::now());
        let info = OpenInfo {
            sid: "bench".into(),
            upgrades: Vec::new(),
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            max_payload: 1_000_000,
        };
        conn.handle_open(info, Instant::now());
        let _ = conn.handle_text(r#"40{"sid":"s","pid":"p"}"#, Instant::now());
        let mut receiver = Receiver { conn };
        receiver.take();
        receiver
    }

    /// Feeds a text frame (Engine.IO type digit included); returns the event
    /// it completed, if any.
    pub fn text(&mut self, frame: &str) -> Option<Event> {
        self.conn.handle_text(frame, Instant::now()).ok()?;
        self.take()
    }

    /// Feeds a binary frame; returns the event it completed, if any.
    pub fn binary(&mut self, data: Bytes) -> Option<Event> {
        self.conn.handle_binary(data, Instant::now()).ok()?;
        self.take()
    }

    /// The last event delivered, dropping everything else queued.
    fn take(&mut self) -> Option<Event> {
        while self.conn.poll_transmit().is_some() {}
        while self.conn.poll_update().is_some() {}
        let mut last = None;
        while let Some((_, delivered)) = self.conn.poll_delivery() {
            if let Delivery::Event(event) = delivered {
                last = Some(event);
            }
        }
        last
    }
}
