//! An async [Socket.IO](https://socket.io) client for tokio, speaking protocol v5
//! over Engine.IO v4 (socket.io 4.x servers), over WebSocket or HTTP
//! long-polling, with connection state recovery.
//!
//! ```no_run
//! use std::time::Duration;
//! use sioclient::{ClientBuilder, SocketEvent};
//! use futures::StreamExt;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let socket = ClientBuilder::new("http://localhost:3000")
//!     .reconnection_delay(Duration::from_millis(500))
//!     .reconnection_delay_max(Duration::from_secs(5))
//!     .on("chat", |event, _socket| async move {
//!         let (user, text): (String, String) = event.decode().unwrap_or_default();
//!         println!("{user}: {text}");
//!     })
//!     .connect()
//!     .await?;
//!
//! socket.emit("chat", ("alice", "hello")).await?;
//! let count: u64 = socket.emit_with_ack("count", ()).await?;
//! println!("{count} messages, recovered: {}", socket.recovered());
//!
//! let mut events = socket.events();
//! while let Some(event) = events.next().await {
//!     if let SocketEvent::Disconnect(reason) = event {
//!         println!("disconnected: {reason}");
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! The connection is owned by one task; handles ([`Socket`], [`Manager`]) talk
//! to it through channels. When the link drops, the client reconnects with
//! backoff, and when the server has connection state recovery enabled it sends
//! its session id and last offset so the server replays what was missed.
//!
//! # Connection state recovery
//!
//! With `connectionStateRecovery` on the server, the CONNECT reply carries a
//! private session id (pid), and every event that asks for no ack carries an
//! offset as its last argument. The client strips that offset (handlers,
//! streams and [`Event::decode`] never see it; [`Event::offset`] has it) and
//! remembers the last one. After a lost link it sends both back; the server
//! replays every missed event before its CONNECT reply. The socket is
//! connected only when the reply grants the connect: the replayed events are
//! held until then and delivered right after the connect event (`recovered:
//! true`), so a server whose middleware refuses the recovering CONNECT
//! (`skipMiddlewares: false` and an expired token) gives a
//! [`SocketEvent::ConnectError`] and no connect. A replay longer than the
//! hold (1,024 events or 8 MiB) is taken as the server restoring the session,
//! which is the only time it replays: the connect is announced then, and the
//! rest of the replay flows to the application as it comes, under the usual
//! backpressure, so memory stays bounded however long the replay; a refusal
//! after that is a disconnect. Emits wait for the reply either way.
//! [`Socket::recovered`] and [`SocketEvent::Connect`] say whether it
//! worked: no offset received yet, a session older than the server's
//! `maxDisconnectionDuration`, or a `disconnect()` on either side each give a
//! fresh session instead, with a new [`Socket::id`].
//!
//! On a cluster (a Redis or other adapter), a node delivers its own broadcasts
//! before the ones relayed from other nodes, so events can reach the client in
//! an order other than the server's log, and the last offset received may lie
//! before an event already received. The replay then sends that event again;
//! the client remembers the offsets of its last 128 events and drops such
//! repeats. The opposite case cannot be repaired on the client: an event
//! relayed late and still in flight when the link drops lies before the offset
//! sent, so the server does not replay it.
//!
//! The protocol cannot tell a volatile event whose last argument is a string
//! from an event with an offset, so that string is taken for an offset; turn
//! [`ClientBuilder::strip_offsets`] off for servers that append none.
//!
//! A message the client refuses (larger than 64 MiB, nested deeper than the
//! JSON limit, malformed) ends the link with "parse error", and a recovering
//! server replays it after the reconnect. When a recovery ends on a refusal
//! again before any new event, the client gives the session up
//! ([`SocketEvent::RecoveryAbandoned`]) and the next connect starts a fresh
//! one, instead of looping forever.
//!
//! To survive a process restart, checkpoint [`Socket::recovery_state`] at the
//! end of a handler (the pid and the offset of the event being handled; a
//! consumer of a stream takes [`Socket::recovery_state_after`] the event it
//! finished) and start the next process with [`ClientBuilder::recovery_state`].
//! `examples/checkpoint.rs` is such a service.
//!
//! # Without async
//!
//! The `blocking` feature adds `ClientBuilder::build_blocking` and
//! `connect_blocking`: a `blocking::Socket` whose calls block, whose
//! listeners are plain closures, and whose events come as an iterator. The
//! connection runs on a runtime of its own, on a thread of its own.
//!
//! # Servers with socket.io-msgpack-parser
//!
//! The `msgpack` feature adds [`Parser::MsgPack`](crate::Parser), for a
//! server created with `parser: require("socket.io-msgpack-parser")`: set it
//! with [`ClientBuilder::parser`]. Everything else stays as it is, and an
//! event reads the same with either parser. Client and server must agree:
//! against a server with the other parser, the first connect fails at once
//! with [`ConnectError::ClosedAtConnect`], which names the fix.
//!
//! # Ordering and backpressure
//!
//! Handlers of one socket run one at a time, in arrival order, on a task of
//! their own, never on the connection's task; a handler that wants concurrency
//! spawns. Between the connection and the handlers sits a bounded queue
//! ([`ClientBuilder::event_buffer`], 1024 events by default, plus up to 32
//! the dispatcher has taken), and each [`Socket::events`] stream holds up to
//! 64 more. When the application falls
//! behind and they fill, the client stops reading from the server until there
//! is room again: memory stays bounded and nothing is dropped. A stream that is
//! created but never polled therefore stalls the socket; drop streams you stop
//! reading. Heartbeats are not judged while reading is paused, but the server
//! still expects them, so a consumer stalled for longer than the server's
//! ping timeout loses the connection (and recovers it, where the server allows).
//!
//! # Binary data
//!
//! Every [`Bytes`](bytes::Bytes) value in the arguments of an emit or an ack
//! answer, and every `serde_bytes` value, is sent as a binary attachment, at
//! any depth: top level, in structs, maps, arrays or enums, as many as needed.
//! The event then goes out as a BINARY_EVENT (or BINARY_ACK) whose JSON holds
//! `{"_placeholder":true,"num":N}` where the N-th buffer stood, followed by
//! one binary WebSocket frame per buffer; the server sees Node `Buffer`s. A
//! plain `Vec<u8>` serializes as a sequence and is sent as a JSON array of
//! numbers: use `Bytes` or `#[serde(with = "serde_bytes")]` for binary.
//!
//! ```no_run
//! use sioclient::bytes::Bytes;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Photo {
//!     name: String,
//!     data: Bytes,
//!     #[serde(with = "serde_bytes")]
//!     thumbnail: Vec<u8>,
//! }
//!
//! # async fn run(socket: sioclient::Socket, photo: Photo) -> Result<(), Box<dyn std::error::Error>> {
//! socket.emit("upload", &photo).await?; // two attachments
//! let echoed: Photo = socket.emit_with_ack("echo", &photo).await?;
//! # Ok(()) }
//! ```
//!
//! Received binary data is shown two ways. [`Event::args`] is the untyped
//! view: each buffer stays the placeholder `{"_placeholder":true,"num":N}`,
//! and its bytes are [`Event::attachments`]`()[N]`. [`Event::decode`] and the
//! replies of `emit_with_ack` put the bytes in place: a field of type `Bytes`,
//! `Vec<u8>` or a `serde_bytes` type receives the buffer. (A
//! `serde_json::Value` cannot hold bytes: it receives the placeholder.)
//!
//! Limits:
//! - A message from the server may be up to 64 MiB: one WebSocket message,
//!   text or binary, in one frame or several. A received packet may announce
//!   at most 256 attachments, of at most 64 MiB together; a larger message,
//!   more attachments, a
//!   placeholder without its attachment, a binary frame that nobody announced
//!   or a text packet before all announced attachments came is a protocol
//!   error: the link ends with "parse error" and reconnects per the policy.
//! - Recent reference servers (socket.io 4.8 with socket.io-parser 4.2.7, for
//!   one) refuse a packet with more than 10 attachments by default (the
//!   parser's `maxAttachments` option) and close the connection over it, so
//!   keep to 10 per emit unless the server is configured otherwise.
//! - Engine.IO limits every message to the server's
//!   `maxHttpBufferSize` (announced as maxPayload), the text frame and each
//!   attachment alike, and the server closes the whole connection over a
//!   larger one. Once the first link of a connection opened, an emit with a
//!   larger message fails with [`EmitError::PayloadTooLarge`] before anything
//!   is queued; before that the limit is unknown and not checked.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
mod client;
mod codec;
mod deque;
mod driver;
mod engine;
mod error;
mod proto;
mod queue;

pub use client::auth::{AuthCallback, ReturnsFuture, ReturnsValue};
pub use client::builder::ClientBuilder;
pub use client::manager::Engine;
pub use client::registry::ListenerId;
pub use client::shared::{Manager, Socket};
pub use client::socket::{Emitter, EventStream};
pub use codec::parser::Parser;
pub use engine::transport::Transport;
pub use error::protocol::ProtocolError;
pub use error::{AckError, ConnectError, EmitError, EngineIoError, TransportError, UnsentEmit};
pub use proto::event::{DisconnectReason, Event, SocketEvent};
pub use proto::recovery::RecoveryState;

/// The bytes crate: [`bytes::Bytes`] is the type of binary attachments (its
/// `serde` feature is on, so a `Bytes` value anywhere in emitted arguments is
/// sent as an attachment).
pub use bytes;

/// The native-tls crate, for [`ClientBuilder::native_tls_connector`].
#[cfg(feature = "native-tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "native-tls")))]
pub use native_tls;
/// The rustls crate, for [`ClientBuilder::tls_config`].
#[cfg(feature = "__rustls")]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "rustls-tls-webpki-roots",
        feature = "rustls-tls-native-roots"
    )))
)]
pub use rustls;

#[cfg(feature = "__bench")]
#[doc(hidden)]
pub mod bench_support;

/// The README's examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
