//! Helpers shared by the tests: real peers ([`peers`]), a recording HTTP server
//! ([`sink`]), label and time shorthands.

pub mod peers;
pub mod sink;

use chrono::{DateTime, TimeZone, Utc};
use tally_model::Labels;

/// A fixed start time for clock-driven tests.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .expect("valid time")
}

/// Seconds after [`t0`].
pub fn at(secs: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(secs)
}

/// A label set from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).expect("valid labels")
}

/// Asserts equality, printing both sides line by line on failure.
#[macro_export]
macro_rules! eqnice {
    ($expected:expr, $got:expr) => {{
        let (expected, got) = (&$expected, &$got);
        if expected != got {
            panic!("\n--- expected\n{:#?}\n--- got\n{:#?}\n", expected, got);
        }
    }};
}
