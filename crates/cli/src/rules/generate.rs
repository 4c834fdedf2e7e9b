//! `tally rules generate` (to be written).

use std::io::Write;

use clap::Args;

use crate::check_metrics::Outcome;

/// `tally rules generate ...`.
#[derive(Debug, Args)]
pub struct GenerateArgs {}

/// Runs the command.
pub fn run(_args: &GenerateArgs, _out: &mut impl Write) -> anyhow::Result<Outcome> {
    anyhow::bail!("tally rules generate is not built yet")
}
