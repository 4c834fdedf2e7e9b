//! `tally bench remote-write`: a Prometheus remote_write 1.0 load generator.
//!
//! # What it sends
//!
//! `--series` series of simulated scrape targets (counters, gauges and classic
//! histograms with realistic value patterns: see `bench_remote_write/workload.rs`),
//! scraped every `--interval` of *simulated* time: round `r` carries timestamps
//! `start + r × interval` plus a fixed per-target offset within the interval, as
//! Prometheus staggers its scrapes. Rounds are generated as fast as the target accepts
//! them (or at `--rate` samples per second), so an hour of data may take seconds.
//! The same `--seed` and `--series` give the same data, whatever the shards or batches.
//!
//! # How it sends it
//!
//! Like Prometheus' queue manager: series are spread over `--concurrency` shards, each
//! a thread with its own kept-alive connection sending one request at a time, so each
//! series' samples arrive in order. A request holds up to `--batch` samples (2,000, as
//! Prometheus' `max_samples_per_send`), one `TimeSeries` per sample, snappy-compressed,
//! with remote_write 1.0's headers. Failed requests are counted, not retried.
//!
//! # What a receiver accepts, and the time range
//!
//! Prometheus' TSDB refuses a sample older than its head's newest sample minus one hour
//! (half its 2 h block range: "out of bounds"), or older than the newest sample of its
//! own series ("out of order"), and once it has compacted a block it refuses anything
//! before the block's end. So:
//!
//! - shards stay within a few rounds of each other (at most 30 minutes of simulated
//!   time, [`MAX_SKEW`]), never an hour;
//! - the data end before "now": by default the first round is at `now − span`, where the
//!   span is `rounds × interval`; rounds are `⌈--samples / --series⌉` when `--samples`
//!   is given, else `--span / --interval` (default span 24 h). A run that ends early
//!   leaves its data in the past, which is fine for an empty receiver;
//! - the receiver must hold nothing newer than the start: a fresh Prometheus with no
//!   scrape jobs (a Prometheus scraping in real time has its head at "now" and refuses
//!   anything older than an hour before it: use `--start-ms` and a span under an hour
//!   there). tally applies the same per-series ordering rule.
//!
//! # When it stops
//!
//! At the first of: `--duration` seconds measured (default 10, unless `--samples` is
//! given), or every round of the span sent. `--warmup` seconds
//! before measuring are sent but not counted. Latency is the request's own time, or,
//! with `--rate`, measured from the request's scheduled time (so a stall cannot hide
//! behind a slowed generator, as in `tally bench push`).
//!
//! # Layout
//!
//! - this file: the arguments, the shards and the run;
//! - `bench_remote_write/workload.rs`: the series, their values, the request encoding;
//! - `bench_remote_write/report.rs`: the report, as text or JSON.

mod report;
mod workload;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use parking_lot::{Condvar, Mutex};

use crate::bench::{check_target, cpu_seconds};
use crate::bench_push::Latency;
use report::Report;
use workload::{push_sample, UnitState, Workload};

/// How long one request may take before it counts as an `io` error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The time bound of a run given `--samples` but no `--duration`.
const SAMPLES_TIME_CAP: Duration = Duration::from_secs(3600);
/// The time bound of a run given neither.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// The highest latency the histogram holds: one hour, in microseconds.
const MAX_LATENCY_US: u64 = 3_600_000_000;
/// How far (simulated time) a shard may run ahead of the slowest one: well inside the
/// hour Prometheus' head accepts behind its newest sample.
pub const MAX_SKEW: Duration = Duration::from_secs(30 * 60);
/// Most rounds a shard may run ahead of the slowest one (more buys no throughput).
const MAX_SKEW_ROUNDS: u64 = 8;

/// Arguments of `tally bench remote-write`.
#[derive(Debug, clap::Args)]
pub struct BenchRemoteWriteArgs {
    /// The receiver's remote_write URL (`/api/v1/write` is added to a URL without a
    /// path); only loopback addresses unless --allow-remote.
    #[arg(long, default_value = "http://127.0.0.1:9091/api/v1/write")]
    url: String,

    /// Series in all (100 per simulated target).
    #[arg(long, default_value_t = 10_000)]
    series: usize,

    /// Simulated scrape interval: `15s`, `1m`, `500ms`.
    #[arg(long, default_value = "15s", value_parser = parse_interval)]
    interval: Duration,

    /// Most samples per request (Prometheus' max_samples_per_send).
    #[arg(long, default_value_t = 2000)]
    batch: usize,

    /// Shards, each a thread with its own connection sending one request at a time.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,

    /// Seconds measured, after the warm-up (default 10, or at most 3600 with --samples).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,

    /// Send this many samples at least: ⌈SAMPLES / series⌉ whole rounds, then stop.
    #[arg(long)]
    samples: Option<u64>,

    /// Simulated time available without --samples: the rounds are SPAN / interval.
    #[arg(long, default_value = "24h", value_parser = parse_interval)]
    span: Duration,

    /// Timestamp of the first round, in milliseconds since the epoch (default: now
    /// minus the span, so the data end before now).
    #[arg(long, value_name = "MS")]
    start_ms: Option<i64>,

    /// Samples per second in total, on a fixed schedule; latency is then measured from
    /// each request's scheduled time. Unlimited by default.
    #[arg(long)]
    rate: Option<f64>,

    /// Seconds of sending before measuring (sent, not counted).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    warmup: f64,

    /// Seed of the values: the same seed and series give the same data.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// The `job` label of every series.
    #[arg(long, default_value = "bench")]
    job: String,

    /// Also report this process' CPU use over the measured part (the server's PID).
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,

    /// Print the report as JSON.
    #[arg(long)]
    json: bool,

    /// Allow a target that is not a loopback address.
    #[arg(long)]
    allow_remote: bool,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    tally_server::parse_duration_ms(s)
        .filter(|ms| *ms > 0)
        .map(|ms| Duration::from_millis(ms as u64))
        .ok_or_else(|| format!("{s:?} is not a positive duration (like 15s, 1m, 500ms)"))
}

/// The write URL: `/api/v1/write` added to a URL without a path.
fn write_url(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    let after_scheme = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
    if after_scheme.contains('/') {
        url.to_owned()
    } else {
        format!("{trimmed}/api/v1/write")
    }
}

fn check_args(args: &BenchRemoteWriteArgs) -> anyhow::Result<()> {
    check_target(&args.url, args.allow_remote)?;
    if args.series == 0 || args.batch == 0 || args.concurrency == 0 {
        bail!("--series, --batch and --concurrency must be at least 1");
    }
    for (flag, v) in [("--duration", args.duration), ("--rate", args.rate)] {
        if v.is_some_and(|v| !(v.is_finite() && v > 0.0)) {
            bail!("{flag} must be a positive number");
        }
    }
    if !(args.warmup.is_finite() && args.warmup >= 0.0) {
        bail!("--warmup must be zero or more seconds");
    }
    if args.samples == Some(0) {
        bail!("--samples must be at least 1");
    }
    if args.span < args.interval {
        bail!("--span must be at least one --interval");
    }
    Ok(())
}

/// When the run measures and when it stops.
#[derive(Debug, Clone, Copy)]
struct Plan {
    start: Instant,
    measure_from: Instant,
    deadline: Instant,
    rounds: u64,
    interval_ms: i64,
    start_ms: i64,
    /// Seconds per sample per shard with `--rate` (`concurrency / rate`).
    seconds_per_sample: Option<f64>,
}

/// Keeps shards within a few rounds of each other (see the module documentation).
#[derive(Debug)]
struct Gate {
    /// Rounds each shard has generated; `u64::MAX` once it has stopped.
    done: Mutex<Vec<u64>>,
    moved: Condvar,
    skew: u64,
}

impl Gate {
    fn new(shards: usize, skew: u64) -> Self {
        Self {
            done: Mutex::new(vec![0; shards]),
            moved: Condvar::new(),
            skew,
        }
    }

    /// Waits until round `round` may start (every shard is at most `skew` rounds behind
    /// it), or `stop` is set.
    fn wait(&self, round: u64, stop: &AtomicBool) {
        let mut done = self.done.lock();
        while done
            .iter()
            .min()
            .is_some_and(|m| m.saturating_add(self.skew) < round)
            && !stop.load(Ordering::Relaxed)
        {
            self.moved.wait_for(&mut done, Duration::from_millis(50));
        }
    }

    fn set(&self, shard: usize, rounds: u64) {
        self.done.lock()[shard] = rounds;
        self.moved.notify_all();
    }
}

/// What one shard saw.
#[derive(Debug)]
struct ShardStats {
    latency_us: Histogram<u64>,
    requests_ok: u64,
    samples_ok: u64,
    samples_ok_total: u64,
    bytes: u64,
    requests: u64,
    errors: BTreeMap<String, u64>,
    first_error: Option<String>,
    rounds: u64,
    newest_ms: i64,
}

impl ShardStats {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .context("creating a latency histogram")?,
            requests_ok: 0,
            samples_ok: 0,
            samples_ok_total: 0,
            bytes: 0,
            requests: 0,
            errors: BTreeMap::new(),
            first_error: None,
            rounds: u64::MAX,
            newest_ms: i64::MIN,
        })
    }

    fn merge(&mut self, other: ShardStats) -> anyhow::Result<()> {
        self.latency_us
            .add(&other.latency_us)
            .context("merging latency histograms")?;
        self.requests_ok += other.requests_ok;
        self.samples_ok += other.samples_ok;
        self.samples_ok_total += other.samples_ok_total;
        self.bytes += other.bytes;
        self.requests += other.requests;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.rounds = self.rounds.min(other.rounds);
        self.newest_ms = self.newest_ms.max(other.newest_ms);
        Ok(())
    }
}

/// State the shards share.
#[derive(Debug)]
struct Shared {
    stop: AtomicBool,
    gate: Gate,
    /// Samples of successful measured requests, for the progress bar.
    measured_samples: AtomicU64,
}

/// An agent keeping one connection alive; no resolve timeout (see `bench push`).
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(REQUEST_TIMEOUT))
        .timeout_send_request(Some(REQUEST_TIMEOUT))
        .timeout_send_body(Some(REQUEST_TIMEOUT))
        .timeout_recv_response(Some(REQUEST_TIMEOUT))
        .timeout_recv_body(Some(REQUEST_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// Sends one compressed request; `Ok(status, body)` when an answer came.
fn send(agent: &ureq::Agent, url: &str, body: &[u8]) -> Result<(u16, String), String> {
    let mut response = agent
        .post(url)
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .header(
            "User-Agent",
            concat!("tally-bench-remote-write/", env!("CARGO_PKG_VERSION")),
        )
        .send(body)
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .map_err(|e| e.to_string())?;
    Ok((status, text))
}

/// One shard: the units `index`, `index + shards`, ... of the workload.
struct Shard<'a> {
    index: usize,
    workload: &'a Workload,
    plan: Plan,
    shared: &'a Shared,
    url: &'a str,
    batch: usize,
    agent: ureq::Agent,
    stats: ShardStats,
    request: Vec<u8>,
    compressed: Vec<u8>,
    encoder: snap::raw::Encoder,
    pending: usize,
    /// Samples this shard sent so far, for the `--rate` schedule.
    scheduled_samples: u64,
}

impl Shard<'_> {
    fn run(mut self, shards: usize) -> anyhow::Result<ShardStats> {
        let units: Vec<usize> = (self.index..self.workload.units.len())
            .step_by(shards)
            .collect();
        let mut states: Vec<UnitState> = units.iter().map(|&u| self.workload.state(u)).collect();
        let interval_s = self.plan.interval_ms as f64 / 1000.0;
        let mut rounds = 0;
        'rounds: for round in 0..self.plan.rounds {
            self.shared.gate.wait(round, &self.shared.stop);
            if self.shared.stop.load(Ordering::Relaxed) {
                break;
            }
            let base = self.plan.start_ms + round as i64 * self.plan.interval_ms;
            for (&u, state) in units.iter().zip(&mut states) {
                self.workload.advance(u, state, interval_s);
                let unit = &self.workload.units[u];
                let t = base + unit.offset_ms;
                for (series, value) in unit.series.iter().zip(state.values()) {
                    push_sample(&mut self.request, &series.labels, t, *value);
                    self.stats.newest_ms = self.stats.newest_ms.max(t);
                    self.pending += 1;
                    if self.pending == self.batch && !self.flush() {
                        break 'rounds;
                    }
                }
            }
            rounds = round + 1;
            self.shared.gate.set(self.index, rounds);
        }
        if rounds == self.plan.rounds && self.pending > 0 {
            self.flush();
        }
        self.stats.rounds = rounds;
        self.shared.gate.set(self.index, u64::MAX);
        Ok(self.stats)
    }

    /// Sends the pending request; `false` when the run is over.
    fn flush(&mut self) -> bool {
        let samples = std::mem::take(&mut self.pending) as u64;
        let scheduled = match self.plan.seconds_per_sample {
            Some(s) => self.plan.start + Duration::from_secs_f64(self.scheduled_samples as f64 * s),
            None => Instant::now(),
        };
        self.scheduled_samples += samples;
        if scheduled >= self.plan.deadline || self.shared.stop.load(Ordering::Relaxed) {
            self.request.clear();
            return false;
        }
        let now = Instant::now();
        if scheduled > now {
            std::thread::sleep(scheduled - now);
        }
        self.compressed
            .resize(snap::raw::max_compress_len(self.request.len()), 0);
        let len = match self.encoder.compress(&self.request, &mut self.compressed) {
            Ok(len) => len,
            Err(e) => {
                self.error("encode".to_owned(), e.to_string());
                self.request.clear();
                return true;
            }
        };
        self.request.clear();
        let result = send(&self.agent, self.url, &self.compressed[..len]);
        let done = Instant::now();
        let measured = scheduled >= self.plan.measure_from;
        if let Ok((200..=299, _)) = result {
            self.stats.samples_ok_total += samples;
        }
        if !measured {
            return true;
        }
        self.stats.requests += 1;
        self.stats.bytes += len as u64;
        match result {
            Ok((status, _)) if (200..300).contains(&status) => {
                self.stats.requests_ok += 1;
                self.stats.samples_ok += samples;
                self.shared
                    .measured_samples
                    .fetch_add(samples, Ordering::Relaxed);
                let us = (done - scheduled)
                    .as_micros()
                    .clamp(1, u128::from(MAX_LATENCY_US));
                self.stats.latency_us.saturating_record(us as u64);
            }
            Ok((status, text)) => self.error(status.to_string(), text),
            Err(e) => self.error("io".to_owned(), e),
        }
        true
    }

    fn error(&mut self, key: String, message: String) {
        let first = format!("{key}: {}", message.trim());
        *self.stats.errors.entry(key).or_default() += 1;
        self.stats.first_error.get_or_insert(first);
    }
}

/// Runs the benchmark and writes the report to `out`.
pub fn run(args: &BenchRemoteWriteArgs, out: &mut impl Write) -> anyhow::Result<()> {
    check_args(args)?;
    let url = write_url(&args.url);
    let interval_ms = args.interval.as_millis().min(i64::MAX as u128) as i64;
    let rounds = match args.samples {
        Some(samples) => samples.div_ceil(args.series as u64),
        None => (args.span.as_millis() / args.interval.as_millis()).max(1) as u64,
    };
    let span_ms = (rounds as i64).saturating_mul(interval_ms);
    let start_ms = args.start_ms.unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        // Whole intervals, as a scraper's clock would give.
        (now - span_ms).div_euclid(interval_ms) * interval_ms
    });
    let workload = Workload::new(args.series, &args.job, interval_ms, args.seed);
    let shards = args.concurrency.min(workload.units.len());
    let skew = (MAX_SKEW.as_millis() as u64 / interval_ms as u64).min(MAX_SKEW_ROUNDS);

    // An empty request before anything is timed: fails fast on a wrong URL.
    let empty = tally_server::remote_write::proto::compress(&[]);
    match send(&agent(), &url, &empty) {
        Ok((status, _)) if (200..300).contains(&status) => {}
        Ok((status, text)) => bail!("{url} answered {status}: {}", text.trim()),
        Err(e) => bail!("cannot send to {url}: {e}"),
    }

    let duration = match (args.duration, args.samples) {
        (Some(d), _) => Duration::from_secs_f64(d),
        (None, Some(_)) => SAMPLES_TIME_CAP,
        (None, None) => DEFAULT_DURATION,
    };
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let plan = Plan {
        start,
        measure_from,
        deadline: measure_from + duration,
        rounds,
        interval_ms,
        start_ms,
        seconds_per_sample: args.rate.map(|r| shards as f64 / r),
    };
    let shared = Shared {
        stop: AtomicBool::new(false),
        gate: Gate::new(shards, skew),
        measured_samples: AtomicU64::new(0),
    };
    let bar = progress_bar(args, rounds, duration);

    let (stats, cpu, measured_seconds) = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..shards)
            .map(|index| {
                let shard = Shard {
                    index,
                    workload: &workload,
                    plan,
                    shared: &shared,
                    url: &url,
                    batch: args.batch,
                    agent: agent(),
                    stats: ShardStats::new()?,
                    request: Vec::with_capacity(args.batch * 160),
                    compressed: Vec::new(),
                    encoder: snap::raw::Encoder::new(),
                    pending: 0,
                    scheduled_samples: 0,
                };
                Ok(scope.spawn(move || shard.run(shards)))
            })
            .collect::<anyhow::Result<_>>()?;
        let cpu = watch(&plan, &shared, &bar, args, &threads);
        shared.stop.store(true, Ordering::Relaxed);
        let mut total = ShardStats::new()?;
        for t in threads {
            let stats = t
                .join()
                .map_err(|_| anyhow::anyhow!("a sending thread panicked"))??;
            total.merge(stats)?;
        }
        let measured_seconds = measure_from.elapsed().as_secs_f64();
        let cpu_end = (
            cpu_seconds(None),
            args.server_pid.and_then(|p| cpu_seconds(Some(p))),
        );
        anyhow::Ok((total, (cpu, cpu_end), measured_seconds))
    })?;
    bar.finish_and_clear();

    let ((own0, server0), (own1, server1)) = cpu;
    let cores = |a: Option<f64>, b: Option<f64>| Some((b? - a?) / measured_seconds);
    let pct = |q: f64| stats.latency_us.value_at_quantile(q) as f64 / 1000.0;
    let sent_requests = stats.requests.max(1) as f64;
    let report = Report {
        url,
        series: workload.series(),
        interval_seconds: interval_ms as f64 / 1000.0,
        batch: args.batch,
        concurrency: shards,
        target_rate: args.rate,
        seed: args.seed,
        start_ms,
        end_ms: if stats.newest_ms == i64::MIN {
            start_ms
        } else {
            stats.newest_ms
        },
        rounds_planned: rounds,
        rounds_complete: stats.rounds,
        stopped_by: if stats.rounds == rounds {
            "rounds"
        } else {
            "duration"
        },
        warmup_seconds: args.warmup,
        measured_seconds,
        requests_ok: stats.requests_ok,
        samples_ok: stats.samples_ok,
        samples_ok_total: stats.samples_ok_total,
        requests_per_second: stats.requests_ok as f64 / measured_seconds,
        samples_per_second: stats.samples_ok as f64 / measured_seconds,
        errors: stats.errors,
        first_error: stats.first_error,
        latency_ms: Latency {
            p50: pct(0.5),
            p90: pct(0.9),
            p99: pct(0.99),
            max: stats.latency_us.max() as f64 / 1000.0,
        },
        bytes_per_request: stats.bytes as f64 / sent_requests,
        bytes_per_sample: stats.bytes as f64 / stats.samples_ok.max(1) as f64,
        generator_cpu_cores: cores(own0, own1),
        server_cpu_cores: cores(server0, server1),
    };
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        out.write_all(report.to_text().as_bytes())?;
    }
    if report.requests_ok == 0 {
        bail!("no request succeeded");
    }
    Ok(())
}

fn progress_bar(args: &BenchRemoteWriteArgs, rounds: u64, duration: Duration) -> ProgressBar {
    let (len, template) = if args.samples.is_some() && args.duration.is_none() {
        (
            rounds,
            "{elapsed_precise} [{wide_bar}] {pos}/{len} rounds  {msg}",
        )
    } else {
        (
            (args.warmup * 1000.0) as u64 + duration.as_millis() as u64,
            "{elapsed_precise} [{wide_bar}] {msg}",
        )
    };
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Updates the progress bar until the measured part ends (or every shard has stopped),
/// and returns the CPU times (own, server) read when measuring began.
fn watch<T>(
    plan: &Plan,
    shared: &Shared,
    bar: &ProgressBar,
    args: &BenchRemoteWriteArgs,
    threads: &[std::thread::ScopedJoinHandle<'_, T>],
) -> (Option<f64>, Option<f64>) {
    let by_rounds = args.samples.is_some() && args.duration.is_none();
    bar.set_message(if plan.measure_from > plan.start {
        "warming up"
    } else {
        ""
    });
    let mut cpu = None;
    let mut last = (Instant::now(), 0u64);
    loop {
        let now = Instant::now();
        if cpu.is_none() && now >= plan.measure_from {
            cpu = Some((
                cpu_seconds(None),
                args.server_pid.and_then(|p| cpu_seconds(Some(p))),
            ));
            last = (now, shared.measured_samples.load(Ordering::Relaxed));
        }
        if now >= plan.deadline || threads.iter().all(|t| t.is_finished()) {
            break;
        }
        let measured = shared.measured_samples.load(Ordering::Relaxed);
        if cpu.is_some() && now - last.0 >= Duration::from_secs(1) {
            let rate = (measured - last.1) as f64 / (now - last.0).as_secs_f64();
            bar.set_message(format!("{rate:.0} samples/s"));
            last = (now, measured);
        }
        let slowest = shared
            .gate
            .done
            .lock()
            .iter()
            .copied()
            .min()
            .unwrap_or(0)
            .min(plan.rounds);
        bar.set_position(if by_rounds {
            slowest
        } else {
            (now - plan.start).as_millis() as u64
        });
        let wake = if cpu.is_none() {
            plan.measure_from.min(now + Duration::from_millis(100))
        } else {
            plan.deadline.min(now + Duration::from_millis(100))
        };
        std::thread::sleep(wake.saturating_duration_since(Instant::now()));
    }
    cpu.unwrap_or((None, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_urls() {
        assert_eq!(
            write_url("http://127.0.0.1:9090"),
            "http://127.0.0.1:9090/api/v1/write"
        );
        assert_eq!(
            write_url("http://127.0.0.1:9090/"),
            "http://127.0.0.1:9090/api/v1/write"
        );
        assert_eq!(
            write_url("http://127.0.0.1:9090/receive"),
            "http://127.0.0.1:9090/receive"
        );
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_interval("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("soon").is_err());
    }

    #[test]
    fn the_gate_holds_a_shard_that_runs_ahead() {
        let gate = Gate::new(2, 1);
        let stop = AtomicBool::new(false);
        gate.wait(1, &stop); // one round ahead of shard 1 (at 0) is allowed
        gate.set(0, 2);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| gate.wait(2, &stop));
            // Shard 1 moving to round 1 lets round 2 start.
            gate.set(1, 1);
            waiter.join().unwrap();
        });
        // A stopped shard never holds the others.
        gate.set(1, u64::MAX);
        gate.set(0, u64::MAX);
        gate.wait(1_000, &stop);
    }
}
