//! The values a query returns, shaped like Prometheus' result types: a scalar, a string,
//! an instant vector or a range vector (matrix).

use std::fmt;

use tally_model::Labels;
pub use tally_storage::Series;

/// One element of an instant vector: a series' labels and its value at the evaluation
/// time.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    /// The series' labels (`__name__` dropped where PromQL drops it).
    pub labels: Labels,
    /// The evaluation timestamp in milliseconds.
    pub timestamp_ms: i64,
    /// The value.
    pub value: f64,
}

/// The result of a query.
///
/// A range query always returns a [`Value::Matrix`] sorted by label set; an instant
/// query returns whatever its expression's type is. A vector keeps the order the
/// expression produced (what `sort`, `topk` and friends are for).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A single number at the evaluation time.
    Scalar {
        /// The evaluation timestamp in milliseconds.
        timestamp_ms: i64,
        /// The value.
        value: f64,
    },
    /// A string literal's value.
    String {
        /// The evaluation timestamp in milliseconds.
        timestamp_ms: i64,
        /// The string.
        value: String,
    },
    /// An instant vector.
    Vector(Vec<VectorSample>),
    /// A range vector: series with samples over time, sorted by label set.
    Matrix(Vec<Series>),
}

impl Value {
    /// The type's name as Prometheus' HTTP API spells it (`scalar`, `string`, `vector`,
    /// `matrix`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// Prometheus' text rendering of a float: `+Inf`, `-Inf`, `NaN`, else the shortest
/// decimal that reads back to the same number.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{v}")
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Scalar {
                timestamp_ms,
                value,
            } => write!(f, "scalar: {} @[{timestamp_ms}]", format_float(*value)),
            Value::String {
                timestamp_ms,
                value,
            } => write!(f, "string: {value:?} @[{timestamp_ms}]"),
            Value::Vector(v) => {
                for (i, s) in v.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(
                        f,
                        "{} => {} @[{}]",
                        s.labels,
                        format_float(s.value),
                        s.timestamp_ms
                    )?;
                }
                Ok(())
            }
            Value::Matrix(m) => {
                for (i, s) in m.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{} =>", s.labels)?;
                    for p in &s.samples {
                        write!(f, " {} @[{}]", format_float(p.value), p.timestamp_ms)?;
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_render_like_prometheus() {
        assert_eq!(format_float(f64::INFINITY), "+Inf");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_float(f64::NAN), "NaN");
        assert_eq!(format_float(1e21), "1000000000000000000000");
        assert_eq!(format_float(0.1), "0.1");
        assert_eq!(format_float(-2.5), "-2.5");
    }
}
