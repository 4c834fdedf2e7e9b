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

use tally_model::Sample;

use crate::chunk::packed::{decode_columns, encode_columns};
use crate::chunk::{ChunkError, ChunkIter};

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
    out.extend(state.current());
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

/// Finished buckets of one series at one resolution, stored as packed columns: the
/// bucket starts once, then count, sum, min, max and last (`docs/format/chunk.md`), so
/// regular buckets cost no bits of time and a constant count almost nothing. Layout in `docs/format/tsdb-store.md`. A block holds at
/// most [`BLOCK_BUCKETS`] buckets and is encoded again whenever it changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RollupBlock {
    points: Vec<RollupPoint>,
}

/// The error for a block whose columns disagree.
const RAGGED: ChunkError = ChunkError::BadField {
    bit: 0,
    what: "rollup block columns of different lengths or bucket starts",
};

impl RollupBlock {
    /// An empty block.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reopens a stored block to append to it.
    pub fn from_bytes(b: &[u8]) -> Result<Self, ChunkError> {
        Ok(Self {
            points: Self::points(b)?,
        })
    }

    /// Appends a finished bucket; one not after the newest is ignored (starts must
    /// increase).
    pub fn push(&mut self, p: &RollupPoint) {
        if self.last_start().is_none_or(|last| last < p.start) {
            self.points.push(*p);
        }
    }

    /// The start of the newest bucket.
    pub fn last_start(&self) -> Option<i64> {
        self.points.last().map(|p| p.start)
    }

    /// The encoded block: packed columns (`docs/format/chunk.md`) of the bucket starts
    /// and five value columns; empty for an empty block.
    pub fn to_bytes(&self) -> Vec<u8> {
        let starts: Vec<i64> = self.points.iter().map(|p| p.start).collect();
        let column = |f: fn(&RollupPoint) -> f64| -> Vec<u64> {
            self.points.iter().map(|p| f(p).to_bits()).collect()
        };
        let columns = [
            column(|p| p.count as f64),
            column(|p| p.sum),
            column(|p| p.min),
            column(|p| p.max),
            column(|p| p.last),
        ];
        let refs: [&[u64]; 5] = [
            &columns[0],
            &columns[1],
            &columns[2],
            &columns[3],
            &columns[4],
        ];
        // Starts increase (`push`) and a block holds at most 120 buckets, so encoding
        // cannot fail but for an empty block.
        encode_columns(&starts, &refs).unwrap_or_default()
    }

    /// The buckets of an encoded block (no bytes: no buckets, as in a block row that
    /// holds only its unfinished bucket).
    pub fn points(bytes: &[u8]) -> Result<Vec<RollupPoint>, ChunkError> {
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
        let (starts, columns) = decode_columns(bytes, 5, BLOCK_BUCKETS as usize)?;
        Ok(starts
            .iter()
            .enumerate()
            .map(|(i, &start)| {
                let v = |c: usize| f64::from_bits(columns[c][i]);
                RollupPoint {
                    start,
                    count: v(0) as u64,
                    sum: v(1),
                    min: v(2),
                    max: v(3),
                    last: v(4),
                }
            })
            .collect())
    }

    /// The buckets of a block as store format 4 wrote it: five bare XOR chunks. Only the
    /// upgrade to format 5 reads these.
    pub fn points_format_4(bytes: &[u8]) -> Result<Vec<RollupPoint>, ChunkError> {
        let columns = split_columns(bytes)?;
        let mut decoded: Vec<Vec<Sample>> = Vec::with_capacity(5);
        for column in columns {
            let mut it = ChunkIter::new(column);
            decoded.push(it.by_ref().collect());
            if let Some(e) = it.error() {
                return Err(e.clone());
            }
        }
        zip_columns(&decoded)
    }
}

/// The five length-prefixed columns of a block.
fn split_columns(mut b: &[u8]) -> Result<[&[u8]; 5], ChunkError> {
    let mut columns: [&[u8]; 5] = [&[]; 5];
    for column in &mut columns {
        let (len, n) =
            crate::store::get_uvarint(b).ok_or(ChunkError::Truncated { sample: 0, bit: 0 })?;
        let end = n
            .checked_add(usize::try_from(len).unwrap_or(usize::MAX))
            .filter(|e| *e <= b.len())
            .ok_or(ChunkError::Truncated { sample: 0, bit: 0 })?;
        *column = &b[n..end];
        b = &b[end..];
    }
    if !b.is_empty() {
        return Err(ChunkError::TrailingData { bit: 0 });
    }
    Ok(columns)
}

/// Buckets from decoded columns, which must agree on the starts.
fn zip_columns(columns: &[Vec<Sample>]) -> Result<Vec<RollupPoint>, ChunkError> {
    let n = columns[0].len();
    if columns.iter().any(|c| c.len() != n) {
        return Err(RAGGED);
    }
    (0..n)
        .map(|i| {
            let start = columns[0][i].timestamp_ms;
            if columns.iter().any(|c| c[i].timestamp_ms != start) {
                return Err(RAGGED);
            }
            Ok(RollupPoint {
                start,
                count: columns[0][i].value as u64,
                sum: columns[1][i].value,
                min: columns[2][i].value,
                max: columns[3][i].value,
                last: columns[4][i].value,
            })
        })
        .collect()
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
    /// A bucket holding one sample.
    pub(crate) fn first(start: i64, v: f64) -> Self {
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
}

/// The bucket being filled for one series at one resolution.
///
/// Held per series and resolution in the head, so it is kept small (48 bytes against
/// an `Option<RollupPoint>`'s 56): the count is 32 bits, and 0 means no bucket. Series'
/// timestamps strictly increase, so a bucket holds at most one sample per millisecond,
/// 86,400,000 for a day.
#[derive(Debug, Clone, Default)]
pub struct RollupState {
    start: i64,
    count: u32,
    sum: f64,
    min: f64,
    max: f64,
    last: f64,
}

impl RollupState {
    /// Adds a sample (in time order); returns the bucket it finished, if any.
    pub fn observe(&mut self, res_ms: i64, t: i64, v: f64) -> Option<RollupPoint> {
        if is_stale_nan(v) {
            return None;
        }
        let start = t.div_euclid(res_ms) * res_ms;
        if self.count > 0 && self.start == start {
            self.count = self.count.saturating_add(1);
            self.sum += v;
            self.min = self.min.min(v);
            self.max = self.max.max(v);
            self.last = v;
            return None;
        }
        let finished = self.current();
        self.set(RollupPoint::first(start, v));
        finished
    }

    /// Continues filling a checkpointed bucket (after a restart).
    pub fn restore(&mut self, point: RollupPoint) {
        if self.current().is_none_or(|c| c.start <= point.start) {
            self.set(point);
        }
    }

    /// The bucket being filled.
    pub fn current(&self) -> Option<RollupPoint> {
        (self.count > 0).then_some(RollupPoint {
            start: self.start,
            count: u64::from(self.count),
            sum: self.sum,
            min: self.min,
            max: self.max,
            last: self.last,
        })
    }

    fn set(&mut self, p: RollupPoint) {
        *self = Self {
            start: p.start,
            // A point read back from the store with more samples than a bucket can hold
            // is damaged; it keeps the most a state can count.
            count: u32::try_from(p.count).unwrap_or(u32::MAX),
            sum: p.sum,
            min: p.min,
            max: p.max,
            last: p.last,
        };
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
        assert_eq!(
            RollupBlock::points(&RollupBlock::new().to_bytes()),
            Ok(vec![])
        );
        assert!(RollupBlock::points(&[0]).is_err());
        let mut trailing = b.to_bytes();
        trailing.push(0);
        assert!(RollupBlock::points(&trailing).is_err());
        // Five columns or nothing: a block of other packed columns is refused.
        let starts = [0i64, 60_000];
        let ones = [1f64.to_bits(); 2];
        let four = encode_columns(&starts, &[&ones, &ones, &ones, &ones]).unwrap();
        assert!(RollupBlock::points(&four).is_err());
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
