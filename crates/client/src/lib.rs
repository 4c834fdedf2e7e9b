//! `tally`: metrics for functions, services and jobs that run as many instances.
//!
//! # Layout
//!
//! - [`Counter`], [`Gauge`], [`Histogram`] (`counter.rs`, `gauge.rs`, `histogram.rs`):
//!   the metric types. Updates are relaxed atomics on per-thread stripes (`stripe.rs`), so
//!   they cost nanoseconds and scale across threads.
//! - [`Family`] (`family.rs`): one metric per label-value combination, with a resolved
//!   handle for hot paths ([`Family::get`]) and a lookup per call ([`Family::with`]).
//! - [`Registry`] (`registry.rs`): what is exported; [`default_registry`] is the
//!   process-wide one. It gathers into [`tally_model::MetricFamily`]s and encodes them in
//!   the text or OpenMetrics format.
//! - [`#[measured]`](macro@measured) (the `tally-macros` crate) and its runtime
//!   [`LazyFunctionMetrics`], [`FunctionMetrics`], [`CallGuard`] (`measured.rs`): calls,
//!   errors, duration and calls in flight of a function, as autometrics exports them.
//! - [`ProcessCollector`], [`BuildInfo`] (`process.rs`): standard `process_*` metrics and
//!   `build_info`.
//! - Ready-made metrics: `http::MetricsLayer` (`http.rs`, feature `tower`, plus `axum`
//!   for route templates) for HTTP servers; [`messages::MessageMetrics`] (`messages.rs`)
//!   for queue consumers and producers.
//! - `pull::serve` (`pull.rs`, feature `pull`): a minimal `GET /metrics` endpoint for
//!   pull mode; `pull::scrape` answers a scrape from an application's own server.
//! - [`testing`] (`testing.rs`): compare an exposition with expected text, ignoring
//!   order, with a line diff ([`assert_exposition!`]).
//! - [`Pusher`] (`push.rs`, `push/`): background threads that push the registry's
//!   cumulative state to gateways (tally or Pushgateway) on an interval, with retries, a
//!   circuit breaker per gateway, a final push at shutdown and an on-disk spool.
//!
//! # Example
//!
//! ```
//! let registry = tally::Registry::new();
//! let requests = registry.counter_family("http_requests_total", "Requests.", ["method", "code"])?;
//! let ok = requests.get(&["GET", "200"]); // resolve once...
//! ok.inc(); // ...then update with a single atomic add
//! requests.with(&["POST", "500"]).inc(); // or look up per call
//!
//! let latency = registry.histogram("request_seconds", "Latency.", &tally::DEFAULT_BUCKETS)?;
//! latency.observe(0.042);
//!
//! let text = registry.encode_text();
//! assert!(text.contains(r#"http_requests_total{code="200",method="GET"} 1"#));
//! # Ok::<(), tally::RegistryError>(())
//! ```

#![warn(missing_docs)]

mod counter;
mod family;
mod gauge;
mod histogram;
mod measured;
mod process;
mod push;
mod registry;
mod stripe;

#[cfg(feature = "tower")]
pub mod http;
pub mod messages;
#[cfg(feature = "pull")]
pub mod pull;
pub mod testing;

pub use counter::Counter;
pub use family::{Family, Labelled};
pub use gauge::Gauge;
pub use histogram::{
    exponential_buckets, linear_buckets, BucketsError, Histogram, HistogramSnapshot,
    DEFAULT_BUCKETS,
};
pub use measured::{
    CallGuard, FunctionMetrics, LazyFunctionMetrics, FUNCTION_CALLS_CONCURRENT,
    FUNCTION_CALLS_DURATION, FUNCTION_CALLS_TOTAL, FUNCTION_DURATION_BUCKETS,
};
pub use process::{process_start_time, BuildInfo, ProcessCollector};
pub use push::{
    Clock, FinalOutcome, HttpTransport, PushConfigError, PushRequest, PushResponse, Pusher,
    PusherBuilder, PusherGuard, ShutdownReport, SystemClock, Transport, TransportError,
    VirtualClock, Wakeup,
};
pub use registry::{default_registry, Collector, Registry, RegistryError};
pub use tally_macros::measured;
pub use tally_model::expfmt::Format;

/// What the code `#[measured]` generates refers to. Not a public API: it may change in any
/// release.
#[doc(hidden)]
pub mod __private {
    pub use crate::measured::{call, LazyFunctionMetrics, Probe, ProbeFallback};
}
