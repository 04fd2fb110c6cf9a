//! When to open a link, and what follows when one could not be opened or
//! ended: the reconnection rules of [`Reconnection`] applied to the
//! connection's namespaces. The caller opens links when told and reports
//! how each ended; every decision, its order and what the sockets are told
//! are made here.

use std::time::Duration;

use tokio::time::Instant;

use super::{Connection, LinkFault};
use crate::error::ConnectError;
use crate::proto::reconnect::{Decision, Next};

/// What the caller must do about the link while none is open; see
/// [`Connection::poll_dial`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dial {
    /// Nothing until a command: no namespace wants the link.
    Idle,
    /// Open a link now, as reconnection attempt `attempt` (0 for a first
    /// try), and give up on it after `timeout`; report the outcome with
    /// [`handle_open`](Connection::handle_open) or
    /// [`handle_dial_failed`](Connection::handle_dial_failed).
    Now { attempt: u32, timeout: Duration },
    /// Wait until then, or until a command changes what is wanted, and ask
    /// again.
    At(Instant),
}

/// How far ahead "never" is, for a delay too long to add to an instant.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

impl Connection {
    /// What to do about the link at `now`, while none is open. Call whenever
    /// no link is open: first, after every command, and at the instant a
    /// [`Dial::At`] named. `Now` starts the attempt (and announces it), so
    /// the caller must open a link when told.
    pub(crate) fn poll_dial(&mut self, now: Instant) -> Dial {
        self.now = now;
        let wanted = self.wants_link();
        if wanted != self.wanted {
            // A run of attempts nobody wants stops; a new one starts fresh.
            self.wanted = wanted;
            self.reconnection.reset();
            self.next_dial = None;
        }
        if !wanted {
            return Dial::Idle;
        }
        if let Some(at) = self.next_dial.filter(|at| now < *at) {
            return Dial::At(at);
        }
        self.next_dial = None;
        let (attempt, announce) = self.reconnection.start_attempt(now, self.ever_connected);
        if let Some(event) = announce {
            self.broadcast(event);
        }
        Dial::Now {
            attempt,
            timeout: self.attempt_timeout(now),
        }
    }

    /// How long a step of the attempt that runs may take from `now`: the
    /// `timeout` option, or less when a first connect's window ends sooner.
    pub(super) fn attempt_timeout(&self, now: Instant) -> Duration {
        match self.reconnection.attempt_deadline() {
            Some(by) => self.timeout.min(by.saturating_duration_since(now)),
            None => self.timeout,
        }
    }

    /// The link of the attempt [`poll_dial`](Self::poll_dial) asked for
    /// could not be opened: the reconnection rules say what follows.
    pub(crate) fn handle_dial_failed(&mut self, error: ConnectError, now: Instant) {
        let decision = self
            .reconnection
            .attempt_failed(error, self.ever_connected, now);
        self.follow(decision, now);
    }

    /// The link ended, whatever ended it (see
    /// [`handle_link_lost`](Self::handle_link_lost)), and the reconnection
    /// rules say what follows: the next attempt after a delay, or giving up.
    /// Returns the error the link's attempt failed with when no namespace
    /// had connected on it, `None` when one had. Call once per link.
    pub(crate) fn handle_link_ended(
        &mut self,
        fault: &LinkFault,
        now: Instant,
    ) -> Option<ConnectError> {
        let error = self.attempt_error(fault);
        let established = self.handle_link_lost(fault);
        let decision = if established {
            self.reconnection.reset();
            tracing::debug!(reason = %fault.reason, "link lost");
            self.reconnection.connection_lost(fault.reason)
        } else {
            self.reconnection
                .attempt_failed(error.clone(), self.ever_connected, now)
        };
        self.follow(decision, now);
        (!established).then_some(error)
    }

    /// Announces what `decision` says, then gives up or sets when the next
    /// attempt starts.
    fn follow(&mut self, decision: Decision, now: Instant) {
        for event in decision.announce {
            self.broadcast(event);
        }
        match decision.next {
            Next::GiveUp(error) => {
                self.next_dial = None;
                self.give_up(error);
            }
            Next::RetryAfter(delay) => {
                tracing::debug!(?delay, "reconnecting after a delay");
                self.next_dial = Some(now + delay.min(NEVER));
            }
        }
    }
}
