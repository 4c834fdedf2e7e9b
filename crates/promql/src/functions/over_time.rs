//! The `*_over_time` functions: aggregations of each series' window.

use tally_model::Labels;

use crate::error::QueryError;
use crate::eval::range::RangeArg;
use crate::eval::{Evaluator, Mat, Point, Series};
use crate::numeric::{kahan_inc, quantile};
use crate::plan::Node;

/// `avg_over_time`: the mean by Kahan summation, switching to an incremental mean if
/// the sum would overflow.
fn avg(pts: &[Point]) -> f64 {
    let (mut sum, mut count) = (pts[0].v, 1.0);
    let (mut mean, mut c) = (0.0, 0.0);
    let mut incremental = false;
    for (i, p) in pts[1..].iter().enumerate() {
        count = (i + 2) as f64;
        if !incremental {
            let (s, nc) = kahan_inc(p.v, sum, c);
            if !s.is_infinite() {
                (sum, c) = (s, nc);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(p.v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

fn sum(pts: &[Point]) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for p in pts {
        (s, c) = kahan_inc(p.v, s, c);
    }
    if s.is_infinite() {
        s
    } else {
        s + c
    }
}

/// Population variance with Kahan-compensated running mean.
fn variance(pts: &[Point]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in pts {
        count += 1.0;
        let delta = p.v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (p.v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// `max_over_time` / `min_over_time`: NaN is replaced by any later number.
fn extreme(pts: &[Point], better: impl Fn(f64, f64) -> bool) -> f64 {
    let mut best = pts[0].v;
    for p in pts {
        if better(p.v, best) || best.is_nan() {
            best = p.v;
        }
    }
    best
}

/// The value of a window aggregation; `None` for functions this does not handle.
pub(crate) fn aggregate_over_time(func: &str, pts: &[Point]) -> Option<f64> {
    Some(match func {
        "avg_over_time" => avg(pts),
        "sum_over_time" => sum(pts),
        "count_over_time" => pts.len() as f64,
        "min_over_time" => extreme(pts, |a, b| a < b),
        "max_over_time" => extreme(pts, |a, b| a > b),
        "stddev_over_time" => variance(pts).sqrt(),
        "stdvar_over_time" => variance(pts),
        "last_over_time" => pts[pts.len() - 1].v,
        "first_over_time" => pts[0].v,
        "present_over_time" => 1.0,
        "mad_over_time" => {
            let mut vals: Vec<f64> = pts.iter().map(|p| p.v).collect();
            let median = quantile(0.5, &mut vals);
            let mut dev: Vec<f64> = pts.iter().map(|p| (p.v - median).abs()).collect();
            quantile(0.5, &mut dev)
        }
        _ => return None,
    })
}

/// `quantile_over_time`.
pub(crate) fn quantile_over_time(q: f64, pts: &[Point]) -> Option<f64> {
    let mut vals: Vec<f64> = pts.iter().map(|p| p.v).collect();
    Some(quantile(q, &mut vals))
}

/// The labels `absent()` and `absent_over_time()` give their result: the `=` matchers
/// of a plain selector, except `__name__` and labels matched more than once.
pub(crate) fn absent_labels(node: &Node) -> Labels {
    let sel = match node {
        Node::Selector(s) | Node::Matrix { sel: s, .. } => s,
        _ => return Labels::new(),
    };
    let Some(matchers) = sel.alternatives.first() else {
        return Labels::new();
    };
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let mut has: Vec<&str> = Vec::new();
    for m in matchers {
        if m.name == "__name__" {
            continue;
        }
        pairs.retain(|(n, _)| *n != m.name);
        if m.op == tally_storage::MatchOp::Equal && !has.contains(&m.name.as_str()) {
            pairs.push((&m.name, &m.value));
            has.push(&m.name);
        }
    }
    Labels::from_pairs(pairs).unwrap_or_default()
}

impl Evaluator<'_> {
    /// `absent_over_time`: 1 at the steps where no series has a sample in its window.
    pub(crate) fn absent_over_time(
        &mut self,
        arg: &RangeArg,
        node: &Node,
    ) -> Result<Mat, QueryError> {
        self.check_steps()?;
        let present = self.over_windows(arg, true, |_, _, _| Ok(Some(1.0)))?;
        let mut covered = vec![false; self.num_steps()];
        for s in &present {
            for p in &s.points {
                if let Some(c) = covered.get_mut(self.step_index(p.t)) {
                    *c = true;
                }
            }
        }
        let points: Vec<Point> = self
            .steps()
            .zip(&covered)
            .filter(|(_, c)| !**c)
            .map(|(t, _)| Point { t, v: 1.0 })
            .collect();
        if points.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![Series {
            labels: absent_labels(node),
            points,
            drop_name: true,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(v: &[f64]) -> Vec<Point> {
        v.iter()
            .enumerate()
            .map(|(i, &v)| Point { t: i as i64, v })
            .collect()
    }

    #[test]
    fn window_aggregations() {
        let p = pts(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(aggregate_over_time("avg_over_time", &p), Some(2.5));
        assert_eq!(aggregate_over_time("sum_over_time", &p), Some(10.0));
        assert_eq!(aggregate_over_time("stdvar_over_time", &p), Some(1.25));
        assert_eq!(aggregate_over_time("min_over_time", &p), Some(1.0));
        assert_eq!(aggregate_over_time("last_over_time", &p), Some(4.0));
        let nan_first = pts(&[f64::NAN, 2.0]);
        assert_eq!(aggregate_over_time("max_over_time", &nan_first), Some(2.0));
    }

    #[test]
    fn avg_survives_overflow() {
        let p = pts(&[f64::MAX, f64::MAX, f64::MAX]);
        let a = aggregate_over_time("avg_over_time", &p).unwrap_or_default();
        assert!((a - f64::MAX).abs() / f64::MAX < 1e-12, "{a}");
    }
}
