//! The byte-level pieces every exposition line is made of: names (plain, escaped or
//! quoted), label sets and escaped strings.
//!
//! Everything here appends to a `Vec<u8>` and allocates only when a name is not
//! legacy-valid and an [`EscapingScheme`] other than `allow-utf-8` has to rewrite it.

use std::borrow::Cow;
use std::cell::Cell;

use crate::name::{is_legacy_label_bytes, is_legacy_metric_name, EscapingScheme};
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

/// A label written after a metric's own labels: a state set's state label (named after
/// the family). (`le` and `quantile`, which carry numbers, are written by
/// [`write_series_head`] and [`open_extra`] callers, which reuse the text before them.)
#[derive(Debug, Clone, Copy)]
pub(super) enum Extra<'a> {
    /// No extra label.
    None,
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
    let mut open = write_series_head(out, name, suffix, labels, escaping);
    match extra {
        Extra::None => {}
        Extra::Text(label, value) => {
            out.push(if open { b',' } else { b'{' });
            open = true;
            write_label_name(out, label.as_bytes(), escaping);
            out.extend_from_slice(b"=\"");
            write_escaped(out, value.as_bytes());
            out.push(b'"');
        }
    }
    if open {
        out.push(b'}');
    }
}

/// Appends `name+suffix{labels` (see [`write_series`]), the brace left open; returns
/// whether there is an open brace.
pub(super) fn write_series_head(
    out: &mut Vec<u8>,
    name: &Name<'_>,
    suffix: &str,
    labels: (&Labels, &Cell<Option<(usize, usize)>>),
    escaping: EscapingScheme,
) -> bool {
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
                write_pairs(out, labels, escaping);
                written.set(Some((start, out.len())));
            }
        }
    }
    open
}

/// Appends the opening of a label after a series head: `,label="` (or `{label="` when no
/// brace is open yet).
pub(super) fn open_extra(out: &mut Vec<u8>, open: bool, label: &[u8]) {
    out.push(if open { b',' } else { b'{' });
    out.extend_from_slice(label);
    out.extend_from_slice(b"=\"");
}

/// Appends `a="1",b="2"`.
fn write_pairs(out: &mut Vec<u8>, labels: &Labels, escaping: EscapingScheme) {
    for (i, (label, value)) in labels.byte_pairs().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_label_name(out, label, escaping);
        out.extend_from_slice(b"=\"");
        write_escaped(out, value);
        out.push(b'"');
    }
}

/// Appends an OpenMetrics exemplar label set: `{a="1",b="2"}` (always with braces).
pub(super) fn write_label_set(out: &mut Vec<u8>, labels: &Labels, escaping: EscapingScheme) {
    out.push(b'{');
    write_pairs(out, labels, escaping);
    out.push(b'}');
}

/// Appends a label name: as it is when legacy-valid, else quoted (`allow-utf-8`) or
/// rewritten by the escaping scheme.
#[inline]
fn write_label_name(out: &mut Vec<u8>, name: &[u8], escaping: EscapingScheme) {
    if is_legacy_label_bytes(name) {
        out.extend_from_slice(name);
    } else {
        write_unusual_label_name(out, name, escaping);
    }
}

/// [`write_label_name`] for a name that is not legacy-valid.
#[cold]
fn write_unusual_label_name(out: &mut Vec<u8>, name: &[u8], escaping: EscapingScheme) {
    if escaping == EscapingScheme::AllowUtf8 {
        out.push(b'"');
        write_escaped(out, name);
        out.push(b'"');
    } else {
        // Names come from `str`s, so this is never lossy.
        let name = String::from_utf8_lossy(name);
        out.extend_from_slice(escaping.escape(&name, false).as_bytes());
    }
}

/// Appends `s` with `\` → `\\`, `"` → `\"` and newline → `\n`: the escaping of label
/// values, quoted names and OpenMetrics help text. Strings without those bytes (nearly
/// all) are copied in one call.
#[inline]
pub(super) fn write_escaped(out: &mut Vec<u8>, s: &[u8]) {
    // Label values are short: a word-at-a-time scan beats setting up a vectorised search.
    if s.len() <= 64 && !has_escaped_byte(s) {
        out.extend_from_slice(s);
    } else {
        write_escaped_in_parts(out, s);
    }
}

/// [`write_escaped`] for strings that may need escaping.
fn write_escaped_in_parts(out: &mut Vec<u8>, s: &[u8]) {
    let mut start = 0;
    for i in memchr::memchr3_iter(b'\\', b'"', b'\n', s) {
        out.extend_from_slice(&s[start..i]);
        out.extend_from_slice(escape_of(s[i]));
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
}

/// Whether `s` holds a `\\`, `"` or newline, eight bytes at a time.
///
/// `(x - 0x01..01) & !x & 0x80..80` is non-zero exactly when a byte of `x` is zero; `x`
/// is the word XORed with the byte sought, so a zero byte is a match.
#[inline]
fn has_escaped_byte(s: &[u8]) -> bool {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut chunks = s.chunks_exact(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        let found = zero_byte(w ^ (ONES * u64::from(b'\\')))
            | zero_byte(w ^ (ONES * u64::from(b'"')))
            | zero_byte(w ^ (ONES * u64::from(b'\n')));
        if found != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b == b'\\' || b == b'"' || b == b'\n')
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
    fn finds_escaped_bytes_anywhere() {
        for len in 0..40 {
            let plain = &"aé_:.0".repeat(8).into_bytes()[..len];
            assert!(!has_escaped_byte(plain), "{plain:?}");
            for at in 0..len {
                for special in [b'\\', b'"', b'\n'] {
                    let mut bytes = plain.to_vec();
                    bytes[at] = special;
                    assert!(has_escaped_byte(&bytes), "{bytes:?}");
                }
            }
        }
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
