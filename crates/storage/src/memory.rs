//! [`MemStorage`]: the reference [`Storage`], a sorted map behind a lock. For tests and
//! for checking other stores against.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use parking_lot::RwLock;
use tally_model::{Labels, Sample};

use crate::append::{check_order, Accepted};
use crate::matcher::matches_all;
use crate::{
    AppendError, AppendStats, Appender, Matcher, Querier, Rejection, SelectHints, Series, Storage,
    StorageError,
};

type Data = BTreeMap<Labels, Vec<Sample>>;

/// Every series in a `BTreeMap` under one `RwLock`. Cloning is shallow (shares the data).
///
/// It applies the ordering rule of [`append`](crate::append) like every store, and
/// answers queries by scanning, which makes it the oracle that faster stores are compared
/// with.
#[derive(Debug, Clone, Default)]
pub struct MemStorage {
    data: Arc<RwLock<Data>>,
}

impl MemStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of series.
    pub fn series_count(&self) -> usize {
        self.data.read().len()
    }
}

impl Storage for MemStorage {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(MemAppender {
            store: self,
            pending: BTreeMap::new(),
            stats: AppendStats::default(),
        })
    }

    fn querier(&self, mint_ms: i64, maxt_ms: i64) -> Result<Box<dyn Querier + '_>, StorageError> {
        Ok(Box::new(MemQuerier {
            store: self,
            mint: mint_ms,
            maxt: maxt_ms,
        }))
    }
}

#[derive(Debug)]
struct MemAppender<'a> {
    store: &'a MemStorage,
    pending: BTreeMap<Labels, Vec<Sample>>,
    stats: AppendStats,
}

impl Appender for MemAppender<'_> {
    fn append(&mut self, labels: &Labels, sample: Sample) -> Result<(), AppendError> {
        if !labels.contains("__name__") {
            return Err(self
                .stats
                .refuse(Rejection::MissingName, labels, sample, None));
        }
        let newest = match self.pending.get(labels).and_then(|p| p.last()) {
            Some(s) => Some(*s),
            None => self
                .store
                .data
                .read()
                .get(labels)
                .and_then(|s| s.last().copied()),
        };
        match check_order(newest, sample) {
            Ok(Accepted::Append) => {
                self.pending.entry(labels.clone()).or_default().push(sample);
                Ok(())
            }
            Ok(Accepted::Repeat) => {
                self.stats.repeats += 1;
                Ok(())
            }
            Err(reason) => Err(self.stats.refuse(reason, labels, sample, newest)),
        }
    }

    fn commit(self: Box<Self>) -> Result<AppendStats, StorageError> {
        let mut stats = self.stats;
        let mut data = self.store.data.write();
        for (labels, samples) in self.pending {
            stats.appended += samples.len() as u64;
            let series = data.entry(labels).or_insert_with(|| {
                stats.new_series += 1;
                Vec::new()
            });
            series.extend(samples);
        }
        Ok(stats)
    }
}

#[derive(Debug)]
struct MemQuerier<'a> {
    store: &'a MemStorage,
    mint: i64,
    maxt: i64,
}

impl MemQuerier<'_> {
    fn in_range<'d>(&self, samples: &'d [Sample]) -> &'d [Sample] {
        let lo = samples.partition_point(|s| s.timestamp_ms < self.mint);
        let hi = samples.partition_point(|s| s.timestamp_ms <= self.maxt);
        &samples[lo..hi.max(lo)]
    }

    fn each_selected(&self, matchers: &[Matcher], mut f: impl FnMut(&Labels, &[Sample])) {
        let data = self.store.data.read();
        for (labels, samples) in data.iter() {
            let samples = self.in_range(samples);
            if !samples.is_empty() && matches_all(matchers, labels) {
                f(labels, samples);
            }
        }
    }
}

impl Querier for MemQuerier<'_> {
    fn select(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<Series>, StorageError> {
        let mut out = Vec::new();
        let mut loaded = 0usize;
        let mut over = None;
        self.each_selected(matchers, |labels, samples| {
            loaded += samples.len();
            if let Some(limit) = hints.max_samples.filter(|l| loaded > *l) {
                over = Some(limit);
            }
            out.push(Series {
                labels: labels.clone(),
                samples: if hints.labels_only {
                    Vec::new()
                } else {
                    samples.to_vec()
                },
            });
        });
        match over {
            Some(limit) if !hints.labels_only => Err(StorageError::TooManySamples { limit }),
            _ => Ok(out),
        }
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut names = BTreeSet::new();
        self.each_selected(matchers, |labels, _| {
            names.extend(labels.iter().map(|(n, _)| n.to_owned()));
        });
        Ok(names.into_iter().collect())
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut values = BTreeSet::new();
        self.each_selected(matchers, |labels, _| {
            values.extend(labels.get(name).map(str::to_owned));
        });
        Ok(values.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MatchOp;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    fn filled() -> MemStorage {
        let db = MemStorage::new();
        let mut app = db.appender();
        for (code, n) in [("200", 3), ("500", 1)] {
            let labels = l(&[("__name__", "req_total"), ("code", code)]);
            for i in 0..n {
                app.append(&labels, Sample::new(i * 1000, i as f64))
                    .unwrap();
            }
        }
        app.append(&l(&[("__name__", "up")]), Sample::new(0, 1.0))
            .unwrap();
        app.commit().unwrap();
        db
    }

    #[test]
    fn nothing_visible_before_commit() {
        let db = MemStorage::new();
        let mut app = db.appender();
        app.append(&l(&[("__name__", "up")]), Sample::new(0, 1.0))
            .unwrap();
        assert_eq!(db.series_count(), 0);
        drop(app);
        assert_eq!(db.series_count(), 0);
    }

    #[test]
    fn rejections_leave_the_rest_of_the_batch() {
        let db = filled();
        let mut app = db.appender();
        let s = l(&[("__name__", "req_total"), ("code", "200")]);
        let e = app.append(&s, Sample::new(2000, 5.0)).unwrap_err();
        assert_eq!(e.reason, Rejection::DuplicateTimestamp);
        assert_eq!(e.newest_ms, Some(2000));
        app.append(&s, Sample::new(2000, 2.0)).unwrap(); // repeat
        let e = app.append(&s, Sample::new(1000, 1.0)).unwrap_err();
        assert_eq!(e.reason, Rejection::OutOfOrder);
        app.append(&s, Sample::new(3000, 3.0)).unwrap();
        let e = app
            .append(&l(&[("job", "x")]), Sample::new(0, 1.0))
            .unwrap_err();
        assert_eq!(e.reason, Rejection::MissingName);
        let stats = app.commit().unwrap();
        assert_eq!(stats.appended, 1);
        assert_eq!(stats.repeats, 1);
        assert_eq!(stats.rejected_total(), 3);
    }

    #[test]
    fn select_by_matchers_and_range() {
        let db = filled();
        let q = db.querier(1000, 2000).unwrap();
        let re = Matcher::new(MatchOp::Regex, "code", "2..").unwrap();
        let got = q.select(&[re], &SelectHints::default()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].samples,
            vec![Sample::new(1000, 1.0), Sample::new(2000, 2.0)]
        );
        // `up` and code 500 have no sample in [1000, 2000].
        assert_eq!(q.label_values("code", &[]).unwrap(), ["200"]);
        let q = db.querier(0, 0).unwrap();
        assert_eq!(q.label_names(&[]).unwrap(), ["__name__", "code"]);
        let all = q.select(
            &[Matcher::not_equal("__name__", "")],
            &SelectHints::default(),
        );
        assert_eq!(all.unwrap().len(), 3);
    }

    #[test]
    fn sample_limit() {
        let db = filled();
        let q = db.querier(0, 10_000).unwrap();
        let hints = SelectHints {
            max_samples: Some(3),
            ..SelectHints::default()
        };
        let all = [Matcher::not_equal("__name__", "")];
        assert!(matches!(
            q.select(&all, &hints),
            Err(StorageError::TooManySamples { limit: 3 })
        ));
        let hints = SelectHints {
            labels_only: true,
            ..hints
        };
        assert_eq!(q.select(&all, &hints).unwrap().len(), 3);
    }
}
