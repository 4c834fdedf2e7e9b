//! `tally tsdb stats` and `tally tsdb dump`: look inside a data directory's time-series
//! database without changing it (it is opened read-only, so a running server is fine).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use tally_storage::{Matcher, SelectHints, Storage};
use tally_tsdb::{Db, Options};

/// `tally tsdb ...`.
#[derive(Debug, Args)]
pub struct TsdbArgs {
    #[command(subcommand)]
    command: TsdbCommand,
}

#[derive(Debug, Subcommand)]
enum TsdbCommand {
    /// Series, samples, bytes per sample, chunks and the metrics with the most series.
    Stats {
        /// The server's data directory (the database is in its `tsdb/`).
        #[arg(long, env = "TALLY_DATA_DIR", default_value = "tally-data")]
        data_dir: PathBuf,
        /// How many metrics to list by series count.
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
    /// Print the raw samples of the series a selector matches, one per line:
    /// `SERIES VALUE TIMESTAMP_MS`.
    Dump {
        /// The server's data directory.
        #[arg(long, env = "TALLY_DATA_DIR", default_value = "tally-data")]
        data_dir: PathBuf,
        /// A PromQL series selector, e.g. `http_requests_total{code=~"5.."}`.
        #[arg(long = "match", default_value = r#"{__name__=~".+"}"#)]
        selector: String,
        /// Start, in ms since the epoch (default: everything).
        #[arg(long, allow_hyphen_values = true)]
        from: Option<i64>,
        /// End, in ms since the epoch (default: everything).
        #[arg(long, allow_hyphen_values = true)]
        to: Option<i64>,
    },
}

fn open(data_dir: &Path) -> anyhow::Result<(Db, u64)> {
    let dir = data_dir.join("tsdb");
    if !dir.join("tally.db").exists() {
        bail!(
            "no time-series database in {} (expected {}/tally.db)",
            data_dir.display(),
            dir.display()
        );
    }
    let (db, report) = Db::open_read_only(Options::new(&dir))
        .with_context(|| format!("opening {}", dir.display()))?;
    if let Some(damage) = report.replay.damage {
        eprintln!("tally: warning: the write-ahead log is damaged: {damage}");
    }
    Ok((db, report.samples_replayed))
}

/// Runs `tally tsdb ...`, writing to `out`.
pub fn run(args: &TsdbArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    match &args.command {
        TsdbCommand::Stats { data_dir, top } => stats(data_dir, *top, out),
        TsdbCommand::Dump {
            data_dir,
            selector,
            from,
            to,
        } => dump(
            data_dir,
            selector,
            from.unwrap_or(i64::MIN),
            to.unwrap_or(i64::MAX),
            out,
        ),
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn stats(data_dir: &Path, top: usize, out: &mut dyn Write) -> anyhow::Result<()> {
    let (db, in_log) = open(data_dir)?;
    let totals = db.store_totals()?;
    let stored = db.samples_stored()?;
    let dir = data_dir.join("tsdb");
    let wal_bytes = dir_bytes(&dir.join("wal"));
    let disk = dir_bytes(&dir);
    let per = |bytes: u64, samples: u64| {
        if samples == 0 {
            "-".to_owned()
        } else {
            format!("{:.3}", bytes as f64 / samples as f64)
        }
    };
    writeln!(out, "series                 {}", db.series_count())?;
    writeln!(
        out,
        "samples                {} ({} in the store, {} only in the log)",
        stored + in_log,
        stored,
        in_log
    )?;
    writeln!(
        out,
        "chunks                 {} ({} bytes of chunk data)",
        totals.chunks, totals.chunk_bytes
    )?;
    writeln!(out, "rollup points          {}", totals.rollups)?;
    writeln!(
        out,
        "store bytes            {} (tally.db pages in use)",
        totals.file_bytes
    )?;
    for t in &totals.tables {
        writeln!(
            out,
            "store table {:<18} {:>11} bytes in {} pages, {} of rows ({} per sample)",
            t.name,
            t.bytes,
            t.pages,
            t.payload,
            per(t.bytes, stored)
        )?;
    }
    writeln!(out, "log bytes              {}", wal_bytes)?;
    writeln!(
        out,
        "disk bytes             {} (everything under {})",
        disk,
        dir.display()
    )?;
    writeln!(
        out,
        "chunk bytes per sample {}",
        per(totals.chunk_bytes, stored)
    )?;
    writeln!(
        out,
        "store bytes per sample {}",
        per(totals.file_bytes, stored)
    )?;
    writeln!(out, "top metrics by series:")?;
    for (name, n) in db.top_metrics(top) {
        writeln!(out, "  {n:>10}  {name}")?;
    }
    Ok(())
}

/// Parses a PromQL series selector into matcher sets (one per `or` alternative).
fn selector_matchers(selector: &str) -> anyhow::Result<Vec<Vec<Matcher>>> {
    tally_promql::parse_selector(selector).map_err(|e| anyhow::anyhow!("--match {selector:?}: {e}"))
}

fn dump(
    data_dir: &Path,
    selector: &str,
    from: i64,
    to: i64,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let matchers = selector_matchers(selector)?;
    let (db, _) = open(data_dir)?;
    let q = db.querier(from, to)?;
    let mut found = std::collections::BTreeMap::new();
    for set in &matchers {
        for series in q.select(set, &SelectHints::default())? {
            found.insert(series.labels.clone(), series);
        }
    }
    for series in found.into_values() {
        for s in &series.samples {
            let value = if s.is_stale() {
                "stale".to_owned()
            } else {
                s.value.to_string()
            };
            writeln!(out, "{} {} {}", series.labels, value, s.timestamp_ms)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_become_matchers() {
        let m = selector_matchers(r#"http_requests_total{code=~"5..",job!="x"}"#).unwrap();
        let s: Vec<String> = m[0].iter().map(ToString::to_string).collect();
        assert_eq!(
            s,
            [
                r#"__name__="http_requests_total""#,
                r#"code=~"5..""#,
                r#"job!="x""#
            ]
        );
        assert!(selector_matchers("rate(x[5m])").is_err());
        assert!(selector_matchers("x{").is_err());
    }
}
