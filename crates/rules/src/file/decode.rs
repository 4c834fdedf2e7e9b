//! From the YAML tree to raw groups and rules: the shape of a rule file, checked
//! strictly as Prometheus' yaml.v3 decoding does (unknown fields, wrong node kinds,
//! bad durations and integers are errors), with each value's line kept for the
//! semantic checks in `validate.rs`.
//!
//! Scalars of any YAML type are accepted where a string is expected (`name: 1`,
//! `x: true`), as yaml.v3 does; null reads as the empty string.

use super::yaml::{Node, NodeKind};
use super::FileError;
use tally_model::duration::parse_duration;

/// A scalar string with its line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scalar {
    pub(crate) text: String,
    pub(crate) line: usize,
}

/// A group as written, before validation.
#[derive(Debug, Default)]
pub(crate) struct RawGroup {
    pub(crate) line: usize,
    pub(crate) name: Option<Scalar>,
    pub(crate) interval_ms: Option<i64>,
    pub(crate) query_offset_ms: Option<i64>,
    pub(crate) limit: i64,
    pub(crate) labels: Vec<(Scalar, Scalar)>,
    pub(crate) rules: Vec<RawRule>,
}

/// A rule as written, before validation.
#[derive(Debug, Default)]
pub(crate) struct RawRule {
    pub(crate) line: usize,
    pub(crate) record: Option<Scalar>,
    pub(crate) alert: Option<Scalar>,
    pub(crate) expr: Option<Scalar>,
    /// `expr` was given but is not a scalar (already reported).
    pub(crate) expr_malformed: bool,
    pub(crate) for_ms: i64,
    pub(crate) keep_firing_for_ms: i64,
    pub(crate) labels: Vec<(Scalar, Scalar)>,
    pub(crate) annotations: Vec<(Scalar, Scalar)>,
}

const FILE_FIELDS: &[&str] = &["groups"];
const GROUP_FIELDS: &[&str] = &[
    "name",
    "interval",
    "query_offset",
    "limit",
    "labels",
    "rules",
];
const RULE_FIELDS: &[&str] = &[
    "record",
    "alert",
    "expr",
    "for",
    "keep_firing_for",
    "labels",
    "annotations",
];

/// Decodes the document root into raw groups, adding every problem to `errors`.
pub(crate) fn decode_file(root: &Node, errors: &mut Vec<FileError>) -> Vec<RawGroup> {
    let mut groups = Vec::new();
    for (key, value) in fields(root, "the file", FILE_FIELDS, errors) {
        if key == "groups" {
            for item in items(value, "groups", errors) {
                groups.push(decode_group(item, errors));
            }
        }
    }
    groups
}

fn decode_group(node: &Node, errors: &mut Vec<FileError>) -> RawGroup {
    let mut group = RawGroup {
        line: node.line,
        ..RawGroup::default()
    };
    for (key, value) in fields(node, "a group", GROUP_FIELDS, errors) {
        match key {
            "name" => group.name = scalar(value, "name", errors),
            "interval" => group.interval_ms = duration(value, errors),
            "query_offset" => group.query_offset_ms = duration(value, errors),
            "limit" => group.limit = integer(value, "limit", errors),
            "labels" => group.labels = string_map(value, "labels", errors),
            _ => {
                for item in items(value, "rules", errors) {
                    group.rules.push(decode_rule(item, errors));
                }
            }
        }
    }
    group
}

fn decode_rule(node: &Node, errors: &mut Vec<FileError>) -> RawRule {
    let mut rule = RawRule {
        line: node.line,
        ..RawRule::default()
    };
    for (key, value) in fields(node, "a rule", RULE_FIELDS, errors) {
        match key {
            "record" => rule.record = scalar(value, "record", errors),
            "alert" => rule.alert = scalar(value, "alert", errors),
            "expr" => {
                rule.expr = scalar(value, "expr", errors);
                rule.expr_malformed = rule.expr.is_none();
            }
            "for" => rule.for_ms = duration(value, errors).unwrap_or(0),
            "keep_firing_for" => rule.keep_firing_for_ms = duration(value, errors).unwrap_or(0),
            "labels" => rule.labels = string_map(value, "labels", errors),
            _ => rule.annotations = string_map(value, "annotations", errors),
        }
    }
    rule
}

/// The entries of a mapping whose keys are all in `allowed`; others are reported.
/// Null reads as an empty mapping.
fn fields<'n>(
    node: &'n Node,
    what: &str,
    allowed: &[&str],
    errors: &mut Vec<FileError>,
) -> Vec<(&'n str, &'n Node)> {
    let entries = match &node.kind {
        NodeKind::Map(entries) => entries,
        _ if node.is_null() => return Vec::new(),
        _ => {
            errors.push(FileError {
                line: node.line,
                message: format!("{what} must be a mapping, found {}", node.describe()),
            });
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (key, value) in entries {
        match &key.kind {
            NodeKind::Scalar { text, .. } if allowed.contains(&text.as_str()) => {
                out.push((text.as_str(), value));
            }
            NodeKind::Scalar { text, .. } => errors.push(FileError {
                line: key.line,
                message: format!(
                    "unknown field {text:?} in {what} (known fields: {})",
                    allowed.join(", ")
                ),
            }),
            _ => errors.push(FileError {
                line: key.line,
                message: format!("{what} has a key that is {}", key.describe()),
            }),
        }
    }
    out
}

/// The items of a sequence, null items left out (yaml.v3 decodes them to nothing
/// that promtool counts or checks); null reads as no items.
fn items<'n>(
    node: &'n Node,
    what: &str,
    errors: &mut Vec<FileError>,
) -> impl Iterator<Item = &'n Node> {
    let items: &[Node] = match &node.kind {
        NodeKind::Seq(items) => items,
        _ if node.is_null() => &[],
        _ => {
            errors.push(FileError {
                line: node.line,
                message: format!("{what} must be a sequence, found {}", node.describe()),
            });
            &[]
        }
    };
    items.iter().filter(|item| !item.is_null())
}

/// A scalar as a string (null: empty).
fn scalar(node: &Node, what: &str, errors: &mut Vec<FileError>) -> Option<Scalar> {
    match &node.kind {
        _ if node.is_null() => Some(Scalar {
            text: String::new(),
            line: node.line,
        }),
        NodeKind::Scalar { text, .. } => Some(Scalar {
            text: text.clone(),
            line: node.line,
        }),
        _ => {
            errors.push(FileError {
                line: node.line,
                message: format!("{what} must be a string, found {}", node.describe()),
            });
            None
        }
    }
}

/// A Prometheus duration in milliseconds (null: none).
fn duration(node: &Node, errors: &mut Vec<FileError>) -> Option<i64> {
    if node.is_null() {
        return None;
    }
    let text = scalar(node, "a duration", errors)?;
    match parse_duration(&text.text) {
        Ok(ms) => Some(ms),
        Err(e) => {
            errors.push(FileError {
                line: node.line,
                message: e.to_string(),
            });
            None
        }
    }
}

/// A YAML integer (null: 0); a quoted scalar is a string, not an integer.
fn integer(node: &Node, what: &str, errors: &mut Vec<FileError>) -> i64 {
    if node.is_null() {
        return 0;
    }
    let parsed = match &node.kind {
        NodeKind::Scalar { text, plain: true } => parse_integer(text),
        _ => None,
    };
    parsed.unwrap_or_else(|| {
        errors.push(FileError {
            line: node.line,
            message: format!("{what} must be an integer, found {}", describe_value(node)),
        });
        0
    })
}

/// A node for messages: a scalar's text quoted, or its kind.
fn describe_value(node: &Node) -> String {
    match &node.kind {
        NodeKind::Scalar { text, plain: true } => format!("{text:?}"),
        NodeKind::Scalar { text, .. } => format!("the string {text:?}"),
        _ => node.describe().to_owned(),
    }
}

/// YAML's integer forms as yaml.v3 reads them: decimal (with `_` separators), `0x`
/// hex, `0o` octal, and floats without a fraction (`1.0`).
fn parse_integer(text: &str) -> Option<i64> {
    let digits = text.replace('_', "");
    let (negative, unsigned) = match digits.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, digits.strip_prefix('+').unwrap_or(&digits)),
    };
    let magnitude = if let Some(hex) = unsigned.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(octal) = unsigned.strip_prefix("0o") {
        i64::from_str_radix(octal, 8).ok()
    } else if let Ok(n) = unsigned.parse::<i64>() {
        Some(n)
    } else {
        let f: f64 = unsigned.parse().ok()?;
        (f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
    };
    magnitude.map(|m| if negative { -m } else { m })
}

/// A mapping of strings to strings (null: empty).
fn string_map(node: &Node, what: &str, errors: &mut Vec<FileError>) -> Vec<(Scalar, Scalar)> {
    let entries = match &node.kind {
        NodeKind::Map(entries) => entries,
        _ if node.is_null() => return Vec::new(),
        _ => {
            errors.push(FileError {
                line: node.line,
                message: format!("{what} must be a mapping, found {}", node.describe()),
            });
            return Vec::new();
        }
    };
    entries
        .iter()
        .filter_map(|(k, v)| {
            let key = scalar(k, &format!("a key of {what}"), errors)?;
            let value = scalar(v, &format!("{what} {:?}", key.text), errors)?;
            Some((key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::yaml::read_first_document;
    use super::*;

    fn decode(text: &str) -> (Vec<RawGroup>, Vec<FileError>) {
        let root = read_first_document(text).unwrap().root.unwrap();
        let mut errors = Vec::new();
        let groups = decode_file(&root, &mut errors);
        (groups, errors)
    }

    #[test]
    fn every_field_is_read() {
        let (groups, errors) = decode(
            "groups:\n- name: g\n  interval: 1m\n  query_offset: 30s\n  limit: 5\n  labels: {a: b}\n  rules:\n  - alert: A\n    expr: up\n    for: 5m\n    keep_firing_for: 1m\n    labels: {x: 1}\n    annotations: {s: t}\n",
        );
        assert_eq!(errors, vec![]);
        let g = &groups[0];
        assert_eq!(g.name.as_ref().unwrap().text, "g");
        assert_eq!(
            (g.interval_ms, g.query_offset_ms, g.limit),
            (Some(60_000), Some(30_000), 5)
        );
        let r = &g.rules[0];
        assert_eq!(r.line, 8);
        assert_eq!(r.expr.as_ref().unwrap().line, 9);
        assert_eq!((r.for_ms, r.keep_firing_for_ms), (300_000, 60_000));
        assert_eq!(r.labels[0].1.text, "1");
    }

    #[test]
    fn unknown_fields_and_kinds_are_reported_at_their_line() {
        let (_, errors) = decode(
            "groups:\n- name: g\n  rulez: []\n  rules:\n  - record: x\n    expr: [1]\n    foo: 1\n",
        );
        let mut lines: Vec<_> = errors.iter().map(|e| e.line).collect();
        lines.sort_unstable();
        assert_eq!(lines, vec![3, 6, 7], "{errors:?}");
    }

    #[test]
    fn bad_durations_and_integers() {
        let (_, errors) = decode("groups:\n- name: g\n  interval: 1x\n  limit: ten\n  rules:\n");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].message.contains("not a valid duration"));
        assert_eq!(errors[1].line, 4);
    }

    #[test]
    fn integer_forms() {
        for (text, n) in [
            ("10", 10),
            ("1_0", 10),
            ("-3", -3),
            ("0x10", 16),
            ("0o10", 8),
            ("1.0", 1),
        ] {
            assert_eq!(parse_integer(text), Some(n), "{text}");
        }
        for text in ["ten", "1.5", "", "0xg", "1e99"] {
            assert_eq!(parse_integer(text), None, "{text}");
        }
    }

    #[test]
    fn null_items_are_skipped_and_quoted_integers_refused() {
        let (groups, errors) = decode("groups:\n- null\n- name: g\n  limit: '5'\n  rules: [~]\n");
        assert_eq!(groups.len(), 1);
        assert!(groups[0].rules.is_empty());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].line, 4);
        assert!(errors[0].message.contains("the string \"5\""), "{errors:?}");
    }

    #[test]
    fn null_reads_as_empty() {
        let (groups, errors) = decode("groups:\n- name:\n  rules:\n  labels:\n");
        assert_eq!(errors, vec![]);
        assert_eq!(groups[0].name.as_ref().unwrap().text, "");
        let (groups, errors) = decode("groups:\n");
        assert!(groups.is_empty() && errors.is_empty());
    }

    #[test]
    fn wrong_top_level_shapes() {
        for text in ["hello\n", "groups:\n  name: a\n", "- 1\n", "groups: [1]\n"] {
            let (_, errors) = decode(text);
            assert_eq!(errors.len(), 1, "{text}: {errors:?}");
        }
    }
}
