//! [`Clock`]: where the notifier reads the time, so tests can drive it by hand.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

/// A source of the current time. Production uses [`SystemClock`]; tests use
/// [`ManualClock`] and move it forward themselves, so no test sleeps to wait for a timer.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to. Cloning shares the same time (one `Arc`).
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock forward (or back, for a negative duration).
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.now.lock();
        *now += by;
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock() = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock()
    }
}

/// `t + d`, saturating at the ends of chrono's range instead of panicking: times come
/// from input (an alert's `startsAt`, a silence's `endsAt`) and durations from
/// configuration, so their sum must never overflow into a panic.
pub(crate) fn later(t: DateTime<Utc>, d: chrono::Duration) -> DateTime<Utc> {
    t.checked_add_signed(d)
        .unwrap_or(if d < chrono::Duration::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_saturates() {
        let max = DateTime::<Utc>::MAX_UTC;
        assert_eq!(later(max, chrono::Duration::hours(1)), max);
        assert_eq!(
            later(DateTime::<Utc>::MIN_UTC, -chrono::Duration::hours(1)),
            DateTime::<Utc>::MIN_UTC
        );
    }
}
