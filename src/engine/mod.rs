//! Engine.IO: opening a link (the transport and the open handshake), TLS,
//! and the packet trace.

pub(crate) mod stream;
pub(crate) mod tls;
pub(crate) mod trace;
pub(crate) mod websocket;
