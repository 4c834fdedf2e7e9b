//! [`App`]: the shared state behind every request, and the router.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;
use tally_gateway::Gateway;

use crate::config::ServerConfig;
use crate::durable::Store;
use crate::error::ApiError;
use crate::metrics::ServerMetrics;
use crate::{push, read};

/// The time source: wall-clock milliseconds in production, a manual clock in tests.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// Everything requests share. Cloning [`App`] is shallow.
pub struct AppInner {
    /// The gateway; locked briefly per operation (never across an await).
    pub gateway: Mutex<Gateway>,
    /// The durable log.
    pub store: Store,
    /// tally's own metrics.
    pub metrics: ServerMetrics,
    /// The configuration.
    pub config: ServerConfig,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    compacting: AtomicBool,
}

impl std::fmt::Debug for AppInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The shared state.
#[derive(Debug, Clone)]
pub struct App(pub Arc<AppInner>);

impl std::ops::Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl App {
    /// Shared state around a recovered gateway and its store.
    pub fn new(
        config: ServerConfig,
        gateway: Gateway,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, tally::RegistryError> {
        let limiter = config.rate_limit.map(|r| {
            let per_second = NonZeroU32::new(r.per_second).unwrap_or(NonZeroU32::MIN);
            let burst = NonZeroU32::new(r.burst).unwrap_or(per_second);
            RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
        });
        Ok(Self(Arc::new(AppInner {
            gateway: Mutex::new(gateway),
            store,
            metrics: ServerMetrics::new()?,
            config,
            clock,
            limiter,
            compacting: AtomicBool::new(false),
        })))
    }

    /// Answers `429` with `Retry-After` when `client` is over its token bucket.
    pub fn check_rate(&self, client: &str) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        match limiter.check_key(&client.to_owned()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ));
                self.metrics.rejections.with(&["rate"]).inc();
                Err(ApiError {
                    retry_after: Some(wait.as_secs().max(1)),
                    ..ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        format!("rate limit exceeded for {client}; retry later"),
                    )
                })
            }
        }
    }

    /// Starts a compaction in the background when the log is large and none is running.
    pub fn maybe_compact(&self) {
        if !self.store.wants_compaction() || self.compacting.swap(true, Ordering::SeqCst) {
            return;
        }
        let (gen, state) = {
            let gw = self.gateway.lock();
            self.store.begin_compaction(&gw)
        };
        let app = self.clone();
        tokio::spawn(async move {
            if let Err(e) = app.store.finish_compaction(gen, state).await {
                tracing::error!(error = %e, "gateway compaction failed");
            }
            app.compacting.store(false, Ordering::SeqCst);
        });
    }

    /// Expires groups past their TTL, logging the pass so a replay repeats it.
    pub async fn expire(&self) -> Result<usize, ApiError> {
        let now = self.clock.now_ms();
        let lsn = {
            let mut gw = self.gateway.lock();
            if gw.next_expiry_ms().is_none_or(|t| t > now) {
                return Ok(0);
            }
            let expired = gw.expire(now).len();
            self.metrics.expired.inc_by(expired as u64);
            (
                self.store
                    .append(&crate::durable::Record::Expire { time_ms: now }),
                expired,
            )
        };
        self.store.wait(lsn.0).await?;
        Ok(lsn.1)
    }
}

/// The client a request comes from (its IP address), for rate limiting; `local` when
/// the server was not started with connection info (in-process tests).
#[derive(Debug, Clone)]
pub struct Client(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "local".to_owned(), |c| c.0.ip().to_string()),
        ))
    }
}

async fn record_latency(State(app): State<App>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let start = Instant::now();
    let response = next.run(request).await;
    app.metrics
        .latency
        .with(&[&route, &method])
        .observe(start.elapsed().as_secs_f64());
    response
}

async fn healthy() -> &'static str {
    "OK\n"
}

async fn body_too_large_to_413(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body exceeds the configured --max-body-bytes",
        )
        .into_response();
    }
    response
}

/// The router: the Pushgateway API, the views, and the health endpoints.
pub fn router(app: App) -> Router {
    let max_body = app.config.max_body_bytes;
    Router::new()
        .route("/metrics", get(read::aggregated))
        .route("/metrics/groups", get(read::groups_exposition))
        .route(
            "/metrics/{*grouping}",
            put(push::put).post(push::post).delete(push::delete),
        )
        .route("/api/v1/groups", get(read::groups_json))
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(healthy))
        .layer(DefaultBodyLimit::max(max_body))
        .route_layer(middleware::from_fn_with_state(app.clone(), record_latency))
        .layer(middleware::from_fn(body_too_large_to_413))
        .with_state(app)
}
