//! What a checkpoint takes out of the head, and what it releases once the store has it.
//!
//! A checkpoint takes (under the head's write lock, briefly): copies of the series the
//! store does not know, of every open chunk that changed and of finished rollup buckets,
//! and a shared reference to every sealed chunk (sealed chunks never change, so they are
//! not copied). These go to SQLite without the lock. Only when that transaction has
//! committed does [`Head::release`] drop the sealed chunks and buckets it wrote, so a
//! query never finds a gap between memory and the store.

use super::Head;
use crate::index::SeriesId;
use crate::rollup::KEPT_MS;
use crate::store::{Checkpoint, ChunkData, ChunkRow};

/// Per series, how much of its memory a checkpoint copied.
#[derive(Debug, Default)]
pub(crate) struct HeadCheckpoint {
    /// The rows to write.
    pub batch: Checkpoint,
    /// Series id, sealed chunks copied, finished buckets copied, open chunk length copied.
    taken: Vec<(SeriesId, usize, usize, Option<usize>)>,
    /// How many entries of the unsaved-series list were copied.
    series_taken: usize,
}

impl Head {
    /// Copies what the store lacks.
    pub fn take_checkpoint(&self) -> HeadCheckpoint {
        let mut cp = HeadCheckpoint::default();
        for id in &self.unsaved_series {
            if let Some(s) = self.series.get(id) {
                cp.batch.series.push((*id, self.index.labels(&s.labels)));
            }
        }
        cp.series_taken = self.unsaved_series.len();
        // Sized once: the rows of a busy head's checkpoint run to megabytes, and a
        // doubling `Vec` would leave its discarded buffers as holes in the heap.
        let rows = self
            .series
            .values()
            .map(|s| s.sealed().len() + usize::from(s.open_dirty && !s.open.is_empty()))
            .sum();
        cp.batch.chunks.reserve_exact(rows);
        for (&id, s) in &self.series {
            let row = |span: Option<(i64, i64)>, sealed, data: ChunkData| {
                let (min_t, max_t) = span?;
                Some(ChunkRow {
                    series: id,
                    min_t,
                    max_t,
                    sealed,
                    data,
                })
            };
            // Sealed chunks are shared, not copied; the open one changes, so it is copied.
            cp.batch.chunks.extend(s.sealed().iter().filter_map(|c| {
                let span = c.min_time().zip(c.max_time());
                row(span, true, ChunkData::Shared(c.clone()))
            }));
            let open = if s.open_dirty && !s.open.is_empty() {
                let data = s.open.bytes(&self.arena).to_vec().into();
                let span = s.open.min_time(&self.arena).zip(s.open.max_time());
                cp.batch.chunks.extend(row(span, false, data));
                // The unfinished buckets too: the log segments that fed them go.
                for (state, res) in s.rollups.iter().zip(KEPT_MS) {
                    cp.batch
                        .current_rollups
                        .extend(state.current().map(|p| (id, res, p)));
                }
                Some(s.open.len())
            } else {
                None
            };
            cp.batch
                .rollups
                .extend(s.finished().iter().map(|(res, p)| (id, *res, *p)));
            let (sealed, finished) = (s.sealed().len(), s.finished().len());
            if sealed > 0 || finished > 0 || open.is_some() {
                cp.taken.push((id, sealed, finished, open));
            }
        }
        cp
    }

    /// Drops what a checkpoint wrote. Anything added since stays.
    pub fn release(&mut self, cp: &HeadCheckpoint) {
        self.unsaved_series
            .drain(..cp.series_taken.min(self.unsaved_series.len()));
        for &(id, sealed, finished, open) in &cp.taken {
            let Some(s) = self.series.get_mut(&id) else {
                continue;
            };
            // The open chunk is clean if nothing was appended to it since the copy and it
            // was not sealed meanwhile (a sealed copy is written next time anyway).
            let unchanged = s.sealed().len() == sealed && open == Some(s.open.len());
            if let Some(p) = s.pending.as_mut() {
                p.sealed.drain(..sealed.min(p.sealed.len()));
                p.sealed.shrink_to_fit();
                p.finished.drain(..finished.min(p.finished.len()));
                p.finished.shrink_to_fit();
            }
            s.tidy_pending();
            if unchanged {
                s.open_dirty = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tally_model::{Labels, Sample};

    use super::*;
    use crate::head::ChunkPolicy;

    #[test]
    fn a_checkpoint_shares_sealed_chunks_and_copies_the_open_one() {
        let mut head = Head::new(ChunkPolicy {
            max_samples: 4,
            range_ms: 1 << 40,
        });
        let labels = Labels::from_pairs([("__name__", "up")]).unwrap();
        head.insert_series(1, &labels, false);
        for t in 0..10 {
            assert!(head.append_sample(1, Sample::new(t * 1_000, t as f64)));
        }
        let cp = head.take_checkpoint();
        let s = head.get(1).unwrap();
        assert_eq!(cp.batch.chunks.len(), 3);
        for (row, chunk) in cp.batch.chunks.iter().zip(s.sealed()) {
            assert!(row.sealed);
            match &row.data {
                ChunkData::Shared(c) => assert!(std::sync::Arc::ptr_eq(c, chunk)),
                ChunkData::Owned(_) | ChunkData::Stored(_) => panic!("a sealed chunk was copied"),
            }
            assert_eq!(&*row.data, chunk.bytes());
        }
        let open = &cp.batch.chunks[2];
        assert!(!open.sealed);
        assert!(matches!(open.data, ChunkData::Owned(_)));
        assert_eq!(&*open.data, s.open.bytes(&head.arena));
        assert_eq!((open.min_t, open.max_t), (8_000, 9_000));
        head.release(&cp);
        assert!(head.get(1).unwrap().pending.is_none(), "freed once written");
        // The rows outlive the head's references.
        assert_eq!(
            crate::chunk::ChunkIter::new(&cp.batch.chunks[0].data).count(),
            4
        );
    }
}
