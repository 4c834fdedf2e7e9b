//! [`Histogram`]: observations counted in fixed buckets, with their sum.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::stripe::{add_f64, stripe_count, thread_stripe};

/// Prometheus' default buckets, in seconds: 5 ms to 10 s.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Why a bucket layout was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BucketsError {
    /// Bounds must be strictly increasing and not NaN.
    #[error("bucket bounds must be strictly increasing, found {0} after {1}")]
    NotIncreasing(f64, f64),
    /// A helper was asked for zero buckets, or for parameters that make no layout.
    #[error("invalid bucket parameters: {0}")]
    InvalidParameters(&'static str),
}

/// `count` buckets starting at `start`, each `width` wider than the last.
pub fn linear_buckets(start: f64, width: f64, count: usize) -> Result<Vec<f64>, BucketsError> {
    if count == 0 {
        return Err(BucketsError::InvalidParameters("count must be at least 1"));
    }
    if width.is_nan() || width <= 0.0 || !start.is_finite() || !width.is_finite() {
        return Err(BucketsError::InvalidParameters(
            "width must be positive and both finite",
        ));
    }
    Ok((0..count).map(|i| start + width * i as f64).collect())
}

/// `count` buckets starting at `start`, each `factor` times the last.
pub fn exponential_buckets(
    start: f64,
    factor: f64,
    count: usize,
) -> Result<Vec<f64>, BucketsError> {
    if count == 0 {
        return Err(BucketsError::InvalidParameters("count must be at least 1"));
    }
    let valid = start > 0.0 && factor > 1.0 && start.is_finite() && factor.is_finite();
    if !valid {
        return Err(BucketsError::InvalidParameters(
            "start must be positive and factor greater than 1",
        ));
    }
    Ok((0..count).map(|i| start * factor.powi(i as i32)).collect())
}

/// Checks a layout and drops a trailing `+Inf` (always implied).
pub(crate) fn validate_buckets(bounds: &[f64]) -> Result<Arc<[f64]>, BucketsError> {
    let mut bounds: Vec<f64> = bounds.to_vec();
    if bounds.last() == Some(&f64::INFINITY) {
        bounds.pop();
    }
    for w in bounds.windows(2) {
        if w[1].partial_cmp(&w[0]) != Some(std::cmp::Ordering::Greater) {
            return Err(BucketsError::NotIncreasing(w[1], w[0]));
        }
    }
    if bounds.iter().any(|b| b.is_nan()) {
        return Err(BucketsError::InvalidParameters("a bound is NaN"));
    }
    Ok(bounds.into())
}

/// A distribution of observations (latencies, sizes) in fixed cumulative buckets.
///
/// Each thread adds to its own stripe of per-bucket counts and sum (see `stripe.rs`), so
/// concurrent observations do not contend. The count is the sum of the bucket counts, so
/// a reader always sees `_count` equal to the `+Inf` bucket. The handle holds both
/// pointers (bounds and cells), so an observation is one dependent load away from them.
/// Cloning is shallow (two reference-count increments); clones observe into the same
/// histogram.
#[derive(Debug, Clone)]
pub struct Histogram {
    /// Upper bounds without the implied `+Inf` (shared by a family's children).
    bounds: Arc<[f64]>,
    /// Per stripe, `stride` cells apart: one count per bucket (the last is `+Inf`), then
    /// the sum as f64 bits, then padding.
    cells: Arc<[AtomicU64]>,
    stride: u32,
    /// Number of stripes minus one (a power of two minus one).
    stripe_mask: u32,
}

/// A point-in-time reading of a [`Histogram`].
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Upper bounds, ending with `+Inf`.
    pub bounds: Vec<f64>,
    /// Cumulative counts per bound.
    pub cumulative: Vec<u64>,
    /// Sum of observations.
    pub sum: f64,
    /// Number of observations (equals the last cumulative count).
    pub count: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::with_bounds(DEFAULT_BUCKETS.as_slice().into())
    }
}

impl Histogram {
    /// A histogram with Prometheus' default buckets.
    pub fn new() -> Self {
        Self::default()
    }

    /// A histogram with the given upper bounds (a trailing `+Inf` is optional).
    pub fn with_buckets(bounds: &[f64]) -> Result<Self, BucketsError> {
        Ok(Self::with_bounds(validate_buckets(bounds)?))
    }

    pub(crate) fn with_bounds(bounds: Arc<[f64]>) -> Self {
        let used = bounds.len() + 2;
        // Pad each stripe so no two stripes' cells share a 64-byte line.
        let stride = used.div_ceil(8) * 8 + 8;
        let stripes = stripe_count();
        let cells = (0..stride * stripes)
            .map(|i| {
                if i % stride == used - 1 {
                    AtomicU64::new(0f64.to_bits())
                } else {
                    AtomicU64::new(0)
                }
            })
            .collect();
        Self {
            bounds,
            cells,
            // At most 16 stripes of a few hundred cells: both fit.
            stride: stride as u32,
            stripe_mask: (stripes - 1) as u32,
        }
    }

    /// Records one observation. NaN counts in the `+Inf` bucket (and makes the sum NaN).
    #[inline]
    pub fn observe(&self, v: f64) {
        let n = self.bounds.len();
        let bucket = if n <= 16 {
            self.bounds.iter().position(|&b| v <= b).unwrap_or(n)
        } else {
            self.bounds.partition_point(|&b| b < v).min(n)
        };
        let bucket = if v.is_nan() { n } else { bucket };
        let base = (thread_stripe() & self.stripe_mask as usize) * self.stride as usize;
        self.cells[base + bucket].fetch_add(1, Ordering::Relaxed);
        add_f64(&self.cells[base + n + 1], v);
    }

    /// Records the seconds elapsed since `start`.
    pub fn observe_since(&self, start: std::time::Instant) {
        self.observe(start.elapsed().as_secs_f64());
    }

    /// The bucket upper bounds, without the implied `+Inf`.
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    /// Reads counts and sum. Observations racing with the read may be partly included.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let n = self.bounds.len();
        let stride = self.stride as usize;
        let mut per_bucket = vec![0u64; n + 1];
        let mut sum = 0.0;
        for s in 0..=self.stripe_mask as usize {
            let base = s * stride;
            for (i, c) in per_bucket.iter_mut().enumerate() {
                *c = c.wrapping_add(self.cells[base + i].load(Ordering::Relaxed));
            }
            sum += f64::from_bits(self.cells[base + n + 1].load(Ordering::Relaxed));
        }
        let mut running = 0u64;
        let cumulative: Vec<u64> = per_bucket
            .iter()
            .map(|c| {
                running = running.wrapping_add(*c);
                running
            })
            .collect();
        HistogramSnapshot {
            bounds: self.bounds.iter().copied().chain([f64::INFINITY]).collect(),
            count: running,
            cumulative,
            sum,
        }
    }

    /// Number of observations so far.
    pub fn count(&self) -> u64 {
        self.snapshot().count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_le() {
        let h = Histogram::with_buckets(&[1.0, 2.0, 5.0]).unwrap();
        for v in [0.5, 1.0, 1.5, 2.0, 3.0, 10.0, f64::NAN] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.bounds, [1.0, 2.0, 5.0, f64::INFINITY]);
        assert_eq!(s.cumulative, [2, 4, 5, 7]);
        assert_eq!(s.count, 7);
        assert!(s.sum.is_nan());
    }

    #[test]
    fn many_buckets_use_binary_search() {
        let bounds = linear_buckets(0.0, 1.0, 40).unwrap();
        let h = Histogram::with_buckets(&bounds).unwrap();
        h.observe(0.0);
        h.observe(17.5);
        h.observe(100.0);
        let s = h.snapshot();
        assert_eq!(s.cumulative[0], 1);
        assert_eq!(s.cumulative[17], 1);
        assert_eq!(s.cumulative[18], 2);
        assert_eq!(s.cumulative[40], 3);
        assert_eq!(s.sum, 117.5);
    }

    #[test]
    fn concurrent_observations_are_all_counted() {
        let h = Histogram::new();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..2500 {
                        h.observe(0.2);
                    }
                });
            }
        });
        let s = h.snapshot();
        assert_eq!(s.count, 10_000);
        assert!((s.sum - 2000.0).abs() < 1e-6);
    }

    #[test]
    fn layouts_are_validated() {
        assert!(Histogram::with_buckets(&[1.0, 1.0]).is_err());
        assert!(Histogram::with_buckets(&[2.0, 1.0]).is_err());
        assert!(Histogram::with_buckets(&[1.0, f64::INFINITY]).is_ok());
        assert_eq!(
            exponential_buckets(1.0, 2.0, 4).unwrap(),
            [1.0, 2.0, 4.0, 8.0]
        );
        assert_eq!(linear_buckets(1.0, 0.5, 3).unwrap(), [1.0, 1.5, 2.0]);
        assert!(exponential_buckets(0.0, 2.0, 4).is_err());
        assert!(linear_buckets(0.0, 1.0, 0).is_err());
    }
}
