//! Every limit of the wire formats, in one place: what the reference server
//! does, and what the client accepts from any server.

use std::time::Duration;

/// `maxPayload` the server is assumed to announce when its open packet
/// leaves the field out (the reference server's default, 1 MB).
pub(crate) const DEFAULT_MAX_PAYLOAD: u64 = 1_000_000;

/// The largest message the client accepts from the server, in bytes: one
/// WebSocket message (text or binary), and the attachments of one binary
/// packet together. The one size limit on what the client receives.
pub(crate) const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// The most packets one polling POST carries to a server other than the
/// reference one. python-engineio refuses a payload of more (its
/// `max_decode_packets`, 16 by default) with an error in its log and a
/// 200 OK, so what a larger POST carried would be lost without a word. The
/// reference server has no such limit, and one POST at a time of 16
/// packets would cut emits over polling to a tenth, so the payload codec
/// tells the reference server by its open packet.
#[cfg(feature = "polling")]
pub(crate) const MAX_POST_PACKETS: usize = 16;

/// The longest `pingInterval` and `pingTimeout` taken from an open packet;
/// longer ones are cut to this, so a silent server is detected within
/// twice this time whatever it announced.
pub(crate) const MAX_HEARTBEAT: Duration = Duration::from_secs(5 * 60);

/// The client must hold a binary packet, and every attachment received so
/// far, until the last announced attachment arrives. Capping the count
/// bounds the memory a hostile server can make the client hold for a
/// half-received packet (at most this many frames, each itself bounded by
/// the WebSocket message size limit). Real packets carry a handful.
pub(crate) const MAX_ATTACHMENTS: usize = 256;

/// How deep arrays and maps may nest in what the server sends: what
/// serde_json allows a JSON payload.
#[cfg(feature = "msgpack")]
pub(crate) const MAX_NESTING: usize = 128;

/// The most values one msgpack packet may hold. A value takes a byte on the
/// wire and 32 in memory: this bounds what a message can make the client
/// hold (to twice the message limit) where JSON, with a comma or more per
/// value, bounds itself.
#[cfg(feature = "msgpack")]
pub(crate) const MAX_MSGPACK_VALUES: usize = MAX_MESSAGE_BYTES / 16;

/// Event names Socket.IO keeps for itself: the reference parser refuses to
/// decode them, since its event emitters give them special meanings, and
/// emitting one is refused too.
pub(crate) const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];
