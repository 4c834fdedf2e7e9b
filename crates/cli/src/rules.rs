//! `tally rules ...`: tools for Prometheus rule files.
//!
//! - `rules/check.rs`: `tally rules check FILE...`, like `promtool check rules`.
//! - `rules/test.rs`: `tally rules test FILE...`, like `promtool test rules`.
//! - `rules/generate.rs`: `tally rules generate`, ready-made rules for function metrics.

mod check;
mod generate;
mod test;

use std::io::Write;

use clap::{Args, Subcommand};

use crate::check_metrics::Outcome;

/// `tally rules ...`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Validate rule files like `promtool check rules`: YAML, PromQL, duplicate rules,
    /// templates. Prints `FILE:LINE: message` for each problem.
    #[command(
        after_help = "Exit status: 0 if every file is valid, 1 if any has errors, \
        2 on usage errors."
    )]
    Check(check::CheckArgs),
    /// Run rule unit tests written in the `promtool test rules` format.
    #[command(
        after_help = "Exit status: 0 if every test passed, 1 if any failed or a \
        file is invalid, 2 on usage errors."
    )]
    Test(test::TestArgs),
    /// Print recording and alerting rules (error ratio, p95 latency) for every function
    /// measured with #[tally::measured].
    Generate(generate::GenerateArgs),
}

/// Runs a `tally rules` subcommand.
pub fn run(args: &RulesArgs, out: &mut impl Write) -> anyhow::Result<Outcome> {
    match &args.command {
        RulesCommand::Check(a) => check::run(a, out),
        RulesCommand::Test(a) => test::run(a, out),
        RulesCommand::Generate(a) => generate::run(a, out),
    }
}
