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
use crate::codec::parser::{self, decode_emit, with_ack_id};
use crate::codec::Frame;
use crate::error::{EmitError, UnsentEmit};
use crate::proto::event::Event;

/// What an acknowledgement carried.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AckPayload {
    pub(crate) args: Vec<Value>,
    pub(crate) attachments: Vec<Bytes>,
}

/// The digits of the longest ack id (`u64::MAX`).
const MAX_ID_DIGITS: usize = 20;

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

/// An event encoded for the wire, without its ack id.
#[derive(Debug)]
pub(crate) struct EncodedEvent {
    /// The Engine.IO text frame (`42...`).
    text: String,
    /// Boxed, and only when there is any: a plain emit has none of it, and
    /// small emits make a small queue.
    extra: Option<Box<EncodedExtra>>,
}

#[derive(Debug)]
struct EncodedExtra {
    /// Where the ack id goes in the text: 0 for an emit that asks for none.
    id_at: usize,
    /// Binary attachments that follow the text frame.
    attachments: Vec<Bytes>,
    /// The event as the outgoing listeners see it, when there are any.
    notify: Option<Event>,
}

impl EncodedEvent {
    /// Encodes event `name` with `args` for namespace `nsp`. `acked`: leave
    /// room for an ack id; `notify`: keep the event for the outgoing
    /// listeners.
    pub(crate) fn encode<A: Serialize + ?Sized>(
        nsp: &str,
        name: &str,
        args: &A,
        acked: bool,
        notify: bool,
    ) -> Result<Self, EmitError> {
        if RESERVED_EVENTS.contains(&name) {
            return Err(EmitError::ReservedName(name.to_owned()));
        }
        let parser::EventMessage {
            text,
            id_at,
            attachments,
        } = parser::event_message(nsp, name, args).map_err(EmitError::Serialize)?;
        let notify = notify.then(|| {
            let (name, args) = decode_emit(&text);
            Event::new(name, args, attachments.clone(), None, None)
        });
        let plain = !acked && attachments.is_empty() && notify.is_none();
        Ok(EncodedEvent {
            text,
            extra: (!plain).then(|| {
                Box::new(EncodedExtra {
                    id_at: if acked { id_at } else { 0 },
                    attachments,
                    notify,
                })
            }),
        })
    }

    /// The size of its largest WebSocket message, which the server's
    /// maxPayload limits. The ack id is not in yet: an emit that asks for
    /// one counts the longest id there is.
    pub(crate) fn largest_message(&self) -> usize {
        let id_room = match &self.extra {
            Some(extra) if extra.id_at > 0 => MAX_ID_DIGITS,
            _ => 0,
        };
        self.attachments()
            .iter()
            .map(Bytes::len)
            .chain([self.text.len() + id_room])
            .max()
            .unwrap_or_default()
    }

    /// Queues its messages, with ack id `id` when it asked for an ack.
    pub(crate) fn write(&self, id: Option<u64>, out: &mut VecDeque<Frame>) {
        let text = match (id, &self.extra) {
            (Some(id), Some(extra)) => with_ack_id(&self.text, extra.id_at, id),
            _ => self.text.clone(),
        };
        out.push_back(Frame::Text(text));
        out.extend(self.attachments().iter().cloned().map(Frame::Binary));
    }

    /// Queues its messages, consuming it: a plain emit moves its text.
    pub(crate) fn write_plain(self, out: &mut VecDeque<Frame>) {
        out.push_back(Frame::Text(self.text));
        if let Some(extra) = self.extra {
            out.extend(extra.attachments.into_iter().map(Frame::Binary));
        }
    }

    /// What the outgoing listeners see of it.
    pub(crate) fn notify(&self) -> Option<Event> {
        self.extra.as_ref().and_then(|extra| extra.notify.clone())
    }

    /// The emit handed back to its caller, decoded.
    pub(crate) fn into_unsent(self) -> UnsentEmit {
        let (name, args) = decode_emit(&self.text);
        UnsentEmit {
            name,
            args,
            attachments: self.extra.map(|e| e.attachments).unwrap_or_default(),
        }
    }

    fn attachments(&self) -> &[Bytes] {
        self.extra.as_ref().map_or(&[], |extra| &extra.attachments)
    }
}

#[cfg(test)]
impl EncodedEvent {
    /// An event from its frame written by hand (`id_at` 0: no ack id), for
    /// tests.
    pub(crate) fn from_parts(
        text: &str,
        id_at: usize,
        attachments: Vec<Bytes>,
        notify: Option<Event>,
    ) -> Self {
        let plain = id_at == 0 && attachments.is_empty() && notify.is_none();
        EncodedEvent {
            text: text.to_owned(),
            extra: (!plain).then(|| {
                Box::new(EncodedExtra {
                    id_at,
                    attachments,
                    notify,
                })
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn texts(out: VecDeque<Frame>) -> Vec<String> {
        out.into_iter()
            .map(|frame| match frame {
                Frame::Text(text) => text,
                Frame::Binary(data) => format!("<{} bytes>", data.len()),
            })
            .collect()
    }

    #[test]
    fn the_ack_id_is_spliced_where_the_layout_puts_it() {
        let table: [(&str, bool, Option<u64>, &str); 6] = [
            ("/", false, None, r#"42["e",1]"#),
            ("/", true, Some(0), r#"420["e",1]"#),
            ("/", true, Some(17), r#"4217["e",1]"#),
            ("/admin", true, Some(3), r#"42/admin,3["e",1]"#),
            ("/admin", false, None, r#"42/admin,["e",1]"#),
            ("/", true, None, r#"42["e",1]"#),
        ];
        for (nsp, acked, id, expected) in table {
            let event = EncodedEvent::encode(nsp, "e", &1, acked, false).unwrap();
            let mut out = VecDeque::new();
            event.write(id, &mut out);
            assert_eq!(texts(out), [expected], "{nsp} {id:?}");
        }
    }

    #[test]
    fn binary_emits_get_their_id_after_the_attachment_count() {
        let bytes = Bytes::from_static(&[1, 2, 3]);
        let event = EncodedEvent::encode("/admin", "up", &(&bytes,), true, false).unwrap();
        let mut out = VecDeque::new();
        event.write(Some(9), &mut out);
        assert_eq!(
            texts(out),
            [
                r#"451-/admin,9["up",{"_placeholder":true,"num":0}]"#,
                "<3 bytes>"
            ]
        );
        assert_eq!(event.largest_message(), 47 + MAX_ID_DIGITS);
    }

    #[test]
    fn a_plain_emit_carries_nothing_boxed() {
        let event = EncodedEvent::encode("/", "e", &("a", 1), false, false).unwrap();
        assert!(event.extra.is_none());
        let mut out = VecDeque::new();
        event.write_plain(&mut out);
        assert_eq!(texts(out), [r#"42["e","a",1]"#]);
    }

    #[test]
    fn reserved_names_are_refused() {
        for name in RESERVED_EVENTS {
            assert!(matches!(
                EncodedEvent::encode("/", name, &(), false, false),
                Err(EmitError::ReservedName(_))
            ));
        }
    }

    #[test]
    fn outgoing_listeners_and_unsent_emits_see_the_event_decoded() {
        let event = EncodedEvent::encode("/", "chat", &("hi", 2), true, true).unwrap();
        let notify = event.notify().expect("kept for the listeners");
        assert_eq!(notify.name(), "chat");
        assert_eq!(notify.args(), [json!("hi"), json!(2)]);
        let unsent = event.into_unsent();
        assert_eq!(unsent.name, "chat");
        assert_eq!(unsent.args, [json!("hi"), json!(2)]);
    }
}
