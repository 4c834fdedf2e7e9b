//! Adding samples to the head: staging a batch against the ordering rule, then applying
//! it once the write-ahead log holds it.

use hashbrown::HashMap;
use tally_model::{Labels, Sample};
use tally_storage::append::{check_order, Accepted};
use tally_storage::{AppendStats, Rejection};

use super::{ChunkArena, ChunkPolicy, Head, MemSeries};
use crate::index::SeriesId;
use crate::rollup::KEPT_MS;

/// What the head accepts besides order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AppendLimits {
    /// Samples older than this (ms) are refused as too old.
    pub min_time: i64,
    /// The most series the head may hold.
    pub max_series: usize,
}

/// A series as an appender refers to it: by the head's id when the head had it when the
/// sample was appended, else by its index in the batch's list of new label sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SeriesKey {
    /// A series the head holds.
    Id(SeriesId),
    /// The `n`th new label set of the batch.
    New(u32),
}

/// A batch as an appender collected it: samples already checked against each other and
/// against the head at append time.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Label sets the head did not have, indexed by [`SeriesKey::New`].
    pub new_labels: Vec<Labels>,
    /// Samples in arrival order.
    pub samples: Vec<(SeriesKey, Sample)>,
}

/// A batch checked against the head, ready for the log and then [`Head::apply`].
#[derive(Debug, Default)]
pub(crate) struct Staged {
    /// Series the batch creates, with the ids they will get.
    pub new_series: Vec<(SeriesId, Labels)>,
    /// Accepted samples in arrival order.
    pub samples: Vec<(SeriesId, Sample)>,
    /// Counts, refusals included.
    pub stats: AppendStats,
}

impl Head {
    /// The id and newest sample of a label set, if the head holds it.
    pub fn lookup(&self, labels: &Labels) -> Option<(SeriesId, Option<Sample>)> {
        let id = self.id_of(labels)?;
        Some((id, self.series.get(&id).and_then(|s| s.last)))
    }

    /// The id and newest sample of the series whose label set is `pairs` (sorted by
    /// name, names unique, values non-empty), if the head holds it. Builds nothing.
    pub fn lookup_pairs(&self, pairs: &[(&str, &str)]) -> Option<(SeriesId, Option<Sample>)> {
        let hash = super::pairs_hash(&self.hasher, pairs.iter().copied());
        let (series, index) = (&self.series.series, &self.index);
        let slot = self.by_labels.find(hash, |slot| {
            index.same_pairs(&series[*slot as usize].labels, pairs.iter().copied())
        })?;
        let s = &series[*slot as usize];
        Some((self.series.ids[*slot as usize], s.last))
    }

    /// Checks a batch again under the write lock, without changing the head: another
    /// batch may have committed since its samples were appended. New label sets get the
    /// next free ids (or the id a concurrent batch gave them); the ordering rule is
    /// applied against the head and against earlier samples of the batch. The label sets
    /// of the series the batch creates are moved out of `batch` (not copied: they are
    /// what the head will keep).
    pub fn stage(&self, batch: &mut Batch, limits: AppendLimits) -> Staged {
        let mut staged = Staged::default();
        let mut next_id = self.next_id;
        // Resolve the new label sets first.
        let mut resolved: Vec<Option<SeriesId>> = Vec::with_capacity(batch.new_labels.len());
        let mut fresh = 0usize;
        for labels in &batch.new_labels {
            let id = match self.id_of(labels) {
                Some(id) => Some(id),
                None if self.series.len() + fresh >= limits.max_series => None,
                None => {
                    fresh += 1;
                    next_id += 1;
                    Some(next_id - 1)
                }
            };
            resolved.push(id);
        }
        let mut newest: HashMap<SeriesId, Sample> = HashMap::new();
        let mut used = vec![false; batch.new_labels.len()];
        for &(key, sample) in &batch.samples {
            let id = match key {
                SeriesKey::Id(id) => id,
                SeriesKey::New(n) => match resolved.get(n as usize).copied().flatten() {
                    Some(id) => id,
                    None => {
                        staged.stats.reject(Rejection::SeriesLimit);
                        continue;
                    }
                },
            };
            if sample.timestamp_ms < limits.min_time {
                staged.stats.reject(Rejection::TooOld);
                continue;
            }
            let last = match newest.get(&id) {
                Some(s) => Some(*s),
                None => self.series.get(&id).and_then(|s| s.last),
            };
            match check_order(last, sample) {
                Ok(Accepted::Append) => {
                    newest.insert(id, sample);
                    staged.samples.push((id, sample));
                    if let SeriesKey::New(n) = key {
                        used[n as usize] = true;
                    }
                }
                Ok(Accepted::Repeat) => staged.stats.repeats += 1,
                Err(reason) => staged.stats.reject(reason),
            }
        }
        // A new series none of whose samples was accepted is not created.
        for ((labels, id), used) in batch.new_labels.iter_mut().zip(&resolved).zip(used) {
            if let (Some(id), true) = (id, used) {
                if !self.series.contains_key(id) {
                    staged.new_series.push((*id, std::mem::take(labels)));
                }
            }
        }
        staged.stats.new_series = staged.new_series.len() as u64;
        staged.stats.appended = staged.samples.len() as u64;
        staged
    }

    /// Applies a staged batch (which the log already holds). Also used by replay, where
    /// samples the head already has are skipped by the same rule.
    pub fn apply(&mut self, staged: Staged) {
        for (id, labels) in staged.new_series {
            self.insert_series(id, &labels, false);
        }
        for &(id, sample) in &staged.samples {
            self.append_sample(id, sample);
        }
    }

    /// Appends one sample to a series if it is newer than the series' newest; returns
    /// whether it was stored.
    pub fn append_sample(&mut self, id: SeriesId, sample: Sample) -> bool {
        let policy = self.policy;
        let Some(s) = self.series.get_mut(&id) else {
            return false;
        };
        let arena = &mut self.arena;
        if s.last
            .is_some_and(|l| l.timestamp_ms >= sample.timestamp_ms)
        {
            return false;
        }
        push(s, arena, sample, policy);
        self.newest_t = self.newest_t.max(sample.timestamp_ms);
        true
    }

    /// Seals open chunks whose newest sample is older than `before`: series that stopped
    /// being written do not keep an open chunk in memory for ever.
    pub fn seal_idle(&mut self, before: i64) {
        for s in self.series.values_mut() {
            if s.last.is_some_and(|l| l.timestamp_ms < before) && !s.open.is_empty() {
                let full = s.open.cut(&mut self.arena);
                push_sealed(s, full);
                s.open_dirty = false;
            }
        }
    }
}

/// Adds a cut chunk to the series' sealed list, growing the list 1, 2, 4, ... slots
/// rather than `Vec`'s first step of 4: most series hold one sealed chunk between
/// checkpoints.
fn push_sealed(s: &mut MemSeries, chunk: crate::chunk::XorChunk) {
    let sealed = &mut s.pending_mut().sealed;
    if sealed.len() == sealed.capacity() {
        sealed.reserve_exact(sealed.len().max(1));
    }
    sealed.push(std::sync::Arc::new(chunk));
}

fn push(s: &mut MemSeries, arena: &mut ChunkArena, sample: Sample, policy: ChunkPolicy) {
    let t = sample.timestamp_ms;
    // An open chunk's samples share one window (this rule cuts it when that changes), so
    // comparing with the newest sample's window is comparing with the first's; the newest
    // time is in the encoder's state, while the first must be decoded from the header.
    if let Some(newest) = s.open.max_time() {
        let other_window = t.div_euclid(policy.range_ms) != newest.div_euclid(policy.range_ms);
        if s.open.len() >= policy.max_samples || other_window {
            // The sealed copy, freed at the next checkpoint, is an exact-size heap
            // allocation; the open chunk starts again in the arena's smallest slot.
            let full = s.open.cut(arena);
            push_sealed(s, full);
        }
    }
    s.open.append(arena, t, sample.value);
    s.open_dirty = true;
    s.last = Some(sample);
    s.first_t = s.first_t.min(t);
    for (state, res) in s.rollups.iter_mut().zip(KEPT_MS) {
        if let Some(point) = state.observe(res, t, sample.value) {
            // Usually the only finished bucket before the next checkpoint: room for one
            // (56 bytes), not `Vec`'s first step of four.
            let finished = &mut s.pending.get_or_insert_with(Box::default).finished;
            if finished.len() == finished.capacity() {
                finished.reserve_exact(finished.len().max(1));
            }
            finished.push((res, point));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_found_by_label_set_and_by_borrowed_pairs_after_removals() {
        let mut head = Head::new(ChunkPolicy {
            max_samples: 4,
            range_ms: 1 << 40,
        });
        let sets: Vec<Labels> = (0..5)
            .map(|i| Labels::from_pairs([("__name__", "up"), ("i", &i.to_string())]).unwrap())
            .collect();
        for (id, labels) in (1..).zip(&sets) {
            head.insert_series(id, labels, false);
            assert!(head.append_sample(id, Sample::new(id as i64, 0.0)));
        }
        // Removing the first moves the last into its place; removing the last moves none.
        head.remove_series(1);
        head.remove_series(4);
        head.remove_series(9);
        assert_eq!(head.len(), 3);
        for (id, labels) in (1..).zip(&sets) {
            let pairs: Vec<(&str, &str)> = labels.iter().collect();
            let kept = ![1, 4].contains(&id);
            assert_eq!(head.id_of(labels), kept.then_some(id), "{labels}");
            let found = head.lookup_pairs(&pairs);
            assert_eq!(
                found,
                kept.then_some((id, Some(Sample::new(id as i64, 0.0))))
            );
            assert_eq!(
                head.get(id).map(|s| head.index().labels(&s.labels)),
                kept.then(|| labels.clone())
            );
        }
        assert_eq!(head.lookup_pairs(&[("__name__", "up")]), None);
        assert_eq!(
            head.lookup_pairs(&[("__name__", "up"), ("i", "0"), ("j", "1")]),
            None
        );
    }

    #[test]
    fn sealed_chunks_are_kept_in_a_list_grown_one_power_of_two_at_a_time() {
        let policy = ChunkPolicy {
            max_samples: 4,
            range_ms: 1 << 40,
        };
        let mut head = Head::new(policy);
        let labels = Labels::from_pairs([("__name__", "up")]).unwrap();
        head.insert_series(1, &labels, false);
        let mut capacities = Vec::new();
        for t in 0..40 {
            assert!(head.append_sample(1, Sample::new(t * 1_000, t as f64)));
            let s = head.get(1).unwrap();
            let capacity = s.pending.as_ref().map_or(0, |p| p.sealed.capacity());
            if capacities.last() != Some(&capacity) {
                capacities.push(capacity);
            }
        }
        assert_eq!(capacities, [0, 1, 2, 4, 8, 16]);
        let s = head.get(1).unwrap();
        let open = crate::chunk::ChunkIter::new(s.open.bytes(&head.arena));
        let all: Vec<_> = s
            .sealed()
            .iter()
            .flat_map(|c| c.iter())
            .chain(open)
            .map(|p| p.timestamp_ms)
            .collect();
        assert_eq!(all, (0..40).map(|t| t * 1_000).collect::<Vec<_>>());
        assert!(s.sealed().iter().all(|c| c.heap_size() == c.bytes().len()));
    }
}
