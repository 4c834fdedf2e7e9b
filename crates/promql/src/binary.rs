//! Binary operators: arithmetic, comparisons (filtering, or `bool`), `atan2` and the set
//! operators, between scalars and vectors, with Prometheus' vector matching (`on`,
//! `ignoring`, `group_left`, `group_right`) in `binary/matching.rs`.

mod matching;

use promql_parser::parser::value::ValueType;
use tally_model::Labels;

use crate::error::QueryError;
use crate::eval::{Evaluator, Mat, Point, Series};
use crate::plan::{BinOp, Matching, Node};

/// The arithmetic result of `l op r` (`op` not a comparison or set operator).
pub(crate) fn arith(op: BinOp, l: f64, r: f64) -> f64 {
    match op {
        BinOp::Add => l + r,
        BinOp::Sub => l - r,
        BinOp::Mul => l * r,
        BinOp::Div => l / r,
        BinOp::Mod => l % r,
        BinOp::Pow => l.powf(r),
        BinOp::Atan2 => l.atan2(r),
        _ => f64::NAN,
    }
}

/// Whether `l op r` holds for a comparison operator.
pub(crate) fn compare(op: BinOp, l: f64, r: f64) -> bool {
    match op {
        BinOp::Eq => l == r,
        BinOp::Ne => l != r,
        BinOp::Gt => l > r,
        BinOp::Lt => l < r,
        BinOp::Ge => l >= r,
        BinOp::Le => l <= r,
        _ => false,
    }
}

/// The value of one element pair: `(value, keep)`. Comparisons keep the left value.
pub(crate) fn elem(op: BinOp, l: f64, r: f64) -> (f64, bool) {
    if op.is_comparison() {
        (l, compare(op, l, r))
    } else {
        (arith(op, l, r), true)
    }
}

impl Evaluator<'_> {
    /// Evaluates a binary operation.
    pub(crate) fn eval_binary(
        &mut self,
        op: BinOp,
        lhs: &Node,
        rhs: &Node,
        matching: &Matching,
        return_bool: bool,
    ) -> Result<Mat, QueryError> {
        let (lt, rt) = (lhs.value_type(), rhs.value_type());
        match (lt, rt) {
            (ValueType::Scalar, ValueType::Scalar) => {
                let l = self.eval_scalar(lhs)?;
                let r = self.eval_scalar(rhs)?;
                let points = self
                    .steps()
                    .zip(l.iter().zip(&r))
                    .map(|(t, (&l, &r))| {
                        let v = if op.is_comparison() {
                            f64::from(u8::from(compare(op, l, r)))
                        } else {
                            arith(op, l, r)
                        };
                        Point { t, v }
                    })
                    .collect();
                Ok(vec![Series {
                    labels: Labels::new(),
                    points,
                    drop_name: false,
                }])
            }
            (ValueType::Vector, ValueType::Scalar) => {
                let v = self.eval_mat(lhs)?;
                let s = self.eval_scalar(rhs)?;
                Ok(self.vector_scalar(op, v, &s, false, return_bool))
            }
            (ValueType::Scalar, ValueType::Vector) => {
                let s = self.eval_scalar(lhs)?;
                let v = self.eval_mat(rhs)?;
                Ok(self.vector_scalar(op, v, &s, true, return_bool))
            }
            _ => {
                let l = self.eval_mat(lhs)?;
                let r = self.eval_mat(rhs)?;
                if op.is_set() {
                    self.set_operation(op, &l, &r, matching)
                } else {
                    self.vector_vector(op, &l, &r, matching, return_bool)
                }
            }
        }
    }

    /// A vector against a scalar, series by series. `swapped`: the scalar is on the left.
    fn vector_scalar(
        &self,
        op: BinOp,
        mut v: Mat,
        scalar: &[f64],
        swapped: bool,
        return_bool: bool,
    ) -> Mat {
        let schema_change = !op.is_comparison();
        for s in &mut v {
            if schema_change || return_bool {
                s.drop_name = true;
            }
            let (start, interval) = (self.start, self.interval);
            s.points.retain_mut(|p| {
                let k = usize::try_from((p.t - start) / interval).unwrap_or(0);
                let sv = scalar.get(k).copied().unwrap_or(f64::NAN);
                let (l, r) = if swapped { (sv, p.v) } else { (p.v, sv) };
                let (mut value, mut keep) = elem(op, l, r);
                if op.is_comparison() {
                    value = p.v;
                }
                if return_bool {
                    value = if keep { 1.0 } else { 0.0 };
                    keep = true;
                }
                p.v = value;
                keep
            });
        }
        v.retain(|s| !s.points.is_empty());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_semantics() {
        assert!(arith(BinOp::Mod, 1.0, 0.0).is_nan());
        assert_eq!(arith(BinOp::Mod, -7.0, 3.0), -1.0);
        assert_eq!(arith(BinOp::Div, 1.0, 0.0), f64::INFINITY);
        assert_eq!(arith(BinOp::Pow, 2.0, 10.0), 1024.0);
        assert_eq!(elem(BinOp::Gt, 3.0, 1.0), (3.0, true));
        assert!(!elem(BinOp::Eq, f64::NAN, f64::NAN).1);
    }
}
