//! [`Head`]: the in-memory part of the database — every series' identity and index
//! entries, its open chunk, chunks sealed since the last checkpoint, and the rollup
//! buckets being filled.
//!
//! The head is owned by the [`Db`](crate::Db) behind one `RwLock`: appenders take it
//! for writing once per committed batch, queriers for reading while they decode. Its
//! contents since the last checkpoint are also in the write-ahead log, which is what
//! replay rebuilds it from.
//!
//! Split by concern: `head/append.rs` (adding samples, cutting chunks), `head/read.rs`
//! (selecting and decoding), `head/checkpoint.rs` (what a checkpoint takes out).

mod append;
mod checkpoint;
mod read;

use std::hash::BuildHasher as _;

use hashbrown::HashMap;
use tally_model::{Labels, Sample};

use crate::chunk::XorChunk;
use crate::index::{Index, SeriesId};
use crate::rollup::{RollupPoint, RollupState, KEPT_MS};

pub(crate) use append::{AppendLimits, Batch, SeriesKey};

/// How the head cuts chunks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkPolicy {
    /// A chunk is sealed once it holds this many samples.
    pub max_samples: usize,
    /// ... or when a sample falls in another window of this length (ms) than the
    /// chunk's first sample, so chunks line up with retention and rollup boundaries.
    pub range_ms: i64,
}

/// One series held in memory.
#[derive(Debug)]
pub(crate) struct MemSeries {
    pub labels: Labels,
    /// The chunk being appended to (possibly empty).
    pub open: XorChunk,
    /// Whether `open` changed since the last checkpoint wrote it.
    pub open_dirty: bool,
    /// Complete chunks not yet written to the store, oldest first. Shared with the
    /// checkpoint that writes them (no copy), and never changed.
    pub sealed: Vec<std::sync::Arc<XorChunk>>,
    /// The newest sample, for the ordering rule.
    pub last: Option<Sample>,
    /// The oldest sample time the database holds for this series (store included).
    pub first_t: i64,
    /// The rollup buckets being filled, one per resolution.
    pub rollups: [RollupState; KEPT_MS.len()],
    /// Finished buckets not yet written: resolution (ms) and point.
    pub finished: Vec<(i64, RollupPoint)>,
}

impl MemSeries {
    fn new(labels: Labels) -> Self {
        Self {
            labels,
            open: XorChunk::new(),
            open_dirty: false,
            sealed: Vec::new(),
            last: None,
            first_t: i64::MAX,
            rollups: Default::default(),
            finished: Vec::new(),
        }
    }

    /// The oldest sample time held in memory chunks; store rows at or after it are
    /// copies of what memory holds (a checkpointed open chunk) and are skipped by reads.
    pub fn mem_min_t(&self) -> Option<i64> {
        self.sealed
            .first()
            .and_then(|c| c.min_time())
            .or_else(|| self.open.min_time())
    }

    /// Bytes of heap this series holds (chunks, labels, pending rollups).
    pub fn heap_size(&self) -> usize {
        self.labels.heap_size()
            + self.open.heap_size()
            + self
                .sealed
                .iter()
                .map(|c| c.heap_size() + 16 + std::mem::size_of::<XorChunk>())
                .sum::<usize>()
            + self.sealed.capacity() * std::mem::size_of::<std::sync::Arc<XorChunk>>()
            + self.finished.capacity() * std::mem::size_of::<(i64, RollupPoint)>()
    }
}

/// Every series in memory, by id and by label set, and the inverted index.
///
/// Memory per series matters (issue 5: at most 1 KiB resident per active series), so a
/// label set is held once, in its [`MemSeries`]: the by-label table holds only ids,
/// hashed by the series' labels. Series are boxed so the by-id table's spare slots cost
/// a pointer, not a whole `MemSeries`.
pub(crate) struct Head {
    ids: hashbrown::HashTable<SeriesId>,
    hasher: hashbrown::DefaultHashBuilder,
    series: HashMap<SeriesId, Box<MemSeries>>,
    index: Index,
    next_id: SeriesId,
    /// Series created since the last checkpoint (the store does not have them yet).
    unsaved_series: Vec<SeriesId>,
    policy: ChunkPolicy,
    /// The newest sample time of any series (`i64::MIN` when empty): idleness is
    /// measured against it, so backfilled data is not cut into small chunks.
    newest_t: i64,
}

impl Head {
    pub fn new(policy: ChunkPolicy) -> Self {
        Self {
            ids: hashbrown::HashTable::new(),
            hasher: hashbrown::DefaultHashBuilder::default(),
            series: HashMap::new(),
            index: Index::new(),
            next_id: 1,
            unsaved_series: Vec::new(),
            policy,
            newest_t: i64::MIN,
        }
    }

    /// The newest sample time of any series (`i64::MIN` when there is none).
    pub fn newest_time(&self) -> i64 {
        self.newest_t
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// The inverted index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// A series by id.
    pub fn get(&self, id: SeriesId) -> Option<&MemSeries> {
        self.series.get(&id).map(|s| &**s)
    }

    /// The id of a label set, if the head holds it.
    pub fn id_of(&self, labels: &Labels) -> Option<SeriesId> {
        let hash = self.hasher.hash_one(labels);
        let series = &self.series;
        self.ids
            .find(hash, |id| {
                series.get(id).is_some_and(|s| s.labels == *labels)
            })
            .copied()
    }

    /// Adds a series known to the store or the log. `saved` says whether the store has
    /// it already. Ids must arrive in increasing order; a repeat is ignored.
    pub fn insert_series(&mut self, id: SeriesId, labels: Labels, saved: bool) {
        if self.series.contains_key(&id) || self.id_of(&labels).is_some() {
            return;
        }
        self.index.add(id, &labels);
        let hash = self.hasher.hash_one(&labels);
        self.series.insert(id, Box::new(MemSeries::new(labels)));
        let (series, hasher) = (&self.series, &self.hasher);
        self.ids.insert_unique(hash, id, |id| {
            series.get(id).map_or(0, |s| hasher.hash_one(&s.labels))
        });
        self.next_id = self.next_id.max(id + 1);
        if !saved {
            self.unsaved_series.push(id);
        }
    }

    /// Forgets a series whose data retention removed entirely.
    pub fn remove_series(&mut self, id: SeriesId) {
        if let Some(s) = self.series.remove(&id) {
            self.index.remove(id, &s.labels);
            let hash = self.hasher.hash_one(&s.labels);
            if let Ok(entry) = self.ids.find_entry(hash, |other| *other == id) {
                entry.remove();
            }
        }
    }

    /// Records, after loading from the store, the span of a series' stored samples and
    /// its newest stored sample (which bounds what may be appended next).
    pub fn note_stored(&mut self, id: SeriesId, min_t: i64, max_t: i64, last: Option<Sample>) {
        self.newest_t = self.newest_t.max(max_t);
        if let Some(s) = self.series.get_mut(&id) {
            s.first_t = s.first_t.min(min_t);
            if s.last.is_none_or(|l| l.timestamp_ms < max_t) {
                s.last = last.or(Some(Sample::new(max_t, f64::NAN)));
            }
        }
    }

    /// Restores a checkpointed unfinished rollup bucket.
    pub fn restore_rollup(&mut self, id: SeriesId, res_ms: i64, point: RollupPoint) {
        if let Some(s) = self.series.get_mut(&id) {
            if let Some(i) = KEPT_MS.iter().position(|r| *r == res_ms) {
                s.rollups[i].restore(point);
            }
        }
    }

    /// Retention moved the horizon: no series holds data before `horizon` any more.
    pub fn forget_before(&mut self, horizon: i64) {
        for s in self.series.values_mut() {
            s.first_t = s.first_t.max(horizon);
            s.sealed
                .retain(|c| c.max_time().is_some_and(|t| t >= horizon));
        }
    }

    /// For each selected series, the rollup points memory holds at `res_ms` (unwritten
    /// finished buckets and the current one) with starts in `[mint, maxt]`; none at a
    /// resolution not kept as samples arrive.
    pub fn rollup_reads(
        &self,
        matchers: &[tally_storage::Matcher],
        res_ms: i64,
        mint: i64,
        maxt: i64,
    ) -> Vec<(SeriesId, Labels, Vec<RollupPoint>)> {
        let kept = KEPT_MS.iter().position(|r| *r == res_ms);
        let mut out = Vec::new();
        for id in self.index.select(matchers) {
            let Some(s) = self.series.get(&id) else {
                continue;
            };
            let Some(i) = kept else {
                out.push((id, s.labels.clone(), Vec::new()));
                continue;
            };
            let mut points: Vec<RollupPoint> = s
                .finished
                .iter()
                .filter(|(r, _)| *r == res_ms)
                .map(|(_, p)| *p)
                .chain(s.rollups[i].current().copied())
                .filter(|p| p.start >= mint && p.start <= maxt)
                .collect();
            points.sort_by_key(|p| p.start);
            out.push((id, s.labels.clone(), points));
        }
        out
    }

    /// Reopens a checkpointed partial chunk as the series' open chunk.
    pub fn reopen(&mut self, id: SeriesId, chunk: XorChunk) {
        if let Some(s) = self.series.get_mut(&id) {
            if let Some(min) = chunk.min_time() {
                s.first_t = s.first_t.min(min);
            }
            s.last = chunk.last();
            s.open = chunk;
            s.open_dirty = false;
        }
    }

    /// Bytes of heap the series hold (chunks and labels; maps and index excluded).
    pub fn series_heap_size(&self) -> usize {
        self.series
            .values()
            .map(|s| s.heap_size() + std::mem::size_of::<MemSeries>())
            .sum()
    }

    /// Number of samples in memory chunks.
    pub fn samples_in_memory(&self) -> usize {
        self.series
            .values()
            .map(|s| s.open.len() + s.sealed.iter().map(|c| c.len()).sum::<usize>())
            .sum()
    }
}
