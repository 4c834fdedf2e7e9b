//! `tally promqltest FILE...`: runs Prometheus' PromQL test scripts (`.test` files)
//! against tally's engine and reports every eval that fails.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tally_promql::promqltest::{ExpectedFailures, Runner};

use crate::check_metrics::Outcome;

/// `tally promqltest ...`.
#[derive(Debug, Args)]
pub struct PromqltestArgs {
    /// The `.test` scripts to run.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// A list of evals allowed to fail (`FILE:LINE<TAB>REASON<TAB>EXPR` per line).
    /// Default: the list checked in with tally-promql, for Prometheus' own scripts.
    #[arg(long, value_name = "FILE")]
    expected_failures: Option<PathBuf>,
    /// Allow no failures at all.
    #[arg(long, conflicts_with = "expected_failures")]
    no_expected_failures: bool,
    /// Also print the failures that are listed as expected.
    #[arg(long, short)]
    verbose: bool,
}

/// Runs the scripts. A failure that is not listed, or a script that cannot be read,
/// makes the outcome a failure (exit status 1).
pub fn run(args: &PromqltestArgs, out: &mut impl Write) -> anyhow::Result<Outcome> {
    let expected = if args.no_expected_failures {
        ExpectedFailures::default()
    } else if let Some(path) = &args.expected_failures {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        ExpectedFailures::parse(&text).with_context(|| format!("in {}", path.display()))?
    } else {
        ExpectedFailures::builtin()
    };
    let runner = Runner::new();
    let (mut passed, mut failed, mut listed, mut bad) = (0, 0, 0, 0);
    for path in &args.files {
        let report = match runner.run_file(path) {
            Ok(r) => r,
            Err(e) => {
                writeln!(out, "{}: {e}", path.display())?;
                bad += 1;
                continue;
            }
        };
        for eval in &report.evals {
            let entry = expected.get(&report.name, eval.line);
            match (&eval.failure, entry) {
                (Some(why), None) => {
                    bad += 1;
                    writeln!(out, "{}:{}: {}", report.name, eval.line, eval.header)?;
                    writeln!(out, "  {}", why.replace('\n', "\n  "))?;
                }
                (Some(_), Some(e)) => {
                    listed += 1;
                    if args.verbose {
                        writeln!(
                            out,
                            "{}:{}: expected failure: {}",
                            report.name, eval.line, e.reason
                        )?;
                    }
                }
                (None, Some(_)) => writeln!(
                    out,
                    "{}:{}: listed as an expected failure but passes",
                    report.name, eval.line
                )?,
                (None, None) => {}
            }
        }
        passed += report.passed();
        failed += report.failed();
    }
    if listed > 0 {
        writeln!(out, "({listed} of the failures are listed as expected)")?;
    }
    writeln!(out, "{passed} passed, {failed} failed")?;
    Ok(if bad > 0 {
        Outcome::FormatError
    } else {
        Outcome::Parsed { problems: 0 }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_failures_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.test");
        std::fs::write(
            &path,
            "load 1m\n  m 1 2 3\n\neval instant at 2m m\n  m 3\n\neval instant at 2m m\n  m 4\n",
        )
        .unwrap();
        let args = PromqltestArgs {
            files: vec![path],
            expected_failures: None,
            no_expected_failures: true,
            verbose: false,
        };
        let mut out = Vec::new();
        let outcome = run(&args, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(outcome, Outcome::FormatError, "{text}");
        assert!(text.contains("x.test:7: eval instant at 2m m"), "{text}");
        assert!(text.ends_with("1 passed, 1 failed\n"), "{text}");
    }
}
