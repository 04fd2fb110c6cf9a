//! Engine.IO: opening a link (the transport and the open handshake), the
//! [`link::Link`] every transport presents to the driver, the byte stream
//! and TLS under it, and the packet trace.

pub(crate) mod config;
pub(crate) mod cookies;
pub(crate) mod link;
pub(crate) mod open;
pub(crate) mod options;
#[cfg(feature = "polling")]
pub(crate) mod polling;
pub(crate) mod proxy;
pub(crate) mod status;
pub(crate) mod stream;
pub(crate) mod tls;
pub(crate) mod trace;
pub(crate) mod transport;
#[cfg(feature = "polling")]
pub(crate) mod upgrade;
pub(crate) mod websocket;
