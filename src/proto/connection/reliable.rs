//! At-least-once emits (the `retries` option): one packet in flight at a time,
//! sent again with a fresh ack id when no ack comes in time, in order.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::codec::Frame;
use crate::error::{AckError, EmitError};
use crate::proto::emit::{AckPayload, AckedEmit};
use crate::proto::event::Event;

struct Pending {
    emit: Box<AckedEmit>,
    /// How long one try waits for its ack.
    timeout: Duration,
    /// Sends so far.
    tries: u32,
}

/// The queue of one namespace.
#[derive(Default)]
pub(crate) struct ReliableQueue {
    pending: VecDeque<Pending>,
    /// Ack id and deadline of the front packet, once sent on the current link.
    in_flight: Option<(u64, Instant)>,
}

impl ReliableQueue {
    /// Queues an emit behind the others.
    pub(crate) fn push(&mut self, emit: Box<AckedEmit>, timeout: Duration) {
        self.pending.push_back(Pending {
            emit,
            timeout,
            tries: 0,
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

    /// Sends the front packet (again) with ack id `id`, unless its caller
    /// stopped waiting. Returns whether something was sent, and what the
    /// outgoing listeners are to see of it.
    pub(crate) fn send_front(
        &mut self,
        id: u64,
        now: Instant,
        outbox: &mut VecDeque<Frame>,
    ) -> Option<Option<Event>> {
        while self
            .pending
            .front()
            .is_some_and(|p| p.emit.waiter.is_closed())
        {
            self.pending.pop_front();
        }
        let Some(front) = self.pending.front_mut() else {
            self.in_flight = None;
            return None;
        };
        front.tries += 1;
        front.emit.event.write(Some(id), outbox);
        self.in_flight = Some((id, now + front.timeout));
        Some(front.emit.event.notify())
    }

    /// An ack arrived: when it answers the packet in flight, that packet is done.
    /// Any other id (a late ack of an earlier try, say) gets its payload back.
    pub(crate) fn on_ack(&mut self, id: u64, payload: AckPayload) -> Result<(), AckPayload> {
        match self.in_flight {
            Some((current, _)) if current == id => {
                self.in_flight = None;
                if let Some(done) = self.pending.pop_front() {
                    let _ = done.emit.waiter.send(Ok(payload));
                }
                Ok(())
            }
            _ => Err(payload),
        }
    }

    /// At `now`, whether the packet in flight timed out. When it did and has used
    /// its `retries`, its caller gets an error and it leaves the queue. Returns
    /// whether the front must be sent (again).
    pub(crate) fn expire(&mut self, now: Instant, retries: u32) -> bool {
        match self.in_flight {
            Some((_, deadline)) if now >= deadline => {}
            _ => return false,
        }
        self.in_flight = None;
        if let Some(front) = self.pending.front() {
            if front.tries > retries {
                if let Some(done) = self.pending.pop_front() {
                    let error = EmitError::Unacknowledged { tries: done.tries };
                    let _ = done.emit.waiter.send(Err(AckError::Emit(error)));
                }
            }
        }
        !self.pending.is_empty()
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
    use tokio::sync::oneshot;

    use crate::proto::emit::EncodedEvent;

    fn texts(outbox: &mut VecDeque<Frame>) -> Vec<String> {
        outbox
            .drain(..)
            .map(|frame| match frame {
                Frame::Text(text) => text,
                Frame::Binary(data) => format!("<{} bytes>", data.len()),
            })
            .collect()
    }

    fn push(
        queue: &mut ReliableQueue,
        text: &str,
        id_at: usize,
    ) -> oneshot::Receiver<Result<AckPayload, AckError>> {
        let (waiter, reply) = oneshot::channel();
        let event = EncodedEvent::from_parts(text, id_at, Vec::new(), None);
        let emit = Box::new(AckedEmit { event, waiter });
        queue.push(emit, Duration::from_millis(50));
        reply
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
        let mut first = push(&mut queue, r#"42["echo",1]"#, 2);
        let mut second = push(&mut queue, r#"42/admin,["echo",2]"#, 9);
        assert!(queue.send_front(0, now, &mut outbox).is_some());
        assert_eq!(texts(&mut outbox), [r#"420["echo",1]"#]);
        // An ack for another id changes nothing.
        assert!(queue.on_ack(7, payload("x")).is_err());
        assert!(queue.on_ack(0, payload("one")).is_ok());
        assert_eq!(first.try_recv().unwrap().unwrap(), payload("one"));
        assert!(!queue.in_flight());
        assert!(queue.send_front(1, now, &mut outbox).is_some());
        assert_eq!(texts(&mut outbox), [r#"42/admin,1["echo",2]"#]);
        assert!(queue.on_ack(1, payload("two")).is_ok());
        assert_eq!(second.try_recv().unwrap().unwrap(), payload("two"));
        assert!(queue.send_front(2, now, &mut outbox).is_none());
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn a_timed_out_try_is_resent_until_the_retries_are_used_up() {
        let start = Instant::now();
        let mut queue = ReliableQueue::default();
        let mut outbox = VecDeque::new();
        let mut reply = push(&mut queue, r#"42["never"]"#, 2);
        let retries = 3;
        let mut now = start;
        let mut id = 0;
        assert!(queue.send_front(id, now, &mut outbox).is_some());
        loop {
            assert!(!queue.expire(now, retries), "not before the deadline");
            now = queue.deadline().unwrap();
            if !queue.expire(now, retries) {
                break;
            }
            id += 1;
            assert!(queue.send_front(id, now, &mut outbox).is_some());
        }
        assert_eq!(
            texts(&mut outbox),
            [
                r#"420["never"]"#,
                r#"421["never"]"#,
                r#"422["never"]"#,
                r#"423["never"]"#
            ]
        );
        match reply.try_recv().unwrap() {
            Err(AckError::Emit(EmitError::Unacknowledged { tries })) => assert_eq!(tries, 4),
            other => panic!("{other:?}"),
        }
        // A late ack of an earlier try is ignored.
        assert!(queue.on_ack(2, payload("late")).is_err());
    }

    #[test]
    fn a_lost_link_resends_the_front_and_cancelled_emits_are_skipped() {
        let now = Instant::now();
        let mut queue = ReliableQueue::default();
        let mut outbox = VecDeque::new();
        let _first = push(&mut queue, r#"42["a"]"#, 2);
        let cancelled = push(&mut queue, r#"42["b"]"#, 2);
        let _third = push(&mut queue, r#"42["c"]"#, 2);
        assert!(queue.send_front(0, now, &mut outbox).is_some());
        queue.requeue_in_flight();
        assert_eq!(queue.deadline(), None);
        assert!(queue.send_front(1, now, &mut outbox).is_some());
        assert_eq!(texts(&mut outbox), [r#"420["a"]"#, r#"421["a"]"#]);
        drop(cancelled);
        assert!(queue.on_ack(1, payload("a")).is_ok());
        assert!(queue.send_front(2, now, &mut outbox).is_some());
        assert_eq!(texts(&mut outbox), [r#"422["c"]"#]);
    }

    #[test]
    fn attachments_follow_every_try() {
        let now = Instant::now();
        let mut queue = ReliableQueue::default();
        let mut outbox = VecDeque::new();
        let (waiter, _reply) = oneshot::channel();
        let text = r#"451-["bin",{"_placeholder":true,"num":0}]"#;
        let attachments = vec![Bytes::from_static(b"abc")];
        let event = EncodedEvent::from_parts(text, 4, attachments, None);
        queue.push(
            Box::new(AckedEmit { event, waiter }),
            Duration::from_millis(10),
        );
        assert!(queue.send_front(5, now, &mut outbox).is_some());
        assert!(queue.expire(now + Duration::from_millis(10), 1));
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
