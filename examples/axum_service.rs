//! An axum service measured by `tally::http::MetricsLayer`, serving its own `/metrics`.
//!
//! ```text
//! cargo run --example axum_service
//! curl localhost:3000/users/42; curl localhost:3000/users/0; curl localhost:3000/slow
//! curl -X POST localhost:3000/orders
//! curl localhost:3000/metrics
//! ```
//!
//! `http_requests_total` and `http_request_duration_seconds` carry the route *template*
//! (`route="/users/{id}"`), never the path, and requests no route matches are
//! `route="unmatched"`. The address is `TALLY_EXAMPLE_ADDR` (default `127.0.0.1:3000`);
//! it runs until Ctrl-C, or for `TALLY_EXAMPLE_SECONDS` seconds when that is set, and
//! prints the request metrics when it stops.

// An example's output is the point of it.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tally::http::MetricsLayer;
use tally::Registry;

const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// The service. `.layer` comes after every `.route`: axum applies a layer to the routes
/// added before it (and to the fallback), after routing, which is what lets the layer
/// read the matched route template.
fn app(registry: &Registry) -> Result<Router, tally::RegistryError> {
    let metrics = MetricsLayer::builder().registry(registry).build()?;
    Ok(Router::new()
        .route("/users/{id}", get(user))
        .route("/orders", post(create_order))
        .route("/slow", get(slow))
        .route("/metrics", get(scrape))
        .layer(metrics)
        .with_state(registry.clone()))
}

async fn user(Path(id): Path<u64>) -> Result<String, (StatusCode, &'static str)> {
    match id {
        0 => Err((StatusCode::NOT_FOUND, "no such user\n")),
        id => Ok(format!("user {id}\n")),
    }
}

async fn create_order() -> (StatusCode, &'static str) {
    (StatusCode::CREATED, "created\n")
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(300)).await;
    "done\n"
}

/// `GET /metrics`: the registry in the format the scraper's `Accept` header asks for.
async fn scrape(State(registry): State<Registry>, headers: HeaderMap) -> impl IntoResponse {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    let scrape = tally::pull::scrape(&registry, accept);
    ([(header::CONTENT_TYPE, scrape.content_type)], scrape.body)
}

/// Resolves on Ctrl-C, or after `limit`.
async fn stop(limit: Option<Duration>) {
    let ctrl_c = async {
        // If the handler cannot be installed, only the time limit (if any) stops us.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    match limit {
        Some(limit) => tokio::select! {
            () = tokio::time::sleep(limit) => {}
            () = ctrl_c => {}
        },
        None => ctrl_c.await,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let limit = tally_examples::run_limit()?;
    let registry = tally::default_registry();
    registry.register_collector(tally::ProcessCollector::new());
    let app = app(registry)?;

    let addr = std::env::var("TALLY_EXAMPLE_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;
    println!("listening on http://{local}: try /users/42, /users/0, /slow, /metrics");
    if let Some(limit) = limit {
        println!("stopping after {limit:?} ({})", tally_examples::SECONDS_VAR);
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(stop(limit))
        .await?;

    // The counters only; /metrics has the duration histograms too.
    println!("\nrequests served:");
    let text = registry.encode_text();
    for line in text
        .lines()
        .filter(|l| l.starts_with("http_requests_total"))
    {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn request(addr: std::net::SocketAddr, method: &str, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test]
    async fn serves_measured_routes_and_metrics() {
        let registry = Registry::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let app = app(&registry).unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await
        });

        assert!(request(addr, "GET", "/users/42")
            .await
            .starts_with("HTTP/1.1 200"));
        assert!(request(addr, "GET", "/users/0")
            .await
            .starts_with("HTTP/1.1 404"));
        assert!(request(addr, "POST", "/orders")
            .await
            .starts_with("HTTP/1.1 201"));
        assert!(request(addr, "GET", "/nope")
            .await
            .starts_with("HTTP/1.1 404"));
        let answer = request(addr, "GET", "/metrics").await;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains("content-type: text/plain; version=0.0.4"),
            "{head}"
        );
        tally::testing::assert_exposition_with(
            body,
            r#"
            # TYPE http_requests_total counter
            http_requests_total{method="GET",route="/users/{id}",status="200"} 1
            http_requests_total{method="GET",route="/users/{id}",status="404"} 1
            http_requests_total{method="POST",route="/orders",status="201"} 1
            http_requests_total{method="GET",route="unmatched",status="404"} 1
            "#,
            tally::testing::ExpectMode::Subset,
        );

        stop_tx.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}
