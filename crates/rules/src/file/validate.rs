//! The semantic checks of Prometheus' `rulefmt` on decoded groups and rules, each
//! problem placed on the line of the value at fault: group names non-empty and unique
//! in the file; exactly one of `record` and `alert`; `expr` present and valid PromQL;
//! recording rules with a valid metric name and no `for`, `keep_firing_for` or
//! `annotations`; label and annotation names valid; alert label and annotation
//! templates that parse.
//!
//! Names follow the legacy grammar (`[a-zA-Z_:][a-zA-Z0-9_:]*` for metrics), as
//! Prometheus 2.x and promtool do; Prometheus 3 also accepts UTF-8 names there.

use std::collections::{BTreeMap, HashMap};

use tally_model::name::{is_legacy_label_name, is_legacy_metric_name};
use tally_promql::{Query, QueryError};

use super::decode::{RawGroup, RawRule, Scalar};
use super::{FileError, Rule, RuleGroup, RuleKind};
use crate::template;

/// Validates `raw` groups into the model, adding every problem to `errors`. Groups
/// and rules with problems are still returned (as far as they could be built), so a
/// caller that only wants the errors gets all of them.
pub(crate) fn validate_groups(raw: Vec<RawGroup>, errors: &mut Vec<FileError>) -> Vec<RuleGroup> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut groups = Vec::with_capacity(raw.len());
    for g in raw {
        let name = g.name.clone().unwrap_or(Scalar {
            text: String::new(),
            line: g.line,
        });
        if name.text.is_empty() {
            errors.push(FileError {
                line: name.line,
                message: "group name must not be empty".to_owned(),
            });
        } else if let Some(first) = seen.get(&name.text) {
            errors.push(FileError {
                line: name.line,
                message: format!(
                    "group name {:?} is repeated in the same file (first at line {first})",
                    name.text
                ),
            });
        } else {
            seen.insert(name.text.clone(), name.line);
        }
        let labels = group_labels(&g, errors);
        let rules = g
            .rules
            .into_iter()
            .enumerate()
            .filter_map(|(i, r)| validate_rule(&name.text, i + 1, r, errors))
            .collect();
        groups.push(RuleGroup {
            name: name.text,
            interval_ms: g.interval_ms,
            query_offset_ms: g.query_offset_ms,
            limit: usize::try_from(g.limit).unwrap_or(0),
            labels,
            rules,
            line: g.line,
        });
    }
    groups
}

fn group_labels(g: &RawGroup, errors: &mut Vec<FileError>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    for (k, v) in &g.labels {
        if !is_legacy_label_name(&k.text) || k.text == "__name__" {
            errors.push(FileError {
                line: k.line,
                message: format!("invalid label name in group labels: {}", k.text),
            });
        }
        labels.insert(k.text.clone(), v.text.clone());
    }
    labels
}

/// Checks one rule; `index` is 1-based within its group. Returns the rule when its
/// kind could be decided (exactly one of `record` and `alert` set).
fn validate_rule(
    group: &str,
    index: usize,
    r: RawRule,
    errors: &mut Vec<FileError>,
) -> Option<Rule> {
    let record = r.record.clone().filter(|s| !s.text.is_empty());
    let alert = r.alert.clone().filter(|s| !s.text.is_empty());
    let name = alert.as_ref().or(record.as_ref()).map_or("", |s| &s.text);
    let context = format!("group {group:?}, rule {index}, {name:?}");
    let mut fail = |line: usize, message: String| {
        errors.push(FileError {
            line,
            message: format!("{context}: {message}"),
        });
    };

    let kind = match (&record, &alert) {
        (Some(_), Some(a)) => {
            fail(
                a.line,
                "only one of 'record' and 'alert' must be set".to_owned(),
            );
            None
        }
        (None, None) => {
            fail(r.line, "one of 'record' or 'alert' must be set".to_owned());
            None
        }
        (Some(rec), None) => {
            if !r.annotations.is_empty() {
                fail(
                    rec.line,
                    "invalid field 'annotations' in recording rule".to_owned(),
                );
            }
            if r.for_ms != 0 {
                fail(rec.line, "invalid field 'for' in recording rule".to_owned());
            }
            if r.keep_firing_for_ms != 0 {
                fail(
                    rec.line,
                    "invalid field 'keep_firing_for' in recording rule".to_owned(),
                );
            }
            if !is_legacy_metric_name(&rec.text) {
                fail(
                    rec.line,
                    format!("invalid recording rule name: {}", rec.text),
                );
            }
            Some(RuleKind::Recording {
                record: rec.text.clone(),
            })
        }
        (None, Some(a)) => Some(RuleKind::Alerting {
            alert: a.text.clone(),
            for_ms: r.for_ms,
            keep_firing_for_ms: r.keep_firing_for_ms,
        }),
    };

    let expr = r.expr.clone().unwrap_or(Scalar {
        text: String::new(),
        line: r.line,
    });
    if expr.text.is_empty() {
        // A malformed `expr` (not a scalar) was reported when decoding.
        if !r.expr_malformed {
            fail(expr.line, "field 'expr' must be set in rule".to_owned());
        }
    } else if let Some(message) = promql_syntax_error(&expr.text) {
        fail(expr.line, format!("could not parse expression: {message}"));
    }

    for (k, _) in &r.labels {
        if !is_legacy_label_name(&k.text) || k.text == "__name__" {
            fail(k.line, format!("invalid label name: {}", k.text));
        }
    }
    for (k, _) in &r.annotations {
        if !is_legacy_label_name(&k.text) {
            fail(k.line, format!("invalid annotation name: {}", k.text));
        }
    }
    if let Some(a) = &alert {
        let template_name = format!("__alert_{}", a.text);
        for (what, entries) in [("label", &r.labels), ("annotation", &r.annotations)] {
            for (k, v) in entries {
                if let Err(e) = template::check(&template_name, &v.text) {
                    fail(v.line, format!("{what} {:?}: {e}", k.text));
                }
            }
        }
    }

    Some(Rule {
        kind: kind?,
        expr: expr.text,
        labels: to_map(&r.labels),
        annotations: to_map(&r.annotations),
        line: r.line,
    })
}

/// Why `text` is not valid PromQL, if it is not.
///
/// Errors other than syntax (a construct the engine does not evaluate yet) do not
/// count: promtool accepts such files, and so does tally. Nor does `holt_winters`,
/// which Prometheus 2 has (promtool 2.42 accepts it) and Prometheus 3 renamed: the
/// engine refuses it, the parser's own grammar still knows it.
fn promql_syntax_error(text: &str) -> Option<String> {
    match Query::parse(text) {
        Err(QueryError::Parse { message, .. }) => {
            let prometheus_2 =
                text.contains("holt_winters") && tally_promql::parse_expr(text).is_ok();
            (!prometheus_2).then_some(message)
        }
        _ => None,
    }
}

fn to_map(entries: &[(Scalar, Scalar)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| (k.text.clone(), v.text.clone()))
        .collect()
}
