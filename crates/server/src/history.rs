//! The history of the aggregated view: every sample interval the view is written to the
//! TSDB as a Prometheus server scraping `GET /metrics` would store it, so that rates and
//! trends over the aggregated totals can be queried later.
//!
//! The families are encoded in the text format and read back line by line with the
//! model's lexer: the stored series are then exactly the sample lines `/metrics` serves
//! (`foo_total`, `foo_bucket{le=...}`, `foo_sum`, ...), with the same `le` spelling.
//!
//! A series written in the previous round and missing from this one gets a staleness
//! marker at this round's time, as Prometheus writes one when a scraped series disappears.
//! The set of series written last is kept in memory only: after a restart, series that
//! vanished while the server was down end by the query lookback instead.
//!
//! With `store_group_series`, every group's own series (the per-group view, as
//! `/metrics/groups` serves it) are stored too, with the label `tally_view="group"` added
//! so that they never add up with the aggregated series of the same name.

use std::collections::HashSet;

use parking_lot::Mutex;
use tally_model::expfmt::{self, Entry, Format, Lexer};
use tally_model::{Labels, MetricFamily, Sample};
use tally_storage::{AppendStats, Storage, StorageError};

/// The label added to per-group series.
pub const GROUP_VIEW_LABEL: (&str, &str) = ("tally_view", "group");

/// Flattens families into `(series labels with __name__, value)` pairs, as a scrape of
/// their text exposition would. `extra` is set over every series.
pub fn flatten(families: &[MetricFamily], extra: Option<(&str, &str)>) -> Vec<(Labels, f64)> {
    let mut text = Vec::with_capacity(families.len() * 256);
    expfmt::encode(families, Format::Text, &mut text);
    let mut out = Vec::new();
    let Ok(mut lexer) = Lexer::from_bytes(&text, Format::Text) else {
        return out;
    };
    // The encoder wrote it, so the lexer reads it to the end; a failure would only
    // shorten this round's history.
    while let Ok(Some(entry)) = lexer.next_entry() {
        if let Entry::Sample(line) = entry {
            let mut pairs: Vec<(&str, &str)> = lexer
                .labels()
                .iter()
                .map(|(n, v)| (n.as_ref(), v.as_ref()))
                .collect();
            pairs.push(("__name__", line.name.as_ref()));
            if let Some(extra) = extra {
                pairs.push(extra);
            }
            if let Ok(labels) = Labels::from_unsorted(&mut pairs) {
                out.push((labels, line.value));
            }
        }
    }
    out
}

/// Writes rounds of the view and remembers which series the last round wrote.
#[derive(Debug, Default)]
pub struct History {
    previous: Mutex<HashSet<Labels>>,
}

impl History {
    /// A history that has written nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes one round at `now_ms`: every series of `series`, and a staleness marker for
    /// each series of the previous round that is not among them. One commit.
    pub fn write_round(
        &self,
        storage: &dyn Storage,
        series: Vec<(Labels, f64)>,
        now_ms: i64,
    ) -> Result<AppendStats, StorageError> {
        let mut previous = self.previous.lock();
        let mut app = storage.appender();
        let mut current = HashSet::with_capacity(series.len());
        for (labels, value) in series {
            // A refusal (say, a clock that went backwards) skips that sample only; the
            // counts are in the returned stats.
            let _ = app.append(&labels, Sample::new(now_ms, value));
            current.insert(labels);
        }
        for gone in previous.difference(&current) {
            let _ = app.append(gone, Sample::stale(now_ms));
        }
        let stats = app.commit()?;
        *previous = current;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_storage::{Matcher, MemStorage, SelectHints};

    fn families(text: &str) -> Vec<MetricFamily> {
        expfmt::parse(text.as_bytes(), Format::Text).unwrap()
    }

    #[test]
    fn flatten_names_series_as_a_scrape_would() {
        let f = families(
            "# TYPE jobs_total counter\njobs_total{job=\"a\"} 3\n\
             # TYPE lat histogram\nlat_bucket{le=\"0.5\"} 1\nlat_bucket{le=\"+Inf\"} 2\n\
             lat_sum 0.7\nlat_count 2\n",
        );
        let mut got: Vec<String> = flatten(&f, Some(GROUP_VIEW_LABEL))
            .into_iter()
            .map(|(l, v)| format!("{l} {v}"))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                r#"{__name__="jobs_total", job="a", tally_view="group"} 3"#,
                r#"{__name__="lat_bucket", le="+Inf", tally_view="group"} 2"#,
                r#"{__name__="lat_bucket", le="0.5", tally_view="group"} 1"#,
                r#"{__name__="lat_count", tally_view="group"} 2"#,
                r#"{__name__="lat_sum", tally_view="group"} 0.7"#,
            ]
        );
    }

    #[test]
    fn vanished_series_get_a_staleness_marker() {
        let db = MemStorage::new();
        let h = History::new();
        let a = Labels::from_pairs([("__name__", "a")]).unwrap();
        let b = Labels::from_pairs([("__name__", "b")]).unwrap();
        h.write_round(&db, vec![(a.clone(), 1.0), (b.clone(), 2.0)], 1000)
            .unwrap();
        h.write_round(&db, vec![(a.clone(), 1.5)], 2000).unwrap();
        let q = db.querier(0, 3000).unwrap();
        let got = q
            .select(&[Matcher::metric_name("b")], &SelectHints::default())
            .unwrap();
        assert_eq!(got[0].samples.len(), 2);
        assert!(got[0].samples[1].is_stale());
        // A third round does not write the marker again.
        let stats = h.write_round(&db, vec![(a, 2.0)], 3000).unwrap();
        assert_eq!(stats.appended, 1);
    }
}
