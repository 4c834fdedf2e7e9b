//! `tally rules check` (to be written).

use std::io::Write;

use clap::Args;

use crate::check_metrics::Outcome;

/// `tally rules check ...`.
#[derive(Debug, Args)]
pub struct CheckArgs {}

/// Runs the command.
pub fn run(_args: &CheckArgs, _out: &mut impl Write) -> anyhow::Result<Outcome> {
    anyhow::bail!("tally rules check is not built yet")
}
