//! [`ServerConfig`]: everything `tally serve` is told.

use std::net::SocketAddr;
use std::path::PathBuf;

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
        }
    }
}
