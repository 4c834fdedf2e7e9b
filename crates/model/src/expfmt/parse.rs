//! [`parse`]: groups an exposition's lines into metric families. (Being written.)

use super::error::ParseError;
use super::lexer::Lexer;
use super::Format;
use crate::MetricFamily;

/// Parses a whole exposition into families, in order of first appearance.
pub fn parse(input: &[u8], format: Format) -> Result<Vec<MetricFamily>, ParseError> {
    let mut lexer = Lexer::from_bytes(input, format)?;
    while lexer.next_entry()?.is_some() {}
    Ok(Vec::new())
}
