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

/// Collects step outputs into series. For an instant evaluation every output becomes a
/// series of its own, keeping the order the operation produced (what `sort` and `topk`
/// rely on); otherwise outputs are joined by label set and two at the same step with the
/// same labels are an error, as in Prometheus.
pub(crate) struct Assembler {
    instant: bool,
    series: Mat,
    index: HashMap<Labels, usize>,
}

impl Assembler {
    pub(crate) fn new(instant: bool) -> Self {
        Self {
            instant,
            series: Vec::new(),
            index: HashMap::new(),
        }
    }

    pub(crate) fn push(&mut self, t: i64, out: Out) -> Result<(), QueryError> {
        let point = Point { t, v: out.v };
        if self.instant {
            self.series.push(Series {
                labels: out.labels,
                points: vec![point],
                drop_name: out.drop_name,
            });
            return Ok(());
        }
        match self.index.get(&out.labels) {
            Some(&i) => {
                let s = &mut self.series[i];
                if s.points.last().is_some_and(|p| p.t == t) {
                    return Err(QueryError::DuplicateLabelset);
                }
                s.points.push(point);
            }
            None => {
                self.index.insert(out.labels.clone(), self.series.len());
                self.series.push(Series {
                    labels: out.labels,
                    points: vec![point],
                    drop_name: out.drop_name,
                });
            }
        }
        Ok(())
    }

    /// Number of points collected so far.
    pub(crate) fn points(&self) -> usize {
        if self.instant {
            self.series.len()
        } else {
            self.series.iter().map(|s| s.points.len()).sum()
        }
    }

    pub(crate) fn finish(self) -> Mat {
        self.series
    }
}
