//! [`ServerConfig`]: everything `tally serve` is told.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tally_gateway::GatewayConfig;

/// A per-client token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Requests allowed at once.
    pub burst: u32,
}

/// The server's configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen (default `127.0.0.1:9091`, Pushgateway's port).
    pub listen: SocketAddr,
    /// Where state lives (default `./tally-data`).
    pub data_dir: PathBuf,
    /// Sync every acknowledged change to disk (power-loss safety), with group commit.
    pub fsync: bool,
    /// Largest request body accepted; larger ones get `413`.
    pub max_body_bytes: usize,
    /// Per-client rate limit on pushes and deletes; `None` for no limit.
    pub rate_limit: Option<RateLimit>,
    /// The gateway's semantics and limits.
    pub gateway: GatewayConfig,
    /// The time-series database and the history of the aggregated view.
    pub storage: StorageConfig,
    /// The remote_write receiver's limits.
    pub remote_write: crate::remote_write::RemoteWriteConfig,
    /// The PromQL engine's limits and lookback for the query API (Prometheus' defaults:
    /// 50 million samples in memory, 2 minute timeout, 5 minute lookback).
    pub query: tally_promql::EngineConfig,
    /// Rule files, their evaluation, and where alerts go.
    pub rules: RulesConfig,
}

/// Rules and alerting: which rule files run, how often, and who is told.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesConfig {
    /// Rule-file paths or glob patterns (`rules/*.yml`), expanded again on every reload.
    pub files: Vec<String>,
    /// How often a group without its own `interval` is evaluated (default 1 min).
    pub evaluation_interval: Duration,
    /// The URL tally is reached at, for alerts' `generatorURL` and `$externalURL`
    /// (default `http://LISTEN`).
    pub external_url: Option<String>,
    /// An Alertmanager-format YAML file (route, receivers, inhibit_rules) for the
    /// built-in notifier; `None` runs no built-in notifications.
    pub alerting_config: Option<PathBuf>,
    /// External Alertmanagers every alert is also sent to (`POST /api/v2/alerts`).
    pub alertmanager_urls: Vec<String>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            files: Vec::new(),
            evaluation_interval: Duration::from_secs(60),
            external_url: None,
            alerting_config: None,
            alertmanager_urls: Vec::new(),
        }
    }
}

/// How samples are stored (`tally-tsdb`) and how the aggregated view is sampled into it.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageConfig {
    /// How often the aggregated view is written to storage (default 15 s).
    pub sample_interval: Duration,
    /// Also store every group's own series, labelled `tally_view="group"` (default off:
    /// serverless instances would explode cardinality).
    pub store_group_series: bool,
    /// Drop raw samples older than this (default 15 days).
    pub retention: Option<Duration>,
    /// Drop the oldest raw data while the store is larger than this many bytes.
    pub retention_bytes: Option<u64>,
    /// Drop rollups older than this (default 400 days).
    pub rollup_retention: Option<Duration>,
    /// How often the head is checkpointed to SQLite and the log truncated (default 1 min).
    pub checkpoint_interval: Duration,
    /// How often retention runs (default 10 min).
    pub retention_interval: Duration,
    /// The most series storage holds (default 10 million).
    pub max_series: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            sample_interval: Duration::from_secs(15),
            store_group_series: false,
            retention: Some(Duration::from_secs(15 * 86_400)),
            retention_bytes: None,
            rollup_retention: Some(Duration::from_secs(400 * 86_400)),
            checkpoint_interval: Duration::from_secs(60),
            retention_interval: Duration::from_secs(600),
            max_series: 10_000_000,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9091)),
            data_dir: PathBuf::from("tally-data"),
            fsync: false,
            max_body_bytes: 16 << 20,
            rate_limit: None,
            gateway: GatewayConfig::default(),
            storage: StorageConfig::default(),
            remote_write: crate::remote_write::RemoteWriteConfig::default(),
            query: tally_promql::EngineConfig::default(),
            rules: RulesConfig::default(),
        }
    }
}
