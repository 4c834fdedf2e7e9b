//! [`QueryError`]: why a query could not be parsed or evaluated.
//!
//! The messages are Prometheus' own, word for word, because clients (Grafana, the
//! conformance scripts) match on them.

use tally_model::Labels;
use tally_storage::StorageError;

/// Where in the query text something is: 1-based line and 1-based byte column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Byte column within the line, from 1.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` of `text`.
    pub fn at_offset(text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let before = &text.as_bytes()[..offset];
        let line = 1 + before.iter().filter(|b| **b == b'\n').count();
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        Self {
            line,
            column: offset - line_start + 1,
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Which side of a binary operation a many-to-many error found duplicates on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The left-hand side.
    Left,
    /// The right-hand side.
    Right,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The text is not a valid PromQL expression. `promql-parser` reports no position, so
    /// `position` is only set where tally finds one itself.
    #[error("{message}")]
    Parse {
        /// The parser's explanation.
        message: String,
        /// Where, when known.
        position: Option<Position>,
    },
    /// The expression parsed but uses something this engine does not evaluate.
    #[error("{0}")]
    Unsupported(String),
    /// A range query over an expression that is neither a scalar nor an instant vector.
    #[error("invalid expression type \"{0}\" for range query, must be Scalar or instant Vector")]
    InvalidRangeQueryType(&'static str),
    /// A range query with a step that is not positive, or an end before its start.
    #[error("{0}")]
    InvalidRange(String),
    /// Evaluation would hold more samples in memory at once than the engine allows.
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// The query ran longer than its timeout.
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The query was canceled through its [`CancelToken`](crate::CancelToken).
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    /// The store failed.
    #[error("expanding series: {0}")]
    Storage(#[from] StorageError),
    /// Two samples of one result would have the same label set.
    #[error("vector cannot contain metrics with the same labelset")]
    DuplicateLabelset,
    /// A one-to-one or many-to-one match found several series with the same matching
    /// labels on the side that must be unique.
    #[error(
        "found duplicate series for the match group {group} on the {} hand-side of the operation: [{first}, {second}];many-to-many matching not allowed: matching labels must be unique on one side",
        side.as_str()
    )]
    ManyToMany {
        /// The matching labels both series share.
        group: Labels,
        /// The side that should have been unique.
        side: Side,
        /// One of the series (the smaller label set).
        first: Labels,
        /// The other.
        second: Labels,
    },
    /// Several series of the "many" side produced the same result labels.
    #[error("multiple matches for labels: {0}")]
    MultipleMatches(&'static str),
    /// A function or aggregation argument is out of its domain
    /// (`Parameter value is NaN`, an invalid label name, ...).
    #[error("{0}")]
    InvalidArgument(String),
}

impl QueryError {
    /// The position in the query text the error is about, when known.
    pub fn position(&self) -> Option<Position> {
        match self {
            QueryError::Parse { position, .. } => *position,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        assert_eq!(Position::at_offset("abc", 0).to_string(), "1:1");
        assert_eq!(Position::at_offset("abc", 2).to_string(), "1:3");
        assert_eq!(Position::at_offset("a\nbc", 3).to_string(), "2:2");
    }

    #[test]
    fn many_to_many_message_is_prometheus() {
        let a = Labels::from_pairs([("__name__", "m"), ("l", "a")]).unwrap_or_default();
        let b = Labels::from_pairs([("__name__", "m"), ("l", "b")]).unwrap_or_default();
        let e = QueryError::ManyToMany {
            group: Labels::new(),
            side: Side::Right,
            first: a,
            second: b,
        };
        assert_eq!(
            e.to_string(),
            "found duplicate series for the match group {} on the right hand-side of the operation: [{__name__=\"m\", l=\"a\"}, {__name__=\"m\", l=\"b\"}];many-to-many matching not allowed: matching labels must be unique on one side"
        );
    }
}
