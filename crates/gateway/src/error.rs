//! [`PushError`]: why a push was refused. Nothing of a refused push is applied.

/// Why a push was refused. [`PushError::status`] gives the HTTP status to answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// A pushed sample carries a timestamp (Pushgateway refuses these too).
    #[error("pushed metrics must not carry timestamps (metric family {family:?})")]
    Timestamp {
        /// The family.
        family: String,
    },
    /// The family's type differs from the type other groups push it with (rule 8).
    #[error("metric {name:?} is pushed as {new} here but is a {existing} in other groups")]
    TypeConflict {
        /// The metric name in conflict.
        name: String,
        /// The type already held.
        existing: &'static str,
        /// The type of this push.
        new: &'static str,
    },
    /// An OpenMetrics-only type, which pushes in the text format cannot carry.
    #[error("metric family {family:?} has type {metric_type}, which a push cannot carry")]
    UnsupportedType {
        /// The family.
        family: String,
        /// Its type.
        metric_type: &'static str,
    },
    /// A counter-like value the aggregated view cannot add up (negative, NaN, infinite).
    #[error("metric family {family:?}: {reason}")]
    InvalidValue {
        /// The family.
        family: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A limit would be exceeded.
    #[error("limit exceeded: at most {max} {limit}")]
    Limit {
        /// Which limit (`groups`, `series per group`, `labels per series`, `label length`).
        limit: &'static str,
        /// Its value.
        max: usize,
    },
}

impl PushError {
    /// `400` for invalid content, `422` for a limit.
    pub fn status(&self) -> u16 {
        match self {
            Self::Limit { .. } => 422,
            _ => 400,
        }
    }
}
