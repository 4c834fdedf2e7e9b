//! What to do after an attempt: the classification of answers, exponential backoff with
//! full jitter, and `Retry-After`.

use std::time::{Duration, SystemTime};

use super::transport::{PushResponse, TransportError};

/// The longest `Retry-After` honoured; a longer one is cut to this, so a bad header cannot
/// silence a pusher for days.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Why an attempt failed, as the `reason` label of `tally_pusher_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureReason {
    /// No connection (refused, unreachable, unknown host).
    Connection,
    /// Connect or request timeout.
    Timeout,
    /// The connection broke, or the answer was not HTTP.
    Io,
    /// `408 Request Timeout`.
    RequestTimeout,
    /// `429 Too Many Requests`.
    Throttled,
    /// Any `5xx`.
    ServerError,
    /// A `4xx` other than 408 and 429: the push is wrong, sending it again will not help.
    Rejected,
    /// A status outside 2xx, 4xx and 5xx (tally does not follow redirects).
    UnexpectedStatus,
}

impl FailureReason {
    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Connection => "connection",
            Self::Timeout => "timeout",
            Self::Io => "io",
            Self::RequestTimeout => "http_408",
            Self::Throttled => "http_429",
            Self::ServerError => "http_5xx",
            Self::Rejected => "http_4xx",
            Self::UnexpectedStatus => "http_other",
        }
    }

    /// Whether the same push may succeed later.
    pub(crate) fn retryable(self) -> bool {
        !matches!(self, Self::Rejected | Self::UnexpectedStatus)
    }

    /// Whether it says the gateway is unhealthy (counts toward opening the breaker). A
    /// rejection or a `429` comes from a gateway that works.
    pub(crate) fn unhealthy(self) -> bool {
        self.retryable() && self != Self::Throttled
    }
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// A `2xx`.
    Success,
    /// Anything else, with the `Retry-After` to honour (429 and 503 only).
    Failure {
        reason: FailureReason,
        retry_after: Option<Duration>,
        detail: String,
    },
}

/// Classifies what a transport returned. `now` is the wall time, for HTTP-date
/// `Retry-After` values.
pub(crate) fn classify(result: Result<PushResponse, TransportError>, now: SystemTime) -> Outcome {
    let response = match result {
        Ok(r) => r,
        Err(e) => {
            let reason = match e {
                TransportError::Connect(_) => FailureReason::Connection,
                TransportError::Timeout => FailureReason::Timeout,
                TransportError::Io(_) => FailureReason::Io,
            };
            return Outcome::Failure {
                reason,
                retry_after: None,
                detail: e.to_string(),
            };
        }
    };
    let reason = match response.status {
        200..=299 => return Outcome::Success,
        408 => FailureReason::RequestTimeout,
        429 => FailureReason::Throttled,
        400..=499 => FailureReason::Rejected,
        500..=599 => FailureReason::ServerError,
        _ => FailureReason::UnexpectedStatus,
    };
    let retry_after = match response.status {
        429 | 503 => response
            .retry_after
            .as_deref()
            .and_then(|v| parse_retry_after(v, now)),
        _ => None,
    };
    let body = response.body.trim();
    Outcome::Failure {
        reason,
        retry_after,
        detail: if body.is_empty() {
            format!("HTTP {}", response.status)
        } else {
            format!("HTTP {}: {body}", response.status)
        },
    }
}

/// Parses a `Retry-After` value (RFC 9110 §10.2.3): a number of seconds, or an HTTP date
/// (a date in the past means now). Capped at [`MAX_RETRY_AFTER`]; `None` when invalid.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only overflow can fail, and a huge number means "the cap".
        Duration::from_secs(value.parse().unwrap_or(u64::MAX))
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Exponential backoff with full jitter: after the `n`th consecutive failure the next
/// attempt waits a uniformly random time in `[0, min(cap, base × 2^(n-1))]`, so many
/// clients that failed together do not retry together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub(crate) base: Duration,
    pub(crate) cap: Duration,
}

impl Backoff {
    /// The largest wait after `failures` consecutive failures (0 for none).
    pub(crate) fn ceiling(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A random wait in `[0, ceiling(failures)]`.
    pub(crate) fn delay(&self, failures: u32, rng: &mut fastrand::Rng) -> Duration {
        let ceiling = self.ceiling(failures);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.u64(0..=nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const BACKOFF: Backoff = Backoff {
        base: Duration::from_millis(100),
        cap: Duration::from_secs(30),
    };

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let ms = |n| BACKOFF.ceiling(n).as_millis();
        assert_eq!([ms(0), ms(1), ms(2), ms(3), ms(4)], [0, 100, 200, 400, 800]);
        assert_eq!(ms(9), 25_600);
        assert_eq!(ms(10), 30_000);
        assert_eq!(ms(64), 30_000, "no overflow on long outages");
        assert_eq!(ms(u32::MAX), 30_000);
    }

    #[test]
    fn full_jitter_stays_in_range_and_spreads() {
        let mut rng = fastrand::Rng::with_seed(7);
        for failures in 1..=12 {
            let ceiling = BACKOFF.ceiling(failures);
            let delays: Vec<Duration> = (0..2000)
                .map(|_| BACKOFF.delay(failures, &mut rng))
                .collect();
            assert!(delays.iter().all(|d| *d <= ceiling), "{failures}");
            let (min, max) = (
                delays.iter().min().copied().unwrap_or_default(),
                delays.iter().max().copied().unwrap_or_default(),
            );
            // Full jitter: the whole range is used, down to nearly nothing.
            assert!(min < ceiling / 50, "{failures}: min {min:?} of {ceiling:?}");
            assert!(max > ceiling * 49 / 50, "{failures}: max {max:?}");
            let mean = delays.iter().sum::<Duration>() / 2000;
            assert!(
                mean > ceiling * 45 / 100 && mean < ceiling * 55 / 100,
                "{failures}: mean {mean:?} of {ceiling:?}"
            );
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_704_067_200); // 2024-01-01T00:00:00Z
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Mon, 01 Jan 2024 00:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // The two obsolete date forms HTTP still accepts.
        assert_eq!(
            parse_retry_after("Monday, 01-Jan-24 00:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Mon Jan  1 00:00:05 2024", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Sun, 31 Dec 2023 23:00:00 GMT", now),
            Some(Duration::ZERO),
            "a past date means now"
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        for bad in ["", "-1", "1.5", "soon", "Mon, 99 Jan 2024 00:00:00 GMT"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    fn status(code: u16, retry_after: Option<&str>) -> Outcome {
        classify(
            Ok(PushResponse {
                status: code,
                retry_after: retry_after.map(str::to_owned),
                body: String::new(),
            }),
            UNIX_EPOCH,
        )
    }

    fn reason(o: &Outcome) -> Option<FailureReason> {
        match o {
            Outcome::Success => None,
            Outcome::Failure { reason, .. } => Some(*reason),
        }
    }

    #[test]
    fn statuses_are_classified() {
        assert_eq!(status(200, None), Outcome::Success);
        assert_eq!(status(202, None), Outcome::Success);
        assert_eq!(reason(&status(400, None)), Some(FailureReason::Rejected));
        assert_eq!(reason(&status(404, None)), Some(FailureReason::Rejected));
        assert_eq!(
            reason(&status(408, None)),
            Some(FailureReason::RequestTimeout)
        );
        assert_eq!(reason(&status(429, None)), Some(FailureReason::Throttled));
        assert_eq!(reason(&status(500, None)), Some(FailureReason::ServerError));
        assert_eq!(
            reason(&status(302, None)),
            Some(FailureReason::UnexpectedStatus)
        );
        assert!(!FailureReason::Rejected.retryable());
        assert!(FailureReason::RequestTimeout.retryable());
        assert!(FailureReason::Throttled.retryable() && !FailureReason::Throttled.unhealthy());
        assert!(FailureReason::ServerError.unhealthy());
        let Outcome::Failure { retry_after, .. } = status(503, Some("3")) else {
            panic!("503 is a failure");
        };
        assert_eq!(retry_after, Some(Duration::from_secs(3)));
        let Outcome::Failure { retry_after, .. } = status(500, Some("3")) else {
            panic!("500 is a failure");
        };
        assert_eq!(
            retry_after, None,
            "Retry-After is honoured on 429 and 503 only"
        );
        let o = classify(Err(TransportError::Timeout), UNIX_EPOCH);
        assert_eq!(reason(&o), Some(FailureReason::Timeout));
        let o = classify(Err(TransportError::Connect("refused".into())), UNIX_EPOCH);
        assert_eq!(reason(&o), Some(FailureReason::Connection));
    }
}
