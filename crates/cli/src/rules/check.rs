//! `tally rules check FILE...`: validates rule files like `promtool check rules`
//! ([`tally_rules::check`]).
//!
//! For each file, every problem is printed as `FILE:LINE: message` (warnings as
//! `FILE:LINE: warning: message`), then a summary: `FILE: SUCCESS: N rules found` or
//! `FILE: FAILED: N errors`. `-` reads standard input.
//!
//! Exit status (set by `main`): 1 if any file has errors (unreadable files
//! included), else 0; duplicate rules are warnings and do not fail a file, as with
//! promtool 2.42.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Args;
use tally_rules::check::{self, Report, Severity};

use crate::check_metrics::Outcome;

/// `tally rules check ...`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rule files to check (`-` for standard input).
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

/// Checks every file and prints the findings to `out`.
pub fn run(args: &CheckArgs, out: &mut impl Write) -> anyhow::Result<Outcome> {
    let mut failed = false;
    let mut problems = 0;
    for path in &args.files {
        let report = if path.as_os_str() == "-" {
            let mut text = String::new();
            match std::io::stdin().read_to_string(&mut text) {
                Ok(_) => check::check_text("-", &text),
                Err(e) => stdin_error(&e),
            }
        } else {
            check::check_path(path)
        };
        print_report(&report, out)?;
        failed |= report.has_errors();
        problems += report.problems.len();
    }
    Ok(if failed {
        Outcome::FormatError
    } else {
        Outcome::Parsed { problems }
    })
}

fn print_report(report: &Report, out: &mut impl Write) -> std::io::Result<()> {
    let path = &report.path;
    for p in &report.problems {
        let kind = match p.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        writeln!(out, "{path}:{}: {kind}{}", p.line, p.message)?;
    }
    if report.has_errors() {
        let errors = report
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
        writeln!(out, "{path}: FAILED: {errors} error(s)")
    } else {
        writeln!(out, "{path}: SUCCESS: {} rules found", report.rule_count())
    }
}

/// The report for standard input that could not be read.
fn stdin_error(e: &std::io::Error) -> Report {
    Report {
        path: "-".to_owned(),
        file: None,
        problems: vec![check::Problem {
            line: 0,
            severity: Severity::Error,
            message: format!("cannot read standard input: {e}"),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(report: &Report) -> String {
        let mut out = Vec::new();
        print_report(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn valid_files_print_a_success_line() {
        let report = check::check_text(
            "ok.yml",
            "groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: up\n",
        );
        assert_eq!(output(&report), "ok.yml: SUCCESS: 1 rules found\n");
    }

    #[test]
    fn problems_print_file_and_line() {
        let report = check::check_text("bad.yml", "groups:\n- name: g\n  rules:\n  - record: a\n");
        assert_eq!(
            output(&report),
            "bad.yml:4: group \"g\", rule 1, \"a\": field 'expr' must be set in rule\n\
             bad.yml: FAILED: 1 error(s)\n"
        );
    }

    #[test]
    fn warnings_are_marked_and_do_not_fail() {
        let text = "groups:\n- name: g\n  rules:\n  - record: a\n    expr: up\n  - record: a\n    expr: up\n";
        let out = output(&check::check_text("dup.yml", text));
        assert!(
            out.starts_with("dup.yml:6: warning: duplicate rule: a"),
            "{out}"
        );
        assert!(out.ends_with("dup.yml: SUCCESS: 2 rules found\n"), "{out}");
    }
}
