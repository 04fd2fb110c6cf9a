//! An async [Socket.IO](https://socket.io) client for tokio, speaking protocol v5
//! over Engine.IO v4 WebSockets (socket.io 4.x servers), with connection state
//! recovery.
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
#![deny(missing_docs)]

mod builder;
mod dispatcher;
mod driver;
mod engineio;
mod error;
mod event;
mod event_args;
mod manager;
mod protocol_error;
mod reconnect;
mod session;
mod socket;
mod socketio;
mod status;
mod tls;
mod transport;

pub use builder::ClientBuilder;
pub use dispatcher::ListenerId;
pub use error::{AckError, ConnectError, EmitError, UnsentEmit, WsError};
pub use event::{DisconnectReason, Event, SocketEvent};
pub use manager::{Engine, Manager};
pub use protocol_error::ProtocolError;
pub use socket::{Emitter, EventStream, RecoveryState, Socket};
pub use tokio_tungstenite::tungstenite;

/// The native-tls crate, for [`ClientBuilder::native_tls_connector`].
#[cfg(feature = "native-tls")]
pub use native_tls;
/// The rustls crate, for [`ClientBuilder::tls_config`].
#[cfg(feature = "rustls-tls-webpki-roots")]
pub use rustls;
