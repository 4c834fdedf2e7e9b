//! Metric and label names: validation and the escaping schemes of Prometheus 3.
//!
//! Prometheus has two name grammars. The *legacy* one is
//! `[a-zA-Z_:][a-zA-Z0-9_:]*` for metric names and `[a-zA-Z_][a-zA-Z0-9_]*` for label
//! names. Since Prometheus 3 any non-empty valid UTF-8 string is a name; in the text
//! formats such names are written quoted (`{"my.metric", "label.name"="v"}`).
//!
//! A reader that cannot take UTF-8 names asks, through the `escaping` parameter of its
//! `Accept` header, for one of the [`EscapingScheme`]s that map any name to a legacy one.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Character classes of the legacy grammars, one table lookup per byte.
const LABEL_CHAR: u8 = 1;
const METRIC_CHAR: u8 = 2;
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' {
            t[b] = LABEL_CHAR | METRIC_CHAR;
        } else if c == b':' {
            t[b] = METRIC_CHAR;
        }
        b += 1;
    }
    t
};

/// Whether `bytes` is a non-empty run of bytes of `class` not starting with a digit.
#[inline]
fn is_legacy(bytes: &[u8], class: u8) -> bool {
    match bytes.first() {
        Some(b) if !b.is_ascii_digit() => bytes.iter().all(|&b| CLASS[b as usize] & class != 0),
        _ => false,
    }
}

/// Whether `name` matches the legacy metric-name grammar `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_legacy_metric_name(name: &str) -> bool {
    is_legacy(name.as_bytes(), METRIC_CHAR)
}

/// Whether `name` matches the legacy label-name grammar `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_legacy_label_name(name: &str) -> bool {
    is_legacy(name.as_bytes(), LABEL_CHAR)
}

/// [`is_legacy_label_name`] for a name held as bytes.
#[inline]
pub(crate) fn is_legacy_label_bytes(name: &[u8]) -> bool {
    is_legacy(name, LABEL_CHAR)
}

/// Whether `name` is reserved for internal use (starts with `__`), like `__name__`.
pub fn is_reserved_label_name(name: &str) -> bool {
    name.starts_with("__")
}

/// How names that are not legacy-valid are turned into legacy-valid ones for a reader
/// that asked for it (the `escaping` parameter of the `Accept` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EscapingScheme {
    /// `allow-utf-8`: names are written as they are, quoted when needed.
    #[default]
    AllowUtf8,
    /// `underscores`: every character not allowed in a legacy name becomes `_`.
    Underscores,
    /// `dots`: `.` becomes `_dot_`, `_` becomes `__`, any other invalid character `__`.
    Dots,
    /// `values`: the name becomes `U__` followed by its characters, each invalid one
    /// written as `_<hex code point>_`, and `_` as `__`.
    Values,
}

impl EscapingScheme {
    /// The scheme named by an `escaping=` parameter value, if it is one.
    pub fn from_param(value: &str) -> Option<Self> {
        match value {
            "allow-utf-8" => Some(Self::AllowUtf8),
            "underscores" => Some(Self::Underscores),
            "dots" => Some(Self::Dots),
            "values" => Some(Self::Values),
            _ => None,
        }
    }

    /// The parameter value naming this scheme.
    pub fn as_param(self) -> &'static str {
        match self {
            Self::AllowUtf8 => "allow-utf-8",
            Self::Underscores => "underscores",
            Self::Dots => "dots",
            Self::Values => "values",
        }
    }

    /// Escapes a metric name (`metric == true`, where `:` is allowed) or a label name.
    ///
    /// `underscores` and `values` leave legacy-valid names unchanged; `dots` always
    /// doubles underscores so that it can be reversed, as Prometheus does.
    pub fn escape(self, name: &str, metric: bool) -> Cow<'_, str> {
        let valid = if metric {
            is_legacy_metric_name(name)
        } else {
            is_legacy_label_name(name)
        };
        let allowed = |i: usize, c: char| {
            c.is_ascii_alphabetic()
                || c == '_'
                || (metric && c == ':')
                || (i > 0 && c.is_ascii_digit())
        };
        if name.is_empty() {
            return Cow::Borrowed(name);
        }
        let mut out = String::with_capacity(name.len() + 8);
        match self {
            Self::AllowUtf8 => return Cow::Borrowed(name),
            Self::Underscores | Self::Values if valid => return Cow::Borrowed(name),
            Self::Underscores => {
                for (i, c) in name.chars().enumerate() {
                    out.push(if allowed(i, c) { c } else { '_' });
                }
            }
            Self::Dots => {
                for (i, c) in name.chars().enumerate() {
                    match c {
                        '_' => out.push_str("__"),
                        '.' => out.push_str("_dot_"),
                        c if allowed(i, c) => out.push(c),
                        _ => out.push_str("__"),
                    }
                }
            }
            Self::Values => {
                out.push_str("U__");
                for (i, c) in name.chars().enumerate() {
                    match c {
                        '_' => out.push_str("__"),
                        c if allowed(i, c) => out.push(c),
                        c => {
                            // Writing to a String cannot fail.
                            let _ = write!(out, "_{:x}_", c as u32);
                        }
                    }
                }
            }
        }
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_metric_names() {
        for ok in ["a", "_", ":", "http_requests_total", "a:b_c9", "A"] {
            assert!(is_legacy_metric_name(ok), "{ok}");
        }
        for bad in ["", "9a", "a-b", "a.b", "é", "a b"] {
            assert!(!is_legacy_metric_name(bad), "{bad}");
        }
    }

    #[test]
    fn legacy_grammars_byte_by_byte() {
        for b in 0..=255u8 {
            let alpha = b.is_ascii_alphabetic() || b == b'_';
            let digit = b.is_ascii_digit();
            let bytes = [b];
            let Ok(one) = std::str::from_utf8(&bytes) else {
                continue;
            };
            assert_eq!(is_legacy_label_name(one), alpha, "{b}");
            assert_eq!(is_legacy_metric_name(one), alpha || b == b':', "{b}");
            let tail = format!("a{one}");
            assert_eq!(is_legacy_label_name(&tail), alpha || digit, "{b}");
            assert_eq!(
                is_legacy_metric_name(&tail),
                alpha || digit || b == b':',
                "{b}"
            );
        }
    }

    #[test]
    fn legacy_label_names() {
        assert!(is_legacy_label_name("le"));
        assert!(is_legacy_label_name("__name__"));
        assert!(!is_legacy_label_name("a:b"));
        assert!(!is_legacy_label_name("1a"));
        assert!(!is_legacy_label_name(""));
    }

    #[test]
    fn escaping_schemes() {
        let name = "my.metric_name";
        assert_eq!(
            EscapingScheme::AllowUtf8.escape(name, true),
            "my.metric_name"
        );
        assert_eq!(
            EscapingScheme::Underscores.escape(name, true),
            "my_metric_name"
        );
        assert_eq!(
            EscapingScheme::Dots.escape(name, true),
            "my_dot_metric__name"
        );
        assert_eq!(
            EscapingScheme::Values.escape(name, true),
            "U__my_2e_metric__name"
        );
        // Valid names are never touched.
        assert_eq!(EscapingScheme::Values.escape("ok_name", true), "ok_name");
        assert_eq!(EscapingScheme::Dots.escape("ok_name", true), "ok__name");
        assert_eq!(EscapingScheme::Underscores.escape("1a", false), "_a");
        assert_eq!(EscapingScheme::Underscores.escape("a:b", false), "a_b");
        assert_eq!(EscapingScheme::Underscores.escape("a:b", true), "a:b");
    }

    #[test]
    fn scheme_params_round_trip() {
        for s in [
            EscapingScheme::AllowUtf8,
            EscapingScheme::Underscores,
            EscapingScheme::Dots,
            EscapingScheme::Values,
        ] {
            assert_eq!(EscapingScheme::from_param(s.as_param()), Some(s));
        }
        assert_eq!(EscapingScheme::from_param("nope"), None);
    }
}
