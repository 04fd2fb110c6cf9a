//! Who waits on what a socket's handles asked: `connect()` calls, emits
//! that asked for an ack, at-least-once emits. The driver holds the waiters;
//! the connection counts and keys the requests, and its updates and
//! deliveries say whom to answer.

use std::collections::{HashMap, VecDeque};

use crate::error::AckError;
use crate::proto::update::Update;

use super::command::{AckWaiter, ConnectWaiter};

/// The waiters of one socket.
#[derive(Default)]
pub(super) struct Waiters {
    /// `connect()` calls, the oldest first, as the connection counts them.
    connects: VecDeque<ConnectWaiter>,
    /// Emits sent once with an ack id.
    acks: HashMap<u64, AckWaiter>,
    /// Size at which waiters whose caller gave up are next swept out.
    sweep_at: usize,
    /// At-least-once emits by key, in the order the connection queued them.
    reliable: VecDeque<(u64, AckWaiter)>,
}

impl Waiters {
    /// Whether nobody waits: the box can go.
    pub(super) fn is_empty(&self) -> bool {
        self.connects.is_empty() && self.acks.is_empty() && self.reliable.is_empty()
    }

    pub(super) fn push_connect(&mut self, waiter: ConnectWaiter) {
        self.connects.push_back(waiter);
    }

    /// The `count` oldest `connect()` calls, which an outcome answers.
    pub(super) fn take_connects(&mut self, count: u32) -> Vec<ConnectWaiter> {
        let count = (count as usize).min(self.connects.len());
        self.connects.drain(..count).collect()
    }

    /// Files the waiter of an emit sent with ack id `id`. An emit_with_ack
    /// times out in its caller, who stops waiting; those are swept out as
    /// the table grows, so a server that never answers cannot grow it
    /// without bound.
    pub(super) fn push_ack(&mut self, id: u64, waiter: AckWaiter) {
        if self.acks.len() >= self.sweep_at.max(64) {
            self.acks.retain(|_, waiter| !waiter.is_closed());
            self.sweep_at = self.acks.len() * 2;
        }
        self.acks.insert(id, waiter);
    }

    /// Files the waiter of the at-least-once emit `key`.
    pub(super) fn push_reliable(&mut self, key: u64, waiter: AckWaiter) {
        self.reliable.push_back((key, waiter));
    }

    /// The key of an at-least-once emit whose caller gave up, among the two
    /// next to be sent (the one in flight and the one after); it leaves the
    /// table. Looking only that far keeps the search short, and what lies
    /// further is looked at as the queue moves.
    pub(super) fn take_abandoned(&mut self) -> Option<u64> {
        let at = self
            .reliable
            .iter()
            .take(2)
            .position(|(_, waiter)| waiter.is_closed())?;
        self.reliable.remove(at).map(|(key, _)| key)
    }

    /// Answers the waiter an update is for; a status change is not.
    pub(super) fn answer(&mut self, update: Update) {
        match update {
            Update::Status(_) => {}
            Update::Ack(id, payload) => match self.acks.remove(&id) {
                Some(waiter) => {
                    let _ = waiter.send(Ok(payload));
                }
                None => tracing::debug!(id, "ack for an unknown or expired id"),
            },
            Update::AcksLost => {
                for (_, waiter) in self.acks.drain() {
                    let _ = waiter.send(Err(AckError::Disconnected));
                }
            }
            Update::Reliable(key, result) => {
                if let Some(at) = self.reliable.iter().position(|(k, _)| *k == key) {
                    if let Some((_, waiter)) = self.reliable.remove(at) {
                        let _ = waiter.send(result);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;
    use crate::proto::emit::AckPayload;

    fn payload() -> AckPayload {
        AckPayload {
            args: Vec::new(),
            attachments: Vec::new(),
        }
    }

    #[test]
    fn waiters_whose_caller_gave_up_are_swept_as_the_table_grows() {
        let mut waiters = Waiters::default();
        // 64 emits whose callers stopped waiting after they were sent.
        for id in 0..64 {
            let (waiter, reply) = oneshot::channel();
            waiters.push_ack(id, waiter);
            drop(reply);
        }
        let (waiter, mut live) = oneshot::channel();
        waiters.push_ack(1000, waiter);
        assert_eq!(waiters.acks.len(), 1, "the closed waiters were swept");
        waiters.answer(Update::Ack(1000, payload()));
        assert!(matches!(live.try_recv(), Ok(Ok(_))));
    }

    #[test]
    fn lost_acks_fail_with_disconnected() {
        let mut waiters = Waiters::default();
        let (waiter, mut reply) = oneshot::channel();
        waiters.push_ack(3, waiter);
        waiters.answer(Update::AcksLost);
        assert!(matches!(reply.try_recv(), Ok(Err(AckError::Disconnected))));
        // A late answer finds nobody.
        waiters.answer(Update::Ack(3, payload()));
    }

    #[test]
    fn abandoned_at_least_once_emits_are_found_near_the_front() {
        let mut waiters = Waiters::default();
        let mut replies = Vec::new();
        for key in 0..4 {
            let (waiter, reply) = oneshot::channel();
            waiters.push_reliable(key, waiter);
            replies.push(reply);
        }
        // The third is beyond the two next to be sent: found once they move.
        drop(replies.remove(2));
        assert_eq!(waiters.take_abandoned(), None);
        drop(replies.remove(1));
        assert_eq!(waiters.take_abandoned(), Some(1));
        assert_eq!(waiters.take_abandoned(), Some(2));
        assert_eq!(waiters.take_abandoned(), None);
        waiters.answer(Update::Reliable(0, Ok(payload())));
        assert!(matches!(replies[0].try_recv(), Ok(Ok(_))));
    }

    #[test]
    fn connect_outcomes_answer_the_oldest_callers() {
        let mut waiters = Waiters::default();
        let (first, _a) = oneshot::channel();
        let (second, _b) = oneshot::channel();
        waiters.push_connect(first);
        waiters.push_connect(second);
        assert_eq!(waiters.take_connects(1).len(), 1);
        assert_eq!(waiters.take_connects(5).len(), 1);
    }
}
