//! [`MetricsLayer`]: request counts and latencies for HTTP servers built on `tower`
//! (axum, tonic, hyper with `tower` services). Feature `tower`; feature `axum` adds route
//! templates from axum's router.
//!
//! # What is recorded
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `http_requests_total` | counter | `method`, `route`, `status` |
//! | `http_request_duration_seconds` | histogram ([`DEFAULT_BUCKETS`] unless configured) | `method`, `route` |
//!
//! Every request that enters the layer is recorded exactly once in both, so
//! `sum by (method, route) (http_requests_total)` equals
//! `http_request_duration_seconds_count`.
//!
//! - **`route`** is the route *template* (`/users/{id}`), never the request path
//!   (`/users/42`): a path label would make one series per user, per id, per scanner
//!   probe. It is, in order: a [`RouteTemplate`] in the request's extensions (for routers
//!   other than axum: insert one before this layer runs); with feature `axum`, axum's
//!   [`MatchedPath`](axum::extract::MatchedPath); otherwise [`UNMATCHED_ROUTE`]
//!   (`"unmatched"`).
//! - **`method`** is the request method for the nine standard methods and `"other"` for
//!   extension methods (any token is a valid method, so they would be unbounded too).
//! - **`status`** is the response's status code (`"200"`, `"404"`, ...). When the inner
//!   service fails (returns `Err`), it is [`ERROR_STATUS`] (`"500"`): hyper and most
//!   servers answer an error with a 500 or a reset connection, and a failed request must
//!   not vanish from the error ratio. When the response future is dropped before it
//!   completes (client disconnected, an outer timeout fired, the handler panicked), it is
//!   [`CANCELLED_STATUS`] (`"cancelled"`), and the duration is the time until the drop.
//! - **duration** runs from the call into the inner service until its response future
//!   completes, that is until the response *head* is ready; streaming the body afterwards
//!   is not included.
//!
//! # With axum
//!
//! axum inserts `MatchedPath` while routing, so the layer must run *after* routing: add it
//! with [`Router::layer`](axum::Router::layer) (all routes plus the fallback, whose
//! requests are then recorded as `route="unmatched"`) or
//! [`Router::route_layer`](axum::Router::route_layer) (matched routes only). Wrapping the
//! whole router from outside (`ServiceBuilder::new().layer(metrics).service(router)`)
//! sees requests before routing: everything would be `"unmatched"`.
//!
//! ```
//! # #[cfg(feature = "axum")]
//! # fn main() -> Result<(), tally::RegistryError> {
//! use axum::{routing::get, Router};
//!
//! let registry = tally::Registry::new();
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "a user" }))
//!     .layer(tally::http::MetricsLayer::builder().registry(&registry).build()?);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "axum"))]
//! # fn main() {}
//! ```
//!
//! # Cost
//!
//! The two families are registered once, when the layer is built. Per request: one
//! [`Family::with`] lookup each for the counter and the histogram (lock-free, see
//! [`Family`]), an `Arc` clone for the future, and reading the clock twice.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use http::{Method, Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::DEFAULT_BUCKETS;
use crate::{default_registry, Counter, Family, Histogram, Registry, RegistryError};

/// Name of the request counter.
pub const REQUESTS_TOTAL: &str = "http_requests_total";
/// Name of the request duration histogram.
pub const REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
/// The `route` of a request without a route template.
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// The `status` of a request whose inner service returned an error.
pub const ERROR_STATUS: &str = "500";
/// The `status` of a request whose response future was dropped before completing.
pub const CANCELLED_STATUS: &str = "cancelled";
/// The `method` of a request with a non-standard method.
pub const OTHER_METHOD: &str = "other";

/// A request's route template, for routers that do not set axum's `MatchedPath`: insert
/// it in the request's extensions (`request.extensions_mut().insert(...)`) before
/// [`MetricsLayer`] sees the request, and it becomes the `route` label.
///
/// It must be a template (`/users/{id}`), not the path. Cloning is an `Arc` increment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTemplate(Arc<str>);

impl RouteTemplate {
    /// A template such as `/users/{id}`.
    pub fn new(template: impl Into<Arc<str>>) -> Self {
        Self(template.into())
    }

    /// The template.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The families a layer records into, shared by every service and future it makes.
#[derive(Debug)]
struct Metrics {
    requests: Family<Counter, 3>,
    duration: Family<Histogram, 2>,
}

/// A `tower::Layer` that records `http_requests_total` and
/// `http_request_duration_seconds` for every request (see the [module
/// documentation](self) for labels and their rules).
///
/// Cloning is an `Arc` increment; every clone and every service it wraps records into the
/// same families.
#[derive(Debug, Clone)]
pub struct MetricsLayer {
    metrics: Arc<Metrics>,
}

impl MetricsLayer {
    /// A layer recording into [`default_registry`] with [`DEFAULT_BUCKETS`].
    ///
    /// Fails when the registry already holds one of the two names with another type,
    /// other labels or other buckets.
    pub fn new() -> Result<Self, RegistryError> {
        Self::builder().build()
    }

    /// A builder to choose the registry and the buckets.
    pub fn builder() -> MetricsLayerBuilder {
        MetricsLayerBuilder::default()
    }
}

/// Configures a [`MetricsLayer`].
#[derive(Debug, Clone, Default)]
pub struct MetricsLayerBuilder {
    registry: Option<Registry>,
    buckets: Option<Vec<f64>>,
}

impl MetricsLayerBuilder {
    /// Records into `registry` instead of [`default_registry`].
    pub fn registry(mut self, registry: &Registry) -> Self {
        self.registry = Some(registry.clone());
        self
    }

    /// Duration bucket upper bounds in seconds, instead of [`DEFAULT_BUCKETS`].
    pub fn buckets(mut self, buckets: &[f64]) -> Self {
        self.buckets = Some(buckets.to_vec());
        self
    }

    /// Registers the two families (or finds them, if an identical layer registered them
    /// before) and builds the layer.
    pub fn build(self) -> Result<MetricsLayer, RegistryError> {
        let registry = self.registry.as_ref().unwrap_or_else(|| default_registry());
        let buckets = self.buckets.as_deref().unwrap_or(&DEFAULT_BUCKETS);
        let requests = registry.counter_family(
            REQUESTS_TOTAL,
            "HTTP requests handled, by method, route template and status code.",
            ["method", "route", "status"],
        )?;
        let duration = registry.histogram_family(
            REQUEST_DURATION_SECONDS,
            "Time until the response head was ready, by method and route template.",
            ["method", "route"],
            buckets,
        )?;
        Ok(MetricsLayer {
            metrics: Arc::new(Metrics { requests, duration }),
        })
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`MetricsLayer`] wraps around an inner service.
#[derive(Debug, Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for MetricsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let recorder = Recorder {
            metrics: Some(self.metrics.clone()),
            method: method_label(request.method()),
            route: Route::of(&request),
            start: Instant::now(),
        };
        ResponseFuture {
            inner: self.inner.call(request),
            recorder,
        }
    }
}

pin_project! {
    /// The response future of [`MetricsService`]: the inner future, recording when it
    /// completes or is dropped.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        recorder: Recorder,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("recorder", &self.recorder)
            .finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        match &result {
            Ok(response) => this.recorder.record(response.status().as_str()),
            Err(_) => this.recorder.record(ERROR_STATUS),
        }
        Poll::Ready(result)
    }
}

/// The `route` label of one request. Holding the `Arc` of the template (not a copy)
/// keeps the per-request cost to a reference-count increment.
#[derive(Debug)]
enum Route {
    Template(RouteTemplate),
    #[cfg(feature = "axum")]
    Matched(axum::extract::MatchedPath),
    Unmatched,
}

impl Route {
    fn of<B>(request: &Request<B>) -> Self {
        let extensions = request.extensions();
        if let Some(template) = extensions.get::<RouteTemplate>() {
            return Self::Template(template.clone());
        }
        #[cfg(feature = "axum")]
        if let Some(matched) = extensions.get::<axum::extract::MatchedPath>() {
            return Self::Matched(matched.clone());
        }
        Self::Unmatched
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Template(t) => t.as_str(),
            #[cfg(feature = "axum")]
            Self::Matched(m) => m.as_str(),
            Self::Unmatched => UNMATCHED_ROUTE,
        }
    }
}

/// Records one request once: on completion through [`record`](Self::record), or as
/// cancelled when dropped before that.
#[derive(Debug)]
struct Recorder {
    /// `None` once recorded.
    metrics: Option<Arc<Metrics>>,
    method: &'static str,
    route: Route,
    start: Instant,
}

impl Recorder {
    fn record(&mut self, status: &str) {
        let Some(metrics) = self.metrics.take() else {
            return;
        };
        let route = self.route.as_str();
        metrics.requests.with(&[self.method, route, status]).inc();
        metrics
            .duration
            .with(&[self.method, route])
            .observe_since(self.start);
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.record(CANCELLED_STATUS);
    }
}

/// The `method` label: the standard methods as themselves, anything else as `"other"`.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => OTHER_METHOD,
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::future::{ready as ready_future, Ready};
    use std::task::Waker;

    use super::*;

    /// A service answering every request with `status`, or failing when `status` is 0.
    #[derive(Clone)]
    struct Fixed(u16);

    impl Service<Request<()>> for Fixed {
        type Response = Response<()>;
        type Error = &'static str;
        type Future = Ready<Result<Response<()>, &'static str>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            if self.0 == 0 {
                return ready_future(Err("boom"));
            }
            let mut response = Response::new(());
            *response.status_mut() = http::StatusCode::from_u16(self.0).unwrap();
            ready_future(Ok(response))
        }
    }

    /// A service whose future never completes.
    struct Pending;

    impl Service<Request<()>> for Pending {
        type Response = Response<()>;
        type Error = Infallible;
        type Future = std::future::Pending<Result<Response<()>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            std::future::pending()
        }
    }

    fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
        let mut cx = Context::from_waker(Waker::noop());
        std::pin::pin!(future).poll(&mut cx)
    }

    fn request(method: &str, path: &str, template: Option<&str>) -> Request<()> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap();
        if let Some(t) = template {
            request.extensions_mut().insert(RouteTemplate::new(t));
        }
        request
    }

    fn layer(registry: &Registry) -> MetricsLayer {
        MetricsLayer::builder().registry(registry).build().unwrap()
    }

    #[test]
    fn records_status_route_template_and_duration() {
        let registry = Registry::new();
        let mut service = layer(&registry).layer(Fixed(201));
        let req = request("POST", "/users/42", Some("/users/{id}"));
        assert!(matches!(poll_once(service.call(req)), Poll::Ready(Ok(_))));
        let req = request("GET", "/nowhere/42", None);
        assert!(matches!(poll_once(service.call(req)), Poll::Ready(Ok(_))));
        let text = registry.encode_text();
        assert!(
            text.contains(
                r#"http_requests_total{method="POST",route="/users/{id}",status="201"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"http_requests_total{method="GET",route="unmatched",status="201"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"http_request_duration_seconds_count{method="POST",route="/users/{id}"} 1"#
            ),
            "{text}"
        );
        assert!(!text.contains("/users/42"), "{text}");
        assert!(!text.contains("/nowhere"), "{text}");
    }

    #[test]
    fn service_errors_count_as_500() {
        let registry = Registry::new();
        let mut service = layer(&registry).layer(Fixed(0));
        let result = poll_once(service.call(request("GET", "/", Some("/"))));
        assert!(matches!(result, Poll::Ready(Err("boom"))));
        let text = registry.encode_text();
        assert!(
            text.contains(r#"http_requests_total{method="GET",route="/",status="500"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn dropped_futures_count_as_cancelled_once() {
        let registry = Registry::new();
        let mut service = layer(&registry).layer(Pending);
        let mut future = Box::pin(service.call(request("GET", "/slow", Some("/slow"))));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        assert!(!registry.encode_text().contains("route=\"/slow\""));
        drop(future);
        let text = registry.encode_text();
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",route="/slow",status="cancelled"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"http_request_duration_seconds_count{method="GET",route="/slow"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn extension_methods_are_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(
            method_label(&Method::from_bytes(b"PURGE").unwrap()),
            "other"
        );
        assert_eq!(method_label(&Method::from_bytes(b"get").unwrap()), "other");
    }

    #[test]
    fn layers_share_families_and_conflicts_are_errors() {
        let registry = Registry::new();
        let a = layer(&registry);
        let b = layer(&registry);
        let mut service = a.layer(Fixed(200));
        assert!(poll_once(service.call(request("GET", "/", None))).is_ready());
        assert_eq!(b.metrics.requests.len(), 1);
        assert_eq!(b.metrics.duration.len(), 1);
        let other = MetricsLayer::builder()
            .registry(&registry)
            .buckets(&[1.0])
            .build();
        assert!(matches!(other, Err(RegistryError::Conflict { .. })));
    }
}
