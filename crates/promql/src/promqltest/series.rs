//! The series notation of load blocks and expected results: `metric{label="v"} 1+2x3 _
//! stale`, with Prometheus' duration syntax for times.

use tally_model::Labels;

use super::ScriptError;
use crate::plan::unescape;

/// One position of a series line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Item {
    /// A float sample.
    Float(f64),
    /// A staleness marker.
    Stale,
    /// `_`: no sample here.
    Missing,
    /// A native histogram sample (parsed past, not stored: histograms are not supported).
    Histogram,
}

/// Parses a Prometheus duration (`0`, `1m30s`, `10s53ms`, ...) into milliseconds.
pub(crate) fn parse_duration(s: &str) -> Option<i64> {
    tally_model::duration::parse_duration(s).ok()
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Reads a quoted string at the start of `s`; returns its unescaped value and the rest.
fn quoted(s: &str) -> Option<(String, &str)> {
    let quote = s.chars().next()?;
    if !matches!(quote, '"' | '\'' | '`') {
        return None;
    }
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        if b[i] == b'\\' && quote != '`' {
            i += 2;
            continue;
        }
        if b[i] == quote as u8 {
            let raw = &s[1..i];
            let value = String::from_utf8_lossy(&unescape(raw, quote)).into_owned();
            return Some((value, &s[i + 1..]));
        }
        i += 1;
    }
    None
}

/// Reads a label or metric name (bare or quoted) at the start of `s`.
fn name(s: &str) -> Option<(String, &str)> {
    if let Some(q) = quoted(s) {
        return Some(q);
    }
    let end = s
        .char_indices()
        .find(|(i, c)| {
            !(if *i == 0 {
                is_name_start(*c)
            } else {
                is_name_char(*c)
            })
        })
        .map_or(s.len(), |(i, _)| i);
    (end > 0).then(|| (s[..end].to_owned(), &s[end..]))
}

/// Parses a series identifier: `metric`, `metric{a="b"}`, `{a="b"}`. Returns the labels
/// and the rest of the line.
pub(crate) fn parse_identifier(s: &str) -> Result<(Labels, &str), String> {
    let s = s.trim_start();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut rest = s;
    if !s.starts_with('{') {
        let (metric, r) = name(s).ok_or_else(|| format!("expected a metric name in {s:?}"))?;
        pairs.push(("__name__".to_owned(), metric));
        rest = r;
    }
    if let Some(r) = rest.strip_prefix('{') {
        rest = r.trim_start();
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let (n, r) = name(rest).ok_or_else(|| format!("expected a label name at {rest:?}"))?;
            let r = r.trim_start();
            let r = r
                .strip_prefix('=')
                .ok_or_else(|| format!("expected '=' after label {n:?}"))?;
            let (v, r) = quoted(r.trim_start())
                .ok_or_else(|| format!("expected a quoted value for label {n:?}"))?;
            pairs.push((n, v));
            rest = r.trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r.trim_start();
            } else if !rest.starts_with('}') {
                return Err(format!("expected ',' or '}}' at {rest:?}"));
            }
        }
    }
    let labels = Labels::from_pairs(pairs).map_err(|e| e.to_string())?;
    Ok((labels, rest))
}

/// The length of the number at the start of `s` (sign, decimal, exponent, Inf, NaN).
fn number_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let rest = &s[i..];
    for word in ["inf", "nan"] {
        if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(word) {
            return i + 3;
        }
    }
    let digits_start = i;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
        i += 1;
    }
    if i == digits_start {
        return 0;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let exp_start = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > exp_start {
            i = j;
        }
    }
    i
}

/// Parses a number as the series notation writes it.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    match lower.trim_start_matches('+') {
        "inf" => return Some(f64::INFINITY),
        "nan" => return Some(f64::NAN),
        "-inf" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    if lower == "-nan" {
        return Some(f64::NAN);
    }
    s.parse().ok()
}

/// Splits the values part of a series line into items, histogram literals kept whole.
fn tokens(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        let mut depth = 0i32;
        while i < b.len() && (depth > 0 || !b[i].is_ascii_whitespace()) {
            if s[i..].starts_with("{{") {
                depth += 1;
                i += 2;
                continue;
            }
            if s[i..].starts_with("}}") {
                depth -= 1;
                i += 2;
                continue;
            }
            i += 1;
        }
        out.push(&s[start..i]);
    }
    out
}

/// Expands one value token into its positions.
fn expand(tok: &str) -> Result<Vec<Item>, String> {
    if tok == "_" {
        return Ok(vec![Item::Missing]);
    }
    if let Some(k) = tok.strip_prefix("_x") {
        let k: usize = k
            .parse()
            .map_err(|_| format!("bad repetition in {tok:?}"))?;
        return Ok(vec![Item::Missing; k]);
    }
    if tok == "stale" {
        return Ok(vec![Item::Stale]);
    }
    if tok.starts_with("{{") {
        // A histogram literal, maybe with an expansion suffix: count its positions.
        let times = match tok.rfind("}}x") {
            Some(p) => {
                tok[p + 3..]
                    .parse::<usize>()
                    .map_err(|_| format!("bad repetition in {tok:?}"))?
                    + 1
            }
            None => 1,
        };
        return Ok(vec![Item::Histogram; times]);
    }
    let n = number_len(tok);
    let first = parse_number(&tok[..n]).ok_or_else(|| format!("bad number in {tok:?}"))?;
    let rest = &tok[n..];
    if rest.is_empty() {
        return Ok(vec![Item::Float(first)]);
    }
    let (delta, rest) = if rest.starts_with('+') || rest.starts_with('-') {
        let m = number_len(rest);
        let d = parse_number(&rest[..m]).ok_or_else(|| format!("bad increment in {tok:?}"))?;
        (d, &rest[m..])
    } else {
        (0.0, rest)
    };
    let times: usize = rest
        .strip_prefix('x')
        .and_then(|k| k.parse().ok())
        .ok_or_else(|| format!("bad value {tok:?}"))?;
    let mut out = Vec::with_capacity(times + 1);
    let mut v = first;
    for _ in 0..=times {
        out.push(Item::Float(v));
        v += delta;
    }
    Ok(out)
}

/// Parses a whole series line: identifier and values.
pub(crate) fn parse_series(line: &str) -> Result<(Labels, Vec<Item>), String> {
    let (labels, rest) = parse_identifier(line)?;
    let mut items = Vec::new();
    for tok in tokens(rest) {
        items.extend(expand(tok)?);
    }
    Ok((labels, items))
}

impl ScriptError {
    pub(crate) fn at(line: usize, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("1m30s"), Some(90_000));
        assert_eq!(parse_duration("10s53ms"), Some(10_053));
        assert_eq!(parse_duration("1h"), Some(3_600_000));
        assert_eq!(parse_duration("1s1m"), None);
        assert_eq!(parse_duration("x"), None);
    }

    #[test]
    fn expansions() {
        let (l, items) = parse_series(r#"m{a="x y", b='z'} 0+10x2 _ stale 1x1 _x2 -1-1x1"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.get("__name__"), Some("m"));
        assert_eq!(l.get("a"), Some("x y"));
        use Item::*;
        assert_eq!(
            items,
            [
                Float(0.0),
                Float(10.0),
                Float(20.0),
                Missing,
                Stale,
                Float(1.0),
                Float(1.0),
                Missing,
                Missing,
                Float(-1.0),
                Float(-2.0)
            ]
        );
        let (_, items) = parse_series("m 0x10").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(items.len(), 11);
        let (_, items) =
            parse_series("m 1e+3 -Inf nan 1.5e-3+1e-3x1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(items.len(), 5);
        let (_, items) = parse_series("h {{schema:0 sum:5 count:4 buckets:[1 2 1]}}x2 {{}} 3")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(items.len(), 5);
        let (l, items) = parse_series("{} 1").unwrap_or_else(|e| panic!("{e}"));
        assert!(l.is_empty());
        assert_eq!(items, [Float(1.0)]);
    }
}
