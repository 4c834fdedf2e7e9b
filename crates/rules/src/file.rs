//! The rule-file model: Prometheus' rule-file YAML (`groups:` of recording and alerting
//! rules), as parsed, with the line each group and rule starts on.
//!
//! [`parse`] reads a file in three steps, each in its own file:
//! - `file/yaml.rs`: the first YAML document as a tree of nodes with lines (duplicate
//!   mapping keys are errors, as in Go's yaml.v3);
//! - `file/decode.rs`: the tree into raw groups and rules, strictly (unknown fields,
//!   wrong kinds, bad durations via `tally_model::duration`);
//! - `file/validate.rs`: Prometheus' `rulefmt` checks (names, one of record/alert,
//!   PromQL, templates), building the model below.
//!
//! Every problem is collected with its line; a YAML syntax error stops at once. An
//! empty file (or one with only comments) is a valid file with no groups, as for
//! promtool. Beyond Prometheus 2.42, group `query_offset` and `labels` (Prometheus 3)
//! are accepted.

mod decode;
mod validate;
mod yaml;

use std::collections::BTreeMap;
use std::path::Path;

pub use tally_model::duration::{parse_duration, DurationError};

/// One rule file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleFile {
    /// Where it was read from, as given (used in messages and `/api/v1/rules`' `file`).
    pub path: String,
    /// Its groups, in file order.
    pub groups: Vec<RuleGroup>,
}

/// A group: rules evaluated together, in order, on one interval.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleGroup {
    /// `name`, unique within its file.
    pub name: String,
    /// `interval` in milliseconds; `None` means the global evaluation interval.
    pub interval_ms: Option<i64>,
    /// `query_offset` in milliseconds; `None` means the global default (0).
    pub query_offset_ms: Option<i64>,
    /// `limit`: the most series a rule may produce or alerts it may have (0: no limit).
    pub limit: usize,
    /// `labels`: added to every rule of the group (a rule's own labels win).
    pub labels: BTreeMap<String, String>,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
    /// 1-based line of the group in its file.
    pub line: usize,
}

/// One recording or alerting rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Recording or alerting, with what only that kind has.
    pub kind: RuleKind,
    /// `expr`, the PromQL expression as written.
    pub expr: String,
    /// `labels`: set on the results (templates allowed in alerting rules).
    pub labels: BTreeMap<String, String>,
    /// `annotations` (alerting rules only; templates allowed).
    pub annotations: BTreeMap<String, String>,
    /// 1-based line of the rule in its file.
    pub line: usize,
}

/// What kind a [`Rule`] is.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// `record: NAME`: the results are written to storage as series named NAME.
    Recording {
        /// The metric name written.
        record: String,
    },
    /// `alert: NAME`: every result series is an alert.
    Alerting {
        /// The alert name (`alertname` label).
        alert: String,
        /// `for` in milliseconds: how long a series must be present before firing.
        for_ms: i64,
        /// `keep_firing_for` in milliseconds: how long to keep firing once the series
        /// is gone.
        keep_firing_for_ms: i64,
    },
}

impl Rule {
    /// The rule's name: the recorded metric or the alert name.
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Recording { record } => record,
            RuleKind::Alerting { alert, .. } => alert,
        }
    }
}

/// A problem in a rule file, at a line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{line}: {message}")]
pub struct FileError {
    /// 1-based line the problem is on (0 when the file as a whole is at fault).
    pub line: usize,
    /// What is wrong, in promtool's terms where it has them.
    pub message: String,
}

/// Parses and validates one rule file's text; `path` is used in messages only. Every
/// problem found is returned, not only the first.
pub fn parse(path: &str, text: &str) -> Result<RuleFile, Vec<FileError>> {
    let document = yaml::read_first_document(text).map_err(|e| vec![e])?;
    let mut errors = document.errors;
    let groups = match &document.root {
        Some(root) => {
            let raw = decode::decode_file(root, &mut errors);
            validate::validate_groups(raw, &mut errors)
        }
        None => Vec::new(),
    };
    if errors.is_empty() {
        Ok(RuleFile {
            path: path.to_owned(),
            groups,
        })
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

/// Why [`load`] failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read (or is not UTF-8).
    #[error("{path}: {source}")]
    Read {
        /// The path as given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but is not a valid rule file.
    #[error("{path}: {} problem(s), first: {}", .errors.len(), .errors.first().map(ToString::to_string).unwrap_or_default())]
    Invalid {
        /// The path as given.
        path: String,
        /// Every problem, by line.
        errors: Vec<FileError>,
    },
}

/// Reads and parses the rule file at `path` (see [`parse`]).
pub fn load(path: &Path) -> Result<RuleFile, LoadError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&shown, &text).map_err(|errors| LoadError::Invalid {
        path: shown,
        errors,
    })
}

impl RuleFile {
    /// How many rules the file has, over all groups.
    pub fn rule_count(&self) -> usize {
        self.groups.iter().map(|g| g.rules.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_parses_into_the_model() {
        let text = "groups:
  - name: g
    interval: 1m
    query_offset: 10s
    limit: 3
    labels: {team: db}
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: {source: rules}
      - alert: Down
        expr: up == 0
        for: 5m
        keep_firing_for: 1m
        annotations: {summary: '{{ $labels.job }} down'}
";
        let file = parse("r.yml", text).unwrap();
        assert_eq!(file.path, "r.yml");
        assert_eq!(file.rule_count(), 2);
        let g = &file.groups[0];
        assert_eq!(
            (g.line, g.interval_ms, g.query_offset_ms, g.limit),
            (2, Some(60_000), Some(10_000), 3)
        );
        assert_eq!(g.labels["team"], "db");
        assert_eq!(g.rules[0].line, 8);
        assert_eq!(g.rules[0].name(), "job:up:sum");
        assert_eq!(g.rules[0].labels["source"], "rules");
        assert_eq!(g.rules[1].line, 11);
        assert_eq!(
            g.rules[1].kind,
            RuleKind::Alerting {
                alert: "Down".to_owned(),
                for_ms: 300_000,
                keep_firing_for_ms: 60_000
            }
        );
        assert_eq!(g.rules[1].annotations["summary"], "{{ $labels.job }} down");
    }

    #[test]
    fn empty_files_have_no_groups() {
        for text in ["", "# nothing\n", "groups:\n", "groups: []\n", "---\n"] {
            assert_eq!(parse("e.yml", text).unwrap().groups, vec![], "{text:?}");
        }
    }

    #[test]
    fn problems_come_back_sorted_by_line() {
        let text = "groups:
  - name: g
    rules:
      - record: bad-name
        expr: up
      - alert: A
        expr: 'up =='
  - name: g
    oops: 1
";
        let errors = parse("e.yml", text).unwrap_err();
        let lines: Vec<_> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![4, 7, 8, 9], "{errors:#?}");
        assert!(errors[0].to_string().starts_with("4: group \"g\", rule 1"));
    }
}
