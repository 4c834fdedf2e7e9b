//! The `tally` binary.

use clap::Parser;

/// tally: metrics for every instance, one accurate total.
#[derive(Debug, Parser)]
#[command(name = "tally", version, about)]
enum Cli {}

fn main() {
    let _ = Cli::parse();
}
