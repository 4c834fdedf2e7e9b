//! Rollups: per-series summaries of fixed time buckets (1 minute and 1 hour), kept as
//! samples arrive so that long-range reads do not decode raw chunks.
//!
//! A bucket of resolution `r` starting at `s` (a multiple of `r` since the epoch) covers
//! samples with `s <= t < s + r` and records their count, sum, min, max and the last
//! value. Staleness markers are not samples of the series' value and are skipped. A bucket
//! is *finished* when a sample of a later bucket arrives; finished buckets are written at
//! the next checkpoint, the current one is recomputed from the WAL after a crash.

use tally_model::is_stale_nan;

/// The resolutions kept, in milliseconds.
pub const RESOLUTIONS_MS: [i64; 2] = [60_000, 3_600_000];

/// One finished (or current) bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollupPoint {
    /// Bucket start, ms since the epoch.
    pub start: i64,
    /// Samples in the bucket.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
    /// The latest.
    pub last: f64,
}

impl RollupPoint {
    fn first(start: i64, v: f64) -> Self {
        Self {
            start,
            count: 1,
            sum: v,
            min: v,
            max: v,
            last: v,
        }
    }

    fn add(&mut self, v: f64) {
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.last = v;
    }
}

/// The bucket being filled for one series at one resolution.
#[derive(Debug, Clone, Default)]
pub struct RollupState {
    current: Option<RollupPoint>,
}

impl RollupState {
    /// Adds a sample (in time order); returns the bucket it finished, if any.
    pub fn observe(&mut self, res_ms: i64, t: i64, v: f64) -> Option<RollupPoint> {
        if is_stale_nan(v) {
            return None;
        }
        let start = t.div_euclid(res_ms) * res_ms;
        match &mut self.current {
            Some(p) if p.start == start => {
                p.add(v);
                None
            }
            current => current.replace(RollupPoint::first(start, v)),
        }
    }

    /// Continues filling a checkpointed bucket (after a restart).
    pub fn restore(&mut self, point: RollupPoint) {
        if self.current.is_none_or(|c| c.start <= point.start) {
            self.current = Some(point);
        }
    }

    /// The bucket being filled.
    pub fn current(&self) -> Option<&RollupPoint> {
        self.current.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_model::stale_nan;

    #[test]
    fn buckets_finish_when_a_later_one_starts() {
        let mut r = RollupState::default();
        assert_eq!(r.observe(60_000, 0, 1.0), None);
        assert_eq!(r.observe(60_000, 15_000, 5.0), None);
        assert_eq!(r.observe(60_000, 30_000, stale_nan()), None);
        assert_eq!(r.observe(60_000, 45_000, 3.0), None);
        let done = r.observe(60_000, 60_000, 2.0).unwrap();
        assert_eq!(
            done,
            RollupPoint {
                start: 0,
                count: 3,
                sum: 9.0,
                min: 1.0,
                max: 5.0,
                last: 3.0
            }
        );
        assert_eq!(r.current().unwrap().start, 60_000);
        // Negative times bucket downwards.
        let mut r = RollupState::default();
        r.observe(60_000, -1, 1.0);
        assert_eq!(r.current().unwrap().start, -60_000);
    }
}
