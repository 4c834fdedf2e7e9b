//! Vector matching: which left and right samples belong together, and the labels of
//! the result.

use std::collections::{HashMap, HashSet};

use tally_model::Labels;

use super::elem;
use crate::error::{QueryError, Side};
use crate::eval::step::{Assembler, StepInput};
use crate::eval::{drop_metric_name, Evaluator, Mat};
use crate::plan::{BinOp, Cardinality, Matching};

/// The labels two series are matched on: `on(...)` keeps only those, `ignoring(...)`
/// (and no modifier) drops those and `__name__`.
pub(crate) fn signature(labels: &Labels, m: &Matching) -> Labels {
    if m.on {
        let pairs = labels
            .iter()
            .filter(|(n, _)| m.labels.iter().any(|l| l == n));
        Labels::from_pairs(pairs).unwrap_or_default()
    } else {
        let mut drop: Vec<&str> = m.labels.iter().map(String::as_str).collect();
        drop.push("__name__");
        labels.without(&drop)
    }
}

/// Numbers each distinct signature of both sides; returns per-series ordinals.
fn ordinals(l: &Mat, r: &Mat, m: &Matching) -> (Vec<usize>, Vec<usize>, Vec<Labels>) {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut sigs = Vec::new();
    let mut of = |mat: &Mat| -> Vec<usize> {
        mat.iter()
            .map(|s| {
                let sig = signature(&s.labels, m);
                *index.entry(sig.clone()).or_insert_with(|| {
                    sigs.push(sig);
                    sigs.len() - 1
                })
            })
            .collect()
    };
    let lo = of(l);
    let ro = of(r);
    (lo, ro, sigs)
}

/// The labels of a result sample from `many` (the left, or the right for
/// `group_right`) and `one`.
fn result_labels(op: BinOp, many: &Labels, one: &Labels, m: &Matching) -> Labels {
    let mut out = if op.is_comparison() {
        many.clone()
    } else {
        drop_metric_name(many)
    };
    if m.card == Cardinality::OneToOne {
        out = if m.on {
            let pairs = out.iter().filter(|(n, _)| m.labels.iter().any(|l| l == n));
            Labels::from_pairs(pairs).unwrap_or_default()
        } else {
            let drop: Vec<&str> = m.labels.iter().map(String::as_str).collect();
            out.without(&drop)
        };
    }
    for name in &m.include {
        out = match one.get(name) {
            Some(v) => out.with(name, v).unwrap_or_else(|_| out.clone()),
            None => out.without(&[name.as_str()]),
        };
    }
    out
}

impl Evaluator<'_> {
    /// `and`, `or`, `unless`.
    pub(crate) fn set_operation(
        &mut self,
        op: BinOp,
        l: &Mat,
        r: &Mat,
        m: &Matching,
    ) -> Result<Mat, QueryError> {
        let (lo, ro, sigs) = ordinals(l, r, m);
        let (mut ls, mut rs) = (StepInput::new(l), StepInput::new(r));
        let (mut lb, mut rb) = (Vec::new(), Vec::new());
        let mut out = Assembler::new();
        let mut present = vec![false; sigs.len()];
        for t in self.steps() {
            self.check_time()?;
            ls.gather(t, &mut lb);
            rs.gather(t, &mut rb);
            present.iter_mut().for_each(|p| *p = false);
            let emit = |out: &mut Assembler, mat: &Mat, i: usize, v: f64| {
                let side = usize::from(std::ptr::eq(mat, r));
                let slot = out.slot((side, i), || (mat[i].labels.clone(), mat[i].drop_name));
                out.push_to(slot, t, v)
            };
            match op {
                BinOp::And => {
                    if lb.is_empty() || rb.is_empty() {
                        continue;
                    }
                    for &(j, _) in &rb {
                        present[ro[j]] = true;
                    }
                    for &(i, v) in &lb {
                        if present[lo[i]] {
                            emit(&mut out, l, i, v)?;
                        }
                    }
                }
                BinOp::Or => {
                    for &(i, v) in &lb {
                        present[lo[i]] = true;
                        emit(&mut out, l, i, v)?;
                    }
                    for &(j, v) in &rb {
                        if !present[ro[j]] {
                            emit(&mut out, r, j, v)?;
                        }
                    }
                }
                _ => {
                    for &(j, _) in &rb {
                        present[ro[j]] = true;
                    }
                    for &(i, v) in &lb {
                        if !present[lo[i]] {
                            emit(&mut out, l, i, v)?;
                        }
                    }
                }
            }
            self.check_samples(out.points())?;
        }
        Ok(out.finish())
    }

    /// Arithmetic and comparisons between two vectors.
    pub(crate) fn vector_vector(
        &mut self,
        op: BinOp,
        l: &Mat,
        r: &Mat,
        m: &Matching,
        return_bool: bool,
    ) -> Result<Mat, QueryError> {
        let (lo, ro, sigs) = ordinals(l, r, m);
        let one_to_many = m.card == Cardinality::OneToMany;
        // The "many" side drives the loop; the "one" side must be unique per signature.
        let (many, one, many_ord, one_ord) = if one_to_many {
            (r, l, &ro, &lo)
        } else {
            (l, r, &lo, &ro)
        };
        let (mut ms, mut os) = (StepInput::new(many), StepInput::new(one));
        let (mut mb, mut ob) = (Vec::new(), Vec::new());
        let mut out = Assembler::new();
        let mut one_at: Vec<Option<(usize, f64)>> = vec![None; sigs.len()];
        // One-to-one: the step at which each signature last matched.
        let mut matched_at: Vec<Option<usize>> = vec![None; sigs.len()];
        // Many-to-one: the (signature, output series) pairs matched at this step.
        let mut matched: HashSet<(usize, usize)> = HashSet::new();
        for (step, t) in self.steps().enumerate() {
            self.check_time()?;
            ms.gather(t, &mut mb);
            os.gather(t, &mut ob);
            if mb.is_empty() || ob.is_empty() {
                continue;
            }
            one_at.iter_mut().for_each(|x| *x = None);
            for &(j, v) in &ob {
                let sig = one_ord[j];
                if let Some((prev, _)) = one_at[sig] {
                    let (mut a, mut b) = (one[j].labels.clone(), one[prev].labels.clone());
                    if b < a {
                        std::mem::swap(&mut a, &mut b);
                    }
                    return Err(QueryError::ManyToMany {
                        group: signature(&one[j].labels, m),
                        side: if one_to_many { Side::Left } else { Side::Right },
                        first: a,
                        second: b,
                    });
                }
                one_at[sig] = Some((j, v));
            }
            matched.clear();
            for &(i, v) in &mb {
                let sig = many_ord[i];
                let Some((j, ov)) = one_at[sig] else { continue };
                let (fl, fr) = if one_to_many { (ov, v) } else { (v, ov) };
                let (mut value, keep) = elem(op, fl, fr);
                if return_bool {
                    value = if keep { 1.0 } else { 0.0 };
                }
                let slot = out.slot((i, j), || {
                    (
                        result_labels(op, &many[i].labels, &one[j].labels, m),
                        return_bool,
                    )
                });
                if m.card == Cardinality::OneToOne {
                    if matched_at[sig] == Some(step) {
                        return Err(QueryError::MultipleMatches(
                            "many-to-one matching must be explicit (group_left/group_right)",
                        ));
                    }
                    matched_at[sig] = Some(step);
                } else if !matched.insert((sig, slot)) {
                    return Err(QueryError::MultipleMatches(
                        "grouping labels must ensure unique matches",
                    ));
                }
                if !keep && !return_bool {
                    continue;
                }
                out.push_to(slot, t, value)?;
            }
            self.check_samples(out.points())?;
        }
        Ok(out.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap_or_default()
    }

    #[test]
    fn matching_errors() {
        use crate::eval::test_support::{instant, store};
        let db = store(&[
            (&[("__name__", "a"), ("j", "x"), ("i", "1")], &[(0, 1.0)]),
            (&[("__name__", "a"), ("j", "x"), ("i", "2")], &[(0, 2.0)]),
            (&[("__name__", "b"), ("j", "x")], &[(0, 10.0)]),
        ]);
        let e = instant(&db, "a + on(j) b", 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
        );
        let e = instant(&db, "b + on(j) a", 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "found duplicate series for the match group {j=\"x\"} on the right hand-side of the operation: [{__name__=\"a\", i=\"1\", j=\"x\"}, {__name__=\"a\", i=\"2\", j=\"x\"}];many-to-many matching not allowed: matching labels must be unique on one side"
        );
        let ok = instant(&db, "a + on(j) group_left b", 0).unwrap();
        assert_eq!(crate::eval::test_support::values(&ok).len(), 2);
    }

    #[test]
    fn signatures_and_result_labels() {
        let on = Matching {
            card: Cardinality::OneToOne,
            on: true,
            labels: vec!["job".into()],
            include: vec![],
        };
        let s = l(&[("__name__", "m"), ("job", "a"), ("i", "1")]);
        assert_eq!(signature(&s, &on), l(&[("job", "a")]));
        let ign = Matching {
            on: false,
            labels: vec!["i".into()],
            ..on.clone()
        };
        assert_eq!(signature(&s, &ign), l(&[("job", "a")]));
        assert_eq!(result_labels(BinOp::Add, &s, &s, &on), l(&[("job", "a")]));
        let left = Matching {
            card: Cardinality::ManyToOne,
            on: true,
            labels: vec!["job".into()],
            include: vec!["role".into()],
        };
        let one = l(&[("job", "a"), ("role", "db")]);
        assert_eq!(
            result_labels(BinOp::Gt, &s, &one, &left),
            l(&[("__name__", "m"), ("job", "a"), ("i", "1"), ("role", "db")])
        );
    }
}
