//! Adding samples to the head: staging a batch against the ordering rule, then applying
//! it once the write-ahead log holds it.

use hashbrown::HashMap;
use tally_model::{Labels, Sample};
use tally_storage::append::{check_order, Accepted};
use tally_storage::{AppendError, AppendStats, Rejection};

use super::{ChunkPolicy, Head, MemSeries};
use crate::index::SeriesId;
use crate::rollup::RESOLUTIONS_MS;

/// What the head accepts besides order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AppendLimits {
    /// Samples older than this (ms) are refused as too old.
    pub min_time: i64,
    /// The most series the head may hold.
    pub max_series: usize,
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
    /// The first refusals (at most a few, for error messages).
    pub errors: Vec<AppendError>,
}

impl Head {
    /// Checks a batch without changing the head: resolves label sets to ids (new ones get
    /// the next free ids), and applies the ordering rule against the head and against
    /// earlier samples of the same batch.
    pub fn stage(&self, batch: &[(Labels, Sample)], limits: AppendLimits) -> Staged {
        let mut staged = Staged::default();
        let mut fresh: HashMap<&Labels, SeriesId> = HashMap::new();
        let mut newest: HashMap<SeriesId, Sample> = HashMap::new();
        let mut next_id = self.next_id;
        for (labels, sample) in batch {
            let refuse = |staged: &mut Staged, reason, newest: Option<Sample>| {
                staged.stats.reject(reason);
                if staged.errors.len() < 8 {
                    staged.errors.push(AppendError {
                        reason,
                        labels: labels.clone(),
                        timestamp_ms: sample.timestamp_ms,
                        newest_ms: newest.map(|s| s.timestamp_ms),
                    });
                }
            };
            if !labels.contains("__name__") {
                refuse(&mut staged, Rejection::MissingName, None);
                continue;
            }
            if sample.timestamp_ms < limits.min_time {
                refuse(&mut staged, Rejection::TooOld, None);
                continue;
            }
            let id = match self.ids.get(labels).or_else(|| fresh.get(labels)) {
                Some(id) => *id,
                None => {
                    if self.series.len() + staged.new_series.len() >= limits.max_series {
                        refuse(&mut staged, Rejection::SeriesLimit, None);
                        continue;
                    }
                    let id = next_id;
                    next_id += 1;
                    fresh.insert(labels, id);
                    staged.new_series.push((id, labels.clone()));
                    id
                }
            };
            let last = newest
                .get(&id)
                .copied()
                .or_else(|| self.series.get(&id).and_then(|s| s.last));
            match check_order(last, *sample) {
                Ok(Accepted::Append) => {
                    newest.insert(id, *sample);
                    staged.samples.push((id, *sample));
                }
                Ok(Accepted::Repeat) => staged.stats.repeats += 1,
                Err(reason) => refuse(&mut staged, reason, last),
            }
        }
        // A new series whose every sample was refused is not created.
        staged.new_series.retain(|(id, _)| newest.contains_key(id));
        staged.stats.new_series = staged.new_series.len() as u64;
        staged.stats.appended = staged.samples.len() as u64;
        staged
    }

    /// Applies a staged batch (which the log already holds). Also used by replay, where
    /// samples the head already has are skipped by the same rule.
    pub fn apply(&mut self, staged: &Staged) {
        for (id, labels) in &staged.new_series {
            self.insert_series(*id, labels.clone(), false);
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
        if s.last
            .is_some_and(|l| l.timestamp_ms >= sample.timestamp_ms)
        {
            return false;
        }
        push(s, sample, policy);
        true
    }

    /// Seals open chunks whose newest sample is older than `before`: series that stopped
    /// being written do not keep an open chunk in memory for ever.
    pub fn seal_idle(&mut self, before: i64) {
        for s in self.series.values_mut() {
            if s.last.is_some_and(|l| l.timestamp_ms < before) && !s.open.is_empty() {
                let full = std::mem::take(&mut s.open);
                s.sealed.push(full);
                s.open_dirty = false;
            }
        }
    }
}

fn push(s: &mut MemSeries, sample: Sample, policy: ChunkPolicy) {
    let t = sample.timestamp_ms;
    if let Some(first) = s.open.min_time() {
        let other_window = t.div_euclid(policy.range_ms) != first.div_euclid(policy.range_ms);
        if s.open.len() >= policy.max_samples || other_window {
            let full = std::mem::take(&mut s.open);
            s.sealed.push(full);
        }
    }
    s.open.append(t, sample.value);
    s.open_dirty = true;
    s.last = Some(sample);
    s.first_t = s.first_t.min(t);
    for (state, res) in s.rollups.iter_mut().zip(RESOLUTIONS_MS) {
        if let Some(point) = state.observe(res, t, sample.value) {
            s.finished.push((res, point));
        }
    }
}
