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
mod arena;
mod checkpoint;
mod open_chunk;
mod read;

use std::hash::BuildHasher as _;
use std::sync::Arc;

use hashbrown::HashMap;
use tally_model::{Labels, Sample};

use crate::chunk::XorChunk;
use crate::index::{Index, SeriesId, SeriesLabels};
use crate::rollup::{RollupPoint, RollupState, KEPT_MS};
use arena::ChunkArena;
use open_chunk::OpenChunk;

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
    /// The series' label set, as numbers of pairs in the head's index.
    pub labels: SeriesLabels,
    /// The chunk being appended to (possibly empty); its bytes are in the head's arena.
    pub open: OpenChunk,
    /// Whether `open` changed since the last checkpoint wrote it.
    pub open_dirty: bool,
    /// Sealed chunks and finished buckets the store does not have yet, if any.
    pub pending: Option<Box<Pending>>,
    /// The newest sample, for the ordering rule.
    pub last: Option<Sample>,
    /// The oldest sample time the database holds for this series (store included).
    pub first_t: i64,
    /// The rollup buckets being filled, one per resolution.
    pub rollups: [RollupState; KEPT_MS.len()],
}

/// What a series holds for the next checkpoint besides its open chunk.
///
/// Boxed, and absent from most series most of the time: a chunk is sealed every 120
/// samples and a bucket finishes once an hour, while a checkpoint runs every minute. So
/// every series pays 8 bytes for it instead of two 24-byte `Vec`s (issue 5's 1 KiB per
/// series).
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// Complete chunks not yet written to the store, oldest first. Shared with the
    /// checkpoint that writes them (no copy), and never changed.
    pub sealed: Vec<Arc<XorChunk>>,
    /// Finished buckets not yet written: resolution (ms) and point.
    pub finished: Vec<(i64, RollupPoint)>,
}

impl MemSeries {
    fn new(labels: SeriesLabels) -> Self {
        Self {
            labels,
            open: OpenChunk::default(),
            open_dirty: false,
            pending: None,
            last: None,
            first_t: i64::MAX,
            rollups: Default::default(),
        }
    }

    /// Sealed chunks not yet in the store, oldest first.
    pub fn sealed(&self) -> &[Arc<XorChunk>] {
        self.pending.as_ref().map_or(&[], |p| &p.sealed)
    }

    /// Finished buckets not yet in the store.
    pub fn finished(&self) -> &[(i64, RollupPoint)] {
        self.pending.as_ref().map_or(&[], |p| &p.finished)
    }

    /// The pending lists, to add to.
    fn pending_mut(&mut self) -> &mut Pending {
        self.pending.get_or_insert_with(Box::default)
    }

    /// Frees the pending lists once both are empty.
    fn tidy_pending(&mut self) {
        if self
            .pending
            .as_ref()
            .is_some_and(|p| p.sealed.is_empty() && p.finished.is_empty())
        {
            self.pending = None;
        }
    }

    /// The oldest sample time held in memory chunks; store rows at or after it are
    /// copies of what memory holds (a checkpointed open chunk) and are skipped by reads.
    pub fn mem_min_t(&self, arena: &ChunkArena) -> Option<i64> {
        self.sealed()
            .first()
            .and_then(|c| c.min_time())
            .or_else(|| self.open.min_time(arena))
    }

    /// Bytes of heap this series holds (sealed chunks, label pair numbers, pending
    /// rollups; the open chunk is in the head's arena and the label strings in its index).
    pub fn heap_size(&self) -> usize {
        let pending = self.pending.as_ref().map_or(0, |p| {
            std::mem::size_of::<Pending>()
                + p.sealed.capacity() * std::mem::size_of::<Arc<XorChunk>>()
                + p.finished.capacity() * std::mem::size_of::<(i64, RollupPoint)>()
        });
        self.labels.heap_size()
            + self
                .sealed()
                .iter()
                .map(|c| c.heap_size() + 16 + std::mem::size_of::<XorChunk>())
                .sum::<usize>()
            + pending
    }
}

/// Every series in memory, stored densely: the [`MemSeries`] themselves in one `Vec`
/// (removal swaps the last series into the hole), their ids beside them, and a map from
/// id to position.
///
/// Why not a box per series: issue 5 asks for at most 1 KiB resident per active series,
/// and what costs resident memory is not only the live bytes but the pages they pin.
/// Ten thousand 288-byte boxes, allocated while requests' short-lived buffers came and
/// went, are scattered over the allocator's small-object heap and keep its pages
/// resident after the buffers around them are freed. One `Vec` is one large allocation
/// (mapped on its own once it is large, grown by `mremap` without copying); its unused
/// capacity is never touched, so it is not resident either.
///
/// The methods mirror a `HashMap<SeriesId, MemSeries>`'s. Lookups by id cost one hash
/// probe, as before.
#[derive(Debug, Default)]
pub(crate) struct SeriesTable {
    series: Vec<MemSeries>,
    /// `ids[i]` is the id of `series[i]`.
    ids: Vec<SeriesId>,
    slots: HashMap<SeriesId, u32>,
}

impl SeriesTable {
    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether the table holds `id`.
    pub fn contains_key(&self, id: &SeriesId) -> bool {
        self.slots.contains_key(id)
    }

    /// The position of `id`, if held.
    fn slot(&self, id: &SeriesId) -> Option<usize> {
        self.slots.get(id).map(|s| *s as usize)
    }

    /// A series by id.
    pub fn get(&self, id: &SeriesId) -> Option<&MemSeries> {
        self.series.get(self.slot(id)?)
    }

    /// A series by id, to change.
    pub fn get_mut(&mut self, id: &SeriesId) -> Option<&mut MemSeries> {
        let slot = self.slot(id)?;
        self.series.get_mut(slot)
    }

    /// Every series, in no particular order.
    pub fn values(&self) -> std::slice::Iter<'_, MemSeries> {
        self.series.iter()
    }

    /// Every series, to change.
    pub fn values_mut(&mut self) -> std::slice::IterMut<'_, MemSeries> {
        self.series.iter_mut()
    }

    /// Adds a series the table does not hold; returns its position.
    fn push(&mut self, id: SeriesId, series: MemSeries) -> u32 {
        let slot = u32::try_from(self.series.len()).unwrap_or(u32::MAX);
        self.series.push(series);
        self.ids.push(id);
        self.slots.insert(id, slot);
        slot
    }

    /// Removes a series. Returns it, and when another series moved into its position,
    /// that series' id (its old position was the last one).
    fn swap_remove(&mut self, id: SeriesId) -> Option<(MemSeries, Option<SeriesId>)> {
        let slot = self.slots.remove(&id)? as usize;
        let removed = self.series.swap_remove(slot);
        self.ids.swap_remove(slot);
        let moved = self.ids.get(slot).copied();
        if let Some(moved) = moved {
            self.slots.insert(moved, slot as u32);
        }
        Some((removed, moved))
    }
}

impl<'a> IntoIterator for &'a SeriesTable {
    type Item = (&'a SeriesId, &'a MemSeries);
    type IntoIter = std::iter::Zip<std::slice::Iter<'a, SeriesId>, std::slice::Iter<'a, MemSeries>>;
    fn into_iter(self) -> Self::IntoIter {
        self.ids.iter().zip(&self.series)
    }
}

/// The hash of a label set by its pairs, the same whether the pairs come from a
/// [`Labels`] or are borrowed from a request: names and values each followed by `0xff`,
/// a byte UTF-8 never contains.
pub(crate) fn pairs_hash<'a>(
    hasher: &hashbrown::DefaultHashBuilder,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> u64 {
    use std::hash::Hasher as _;
    let mut h = hasher.build_hasher();
    for (name, value) in pairs {
        h.write(name.as_bytes());
        h.write_u8(0xff);
        h.write(value.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

/// Every series in memory, by id and by label set, and the inverted index.
///
/// Memory per series matters (issue 5: at most 1 KiB resident per active series), so a
/// series' labels are numbers of pairs whose strings the index holds once
/// ([`SeriesLabels`]), and the by-label table holds only positions in the
/// [`SeriesTable`], hashed by the series' label pairs ([`pairs_hash`]).
pub(crate) struct Head {
    by_labels: hashbrown::HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
    series: SeriesTable,
    /// The bytes of every series' open chunk.
    arena: ChunkArena,
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
            by_labels: hashbrown::HashTable::new(),
            hasher: hashbrown::DefaultHashBuilder::default(),
            series: SeriesTable::default(),
            arena: ChunkArena::default(),
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
        self.series.get(&id)
    }

    /// The id of a label set, if the head holds it.
    pub fn id_of(&self, labels: &Labels) -> Option<SeriesId> {
        let hash = pairs_hash(&self.hasher, labels.iter());
        let (series, index) = (&self.series.series, &self.index);
        let slot = self.by_labels.find(hash, |slot| {
            index.same_pairs(&series[*slot as usize].labels, labels.iter())
        })?;
        Some(self.series.ids[*slot as usize])
    }

    /// Adds a series known to the store or the log. `saved` says whether the store has
    /// it already. Ids must arrive in increasing order; a repeat is ignored.
    pub fn insert_series(&mut self, id: SeriesId, labels: &Labels, saved: bool) {
        if self.series.contains_key(&id) || self.id_of(labels).is_some() {
            return;
        }
        let held = self.index.add(id, labels);
        let hash = pairs_hash(&self.hasher, labels.iter());
        let slot = self.series.push(id, MemSeries::new(held));
        let (series, hasher, index) = (&self.series.series, &self.hasher, &self.index);
        self.by_labels.insert_unique(hash, slot, |slot| {
            pairs_hash(hasher, index.pairs_of(&series[*slot as usize].labels))
        });
        self.next_id = self.next_id.max(id + 1);
        if !saved {
            self.unsaved_series.push(id);
        }
    }

    /// Forgets a series whose data retention removed entirely.
    pub fn remove_series(&mut self, id: SeriesId) {
        let Some(slot) = self.series.slot(&id) else {
            return;
        };
        let labels = &self.series.series[slot].labels;
        let hash = pairs_hash(&self.hasher, self.index.pairs_of(labels));
        if let Ok(entry) = self.by_labels.find_entry(hash, |s| *s as usize == slot) {
            entry.remove();
        }
        let last = self.series.len() - 1;
        let Some((mut removed, moved)) = self.series.swap_remove(id) else {
            return;
        };
        removed.open.release(&mut self.arena);
        self.index.remove(id, &removed.labels);
        if moved.is_some() {
            // The last series now sits where the removed one was.
            let labels = &self.series.series[slot].labels;
            let hash = pairs_hash(&self.hasher, self.index.pairs_of(labels));
            if let Ok(mut entry) = self.by_labels.find_entry(hash, |s| *s as usize == last) {
                *entry.get_mut() = slot as u32;
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
            if let Some(p) = s.pending.as_mut() {
                p.sealed
                    .retain(|c| c.max_time().is_some_and(|t| t >= horizon));
            }
            s.tidy_pending();
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
                out.push((id, self.index.labels(&s.labels), Vec::new()));
                continue;
            };
            let mut points: Vec<RollupPoint> = s
                .finished()
                .iter()
                .filter(|(r, _)| *r == res_ms)
                .map(|(_, p)| *p)
                .chain(s.rollups[i].current())
                .filter(|p| p.start >= mint && p.start <= maxt)
                .collect();
            points.sort_by_key(|p| p.start);
            out.push((id, self.index.labels(&s.labels), points));
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
            s.open.reopen(&mut self.arena, chunk);
            s.open_dirty = false;
        }
    }

    /// Bytes of heap the series hold (chunks and labels; maps and index excluded).
    pub fn series_heap_size(&self) -> usize {
        self.arena.heap_size()
            + self
                .series
                .values()
                .map(|s| s.heap_size() + std::mem::size_of::<MemSeries>())
                .sum::<usize>()
    }

    /// Number of samples in memory chunks.
    pub fn samples_in_memory(&self) -> usize {
        self.series
            .values()
            .map(|s| s.open.len() + s.sealed().iter().map(|c| c.len()).sum::<usize>())
            .sum()
    }
}
