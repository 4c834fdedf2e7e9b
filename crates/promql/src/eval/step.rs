//! Step-by-step evaluation for operations that are not series-wise (aggregations,
//! vector matching, `sort`, `histogram_quantile`, ...): gather each input's values at a
//! step, compute that step's output vector, and assemble the outputs into series.

use std::collections::HashMap;

use tally_model::Labels;

use super::{Mat, Point, Series};
use crate::error::QueryError;

/// Walks the series of one evaluated input step by step. Points of evaluated inputs are
/// on the step grid, so one cursor per series suffices.
pub(crate) struct StepInput<'m> {
    mat: &'m Mat,
    pos: Vec<usize>,
}

impl<'m> StepInput<'m> {
    pub(crate) fn new(mat: &'m Mat) -> Self {
        Self {
            mat,
            pos: vec![0; mat.len()],
        }
    }

    /// The (series index, value) pairs that have a point at `t`, in series order.
    pub(crate) fn gather(&mut self, t: i64, out: &mut Vec<(usize, f64)>) {
        out.clear();
        for (i, s) in self.mat.iter().enumerate() {
            let p = &mut self.pos[i];
            while *p < s.points.len() && s.points[*p].t < t {
                *p += 1;
            }
            if let Some(pt) = s.points.get(*p) {
                if pt.t == t {
                    out.push((i, pt.v));
                    *p += 1;
                }
            }
        }
    }
}

/// One output sample of a step.
#[derive(Debug, Clone)]
pub(crate) struct Out {
    pub labels: Labels,
    pub v: f64,
    pub drop_name: bool,
}

/// Identifies where an output comes from (an input series, a pair of them, a group),
/// so its output series is looked up by label set only once.
pub(crate) type SlotKey = (usize, usize);

/// Collects step outputs into series, joined by label set in order of first appearance
/// (for an instant evaluation that is the order the operation produced, which `sort`
/// and `topk` rely on). Two outputs with the same labels at one step are an error, as
/// in Prometheus.
pub(crate) struct Assembler {
    series: Mat,
    by_labels: HashMap<Labels, usize>,
    by_key: HashMap<SlotKey, usize>,
    points: usize,
}

impl Assembler {
    pub(crate) fn new() -> Self {
        Self {
            series: Vec::new(),
            by_labels: HashMap::new(),
            by_key: HashMap::new(),
            points: 0,
        }
    }

    fn slot_for(&mut self, labels: Labels, drop_name: bool) -> usize {
        if let Some(&i) = self.by_labels.get(&labels) {
            return i;
        }
        self.by_labels.insert(labels.clone(), self.series.len());
        self.series.push(Series {
            labels,
            points: Vec::new(),
            drop_name,
        });
        self.series.len() - 1
    }

    /// The output series for `key`; `make` gives its labels and name flag the first
    /// time the key is seen.
    pub(crate) fn slot(&mut self, key: SlotKey, make: impl FnOnce() -> (Labels, bool)) -> usize {
        if let Some(&i) = self.by_key.get(&key) {
            return i;
        }
        let (labels, drop_name) = make();
        let i = self.slot_for(labels, drop_name);
        self.by_key.insert(key, i);
        i
    }

    /// Adds a point to output series `slot`.
    pub(crate) fn push_to(&mut self, slot: usize, t: i64, v: f64) -> Result<(), QueryError> {
        let s = &mut self.series[slot];
        if s.points.last().is_some_and(|p| p.t == t) {
            return Err(QueryError::DuplicateLabelset);
        }
        s.points.push(Point { t, v });
        self.points += 1;
        Ok(())
    }

    /// Adds an output whose labels are new at each step.
    pub(crate) fn push(&mut self, t: i64, out: Out) -> Result<(), QueryError> {
        let slot = self.slot_for(out.labels, out.drop_name);
        self.push_to(slot, t, out.v)
    }

    /// Number of points collected so far.
    pub(crate) fn points(&self) -> usize {
        self.points
    }

    /// The series that got points.
    pub(crate) fn finish(mut self) -> Mat {
        self.series.retain(|s| !s.points.is_empty());
        self.series
    }
}
