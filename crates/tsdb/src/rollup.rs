//! Rollups: per-series summaries of fixed time buckets (1 minute and 1 hour), so that
//! long-range reads do not decode raw chunks.
//!
//! 1 hour buckets are kept as samples arrive ([`KEPT_MS`]). 1 minute buckets
//! ([`DERIVED_MS`]) are computed from the raw samples while those are kept, and stored
//! when retention deletes the raw chunks: at common sample intervals (15 s) a 1 minute
//! bucket summarises a handful of samples, costs as many bytes as they do and reads no
//! faster (`docs/decisions/0008-tsdb-store-v4.md`).
//!
//! A bucket of resolution `r` starting at `s` (a multiple of `r` since the epoch) covers
//! samples with `s <= t < s + r` and records their count, sum, min, max and the last
//! value. Staleness markers are not samples of the series' value and are skipped. A bucket
//! is *finished* when a sample of a later bucket arrives; finished buckets are written at
//! the next checkpoint, the current one is recomputed from the WAL after a crash.

use tally_model::is_stale_nan;

use crate::chunk::{ChunkError, ChunkIter, XorChunk};

/// The resolutions readable, in milliseconds.
pub const RESOLUTIONS_MS: [i64; 2] = [DERIVED_MS, 3_600_000];

/// The resolutions maintained as samples arrive.
pub const KEPT_MS: [i64; 1] = [3_600_000];

/// The resolution computed from raw samples while they are kept, and stored when
/// retention removes them.
pub const DERIVED_MS: i64 = 60_000;

/// The buckets at `res_ms` of time-ordered `samples` (staleness markers skipped).
pub fn bucket_samples(res_ms: i64, samples: &[tally_model::Sample]) -> Vec<RollupPoint> {
    let mut state = RollupState::default();
    let mut out: Vec<RollupPoint> = samples
        .iter()
        .filter_map(|s| state.observe(res_ms, s.timestamp_ms, s.value))
        .collect();
    out.extend(state.current().copied());
    out
}

/// Buckets per stored block: a block of resolution `r` covers `r * BLOCK_BUCKETS` ms
/// (2 hours of 1 minute buckets, 5 days of 1 hour buckets).
pub const BLOCK_BUCKETS: i64 = 120;

/// The start of the stored block holding the bucket that starts at `t`.
pub fn block_start(res_ms: i64, t: i64) -> i64 {
    let span = res_ms * BLOCK_BUCKETS;
    t.div_euclid(span) * span
}

/// Finished buckets of one series at one resolution, stored column by column: five XOR
/// chunks (count, sum, min, max, last), each with the bucket starts as its timestamps, so
/// regular buckets cost about a bit of time each and a constant count almost nothing.
/// Layout in `docs/format/tsdb-store.md`.
#[derive(Debug, Clone, Default)]
pub struct RollupBlock {
    columns: [XorChunk; 5],
}

impl RollupBlock {
    /// An empty block.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reopens a stored block to append to it.
    pub fn from_bytes(mut b: &[u8]) -> Result<Self, ChunkError> {
        let mut block = Self::new();
        for column in &mut block.columns {
            let (len, n) =
                crate::store::get_uvarint(b).ok_or(ChunkError::Truncated { sample: 0, bit: 0 })?;
            let end = n
                .checked_add(usize::try_from(len).unwrap_or(usize::MAX))
                .filter(|e| *e <= b.len())
                .ok_or(ChunkError::Truncated { sample: 0, bit: 0 })?;
            *column = XorChunk::from_bytes(&b[n..end])?;
            b = &b[end..];
        }
        Ok(block)
    }

    /// Appends a finished bucket (starts must increase).
    pub fn push(&mut self, p: &RollupPoint) {
        let values = [p.count as f64, p.sum, p.min, p.max, p.last];
        for (column, v) in self.columns.iter_mut().zip(values) {
            column.append(p.start, v);
        }
    }

    /// The start of the newest bucket.
    pub fn last_start(&self) -> Option<i64> {
        self.columns[0].max_time()
    }

    /// The encoded block.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for column in &self.columns {
            let bytes = column.bytes();
            crate::store::put_uvarint(&mut out, bytes.len() as u64);
            out.extend_from_slice(bytes);
        }
        out
    }

    /// The buckets of an encoded block.
    pub fn points(bytes: &[u8]) -> Result<Vec<RollupPoint>, ChunkError> {
        let block = Self::from_bytes(bytes)?;
        let mut iters: Vec<ChunkIter<'_>> = block.columns.iter().map(XorChunk::iter).collect();
        let mut out = Vec::with_capacity(block.columns[0].len());
        loop {
            let mut row = [0.0f64; 5];
            let mut start = None;
            for (slot, it) in row.iter_mut().zip(iters.iter_mut()) {
                match it.next() {
                    Some(s) => {
                        *slot = s.value;
                        start = Some(s.timestamp_ms);
                    }
                    None => return Ok(out),
                }
            }
            let Some(start) = start else {
                return Ok(out);
            };
            out.push(RollupPoint {
                start,
                count: row[0] as u64,
                sum: row[1],
                min: row[2],
                max: row[3],
                last: row[4],
            });
        }
    }
}

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

    /// The bucket holding the samples of `self` and of `later`, two disjoint parts of
    /// one bucket, `later`'s samples being the newer.
    pub fn combine(&self, later: &RollupPoint) -> RollupPoint {
        RollupPoint {
            start: self.start,
            count: self.count + later.count,
            sum: self.sum + later.sum,
            min: self.min.min(later.min),
            max: self.max.max(later.max),
            last: later.last,
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
    fn blocks_round_trip_and_reopen() {
        let points: Vec<RollupPoint> = (0..10)
            .map(|i| RollupPoint {
                start: i * 60_000,
                count: 4,
                sum: i as f64 * 4.0 + 6.0,
                min: i as f64,
                max: i as f64 + 3.0,
                last: i as f64 + 3.0,
            })
            .collect();
        let mut b = RollupBlock::new();
        for p in &points[..6] {
            b.push(p);
        }
        let mut b = RollupBlock::from_bytes(&b.to_bytes()).unwrap();
        for p in &points[6..] {
            b.push(p);
        }
        assert_eq!(b.last_start(), Some(540_000));
        assert_eq!(RollupBlock::points(&b.to_bytes()).unwrap(), points);
        assert!(RollupBlock::from_bytes(&[200]).is_err());
        assert!(RollupBlock::points(&[]).is_err());
        assert_eq!(block_start(60_000, 7_200_001), 7_200_000);
        assert_eq!(block_start(3_600_000, 3_600_000), 0);
    }

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
