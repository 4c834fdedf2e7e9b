//! [`Exemplar`]: a reference from a counter or bucket sample to one traced event.

use crate::Labels;

/// OpenMetrics caps an exemplar's label names and values at 128 UTF-8 characters in all.
pub const EXEMPLAR_MAX_LABEL_CHARS: usize = 128;

/// An example event behind a counter increment or histogram observation, usually
/// carrying a `trace_id` label.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The exemplar's own labels (at most [`EXEMPLAR_MAX_LABEL_CHARS`] characters in all).
    pub labels: Labels,
    /// The observed value.
    pub value: f64,
    /// When it was observed, in seconds since the epoch (OpenMetrics precision).
    pub timestamp: Option<f64>,
}

impl Exemplar {
    /// Total characters of the label names and values, the quantity OpenMetrics limits.
    pub fn label_chars(&self) -> usize {
        self.labels
            .iter()
            .map(|(n, v)| n.chars().count() + v.chars().count())
            .sum()
    }
}
