//! Reconnection, sans IO: attempt counting, which lifecycle event to
//! announce, the delay before the next attempt, and when to give up with
//! which error ([`Reconnection`]), after the rules of the reference JS
//! client. The connection applies its decisions (`connection/dialing.rs`),
//! which is where the rules are tested, through the connection's inputs.
//!
//! The delay policy:
//! Mirrors the reference JS client (socket.io-client's `backo2`): attempt `n`
//! (from 0) waits `delay·2ⁿ`, randomly moved by up to `factor·delay·2ⁿ` in
//! either direction, and never more than `delay_max`. The schedule starts over
//! after a successful reconnect.
//!
//! The randomized exponential comes from the `backoff` crate; this module only
//! configures it and fixes up its output so the documented bounds hold exactly.
//! Callers see nothing of `backoff`, so the engine can be swapped freely.

use std::time::Duration;

use tokio::time::Instant;

use crate::error::ConnectError;
use crate::proto::event::{DisconnectReason, SocketEvent};

// Imported for its methods only: its name clashes with our own `Backoff`.
use backoff::backoff::Backoff as _;

/// Options of the delay schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ReconnectPolicy {
    /// Wait before attempt 0, doubled for each further attempt. Zero means
    /// zero (unlike JS `backo2`, which turns 0 into its default of 100 ms).
    pub delay: Duration,
    /// No wait is ever longer than this, whatever the attempt or jitter.
    pub delay_max: Duration,
    /// Relative jitter `f`: a wait of `d` becomes a random value in
    /// `[d·(1-f), d·(1+f)]`. Clamped into `[0, 1]` (NaN counts as 0) because
    /// a factor above 1 would ask for negative waits.
    pub randomization_factor: f64,
}

impl Default for ReconnectPolicy {
    /// The reference client's defaults: 1 s, at most 5 s, factor 0.5.
    fn default() -> Self {
        Self {
            delay: Duration::from_secs(1),
            delay_max: Duration::from_secs(5),
            randomization_factor: 0.5,
        }
    }
}

impl ReconnectPolicy {
    /// The bounds attempt `n` (from 0) may wait: (min, max) —
    /// min = min(delay·2ⁿ·(1-f), delay_max), max = min(delay·2ⁿ·(1+f), delay_max).
    pub(crate) fn bounds(&self, attempt: u32) -> (Duration, Duration) {
        let f = self.factor();
        (self.scaled(attempt, 1.0 - f), self.scaled(attempt, 1.0 + f))
    }

    /// A fresh schedule.
    pub(crate) fn schedule(&self) -> Backoff {
        Backoff {
            policy: *self,
            engine: None,
            attempts: 0,
        }
    }

    /// The randomized exponential, as its first draw needs it.
    fn engine(&self) -> backoff::ExponentialBackoff {
        backoff::ExponentialBackoffBuilder::new()
            .with_initial_interval(self.delay)
            .with_multiplier(2.0)
            .with_randomization_factor(self.factor())
            // The engine caps its interval *before* adding jitter, so capping
            // it at `delay_max` would keep drawing values below `delay_max`
            // forever, where JS caps *after* jitter and settles on
            // `delay_max`. Let it grow instead and clamp its output.
            .with_max_interval(Duration::MAX)
            // Reconnection never gives up on time; the manager counts attempts.
            .with_max_elapsed_time(None)
            .build()
    }

    /// The randomization factor actually used, in `[0, 1]`.
    fn factor(&self) -> f64 {
        if self.randomization_factor.is_nan() {
            0.0
        } else {
            self.randomization_factor.clamp(0.0, 1.0)
        }
    }

    /// `min(delay·2ⁿ·mult, delay_max)`, without overflow or panic for any `n`.
    fn scaled(&self, attempt: u32, mult: f64) -> Duration {
        // Handled first because `0 · 2¹¹⁰⁰` is `0 · inf = NaN` in f64, and the
        // exact answer is zero.
        if self.delay.is_zero() || mult == 0.0 {
            return Duration::ZERO;
        }
        // 2¹¹⁰⁰ is already inf in f64; capping keeps the `as i32` in range.
        let exponent = attempt.min(1100) as i32;
        let secs = self.delay.as_secs_f64() * 2f64.powi(exponent) * mult;
        // `try_from` rather than `from_secs_f64`, which panics on inf or on
        // values past `Duration::MAX`; such a wait is past `delay_max` anyway.
        Duration::try_from_secs_f64(secs).map_or(self.delay_max, |d| d.min(self.delay_max))
    }
}

/// The delays of one run of reconnection attempts.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    /// The options this schedule was made from; gives each attempt's bounds.
    policy: ReconnectPolicy,
    /// Draws the randomized exponential; its output is clamped by `policy`.
    /// Made at the first draw after a reset and boxed: a connection that
    /// never loses its link never needs it, and every idle one carries this.
    engine: Option<Box<backoff::ExponentialBackoff>>,
    /// Delays handed out since the last reset; the `n` of the next attempt.
    attempts: u32,
}

impl Backoff {
    /// The wait before the next attempt; advances the attempt count.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let (min, max) = self.policy.bounds(self.attempts);
        self.attempts = self.attempts.saturating_add(1);
        // The engine randomizes around its current interval first and doubles
        // it afterwards, so its k-th draw (from 0) is uniform in
        // `[delay·2ᵏ·(1-f), delay·2ᵏ·(1+f) + 1 ns]`: the same range as JS, up
        // to its `+1 ns` and f64 rounding, and uncapped. Clamping into the
        // attempt's bounds removes those and applies `delay_max`. It only
        // returns `None` past `max_elapsed_time`, which is unset; `max` is a
        // safe fallback all the same.
        let policy = self.policy;
        let engine = self.engine.get_or_insert_with(|| Box::new(policy.engine()));
        let drawn = engine.next_backoff().unwrap_or(max);
        // `max`/`min` rather than `clamp`, which panics if min > max.
        drawn.max(min).min(max)
    }

    /// Number of delays handed out since the last reset.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Starts over at attempt 0 (after a successful reconnect).
    pub(crate) fn reset(&mut self) {
        // The next draw starts a fresh engine at `delay`.
        self.engine = None;
        self.attempts = 0;
    }
}

/// What follows a lost link or a failed attempt.
#[derive(Debug)]
pub(crate) enum Next {
    /// Wait this long, then make the next attempt.
    RetryAfter(Duration),
    /// No further attempt: the namespaces waiting for the link give up with
    /// this error, until one is connected again.
    GiveUp(ConnectError),
}

/// A decision: the lifecycle events to tell every waiting socket, in order,
/// then what follows.
#[derive(Debug)]
pub(crate) struct Decision {
    pub(crate) announce: Vec<SocketEvent>,
    pub(crate) next: Next,
}

/// The reconnection rules of one manager. The attempt count is the number
/// of reconnection attempts since a namespace last connected: 0 for a first
/// try. An attempt succeeds when a namespace connects, not when the link
/// opens; the connection state machine announces that success
/// ([`SocketEvent::Reconnect`]) since it sees the CONNECT reply.
///
/// Until a namespace of the manager has ever connected, the attempts of a
/// first connect are bounded in time by the first-connect window: no attempt
/// starts, and none runs, past its end, so a `connect()` to a wrong address
/// settles with the last attempt's cause instead of retrying forever.
#[derive(Debug)]
pub(crate) struct Reconnection {
    /// The `reconnection` option: off, a failure or a lost link is final.
    enabled: bool,
    /// The `reconnection_attempts` option; `None` is unlimited.
    max_attempts: Option<u32>,
    /// The `first_connect_window` option; `None` is unbounded.
    window: Option<Duration>,
    /// When the window of the first connect being tried ends.
    window_ends: Option<Instant>,
    backoff: Backoff,
}

/// The reconnection options, as the builder sets them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ReconnectOptions {
    /// Whether a lost link is dialed again at all.
    pub(crate) enabled: bool,
    /// How many attempts follow a lost link; `None` is unbounded.
    pub(crate) attempts: Option<u32>,
    /// How long a first connect retries; `None` is unbounded.
    pub(crate) first_connect_window: Option<Duration>,
    pub(crate) policy: ReconnectPolicy,
}

impl Reconnection {
    /// The rules for these options, at attempt 0.
    pub(crate) fn new(options: ReconnectOptions) -> Self {
        Reconnection {
            enabled: options.enabled,
            max_attempts: options.attempts,
            window: options.first_connect_window,
            window_ends: None,
            backoff: options.policy.schedule(),
        }
    }

    /// An attempt starts at `now`: its number, and the event that announces
    /// it (none for a first try). `ever_connected`: whether a namespace of
    /// this manager ever connected; until then, the first attempt opens the
    /// first-connect window. Call before opening each link.
    pub(crate) fn start_attempt(
        &mut self,
        now: Instant,
        ever_connected: bool,
    ) -> (u32, Option<SocketEvent>) {
        let attempt = self.backoff.attempts();
        if attempt == 0 && !ever_connected && self.window_ends.is_none() {
            self.window_ends = self.window.and_then(|window| now.checked_add(window));
        }
        (
            attempt,
            (attempt > 0).then_some(SocketEvent::ReconnectAttempt(attempt)),
        )
    }

    /// The number of the attempt that runs (or the next): 0 for a first try.
    pub(crate) fn attempt(&self) -> u32 {
        self.backoff.attempts()
    }

    /// When the attempt that runs must end, failed, if no namespace has
    /// connected by then: the end of the first-connect window, if one is open.
    pub(crate) fn attempt_deadline(&self) -> Option<Instant> {
        self.window_ends
    }

    /// Starts over at attempt 0. Call when a namespace connected on the
    /// link that just ended, and when whether a namespace wants the link
    /// changed (a run of attempts nobody wants stops; a new one starts fresh).
    pub(crate) fn reset(&mut self) {
        self.backoff.reset();
        self.window_ends = None;
    }

    /// A link on which a namespace had connected was lost for `reason`.
    /// Call after [`reset`](Self::reset).
    pub(crate) fn connection_lost(&mut self, reason: DisconnectReason) -> Decision {
        if !self.enabled || !reason.reconnects() {
            return Decision {
                announce: Vec::new(),
                next: Next::GiveUp(ConnectError::Closed),
            };
        }
        self.after(Vec::new(), None)
    }

    /// The attempt that runs failed with `error` at `now`, before any
    /// namespace connected on its link. `ever_connected`: whether a namespace
    /// of this manager ever connected; until then, a failure that retrying
    /// cannot fix ends the first `connect()` at once, whatever the attempt
    /// limit, and so does a next attempt that would start past the end of
    /// the first-connect window.
    pub(crate) fn attempt_failed(
        &mut self,
        error: ConnectError,
        ever_connected: bool,
        now: Instant,
    ) -> Decision {
        let announce = vec![if self.attempt() == 0 {
            SocketEvent::ConnectError(error.clone())
        } else {
            SocketEvent::ReconnectError(error.clone())
        }];
        let hopeless = !ever_connected && error.retrying_cannot_fix();
        if !self.enabled || hopeless {
            self.reset();
            return Decision {
                announce,
                next: Next::GiveUp(error),
            };
        }
        let decision = self.after(announce, Some(error.clone()));
        match decision.next {
            Next::RetryAfter(delay) if self.window_ends.is_some_and(|ends| now + delay >= ends) => {
                tracing::debug!("the first-connect window is over: connect() gives up");
                self.reset();
                let mut announce = decision.announce;
                announce.push(SocketEvent::ReconnectFailed);
                Decision {
                    announce,
                    next: Next::GiveUp(error),
                }
            }
            _ => decision,
        }
    }

    /// The next attempt, or giving up once the attempts are used up.
    fn after(&mut self, mut announce: Vec<SocketEvent>, failure: Option<ConnectError>) -> Decision {
        let attempts = self.backoff.attempts();
        if self.max_attempts.is_some_and(|max| attempts >= max) {
            announce.push(SocketEvent::ReconnectFailed);
            let error = match failure {
                // No reconnection allowed at all: the first failure is the answer.
                Some(error) if attempts == 0 => error,
                last => ConnectError::ReconnectFailed {
                    attempts,
                    last: last.map(Box::new),
                },
            };
            self.reset();
            return Decision {
                announce,
                next: Next::GiveUp(error),
            };
        }
        Decision {
            announce,
            next: Next::RetryAfter(self.backoff.next_delay()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    fn policy(delay_ms: u64, max_ms: u64, factor: f64) -> ReconnectPolicy {
        ReconnectPolicy {
            delay: ms(delay_ms),
            delay_max: ms(max_ms),
            randomization_factor: factor,
        }
    }

    fn take(backoff: &mut Backoff, n: usize) -> Vec<Duration> {
        (0..n).map(|_| backoff.next_delay()).collect()
    }

    #[test]
    fn no_jitter_gives_exact_doubling_capped() {
        let mut b = policy(1000, 5000, 0.0).schedule();
        assert_eq!(
            take(&mut b, 5),
            [ms(1000), ms(2000), ms(4000), ms(5000), ms(5000)]
        );
        assert_eq!(b.attempts(), 5);
    }

    #[test]
    fn bounds_follow_the_formula() {
        let p = policy(1000, 5000, 0.5);
        assert_eq!(p.bounds(0), (ms(500), ms(1500)));
        assert_eq!(p.bounds(1), (ms(1000), ms(3000)));
        assert_eq!(p.bounds(2), (ms(2000), ms(5000)));
        assert_eq!(p.bounds(3), (ms(4000), ms(5000)));
        assert_eq!(p.bounds(4), (ms(5000), ms(5000)));
    }

    #[test]
    fn jitter_stays_within_bounds_and_covers_the_range() {
        let p = policy(1000, 5000, 0.5);
        let (mut below, mut above, mut low_end, mut high_end) = (0, 0, 0, 0);
        for _ in 0..2000 {
            let mut b = p.schedule();
            for n in 0..10 {
                let d = b.next_delay();
                let (min, max) = p.bounds(n);
                assert!(
                    min <= d && d <= max,
                    "attempt {n}: {d:?} not in {min:?}..={max:?}"
                );
                assert!(d <= p.delay_max);
                if n == 0 {
                    below += usize::from(d < p.delay);
                    above += usize::from(d > p.delay);
                    low_end += usize::from(d < ms(600));
                    high_end += usize::from(d > ms(1400));
                }
            }
        }
        // Expected about 1000 each and 200 each; a miss here is ~impossible
        // unless the jitter is one-sided or narrower than the factor.
        assert!(below > 700 && above > 700, "below {below}, above {above}");
        assert!(
            low_end > 50 && high_end > 50,
            "low {low_end}, high {high_end}"
        );
    }

    #[test]
    fn zero_delay_stays_zero() {
        for factor in [0.0, 0.5, 1.0] {
            let p = policy(0, 5000, factor);
            let mut b = p.schedule();
            assert!(take(&mut b, 1100).iter().all(Duration::is_zero));
            assert_eq!(p.bounds(u32::MAX), (Duration::ZERO, Duration::ZERO));
        }
    }

    #[test]
    fn delay_max_below_delay_caps_everything() {
        for factor in [0.0, 0.5] {
            let mut b = policy(2000, 500, factor).schedule();
            assert!(take(&mut b, 20).iter().all(|&d| d == ms(500)));
        }
    }

    #[test]
    fn reset_starts_over() {
        let mut b = policy(1000, 60_000, 0.0).schedule();
        take(&mut b, 4);
        assert_eq!(b.attempts(), 4);
        b.reset();
        assert_eq!(b.attempts(), 0);
        assert_eq!(take(&mut b, 2), [ms(1000), ms(2000)]);
        assert_eq!(b.attempts(), 2);

        // The engine must start over too, not only the counter: were it still
        // at 32 s, every draw would be clamped to attempt 0's 1.5 s maximum.
        let mut b = policy(1000, 60_000, 0.5).schedule();
        let mut below = 0;
        for _ in 0..200 {
            take(&mut b, 5);
            b.reset();
            below += usize::from(b.next_delay() < ms(1000));
            b.reset();
        }
        assert!(below > 50, "below {below}");
    }

    #[test]
    fn many_attempts_saturate_at_delay_max() {
        for factor in [0.0, 0.5, 0.999, 1.0] {
            let p = policy(1000, 5000, factor);
            let mut b = p.schedule();
            let delays = take(&mut b, 1001);
            if factor < 1.0 {
                assert_eq!(delays[1000], ms(5000), "factor {factor}");
                assert_eq!(p.bounds(1000), (ms(5000), ms(5000)));
            }
            assert!(delays.iter().all(|&d| d <= ms(5000)));
            // Far past where 2ⁿ overflows f64, and at the counter's limit.
            let _ = p.bounds(u32::MAX);
        }
        // An unbounded maximum must not overflow `Duration` either.
        let p = ReconnectPolicy {
            delay: Duration::from_secs(1),
            delay_max: Duration::MAX,
            randomization_factor: 0.5,
        };
        let mut b = p.schedule();
        assert!(take(&mut b, 1001).iter().all(|&d| d <= Duration::MAX));
        assert_eq!(p.bounds(1000).0, Duration::MAX);
    }

    #[test]
    fn full_jitter_can_reach_zero() {
        let p = policy(1000, 5000, 1.0);
        assert_eq!(p.bounds(0), (Duration::ZERO, ms(2000)));
        assert_eq!(p.bounds(5), (Duration::ZERO, ms(5000)));
        let mut shortest = Duration::MAX;
        for _ in 0..2000 {
            let mut b = p.schedule();
            let d = b.next_delay();
            assert!(d <= ms(2000));
            shortest = shortest.min(d);
            for n in 1..10 {
                let (min, max) = p.bounds(n);
                let d = b.next_delay();
                assert!(min <= d && d <= max);
            }
        }
        // About 1 in 20 draws lands under 100 ms.
        assert!(shortest < ms(100), "shortest {shortest:?}");
    }

    #[test]
    fn out_of_range_factor_is_clamped() {
        assert_eq!(
            policy(1000, 5000, 3.0).bounds(0),
            (Duration::ZERO, ms(2000))
        );
        assert_eq!(policy(1000, 5000, -1.0).bounds(0), (ms(1000), ms(1000)));
        assert_eq!(policy(1000, 5000, f64::NAN).bounds(0), (ms(1000), ms(1000)));
        let mut b = policy(1000, 5000, f64::NAN).schedule();
        assert_eq!(take(&mut b, 2), [ms(1000), ms(2000)]);
    }

    #[test]
    fn default_matches_reference_client() {
        assert_eq!(ReconnectPolicy::default(), policy(1000, 5000, 0.5));
    }

    // The rules of `Reconnection` are tested through the connection's
    // inputs, in `connection/tests.rs`.
}
