//! Parsing a `.test` script into commands: `load`, `clear` and `eval` blocks.

use tally_model::Labels;

use super::series::{parse_duration, parse_series, Item};
use super::ScriptError;
use crate::plan::unescape;

/// How an expected message is matched.
#[derive(Debug, Clone)]
pub(crate) enum TextMatch {
    Any,
    Exact(String),
    Regex(regex::Regex),
}

impl TextMatch {
    pub(crate) fn matches(&self, s: &str) -> bool {
        match self {
            TextMatch::Any => true,
            TextMatch::Exact(m) => s == m,
            TextMatch::Regex(r) => r.is_match(s),
        }
    }
}

/// What an eval says about one kind of annotation.
#[derive(Debug, Clone, Default)]
pub(crate) enum AnnotationRule {
    /// Nothing said: not checked.
    #[default]
    Unchecked,
    /// `expect no_warn` / `expect no_info`.
    None,
    /// `expect warn ...` lines: each must match one, every one must be matched.
    Some(Vec<TextMatch>),
}

/// The expected result of an eval.
#[derive(Debug, Clone)]
pub(crate) enum Expected {
    /// Series lines (maybe none: an empty result).
    Series(Vec<(Labels, Vec<Item>)>),
    Scalar(f64),
    String(String),
}

/// An `eval` block.
#[derive(Debug, Clone)]
pub(crate) struct EvalCmd {
    pub line: usize,
    pub header: String,
    pub expr: String,
    /// `Some((start, end, step))` for a range eval; `None` for an instant one.
    pub range: Option<(i64, i64, i64)>,
    /// The instant eval time.
    pub at: i64,
    pub fail: Option<TextMatch>,
    pub warn: AnnotationRule,
    pub info: AnnotationRule,
    pub ordered: bool,
    /// `expect range vector from t1 to t2 step d`.
    pub range_vector: Option<(i64, i64, i64)>,
    pub expected: Expected,
}

/// A series of a `load` block: labels and values at positions `0, interval, ...`.
#[derive(Debug, Clone)]
pub(crate) struct LoadSeries {
    pub labels: Labels,
    pub items: Vec<Item>,
}

/// One command of a script.
#[derive(Debug, Clone)]
pub(crate) enum Command {
    Clear,
    Load {
        interval: i64,
        series: Vec<LoadSeries>,
    },
    Eval(Box<EvalCmd>),
}

fn duration(line: usize, s: &str) -> Result<i64, ScriptError> {
    parse_duration(s).ok_or_else(|| ScriptError::at(line, format!("invalid duration {s:?}")))
}

/// A bare number line: Go's integer parsing with base prefixes, then float parsing.
fn scalar_line(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || t.contains(char::is_whitespace) {
        return None;
    }
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|c| c.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else {
        lower.parse::<i64>().ok()
    };
    if let Some(i) = int {
        return Some(if neg { -(i as f64) } else { i as f64 });
    }
    let v = match lower.as_str() {
        "inf" | "infinity" => f64::INFINITY,
        "nan" => f64::NAN,
        _ => digits.parse::<f64>().ok()?,
    };
    Some(if neg { -v } else { v })
}

/// A Go string literal (`"..."`, `'...'` or back-quoted).
fn go_string(s: &str) -> Option<String> {
    let s = s.trim();
    let q = s.chars().next()?;
    if !matches!(q, '"' | '\'' | '`') || s.len() < 2 || !s.ends_with(q) {
        return None;
    }
    Some(String::from_utf8_lossy(&unescape(&s[1..s.len() - 1], q)).into_owned())
}

/// Parses `msg: text` / `regex: re` after an expectation keyword.
fn text_match(line: usize, rest: &str) -> Result<TextMatch, ScriptError> {
    let rest = rest.trim();
    if let Some(m) = rest.strip_prefix("msg:") {
        return Ok(TextMatch::Exact(m.trim().to_owned()));
    }
    if let Some(r) = rest.strip_prefix("regex:") {
        let re = regex::Regex::new(r.trim())
            .map_err(|e| ScriptError::at(line, format!("bad regex: {e}")))?;
        return Ok(TextMatch::Regex(re));
    }
    if rest.is_empty() {
        return Ok(TextMatch::Any);
    }
    Err(ScriptError::at(
        line,
        format!("invalid expectation {rest:?}"),
    ))
}

fn push_rule(rule: &mut AnnotationRule, m: TextMatch) {
    match rule {
        AnnotationRule::Some(v) => v.push(m),
        _ => *rule = AnnotationRule::Some(vec![m]),
    }
}

/// Splits a script into trimmed lines, comments turned into empty lines.
fn lines(text: &str) -> Vec<String> {
    text.split('\n')
        .map(|l| {
            let t = l.trim();
            if t.starts_with('#') {
                String::new()
            } else {
                t.to_owned()
            }
        })
        .collect()
}

/// Parses a whole script.
pub(crate) fn parse_script(text: &str) -> Result<Vec<Command>, ScriptError> {
    let lines = lines(text);
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if word == "clear" {
            cmds.push(Command::Clear);
            i += 1;
        } else if word.starts_with("load") {
            let (cmd, next) = parse_load(&lines, i)?;
            cmds.push(cmd);
            i = next;
        } else if word.starts_with("eval") {
            let (cmd, next) = parse_eval(&lines, i)?;
            cmds.push(Command::Eval(Box::new(cmd)));
            i = next;
        } else {
            return Err(ScriptError::at(i + 1, format!("invalid command {l:?}")));
        }
    }
    Ok(cmds)
}

fn parse_load(lines: &[String], start: usize) -> Result<(Command, usize), ScriptError> {
    let header: Vec<&str> = lines[start].split_whitespace().collect();
    if header.len() != 2 {
        return Err(ScriptError::at(start + 1, "invalid load command"));
    }
    let interval = duration(start + 1, header[1])?;
    let mut series: Vec<LoadSeries> = Vec::new();
    let mut i = start + 1;
    while i < lines.len() && !lines[i].is_empty() {
        let line = &lines[i];
        // Start-timestamp lines (`metric@st ...`) are an experimental feature: skipped.
        let ident_end = line.find(char::is_whitespace).unwrap_or(line.len());
        if !line.starts_with('{') && line[..ident_end].ends_with("@st") || line.contains("}@st") {
            i += 1;
            continue;
        }
        let (labels, items) = parse_series(line).map_err(|e| ScriptError::at(i + 1, e))?;
        // A later line for the same series replaces the earlier one.
        series.retain(|s| s.labels != labels);
        series.push(LoadSeries { labels, items });
        i += 1;
    }
    Ok((Command::Load { interval, series }, i))
}

fn parse_eval(lines: &[String], start: usize) -> Result<(EvalCmd, usize), ScriptError> {
    let line_no = start + 1;
    let header = lines[start].clone();
    let err = |m: &str| ScriptError::at(line_no, format!("{m}: {header:?}"));
    let (word, rest) = header
        .split_once(char::is_whitespace)
        .ok_or_else(|| err("invalid eval command"))?;
    let rest = rest.trim_start();
    let mut cmd = EvalCmd {
        line: line_no,
        header: header.clone(),
        expr: String::new(),
        range: None,
        at: 0,
        fail: None,
        warn: AnnotationRule::Unchecked,
        info: AnnotationRule::Unchecked,
        ordered: false,
        range_vector: None,
        expected: Expected::Series(Vec::new()),
    };
    match word {
        "eval" => {}
        "eval_fail" => cmd.fail = Some(TextMatch::Any),
        "eval_warn" => cmd.warn = AnnotationRule::Some(vec![TextMatch::Any]),
        "eval_info" => cmd.info = AnnotationRule::Some(vec![TextMatch::Any]),
        "eval_ordered" => cmd.ordered = true,
        _ => return Err(err("invalid eval command")),
    }
    let mut words = rest.splitn(3, char::is_whitespace);
    match (words.next(), words.next()) {
        (Some("instant"), Some("at")) => {
            let rest = words.next().unwrap_or("").trim_start();
            let (t, expr) = rest
                .split_once(char::is_whitespace)
                .ok_or_else(|| err("invalid instant eval"))?;
            cmd.at = duration(line_no, t)?;
            cmd.expr = expr.trim().to_owned();
        }
        (Some("range"), Some("from")) => {
            let rest = words.next().unwrap_or("");
            let parts: Vec<&str> = rest.splitn(6, char::is_whitespace).collect();
            if parts.len() < 6 || parts[1] != "to" || parts[3] != "step" {
                return Err(err("invalid range eval"));
            }
            let (s, e, st) = (
                duration(line_no, parts[0])?,
                duration(line_no, parts[2])?,
                duration(line_no, parts[4])?,
            );
            if e < s {
                return Err(err("range end before start"));
            }
            cmd.range = Some((s, e, st));
            cmd.expr = parts[5].trim().to_owned();
        }
        _ => return Err(err("invalid eval command")),
    }
    let mut series = Vec::new();
    let mut scalar = None;
    let mut string = None;
    let mut i = start + 1;
    while i < lines.len() && !lines[i].is_empty() {
        let l = lines[i].as_str();
        let n = i + 1;
        i += 1;
        if let Some(r) = l.strip_prefix("expect range vector") {
            let p: Vec<&str> = r.split_whitespace().collect();
            if p.len() != 6 || p[0] != "from" || p[2] != "to" || p[4] != "step" {
                return Err(ScriptError::at(n, "invalid expect range vector"));
            }
            let rv = (duration(n, p[1])?, duration(n, p[3])?, duration(n, p[5])?);
            cmd.at = rv.1;
            cmd.range_vector = Some(rv);
        } else if let Some(r) = l.strip_prefix("expect string") {
            string = Some(go_string(r).ok_or_else(|| ScriptError::at(n, "invalid expect string"))?);
        } else if let Some(r) = l.strip_prefix("expect ") {
            let r = r.trim_start();
            let (kind, rest) = r.split_once(char::is_whitespace).unwrap_or((r, ""));
            match kind {
                "fail" => cmd.fail = Some(text_match(n, rest)?),
                "warn" => push_rule(&mut cmd.warn, text_match(n, rest)?),
                "info" => push_rule(&mut cmd.info, text_match(n, rest)?),
                "no_warn" => cmd.warn = AnnotationRule::None,
                "no_info" => cmd.info = AnnotationRule::None,
                "ordered" => cmd.ordered = true,
                _ => return Err(ScriptError::at(n, format!("invalid expectation {l:?}"))),
            }
        } else if let Some(m) = l.strip_prefix("expected_fail_message") {
            cmd.fail = Some(TextMatch::Exact(m.trim().to_owned()));
            break;
        } else if let Some(r) = l.strip_prefix("expected_fail_regexp") {
            cmd.fail = Some(text_match(n, &format!("regex:{r}"))?);
            break;
        } else if let Some(v) = scalar_line(l) {
            scalar = Some(v);
            break;
        } else {
            let (labels, items) = parse_series(l).map_err(|e| ScriptError::at(n, e))?;
            let instant_like = cmd.range.is_none() && cmd.range_vector.is_none();
            if instant_like && items.len() != 1 {
                return Err(ScriptError::at(
                    n,
                    "an instant eval expects one value per series",
                ));
            }
            series.push((labels, items));
        }
    }
    cmd.expected = match (scalar, string) {
        (Some(v), _) => Expected::Scalar(v),
        (None, Some(s)) => Expected::String(s),
        (None, None) => Expected::Series(series),
    };
    Ok((cmd, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        let text = "load 5m\n  m{a=\"1\"} 0+1x3\n\n# comment\neval instant at 10m m\n  expect no_warn\n  m{a=\"1\"} 2\n\nclear\neval range from 0 to 10m step 5m m * 2\n  {a=\"1\"} 0 2 4\n\neval instant at 0 1+1\n  2\neval instant at 0 \"x\"\n  expect string `x`\n";
        let cmds = parse_script(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cmds.len(), 6);
        let Command::Eval(e) = &cmds[1] else { panic!() };
        assert_eq!(e.at, 600_000);
        assert!(matches!(e.warn, AnnotationRule::None));
        let Command::Eval(e) = &cmds[3] else { panic!() };
        assert_eq!(e.range, Some((0, 600_000, 300_000)));
        assert_eq!(e.expr, "m * 2");
        let Command::Eval(e) = &cmds[4] else { panic!() };
        assert!(matches!(e.expected, Expected::Scalar(v) if v == 2.0));
    }

    #[test]
    fn scalar_lines_like_go() {
        assert_eq!(scalar_line("0x10"), Some(16.0));
        assert_eq!(scalar_line("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(scalar_line("+Inf"), Some(f64::INFINITY));
        assert_eq!(scalar_line("1.5e3"), Some(1500.0));
        assert_eq!(scalar_line("m 1"), None);
        assert_eq!(scalar_line("-0.0000002"), Some(-0.0000002));
    }
}
