//! The server in-process: [`Harness`] opens an [`App`] on a temporary data directory with
//! a [`ManualClock`], and sends requests through the router with `oneshot` (no socket).

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request};
use http_body_util::BodyExt as _;
use tally_server::{App, Clock, Recovery, ServerConfig};
use tempfile::TempDir;
use tower::ServiceExt as _;

use crate::samples::{self, Samples};

/// A clock the test moves by hand. Starts at 2026-01-01T00:00:00Z.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

/// The manual clock's start, in milliseconds since the epoch.
pub const START_MS: i64 = 1_767_225_600_000;

impl ManualClock {
    /// A clock at [`START_MS`].
    pub fn new() -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(START_MS)))
    }

    /// Moves the clock forward.
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body otherwise.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status,
            status,
            "expected {status}, got {}: {}",
            self.status,
            self.text()
        );
        self
    }
}

/// An [`App`] on a temporary directory, driven through its router.
#[derive(Debug)]
pub struct Harness {
    /// The shared state (for `expire()` and the store).
    pub app: App,
    /// The clock the app reads.
    pub clock: Arc<ManualClock>,
    /// What opening the data directory recovered.
    pub recovery: Recovery,
    dir: Arc<TempDir>,
}

impl Harness {
    /// A fresh app with `config` (its `data_dir` is replaced by a temporary directory).
    pub fn new(config: ServerConfig) -> Self {
        let dir = Arc::new(TempDir::new().expect("creating a temporary directory"));
        Self::open(config, dir, ManualClock::new())
    }

    /// An app with the default configuration.
    pub fn with_defaults() -> Self {
        Self::new(ServerConfig::default())
    }

    /// Opens (recovering) the app on `dir`.
    pub fn open(mut config: ServerConfig, dir: Arc<TempDir>, clock: Arc<ManualClock>) -> Self {
        config.data_dir = dir.path().to_owned();
        let (app, recovery) =
            tally_server::open(config, clock.clone()).expect("opening the server state");
        Self {
            app,
            clock,
            recovery,
            dir,
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Flushes the log and stops its writer, as a graceful shutdown does; returns what
    /// [`Harness::open`] needs to open the same state again.
    pub async fn close(self) -> (Arc<TempDir>, Arc<ManualClock>) {
        self.app.store.close().await.expect("flushing the log");
        (self.dir, self.clock)
    }

    /// Sends one request through the router.
    pub async fn request(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        for (n, v) in headers {
            request = request.header(*n, *v);
        }
        let request = request.body(body.into()).expect("building a request");
        let response = tally_server::router(self.app.clone())
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("reading the response body")
            .to_bytes()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// `PUT /metrics/<path>` with a text body.
    pub async fn put(&self, path: &str, body: &str) -> Answer {
        self.request("PUT", &format!("/metrics/{path}"), &[], body.to_owned())
            .await
    }

    /// `POST /metrics/<path>` with a text body.
    pub async fn post(&self, path: &str, body: &str) -> Answer {
        self.request("POST", &format!("/metrics/{path}"), &[], body.to_owned())
            .await
    }

    /// `DELETE /metrics/<path>`.
    pub async fn delete(&self, path: &str) -> Answer {
        self.request("DELETE", &format!("/metrics/{path}"), &[], Body::empty())
            .await
    }

    /// `GET <uri>`.
    pub async fn get(&self, uri: &str) -> Answer {
        self.request("GET", uri, &[], Body::empty()).await
    }

    /// The aggregated view's samples (`GET /metrics` without `tally_*`).
    pub async fn aggregated(&self) -> Samples {
        samples::pushed_samples(&self.get("/metrics").await.expect(200).body)
    }

    /// The per-group view's samples (`GET /metrics/groups`).
    pub async fn groups(&self) -> Samples {
        samples::flatten(&samples::parse_text(
            &self.get("/metrics/groups").await.expect(200).body,
        ))
    }
}
