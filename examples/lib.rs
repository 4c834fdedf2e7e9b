//! tally's runnable examples. Run them from the repository root:
//!
//! | command | shows |
//! |---|---|
//! | `cargo run --example quickstart` | `#[tally::measured]` on a succeeding and a failing function, pushed to a gateway with the `Pusher` |
//! | `cargo run --example axum_service` | an axum service with `tally::http::MetricsLayer` and its own `/metrics` |
//! | `cargo run --example worker` | a queue worker with `tally::messages::MessageMetrics` over an in-memory queue |
//!
//! Examples that serve until Ctrl-C stop by themselves after `TALLY_EXAMPLE_SECONDS`
//! seconds when that variable is set, so scripts and tests can run them bounded.
//!
//! This library only holds what the examples share; each example is one file beside it.

#![warn(missing_docs)]

use std::time::Duration;

/// The environment variable bounding how long a serving example runs, in seconds.
pub const SECONDS_VAR: &str = "TALLY_EXAMPLE_SECONDS";

/// How long a serving example should run: [`SECONDS_VAR`] when it is set (a positive
/// number of seconds, fractions allowed), `None` (until Ctrl-C) when it is not. A value
/// that is not such a number is an error naming it.
pub fn run_limit() -> Result<Option<Duration>, String> {
    let Ok(value) = std::env::var(SECONDS_VAR) else {
        return Ok(None);
    };
    parse_seconds(&value)
        .map(Some)
        .ok_or_else(|| format!("{SECONDS_VAR}={value:?} is not a positive number of seconds"))
}

fn parse_seconds(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_positive_numbers() {
        assert_eq!(parse_seconds("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_seconds(" 0.5 "), Some(Duration::from_millis(500)));
        for bad in ["", "0", "-1", "abc", "NaN", "inf"] {
            assert_eq!(parse_seconds(bad), None, "{bad:?}");
        }
    }
}
