//! `promtool check rules` semantics over files: read, parse and validate
//! ([`crate::file::parse`]), then look for duplicate rules.
//!
//! Verdicts follow promtool 2.42: every parse or validation problem is an error and
//! fails the file; duplicate rules (the same name and labels anywhere in the file,
//! recording or alerting) are *warnings*: promtool prints them under `FAILED:` but
//! still exits 0, and so does `tally rules check`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::file::{self, Rule, RuleFile};

/// How bad a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth saying; the file is still valid.
    Warning,
    /// The file is invalid.
    Error,
}

/// One finding, at a line of the file (0 when the file as a whole is at fault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
}

/// What checking one file found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The path as given.
    pub path: String,
    /// The parsed file, when it is valid.
    pub file: Option<RuleFile>,
    /// Every problem, by line.
    pub problems: Vec<Problem>,
}

impl Report {
    /// Whether any problem is an error (the file is invalid).
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| p.severity == Severity::Error)
    }

    /// How many rules the file has (0 when it is invalid).
    pub fn rule_count(&self) -> usize {
        self.file.as_ref().map_or(0, RuleFile::rule_count)
    }
}

/// Checks the rule file at `path`. An unreadable file (missing, not UTF-8) is a
/// report with one error at line 0, as promtool fails such a file too.
pub fn check_path(path: &Path) -> Report {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => check_text(&shown, &text),
        Err(e) => Report {
            path: shown,
            file: None,
            problems: vec![Problem {
                line: 0,
                severity: Severity::Error,
                message: format!("cannot read the file: {e}"),
            }],
        },
    }
}

/// Checks a rule file's `text`; `path` is used in the report only.
pub fn check_text(path: &str, text: &str) -> Report {
    match file::parse(path, text) {
        Ok(parsed) => Report {
            path: path.to_owned(),
            problems: duplicates(&parsed),
            file: Some(parsed),
        },
        Err(errors) => Report {
            path: path.to_owned(),
            file: None,
            problems: errors
                .into_iter()
                .map(|e| Problem {
                    line: e.line,
                    severity: Severity::Error,
                    message: e.message,
                })
                .collect(),
        },
    }
}

/// Rules with the same name and labels anywhere in the file, each reported once, at
/// the line of its second occurrence.
fn duplicates(file: &RuleFile) -> Vec<Problem> {
    let mut first: BTreeMap<(&str, &BTreeMap<String, String>), &Rule> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut reported = Vec::new();
    for rule in file.groups.iter().flat_map(|g| &g.rules) {
        let key = (rule.name(), &rule.labels);
        match first.get(&key) {
            None => {
                first.insert(key, rule);
            }
            Some(earlier) if !reported.contains(&key) => {
                reported.push(key);
                problems.push(Problem {
                    line: rule.line,
                    severity: Severity::Warning,
                    message: format!(
                        "duplicate rule: {} with labels {} (first at line {}); \
                         might cause inconsistency while recording expressions",
                        rule.name(),
                        show_labels(&rule.labels),
                        earlier.line
                    ),
                });
            }
            Some(_) => {}
        }
    }
    problems
}

fn show_labels(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_file_has_no_problems() {
        let report = check_text(
            "ok.yml",
            "groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: sum(up)\n",
        );
        assert_eq!(report.problems, vec![]);
        assert_eq!(report.rule_count(), 1);
        assert!(!report.has_errors());
    }

    #[test]
    fn duplicates_are_warnings_once_each_across_groups() {
        let text = "groups:
- name: a
  rules:
  - alert: X
    expr: up == 0
    labels: {severity: page}
- name: b
  rules:
  - alert: X
    expr: up == 1
    labels: {severity: page}
  - alert: X
    expr: up == 1
    labels: {severity: page}
  - alert: X
    expr: up == 1
    labels: {severity: warn}
  - record: X
    expr: up
    labels: {severity: warn}
";
        let report = check_text("dup.yml", text);
        assert!(!report.has_errors());
        assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
        assert_eq!(report.problems[0].line, 9);
        assert!(report.problems[0].message.contains("first at line 4"));
        assert_eq!(report.problems[1].line, 18);
        assert!(report.problems[1].message.contains("first at line 15"));
        assert!(report
            .problems
            .iter()
            .all(|p| p.severity == Severity::Warning));
    }

    #[test]
    fn errors_fail_the_file() {
        let report = check_text("bad.yml", "groups:\n- name: g\n  rules:\n  - record: a\n");
        assert!(report.has_errors());
        assert_eq!(report.rule_count(), 0);
        assert_eq!(report.problems[0].line, 4);
    }

    #[test]
    fn unreadable_files_are_errors() {
        let report = check_path(Path::new("/nonexistent/rules.yml"));
        assert!(report.has_errors());
        assert_eq!(report.problems[0].line, 0);
        assert!(report.problems[0].message.contains("cannot read"));
    }
}
