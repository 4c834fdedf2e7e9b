//! The byte-level pieces every exposition line is made of: names (plain, escaped or
//! quoted), label sets, escaped strings, values and timestamps.
//!
//! Everything here appends to a `Vec<u8>` and allocates only when a name is not
//! legacy-valid and an [`EscapingScheme`] other than `allow-utf-8` has to rewrite it.

use std::borrow::Cow;
use std::cell::Cell;

use super::super::float::write_float;
use crate::name::{is_legacy_label_name, is_legacy_metric_name, EscapingScheme};
use crate::Labels;

/// A family's base name, ready to write: escaped once per family (not once per sample),
/// and marked for quoting when it must be written as a quoted UTF-8 name.
#[derive(Debug)]
pub(super) struct Name<'a> {
    /// The name without any sample suffix, escaped if the scheme asked for it.
    text: Cow<'a, str>,
    /// Whether every occurrence is written in double quotes (`allow-utf-8` only).
    quoted: bool,
}

impl<'a> Name<'a> {
    /// Prepares `base` for writing under `escaping`.
    ///
    /// A legacy-valid name is written as it is under every scheme (as client_golang's
    /// `EscapeMetricFamily` does; in particular `dots` does not double the underscores of
    /// a valid name). Appending a suffix made of legacy characters never changes a
    /// non-empty name's validity, so deciding on the base decides for every sample name.
    pub(super) fn new(base: &'a str, escaping: EscapingScheme) -> Self {
        if is_legacy_metric_name(base) {
            return Self {
                text: Cow::Borrowed(base),
                quoted: false,
            };
        }
        match escaping {
            EscapingScheme::AllowUtf8 => Self {
                text: Cow::Borrowed(base),
                quoted: true,
            },
            scheme => Self {
                text: scheme.escape(base, true),
                quoted: false,
            },
        }
    }

    /// Appends the name plus `suffix` as a `# HELP`/`# TYPE`/`# UNIT` line writes it:
    /// `foo_bucket` or `"my.foo_bucket"`.
    pub(super) fn write_metadata(&self, out: &mut Vec<u8>, suffix: &str) {
        if self.quoted {
            out.push(b'"');
            write_escaped(out, self.text.as_bytes());
            out.extend_from_slice(suffix.as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(self.text.as_bytes());
            out.extend_from_slice(suffix.as_bytes());
        }
    }
}

/// A label written after a metric's own labels: `le` and `quantile` carry a number, a
/// state set's state label (named after the family) carries a string.
#[derive(Debug, Clone, Copy)]
pub(super) enum Extra<'a> {
    /// No extra label.
    None,
    /// A label whose value is a number, formatted like sample values.
    Number(&'static str, f64),
    /// A label with a string value; the name is checked and escaped like any label name.
    Text(&'a str, &'a str),
}

/// Appends `name+suffix{labels,extra}`, or `{"name+suffix",labels,extra}` for a quoted
/// name. Braces are left out when there is nothing to put in them.
///
/// `labels.1` remembers where the label section (`a="1",b="2"`) was first written in
/// `out`; later lines of the same metric copy those bytes instead of checking names and
/// escaping values again.
pub(super) fn write_series(
    out: &mut Vec<u8>,
    name: &Name<'_>,
    suffix: &str,
    labels: (&Labels, &Cell<Option<(usize, usize)>>),
    extra: Extra<'_>,
    escaping: EscapingScheme,
) {
    let mut open = name.quoted;
    if name.quoted {
        out.extend_from_slice(b"{\"");
        write_escaped(out, name.text.as_bytes());
        out.extend_from_slice(suffix.as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(name.text.as_bytes());
        out.extend_from_slice(suffix.as_bytes());
    }
    let (labels, written) = labels;
    if !labels.is_empty() {
        out.push(if open { b',' } else { b'{' });
        open = true;
        match written.get() {
            Some((start, end)) => out.extend_from_within(start..end),
            None => {
                let start = out.len();
                for (i, (label, value)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_label_name(out, label, escaping);
                    out.extend_from_slice(b"=\"");
                    write_escaped(out, value.as_bytes());
                    out.push(b'"');
                }
                written.set(Some((start, out.len())));
            }
        }
    }
    match extra {
        Extra::None => {}
        Extra::Number(label, value) => {
            out.push(if open { b',' } else { b'{' });
            open = true;
            out.extend_from_slice(label.as_bytes());
            out.extend_from_slice(b"=\"");
            write_float(out, value);
            out.push(b'"');
        }
        Extra::Text(label, value) => {
            out.push(if open { b',' } else { b'{' });
            open = true;
            write_label_name(out, label, escaping);
            out.extend_from_slice(b"=\"");
            write_escaped(out, value.as_bytes());
            out.push(b'"');
        }
    }
    if open {
        out.push(b'}');
    }
}

/// Appends an OpenMetrics exemplar label set: `{a="1",b="2"}` (always with braces).
pub(super) fn write_label_set(out: &mut Vec<u8>, labels: &Labels, escaping: EscapingScheme) {
    out.push(b'{');
    for (i, (label, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_label_name(out, label, escaping);
        out.extend_from_slice(b"=\"");
        write_escaped(out, value.as_bytes());
        out.push(b'"');
    }
    out.push(b'}');
}

/// Appends a label name: as it is when legacy-valid, else quoted (`allow-utf-8`) or
/// rewritten by the escaping scheme.
fn write_label_name(out: &mut Vec<u8>, name: &str, escaping: EscapingScheme) {
    if is_legacy_label_name(name) {
        out.extend_from_slice(name.as_bytes());
    } else if escaping == EscapingScheme::AllowUtf8 {
        out.push(b'"');
        write_escaped(out, name.as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(escaping.escape(name, false).as_bytes());
    }
}

/// Appends `s` with `\` → `\\`, `"` → `\"` and newline → `\n`: the escaping of label
/// values, quoted names and OpenMetrics help text. Strings without those bytes (nearly
/// all) are copied in one call.
pub(super) fn write_escaped(out: &mut Vec<u8>, s: &[u8]) {
    // Label values are short: a plain scan beats setting up a vectorised search.
    if s.len() <= 64 && !s.iter().any(|&b| b == b'\\' || b == b'"' || b == b'\n') {
        out.extend_from_slice(s);
        return;
    }
    let mut start = 0;
    for i in memchr::memchr3_iter(b'\\', b'"', b'\n', s) {
        out.extend_from_slice(&s[start..i]);
        out.extend_from_slice(escape_of(s[i]));
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
}

/// Appends 0.0.4 help text: `\` → `\\` and newline → `\n`; a `"` stays as it is.
pub(super) fn write_text_help(out: &mut Vec<u8>, s: &[u8]) {
    let mut start = 0;
    for i in memchr::memchr2_iter(b'\\', b'\n', s) {
        out.extend_from_slice(&s[start..i]);
        out.extend_from_slice(escape_of(s[i]));
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
}

/// The escape sequence for one of the three escaped bytes.
fn escape_of(b: u8) -> &'static [u8] {
    match b {
        b'\\' => b"\\\\",
        b'"' => b"\\\"",
        _ => b"\\n",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        write_escaped(&mut out, s.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_only_the_three_specials() {
        assert_eq!(escaped("plain"), "plain");
        assert_eq!(escaped(""), "");
        assert_eq!(escaped("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        assert_eq!(escaped("\n\n"), "\\n\\n");
        assert_eq!(escaped("tab\there é"), "tab\there é");
        let mut out = Vec::new();
        write_text_help(&mut out, b"say \"hi\"\\\n");
        assert_eq!(out, b"say \"hi\"\\\\\\n");
    }

    #[test]
    fn names_are_prepared_once() {
        let n = Name::new("ok_name", EscapingScheme::Dots);
        assert_eq!((n.text.as_ref(), n.quoted), ("ok_name", false));
        let n = Name::new("my.name", EscapingScheme::AllowUtf8);
        assert_eq!((n.text.as_ref(), n.quoted), ("my.name", true));
        let n = Name::new("my.name", EscapingScheme::Underscores);
        assert_eq!((n.text.as_ref(), n.quoted), ("my_name", false));
    }
}
