//! [`Sample`]: one value of a series at one instant, and the staleness marker.

/// Bit pattern of the NaN Prometheus writes as a *staleness marker*: it says "this series
/// ended here". It is distinct from the ordinary NaN a client may legitimately report,
/// and must be compared by bits, never by value.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker as a float. Compare with [`is_stale_nan`], not `==`.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `value` is the staleness marker (and not some other NaN).
pub fn is_stale_nan(value: f64) -> bool {
    value.to_bits() == STALE_NAN_BITS
}

/// A float value at a timestamp in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub timestamp_ms: i64,
    /// The value; may be NaN, ±Inf or the staleness marker.
    pub value: f64,
}

impl Sample {
    /// A sample at `timestamp_ms` with `value`.
    pub fn new(timestamp_ms: i64, value: f64) -> Self {
        Self {
            timestamp_ms,
            value,
        }
    }

    /// A staleness marker at `timestamp_ms`.
    pub fn stale(timestamp_ms: i64) -> Self {
        Self::new(timestamp_ms, stale_nan())
    }

    /// Whether this sample is a staleness marker.
    pub fn is_stale(&self) -> bool {
        is_stale_nan(self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_marker_is_not_ordinary_nan() {
        assert!(is_stale_nan(stale_nan()));
        assert!(!is_stale_nan(f64::NAN));
        assert!(stale_nan().is_nan());
        assert!(Sample::stale(5).is_stale());
        assert!(!Sample::new(5, 1.0).is_stale());
    }
}
