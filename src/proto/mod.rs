//! The Socket.IO protocol of one manager, sans IO: namespaces, acks, offsets
//! and recovery, the reconnection rules, and the events they produce.
//! Inputs are calls that take the current time; outputs are pulled. Nothing
//! here imports the driver, the transport or the public face, holds a
//! channel or reads the clock.
//!
//! Who owns what, for the whole crate:
//!
//! - **Namespace lifecycle** (inactive, connecting, replaying, connected):
//!   [`connection::Connection`], one entry per socket in its namespace
//!   table, the one registry of sockets, keyed by [`connection::SocketId`].
//! - **The wire format of Socket.IO packets**: `codec::parser`. The
//!   connection holds its decoder (a packet's half-received parts) and
//!   acts on the packets it hands out, whichever parser made them.
//! - **What the handles wait for** (a `connect()`, an ack): the connection
//!   keys each request (the ack id, the key of an at-least-once emit, a
//!   count of `connect()` callers) and answers it as an output:
//!   [`update::Update`] at once, `Delivery::Settled` in delivery order.
//!   The driver holds the waiters (`driver/waiters.rs`) and drops those
//!   whose caller gave up. At-least-once emits and their timers are the
//!   namespace's reliable queue (`connection/reliable.rs`).
//! - **The status the handles read** (connected, sid, pid, recovered, the
//!   server's maxPayload): the connection says what changed
//!   ([`update::StatusChange`]); the driver writes the shared status.
//! - **The pid and offsets**: the connection's namespaces, for reconnecting
//!   (the last event received); the dispatcher's checkpoint
//!   (`client/shared.rs`), for restarting (the last event the application
//!   finished). Both are a [`recovery::RecoveryState`].
//! - **The offline buffer**: each socket's emit queue, which the driver
//!   reads only while the connection accepts emits for that namespace.
//! - **Delivery backpressure**: the driver, which holds the one delivery a
//!   full dispatcher could not take and tells the connection with
//!   `handle_reading`.
//! - **Reconnection attempts and delays**: the connection, through its
//!   [`reconnect::Reconnection`] (the one owner of the attempt number) and
//!   `connection/dialing.rs`, which says when to dial and what follows a
//!   failed attempt or a lost link; the driver only dials when told.

pub(crate) mod ack_sink;
pub(crate) mod auth;
pub(crate) mod connection;
pub(crate) mod emit;
pub(crate) mod event;
pub(crate) mod reconnect;
pub(crate) mod recovery;
pub(crate) mod update;
