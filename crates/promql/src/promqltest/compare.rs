//! Comparing a query's result with an eval's expectations, as Prometheus' runner does.

use std::collections::HashMap;
use std::fmt::Write as _;

use tally_model::{is_stale_nan, Labels};

use super::script::{AnnotationRule, Expected, TextMatch};
use super::series::Item;
use crate::annotations::Annotations;
use crate::value::{format_float, Value};

/// The smallest normal double.
const MIN_NORMAL: f64 = 2.2250738585072014e-308;

/// Float equality for expectations: NaN equals NaN, the staleness marker only itself,
/// otherwise equal or within a relative 1e-6 (an expected 0 needs an exact 0).
pub(crate) fn almost_equal(a: f64, b: f64) -> bool {
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || sum < MIN_NORMAL {
        return diff < 1e-6 * MIN_NORMAL;
    }
    diff / sum.min(f64::MAX) < 1e-6
}

fn render_expected(expected: &Expected) -> String {
    match expected {
        Expected::Scalar(v) => format!("scalar {}", format_float(*v)),
        Expected::String(s) => format!("string {s:?}"),
        Expected::Series(s) if s.is_empty() => "(empty)".to_owned(),
        Expected::Series(series) => {
            let mut out = String::new();
            for (i, (labels, items)) in series.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                let _ = write!(out, "{labels}");
                for it in items {
                    let _ = match it {
                        Item::Float(v) => write!(out, " {}", format_float(*v)),
                        Item::Stale => write!(out, " stale"),
                        Item::Missing => write!(out, " _"),
                        Item::Histogram => write!(out, " {{{{...}}}}"),
                    };
                }
            }
            out
        }
    }
}

fn render_value(v: &Value) -> String {
    let s = v.to_string();
    if s.is_empty() {
        format!("(empty {})", v.type_name())
    } else {
        s
    }
}

/// Explains a mismatch with both sides.
pub(crate) fn mismatch(why: &str, expected: &Expected, got: &Value) -> String {
    format!(
        "{why}\n    expected:\n{}\n    got:\n{}",
        indent(&render_expected(expected)),
        indent(&render_value(got))
    )
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Checks an instant result (`range` unset) or a matrix result whose expected points
/// sit at `start + k * step` (`range` set).
pub(crate) fn compare(
    expected: &Expected,
    got: &Value,
    ordered: bool,
    range: Option<(i64, i64, i64)>,
) -> Result<(), String> {
    match (expected, got) {
        (Expected::Scalar(e), Value::Scalar { value, .. }) => {
            if almost_equal(*e, *value) {
                Ok(())
            } else {
                Err(mismatch("scalar differs", expected, got))
            }
        }
        (Expected::String(e), Value::String { value, .. }) => {
            if e == value {
                Ok(())
            } else {
                Err(mismatch("string differs", expected, got))
            }
        }
        (Expected::Series(exp), Value::Vector(v)) if range.is_none() => {
            if exp.len() != v.len() {
                return Err(mismatch(
                    &format!("expected {} samples, got {}", exp.len(), v.len()),
                    expected,
                    got,
                ));
            }
            if ordered {
                for (k, ((labels, items), s)) in exp.iter().zip(v).enumerate() {
                    let ok = *labels == s.labels
                        && matches!(items.first(), Some(Item::Float(e)) if almost_equal(*e, s.value));
                    if !ok {
                        return Err(mismatch(&format!("sample {k} differs"), expected, got));
                    }
                }
                return Ok(());
            }
            let by_labels: HashMap<&Labels, &Vec<Item>> = exp.iter().map(|(l, i)| (l, i)).collect();
            for s in v {
                match by_labels.get(&s.labels) {
                    None => {
                        return Err(mismatch(
                            &format!("unexpected metric {}", s.labels),
                            expected,
                            got,
                        ))
                    }
                    Some(items) => {
                        if !matches!(items.first(), Some(Item::Float(e)) if almost_equal(*e, s.value))
                        {
                            return Err(mismatch(
                                &format!("value of {} differs", s.labels),
                                expected,
                                got,
                            ));
                        }
                    }
                }
            }
            Ok(())
        }
        (Expected::Series(exp), Value::Matrix(m)) if range.is_some() => {
            if ordered {
                return Err(mismatch(
                    "expected an ordered vector, got a matrix",
                    expected,
                    got,
                ));
            }
            if m.windows(2).any(|w| w[0].labels > w[1].labels) {
                return Err(mismatch("matrix is not sorted by labels", expected, got));
            }
            let (start, end, step) = range.unwrap_or_default();
            let by_labels: HashMap<&Labels, &Vec<Item>> = exp.iter().map(|(l, i)| (l, i)).collect();
            if m.len() != exp.len() {
                return Err(mismatch(
                    &format!("expected {} series, got {}", exp.len(), m.len()),
                    expected,
                    got,
                ));
            }
            for s in m {
                let Some(items) = by_labels.get(&s.labels) else {
                    return Err(mismatch(
                        &format!("unexpected metric {}", s.labels),
                        expected,
                        got,
                    ));
                };
                let mut want = Vec::new();
                for (k, it) in items.iter().enumerate() {
                    let t = start + k as i64 * step;
                    if t > end {
                        return Err(format!(
                            "expected values for {} reach past the end",
                            s.labels
                        ));
                    }
                    match it {
                        Item::Float(v) => want.push((t, *v)),
                        Item::Stale => want.push((t, tally_model::stale_nan())),
                        Item::Missing | Item::Histogram => {}
                    }
                }
                let ok = want.len() == s.samples.len()
                    && want
                        .iter()
                        .zip(&s.samples)
                        .all(|(w, p)| w.0 == p.timestamp_ms && almost_equal(w.1, p.value));
                if !ok {
                    return Err(mismatch(
                        &format!("points of {} differ", s.labels),
                        expected,
                        got,
                    ));
                }
            }
            Ok(())
        }
        _ => Err(mismatch("result has the wrong type", expected, got)),
    }
}

/// Checks one kind of annotation against its rule.
pub(crate) fn check_annotations(
    rule: &AnnotationRule,
    got: &[String],
    kind: &str,
) -> Result<(), String> {
    match rule {
        AnnotationRule::Unchecked => Ok(()),
        AnnotationRule::None if got.is_empty() => Ok(()),
        AnnotationRule::None => Err(format!("expected no {kind} annotations, got {got:?}")),
        AnnotationRule::Some(rules) => {
            if got.is_empty() {
                return Err(format!("expected {kind} annotations, got none"));
            }
            for r in rules {
                if !got.iter().any(|g| r.matches(g)) {
                    return Err(format!(
                        "no {kind} annotation matches {}; got {got:?}",
                        describe(r)
                    ));
                }
            }
            for g in got {
                if !rules.iter().any(|r| r.matches(g)) {
                    return Err(format!("unexpected {kind} annotation {g:?}"));
                }
            }
            Ok(())
        }
    }
}

fn describe(m: &TextMatch) -> String {
    match m {
        TextMatch::Any => "anything".to_owned(),
        TextMatch::Exact(s) => format!("{s:?}"),
        TextMatch::Regex(r) => format!("/{}/", r.as_str()),
    }
}

/// Checks both kinds of annotations.
pub(crate) fn check_all_annotations(
    warn: &AnnotationRule,
    info: &AnnotationRule,
    got: &Annotations,
) -> Result<(), String> {
    check_annotations(warn, &got.warnings(), "warning")?;
    check_annotations(info, &got.infos(), "info")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_equality_rules() {
        assert!(almost_equal(f64::NAN, f64::NAN));
        assert!(!almost_equal(f64::NAN, tally_model::stale_nan()));
        assert!(almost_equal(223.60679774998, 223.606797749979));
        assert!(!almost_equal(0.0, 1e-17));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY));
        assert!(almost_equal(0.0, -0.0));
        assert!(!almost_equal(1.0, 1.001));
    }
}
