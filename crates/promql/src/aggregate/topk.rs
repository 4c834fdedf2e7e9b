//! `topk` and `bottomk`: the k largest or smallest samples of each group, with Go's
//! heap and sort so ties and NaNs come out in the order Prometheus gives them.

use crate::error::QueryError;
use crate::eval::step::{Assembler, StepInput};
use crate::eval::{Evaluator, Mat};
use crate::numeric::{go_fmt_g, go_sort};
use crate::plan::{AggOp, Grouping};

use super::{assign_groups, nan_max, nan_min};

/// The largest float that converts to an int64 without overflow.
const MAX_INT64: f64 = 9_223_372_036_854_774_784.0;
const MIN_INT64: f64 = -9_223_372_036_854_775_808.0;

/// A sample in a heap: input series index and value.
type Entry = (usize, f64);

/// Go's `container/heap` up.
fn up(h: &mut [Entry], mut j: usize, less: &impl Fn(f64, f64) -> bool) {
    while j > 0 {
        let i = (j - 1) / 2;
        if !less(h[j].1, h[i].1) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

/// Go's `container/heap` down; true if the element moved.
fn down(h: &mut [Entry], i0: usize, less: &impl Fn(f64, f64) -> bool) -> bool {
    let n = h.len();
    let mut i = i0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        if j1 + 1 < n && less(h[j1 + 1].1, h[j1].1) {
            j = j1 + 1;
        }
        if !less(h[j].1, h[i].1) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
    i > i0
}

impl Evaluator<'_> {
    /// `topk(k, v)` / `bottomk(k, v)`.
    pub(crate) fn eval_topk(
        &mut self,
        op: AggOp,
        input: &Mat,
        params: &[f64],
        grouping: &Grouping,
    ) -> Result<Mat, QueryError> {
        if nan_max(params) < 1.0 {
            return Ok(Vec::new());
        }
        if params.iter().any(|p| p.is_nan()) {
            return Err(QueryError::InvalidArgument(
                "Parameter value is NaN".to_owned(),
            ));
        }
        let min = nan_min(params);
        if min <= MIN_INT64 {
            return Err(QueryError::InvalidArgument(format!(
                "Scalar value {} underflows int64",
                go_fmt_g(min)
            )));
        }
        let max = nan_max(params);
        if max >= MAX_INT64 {
            return Err(QueryError::InvalidArgument(format!(
                "Scalar value {} overflows int64",
                go_fmt_g(max)
            )));
        }
        let top = op == AggOp::Topk;
        // The heap keeps the sample to evict first on top: the smallest for topk, the
        // largest for bottomk, NaN before anything.
        let heap_less = move |a: f64, b: f64| a.is_nan() || if top { a < b } else { a > b };
        let (of_series, groups) = assign_groups(input, grouping);
        let mut heaps: Vec<Vec<Entry>> = vec![Vec::new(); groups.len()];
        let mut stepper = StepInput::new(input);
        let mut buf = Vec::new();
        let mut out = Assembler::new();
        for (step, t) in self.steps().enumerate() {
            self.check_time()?;
            stepper.gather(t, &mut buf);
            let k = (params[step] as i64).min(input.len() as i64);
            if k < 1 {
                continue;
            }
            let k = usize::try_from(k).unwrap_or(0);
            for h in &mut heaps {
                h.clear();
            }
            for &(i, v) in &buf {
                let h = &mut heaps[of_series[i]];
                if h.len() < k {
                    h.push((i, v));
                    let last = h.len() - 1;
                    up(h, last, &heap_less);
                } else if (if top { h[0].1 < v } else { h[0].1 > v })
                    || (h[0].1.is_nan() && !v.is_nan())
                {
                    h[0] = (i, v);
                    if k > 1 && !down(h, 0, &heap_less) {
                        up(h, 0, &heap_less);
                    }
                }
            }
            for h in &mut heaps {
                // Sorted with the evicted-first sample last, NaN last.
                go_sort(h, |a, b| {
                    b.1.is_nan() || if top { a.1 > b.1 } else { a.1 < b.1 }
                });
                for &(i, v) in h.iter() {
                    let slot = out.slot((0, i), || (input[i].labels.clone(), input[i].drop_name));
                    out.push_to(slot, t, v)?;
                }
            }
        }
        Ok(out.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_keeps_smallest_on_top() {
        let less = |a: f64, b: f64| a.is_nan() || a < b;
        let mut h: Vec<Entry> = Vec::new();
        for (i, v) in [5.0, 3.0, 8.0, 1.0].into_iter().enumerate() {
            h.push((i, v));
            let last = h.len() - 1;
            up(&mut h, last, &less);
        }
        assert_eq!(h[0].1, 1.0);
        h[0] = (9, 6.0);
        down(&mut h, 0, &less);
        assert_eq!(h[0].1, 3.0);
    }

    #[test]
    fn ties_and_nan_come_out_as_in_prometheus() {
        use crate::eval::test_support::{instant, store, values};
        let db = store(&[
            (&[("__name__", "m"), ("i", "a")], &[(0, 1.0)]),
            (&[("__name__", "m"), ("i", "b")], &[(0, 3.0)]),
            (&[("__name__", "m"), ("i", "c")], &[(0, f64::NAN)]),
            (&[("__name__", "m"), ("i", "d")], &[(0, 3.0)]),
            (&[("__name__", "m"), ("i", "e")], &[(0, 2.0)]),
        ]);
        let top = instant(&db, "topk(3, m)", 0).unwrap();
        assert_eq!(values(&top), [3.0, 3.0, 2.0]);
        let bottom = instant(&db, "bottomk(10, m)", 0).unwrap();
        let v = values(&bottom);
        assert_eq!(&v[..4], [1.0, 2.0, 3.0, 3.0]);
        assert!(v[4].is_nan());
        assert!(values(&instant(&db, "topk(0, m)", 0).unwrap()).is_empty());
        let e = instant(&db, "topk(scalar(nothing), m)", 0).unwrap_err();
        assert_eq!(e.to_string(), "Parameter value is NaN");
    }

    #[test]
    fn go_v_format() {
        assert_eq!(go_fmt_g(-9.223372036854776e18), "-9.223372036854776e+18");
    }
}
