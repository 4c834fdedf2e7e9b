//! `promtool test rules`: unit tests for rule files, in promtool's file format, run
//! the way promtool 2.42 runs them, with its messages.
//!
//! A test file names rule files (globs, relative to the test file), an
//! `evaluation_interval` (default 1m) and an optional `group_eval_order`, and has test
//! groups. Each test group loads its `input_series` into an empty
//! [`MemStorage`](tally_storage::MemStorage) (the n-th value at `n * interval`), then a
//! [`Manager`](crate::eval::Manager) on a manual clock evaluates every rule group at
//! 0, `evaluation_interval`, ... up to the largest `eval_time` of the group's tests,
//! loading the input samples up to each step first. An `alert_rule_test` compares the
//! firing alerts of its `alertname` (labels and expanded annotations) after the step
//! its `eval_time` falls in; a `promql_expr_test` runs its expression at its
//! `eval_time` after the last step. A rule that fails to evaluate fails the test
//! group at once.
//!
//! # Layout
//!
//! - `unittest/input.rs`: the file format (serde, unknown fields refused).
//! - `unittest/run.rs`: one test group.
//! - `unittest/format.rs`: promtool's text for times, values, expected/got lists.
//!
//! # Example
//!
//! ```no_run
//! let report = tally_rules::unittest::run_file(std::path::Path::new("tests.yml"));
//! print!("{}", report.render());
//! assert!(report.passed());
//! ```

mod format;
mod input;
mod run;

use std::path::{Path, PathBuf};

use crate::file::RuleFile;

/// One reason a test file failed, worded as promtool words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestFailure {
    /// The test file cannot be read or is not a valid test file.
    #[error("{0}")]
    File(String),
    /// A rule file has errors.
    #[error("{path}: {message}")]
    RuleFile {
        /// The rule file.
        path: String,
        /// Its problem, with the line.
        message: String,
    },
    /// The test group's setup is wrong (input series, a missing `alertname`).
    #[error("{0}")]
    Setup(String),
    /// A rule failed to evaluate.
    #[error("    rule: {rule}, time: {}, err: {err}", format::go_duration(*.time_ms))]
    RuleEval {
        /// The rule's name.
        rule: String,
        /// The evaluation time.
        time_ms: i64,
        /// The error.
        err: String,
    },
    /// Firing alerts differ from the expected ones.
    #[error("{}    alertname: {alertname}, time: {time}, \n        exp:{exp}, \n        got:{got}",
        if test_name.is_empty() { String::new() } else { format!("    name: {test_name},\n") })]
    Alerts {
        /// The test group's `name`.
        test_name: String,
        /// The alert name tested.
        alertname: String,
        /// The `eval_time`.
        time: String,
        /// Expected alerts, as promtool lists them.
        exp: String,
        /// Firing alerts, as promtool lists them.
        got: String,
    },
    /// An expression failed, or its expected labels do not parse.
    #[error("    expr: {expr:?}, time: {time}, err: {err}")]
    ExprError {
        /// The expression.
        expr: String,
        /// The `eval_time`.
        time: String,
        /// What failed.
        err: String,
    },
    /// An expression's result differs from the expected samples.
    #[error("    expr: {expr:?}, time: {time},\n        exp: {exp}\n        got: {got}")]
    ExprMismatch {
        /// The expression.
        expr: String,
        /// The `eval_time`.
        time: String,
        /// Expected samples, as promtool lists them.
        exp: String,
        /// Actual samples.
        got: String,
    },
}

/// The outcome of one test file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The test file, as given.
    pub path: String,
    /// Rule-file patterns that matched no file (promtool warns and goes on).
    pub warnings: Vec<String>,
    /// Failures; empty when every test passed.
    pub failures: Vec<TestFailure>,
}

impl FileReport {
    /// Whether every test passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// promtool's report: `Unit Testing:  FILE`, then `  SUCCESS` or `  FAILED:` and each
    /// failure followed by a blank line, then a blank line. (promtool splits this between
    /// stdout and stderr; here it is one text.)
    pub fn render(&self) -> String {
        let mut out = format!("Unit Testing:  {}\n", self.path);
        for w in &self.warnings {
            out.push_str(&format!("  WARNING: no file match pattern {w}\n"));
        }
        if self.passed() {
            out.push_str("  SUCCESS\n");
        } else {
            out.push_str("  FAILED:\n");
            for f in &self.failures {
                out.push_str(&format!("{f}\n\n"));
            }
        }
        out.push('\n');
        out
    }
}

/// Runs the test file at `path`.
pub fn run_file(path: &Path) -> FileReport {
    let mut report = FileReport {
        path: path.display().to_string(),
        warnings: Vec::new(),
        failures: Vec::new(),
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            report
                .failures
                .push(TestFailure::File(format!("open {}: {e}", path.display())));
            return report;
        }
    };
    let base = path.parent().unwrap_or(Path::new(""));
    report.failures = run_text(&text, base, &mut report.warnings);
    report
}

/// Runs a test file's text; rule files are resolved against `base`. Unmatched rule-file
/// patterns are added to `warnings`.
pub fn run_text(text: &str, base: &Path, warnings: &mut Vec<String>) -> Vec<TestFailure> {
    let file: input::TestFile = match serde_saphyr::from_str(text) {
        Ok(f) => f,
        Err(e) => return vec![TestFailure::File(e.to_string())],
    };
    let mut paths = Vec::new();
    for pattern in &file.rule_files {
        let full = if pattern.is_empty() || Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            base.join(pattern)
        };
        let full = full.to_string_lossy().into_owned();
        let matched: Vec<PathBuf> = match glob::glob(&full) {
            Ok(paths) => paths.filter_map(Result::ok).collect(),
            Err(e) => return vec![TestFailure::File(format!("{full}: {e}"))],
        };
        if matched.is_empty() {
            warnings.push(full);
        }
        // A file named twice is loaded once (promtool keys groups by file and name).
        for m in matched {
            if !paths.contains(&m) {
                paths.push(m);
            }
        }
    }
    // Unset or zero: 1m, as in promtool.
    let eval_ms = file
        .evaluation_interval
        .map(|d| d.0)
        .filter(|i| *i > 0)
        .unwrap_or(60_000);
    if let Some(name) = run::repeated(&file.group_eval_order) {
        return vec![TestFailure::File(format!(
            "group name repeated in evaluation order: {name}"
        ))];
    }
    let mut failures = Vec::new();
    for tg in &file.tests {
        // promtool loads the rule files anew for each test group.
        let rule_files = match load_rule_files(&paths) {
            Ok(f) => f,
            Err(errs) => {
                failures.extend(errs);
                continue;
            }
        };
        let setup = run::GroupSetup {
            rule_files: &rule_files,
            evaluation_interval_ms: eval_ms,
            group_eval_order: &file.group_eval_order,
        };
        failures.extend(run::run_group(tg, &setup));
    }
    failures
}

/// Reads and parses rule files; every problem of every file on failure.
fn load_rule_files(paths: &[PathBuf]) -> Result<Vec<RuleFile>, Vec<TestFailure>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        let name = p.display().to_string();
        match std::fs::read_to_string(p) {
            Err(e) => errors.push(TestFailure::RuleFile {
                path: name,
                message: e.to_string(),
            }),
            Ok(text) => match crate::file::parse(&name, &text) {
                Ok(f) => files.push(f),
                Err(errs) => errors.extend(errs.into_iter().map(|e| TestFailure::RuleFile {
                    path: name.clone(),
                    message: e.to_string(),
                })),
            },
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors)
    }
}
