//! The error for frames from the server that break the Engine.IO v4 /
//! Socket.IO v5 wire protocol.

/// Why a frame from the server could not be understood.
///
/// A protocol error means the server (or something between it and the
/// client) sent bytes that are not valid Engine.IO v4 / Socket.IO v5; the
/// connection cannot be trusted to stay in sync afterwards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The frame was empty, so it had no packet type.
    #[error("empty frame")]
    Empty,
    /// The first character of a text frame is not an Engine.IO packet type
    /// (`0` to `6`).
    #[error("unknown Engine.IO packet type {0:?}")]
    UnknownEnginePacket(char),
    /// The first character of a Socket.IO packet is not a Socket.IO packet
    /// type (`0` to `6`).
    #[error("unknown Socket.IO packet type {0:?}")]
    UnknownPacketType(char),
    /// The Engine.IO open packet is not the expected handshake JSON; the
    /// text says why.
    #[error("invalid Engine.IO open packet: {0}")]
    InvalidOpen(String),
    /// A binary packet lacks its attachment count (digits followed by `-`).
    #[error("missing or malformed binary attachment count")]
    BadAttachmentCount,
    /// A binary packet announces more attachments than the client accepts.
    #[error("packet announces {count} binary attachments, more than the limit of {max}")]
    TooManyAttachments {
        /// The announced count, clamped to `usize::MAX` when it was larger.
        count: usize,
        /// The most attachments one packet may announce.
        max: usize,
    },
    /// The acknowledgement id does not fit in an unsigned 64-bit integer.
    #[error("acknowledgement id out of range")]
    BadAckId,
    /// The packet payload is not a single well-formed JSON value; the text
    /// is the JSON parser's message.
    #[error("invalid JSON payload: {0}")]
    InvalidJson(String),
    /// The payload is valid JSON but not of the shape this packet type
    /// requires; the text says what was wrong.
    #[error("invalid payload: {0}")]
    InvalidPayload(&'static str),
    /// A binary placeholder refers to an attachment the packet did not
    /// announce.
    #[error("binary placeholder {num} out of range for {count} attachments")]
    PlaceholderOutOfRange {
        /// The attachment index named by the placeholder.
        num: u64,
        /// How many attachments the packet announced.
        count: usize,
    },
    /// A binary frame arrived while no binary packet was waiting for
    /// attachments.
    #[error("binary frame received when no attachment was expected")]
    UnexpectedBinary,
    /// A text frame arrived before all attachments of the pending binary
    /// packet, or the connection ended while attachments were still due.
    #[error("binary packet is missing attachments")]
    MissingAttachments,
    /// The attachments of one binary packet add up to more than the limit.
    #[error("binary packet attachments exceed {max} bytes")]
    AttachmentsTooLarge {
        /// The limit, in bytes.
        max: usize,
    },
    /// A WebSocket message is larger than the client accepts.
    #[error("a message exceeds the limit of {max} bytes")]
    MessageTooLarge {
        /// The limit, in bytes.
        max: usize,
    },
    /// A binary message is not a packet of socket.io-msgpack-parser; the
    /// text says what was wrong.
    #[cfg(feature = "msgpack")]
    #[cfg_attr(docsrs, doc(cfg(feature = "msgpack")))]
    #[error("invalid msgpack packet: {0}")]
    InvalidMsgPack(String),
    /// A Socket.IO packet came in the form of another parser than this
    /// client's (text for socket.io-msgpack-parser): the server uses
    /// another parser. See [`ClientBuilder::parser`](crate::ClientBuilder::parser).
    #[cfg(feature = "msgpack")]
    #[cfg_attr(docsrs, doc(cfg(feature = "msgpack")))]
    #[error("the server sent a packet that is not for {ours}: client and server must use the same parser (ClientBuilder::parser)")]
    ParserMismatch {
        /// This client's parser.
        ours: crate::codec::parser::Parser,
    },
    /// A polling response could not be decompressed, or came in an
    /// encoding the client did not ask for; the text says which and why.
    #[error("undecodable polling response: {0}")]
    BadEncoding(String),
    /// The server sent more events before accepting a namespace than the
    /// client holds for it (when no recovery was asked for, which would
    /// explain a replay).
    #[error("more than {max_events} events or {max_bytes} bytes arrived before the CONNECT reply")]
    TooMuchBeforeConnect {
        /// How many events the client holds.
        max_events: usize,
        /// How many bytes of events the client holds.
        max_bytes: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::ProtocolError;

    #[test]
    fn display_messages() {
        let table: &[(ProtocolError, &str)] = &[
            (ProtocolError::Empty, "empty frame"),
            (
                ProtocolError::UnknownEnginePacket('b'),
                "unknown Engine.IO packet type 'b'",
            ),
            (
                ProtocolError::UnknownPacketType('7'),
                "unknown Socket.IO packet type '7'",
            ),
            (
                ProtocolError::InvalidOpen("missing field `sid`".into()),
                "invalid Engine.IO open packet: missing field `sid`",
            ),
            (
                ProtocolError::BadAttachmentCount,
                "missing or malformed binary attachment count",
            ),
            (
                ProtocolError::TooManyAttachments {
                    count: 257,
                    max: 256,
                },
                "packet announces 257 binary attachments, more than the limit of 256",
            ),
            (ProtocolError::BadAckId, "acknowledgement id out of range"),
            (
                ProtocolError::InvalidJson("EOF while parsing".into()),
                "invalid JSON payload: EOF while parsing",
            ),
            (
                ProtocolError::InvalidPayload("CONNECT payload must be an object"),
                "invalid payload: CONNECT payload must be an object",
            ),
            (
                ProtocolError::PlaceholderOutOfRange { num: 3, count: 1 },
                "binary placeholder 3 out of range for 1 attachments",
            ),
            (
                ProtocolError::UnexpectedBinary,
                "binary frame received when no attachment was expected",
            ),
            (
                ProtocolError::MissingAttachments,
                "binary packet is missing attachments",
            ),
            (
                ProtocolError::MessageTooLarge { max: 64 },
                "a message exceeds the limit of 64 bytes",
            ),
            (
                ProtocolError::TooMuchBeforeConnect {
                    max_events: 2,
                    max_bytes: 3,
                },
                "more than 2 events or 3 bytes arrived before the CONNECT reply",
            ),
        ];
        for (err, want) in table {
            assert_eq!(err.to_string(), *want, "{err:?}");
        }
    }
}
