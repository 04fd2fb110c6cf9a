//! At-least-once emits (the `retries` option): one packet in flight at a time,
//! sent again with a fresh ack id when no ack comes in time, in order. Each
//! emit has a key, which the answers name.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::codec::Frame;
use crate::proto::emit::{AckPayload, EncodedEvent};
use crate::proto::event::Event;

struct Pending {
    key: u64,
    event: EncodedEvent,
    /// How long one try waits for its ack.
    timeout: Duration,
    /// Sends so far.
    tries: u32,
    /// Its caller stopped waiting while it was in flight: not sent again.
    cancelled: bool,
}

/// The queue of one namespace.
#[derive(Default)]
pub(crate) struct ReliableQueue {
    pending: VecDeque<Pending>,
    /// Ack id and deadline of the front packet, once sent on the current link.
    in_flight: Option<(u64, Instant)>,
}

/// An emit that used up its retries: its key and how often it was sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Exhausted {
    pub(crate) key: u64,
    pub(crate) tries: u32,
}

impl ReliableQueue {
    /// Queues the emit `key` behind the others.
    pub(crate) fn push(&mut self, key: u64, event: EncodedEvent, timeout: Duration) {
        self.pending.push_back(Pending {
            key,
            event,
            timeout,
            tries: 0,
            cancelled: false,
        });
    }

    /// How many emits wait, the one in flight included.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether a packet is sent and waits for its ack.
    pub(crate) fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// When the packet in flight times out.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.in_flight.map(|(_, deadline)| deadline)
    }

    /// The caller of emit `key` stopped waiting: it is not sent (again).
    pub(crate) fn cancel(&mut self, key: u64) {
        match self.pending.iter().position(|p| p.key == key) {
            Some(0) if self.in_flight.is_some() => self.pending[0].cancelled = true,
            Some(at) => {
                self.pending.remove(at);
            }
            None => {}
        }
    }

    /// Sends the front packet (again) with ack id `id`, unless it was
    /// cancelled. Returns whether something was sent, and what the outgoing
    /// listeners are to see of it.
    pub(crate) fn send_front(
        &mut self,
        id: u64,
        now: Instant,
        outbox: &mut VecDeque<Frame>,
    ) -> Option<Option<Event>> {
        while self.pending.front().is_some_and(|p| p.cancelled) {
            self.pending.pop_front();
        }
        let Some(front) = self.pending.front_mut() else {
            self.in_flight = None;
            return None;
        };
        front.tries += 1;
        front.event.write(Some(id), outbox);
        self.in_flight = Some((id, now + front.timeout));
        Some(front.event.notify())
    }

    /// An ack arrived: when it answers the packet in flight, that packet is
    /// done and its key returned (nothing when it was cancelled). Any other
    /// id (a late ack of an earlier try, say) gets its payload back.
    pub(crate) fn on_ack(
        &mut self,
        id: u64,
        payload: AckPayload,
    ) -> Result<Option<(u64, AckPayload)>, AckPayload> {
        match self.in_flight {
            Some((current, _)) if current == id => {
                self.in_flight = None;
                Ok(self
                    .pending
                    .pop_front()
                    .filter(|done| !done.cancelled)
                    .map(|done| (done.key, payload)))
            }
            _ => Err(payload),
        }
    }

    /// At `now`, whether the packet in flight timed out. When it did and has
    /// used its `retries`, it leaves the queue and is returned. The `bool`
    /// says whether the front must be sent (again).
    pub(crate) fn expire(&mut self, now: Instant, retries: u32) -> (bool, Option<Exhausted>) {
        match self.in_flight {
            Some((_, deadline)) if now >= deadline => {}
            _ => return (false, None),
        }
        self.in_flight = None;
        let exhausted = match self.pending.front() {
            Some(front) if front.tries > retries => self
                .pending
                .pop_front()
                .filter(|done| !done.cancelled)
                .map(|done| Exhausted {
                    key: done.key,
                    tries: done.tries,
                }),
            _ => None,
        };
        (!self.pending.is_empty(), exhausted)
    }

    /// The link is gone: the packet in flight goes out again on the next one.
    pub(crate) fn requeue_in_flight(&mut self) {
        self.in_flight = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn texts(outbox: &mut VecDeque<Frame>) -> Vec<String> {
        outbox
            .drain(..)
            .map(|frame| match frame {
                Frame::Text(text) => text,
                Frame::Binary(data) => format!("<{} bytes>", data.len()),
            })
            .collect()
    }

    fn push(queue: &mut ReliableQueue, key: u64, text: &str, id_at: usize) {
        let event = EncodedEvent::from_parts(text, id_at, Vec::new(), None);
        queue.push(key, event, Duration::from_millis(50));
    }

    fn payload(arg: &str) -> AckPayload {
        AckPayload {
            args: vec![arg.into()],
            attachments: Vec::new(),
        }
    }

    #[test]
    fn one_in_flight_in_order_with_fresh_ids() {
        let now = Instant::now();
        let mut queue = ReliableQueue::default();
        let mut outbox = VecDeque::new();
        push(&mut queue, 10, r#"42["echo",1]"#, 2);
        push(&mut queue, 11, r#"42/admin,["echo",2]"#, 9);
        assert!(queue.send_front(0, now, &mut outbox).is_some());
        assert_eq!(texts(&mut outbox), [r#"420["echo",1]"#]);
        // An ack for another id changes nothing.
        assert!(queue.on_ack(7, payload("x")).is_err());
        assert_eq!(
            queue.on_ack(0, payload("one")).unwrap(),
            Some((10, payload("one")))
        );
        assert!(!queue.in_flight());
        assert!(queue.send_front(1, now, &mut outbox).is_some());
        assert_eq!(texts(&mut outbox), [r#"42/admin,1["echo",2]"#]);
        assert_eq!(
            queue.on_ack(1, payload("two")).unwrap(),
            Some((11, payload("two")))
        );
        assert!(queue.send_front(2, now, &mut outbox).is_none());
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn a_timed_out_try_is_resent_until_the_retries_are_used_up() {
        let start = Instant::now();
        let mut queue = ReliableQueue::default();
        let mut outbox = VecDeque::new();
        push(&mut queue, 3, r#"42["never"]"#, 2);
        let retries = 3;
        let mut now = start;
        let mut id = 0;
        assert!(queue.send_front(id, now, &mut outbox).is_some());
        let exhausted = loop {
            assert_eq!(
                queue.expire(now, retries),
                (false, None),
                "not before the deadline"
            );
            now = queue.deadline().unwrap();
            match queue.expire(now, retries) {
                (true, None) => {}
                (false, exhausted) => break exhausted,
                other => panic!("{other:?}"),
            }
            id += 1;
            assert!(queue.send_front(id, now, &mut outbox).is_some());
        };
        assert_eq!(
            texts(&mut outbox),
            [
                r#"420["never"]"#,
                r#"421["never"]"#,
                r#"422["never"]"#,
                r#"423["never"]"#
            ]
        );
        assert_eq!(exhausted, Some(Exhausted { key: 3, tries: 4 }));
        // A late ack of an earlier try is ignored.
        assert!(queue.on_ack(2, payload("late")).is_err());
    }

    #[test]
    fn a_lost_link_resends_the_front_and_cancelled_emits_are_skipped() {
        let now = Instant::now();
        let mut queue = ReliableQueue::default();
        let mut outbox = VecDeque::new();
        push(&mut queue, 1, r#"42["a"]"#, 2);
        push(&mut queue, 2, r#"42["b"]"#, 2);
        push(&mut queue, 3, r#"42["c"]"#, 2);
        assert!(queue.send_front(0, now, &mut outbox).is_some());
        queue.requeue_in_flight();
        assert_eq!(queue.deadline(), None);
        assert!(queue.send_front(1, now, &mut outbox).is_some());
        assert_eq!(texts(&mut outbox), [r#"420["a"]"#, r#"421["a"]"#]);
        queue.cancel(2);
        assert_eq!(
            queue.on_ack(1, payload("a")).unwrap(),
            Some((1, payload("a")))
        );
        assert!(queue.send_front(2, now, &mut outbox).is_some());
        assert_eq!(texts(&mut outbox), [r#"422["c"]"#]);
    }

    #[test]
    fn a_cancelled_emit_in_flight_is_answered_to_nobody_and_not_sent_again() {
        let now = Instant::now();
        let mut queue = ReliableQueue::default();
        let mut outbox = VecDeque::new();
        push(&mut queue, 1, r#"42["a"]"#, 2);
        push(&mut queue, 2, r#"42["b"]"#, 2);
        assert!(queue.send_front(0, now, &mut outbox).is_some());
        queue.cancel(1);
        assert_eq!(queue.on_ack(0, payload("late")).unwrap(), None);
        assert!(queue.send_front(1, now, &mut outbox).is_some());
        queue.cancel(2);
        let (resend, exhausted) = queue.expire(queue.deadline().unwrap(), 5);
        assert_eq!((resend, exhausted), (true, None));
        assert!(queue.send_front(2, now, &mut outbox).is_none());
        assert_eq!(texts(&mut outbox), [r#"420["a"]"#, r#"421["b"]"#]);
    }

    #[test]
    fn attachments_follow_every_try() {
        let now = Instant::now();
        let mut queue = ReliableQueue::default();
        let mut outbox = VecDeque::new();
        let text = r#"451-["bin",{"_placeholder":true,"num":0}]"#;
        let attachments = vec![Bytes::from_static(b"abc")];
        let event = EncodedEvent::from_parts(text, 4, attachments, None);
        queue.push(0, event, Duration::from_millis(10));
        assert!(queue.send_front(5, now, &mut outbox).is_some());
        assert!(queue.expire(now + Duration::from_millis(10), 1).0);
        assert!(queue.send_front(6, now, &mut outbox).is_some());
        assert_eq!(
            texts(&mut outbox),
            [
                r#"451-5["bin",{"_placeholder":true,"num":0}]"#,
                "<3 bytes>",
                r#"451-6["bin",{"_placeholder":true,"num":0}]"#,
                "<3 bytes>"
            ]
        );
    }
}
