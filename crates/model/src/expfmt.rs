//! The exposition formats: Prometheus text 0.0.4 and OpenMetrics 1.0.
//!
//! # Layout
//!
//! - `lexer.rs`: [`Lexer`] turns a byte slice into [`Entry`]s (metadata lines and sample
//!   lines) without copying names or label values unless they contain escapes.
//! - `parse.rs`: [`parse`] groups the lexer's entries into [`MetricFamily`]s and checks the
//!   family-level rules (duplicate series, histogram buckets, type conflicts).
//! - `error.rs`: [`ParseError`], naming line, column and reason.
//! - `encode.rs`: [`encode`] and [`Encoder`] write families in either format.
//! - `negotiate.rs`: [`negotiate`] picks a format from an `Accept` header.
//! - `float.rs`: reading and writing numbers the way both formats spell them.
//!
//! The formats are described, with the choices tally makes where they are loose, in
//! `docs/format/exposition.md`.
//!
//! [`MetricFamily`]: crate::MetricFamily

mod encode;
mod error;
mod float;
mod lexer;
mod negotiate;
mod parse;

pub use encode::{encode, encode_with, Encoder};
pub use error::{ParseError, ParseErrorKind};
pub use lexer::{Entry, Lexer, SampleLine};
pub use negotiate::{negotiate, Negotiated};
pub use parse::parse;

use crate::name::EscapingScheme;

/// One of the two exposition formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0 text format.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` header value for this format with the given name escaping.
    pub fn content_type(self, escaping: EscapingScheme) -> String {
        match self {
            Self::Text => format!(
                "text/plain; version=0.0.4; charset=utf-8; escaping={}",
                escaping.as_param()
            ),
            Self::OpenMetrics => format!(
                "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping={}",
                escaping.as_param()
            ),
        }
    }
}
