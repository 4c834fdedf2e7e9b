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

mod app;
mod config;
pub mod durable;
mod error;
mod metrics;
mod push;
mod read;
pub mod remote_write;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use app::{router, App, Clock, SystemClock};
pub use config::{RateLimit, ServerConfig};
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
}

/// Recovers state from `config.data_dir` and builds the shared state.
pub fn open(config: ServerConfig, clock: Arc<dyn Clock>) -> Result<(App, Recovery), ServeError> {
    let (store, gateway, recovery) =
        Store::open(&config.data_dir, config.fsync, config.gateway.clone())?;
    Ok((App::new(config, gateway, store, clock)?, recovery))
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
    serve_on(listener, app, shutdown).await
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
    let service = router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await;
    expiry.abort();
    app.store.close().await?;
    result?;
    Ok(())
}
