//! `tally bench push`: a load generator for any Pushgateway-compatible endpoint.
//!
//! # What it sends
//!
//! [`Payload`] renders a realistic exposition of exactly `--series` samples: an HTTP
//! request counter by `method`, `route` and `status`, and a request-duration histogram by
//! `method` and `route` (10 buckets), about a third counters and two thirds histogram
//! samples. Each push goes to group `job/<job>/instance/i<k>`, round-robin over
//! `--groups` groups; every value is a multiple of how many times that group has been
//! pushed, so counters grow between pushes of a group as a real client's cumulative
//! counters do (a gateway sees no restarts).
//!
//! # How it drives the target
//!
//! `--concurrency` threads, each with its own blocking `ureq` agent (one kept-alive
//! connection per thread). A group is pushed by one thread at a time (a busy flag per
//! group), so a group's pushes arrive in order. A warm-up (`--warmup`, not counted) comes
//! before the measured part, which ends after `--duration` seconds or `--pushes` pushes.
//!
//! With `--rate`, pushes are sent open-loop on a fixed schedule (each thread owns every
//! `concurrency`-th slot) and latency is measured from the scheduled time, not the send
//! time, so a stalled server cannot hide its stall by slowing the generator down
//! (coordinated omission, as wrk2 corrects it). Without `--rate` every thread pushes
//! back to back and latency is the request's own time.
//!
//! Latencies go to an HDR histogram per thread (microseconds, 3 significant digits),
//! merged at the end. The report includes the CPU time the generator itself used (and
//! the server's, given `--server-pid`), read from `/proc`, so a run can show the
//! generator was not the bottleneck.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::bench::{check_target, cpu_seconds};
use crate::push::{push_url, GroupingKey, Method};

/// How long one push may take before it counts as an `io` error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The time bound of a run given `--pushes` but no `--duration`.
const PUSHES_TIME_CAP: Duration = Duration::from_secs(600);
/// The time bound of a run given neither.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// The highest latency the histogram holds: one hour, in microseconds.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Arguments of `tally bench push`.
#[derive(Debug, clap::Args)]
pub struct BenchPushArgs {
    /// The gateway's base URL; only loopback addresses unless --allow-remote.
    #[arg(long, default_value = "http://127.0.0.1:9091")]
    url: String,

    /// Groups pushed round-robin (`instance` label i0, i1, ...).
    #[arg(long, default_value_t = 1000)]
    groups: u64,

    /// Samples per push (lines of the body that are not comments).
    #[arg(long, default_value_t = 36)]
    series: usize,

    /// Threads pushing at once, each with its own connection.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,

    /// Seconds measured, after the warm-up (default 10, or at most 600 with --pushes).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,

    /// Stop after this many measured pushes (the first of --duration and --pushes wins).
    #[arg(long)]
    pushes: Option<u64>,

    /// Seconds of pushing before measuring (not counted).
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    warmup: f64,

    /// Pushes per second in total, sent on a fixed schedule; latency is then measured
    /// from each push's scheduled time. Unlimited by default.
    #[arg(long)]
    rate: Option<f64>,

    /// PUT replaces each group, POST replaces the families in the body.
    #[arg(long, value_enum, default_value_t = Method::Put)]
    method: Method,

    /// The `job` label of every group.
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

/// What a sample's value is, as a multiple of the group's push count `n`.
#[derive(Debug, Clone, Copy)]
enum Value {
    /// `n * step`, an integer.
    Times(u64),
    /// `n * millis / 1000`, written with three decimals (a histogram sum in seconds).
    Millis(u64),
}

/// One sample line: its text up to the value (with any `# HELP`/`# TYPE` before it).
#[derive(Debug, Clone)]
struct Line {
    prefix: String,
    value: Value,
}

/// A push body of a fixed number of samples whose values grow with the push count.
#[derive(Debug, Clone)]
pub struct Payload {
    lines: Vec<Line>,
}

const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const STATUSES: [&str; 3] = ["200", "404", "500"];
/// Finite bucket bounds of the duration histogram.
const BOUNDS: [&str; 9] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
];
/// Samples per histogram series: the buckets, `+Inf`, `_sum` and `_count`.
const HISTOGRAM_SAMPLES: usize = BOUNDS.len() + 3;

impl Payload {
    /// A payload of exactly `samples` samples: `⌊(2/3 · samples) / 12⌋` histogram series,
    /// counters for the rest.
    pub fn new(samples: usize) -> Self {
        let histograms = samples * 2 / 3 / HISTOGRAM_SAMPLES;
        let counters = samples - histograms * HISTOGRAM_SAMPLES;
        let mut lines = Vec::with_capacity(samples);
        for i in 0..counters {
            let mut prefix = String::new();
            if i == 0 {
                prefix.push_str(
                    "# HELP app_http_requests_total HTTP requests handled.\n\
                     # TYPE app_http_requests_total counter\n",
                );
            }
            prefix.push_str(&format!(
                "app_http_requests_total{{method=\"{}\",route=\"/api/v1/items/{}\",status=\"{}\"}} ",
                METHODS[i % METHODS.len()],
                i / (METHODS.len() * STATUSES.len()),
                STATUSES[(i / METHODS.len()) % STATUSES.len()],
            ));
            lines.push(Line {
                prefix,
                value: Value::Times(i as u64 % 7 + 1),
            });
        }
        for j in 0..histograms {
            let labels = format!(
                "method=\"{}\",route=\"/api/v1/items/{}\"",
                METHODS[j % METHODS.len()],
                j / METHODS.len()
            );
            let name = "app_http_request_duration_seconds";
            let mut head = String::new();
            if j == 0 {
                head = format!("# HELP {name} HTTP request latency.\n# TYPE {name} histogram\n");
            }
            for (b, bound) in BOUNDS.iter().chain(&["+Inf"]).enumerate() {
                let prefix = format!("{head}{name}_bucket{{{labels},le=\"{bound}\"}} ");
                head.clear();
                lines.push(Line {
                    prefix,
                    value: Value::Times(b as u64 + 1),
                });
            }
            lines.push(Line {
                prefix: format!("{name}_sum{{{labels}}} "),
                value: Value::Millis(1234),
            });
            lines.push(Line {
                prefix: format!("{name}_count{{{labels}}} "),
                value: Value::Times(BOUNDS.len() as u64 + 1),
            });
        }
        Self { lines }
    }

    /// How many samples a push carries.
    pub fn samples(&self) -> usize {
        self.lines.len()
    }

    /// Writes the body of a group's `n`-th push (n ≥ 1) into `buf` (cleared first).
    pub fn render(&self, n: u64, buf: &mut Vec<u8>) {
        buf.clear();
        let mut digits = itoa::Buffer::new();
        for line in &self.lines {
            buf.extend_from_slice(line.prefix.as_bytes());
            match line.value {
                Value::Times(step) => {
                    buf.extend_from_slice(digits.format(n.saturating_mul(step)).as_bytes())
                }
                Value::Millis(step) => {
                    let millis = n.saturating_mul(step);
                    buf.extend_from_slice(digits.format(millis / 1000).as_bytes());
                    buf.push(b'.');
                    let frac = millis % 1000;
                    buf.extend_from_slice(&[
                        b'0' + (frac / 100) as u8,
                        b'0' + (frac / 10 % 10) as u8,
                        b'0' + (frac % 10) as u8,
                    ]);
                }
            }
            buf.push(b'\n');
        }
    }
}

/// When the run measures and when it stops.
#[derive(Debug, Clone, Copy)]
struct Plan {
    start: Instant,
    measure_from: Instant,
    deadline: Instant,
    /// Time between two pushes of one thread, with `--rate`.
    period: Option<Duration>,
}

/// State the threads share.
#[derive(Debug)]
struct Shared {
    next_ticket: AtomicU64,
    /// A thread is pushing the group.
    busy: Vec<AtomicBool>,
    /// Pushes made to the group so far.
    pushed: Vec<AtomicU64>,
    stop: AtomicBool,
    /// Measured pushes still allowed (`--pushes`); `i64::MAX` without.
    budget: AtomicI64,
    /// Measured pushes done, for the progress bar.
    measured: AtomicU64,
}

impl Shared {
    /// Claims a group no other thread is pushing (there is always one: callers are
    /// never more than the groups) and returns it with its next push count.
    fn claim(&self) -> (usize, u64) {
        let groups = self.busy.len() as u64;
        loop {
            let g = (self.next_ticket.fetch_add(1, Ordering::Relaxed) % groups) as usize;
            if !self.busy[g].swap(true, Ordering::Acquire) {
                return (g, self.pushed[g].fetch_add(1, Ordering::Relaxed) + 1);
            }
        }
    }

    fn release(&self, group: usize) {
        self.busy[group].store(false, Ordering::Release);
    }
}

/// What one thread saw in the measured part.
#[derive(Debug)]
struct ThreadStats {
    latency_us: Histogram<u64>,
    ok: u64,
    /// Failures by status code, or `io` when no answer came.
    errors: BTreeMap<String, u64>,
    first_error: Option<String>,
}

impl ThreadStats {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .context("creating a latency histogram")?,
            ok: 0,
            errors: BTreeMap::new(),
            first_error: None,
        })
    }

    fn merge(&mut self, other: ThreadStats) -> anyhow::Result<()> {
        self.latency_us
            .add(&other.latency_us)
            .context("merging latency histograms")?;
        self.ok += other.ok;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        Ok(())
    }
}

/// An agent keeping one connection alive. Its timeouts cover connecting, sending and
/// receiving but not name resolution: ureq resolves the host on every request, and with
/// a resolve timeout it does so on a new thread each time, which would make the
/// generator spend more CPU per push than a fast server does.
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

/// Sends one push; `Ok(status)` when an answer came (its body read, so the connection
/// can be reused), `Err(message)` when none did.
fn send(
    agent: &ureq::Agent,
    method: Method,
    url: &str,
    body: &[u8],
) -> Result<(u16, String), String> {
    let request = match method {
        Method::Put => agent.put(url),
        Method::Post => agent.post(url),
    };
    let mut response = request
        .header("Content-Type", "text/plain; version=0.0.4")
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

/// One pushing thread: `index` of `threads`.
fn pusher(
    index: usize,
    threads: usize,
    plan: Plan,
    shared: &Shared,
    payload: &Payload,
    urls: &[String],
    method: Method,
) -> anyhow::Result<ThreadStats> {
    let agent = agent();
    let mut stats = ThreadStats::new()?;
    let mut body = Vec::with_capacity(payload.samples() * 96);
    let mut next_slot = plan
        .period
        .map(|p| plan.start + p.mul_f64(index as f64 / threads as f64));
    while !shared.stop.load(Ordering::Relaxed) {
        let scheduled = match (next_slot, plan.period) {
            (Some(slot), Some(period)) => {
                let now = Instant::now();
                if slot > now {
                    std::thread::sleep(slot - now);
                }
                next_slot = Some(slot + period);
                slot
            }
            _ => Instant::now(),
        };
        if scheduled >= plan.deadline {
            break;
        }
        let measured = scheduled >= plan.measure_from;
        if measured && shared.budget.fetch_sub(1, Ordering::Relaxed) <= 0 {
            break;
        }
        let (group, n) = shared.claim();
        payload.render(n, &mut body);
        let result = send(&agent, method, &urls[group], &body);
        let done = Instant::now();
        shared.release(group);
        if !measured {
            continue;
        }
        shared.measured.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok((status, _)) if (200..300).contains(&status) => {
                stats.ok += 1;
                let us = (done - scheduled)
                    .as_micros()
                    .clamp(1, u128::from(MAX_LATENCY_US));
                stats.latency_us.saturating_record(us as u64);
            }
            Ok((status, text)) => {
                *stats.errors.entry(status.to_string()).or_default() += 1;
                stats
                    .first_error
                    .get_or_insert_with(|| format!("{status}: {}", text.trim()));
            }
            Err(e) => {
                *stats.errors.entry("io".to_owned()).or_default() += 1;
                stats.first_error.get_or_insert(e);
            }
        }
    }
    Ok(stats)
}

/// The report of a run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The target base URL.
    pub url: String,
    /// `PUT` or `POST`.
    pub method: &'static str,
    /// Groups pushed round-robin.
    pub groups: u64,
    /// Samples per push.
    pub samples_per_push: usize,
    /// Body size of a push (the first one; later ones differ by a few digits).
    pub bytes_per_push: usize,
    /// Threads.
    pub concurrency: usize,
    /// The `--rate` asked for, pushes per second.
    pub target_rate: Option<f64>,
    /// Seconds of warm-up.
    pub warmup_seconds: f64,
    /// Seconds measured (until the last thread finished).
    pub measured_seconds: f64,
    /// Successful pushes in the measured part.
    pub pushes_ok: u64,
    /// Failed pushes in the measured part, by status (`io`: no answer).
    pub errors: BTreeMap<String, u64>,
    /// The first failure's message.
    pub first_error: Option<String>,
    /// Successful pushes per second.
    pub pushes_per_second: f64,
    /// Samples of successful pushes per second.
    pub samples_per_second: f64,
    /// Latency percentiles of successful pushes, milliseconds.
    pub latency_ms: Latency,
    /// CPU cores the generator used on average while measuring.
    pub generator_cpu_cores: Option<f64>,
    /// CPU cores the `--server-pid` process used on average while measuring.
    pub server_cpu_cores: Option<f64>,
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

impl Report {
    /// The report as text, one aspect per line.
    pub fn to_text(&self) -> String {
        let per_push = |cores: f64| {
            if self.pushes_ok > 0 {
                format!(
                    ", {:.1} µs CPU per push",
                    cores * self.measured_seconds * 1e6 / self.pushes_ok as f64
                )
            } else {
                String::new()
            }
        };
        let mut s = format!(
            "target:     {} ({}, {} groups, {} samples = {} bytes per push, concurrency {}, {})\n",
            self.url,
            self.method,
            self.groups,
            self.samples_per_push,
            self.bytes_per_push,
            self.concurrency,
            match self.target_rate {
                Some(r) => format!("rate {r} pushes/s, latency from the schedule"),
                None => "unpaced".to_owned(),
            }
        );
        s += &format!(
            "measured:   {:.1} s after {:.1} s of warm-up\n",
            self.measured_seconds, self.warmup_seconds
        );
        s += &format!(
            "pushes:     {} ok, {} failed; {:.1} pushes/s, {:.0} samples/s\n",
            self.pushes_ok,
            self.errors.values().sum::<u64>(),
            self.pushes_per_second,
            self.samples_per_second
        );
        let l = &self.latency_ms;
        s += &format!(
            "latency:    p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms\n",
            l.p50, l.p90, l.p99, l.max
        );
        if self.errors.is_empty() {
            s += "errors:     none\n";
        } else {
            let by_status: Vec<String> = self
                .errors
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            s += &format!("errors:     {}\n", by_status.join(", "));
            if let Some(e) = &self.first_error {
                s += &format!("first error: {e}\n");
            }
        }
        if let Some(cores) = self.generator_cpu_cores {
            s += &format!("generator:  {cores:.2} CPU cores{}\n", per_push(cores));
        }
        if let Some(cores) = self.server_cpu_cores {
            s += &format!("server:     {cores:.2} CPU cores{}\n", per_push(cores));
        }
        s
    }
}

fn check_args(args: &BenchPushArgs) -> anyhow::Result<()> {
    check_target(&args.url, args.allow_remote)?;
    if args.groups == 0 || args.series == 0 || args.concurrency == 0 {
        bail!("--groups, --series and --concurrency must be at least 1");
    }
    if args.concurrency as u64 > args.groups {
        bail!(
            "--concurrency {} is more than --groups {}: a group is pushed by one thread at a time",
            args.concurrency,
            args.groups
        );
    }
    for (flag, v) in [("--duration", args.duration), ("--rate", args.rate)] {
        if v.is_some_and(|v| !(v.is_finite() && v > 0.0)) {
            bail!("{flag} must be a positive number");
        }
    }
    if !(args.warmup.is_finite() && args.warmup >= 0.0) {
        bail!("--warmup must be zero or more seconds");
    }
    if args.pushes == Some(0) {
        bail!("--pushes must be at least 1");
    }
    Ok(())
}

/// Runs the benchmark and writes the report to `out`.
pub fn run(args: &BenchPushArgs, out: &mut impl Write) -> anyhow::Result<()> {
    check_args(args)?;
    let payload = Payload::new(args.series);
    let urls = (0..args.groups)
        .map(|k| {
            GroupingKey::new(&args.job, &[format!("instance=i{k}")])
                .map(|key| push_url(&args.url, &key))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let shared = Shared {
        next_ticket: AtomicU64::new(0),
        busy: (0..args.groups).map(|_| AtomicBool::new(false)).collect(),
        pushed: (0..args.groups).map(|_| AtomicU64::new(0)).collect(),
        stop: AtomicBool::new(false),
        budget: AtomicI64::new(
            args.pushes
                .map_or(i64::MAX, |p| p.min(i64::MAX as u64) as i64),
        ),
        measured: AtomicU64::new(0),
    };

    // One push before anything is timed: fails fast on a wrong URL or a refused payload.
    let mut body = Vec::new();
    let (group, n) = shared.claim();
    payload.render(n, &mut body);
    let bytes_per_push = body.len();
    match send(&agent(), args.method, &urls[group], &body) {
        Ok((status, _)) if (200..300).contains(&status) => {}
        Ok((status, text)) => bail!("{} answered {status}: {}", urls[group], text.trim()),
        Err(e) => bail!("cannot push to {}: {e}", urls[group]),
    }
    shared.release(group);

    let duration = match (args.duration, args.pushes) {
        (Some(d), _) => Duration::from_secs_f64(d),
        (None, Some(_)) => PUSHES_TIME_CAP,
        (None, None) => DEFAULT_DURATION,
    };
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let plan = Plan {
        start,
        measure_from,
        deadline: measure_from + duration,
        period: args
            .rate
            .map(|r| Duration::from_secs_f64(args.concurrency as f64 / r)),
    };
    let bar = progress_bar(args, duration);

    let (stats, cpu, measured_seconds) = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..args.concurrency)
            .map(|i| {
                let (shared, payload, urls) = (&shared, &payload, &urls);
                scope.spawn(move || {
                    pusher(
                        i,
                        args.concurrency,
                        plan,
                        shared,
                        payload,
                        urls,
                        args.method,
                    )
                })
            })
            .collect();
        let cpu = watch(&plan, &shared, &bar, args, &threads);
        shared.stop.store(true, Ordering::Relaxed);
        let mut total = ThreadStats::new()?;
        for t in threads {
            let stats = t
                .join()
                .map_err(|_| anyhow::anyhow!("a pushing thread panicked"))??;
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
    let report = Report {
        url: args.url.clone(),
        method: match args.method {
            Method::Put => "PUT",
            Method::Post => "POST",
        },
        groups: args.groups,
        samples_per_push: payload.samples(),
        bytes_per_push,
        concurrency: args.concurrency,
        target_rate: args.rate,
        warmup_seconds: args.warmup,
        measured_seconds,
        pushes_ok: stats.ok,
        pushes_per_second: stats.ok as f64 / measured_seconds,
        samples_per_second: (stats.ok as f64 * payload.samples() as f64) / measured_seconds,
        errors: stats.errors,
        first_error: stats.first_error,
        latency_ms: Latency {
            p50: pct(0.5),
            p90: pct(0.9),
            p99: pct(0.99),
            max: stats.latency_us.max() as f64 / 1000.0,
        },
        generator_cpu_cores: cores(own0, own1),
        server_cpu_cores: cores(server0, server1),
    };
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        out.write_all(report.to_text().as_bytes())?;
    }
    if report.pushes_ok == 0 {
        bail!("no push succeeded");
    }
    Ok(())
}

fn progress_bar(args: &BenchPushArgs, duration: Duration) -> ProgressBar {
    let (len, template) = match args.pushes {
        Some(p) if args.duration.is_none() => (
            p,
            "{elapsed_precise} [{wide_bar}] {pos}/{len} pushes  {msg}",
        ),
        _ => (
            (args.warmup * 1000.0) as u64 + duration.as_millis() as u64,
            "{elapsed_precise} [{wide_bar}] {msg}",
        ),
    };
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Updates the progress bar until the measured part ends (or every thread has stopped),
/// and returns the CPU times (own, server) read when measuring began.
fn watch<T>(
    plan: &Plan,
    shared: &Shared,
    bar: &ProgressBar,
    args: &BenchPushArgs,
    threads: &[std::thread::ScopedJoinHandle<'_, T>],
) -> (Option<f64>, Option<f64>) {
    let by_pushes = args.pushes.is_some() && args.duration.is_none();
    bar.set_message("warming up");
    let mut cpu = None;
    let mut last = (Instant::now(), 0u64);
    loop {
        let now = Instant::now();
        if cpu.is_none() && now >= plan.measure_from {
            cpu = Some((
                cpu_seconds(None),
                args.server_pid.and_then(|p| cpu_seconds(Some(p))),
            ));
            last = (now, shared.measured.load(Ordering::Relaxed));
        }
        if now >= plan.deadline || threads.iter().all(|t| t.is_finished()) {
            break;
        }
        let measured = shared.measured.load(Ordering::Relaxed);
        if cpu.is_some() && now - last.0 >= Duration::from_secs(1) {
            let rate = (measured - last.1) as f64 / (now - last.0).as_secs_f64();
            bar.set_message(format!("{rate:.0} pushes/s"));
            last = (now, measured);
        }
        bar.set_position(if by_pushes {
            measured
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
    use tally_model::expfmt::{self, Format};
    use tally_model::MetricValue;

    #[test]
    fn payloads_have_exactly_the_samples_asked_for_and_parse() {
        for samples in [1, 11, 12, 36, 100, 500] {
            let payload = Payload::new(samples);
            assert_eq!(payload.samples(), samples);
            let mut body = Vec::new();
            payload.render(3, &mut body);
            let families = expfmt::parse(&body, Format::Text)
                .unwrap_or_else(|e| panic!("{samples}: {e}\n{}", String::from_utf8_lossy(&body)));
            let count: usize = families
                .iter()
                .flat_map(|f| &f.metrics)
                .map(|m| match &m.value {
                    MetricValue::Histogram(h) => h.buckets.len() + 2,
                    _ => 1,
                })
                .sum();
            assert_eq!(count, samples);
        }
    }

    #[test]
    fn the_36_sample_payload_is_counters_and_histograms() {
        let mut body = Vec::new();
        Payload::new(36).render(2, &mut body);
        let families = expfmt::parse(&body, Format::Text).unwrap();
        let shape: Vec<(&str, usize)> = families
            .iter()
            .map(|f| (f.name.as_str(), f.metrics.len()))
            .collect();
        assert_eq!(
            shape,
            [
                ("app_http_requests_total", 12),
                ("app_http_request_duration_seconds", 2)
            ]
        );
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains(
            "app_http_requests_total{method=\"GET\",route=\"/api/v1/items/0\",status=\"200\"} 2\n"
        ), "{text}");
        assert!(text.contains("app_http_request_duration_seconds_sum{method=\"GET\",route=\"/api/v1/items/0\"} 2.468\n"));
    }

    #[test]
    fn values_grow_with_the_push_count() {
        let payload = Payload::new(36);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        payload.render(1, &mut a);
        payload.render(2, &mut b);
        let values = |body: &[u8]| -> Vec<f64> {
            expfmt::parse(body, Format::Text)
                .unwrap()
                .iter()
                .flat_map(|f| f.metrics.clone())
                .flat_map(|m| match m.value {
                    MetricValue::Counter(c) => vec![c.value],
                    MetricValue::Histogram(h) => {
                        let mut v: Vec<f64> =
                            h.buckets.iter().map(|b| b.cumulative_count).collect();
                        v.extend(h.sum);
                        v.extend(h.count);
                        v
                    }
                    _ => vec![],
                })
                .collect()
        };
        for (x, y) in values(&a).iter().zip(values(&b)) {
            assert!(y > *x, "{x} -> {y}");
        }
    }

    #[test]
    fn groups_are_claimed_round_robin_and_never_twice_at_once() {
        let shared = Shared {
            next_ticket: AtomicU64::new(0),
            busy: (0..3).map(|_| AtomicBool::new(false)).collect(),
            pushed: (0..3).map(|_| AtomicU64::new(0)).collect(),
            stop: AtomicBool::new(false),
            budget: AtomicI64::new(0),
            measured: AtomicU64::new(0),
        };
        assert_eq!(shared.claim(), (0, 1));
        assert_eq!(shared.claim(), (1, 1));
        shared.release(1);
        // Group 2 is next; then 0 is still busy, so 1 comes again.
        assert_eq!(shared.claim(), (2, 1));
        assert_eq!(shared.claim(), (1, 2));
    }
}
