//! Instant and range vector selectors: series from the store, the lookback window,
//! staleness markers, `offset` and `@`.

use tally_model::{is_stale_nan, Sample};
use tally_storage::SelectHints;

use super::{Evaluator, Mat, Point, Series};
use crate::error::QueryError;
use crate::plan::Selector;

/// A series from the store: its labels and samples in time order.
pub(crate) type Raw = tally_storage::Series;

impl Evaluator<'_> {
    /// The time a selector reads at for step `ts`: its `@` time (or the step) minus its
    /// offset.
    pub(crate) fn ref_time(&self, sel: &Selector, ts: i64) -> i64 {
        sel.at
            .map_or(ts, |a| self.at_time(a))
            .saturating_sub(sel.offset_ms)
    }

    /// The earliest and latest reference time of `sel` over the steps.
    fn ref_bounds(&self, sel: &Selector) -> (i64, i64) {
        let (a, b) = (self.ref_time(sel, self.start), self.ref_time(sel, self.end));
        (a.min(b), a.max(b))
    }

    /// The series matching `sel` with their samples in `[mint, maxt]`, sorted by labels.
    pub(crate) fn select(
        &mut self,
        sel: &Selector,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Raw>, QueryError> {
        self.check_time()?;
        if mint > maxt {
            return Ok(Vec::new());
        }
        let querier = self.ctx.storage.querier(mint, maxt)?;
        let hints = SelectHints::default();
        let mut out: Vec<Raw> = Vec::new();
        for (i, matchers) in sel.alternatives.iter().enumerate() {
            let found = querier.select(matchers, &hints)?;
            if i == 0 {
                out = found;
            } else {
                out.extend(found);
            }
        }
        if sel.alternatives.len() > 1 {
            out.sort_by(|a, b| a.labels.cmp(&b.labels));
            out.dedup_by(|a, b| a.labels == b.labels);
        }
        Ok(out)
    }

    /// The sample an instant selector sees at `reft`: the newest at or before it, within
    /// the lookback window, unless it is a staleness marker. `next` is the index of the
    /// first sample after the previous step's `reft`; reference times only grow from step
    /// to step, so the search goes on from there ([`skip_while`]; a binary search over
    /// all the samples at every step cost a sixth of a range query's time).
    fn sample_at(&self, samples: &[Sample], next: &mut usize, reft: i64) -> Option<Sample> {
        *next = skip_while(samples, *next, |s| s.timestamp_ms <= reft);
        let s = *samples.get(next.checked_sub(1)?)?;
        if s.timestamp_ms <= reft.saturating_sub(self.ctx.lookback_ms) || is_stale_nan(s.value) {
            return None;
        }
        Some(s)
    }

    /// An instant vector selector at every step. With `timestamps`, the values are the
    /// seconds of the samples' own timestamps (what `timestamp()` needs) and the series
    /// are marked to lose their name.
    pub(crate) fn eval_selector_with(
        &mut self,
        sel: &Selector,
        timestamps: bool,
    ) -> Result<Mat, QueryError> {
        let (lo, hi) = self.ref_bounds(sel);
        let raw = self.select(sel, lo.saturating_sub(self.ctx.lookback_ms) + 1, hi)?;
        let mut out = Vec::with_capacity(raw.len());
        for series in raw {
            self.check_time()?;
            let mut points = Vec::new();
            let mut next = 0;
            for (k, t) in self.steps().enumerate() {
                if k % 4096 == 4095 {
                    self.check_time()?;
                }
                let reft = self.ref_time(sel, t);
                if let Some(s) = self.sample_at(&series.samples, &mut next, reft) {
                    let v = if timestamps {
                        s.timestamp_ms as f64 / 1000.0
                    } else {
                        s.value
                    };
                    points.push(Point { t, v });
                    if points.len() % 4096 == 0 {
                        self.check_samples(points.len())?;
                    }
                }
            }
            if !points.is_empty() {
                self.charge(points.len())?;
                out.push(Series {
                    labels: series.labels,
                    points,
                    drop_name: timestamps,
                });
            }
        }
        Ok(out)
    }

    /// An instant vector selector at every step.
    pub(crate) fn eval_selector(&mut self, sel: &Selector) -> Result<Mat, QueryError> {
        self.eval_selector_with(sel, false)
    }

    /// A range selector's raw series: samples in `(min ref - range, max ref]` without
    /// staleness markers.
    pub(crate) fn select_range(
        &mut self,
        sel: &Selector,
        range_ms: i64,
    ) -> Result<Vec<(tally_model::Labels, Vec<Point>)>, QueryError> {
        let (lo, hi) = self.ref_bounds(sel);
        let raw = self.select(sel, lo.saturating_sub(range_ms) + 1, hi)?;
        Ok(raw
            .into_iter()
            .map(|s| {
                let points = s
                    .samples
                    .iter()
                    .filter(|p| !is_stale_nan(p.value))
                    .map(|p| Point {
                        t: p.timestamp_ms,
                        v: p.value,
                    })
                    .collect();
                (s.labels, points)
            })
            .collect())
    }

    /// A range selector evaluated on its own (the result of an instant query): the raw
    /// samples of each series in the window ending at the evaluation time.
    pub(crate) fn eval_matrix_selector(
        &mut self,
        sel: &Selector,
        range_ms: i64,
    ) -> Result<Mat, QueryError> {
        let reft = self.ref_time(sel, self.start);
        let mut out = Vec::new();
        for (labels, points) in self.select_range(sel, range_ms)? {
            let window = window(&points, reft.saturating_sub(range_ms), reft);
            if window.is_empty() {
                continue;
            }
            self.charge(window.len())?;
            out.push(Series {
                labels,
                points: window.to_vec(),
                drop_name: false,
            });
        }
        Ok(out)
    }
}

/// The points with `lo < t <= hi`.
pub(crate) fn window(points: &[Point], lo: i64, hi: i64) -> &[Point] {
    let a = points.partition_point(|p| p.t <= lo);
    let b = points.partition_point(|p| p.t <= hi);
    &points[a..b.max(a)]
}

/// [`window`] step after step: each call's bounds start from the last call's, so a
/// series' windows over all the steps of a range query cost about one pass over its
/// points (or `O(log skip)` a step when the steps are far apart), not two binary searches
/// over all of them a step. Bounds that go back (they do not in an evaluation, where
/// reference times only grow) start the search over.
#[derive(Debug, Default)]
pub(crate) struct Windows {
    lo: i64,
    a: usize,
    b: usize,
}

impl Windows {
    /// The points with `lo < t <= hi`.
    pub(crate) fn next<'p>(&mut self, points: &'p [Point], lo: i64, hi: i64) -> &'p [Point] {
        if lo < self.lo {
            *self = Self::default();
        }
        self.lo = lo;
        self.a = skip_while(points, self.a, |p| p.t <= lo);
        self.b = skip_while(points, self.b.max(self.a), |p| p.t <= hi);
        &points[self.a..self.b]
    }
}

/// The first index at or after `from` whose item fails `keep`, for a `keep` that holds on
/// a prefix of `items` and fails after it. Gallops (1, 2, 4, ... ahead) and then
/// searches between the last two probes: a short skip costs a few comparisons, a long
/// one `O(log skip)`.
pub(crate) fn skip_while<T>(items: &[T], from: usize, keep: impl Fn(&T) -> bool) -> usize {
    let from = from.min(items.len());
    let rest = &items[from..];
    let mut hi = 1;
    while hi <= rest.len() && keep(&rest[hi - 1]) {
        hi *= 2;
    }
    let lo = hi / 2;
    from + lo + rest[lo..hi.min(rest.len())].partition_point(keep)
}

#[cfg(test)]
mod tests {
    use super::{skip_while, window, Windows};
    use crate::eval::test_support::{instant, store, values};
    use crate::eval::Point;
    use tally_model::stale_nan;

    #[test]
    fn skip_while_finds_the_end_of_the_prefix_from_anywhere() {
        let items: Vec<i64> = (0..100).collect();
        for from in [0, 1, 5, 99, 100, 150] {
            for limit in [-1, 0, 1, 2, 3, 7, 8, 50, 98, 99, 200] {
                let expected = (limit + 1).clamp(0, 100).max(from.min(100) as i64) as usize;
                assert_eq!(
                    skip_while(&items, from, |x| *x <= limit),
                    expected,
                    "from {from} limit {limit}"
                );
            }
        }
        assert_eq!(skip_while(&[] as &[i64], 0, |_| true), 0);
    }

    #[test]
    fn windows_step_after_step_equal_windows_searched_afresh() {
        let points: Vec<Point> = (0..200)
            .map(|i| Point {
                t: i * 15 + (i % 3),
                v: 0.0,
            })
            .collect();
        for (step, range) in [(7, 60), (60, 300), (1000, 30), (15, 15), (1, 0)] {
            let mut cursor = Windows::default();
            for t in (0..3200).step_by(step) {
                assert_eq!(
                    cursor.next(&points, t - range, t),
                    window(&points, t - range, t),
                    "step {step} range {range} t {t}"
                );
            }
            // Going back starts over.
            assert_eq!(cursor.next(&points, 10, 100), window(&points, 10, 100));
        }
    }

    #[test]
    fn lookback_window_is_left_open() {
        let db = store(&[(&[("__name__", "m")], &[(0, 1.0)])]);
        assert_eq!(values(&instant(&db, "m", 299_999).unwrap()), [1.0]);
        assert!(values(&instant(&db, "m", 300_000).unwrap()).is_empty());
        assert!(values(&instant(&db, "m", -1).unwrap()).is_empty());
    }

    #[test]
    fn staleness_marker_ends_the_series() {
        let db = store(&[(
            &[("__name__", "m")],
            &[(0, 1.0), (10_000, stale_nan()), (20_000, 2.0)],
        )]);
        assert_eq!(values(&instant(&db, "m", 5_000).unwrap()), [1.0]);
        assert!(values(&instant(&db, "m", 15_000).unwrap()).is_empty());
        assert_eq!(values(&instant(&db, "m", 25_000).unwrap()), [2.0]);
        // Range selectors leave the marker out.
        assert_eq!(
            values(&instant(&db, "count_over_time(m[1m])", 30_000).unwrap()),
            [2.0]
        );
    }

    #[test]
    fn offset_and_at() {
        let db = store(&[(
            &[("__name__", "m")],
            &[(0, 0.0), (60_000, 1.0), (120_000, 2.0)],
        )]);
        assert_eq!(
            values(&instant(&db, "m offset 1m", 120_000).unwrap()),
            [1.0]
        );
        assert_eq!(values(&instant(&db, "m offset -1m", 0).unwrap()), [1.0]);
        assert_eq!(values(&instant(&db, "m @ 60", 1_000_000).unwrap()), [1.0]);
        assert_eq!(
            values(&instant(&db, "m @ 120 offset 2m", 0).unwrap()),
            [0.0]
        );
        assert_eq!(
            values(&instant(&db, "timestamp(m @ 90)", 0).unwrap()),
            [60.0]
        );
    }
}
