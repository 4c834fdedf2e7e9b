//! Aggregation operators: `sum`, `avg`, `count`, `min`, `max`, `group`, `stddev`,
//! `stdvar`, `quantile` (here), `topk`/`bottomk` (`aggregate/topk.rs`) and
//! `count_values` (`aggregate/count_values.rs`), each with `by` / `without`.

mod count_values;
mod topk;

use std::collections::HashMap;

use tally_model::Labels;

use crate::annotations::AnnotationKind;
use crate::error::QueryError;
use crate::eval::step::StepInput;
use crate::eval::{Evaluator, Mat, Point, Series};
use crate::numeric::{go_fmt_g, kahan_inc, quantile};
use crate::plan::{AggOp, Grouping, Node};

/// The labels of the group `labels` falls in.
pub(crate) fn group_labels(labels: &Labels, grouping: &Grouping) -> Labels {
    if grouping.without {
        let mut drop: Vec<&str> = grouping.labels.iter().map(String::as_str).collect();
        drop.push("__name__");
        labels.without(&drop)
    } else if grouping.labels.is_empty() {
        Labels::new()
    } else {
        let pairs = labels
            .iter()
            .filter(|(n, _)| grouping.labels.iter().any(|g| g == n));
        Labels::from_pairs(pairs).unwrap_or_default()
    }
}

/// Assigns each series to a group in order of first appearance: per series its group
/// index, and per group its labels.
pub(crate) fn assign_groups(input: &Mat, grouping: &Grouping) -> (Vec<usize>, Vec<Labels>) {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups = Vec::new();
    let of_series = input
        .iter()
        .map(|s| {
            let key = group_labels(&s.labels, grouping);
            *index.entry(key.clone()).or_insert_with(|| {
                groups.push(key);
                groups.len() - 1
            })
        })
        .collect();
    (of_series, groups)
}

/// Go's `math.Max` / `math.Min` over all values, NaN if any is NaN.
fn nan_max(v: &[f64]) -> f64 {
    v.iter().fold(f64::NEG_INFINITY, |a, b| {
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            a.max(*b)
        }
    })
}

fn nan_min(v: &[f64]) -> f64 {
    v.iter().fold(f64::INFINITY, |a, b| {
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            a.min(*b)
        }
    })
}

/// The running state of one group at one step.
#[derive(Debug, Clone, Default)]
struct Group {
    seen: bool,
    value: f64,
    mean: f64,
    kahan: f64,
    count: f64,
    incremental_mean: bool,
    values: Vec<f64>,
    drop_name: bool,
}

impl Group {
    fn start(op: AggOp, v: f64, drop_name: bool) -> Self {
        let value = match op {
            AggOp::Stddev | AggOp::Stdvar if v.is_nan() || v.is_infinite() => f64::NAN,
            AggOp::Stddev | AggOp::Stdvar => 0.0,
            AggOp::Group => 1.0,
            _ => v,
        };
        Group {
            seen: true,
            value,
            mean: v,
            kahan: 0.0,
            count: 1.0,
            incremental_mean: false,
            values: if op == AggOp::Quantile {
                vec![v]
            } else {
                Vec::new()
            },
            drop_name,
        }
    }

    fn add(&mut self, op: AggOp, v: f64, drop_name: bool) {
        self.drop_name |= drop_name;
        match op {
            AggOp::Sum => (self.value, self.kahan) = kahan_inc(v, self.value, self.kahan),
            AggOp::Avg => {
                self.count += 1.0;
                if !self.incremental_mean {
                    let (s, c) = kahan_inc(v, self.value, self.kahan);
                    if !s.is_infinite() {
                        (self.value, self.kahan) = (s, c);
                        return;
                    }
                    self.incremental_mean = true;
                    self.mean = self.value / (self.count - 1.0);
                    self.kahan /= self.count - 1.0;
                }
                let q = (self.count - 1.0) / self.count;
                (self.mean, self.kahan) = kahan_inc(v / self.count, q * self.mean, q * self.kahan);
            }
            AggOp::Count => self.count += 1.0,
            AggOp::Max => {
                if self.value < v || self.value.is_nan() {
                    self.value = v;
                }
            }
            AggOp::Min => {
                if self.value > v || self.value.is_nan() {
                    self.value = v;
                }
            }
            AggOp::Stddev | AggOp::Stdvar => {
                self.count += 1.0;
                let delta = v - self.mean;
                self.mean += delta / self.count;
                self.value += delta * (v - self.mean);
            }
            AggOp::Quantile => self.values.push(v),
            AggOp::Group | AggOp::Topk | AggOp::Bottomk | AggOp::CountValues => {}
        }
    }

    fn finish(&mut self, op: AggOp, q: f64) -> f64 {
        match op {
            AggOp::Sum => self.value + self.kahan,
            AggOp::Avg if self.incremental_mean => self.mean + self.kahan,
            AggOp::Avg => self.value / self.count + self.kahan / self.count,
            AggOp::Count => self.count,
            AggOp::Stdvar => self.value / self.count,
            AggOp::Stddev => (self.value / self.count).sqrt(),
            AggOp::Quantile => quantile(q, &mut self.values),
            _ => self.value,
        }
    }
}

impl Evaluator<'_> {
    /// Evaluates an aggregation.
    pub(crate) fn eval_aggregate(
        &mut self,
        op: AggOp,
        expr: &Node,
        param: Option<&Node>,
        grouping: &Grouping,
        param_pos: usize,
    ) -> Result<Mat, QueryError> {
        if op == AggOp::CountValues {
            return self.eval_count_values(expr, param, grouping);
        }
        let params = match param {
            Some(p) => self.eval_scalar(p)?,
            None => Vec::new(),
        };
        if op == AggOp::Quantile {
            let (max, min) = (nan_max(&params), nan_min(&params));
            let mut warn = |q: f64| {
                self.annotate(
                    AnnotationKind::Warning,
                    format!(
                        "quantile value should be between 0 and 1, got {}",
                        go_fmt_g(q)
                    ),
                    param_pos,
                )
            };
            if params.iter().any(|p| p.is_nan()) {
                warn(f64::NAN);
            }
            if max > 1.0 {
                warn(max);
            }
            if min < 0.0 {
                warn(min);
            }
        }
        let input = self.eval_mat(expr)?;
        if matches!(op, AggOp::Topk | AggOp::Bottomk) {
            return self.eval_topk(op, &input, &params, grouping);
        }
        let (of_series, groups) = assign_groups(&input, grouping);
        let mut out: Vec<Series> = groups
            .into_iter()
            .map(|labels| Series {
                labels,
                points: Vec::new(),
                drop_name: false,
            })
            .collect();
        let mut state = vec![Group::default(); out.len()];
        let mut stepper = StepInput::new(&input);
        let mut buf = Vec::new();
        let mut produced = 0;
        for (k, t) in self.steps().enumerate() {
            self.check_time()?;
            stepper.gather(t, &mut buf);
            for g in &mut state {
                g.seen = false;
            }
            for &(i, v) in &buf {
                let g = &mut state[of_series[i]];
                let drop = input[i].drop_name;
                if g.seen {
                    g.add(op, v, drop);
                } else {
                    *g = Group::start(op, v, drop);
                }
            }
            let q = params.get(k).copied().unwrap_or(f64::NAN);
            for (g, s) in state.iter_mut().zip(out.iter_mut()) {
                if g.seen {
                    s.points.push(Point {
                        t,
                        v: g.finish(op, q),
                    });
                    s.drop_name = g.drop_name;
                    produced += 1;
                }
            }
            self.check_samples(buf.len() + produced)?;
        }
        out.retain(|s| !s.points.is_empty());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap_or_default()
    }

    #[test]
    fn grouping_labels() {
        let s = l(&[("__name__", "m"), ("a", "1"), ("b", "2")]);
        let by = Grouping {
            without: false,
            labels: vec!["a".into(), "__name__".into()],
        };
        assert_eq!(group_labels(&s, &by), l(&[("__name__", "m"), ("a", "1")]));
        let without = Grouping {
            without: true,
            labels: vec!["a".into()],
        };
        assert_eq!(group_labels(&s, &without), l(&[("b", "2")]));
        assert_eq!(group_labels(&s, &Grouping::default()), Labels::new());
    }

    #[test]
    fn group_arithmetic() {
        let mut g = Group::start(AggOp::Stdvar, 1.0, false);
        for v in [2.0, 3.0, 4.0] {
            g.add(AggOp::Stdvar, v, false);
        }
        assert_eq!(g.finish(AggOp::Stdvar, 0.0), 1.25);
        let mut g = Group::start(AggOp::Max, f64::NAN, false);
        g.add(AggOp::Max, 3.0, false);
        assert_eq!(g.finish(AggOp::Max, 0.0), 3.0);
        let mut g = Group::start(AggOp::Avg, f64::MAX, false);
        g.add(AggOp::Avg, f64::MAX, false);
        assert_eq!(g.finish(AggOp::Avg, 0.0), f64::MAX);
    }
}
