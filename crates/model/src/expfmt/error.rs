//! [`ParseError`]: what went wrong in an exposition, and exactly where.

use std::fmt;

/// A rejected exposition: the 1-based line and column (in characters) of the problem and
/// what it is. `Display` renders `line L, column C: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters (for invalid UTF-8: the first bad byte).
    pub column: usize,
    /// The reason.
    pub kind: ParseErrorKind,
}

/// Why an exposition was rejected. Cheap to build: parsers return it on the hot path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The input is not valid UTF-8.
    InvalidUtf8,
    /// Something else was found where `expected` was required.
    Unexpected {
        /// What the grammar required here.
        expected: &'static str,
        /// What was found (a short excerpt, or "end of line").
        found: String,
    },
    /// A metric or label name does not follow the grammar.
    InvalidName {
        /// What kind of name (`metric name`, `label name`).
        what: &'static str,
        /// The offending name.
        name: String,
    },
    /// A backslash escape other than the ones the format allows.
    InvalidEscape(char),
    /// A sample value that is not a float.
    InvalidValue(String),
    /// A timestamp that is not an integer (0.0.4) or a float (OpenMetrics).
    InvalidTimestamp(String),
    /// A `# TYPE` line naming an unknown type.
    UnknownType(String),
    /// The same label name twice on one line.
    DuplicateLabel(String),
    /// A reserved label (`__name__` given twice, or an `le`/`quantile` where it does not belong).
    ReservedLabel(String),
    /// A second `# TYPE`, `# HELP` or `# UNIT` line for a family.
    DuplicateMetadata {
        /// `TYPE`, `HELP` or `UNIT`.
        what: &'static str,
        /// The family.
        family: String,
    },
    /// Metadata arrived after the family's samples, or a family was split.
    MisplacedMetadata {
        /// `TYPE`, `HELP` or `UNIT`.
        what: &'static str,
        /// The family.
        family: String,
    },
    /// A family name clashes with another family of another type (for example a gauge
    /// called `foo_count` beside a histogram `foo`, or two `# TYPE` lines).
    TypeConflict {
        /// The metric name in conflict.
        name: String,
        /// The type it already has.
        existing: &'static str,
        /// The type this line gives it.
        new: &'static str,
    },
    /// The same series (name plus label set) appeared twice.
    DuplicateSeries(String),
    /// A sample name that does not belong to its family's type (e.g. `foo` in histogram `foo`).
    UnexpectedSample {
        /// The sample name.
        sample: String,
        /// The family it would belong to.
        family: String,
        /// The family type.
        family_type: &'static str,
    },
    /// A label the type requires is missing (`le` on a bucket, `quantile`, a state).
    MissingLabel {
        /// The sample name.
        sample: String,
        /// The missing label.
        label: &'static str,
    },
    /// A histogram without a `+Inf` bucket.
    MissingInfBucket(String),
    /// A histogram bucket whose count is lower than a bucket below it.
    DecreasingBucket {
        /// The series.
        series: String,
        /// The `le` bound of the bucket that went down.
        le: String,
    },
    /// Histogram `_count` differs from its `+Inf` bucket.
    CountMismatch(String),
    /// A value that the type forbids (negative counter, stateset value other than 0/1, ...).
    InvalidSampleValue {
        /// The sample name.
        sample: String,
        /// Why the value is not allowed.
        reason: &'static str,
    },
    /// The samples of one histogram or summary carry different timestamps.
    TimestampMismatch(String),
    /// An exemplar where the format does not allow one, or one that is too long.
    InvalidExemplar(&'static str),
    /// A `# UNIT` that is not a suffix of the family name.
    UnitMismatch {
        /// The family.
        family: String,
        /// The unit.
        unit: String,
    },
    /// The samples of a family are split by another family (OpenMetrics requires them
    /// to be contiguous).
    InterleavedFamily(String),
    /// A series lacks a sample its type requires (an OpenMetrics counter without `_total`).
    MissingSample {
        /// The series.
        series: String,
        /// The missing sample's suffix.
        suffix: &'static str,
    },
    /// A label whose value must be a number (`le`, `quantile`) or otherwise constrained.
    InvalidLabelValue {
        /// The label.
        label: &'static str,
        /// Its value.
        value: String,
    },
    /// OpenMetrics histogram buckets not in increasing `le` order.
    UnorderedBuckets(String),
    /// OpenMetrics input without the final `# EOF`.
    MissingEof,
    /// Content after OpenMetrics' `# EOF`.
    DataAfterEof,
    /// The input exceeds a configured limit.
    TooLarge(&'static str),
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUtf8 => f.write_str("invalid UTF-8"),
            Self::Unexpected { expected, found } => write!(f, "expected {expected}, found {found}"),
            Self::InvalidName { what, name } => write!(f, "invalid {what} {name:?}"),
            Self::InvalidEscape(c) => {
                write!(f, "invalid escape sequence \"\\{}\"", c.escape_debug())
            }
            Self::InvalidValue(v) => write!(f, "invalid sample value {v:?}"),
            Self::InvalidTimestamp(v) => write!(f, "invalid timestamp {v:?}"),
            Self::UnknownType(t) => write!(f, "unknown metric type {t:?}"),
            Self::DuplicateLabel(n) => write!(f, "duplicate label name {n:?}"),
            Self::ReservedLabel(n) => write!(f, "label {n:?} is not allowed here"),
            Self::DuplicateMetadata { what, family } => {
                write!(f, "second {what} line for metric family {family:?}")
            }
            Self::MisplacedMetadata { what, family } => write!(
                f,
                "{what} line for metric family {family:?} after its samples or after another family"
            ),
            Self::TypeConflict {
                name,
                existing,
                new,
            } => write!(
                f,
                "type conflict for metric {name:?}: already {existing}, now {new}"
            ),
            Self::DuplicateSeries(s) => write!(f, "duplicate series {s}"),
            Self::UnexpectedSample {
                sample,
                family,
                family_type,
            } => write!(
                f,
                "sample {sample:?} does not belong to {family_type} family {family:?}"
            ),
            Self::MissingLabel { sample, label } => {
                write!(f, "sample {sample:?} is missing the {label:?} label")
            }
            Self::MissingInfBucket(s) => write!(f, "histogram {s} has no +Inf bucket"),
            Self::DecreasingBucket { series, le } => {
                write!(
                    f,
                    "histogram {series}: bucket le=\"{le}\" is lower than a smaller bucket"
                )
            }
            Self::CountMismatch(s) => {
                write!(f, "histogram {s}: _count differs from the +Inf bucket")
            }
            Self::InvalidSampleValue { sample, reason } => {
                write!(f, "invalid value for {sample:?}: {reason}")
            }
            Self::TimestampMismatch(s) => write!(f, "samples of {s} carry different timestamps"),
            Self::InvalidExemplar(why) => write!(f, "invalid exemplar: {why}"),
            Self::UnitMismatch { family, unit } => {
                write!(
                    f,
                    "unit {unit:?} is not a suffix of metric family name {family:?}"
                )
            }
            Self::InterleavedFamily(family) => {
                write!(
                    f,
                    "samples of metric family {family:?} are split by another family"
                )
            }
            Self::MissingSample { series, suffix } => write!(f, "{series} has no {suffix} sample"),
            Self::InvalidLabelValue { label, value } => {
                write!(f, "invalid value {value:?} for label {label:?}")
            }
            Self::UnorderedBuckets(s) => {
                write!(
                    f,
                    "histogram {s}: buckets are not in increasing \"le\" order"
                )
            }
            Self::MissingEof => f.write_str("missing \"# EOF\" at the end of OpenMetrics input"),
            Self::DataAfterEof => f.write_str("content after \"# EOF\""),
            Self::TooLarge(what) => write!(f, "input too large: {what}"),
        }
    }
}
