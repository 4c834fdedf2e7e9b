//! Reading the head: which series a selector picks, and their samples in memory.

use std::collections::BTreeSet;

use tally_model::{Labels, Sample};
use tally_storage::Matcher;

use super::{Head, MemSeries};
use crate::chunk::decode_range;
use crate::index::SeriesId;

/// One selected series: its identity, the samples memory holds in the range, and from
/// where on memory is authoritative (earlier samples come from the store).
#[derive(Debug)]
pub(crate) struct MemRead {
    pub id: SeriesId,
    pub labels: Labels,
    /// Samples in range from memory chunks, in time order.
    pub samples: Vec<Sample>,
    /// The oldest time memory holds for the series; the store is read below it. `None`:
    /// memory holds nothing, read the store for the whole range.
    pub mem_min_t: Option<i64>,
}

impl MemSeries {
    fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        match self.last {
            Some(last) => self.first_t <= maxt && last.timestamp_ms >= mint,
            None => false,
        }
    }
}

impl Head {
    /// Ids of the series matching every matcher that have data in `[mint, maxt]`.
    fn selected(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesId> {
        self.index
            .select(matchers)
            .into_iter()
            .filter(|id| self.series.get(id).is_some_and(|s| s.overlaps(mint, maxt)))
            .collect()
    }

    /// The selected series with their in-memory samples. Corrupt memory chunks cannot
    /// happen (the head encoded them); a decode error would only shorten the result.
    pub fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        with_samples: bool,
    ) -> Vec<MemRead> {
        let mut out = Vec::new();
        for id in self.selected(matchers, mint, maxt) {
            let Some(s) = self.series.get(&id) else {
                continue;
            };
            let mut samples = Vec::new();
            if with_samples {
                let sealed = s
                    .sealed()
                    .iter()
                    .map(|c| (c.min_time(), c.max_time(), c.bytes()));
                let open = (
                    s.open.min_time(&self.arena),
                    s.open.max_time(),
                    s.open.bytes(&self.arena),
                );
                for (lo, hi, bytes) in sealed.chain([open]) {
                    let (Some(lo), Some(hi)) = (lo, hi) else {
                        continue;
                    };
                    if hi >= mint && lo <= maxt {
                        // The head wrote these bytes; an error cannot occur.
                        let _ = decode_range(bytes, mint, maxt, &mut samples);
                    }
                }
            }
            out.push(MemRead {
                id,
                labels: self.index.labels(&s.labels),
                samples,
                mem_min_t: s.mem_min_t(&self.arena),
            });
        }
        out
    }

    /// Label names of the selected series, sorted.
    pub fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<String> {
        let mut names = BTreeSet::new();
        if matchers.is_empty() && self.covers_all(mint, maxt) {
            names.extend(self.index.names().map(str::to_owned));
        } else {
            for id in self.selected(matchers, mint, maxt) {
                if let Some(s) = self.series.get(&id) {
                    names.extend(self.index.pairs_of(&s.labels).map(|(n, _)| n.to_owned()));
                }
            }
        }
        names.into_iter().collect()
    }

    /// Values of label `name` among the selected series, sorted.
    pub fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Vec<String> {
        let mut values = BTreeSet::new();
        if matchers.is_empty() {
            for (value, ids) in self.index.values(name) {
                let live = ids
                    .iter()
                    .any(|id| self.series.get(id).is_some_and(|s| s.overlaps(mint, maxt)));
                if live {
                    values.insert(value.to_owned());
                }
            }
        } else {
            for id in self.selected(matchers, mint, maxt) {
                if let Some(v) = self
                    .series
                    .get(&id)
                    .and_then(|s| self.index.value_of(&s.labels, name))
                {
                    values.insert(v.to_owned());
                }
            }
        }
        values.into_iter().collect()
    }

    /// Whether every series has data in the range (so the index answers without checks).
    fn covers_all(&self, mint: i64, maxt: i64) -> bool {
        self.series.values().all(|s| s.overlaps(mint, maxt))
    }
}
