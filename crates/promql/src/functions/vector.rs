//! Functions over whole vectors at each step: `sort`, `sort_desc`, `sort_by_label`,
//! `sort_by_label_desc`, `absent`, `scalar`; and the scalar sources `vector`, `time`,
//! `pi`.

use std::cmp::Ordering;

use tally_model::Labels;

use crate::annotations::AnnotationKind;
use crate::error::QueryError;
use crate::eval::step::{Assembler, StepInput};
use crate::eval::{Evaluator, Mat, Point, Series};
use crate::numeric::go_sort;
use crate::plan::Node;

use super::over_time::absent_labels;

/// Natural order of two strings: runs of digits compare as numbers.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let b = s.as_bytes();
        for i in 1..=b.len() {
            if i == b.len() || b[i].is_ascii_digit() != b[start].is_ascii_digit() {
                out.push((b[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let o = if x.0 && y.0 {
            let (tx, ty) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
            tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
        } else {
            x.1.cmp(y.1)
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    ca.len().cmp(&cb.len())
}

impl Evaluator<'_> {
    /// A series without labels with `f(step time)` at every step.
    fn steps_series(&self, f: impl Fn(i64) -> f64) -> Result<Mat, QueryError> {
        self.check_steps()?;
        Ok(vec![Series {
            labels: Labels::new(),
            points: self.steps().map(|t| Point { t, v: f(t) }).collect(),
            drop_name: false,
        }])
    }

    /// Evaluates one of this module's functions; `None` if `func` is not one.
    pub(crate) fn eval_vector_function(
        &mut self,
        func: &str,
        args: &[Node],
        pos: usize,
    ) -> Result<Option<Mat>, QueryError> {
        let out = match func {
            "time" => self.steps_series(|t| t as f64 / 1000.0)?,
            "pi" => self.constant(std::f64::consts::PI)?,
            "vector" => {
                let v = self.eval_scalar(&args[0])?;
                self.steps_series(|t| v[self.step_index(t)])?
            }
            "scalar" => {
                self.check_steps()?;
                let m = self.eval_mat(&args[0])?;
                let mut input = StepInput::new(&m);
                let mut buf = Vec::new();
                let mut points = Vec::with_capacity(self.num_steps());
                for t in self.steps() {
                    input.gather(t, &mut buf);
                    let v = match buf.as_slice() {
                        [(_, v)] => *v,
                        _ => f64::NAN,
                    };
                    points.push(Point { t, v });
                }
                vec![Series {
                    labels: Labels::new(),
                    points,
                    drop_name: false,
                }]
            }
            "absent" => {
                let m = self.eval_mat(&args[0])?;
                let mut input = StepInput::new(&m);
                let mut buf = Vec::new();
                let mut points = Vec::new();
                for t in self.steps() {
                    input.gather(t, &mut buf);
                    if buf.is_empty() {
                        points.push(Point { t, v: 1.0 });
                    }
                }
                if points.is_empty() {
                    Vec::new()
                } else {
                    vec![Series {
                        labels: absent_labels(&args[0]),
                        points,
                        drop_name: false,
                    }]
                }
            }
            "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => {
                if self.ctx.range_query {
                    self.annotate(
                        AnnotationKind::Warning,
                        "sort is ineffective for range queries since results are always ordered by labels".to_owned(),
                        pos,
                    );
                }
                let labels: Vec<String> = args[1..]
                    .iter()
                    .filter_map(|a| match a {
                        Node::String(s) => Some(s.text()),
                        _ => None,
                    })
                    .collect();
                let m = self.eval_mat(&args[0])?;
                self.sort_steps(&m, func, &labels)?
            }
            _ => return Ok(None),
        };
        Ok(Some(out))
    }

    fn sort_steps(&mut self, m: &Mat, func: &str, by: &[String]) -> Result<Mat, QueryError> {
        let mut input = StepInput::new(m);
        let mut buf = Vec::new();
        let mut out = Assembler::new();
        for t in self.steps() {
            input.gather(t, &mut buf);
            match func {
                // Ascending, NaN last (Go's reversed `vectorByReverseValueHeap`).
                "sort" => go_sort(&mut buf, |a, b| b.1.is_nan() || a.1 < b.1),
                // Descending, NaN last.
                "sort_desc" => go_sort(&mut buf, |a, b| b.1.is_nan() || a.1 > b.1),
                _ => {
                    let desc = func == "sort_by_label_desc";
                    buf.sort_by(|a, b| {
                        let (la, lb) = (&m[a.0].labels, &m[b.0].labels);
                        let mut o = Ordering::Equal;
                        for l in by {
                            let (x, y) = (la.get(l).unwrap_or(""), lb.get(l).unwrap_or(""));
                            if x != y {
                                o = natural_cmp(x, y);
                                break;
                            }
                        }
                        let o = o.then_with(|| la.cmp(lb));
                        if desc {
                            o.reverse()
                        } else {
                            o
                        }
                    });
                }
            }
            for &(i, v) in &buf {
                let slot = out.slot((0, i), || (m[i].labels.clone(), m[i].drop_name));
                out.push_to(slot, t, v)?;
            }
        }
        Ok(out.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        assert_eq!(natural_cmp("a2", "a10"), Ordering::Less);
        assert_eq!(natural_cmp("b", "a10"), Ordering::Greater);
        assert_eq!(natural_cmp("x", "x1"), Ordering::Less);
    }
}
