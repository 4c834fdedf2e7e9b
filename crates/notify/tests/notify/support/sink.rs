//! [`Sink`]: an axum HTTP server on `127.0.0.1:0` that records the requests it
//! accepts, answering `503` to the first `fail_first` requests and `200` after that.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use axum::Router;
use parking_lot::{Condvar, Mutex};

/// One request received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request path.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The body.
    pub body: Bytes,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    arrived: Condvar,
    fail_first: AtomicUsize,
}

/// See the module documentation. Dropping it stops the server (its runtime shuts down).
pub struct Sink {
    shared: Arc<Shared>,
    port: u16,
    _runtime: tokio::runtime::Runtime,
}

impl Sink {
    /// A sink that accepts everything.
    pub fn start() -> Self {
        Self::failing(0)
    }

    /// A sink that fails the first `n` requests with `503`.
    pub fn failing(n: usize) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let shared = Arc::new(Shared::default());
        shared.fail_first.store(n, Ordering::SeqCst);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("binding 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let app = Router::new()
            .route("/{*path}", post(record))
            .with_state(shared.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            shared,
            port,
            _runtime: runtime,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The requests answered 200 so far (failed ones are not recorded); the record is
    /// emptied.
    pub fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.shared.received.lock())
    }

    /// Waits until `n` requests have been accepted (woken by each arrival, not polling),
    /// then takes them; panics after `limit`, which bounds the wait for another thread.
    pub fn wait_for(&self, n: usize, limit: std::time::Duration) -> Vec<Received> {
        let deadline = std::time::Instant::now() + limit;
        let mut received = self.shared.received.lock();
        while received.len() < n {
            let timed_out = self
                .shared
                .arrived
                .wait_until(&mut received, deadline)
                .timed_out();
            assert!(
                !timed_out || received.len() >= n,
                "{} of {n} requests within {limit:?}",
                received.len()
            );
        }
        std::mem::take(&mut *received)
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let failing = shared
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    shared.received.lock().push(Received {
        path: uri.path().to_owned(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
    });
    shared.arrived.notify_all();
    StatusCode::OK
}
