//! `tally serve`: flags, environment variables and an optional TOML config file, merged
//! in that order of precedence over the defaults, then the server runs until SIGINT or
//! SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use serde::Deserialize;
use tally_gateway::{default_gauge_modes, GaugeMode, NamePattern};
use tally_server::{parse_duration_ms, RateLimit, ServerConfig};

/// `tally serve` flags. Every flag also reads an environment variable; a config file
/// (`--config`) gives defaults for anything not set either way.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (Pushgateway's port by default).
    #[arg(long, env = "TALLY_LISTEN")]
    listen: Option<SocketAddr>,
    /// Directory for durable state.
    #[arg(long, env = "TALLY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Time a group lives without a push (e.g. 10m, 1h).
    #[arg(long, env = "TALLY_TTL")]
    ttl: Option<String>,
    /// Labels removed to form the aggregated view, comma-separated.
    #[arg(long, env = "TALLY_AGGREGATION_LABELS", value_delimiter = ',')]
    aggregation_labels: Option<Vec<String>>,
    /// How a gauge aggregates across groups: PATTERN=sum|max|min|last (repeatable; `*`
    /// matches anything; first match wins; unmatched gauges sum).
    #[arg(long = "gauge-mode", env = "TALLY_GAUGE_MODES", value_delimiter = ',')]
    gauge_modes: Vec<String>,
    /// Sync every acknowledged change to disk (power-loss safety; group commit).
    #[arg(long, env = "TALLY_FSYNC")]
    fsync: bool,
    /// Largest request body, in bytes.
    #[arg(long, env = "TALLY_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// Most live groups.
    #[arg(long, env = "TALLY_MAX_GROUPS")]
    max_groups: Option<usize>,
    /// Most series per group.
    #[arg(long, env = "TALLY_MAX_SERIES_PER_GROUP")]
    max_series_per_group: Option<usize>,
    /// Most labels per series (grouping key included).
    #[arg(long, env = "TALLY_MAX_LABELS")]
    max_labels: Option<usize>,
    /// Longest label name or value, in bytes.
    #[arg(long, env = "TALLY_MAX_LABEL_LENGTH")]
    max_label_length: Option<usize>,
    /// Pushes and deletes per second per client IP (token bucket); 0 for no limit.
    #[arg(long, env = "TALLY_RATE_LIMIT")]
    rate_limit: Option<u32>,
    /// Burst size of the per-client token bucket.
    #[arg(long, env = "TALLY_RATE_BURST")]
    rate_burst: Option<u32>,
    /// How often the time-series head is checkpointed to its store and the log
    /// truncated (default 1m). Hidden: tests shorten it to crash mid-checkpoint.
    #[arg(long, env = "TALLY_CHECKPOINT_INTERVAL", hide = true)]
    checkpoint_interval: Option<String>,
    /// How often the aggregated view is written to the time-series database (e.g. 15s).
    #[arg(long, env = "TALLY_SAMPLE_INTERVAL")]
    sample_interval: Option<String>,
    /// Also store every group's own series (labelled tally_view="group").
    #[arg(long, env = "TALLY_STORE_GROUP_SERIES")]
    store_group_series: bool,
    /// Keep raw samples this long (e.g. 15d); 0 keeps them for ever.
    #[arg(long, env = "TALLY_RETENTION")]
    retention: Option<String>,
    /// Drop the oldest raw samples while the database is larger than this many bytes.
    #[arg(long, env = "TALLY_RETENTION_BYTES")]
    retention_bytes: Option<u64>,
    /// Most series the time-series database holds.
    #[arg(long, env = "TALLY_MAX_SERIES")]
    max_series: Option<usize>,
    /// Longest a PromQL query may run (e.g. 2m); a request's `timeout` can only shorten it.
    #[arg(long, env = "TALLY_QUERY_TIMEOUT")]
    query_timeout: Option<String>,
    /// Most samples a PromQL query may hold in memory at once.
    #[arg(long, env = "TALLY_QUERY_MAX_SAMPLES")]
    query_max_samples: Option<usize>,
    /// How far back an instant selector looks for a sample (e.g. 5m).
    #[arg(long, env = "TALLY_QUERY_LOOKBACK_DELTA")]
    query_lookback_delta: Option<String>,
    /// Prometheus rule files to evaluate: paths or glob patterns (repeatable), read
    /// again on SIGHUP and `POST /-/reload`.
    #[arg(
        long = "rules",
        env = "TALLY_RULES",
        value_delimiter = ',',
        value_name = "GLOB"
    )]
    rules: Vec<String>,
    /// How often rule groups without their own `interval` run (default 1m).
    #[arg(long, env = "TALLY_EVALUATION_INTERVAL")]
    evaluation_interval: Option<String>,
    /// The URL users reach this server at (alerts' generatorURL, `$externalURL`).
    #[arg(long, env = "TALLY_EXTERNAL_URL")]
    external_url: Option<String>,
    /// Alertmanager-format YAML (route, receivers, inhibit_rules) for tally's own
    /// notifications: webhook, Slack, email.
    #[arg(long, env = "TALLY_ALERTING_CONFIG", value_name = "FILE")]
    alerting_config: Option<PathBuf>,
    /// An external Alertmanager to send every alert to (repeatable).
    #[arg(
        long = "alertmanager-url",
        env = "TALLY_ALERTMANAGER_URLS",
        value_delimiter = ',',
        value_name = "URL"
    )]
    alertmanager_urls: Vec<String>,
    /// A TOML file with any of the settings above (snake_case keys).
    #[arg(long, env = "TALLY_CONFIG")]
    config: Option<PathBuf>,
}

/// The config file: the same settings as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    ttl: Option<String>,
    aggregation_labels: Option<Vec<String>>,
    #[serde(default)]
    gauge_modes: Vec<String>,
    fsync: Option<bool>,
    max_body_bytes: Option<usize>,
    max_groups: Option<usize>,
    max_series_per_group: Option<usize>,
    max_labels: Option<usize>,
    max_label_length: Option<usize>,
    rate_limit: Option<u32>,
    rate_burst: Option<u32>,
    sample_interval: Option<String>,
    store_group_series: Option<bool>,
    retention: Option<String>,
    retention_bytes: Option<u64>,
    max_series: Option<usize>,
    query_timeout: Option<String>,
    query_max_samples: Option<usize>,
    query_lookback_delta: Option<String>,
    #[serde(default)]
    rules: Vec<String>,
    evaluation_interval: Option<String>,
    external_url: Option<String>,
    alerting_config: Option<PathBuf>,
    #[serde(default)]
    alertmanager_urls: Vec<String>,
}

fn gauge_rule(rule: &str) -> anyhow::Result<(NamePattern, GaugeMode)> {
    let (pattern, mode) = rule
        .rsplit_once('=')
        .with_context(|| format!("gauge mode {rule:?} is not PATTERN=MODE"))?;
    let mode = GaugeMode::parse(mode.trim())
        .with_context(|| format!("gauge mode {mode:?} in {rule:?} is not sum, max, min or last"))?;
    Ok((NamePattern::new(pattern.trim()), mode))
}

impl ServeArgs {
    /// Merges flags, environment, file and defaults into a server configuration.
    pub fn config(&self) -> anyhow::Result<ServerConfig> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let mut c = ServerConfig::default();
        if let Some(v) = self.listen.or(file.listen) {
            c.listen = v;
        }
        if let Some(v) = self.data_dir.clone().or(file.data_dir) {
            c.data_dir = v;
        }
        if let Some(v) = self.ttl.clone().or(file.ttl) {
            c.gateway.default_ttl_ms = parse_duration_ms(&v)
                .filter(|ms| *ms > 0)
                .with_context(|| format!("--ttl {v:?} is not a duration like 10m or 1h"))?;
        }
        if let Some(v) = self.aggregation_labels.clone().or(file.aggregation_labels) {
            c.gateway.aggregation_labels = v.into_iter().filter(|l| !l.is_empty()).collect();
        }
        let rules = if self.gauge_modes.is_empty() {
            &file.gauge_modes
        } else {
            &self.gauge_modes
        };
        let mut modes = rules
            .iter()
            .map(|r| gauge_rule(r))
            .collect::<anyhow::Result<Vec<_>>>()?;
        modes.extend(default_gauge_modes());
        c.gateway.gauge_modes = modes;
        c.fsync = self.fsync || file.fsync.unwrap_or(false);
        if let Some(v) = self.max_body_bytes.or(file.max_body_bytes) {
            c.max_body_bytes = v;
        }
        let limits = &mut c.gateway.limits;
        if let Some(v) = self.max_groups.or(file.max_groups) {
            limits.max_groups = v;
        }
        if let Some(v) = self.max_series_per_group.or(file.max_series_per_group) {
            limits.max_series_per_group = v;
        }
        if let Some(v) = self.max_labels.or(file.max_labels) {
            limits.max_labels = v;
        }
        if let Some(v) = self.max_label_length.or(file.max_label_length) {
            limits.max_label_length = v;
        }
        let storage = &mut c.storage;
        if let Some(v) = self.sample_interval.clone().or(file.sample_interval) {
            let ms = parse_duration_ms(&v)
                .filter(|ms| *ms > 0)
                .with_context(|| {
                    format!("--sample-interval {v:?} is not a duration like 15s or 1m")
                })?;
            storage.sample_interval = std::time::Duration::from_millis(ms as u64);
        }
        storage.store_group_series =
            self.store_group_series || file.store_group_series.unwrap_or(false);
        if let Some(v) = self.retention.clone().or(file.retention) {
            let ms = parse_duration_ms(&v)
                .filter(|ms| *ms >= 0)
                .with_context(|| format!("--retention {v:?} is not a duration like 15d"))?;
            storage.retention = (ms > 0).then(|| std::time::Duration::from_millis(ms as u64));
        }
        if let Some(v) = self.retention_bytes.or(file.retention_bytes) {
            storage.retention_bytes = Some(v);
        }
        if let Some(v) = self.max_series.or(file.max_series) {
            storage.max_series = v;
        }
        let duration = |flag: &str, v: &str| -> anyhow::Result<std::time::Duration> {
            let ms = parse_duration_ms(v)
                .filter(|ms| *ms > 0)
                .with_context(|| format!("--{flag} {v:?} is not a duration like 2m"))?;
            Ok(std::time::Duration::from_millis(ms as u64))
        };
        if let Some(v) = self.query_timeout.clone().or(file.query_timeout) {
            c.query.timeout = Some(duration("query-timeout", &v)?);
        }
        if let Some(v) = self.query_max_samples.or(file.query_max_samples) {
            c.query.max_samples = v;
        }
        if let Some(v) = self
            .query_lookback_delta
            .clone()
            .or(file.query_lookback_delta)
        {
            c.query.lookback_delta = duration("query-lookback-delta", &v)?;
        }
        if let Some(v) = &self.checkpoint_interval {
            let ms = parse_duration_ms(v).filter(|ms| *ms > 0).with_context(|| {
                format!("--checkpoint-interval {v:?} is not a duration like 1m")
            })?;
            c.storage.checkpoint_interval = std::time::Duration::from_millis(ms as u64);
        }
        let r = &mut c.rules;
        r.files = if self.rules.is_empty() {
            file.rules
        } else {
            self.rules.clone()
        };
        if let Some(v) = self
            .evaluation_interval
            .clone()
            .or(file.evaluation_interval)
        {
            r.evaluation_interval = duration("evaluation-interval", &v)?;
        }
        r.external_url = self.external_url.clone().or(file.external_url);
        r.alerting_config = self.alerting_config.clone().or(file.alerting_config);
        r.alertmanager_urls = if self.alertmanager_urls.is_empty() {
            file.alertmanager_urls
        } else {
            self.alertmanager_urls.clone()
        };
        for url in &r.alertmanager_urls {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("--alertmanager-url {url:?}: not an http:// or https:// URL");
            }
        }
        let rate = self.rate_limit.or(file.rate_limit).unwrap_or(0);
        if rate > 0 {
            let burst = self.rate_burst.or(file.rate_burst).unwrap_or(rate);
            if burst == 0 {
                bail!("--rate-burst must be at least 1");
            }
            c.rate_limit = Some(RateLimit {
                per_second: rate,
                burst,
            });
        }
        Ok(c)
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    without_malloc_thread_cache();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TALLY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    // Before any thread exists, so the cap covers every arena (see the function).
    tally_tsdb::limit_allocator_arenas();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listen = config.listen;
        tally_server::serve(config, shutdown_signal())
            .await
            .with_context(|| format!("tally serve on {listen}"))
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// The `GLIBC_TUNABLES` setting that turns off glibc's per-thread caches of freed blocks.
const NO_TCACHE: &str = "glibc.malloc.tcache_count=0";

/// Re-executes the process once with glibc's per-thread cache of freed blocks (the
/// tcache) turned off, unless `GLIBC_TUNABLES` already sets it or `TALLY_MALLOC_TCACHE` is
/// set (to anything: keep glibc's default). glibc reads its tunables only when a process
/// starts, hence the exec; it keeps the process id, and failing it changes nothing.
///
/// Why: every thread that frees memory keeps up to 7 blocks of each small size in its
/// cache, which stay resident and scatter the heap between long-lived blocks. Measured
/// with the tally half of `scripts/bench/remote-write.sh` (10,000 series, RSS 7 s after
/// the load, two alternating runs each, same binary): 25.0–26.0 MB against 28.0–30.0,
/// samples/s within the spread (1.0–1.2 M both). Other C libraries: nothing happens.
fn without_malloc_thread_cache() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        let current = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
        if current.contains("glibc.malloc.tcache_count")
            || std::env::var_os("TALLY_MALLOC_TCACHE").is_some()
        {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let tunables = if current.is_empty() {
            NO_TCACHE.to_owned()
        } else {
            format!("{current}:{NO_TCACHE}")
        };
        // Only returns on failure, and then the server runs with the cache.
        let _ = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("GLIBC_TUNABLES", tunables)
            .exec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn flags_override_file_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tally.toml");
        std::fs::write(
            &file,
            "ttl = \"1h\"\nmax_groups = 7\ngauge_modes = [\"q_*=max\"]\nrate_limit = 5\n",
        )
        .unwrap();
        let args = Wrap::parse_from([
            "x",
            "--config",
            file.to_str().unwrap(),
            "--max-groups",
            "9",
            "--aggregation-labels",
            "instance,pod",
        ]);
        let c = args.serve.config().unwrap();
        assert_eq!(c.gateway.default_ttl_ms, 3_600_000);
        assert_eq!(c.gateway.limits.max_groups, 9);
        assert_eq!(c.gateway.aggregation_labels, ["instance", "pod"]);
        assert_eq!(c.gateway.gauge_mode("q_depth"), GaugeMode::Max);
        assert_eq!(
            c.rate_limit,
            Some(RateLimit {
                per_second: 5,
                burst: 5
            })
        );
        assert_eq!(c.listen.port(), 9091);
    }

    #[test]
    fn bad_settings_are_named() {
        let args = Wrap::parse_from(["x", "--gauge-mode", "a=avg"]);
        let err = args.serve.config().unwrap_err().to_string();
        assert!(err.contains("\"avg\""), "{err}");
        let args = Wrap::parse_from(["x", "--query-timeout", "soon"]);
        let err = args.serve.config().unwrap_err().to_string();
        assert!(err.contains("--query-timeout"), "{err}");
        let args = Wrap::parse_from(["x", "--query-max-samples", "10", "--query-timeout", "5s"]);
        let c = args.serve.config().unwrap();
        assert_eq!(c.query.max_samples, 10);
        assert_eq!(c.query.timeout, Some(std::time::Duration::from_secs(5)));
        let args = Wrap::parse_from(["x", "--alertmanager-url", "localhost:9093"]);
        let err = args.serve.config().unwrap_err().to_string();
        assert!(
            err.contains("--alertmanager-url \"localhost:9093\""),
            "{err}"
        );
        let args = Wrap::parse_from(["x", "--evaluation-interval", "0s"]);
        let err = args.serve.config().unwrap_err().to_string();
        assert!(err.contains("--evaluation-interval"), "{err}");
        let args = Wrap::parse_from([
            "x",
            "--rules",
            "a/*.yml,b.yml",
            "--evaluation-interval",
            "15s",
            "--alertmanager-url",
            "http://127.0.0.1:9093",
        ]);
        let c = args.serve.config().unwrap();
        assert_eq!(c.rules.files, ["a/*.yml", "b.yml"]);
        assert_eq!(
            c.rules.evaluation_interval,
            std::time::Duration::from_secs(15)
        );
        assert_eq!(c.rules.alertmanager_urls, ["http://127.0.0.1:9093"]);
        let args = Wrap::parse_from(["x", "--ttl", "forever"]);
        assert!(args
            .serve
            .config()
            .unwrap_err()
            .to_string()
            .contains("--ttl"));
    }
}
