//! `tally-server`: `tally serve`, the HTTP server around the aggregating push gateway.
//!
//! # Layout
//!
//! - `app.rs`: [`App`] (shared state: the [`Gateway`](tally_gateway::Gateway) behind a
//!   mutex, the durable [`Store`], tally's own metrics) and the [`router`].
//! - `push.rs`: the Pushgateway write API (`PUT`/`POST`/`DELETE /metrics/job/...`).
//! - `read.rs`: `/metrics` (aggregated view), `/metrics/groups`, `/api/v1/groups`.
//! - `durable.rs`: the log of applied operations, snapshots, and recovery.
//! - `error.rs`: [`ApiError`], the one error type answers are made of.
//! - `metrics.rs`: tally's own metrics.
//! - `config.rs`: [`ServerConfig`].
//! - `alerting.rs` ([`alerting::Alerting`]) and `alerting/api.rs`: rule evaluation over
//!   the time-series database, the notifier its alerts go to, reloads (SIGHUP,
//!   `POST /-/reload`), `/api/v1/rules`, `/api/v1/alerts` and the notifier's
//!   Alertmanager v2 API.
//!
//! A push is parsed outside any lock, applied to the gateway and appended to the log
//! under the gateway lock (so the log order is the apply order), and answered once the
//! log writer reports it written (and synced, with `fsync`): an acknowledged push
//! survives `kill -9`.
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = tally_server::ServerConfig::default();
//! tally_server::serve(config, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod alerting;
mod app;
mod config;
pub mod durable;
mod error;
pub mod history;
pub mod jobs;
mod metrics;
mod push;
pub mod query_api;
mod read;
pub mod remote_write;
mod storage_metrics;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use app::{router, App, Clock, SystemClock};
pub use config::{RateLimit, RulesConfig, ServerConfig, StorageConfig};
pub use durable::{Recovery, Store, StoreError};
pub use error::ApiError;
pub use push::parse_duration_ms;

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// State could not be recovered or stored.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address could not be bound, or the server failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// tally's own metrics could not be registered (a bug).
    #[error(transparent)]
    Metrics(#[from] tally::RegistryError),
    /// The log could not be flushed at shutdown.
    #[error(transparent)]
    Log(#[from] durable::LogFailed),
    /// The time-series database could not be opened.
    #[error("time-series database: {0}")]
    Tsdb(#[from] tally_tsdb::DbError),
    /// Rule files or the alerting configuration are invalid, or the notifier failed.
    #[error(transparent)]
    Alerting(#[from] alerting::AlertingError),
}

/// The time-series database's options for a server configuration: `data_dir/tsdb`.
pub fn tsdb_options(config: &ServerConfig, clock: &Arc<dyn Clock>) -> tally_tsdb::Options {
    let ms = |d: Duration| d.as_millis().min(i64::MAX as u128) as i64;
    let mut o = tally_tsdb::Options::new(config.data_dir.join("tsdb"));
    o.fsync = config.fsync;
    o.retention_ms = config.storage.retention.map(ms);
    o.rollup_retention_ms = config.storage.rollup_retention.map(ms);
    o.retention_bytes = config.storage.retention_bytes;
    o.max_series = config.storage.max_series;
    let clock = clock.clone();
    o.clock = Arc::new(move || clock.now_ms());
    o
}

/// Recovers state from `config.data_dir` (the gateway's log and snapshot, the
/// time-series database) and builds the shared state. What the database recovered is
/// logged and kept in [`AppInner::tsdb_recovery`](app::AppInner).
pub fn open(config: ServerConfig, clock: Arc<dyn Clock>) -> Result<(App, Recovery), ServeError> {
    let (store, gateway, recovery) =
        Store::open(&config.data_dir, config.fsync, config.gateway.clone())?;
    let (tsdb, report) = tally_tsdb::Db::open(tsdb_options(&config, &clock))?;
    if let Some(damage) = &report.replay.damage {
        tracing::warn!(%damage, "time-series log was damaged; recovered everything before it");
    }
    tracing::info!(
        series = report.series_loaded,
        samples_replayed = report.samples_replayed,
        "time-series database opened"
    );
    let app = App::new(config, gateway, store, Arc::new(tsdb), clock)?;
    app.set_tsdb_recovery(report);
    Ok((app, recovery))
}

/// Runs the server until `shutdown` completes, then finishes in-flight requests and
/// leaves the log flushed.
pub async fn serve(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let (app, recovery) = open(config, Arc::new(SystemClock))?;
    tracing::info!(?recovery, addr = %listener.local_addr()?, "tally serve listening");
    let hangup = reload_on_sighup(app.clone());
    let result = serve_on(listener, app, shutdown).await;
    hangup.abort();
    result
}

/// Reloads rule files and the alerting configuration on every SIGHUP.
fn reload_on_sighup(app: App) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut hangups) = signal(SignalKind::hangup()) else {
                tracing::warn!("cannot listen for SIGHUP; reload with POST /-/reload");
                return;
            };
            while hangups.recv().await.is_some() {
                let alerting = app.alerting.clone();
                // Errors are logged by reload itself.
                let _ = tokio::task::spawn_blocking(move || alerting.reload()).await;
            }
        }
        #[cfg(not(unix))]
        let _ = app;
    })
}

/// Runs the server on a bound listener (tests bind port 0 and read the address).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let expiry = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Err(e) = app.expire().await {
                    tracing::error!(error = %e.message, "expiry failed");
                }
            }
        })
    };
    let mut supervisor = app.start_jobs();
    app.alerting.start()?;
    let service = router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await;
    expiry.abort();
    supervisor.stop();
    {
        let alerting = app.alerting.clone();
        let _ = tokio::task::spawn_blocking(move || alerting.stop()).await;
    }
    app.store.close().await?;
    // Everything the time-series log holds goes to the store, so the next start has
    // little to replay.
    let tsdb = app.tsdb.clone();
    match tokio::task::spawn_blocking(move || tsdb.checkpoint()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "final time-series checkpoint failed"),
        Err(e) => tracing::error!(error = %e, "final time-series checkpoint did not run"),
    }
    result?;
    Ok(())
}
