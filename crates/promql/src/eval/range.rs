//! Range vectors as function arguments: a range selector or a subquery gives raw series,
//! and a function runs over the window `(ref - range, ref]` of each series at each step.

use tally_model::Labels;

use super::selector::Windows;
use super::{drop_metric_name, Evaluator, Mat, Point, Series};
use crate::error::QueryError;
use crate::plan::{At, Node};

/// One series' window at one step, what a range-vector function sees.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window<'p> {
    /// The samples with `reft - range < t <= reft`, oldest first; never empty.
    pub points: &'p [Point],
    /// The step's timestamp.
    pub t: i64,
    /// The window's end: the step (or `@` time) minus the offset.
    pub reft: i64,
    pub range_ms: i64,
    /// The step's index.
    pub step: usize,
}

/// The range-vector argument of a function, materialised.
#[derive(Debug)]
pub(crate) struct RangeArg {
    /// Series labels and their samples in time order (no staleness markers).
    pub series: Vec<(Labels, Vec<Point>)>,
    pub range_ms: i64,
    pub offset_ms: i64,
    pub at: Option<At>,
}

impl Evaluator<'_> {
    /// Materialises a range selector or subquery argument.
    pub(crate) fn range_arg(&mut self, node: &Node) -> Result<RangeArg, QueryError> {
        match node {
            Node::Matrix { sel, range_ms } => Ok(RangeArg {
                series: self.select_range(sel, *range_ms)?,
                range_ms: *range_ms,
                offset_ms: sel.offset_ms,
                at: sel.at,
            }),
            Node::Subquery {
                expr,
                range_ms,
                step_ms,
                offset_ms,
                at,
            } => {
                let mat = self.eval_subquery(expr, *range_ms, *step_ms, *offset_ms, *at)?;
                let series = mat
                    .into_iter()
                    .map(|s| {
                        let labels = if s.drop_name {
                            drop_metric_name(&s.labels)
                        } else {
                            s.labels
                        };
                        (labels, s.points)
                    })
                    .collect();
                Ok(RangeArg {
                    series,
                    range_ms: *range_ms,
                    offset_ms: *offset_ms,
                    at: *at,
                })
            }
            _ => Err(QueryError::Unsupported(
                "expected a range vector argument".to_owned(),
            )),
        }
    }

    /// Evaluates a subquery's inner expression at its own steps: aligned to multiples of
    /// the step, from just after `start - offset - range` to `end - offset` (with `@`,
    /// around the `@` time instead).
    pub(crate) fn eval_subquery(
        &mut self,
        expr: &Node,
        range_ms: i64,
        step_ms: Option<i64>,
        offset_ms: i64,
        at: Option<At>,
    ) -> Result<Mat, QueryError> {
        let step = step_ms
            .filter(|s| *s > 0)
            .unwrap_or(self.ctx.subquery_step_ms)
            .max(1);
        let (base_start, base_end) = match at {
            Some(a) => {
                let t = self.at_time(a);
                (t, t)
            }
            None => (self.start, self.end),
        };
        // Saturating: nested subqueries each move the window back by their range.
        let bound = base_start
            .saturating_sub(offset_ms)
            .saturating_sub(range_ms);
        let mut start = step * (bound / step);
        if start <= bound {
            start += step;
        }
        let end = base_end.saturating_sub(offset_ms);
        let saved = (self.start, self.end, self.interval);
        (self.start, self.end, self.interval) = (start, end, step);
        let result = self.eval_mat(expr);
        (self.start, self.end, self.interval) = saved;
        result
    }

    /// Runs `f` over each series' window at each step; `f` returns the output value, if
    /// any. Output series keep the input labels and get `drop_name`.
    pub(crate) fn over_windows<F>(
        &mut self,
        arg: &RangeArg,
        drop_name: bool,
        mut f: F,
    ) -> Result<Mat, QueryError>
    where
        F: FnMut(&mut Self, &Labels, Window<'_>) -> Result<Option<f64>, QueryError>,
    {
        let mut out = Vec::new();
        for (labels, points) in &arg.series {
            self.check_time()?;
            let mut result = Vec::new();
            let mut windows = Windows::default();
            for (k, t) in self.steps().enumerate() {
                if k % 4096 == 4095 {
                    self.check_time()?;
                }
                let reft = arg
                    .at
                    .map_or(t, |a| self.at_time(a))
                    .saturating_sub(arg.offset_ms);
                let w = windows.next(points, reft.saturating_sub(arg.range_ms), reft);
                if w.is_empty() {
                    continue;
                }
                self.check_samples(w.len())?;
                let win = Window {
                    points: w,
                    t,
                    reft,
                    range_ms: arg.range_ms,
                    step: k,
                };
                if let Some(v) = f(self, labels, win)? {
                    result.push(Point { t, v });
                    if result.len() % 4096 == 0 {
                        self.check_samples(result.len())?;
                    }
                }
            }
            if !result.is_empty() {
                self.charge(result.len())?;
                out.push(Series {
                    labels: labels.clone(),
                    points: result,
                    drop_name,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::eval::test_support::{instant, store, values};
    use crate::value::Value;

    #[test]
    fn subquery_steps_are_aligned_to_the_step() {
        let db = store(&[(
            &[("__name__", "m")],
            &[(0, 0.0), (30_000, 1.0), (60_000, 2.0), (90_000, 3.0)],
        )]);
        let Value::Matrix(m) = instant(&db, "m[1m:15s]", 100_000).unwrap() else {
            panic!()
        };
        let ts: Vec<i64> = m[0].samples.iter().map(|s| s.timestamp_ms).collect();
        assert_eq!(ts, [45_000, 60_000, 75_000, 90_000]);
        assert_eq!(
            values(&instant(&db, "count_over_time(m[1m:15s])", 100_000).unwrap()),
            [4.0]
        );
        // @ pins the subquery's window whatever the evaluation time.
        assert_eq!(
            values(&instant(&db, "max_over_time(m[30s:10s] @ 60)", 500_000).unwrap()),
            [2.0]
        );
    }
}
