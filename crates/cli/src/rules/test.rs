//! `tally rules test FILE...`: rule unit tests in the `promtool test rules` format.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::check_metrics::Outcome;

/// `tally rules test ...`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Unit-test files (YAML, promtool's format); rule files they name are resolved
    /// relative to each test file.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// Runs every file and prints promtool's report for each. `FormatError` (exit 1) when
/// any test failed or a file is invalid.
pub fn run(args: &TestArgs, out: &mut impl Write) -> anyhow::Result<Outcome> {
    let mut failed = false;
    for file in &args.files {
        let report = tally_rules::unittest::run_file(file);
        failed |= !report.passed();
        out.write_all(report.render().as_bytes())?;
    }
    Ok(if failed {
        Outcome::FormatError
    } else {
        Outcome::Parsed { problems: 0 }
    })
}
