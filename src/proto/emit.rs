//! An emit on its way from a socket handle to the wire, as a typed message:
//! plain, with an ack, or at least once. The handle has the parser encode
//! the event without an ack id, and the connection, the one place ack ids
//! are allocated, has the id spliced in each time it sends.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use crate::codec::limits::RESERVED_EVENTS;
use crate::codec::parser::{EventMessage, Parser};
use crate::codec::Frame;
use crate::error::{EmitError, UnsentEmit};
use crate::proto::event::Event;

/// What an acknowledgement carried.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AckPayload {
    pub(crate) args: Vec<Value>,
    pub(crate) attachments: Vec<Bytes>,
}

/// What an emit asks of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EmitKind {
    /// No ack asked: sent once, forgotten.
    Plain,
    /// Sent once; the ack, if it comes, is an `Update::Ack`. The caller
    /// times out on its own.
    WithAck,
    /// Sent until acknowledged, one at a time per socket and in order: each
    /// try with a fresh ack id, waiting this long for its ack.
    AtLeastOnce(Duration),
}

/// An event encoded for the wire, without its ack id, as the parser made it.
#[derive(Debug)]
pub(crate) struct EncodedEvent {
    message: EventMessage,
    /// The event as the outgoing listeners see it, when there are any.
    notify: Option<Event>,
}

impl EncodedEvent {
    /// Encodes event `name` with `args` for namespace `nsp`. `acked`: leave
    /// room for an ack id; `notify`: keep the event for the outgoing
    /// listeners.
    pub(crate) fn encode<A: Serialize + ?Sized>(
        parser: Parser,
        nsp: &str,
        name: &str,
        args: &A,
        acked: bool,
        notify: bool,
    ) -> Result<Self, EmitError> {
        if RESERVED_EVENTS.contains(&name) {
            return Err(EmitError::ReservedName(name.to_owned()));
        }
        let message =
            EventMessage::encode(parser, nsp, name, args, acked).map_err(EmitError::Serialize)?;
        let notify = notify.then(|| {
            let (name, args, attachments) = message.decode();
            Event::new(name, args, attachments, None, None)
        });
        Ok(EncodedEvent { message, notify })
    }

    /// The size of its largest message, which the server's maxPayload
    /// limits, counting the longest ack id there is for one that asks.
    pub(crate) fn largest_message(&self) -> usize {
        self.message.largest_message()
    }

    /// Queues its messages, with ack id `id` when it asked for an ack.
    pub(crate) fn write(&self, id: Option<u64>, out: &mut VecDeque<Frame>) {
        self.message.write(id, out);
    }

    /// Queues its messages, consuming it: a plain emit moves its text.
    pub(crate) fn write_plain(self, out: &mut VecDeque<Frame>) {
        self.message.write_plain(out);
    }

    /// What the outgoing listeners see of it.
    pub(crate) fn notify(&self) -> Option<Event> {
        self.notify.clone()
    }

    /// The emit handed back to its caller, decoded.
    pub(crate) fn into_unsent(self) -> UnsentEmit {
        let (name, args, attachments) = self.message.decode();
        UnsentEmit {
            name,
            args,
            attachments,
        }
    }
}

#[cfg(test)]
impl EncodedEvent {
    /// An event from its text written by hand (`id_at` 0: no ack id), for
    /// tests.
    pub(crate) fn from_parts(
        text: &str,
        id_at: usize,
        attachments: Vec<Bytes>,
        notify: Option<Event>,
    ) -> Self {
        EncodedEvent {
            message: EventMessage::from_parts(text, id_at, attachments),
            notify,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reserved_names_are_refused() {
        for name in RESERVED_EVENTS {
            assert!(matches!(
                EncodedEvent::encode(Parser::Default, "/", name, &(), false, false),
                Err(EmitError::ReservedName(_))
            ));
        }
    }

    #[test]
    fn outgoing_listeners_and_unsent_emits_see_the_event_decoded() {
        let event =
            EncodedEvent::encode(Parser::Default, "/", "chat", &("hi", 2), true, true).unwrap();
        let notify = event.notify().expect("kept for the listeners");
        assert_eq!(notify.name(), "chat");
        assert_eq!(notify.args(), [json!("hi"), json!(2)]);
        let unsent = event.into_unsent();
        assert_eq!(unsent.name, "chat");
        assert_eq!(unsent.args, [json!("hi"), json!(2)]);
    }
}
