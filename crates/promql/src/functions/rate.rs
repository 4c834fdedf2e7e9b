//! Rates and derivatives over range vectors: `rate`, `increase`, `delta`, `irate`,
//! `idelta`, `deriv`, `predict_linear`, `resets`, `changes`.

use crate::annotations::AnnotationKind;
use crate::error::QueryError;
use crate::eval::range::Window;
use crate::eval::{Evaluator, Mat, Point};
use crate::numeric::kahan_inc;
use crate::plan::Node;

use super::arg_offset;

/// `rate`, `increase`, `delta`: the change over the window, extrapolated towards the
/// window's ends when the samples come close enough to them (within 110% of the average
/// sample spacing; otherwise by half a spacing), never below zero for counters.
pub(crate) fn extrapolated_rate(w: &Window<'_>, is_counter: bool, is_rate: bool) -> Option<f64> {
    let pts = w.points;
    if pts.len() < 2 {
        return None;
    }
    let (first, last) = (pts[0], pts[pts.len() - 1]);
    let range_start = w.reft - w.range_ms;
    let range_end = w.reft;
    let mut result = last.v - first.v;
    if is_counter {
        for pair in pts.windows(2) {
            if pair[1].v < pair[0].v {
                result += pair[0].v;
            }
        }
    }
    let mut to_start = (first.t - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let average = sampled / (pts.len() - 1) as f64;
    let threshold = average * 1.1;
    if to_start >= threshold {
        to_start = average / 2.0;
    }
    if is_counter {
        let mut to_zero = to_start;
        if result > 0.0 && first.v >= 0.0 {
            to_zero = sampled * (first.v / result);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = average / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= w.range_ms as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `irate` and `idelta`: from the last two samples.
fn instant_value(pts: &[Point], is_rate: bool) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let (prev, last) = (pts[pts.len() - 2], pts[pts.len() - 1]);
    let interval = last.t - prev.t;
    if interval == 0 {
        return None;
    }
    let mut v = last.v;
    if !is_rate || last.v >= prev.v || last.v.is_nan() || prev.v.is_nan() {
        v = last.v - prev.v;
    }
    if is_rate {
        v /= interval as f64 / 1000.0;
    }
    Some(v)
}

/// Least-squares fit of the samples; the intercept is at `intercept_t`.
pub(crate) fn linear_regression(pts: &[Point], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = pts[0].v;
    let mut const_y = true;
    for (i, p) in pts.iter().enumerate() {
        if const_y && i > 0 && p.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (p.t - intercept_t) as f64 / 1e3;
        (sum_x, c_x) = kahan_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_inc(p.v, sum_y, c_y);
        (sum_xy, c_xy) = kahan_inc(x * p.v, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sum_x += c_x;
    sum_y += c_y;
    sum_xy += c_xy;
    sum_x2 += c_x2;
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

fn resets(pts: &[Point]) -> f64 {
    pts.windows(2).filter(|p| p[1].v < p[0].v).count() as f64
}

fn changes(pts: &[Point]) -> f64 {
    pts.windows(2)
        .filter(|p| p[1].v != p[0].v && !(p[1].v.is_nan() && p[0].v.is_nan()))
        .count() as f64
}

/// Whether a metric name looks like a counter's.
fn counter_name(name: &str) -> bool {
    ["_total", "_sum", "_count", "_bucket"]
        .iter()
        .any(|s| name.ends_with(s))
}

impl Evaluator<'_> {
    /// Evaluates `func` if it takes a range vector; `None` for other functions.
    pub(crate) fn eval_range_function(
        &mut self,
        func: &str,
        args: &[Node],
        pos: usize,
        arg_pos: &[usize],
    ) -> Result<Option<Mat>, QueryError> {
        let (matrix_index, drop_name) = match func {
            "rate" | "increase" | "delta" | "irate" | "idelta" | "deriv" | "resets" | "changes"
            | "avg_over_time" | "min_over_time" | "max_over_time" | "sum_over_time"
            | "count_over_time" | "stddev_over_time" | "stdvar_over_time" | "present_over_time"
            | "absent_over_time" | "predict_linear" | "mad_over_time" => (0, true),
            "last_over_time" | "first_over_time" => (0, false),
            "quantile_over_time" => (1, true),
            _ => return Ok(None),
        };
        let scalar = match func {
            "predict_linear" => Some(self.eval_scalar(&args[1])?),
            "quantile_over_time" => Some(self.eval_scalar(&args[0])?),
            _ => None,
        };
        let arg = self.range_arg(&args[matrix_index])?;
        if func == "absent_over_time" {
            return self.absent_over_time(&arg, &args[matrix_index]).map(Some);
        }
        let arg0 = arg_offset(pos, arg_pos, 0);
        let scalar = scalar.unwrap_or_default();
        let mut non_counters = Vec::new();
        let out = self.over_windows(&arg, drop_name, |ev, _labels, w| {
            let pts = w.points;
            let v = match func {
                "rate" => extrapolated_rate(&w, true, true),
                "increase" => extrapolated_rate(&w, true, false),
                "delta" => extrapolated_rate(&w, false, false),
                "irate" => instant_value(pts, true),
                "idelta" => instant_value(pts, false),
                "deriv" => (pts.len() >= 2).then(|| linear_regression(pts, pts[0].t).0),
                "predict_linear" => (pts.len() >= 2).then(|| {
                    let (slope, intercept) = linear_regression(pts, w.t);
                    slope * scalar[w.step] + intercept
                }),
                "resets" => Some(resets(pts)),
                "changes" => Some(changes(pts)),
                "quantile_over_time" => {
                    let q = scalar[w.step];
                    if q.is_nan() || !(0.0..=1.0).contains(&q) {
                        ev.annotate(
                            AnnotationKind::Warning,
                            format!(
                                "quantile value should be between 0 and 1, got {}",
                                crate::numeric::go_fmt_g(q)
                            ),
                            arg0,
                        );
                    }
                    super::over_time::quantile_over_time(q, pts)
                }
                _ => super::over_time::aggregate_over_time(func, pts),
            };
            Ok(v)
        })?;
        // Checked once a series, not once a step: a series is in `out` when it has a
        // value at some step, and keeps its name there until the name is dropped.
        if func == "rate" || func == "increase" {
            for name in out.iter().filter_map(|s| s.labels.get("__name__")) {
                if !counter_name(name) && !non_counters.iter().any(|n: &String| n == name) {
                    non_counters.push(name.to_owned());
                }
            }
        }
        for name in non_counters {
            self.annotate(
                AnnotationKind::Info,
                format!(
                    "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"
                ),
                arg0,
            );
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(v: &[(i64, f64)]) -> Vec<Point> {
        v.iter().map(|&(t, v)| Point { t, v }).collect()
    }

    fn win(points: &[Point], reft: i64, range_ms: i64) -> Window<'_> {
        Window {
            points,
            t: reft,
            reft,
            range_ms,
            step: 0,
        }
    }

    #[test]
    fn rate_extrapolates_to_the_window() {
        // 0, 10, ..., 50 at 0s..50s; window (0, 60s] holds 10..50 (5 samples).
        let p = pts(&[
            (10_000, 10.0),
            (20_000, 20.0),
            (30_000, 30.0),
            (40_000, 40.0),
            (50_000, 50.0),
        ]);
        let r = extrapolated_rate(&win(&p, 60_000, 60_000), true, true).unwrap();
        assert!((r - 1.0).abs() < 1e-12, "{r}");
    }

    #[test]
    fn counter_resets_are_added_back() {
        let p = pts(&[(0, 10.0), (10_000, 20.0), (20_000, 5.0)]);
        let inc = extrapolated_rate(&win(&p, 20_000, 20_000), true, false).unwrap();
        // 20 - 10 + 5 over the sampled 20s, window 20s: no extrapolation at the end,
        // start extrapolation limited by the zero point.
        assert!(inc > 14.9, "{inc}");
    }

    #[test]
    fn irate_uses_last_two_samples() {
        let p = pts(&[(0, 1.0), (10_000, 5.0), (20_000, 2.0)]);
        assert_eq!(instant_value(&p, true), Some(0.2));
        assert_eq!(instant_value(&p, false), Some(-3.0));
    }

    #[test]
    fn regression_of_a_line() {
        let p = pts(&[(0, 1.0), (1000, 3.0), (2000, 5.0)]);
        let (slope, intercept) = linear_regression(&p, 0);
        assert_eq!((slope, intercept), (2.0, 1.0));
        assert_eq!(changes(&p), 2.0);
        assert_eq!(resets(&p), 0.0);
    }
}
