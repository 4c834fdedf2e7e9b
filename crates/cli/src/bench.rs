//! `tally bench`: load generators for measuring a server beside its peers.
//!
//! - `bench_push.rs`: `tally bench push`, pushes to any Pushgateway-compatible endpoint.
//! - `bench_remote_write.rs`: `tally bench remote-write`, Prometheus remote_write load.
//!
//! What the generators share lives here: the loopback-only guard (a load generator
//! pointed at someone else's server by a typo is an attack) and reading a process' CPU
//! time, so every report says what the generator itself cost.

use std::net::IpAddr;

use anyhow::{bail, Context as _};

use crate::bench_push::{self, BenchPushArgs};
use crate::bench_remote_write::{self, BenchRemoteWriteArgs};

/// Arguments of `tally bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

/// The generators.
#[derive(Debug, clap::Subcommand)]
enum BenchCommand {
    /// Push realistic expositions to a Pushgateway-compatible endpoint (tally or
    /// Prometheus Pushgateway) from many threads, and report pushes/s, samples/s,
    /// latency percentiles and errors by status.
    Push(BenchPushArgs),
    /// Send realistic Prometheus remote_write 1.0 load (counters, gauges, histograms of
    /// simulated scrape targets, batched like Prometheus' queue manager) to tally or
    /// Prometheus, and report samples/s, requests/s, latency percentiles and errors.
    RemoteWrite(BenchRemoteWriteArgs),
}

/// Runs the chosen generator; the report goes to `out`, progress to standard error.
pub fn run(args: &BenchArgs, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    match &args.command {
        BenchCommand::Push(args) => bench_push::run(args, out),
        BenchCommand::RemoteWrite(args) => bench_remote_write::run(args, out),
    }
}

/// Refuses a target that is not on this machine unless `allow_remote`.
pub fn check_target(url: &str, allow_remote: bool) -> anyhow::Result<()> {
    let uri: ureq::http::Uri = url
        .parse()
        .with_context(|| format!("{url:?} is not a URL"))?;
    if uri.scheme_str() != Some("http") {
        bail!("{url}: only http:// targets are supported");
    }
    let host = uri
        .host()
        .with_context(|| format!("{url} has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback && !allow_remote {
        bail!(
            "{url} is not a loopback address; a load generator only targets this machine \
             unless given --allow-remote"
        );
    }
    Ok(())
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on every Linux
/// architecture tally builds for).
const USER_HZ: f64 = 100.0;

/// CPU time (user + system) the process `pid` (or this one) has used so far, in seconds,
/// from `/proc`; `None` where that cannot be read (not Linux, process gone).
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name is in parentheses and may contain spaces; fields follow the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of proc(5), counted from 3 (state) here.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_without_allow_remote() {
        for ok in [
            "http://127.0.0.1:9091",
            "http://127.1.2.3:80/x",
            "http://localhost:9091",
            "http://[::1]:9091",
        ] {
            check_target(ok, false).unwrap();
        }
        for remote in [
            "http://10.0.0.1:9091",
            "http://example.com:9091",
            "http://[2001:db8::1]/",
        ] {
            let err = check_target(remote, false).unwrap_err().to_string();
            assert!(err.contains("--allow-remote"), "{err}");
            check_target(remote, true).unwrap();
        }
        assert!(check_target("https://127.0.0.1", false).is_err());
        assert!(check_target("not a url", true).is_err());
    }

    #[test]
    fn own_cpu_time_is_readable() {
        if cfg!(target_os = "linux") {
            assert!(cpu_seconds(None).is_some_and(|s| s >= 0.0));
        }
    }
}
