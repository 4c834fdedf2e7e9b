//! [`RetryPolicy`]: exponential backoff with jitter, bounded by a deadline.

use std::time::Duration;

/// How failed deliveries are retried: waits of `initial_backoff`, doubling up to
/// `max_backoff`, each scaled by a random factor in [0.5, 1.5) so that many failing
/// receivers do not retry in step; no attempt starts after `deadline` from the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first wait.
    pub initial_backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
    /// How long to keep trying one notification.
    pub deadline: Duration,
    /// Time-out of one attempt (HTTP request or SMTP session).
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    /// 500 ms doubling to 1 min, for up to 5 min (Alertmanager's default
    /// `group_interval`, after which the next flush retries anyway); 30 s per attempt.
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            deadline: Duration::from_secs(300),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (0-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .initial_backoff
            .saturating_mul(1u32.checked_shl(attempt.min(30)).unwrap_or(u32::MAX))
            .min(self.max_backoff);
        base.mul_f64(0.5 + fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for attempt in 0..40 {
            let base = (100u64 << attempt.min(20)).min(1000);
            let wait = p.backoff(attempt).as_millis() as u64;
            assert!(
                wait >= base / 2 && wait < base * 3 / 2,
                "attempt {attempt}: {wait}"
            );
        }
    }
}
