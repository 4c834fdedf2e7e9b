//! Choosing the exposition format from an HTTP `Accept` header. (Being written.)

use super::Format;
use crate::name::EscapingScheme;

/// The outcome of content negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The format to answer in.
    pub format: Format,
    /// How to escape names that are not legacy-valid.
    pub escaping: EscapingScheme,
}

impl Negotiated {
    /// The `Content-Type` header for the answer.
    pub fn content_type(&self) -> String {
        self.format.content_type(self.escaping)
    }
}

/// Picks the format and escaping for an `Accept` header (absent: text 0.0.4).
pub fn negotiate(accept: Option<&str>) -> Negotiated {
    let _ = accept;
    Negotiated {
        format: Format::Text,
        escaping: EscapingScheme::Underscores,
    }
}
