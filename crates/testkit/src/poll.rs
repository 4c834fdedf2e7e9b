//! Bounded polling of an external process: the only place this crate sleeps.

use std::time::{Duration, Instant};

/// Pause between polls of an external process (readiness, exit).
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Calls `check` every [`POLL_INTERVAL`] until it returns `Some`, and returns that value.
///
/// # Panics
/// Once `deadline` has passed, with the message `timed_out` builds (called only then, so
/// it may read a log file).
pub(crate) fn poll_until<T>(
    deadline: Instant,
    mut check: impl FnMut() -> Option<T>,
    timed_out: impl FnOnce() -> String,
) -> T {
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("{}", timed_out());
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}
