//! `histogram_quantile` and `histogram_fraction` over classic histograms: series that
//! differ only in their `le` label are the cumulative buckets of one histogram.

use std::collections::HashMap;

use tally_model::Labels;

use crate::annotations::AnnotationKind;
use crate::error::QueryError;
use crate::eval::step::{Assembler, StepInput};
use crate::eval::{Evaluator, Mat};
use crate::numeric::go_fmt_g;
use crate::plan::{go_quote, Node};

use super::arg_offset;

/// One bucket: upper bound and cumulative count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    pub upper: f64,
    pub count: f64,
}

fn sort_and_coalesce(buckets: &mut Vec<Bucket>) {
    buckets.sort_by(|a, b| {
        a.upper
            .partial_cmp(&b.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    buckets.dedup_by(|later, kept| {
        if later.upper == kept.upper {
            kept.count += later.count;
            true
        } else {
            false
        }
    });
}

/// Flattens differences smaller than `tolerance` (relative), which floating point
/// arithmetic on buckets produces.
fn correct_precision(buckets: &mut [Bucket], tolerance: f64) {
    let Some(first) = buckets.first() else { return };
    let mut prev = first.count;
    for b in buckets.iter_mut().skip(1) {
        let delta = (b.count - prev).abs();
        if delta == 0.0 {
            continue;
        }
        if delta / b.count <= tolerance {
            b.count = prev;
        } else {
            prev = b.count;
        }
    }
}

/// Raises every count to at least the count before it; true if anything changed.
fn ensure_monotonic(buckets: &mut [Bucket]) -> bool {
    let Some(first) = buckets.first() else {
        return false;
    };
    let mut max = first.count;
    let mut forced = false;
    for b in buckets.iter_mut().skip(1) {
        if b.count > max {
            max = b.count;
        } else if b.count < max {
            b.count = max;
            forced = true;
        }
    }
    forced
}

/// The `q` quantile of a classic histogram, interpolating linearly within the bucket
/// (from 0 for a positive lowest bucket). The flag says whether bucket counts had to
/// be made monotonic.
pub(crate) fn bucket_quantile(q: f64, mut buckets: Vec<Bucket>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    sort_and_coalesce(&mut buckets);
    if buckets.last().is_none_or(|b| b.upper != f64::INFINITY) {
        return (f64::NAN, false);
    }
    correct_precision(&mut buckets, 1e-12);
    let forced = ensure_monotonic(&mut buckets);
    if buckets.len() < 2 {
        return (f64::NAN, false);
    }
    let n = buckets.len();
    let observations = buckets[n - 1].count;
    if observations == 0.0 {
        return (f64::NAN, false);
    }
    let mut rank = q * observations;
    let b = buckets[..n - 1].partition_point(|b| b.count < rank);
    if b == n - 1 {
        return (buckets[n - 2].upper, forced);
    }
    if b == 0 && buckets[0].upper <= 0.0 {
        return (buckets[0].upper, forced);
    }
    let (mut start, end, mut count) = (0.0, buckets[b].upper, buckets[b].count);
    if b > 0 {
        start = buckets[b - 1].upper;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    (start + (end - start) * (rank / count), forced)
}

/// The share of observations between `lower` and `upper` in a classic histogram.
/// Within the lowest and the `+Inf` bucket nothing is interpolated: a bound there
/// counts as the bucket's finite edge.
pub(crate) fn bucket_fraction(lower: f64, upper: f64, mut buckets: Vec<Bucket>) -> f64 {
    sort_and_coalesce(&mut buckets);
    if buckets.last().is_none_or(|b| b.upper != f64::INFINITY) {
        return f64::NAN;
    }
    let count = buckets[buckets.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let rank = |x: f64| -> f64 {
        let mut prev = 0.0;
        for (i, b) in buckets.iter().enumerate() {
            let lo = if i == 0 {
                if b.upper > 0.0 {
                    0.0
                } else {
                    f64::NEG_INFINITY
                }
            } else {
                buckets[i - 1].upper
            };
            if x <= lo {
                return prev;
            }
            if x <= b.upper {
                if x == b.upper || lo == f64::NEG_INFINITY {
                    return b.count;
                }
                if b.upper == f64::INFINITY {
                    return prev;
                }
                return prev + (b.count - prev) * (x - lo) / (b.upper - lo);
            }
            prev = b.count;
        }
        count
    };
    (rank(upper).min(count) - rank(lower).min(count)) / count
}

/// The buckets of one step, grouped by histogram.
struct Grouped {
    /// Per input series: its histogram's index and its bucket's upper bound.
    series: Vec<Option<(usize, f64)>>,
    /// Per histogram: output labels (no `le`) and the metric name.
    groups: Vec<(Labels, Option<String>)>,
}

impl Evaluator<'_> {
    /// Assigns the series of `m` to histograms, warning about bad `le` labels.
    fn group_buckets(&mut self, m: &Mat, arg_pos: usize) -> Grouped {
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut groups = Vec::new();
        let mut series = Vec::with_capacity(m.len());
        for s in m {
            let le = s.labels.get("le").unwrap_or("");
            let Ok(upper) = le.parse::<f64>() else {
                let mut msg = format!(
                    "bucket label \"le\" is missing or has a malformed value of {}",
                    go_quote(le.as_bytes())
                );
                if let Some(name) = s
                    .labels
                    .get("__name__")
                    .filter(|_| self.ctx.delayed_name_removal)
                {
                    msg.push_str(&format!(" for metric name {}", go_quote(name.as_bytes())));
                }
                self.annotate(AnnotationKind::Warning, msg, arg_pos);
                series.push(None);
                continue;
            };
            let key = s.labels.without(&["le"]);
            let g = *index.entry(key.clone()).or_insert_with(|| {
                groups.push((key, s.labels.get("__name__").map(str::to_owned)));
                groups.len() - 1
            });
            series.push(Some((g, upper)));
        }
        Grouped { series, groups }
    }

    /// Runs `f` over each histogram's buckets at each step.
    fn per_histogram(
        &mut self,
        m: &Mat,
        arg_pos: usize,
        mut f: impl FnMut(&mut Self, usize, &Option<String>, Vec<Bucket>) -> f64,
    ) -> Result<Mat, QueryError> {
        let grouped = self.group_buckets(m, arg_pos);
        let mut input = StepInput::new(m);
        let mut buf = Vec::new();
        let mut out = Assembler::new();
        let mut per_group: Vec<Vec<Bucket>> = vec![Vec::new(); grouped.groups.len()];
        for (k, t) in self.steps().enumerate() {
            input.gather(t, &mut buf);
            for b in &mut per_group {
                b.clear();
            }
            for &(i, v) in &buf {
                if let Some((g, upper)) = grouped.series[i] {
                    per_group[g].push(Bucket { upper, count: v });
                }
            }
            for (g, buckets) in per_group.iter_mut().enumerate() {
                if buckets.is_empty() {
                    continue;
                }
                let (labels, name) = &grouped.groups[g];
                let v = f(self, k, name, std::mem::take(buckets));
                let slot = out.slot((0, g), || (labels.clone(), true));
                out.push_to(slot, t, v)?;
            }
        }
        Ok(out.finish())
    }

    /// `histogram_quantile(q, buckets)`.
    pub(crate) fn eval_histogram_quantile(
        &mut self,
        args: &[Node],
        pos: usize,
        arg_pos: &[usize],
    ) -> Result<Mat, QueryError> {
        let q = self.eval_scalar(&args[0])?;
        for &qv in &q {
            if qv.is_nan() || !(0.0..=1.0).contains(&qv) {
                self.annotate(
                    AnnotationKind::Warning,
                    format!(
                        "quantile value should be between 0 and 1, got {}",
                        go_fmt_g(qv)
                    ),
                    arg_offset(pos, arg_pos, 0),
                );
            }
        }
        let m = self.eval_mat(&args[1])?;
        let vec_pos = arg_offset(pos, arg_pos, 1);
        self.per_histogram(&m, vec_pos, |ev, k, name, buckets| {
            let (v, forced) = bucket_quantile(q[k], buckets);
            if forced {
                let mut msg = "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)".to_owned();
                if let Some(n) = name.as_ref().filter(|_| ev.ctx.delayed_name_removal) {
                    msg.push_str(&format!(" for metric name {}", go_quote(n.as_bytes())));
                }
                ev.annotate(AnnotationKind::Info, msg, vec_pos);
            }
            v
        })
    }

    /// `histogram_fraction(lower, upper, buckets)`.
    pub(crate) fn eval_histogram_fraction(
        &mut self,
        args: &[Node],
        pos: usize,
        arg_pos: &[usize],
    ) -> Result<Mat, QueryError> {
        let lower = self.eval_scalar(&args[0])?;
        let upper = self.eval_scalar(&args[1])?;
        let m = self.eval_mat(&args[2])?;
        self.per_histogram(&m, arg_offset(pos, arg_pos, 2), |_, k, _, buckets| {
            bucket_fraction(lower[k], upper[k], buckets)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[(f64, f64)]) -> Vec<Bucket> {
        v.iter()
            .map(|&(upper, count)| Bucket { upper, count })
            .collect()
    }

    #[test]
    fn quantile_interpolates_in_bucket() {
        let h = b(&[
            (0.0, 0.0),
            (2.0, 1.0),
            (4.0, 2.0),
            (6.0, 3.0),
            (f64::INFINITY, 3.0),
        ]);
        assert_eq!(bucket_quantile(0.5, h.clone()).0, 3.0);
        assert_eq!(bucket_quantile(1.0, h.clone()).0, 6.0);
        assert!(bucket_quantile(0.5, b(&[(1.0, 1.0)])).0.is_nan());
        let (v, forced) = bucket_quantile(0.5, b(&[(1.0, 5.0), (2.0, 3.0), (f64::INFINITY, 6.0)]));
        assert!(forced);
        assert!(v.is_finite());
    }

    #[test]
    fn fraction_treats_infinite_buckets_as_edges() {
        let neg = b(&[
            (-3.0, 10.0),
            (-2.0, 12.0),
            (-1.0, 15.0),
            (f64::INFINITY, 100.0),
        ]);
        assert!((bucket_fraction(-4.0, -2.0, neg.clone()) - 0.02).abs() < 1e-12);
        assert!((bucket_fraction(f64::NEG_INFINITY, -1.5, neg) - 0.135).abs() < 1e-12);
        let pos = b(&[(1.0, 1.0), (2.0, 3.0), (3.0, 6.0), (f64::INFINITY, 100.0)]);
        assert!((bucket_fraction(400.0, f64::INFINITY, pos.clone()) - 0.94).abs() < 1e-12);
        assert_eq!(bucket_fraction(4.0, 5.0, pos.clone()), 0.0);
        assert!((bucket_fraction(0.0, 1.5, pos) - 0.02).abs() < 1e-12);
    }
}
