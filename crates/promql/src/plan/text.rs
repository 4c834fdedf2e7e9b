//! What the plan needs from the query text that `promql-parser` does not keep: the quote
//! style of each string literal (its values come back with escapes untouched) and where
//! function calls and their arguments start (for annotation positions).

/// A string literal as written: its quote character and the text between the quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StringToken {
    pub quote: char,
    pub raw: String,
}

/// A function or aggregation name followed by its argument list (or a `by`/`without`
/// clause), lower-cased, with the byte offset where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallToken {
    pub name: String,
    pub offset: usize,
}

/// The string literals and call names of a query, in text order.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub strings: Vec<StringToken>,
    pub calls: Vec<CallToken>,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// Skips a string literal starting at `i` (on its quote); returns the index after it.
fn skip_string(b: &[u8], i: usize) -> usize {
    let quote = b[i];
    let mut j = i + 1;
    while j < b.len() {
        if b[j] == b'\\' && quote != b'`' {
            j += 2;
            continue;
        }
        if b[j] == quote {
            return j + 1;
        }
        j += 1;
    }
    b.len()
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Words followed by `(` that are not calls.
const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "and",
    "or",
    "unless",
    "atan2",
];

/// Scans `text` once for string literals and call names.
pub(crate) fn scan(text: &str) -> Scan {
    let b = text.as_bytes();
    let mut out = Scan::default();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\'' || c == b'`' {
            let end = skip_string(b, i);
            let inner_end = if end > i + 1 && b.get(end - 1) == Some(&c) {
                end - 1
            } else {
                end
            };
            out.strings.push(StringToken {
                quote: c as char,
                raw: text.get(i + 1..inner_end).unwrap_or("").to_owned(),
            });
            i = end;
        } else if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if is_ident_start(c) && (i == 0 || !is_ident_char(b[i - 1])) {
            let start = i;
            while i < b.len() && is_ident_char(b[i]) {
                i += 1;
            }
            let word = &text[start..i];
            let next = skip_space(b, i);
            let followed_by_clause = {
                let rest = &text[next..];
                let kw = |k: &str| {
                    // Bytes, not `str` slices: `rest` may continue with any character.
                    rest.len() >= k.len()
                        && rest.as_bytes()[..k.len()].eq_ignore_ascii_case(k.as_bytes())
                        && rest
                            .as_bytes()
                            .get(k.len())
                            .is_none_or(|c| !is_ident_char(*c))
                };
                kw("by") || kw("without")
            };
            let keyword = KEYWORDS.iter().any(|k| word.eq_ignore_ascii_case(k));
            if !keyword && (b.get(next) == Some(&b'(') || followed_by_clause) {
                out.calls.push(CallToken {
                    name: word.to_ascii_lowercase(),
                    offset: start,
                });
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Byte offsets where the arguments of the call starting at `offset` begin. Skips a
/// `by (...)` / `without (...)` clause written before the arguments.
pub(crate) fn argument_offsets(text: &str, offset: usize) -> Vec<usize> {
    let b = text.as_bytes();
    let mut i = offset;
    while i < b.len() && is_ident_char(b[i]) {
        i += 1;
    }
    i = skip_space(b, i);
    if i < b.len() && b[i] != b'(' {
        // A grouping clause: skip its keyword and its parenthesised list.
        while i < b.len() && is_ident_char(b[i]) {
            i += 1;
        }
        i = skip_space(b, i);
        if b.get(i) == Some(&b'(') {
            while i < b.len() && b[i] != b')' {
                i += 1;
            }
            i = skip_space(b, i + 1);
        }
    }
    if b.get(i) != Some(&b'(') {
        return Vec::new();
    }
    let mut out = vec![skip_space(b, i + 1)];
    let mut depth = 0usize;
    i += 1;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' | b'`' => {
                i = skip_string(b, i);
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => break,
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => out.push(skip_space(b, i + 1)),
            _ => {}
        }
        i += 1;
    }
    out
}

/// Go's unquoting of a PromQL string literal's contents, as bytes: escapes for `"` and
/// `'` strings, none for back-quoted ones. An unknown escape is kept as written.
pub(crate) fn unescape(raw: &str, quote: char) -> Vec<u8> {
    if quote == '`' {
        return raw.as_bytes().to_vec();
    }
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let hex = |s: &[u8]| -> Option<u32> {
        std::str::from_utf8(s)
            .ok()
            .and_then(|s| u32::from_str_radix(s, 16).ok())
    };
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let e = b[i + 1];
        let simple = match e {
            b'a' => Some(7),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(11),
            b'\\' => Some(b'\\'),
            b'\'' => Some(b'\''),
            b'"' => Some(b'"'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
            continue;
        }
        let push_char = |out: &mut Vec<u8>, cp: u32| {
            let c = char::from_u32(cp).unwrap_or('\u{fffd}');
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        };
        match e {
            b'x' if i + 4 <= b.len() => match hex(&b[i + 2..i + 4]) {
                Some(v) => {
                    out.push(v as u8);
                    i += 4;
                }
                None => {
                    out.push(b'\\');
                    i += 1;
                }
            },
            b'u' if i + 6 <= b.len() => match hex(&b[i + 2..i + 6]) {
                Some(v) => {
                    push_char(&mut out, v);
                    i += 6;
                }
                None => {
                    out.push(b'\\');
                    i += 1;
                }
            },
            b'U' if i + 10 <= b.len() => match hex(&b[i + 2..i + 10]) {
                Some(v) => {
                    push_char(&mut out, v);
                    i += 10;
                }
                None => {
                    out.push(b'\\');
                    i += 1;
                }
            },
            b'0'..=b'7'
                if i + 4 <= b.len()
                    && b[i + 2..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) =>
            {
                let v = (u32::from(e - b'0') << 6)
                    | (u32::from(b[i + 2] - b'0') << 3)
                    | u32::from(b[i + 3] - b'0');
                out.push(v as u8);
                i += 4;
            }
            _ => {
                out.push(b'\\');
                i += 1;
            }
        }
    }
    out
}

/// Go's `strconv.Quote` of a byte string: printable characters as they are, the rest
/// escaped, invalid UTF-8 bytes as `\xHH`.
pub(crate) fn go_quote(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                quote_str(&mut out, s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                quote_str(&mut out, std::str::from_utf8(good).unwrap_or(""));
                let n = e.error_len().unwrap_or(bad.len()).max(1);
                for byte in &bad[..n] {
                    out.push_str(&format!("\\x{byte:02x}"));
                }
                rest = &bad[n..];
            }
        }
    }
    out.push('"');
    out
}

fn quote_str(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_strings_and_calls() {
        let s = scan(r#"sum by (a) (rate(x{a="q\"(", b=`z`}[5m])) + histogram_quantile(0.5, y)"#);
        let names: Vec<_> = s.calls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["sum", "rate", "histogram_quantile"]);
        assert_eq!(s.strings[0].raw, "q\\\"(");
        assert_eq!(s.strings[1].quote, '`');
    }

    #[test]
    fn a_word_followed_by_a_wide_character_is_not_a_clause() {
        // "by" is two bytes; "€" is three, so a `str` slice of two would split it.
        assert!(scan("a €").calls.is_empty());
        assert!(scan("a €€€€€€€").calls.is_empty());
        assert_eq!(scan("sum By (a) (x)").calls[0].name, "sum");
    }

    #[test]
    fn argument_offsets_skip_nesting_and_clauses() {
        let q = "histogram_quantile(0.8, series)";
        assert_eq!(argument_offsets(q, 0), vec![19, 24]);
        let q = "quantile by (a) (0.5, f(x, y))";
        assert_eq!(argument_offsets(q, 0), vec![17, 22]);
    }

    #[test]
    fn unescapes_like_go() {
        assert_eq!(unescape(r#"a\"b\\c\n"#, '"'), b"a\"b\\c\n");
        assert_eq!(unescape(r"a\xc5z", '"'), b"a\xc5z");
        assert_eq!(unescape(r"\u00e9", '\''), "é".as_bytes());
        assert_eq!(unescape(r"\d\\", '`'), br"\d\\");
        assert_eq!(go_quote(b"a\xc5z"), r#""a\xc5z""#);
    }
}
