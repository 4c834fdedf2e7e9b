//! The `tally` binary: the server and the tools around it.
//!
//! # Layout
//!
//! - `serve.rs`: `tally serve`, configuration from flags, environment and a file.
//! - `check_metrics.rs`: `tally check-metrics`, validating an exposition like
//!   `promtool check metrics` (reading in `check_metrics/source.rs`, line positions in
//!   `check_metrics/locate.rs`).
//! - `lint.rs`: promlint's naming and metadata rules over parsed families.
//! - `push.rs`: `tally push`, one push (or delete) to a gateway from a file or stdin.
//! - `functions.rs`: `tally functions`, the table of measured functions from `/metrics`.
//! - `bench.rs`: `tally bench`, load generators (`bench_push.rs`: `tally bench push`;
//!   `bench_remote_write.rs`: `tally bench remote-write`).
//!
//! Exit status: 0 on success, 1 when the checked input is invalid, 2 on usage or I/O
//! errors (clap's own usage errors also exit with 2).

// A command-line tool prints by design; the workspace warns on printing for libraries.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod bench_push;
mod bench_remote_write;
mod check_metrics;
mod functions;
mod lint;
mod promqltest;
mod push;
mod query;
mod rules;
mod serve;
mod tsdb;

use std::process::ExitCode;

use clap::Parser;

use check_metrics::{CheckMetricsArgs, Outcome};

/// tally: metrics for every instance, one accurate total.
#[derive(Debug, Parser)]
#[command(name = "tally", version, about)]
enum Cli {
    /// Check an exposition (text 0.0.4 or OpenMetrics) for format errors and lint
    /// problems, like `promtool check metrics`.
    #[command(
        after_help = "Prints a format error as LINE:COL: reason, and lint problems as \
        LINE:1: family: problem.\n\
        Exit status: 0 if the input parses (lint problems included), 1 on a format error, \
        2 if the input cannot be read."
    )]
    CheckMetrics(CheckMetricsArgs),
    /// Run the server: the aggregating push gateway (Pushgateway-compatible API),
    /// `/metrics` with the aggregated view, durable state.
    Serve(Box<serve::ServeArgs>),
    /// Push an exposition (a file or stdin) to a push gateway, or delete a group.
    #[command(
        after_help = "Exit status: 0 if the gateway accepted it, 1 if the body is \
        invalid (printed as LINE:COL: reason; nothing is sent) or the gateway refused it \
        with a 4xx, 2 if the input cannot be read, the gateway cannot be reached or \
        answers with a 5xx."
    )]
    Push(push::PushArgs),
    /// Show calls, errors, error ratio, mean and p95 duration of every function measured
    /// with #[tally::measured] (function_calls_* metrics), read from a server's /metrics.
    Functions(functions::FunctionsArgs),
    /// Load generators: measure a server (`tally bench push`).
    Bench(bench::BenchArgs),
    /// Run a PromQL query against a server's Prometheus API (table or JSON).
    Query(query::QueryArgs),
    /// Look inside a data directory's time-series database (read-only).
    Tsdb(tsdb::TsdbArgs),
    /// Run Prometheus' PromQL test scripts (.test files) against tally's query engine;
    /// prints failing evals with expected and actual results, then `N passed, M failed`.
    #[command(
        after_help = "Exit status: 0 if every eval passed or is listed as an expected \
        failure, 1 otherwise, 2 on usage errors."
    )]
    Promqltest(promqltest::PromqltestArgs),
    /// Prometheus rule files: check them, run their unit tests, generate rules for
    /// function metrics.
    Rules(rules::RulesArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse() {
        Cli::CheckMetrics(args) => {
            check_metrics::run(&args, &mut std::io::stdout().lock(), &mut std::io::stderr())
        }
        Cli::Serve(args) => serve::run(&args).map(|()| Outcome::Parsed { problems: 0 }),
        Cli::Push(args) => push::run(&args, &mut std::io::stderr()),
        Cli::Functions(args) => functions::run(&args, &mut std::io::stdout().lock())
            .map(|()| Outcome::Parsed { problems: 0 }),
        Cli::Bench(args) => bench::run(&args, &mut std::io::stdout().lock())
            .map(|()| Outcome::Parsed { problems: 0 }),
        Cli::Query(args) => query::run(&args, &mut std::io::stdout().lock())
            .map(|()| Outcome::Parsed { problems: 0 }),
        Cli::Tsdb(args) => tsdb::run(&args, &mut std::io::stdout().lock())
            .map(|()| Outcome::Parsed { problems: 0 }),
        Cli::Promqltest(args) => promqltest::run(&args, &mut std::io::stdout().lock()),
        Cli::Rules(args) => rules::run(&args, &mut std::io::stdout().lock()),
    };
    match result {
        Ok(Outcome::Parsed { .. }) => ExitCode::SUCCESS,
        Ok(Outcome::FormatError) => ExitCode::from(1),
        Err(e) => {
            eprintln!("tally: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
