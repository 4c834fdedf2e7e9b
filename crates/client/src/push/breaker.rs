//! [`Breaker`]: a circuit breaker per gateway, so an unreachable gateway is probed once
//! per cool-down instead of being sent every retry.

use std::time::{Duration, Instant};

/// Where a breaker is. The numbers are the values of `tally_pusher_breaker_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BreakerState {
    /// Requests flow; consecutive unhealthy failures are counted.
    Closed = 0,
    /// No request until the cool-down ends.
    Open = 1,
    /// The cool-down ended: one probe request decides between closed and open.
    HalfOpen = 2,
}

/// Closed → open after `threshold` consecutive unhealthy failures → half-open once
/// `cool_down` has passed → closed after a probe that reached the gateway, or open again
/// (for another `cool_down`) after a probe that failed. Owned by one gateway's thread; no
/// locking.
#[derive(Debug, Clone)]
pub(crate) struct Breaker {
    threshold: u32,
    cool_down: Duration,
    state: BreakerState,
    failures: u32,
    opened_at: Option<Instant>,
}

impl Breaker {
    /// A closed breaker. A `threshold` of 0 is treated as 1.
    pub(crate) fn new(threshold: u32, cool_down: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cool_down,
            state: BreakerState::Closed,
            failures: 0,
            opened_at: None,
        }
    }

    /// The state at `now` (an open breaker whose cool-down has passed is half-open).
    pub(crate) fn state(&mut self, now: Instant) -> BreakerState {
        if self.state == BreakerState::Open && self.allowed_at().is_some_and(|t| now >= t) {
            self.state = BreakerState::HalfOpen;
        }
        self.state
    }

    /// When the next request is allowed: `None` while closed or half-open (now).
    pub(crate) fn allowed_at(&self) -> Option<Instant> {
        match self.state {
            BreakerState::Open => self.opened_at.map(|t| t + self.cool_down),
            _ => None,
        }
    }

    /// Records an attempt that reached a working gateway (a `2xx`, a rejection, a `429`).
    pub(crate) fn on_success(&mut self) {
        self.state = BreakerState::Closed;
        self.failures = 0;
        self.opened_at = None;
    }

    /// Records an unhealthy failure at `now`.
    pub(crate) fn on_failure(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        if self.state == BreakerState::HalfOpen || self.failures >= self.threshold {
            self.state = BreakerState::Open;
            self.opened_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_probes_after_cool_down() {
        let t0 = Instant::now();
        let s = |secs| t0 + Duration::from_secs(secs);
        let mut b = Breaker::new(3, Duration::from_secs(30));
        assert_eq!(b.state(t0), BreakerState::Closed);
        b.on_failure(s(1));
        b.on_failure(s(2));
        assert_eq!(b.state(s(2)), BreakerState::Closed, "2 of 3");
        assert_eq!(b.allowed_at(), None);
        b.on_failure(s(3));
        assert_eq!(b.state(s(3)), BreakerState::Open);
        assert_eq!(b.allowed_at(), Some(s(33)));
        assert_eq!(b.state(s(32)), BreakerState::Open);
        assert_eq!(b.state(s(33)), BreakerState::HalfOpen);
        assert_eq!(b.allowed_at(), None, "the probe may go");

        // A failed probe opens it again at once, for a whole cool-down.
        b.on_failure(s(34));
        assert_eq!(b.state(s(34)), BreakerState::Open);
        assert_eq!(b.allowed_at(), Some(s(64)));

        // A probe that reaches the gateway closes it and resets the count.
        assert_eq!(b.state(s(64)), BreakerState::HalfOpen);
        b.on_success();
        assert_eq!(b.state(s(64)), BreakerState::Closed);
        b.on_failure(s(65));
        b.on_failure(s(66));
        assert_eq!(
            b.state(s(66)),
            BreakerState::Closed,
            "counting from 0 again"
        );
    }

    #[test]
    fn a_success_resets_the_count() {
        let t0 = Instant::now();
        let mut b = Breaker::new(2, Duration::from_secs(1));
        b.on_failure(t0);
        b.on_success();
        b.on_failure(t0);
        assert_eq!(b.state(t0), BreakerState::Closed);
        b.on_failure(t0);
        assert_eq!(b.state(t0), BreakerState::Open);
    }
}
