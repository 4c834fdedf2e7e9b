//! [`Report`]: what a `tally bench remote-write` run measured, as text or JSON.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::bench_push::Latency;

/// The report of a run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The remote_write URL.
    pub url: String,
    /// Series in all.
    pub series: usize,
    /// Simulated scrape interval, seconds.
    pub interval_seconds: f64,
    /// Most samples per request.
    pub batch: usize,
    /// Shards.
    pub concurrency: usize,
    /// The `--rate` asked for, samples per second.
    pub target_rate: Option<f64>,
    /// The seed.
    pub seed: u64,
    /// Timestamp of the first round (before per-target offsets), ms since the epoch.
    pub start_ms: i64,
    /// Newest timestamp sent, ms since the epoch.
    pub end_ms: i64,
    /// Rounds planned (the span).
    pub rounds_planned: u64,
    /// Rounds every shard generated in full.
    pub rounds_complete: u64,
    /// Why the run ended: `rounds` (all sent) or `duration`.
    pub stopped_by: &'static str,
    /// Seconds of warm-up.
    pub warmup_seconds: f64,
    /// Seconds measured (until the last shard finished).
    pub measured_seconds: f64,
    /// Successful requests in the measured part.
    pub requests_ok: u64,
    /// Samples in successful requests in the measured part.
    pub samples_ok: u64,
    /// Samples in every successful request, warm-up included.
    pub samples_ok_total: u64,
    /// Failed requests in the measured part, by status (`io`: no answer).
    pub errors: BTreeMap<String, u64>,
    /// The first failure's message.
    pub first_error: Option<String>,
    /// Successful requests per second.
    pub requests_per_second: f64,
    /// Samples of successful requests per second.
    pub samples_per_second: f64,
    /// Latency percentiles of successful requests, milliseconds.
    pub latency_ms: Latency,
    /// Mean compressed request body, bytes.
    pub bytes_per_request: f64,
    /// Compressed bytes per sample sent.
    pub bytes_per_sample: f64,
    /// CPU cores the generator used on average while measuring.
    pub generator_cpu_cores: Option<f64>,
    /// CPU cores the `--server-pid` process used on average while measuring.
    pub server_cpu_cores: Option<f64>,
}

impl Report {
    /// The report as text, one aspect per line.
    pub fn to_text(&self) -> String {
        let per_million = |cores: f64| {
            if self.samples_ok > 0 {
                format!(
                    ", {:.2} CPU seconds per million samples",
                    cores * self.measured_seconds * 1e6 / self.samples_ok as f64
                )
            } else {
                String::new()
            }
        };
        let mut s = format!(
            "target:     {} ({} series every {} s, batches of {}, {} shards, {})\n",
            self.url,
            self.series,
            self.interval_seconds,
            self.batch,
            self.concurrency,
            match self.target_rate {
                Some(r) => format!("rate {r} samples/s, latency from the schedule"),
                None => "unpaced".to_owned(),
            }
        );
        s += &format!(
            "data:       seed {}, {} of {} rounds, timestamps {} .. {} ({} s simulated); stopped by {}\n",
            self.seed,
            self.rounds_complete,
            self.rounds_planned,
            self.start_ms,
            self.end_ms,
            (self.end_ms - self.start_ms) / 1000,
            self.stopped_by,
        );
        s += &format!(
            "measured:   {:.1} s after {:.1} s of warm-up\n",
            self.measured_seconds, self.warmup_seconds
        );
        s += &format!(
            "requests:   {} ok, {} failed; {:.1} requests/s, {:.0} samples/s\n",
            self.requests_ok,
            self.errors.values().sum::<u64>(),
            self.requests_per_second,
            self.samples_per_second
        );
        let l = &self.latency_ms;
        s += &format!(
            "latency:    p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms\n",
            l.p50, l.p90, l.p99, l.max
        );
        s += &format!(
            "bodies:     {:.0} bytes per request, {:.2} bytes per sample (snappy)\n",
            self.bytes_per_request, self.bytes_per_sample
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
            s += &format!("generator:  {cores:.2} CPU cores{}\n", per_million(cores));
        }
        if let Some(cores) = self.server_cpu_cores {
            s += &format!("server:     {cores:.2} CPU cores{}\n", per_million(cores));
        }
        s
    }
}
