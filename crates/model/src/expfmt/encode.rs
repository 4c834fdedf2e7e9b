//! Writing families as text 0.0.4 or OpenMetrics 1.0. (Being written.)

use super::Format;
use crate::name::EscapingScheme;
use crate::MetricFamily;

/// Writes families in one format with one name escaping.
#[derive(Debug, Clone, Copy)]
pub struct Encoder {
    format: Format,
    escaping: EscapingScheme,
}

impl Encoder {
    /// An encoder for `format` that writes UTF-8 names quoted (no escaping).
    pub fn new(format: Format) -> Self {
        Self {
            format,
            escaping: EscapingScheme::AllowUtf8,
        }
    }

    /// Escape names that are not legacy-valid with `escaping`.
    pub fn with_escaping(mut self, escaping: EscapingScheme) -> Self {
        self.escaping = escaping;
        self
    }

    /// Appends one family.
    pub fn family(&self, family: &MetricFamily, out: &mut Vec<u8>) {
        let _ = (family, out, self.format, self.escaping);
    }

    /// Appends what ends an exposition (`# EOF` for OpenMetrics, nothing for text).
    pub fn finish(&self, out: &mut Vec<u8>) {
        if self.format == Format::OpenMetrics {
            out.extend_from_slice(b"# EOF\n");
        }
    }
}

/// Appends a whole exposition of `families` in `format`.
pub fn encode(families: &[MetricFamily], format: Format, out: &mut Vec<u8>) {
    encode_with(families, &Encoder::new(format), out);
}

/// Appends a whole exposition of `families` with `encoder`.
pub fn encode_with(families: &[MetricFamily], encoder: &Encoder, out: &mut Vec<u8>) {
    for family in families {
        encoder.family(family, out);
    }
    encoder.finish(out);
}
