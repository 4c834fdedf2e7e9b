//! Element-wise functions: each output sample is a function of one input sample (and
//! per-step scalar arguments). They all drop the metric name.

use crate::error::QueryError;
use crate::eval::{Evaluator, Mat};
use crate::plan::Node;

/// Go's `math.Max`: NaN wins, +0 beats -0.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_positive() {
            a
        } else {
            b
        }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Go's `math.Min`: NaN wins, -0 beats +0.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

fn sgn(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else if v > 0.0 {
        1.0
    } else {
        v
    }
}

/// The one-argument float function called `name`.
fn simple(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "sgn" => sgn,
        _ => return None,
    })
}

impl Evaluator<'_> {
    /// Maps every point of `mat` with `f(value, step index)`; points for which `f`
    /// returns `None` are dropped. The metric name goes.
    pub(crate) fn map_points(&self, mut mat: Mat, f: impl Fn(f64, usize) -> Option<f64>) -> Mat {
        for s in &mut mat {
            s.drop_name = true;
            let start = self.start;
            let interval = self.interval;
            s.points.retain_mut(|p| {
                let step = usize::try_from((p.t - start) / interval).unwrap_or(0);
                match f(p.v, step) {
                    Some(v) => {
                        p.v = v;
                        true
                    }
                    None => false,
                }
            });
        }
        mat.retain(|s| !s.points.is_empty());
        mat
    }

    /// Evaluates an element-wise function; `None` if `func` is not one.
    pub(crate) fn eval_math_function(
        &mut self,
        func: &str,
        args: &[Node],
    ) -> Result<Option<Mat>, QueryError> {
        if let Some(f) = simple(func) {
            let m = self.eval_mat(&args[0])?;
            return Ok(Some(self.map_points(m, |v, _| Some(f(v)))));
        }
        if matches!(func, "round" | "clamp" | "clamp_min" | "clamp_max") {
            // Their scalar arguments are held per step.
            self.check_steps()?;
        }
        let out = match func {
            "round" => {
                let to_nearest = match args.get(1) {
                    Some(a) => self.eval_scalar(a)?,
                    None => vec![1.0; self.num_steps()],
                };
                let m = self.eval_mat(&args[0])?;
                self.map_points(m, |v, k| {
                    let inverse = 1.0 / to_nearest[k];
                    Some((v * inverse + 0.5).floor() / inverse)
                })
            }
            "clamp" | "clamp_min" | "clamp_max" => {
                let (lo, hi) = match func {
                    "clamp" => (self.eval_scalar(&args[1])?, self.eval_scalar(&args[2])?),
                    "clamp_min" => (
                        self.eval_scalar(&args[1])?,
                        vec![f64::INFINITY; self.num_steps()],
                    ),
                    _ => (
                        vec![f64::NEG_INFINITY; self.num_steps()],
                        self.eval_scalar(&args[1])?,
                    ),
                };
                let m = self.eval_mat(&args[0])?;
                self.map_points(m, |v, k| {
                    (hi[k] >= lo[k] || hi[k].is_nan() || lo[k].is_nan())
                        .then(|| go_max(lo[k], go_min(hi[k], v)))
                })
            }
            "timestamp" => match &args[0] {
                Node::Selector(sel) => self.eval_selector_with(sel, true)?,
                other => {
                    let m = self.eval_mat(other)?;
                    let (start, interval) = (self.start, self.interval);
                    self.map_points(m, |_, k| {
                        Some((start + k as i64 * interval) as f64 / 1000.0)
                    })
                }
            },
            _ => return Ok(None),
        };
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_min_max_semantics() {
        assert!(go_max(1.0, f64::NAN).is_nan());
        assert!(go_min(f64::NAN, 1.0).is_nan());
        assert!(go_max(-0.0, 0.0).is_sign_positive());
        assert!(go_min(0.0, -0.0).is_sign_negative());
        assert_eq!(go_max(1.0, 2.0), 2.0);
    }

    #[test]
    fn simple_functions() {
        let sgn = simple("sgn").unwrap_or(f64::abs);
        assert_eq!(sgn(-3.0), -1.0);
        assert!(sgn(f64::NAN).is_nan());
        let deg = simple("deg").unwrap_or(f64::abs);
        assert!((deg(std::f64::consts::PI) - 180.0).abs() < 1e-12);
    }
}
