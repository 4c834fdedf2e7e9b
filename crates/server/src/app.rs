//! [`App`]: the shared state behind every request, and the router.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;
use tally_gateway::Gateway;

use crate::config::ServerConfig;
use crate::durable::Store;
use crate::error::ApiError;
use crate::jobs::JobRun;
use crate::metrics::ServerMetrics;
use crate::{push, query_api, read};

pub use tally_model::clock::{Clock, SystemClock};

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
    /// The time-series database (history of the view, remote_write samples).
    pub tsdb: Arc<tally_tsdb::Db>,
    /// Which aggregated series the last history round wrote (for staleness markers).
    pub history: crate::history::History,
    /// The remote_write receiver.
    pub remote_write: crate::remote_write::RemoteWrite,
    /// Counters of the background jobs.
    pub jobs: crate::jobs::JobMetrics,
    /// Rules, alerts and notifications.
    pub alerting: Arc<crate::alerting::Alerting>,
    /// What opening the time-series database recovered.
    pub tsdb_recovery: Mutex<Option<tally_tsdb::OpenReport>>,
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
    /// Shared state around a recovered gateway, its store and the time-series database.
    pub fn new(
        config: ServerConfig,
        gateway: Gateway,
        store: Store,
        tsdb: Arc<tally_tsdb::Db>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, crate::ServeError> {
        let limiter = config.rate_limit.map(|r| {
            let per_second = NonZeroU32::new(r.per_second).unwrap_or(NonZeroU32::MIN);
            let burst = NonZeroU32::new(r.burst).unwrap_or(per_second);
            RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
        });
        let metrics = ServerMetrics::new()?;
        let remote_write = crate::remote_write::RemoteWrite::new(
            tsdb.clone(),
            config.remote_write.clone(),
            &metrics.registry,
        )?;
        let jobs = crate::jobs::JobMetrics::new(&metrics.registry)?;
        crate::storage_metrics::register(&metrics.registry, &tsdb)?;
        let alerting = Arc::new(crate::alerting::Alerting::open(
            &config,
            tsdb.clone(),
            clock.clone(),
        )?);
        Ok(Self(Arc::new(AppInner {
            gateway: Mutex::new(gateway),
            store,
            metrics,
            config,
            clock,
            tsdb,
            history: crate::history::History::new(),
            remote_write,
            jobs,
            alerting,
            tsdb_recovery: Mutex::new(None),
            limiter,
            compacting: AtomicBool::new(false),
        })))
    }

    /// Keeps what opening the time-series database recovered.
    pub fn set_tsdb_recovery(&self, report: tally_tsdb::OpenReport) {
        *self.tsdb_recovery.lock() = Some(report);
    }

    /// tally's own metrics, as `GET /metrics` serves them after the aggregated view and
    /// the history stores them: the registry (its gateway gauges set from `source`
    /// first, so they are current whoever asks) and the rule and notifier metrics.
    pub fn own_metrics(
        &self,
        source: &tally_gateway::ViewSource,
    ) -> Vec<tally_model::MetricFamily> {
        self.metrics.groups.set(source.group_count() as f64);
        self.metrics.series.set(source.series_count() as f64);
        let mut families = self.metrics.registry.gather();
        let mut text = String::new();
        self.alerting.write_metrics(&mut text);
        match tally_model::expfmt::parse(text.as_bytes(), tally_model::expfmt::Format::Text) {
            Ok(more) => families.extend(more),
            Err(e) => tracing::error!(error = %e, "rule and notifier metrics are malformed"),
        }
        families
    }

    /// Writes one round of the aggregated view (and tally's own metrics, and with
    /// `store_group_series` every group's series) to the time-series database.
    pub fn sample_history(
        &self,
    ) -> Result<tally_storage::AppendStats, tally_storage::StorageError> {
        use crate::history::{flatten, GROUP_VIEW_LABEL};
        let now = self.clock.now_ms();
        // Only the copy is made under the lock; pushes go on while the views are built.
        let source = self.gateway.lock().view_source();
        let aggregated = source.aggregated();
        let groups = self
            .config
            .storage
            .store_group_series
            .then(|| source.group_view());
        let mut series = flatten(&aggregated, None);
        series.extend(flatten(&self.own_metrics(&source), None));
        if let Some(groups) = groups {
            series.extend(flatten(&groups, Some(GROUP_VIEW_LABEL)));
        }
        self.history.write_round(&*self.tsdb, series, now)
    }

    /// Starts the background jobs: the history sampler, checkpoints and retention.
    pub fn start_jobs(&self) -> crate::jobs::Supervisor {
        let mut sup = crate::jobs::Supervisor::new();
        let storage = &self.config.storage;
        let app = self.clone();
        sup.spawn(
            "history",
            storage.sample_interval,
            self.jobs.clone(),
            Arc::new(move || {
                app.sample_history()
                    .map(|_| JobRun::Done)
                    .map_err(|e| e.to_string())
            }),
        );
        // A checkpoint runs when its interval has passed or as soon as enough samples
        // arrived since the last one (bounding the memory they hold): each run waits on
        // the database for up to a second (on the blocking pool), and the next run
        // starts right after it.
        let db = self.tsdb.clone();
        let interval_ms = storage.checkpoint_interval.as_millis() as i64;
        let wait = Duration::from_secs(1).min(storage.checkpoint_interval);
        sup.spawn(
            "tsdb_checkpoint",
            Duration::from_millis(10).min(storage.checkpoint_interval),
            self.jobs.clone(),
            Arc::new(move || {
                if !db.wait_checkpoint_due(interval_ms, wait) {
                    return Ok(JobRun::Skipped);
                }
                db.checkpoint()
                    .map(|_| JobRun::Done)
                    .map_err(|e| e.to_string())
            }),
        );
        let db = self.tsdb.clone();
        sup.spawn(
            "tsdb_retention",
            storage.retention_interval,
            self.jobs.clone(),
            Arc::new(move || {
                db.apply_retention()
                    .map(|_| JobRun::Done)
                    .map_err(|e| e.to_string())
            }),
        );
        sup
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
    // The remote_write receiver reads its body itself and says which limit it hit.
    let own_limit = request.uri().path() == "/api/v1/write";
    let response = next.run(request).await;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !own_limit {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body exceeds the configured --max-body-bytes",
        )
        .into_response();
    }
    response
}

/// `POST /api/v1/write`: the remote_write receiver (`remote_write.rs`), which reads the
/// body itself under its own limits.
async fn remote_write_handler(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Response {
    match app.remote_write.write(&headers, body).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
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
        .route("/api/v1/write", post(remote_write_handler))
        .route(
            "/api/v1/query",
            get(query_api::query).post(query_api::query),
        )
        .route(
            "/api/v1/query_range",
            get(query_api::query_range).post(query_api::query_range),
        )
        .route(
            "/api/v1/series",
            get(query_api::series).post(query_api::series),
        )
        .route(
            "/api/v1/labels",
            get(query_api::labels).post(query_api::labels),
        )
        .route("/api/v1/label/{name}/values", get(query_api::label_values))
        .route("/api/v1/metadata", get(query_api::metadata))
        .route(
            "/api/v1/query_exemplars",
            get(query_api::query_exemplars).post(query_api::query_exemplars),
        )
        .route("/api/v1/status/buildinfo", get(query_api::buildinfo))
        .route("/api/v1/rules", get(crate::alerting::api::rules))
        .route("/api/v1/alerts", get(crate::alerting::api::alerts))
        .route(
            "/-/reload",
            post(crate::alerting::api::reload).put(crate::alerting::api::reload),
        )
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(healthy))
        .with_state(app.clone())
        .merge(tally_notify::router(app.alerting.notifier.clone()))
        .layer(DefaultBodyLimit::max(max_body))
        .route_layer(middleware::from_fn_with_state(app, record_latency))
        .layer(middleware::from_fn(body_too_large_to_413))
}
