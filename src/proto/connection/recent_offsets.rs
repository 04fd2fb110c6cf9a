//! The offsets of a session's last events, to recognise an event the server
//! sends a second time after a recovery.
//!
//! A cluster adapter can deliver a node's own broadcasts before the ones
//! relayed from other nodes, so the order in which events reach the client is
//! not always the order of the server's log. The last offset received may then
//! lie before an event already received, and the replay after a recovery sends
//! that event again. Offsets are unique per event, so a replayed event whose
//! offset is among the recent ones is a repeat.

/// How many offsets are remembered: far more than the events a server can
/// deliver out of its log's order.
const CAPACITY: usize = 128;

/// A ring of the offsets of the last [`CAPACITY`] events.
#[derive(Default)]
pub(super) struct RecentOffsets {
    /// Grows to [`CAPACITY`], then each slot's buffer is reused.
    ring: Vec<String>,
    /// The slot the next offset goes to, once the ring is full.
    next: usize,
    /// Events still to be checked for repeats since the last recovery.
    to_check: usize,
}

impl RecentOffsets {
    /// Remembers the offset of an event just received.
    pub(super) fn record(&mut self, offset: &str) {
        if self.ring.len() < CAPACITY {
            self.ring.push(offset.to_owned());
        } else {
            offset.clone_into(&mut self.ring[self.next]);
            self.next = (self.next + 1) % CAPACITY;
        }
    }

    /// The offset of the last event received.
    pub(super) fn last(&self) -> Option<&str> {
        let at = if self.ring.len() < CAPACITY {
            self.ring.len().checked_sub(1)?
        } else {
            (self.next + CAPACITY - 1) % CAPACITY
        };
        self.ring.get(at).map(String::as_str)
    }

    /// Whether an event with this offset was received already. Only the first
    /// [`CAPACITY`] events after a recovery request are checked: after them,
    /// the events from before are no longer in the ring.
    pub(super) fn is_repeat(&mut self, offset: &str) -> bool {
        if self.to_check == 0 {
            return false;
        }
        self.to_check -= 1;
        self.ring.iter().any(|seen| seen == offset)
    }

    /// A recovery was asked for: the server may replay from the offset sent,
    /// before and after its CONNECT reply.
    pub(super) fn replay_expected(&mut self) {
        self.to_check = CAPACITY;
    }

    /// A fresh session: the old offsets mean nothing to it.
    pub(super) fn clear(&mut self) {
        *self = RecentOffsets::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_a_repeat_before_a_recovery() {
        let mut recent = RecentOffsets::default();
        recent.record("1-0");
        assert!(!recent.is_repeat("1-0"));
    }

    #[test]
    fn after_a_recovery_request_a_known_offset_is_a_repeat() {
        let mut recent = RecentOffsets::default();
        recent.record("1-0");
        recent.record("2-0");
        recent.replay_expected();
        assert!(recent.is_repeat("1-0"));
        assert!(!recent.is_repeat("3-0"));
    }

    #[test]
    fn the_last_offset_is_the_one_recorded_last() {
        let mut recent = RecentOffsets::default();
        assert_eq!(recent.last(), None);
        for n in 0..CAPACITY * 2 + 3 {
            recent.record(&n.to_string());
            assert_eq!(recent.last(), Some(n.to_string().as_str()));
        }
    }

    #[test]
    fn the_oldest_offset_leaves_a_full_ring() {
        let mut recent = RecentOffsets::default();
        for n in 0..=CAPACITY {
            recent.record(&n.to_string());
        }
        recent.replay_expected();
        assert!(!recent.is_repeat("0"));
        assert!(recent.is_repeat("1"));
        assert!(recent.is_repeat(&CAPACITY.to_string()));
    }

    #[test]
    fn checks_stop_once_the_ring_has_turned_over() {
        let mut recent = RecentOffsets::default();
        recent.record("a");
        recent.replay_expected();
        for _ in 0..CAPACITY {
            assert!(!recent.is_repeat("new"));
        }
        assert!(!recent.is_repeat("a"));
    }

    #[test]
    fn a_fresh_session_forgets_the_old_offsets() {
        let mut recent = RecentOffsets::default();
        recent.record("a");
        recent.clear();
        recent.replay_expected();
        assert!(!recent.is_repeat("a"));
    }
}
