//! The Socket.IO protocol of one manager, sans IO: namespaces, acks, offsets
//! and recovery, the reconnection schedule, and the events they produce.
//! Inputs are calls that take the current time; outputs are pulled.

pub(crate) mod ack_sink;
pub(crate) mod connection;
pub(crate) mod emit;
pub(crate) mod event;
pub(crate) mod reconnect;
pub(crate) mod recovery;
pub(crate) mod status;
