//! `tally rules test` (to be written).

use std::io::Write;

use clap::Args;

use crate::check_metrics::Outcome;

/// `tally rules test ...`.
#[derive(Debug, Args)]
pub struct TestArgs {}

/// Runs the command.
pub fn run(_args: &TestArgs, _out: &mut impl Write) -> anyhow::Result<Outcome> {
    anyhow::bail!("tally rules test is not built yet")
}
