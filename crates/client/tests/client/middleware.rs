//! The ready-made HTTP pieces end to end: `tally::http::MetricsLayer` in a real axum
//! `Router` (in-process, `oneshot`), the `tally::pull` endpoint over a loopback socket,
//! and the `tally::testing` helpers that these tests use to compare expositions.

// Helpers outside `#[test]` functions unwrap too: a failure there is a failed test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use tally::http::MetricsLayer;
use tally::testing::{assert_exposition_with, diff_exposition, ExpectMode};
use tally::Registry;
use tower::{Layer, ServiceExt};

fn routes() -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "a user" }))
        .route("/orders", post(|| async { StatusCode::CREATED }))
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "no") }),
        )
}

fn layer(registry: &Registry) -> MetricsLayer {
    MetricsLayer::builder().registry(registry).build().unwrap()
}

async fn send(app: &Router, method: &str, uri: &str) -> StatusCode {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

/// `http_request_duration_seconds_count` of one series, or `None` when it does not exist.
fn duration_count(registry: &Registry, method: &str, route: &str) -> Option<f64> {
    let family = registry
        .gather()
        .into_iter()
        .find(|f| f.name == "http_request_duration_seconds")?;
    family.metrics.into_iter().find_map(|m| {
        let matches =
            m.labels.get("method") == Some(method) && m.labels.get("route") == Some(route);
        match m.value {
            tally_model::MetricValue::Histogram(h) if matches => h.count,
            _ => None,
        }
    })
}

#[tokio::test]
async fn router_layer_records_route_templates_statuses_and_the_fallback() {
    let registry = Registry::new();
    let app = routes().layer(layer(&registry));
    assert_eq!(send(&app, "GET", "/users/42").await, StatusCode::OK);
    assert_eq!(send(&app, "GET", "/users/43").await, StatusCode::OK);
    assert_eq!(send(&app, "POST", "/orders").await, StatusCode::CREATED);
    assert_eq!(
        send(&app, "GET", "/fail").await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        send(&app, "GET", "/no/such/path").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&app, "GET", "/wp-admin.php").await,
        StatusCode::NOT_FOUND
    );
    // A method the route does not allow: axum answers 405 from the matched route.
    assert_eq!(
        send(&app, "DELETE", "/orders").await,
        StatusCode::METHOD_NOT_ALLOWED
    );

    assert_exposition_with(
        &registry,
        r#"
        # TYPE http_requests_total counter
        http_requests_total{method="GET",route="/users/{id}",status="200"} 2
        http_requests_total{method="POST",route="/orders",status="201"} 1
        http_requests_total{method="GET",route="/fail",status="500"} 1
        http_requests_total{method="GET",route="unmatched",status="404"} 2
        http_requests_total{method="DELETE",route="/orders",status="405"} 1
        "#,
        ExpectMode::Subset,
    );
    assert_eq!(duration_count(&registry, "GET", "/users/{id}"), Some(2.0));
    assert_eq!(duration_count(&registry, "GET", "unmatched"), Some(2.0));
    let text = registry.encode_text();
    for raw in ["/users/42", "/users/43", "/no/such/path", "wp-admin"] {
        assert!(!text.contains(raw), "raw path {raw} leaked into\n{text}");
    }
}

#[tokio::test]
async fn route_layer_skips_unmatched_requests() {
    let registry = Registry::new();
    let app = routes().route_layer(layer(&registry));
    assert_eq!(send(&app, "GET", "/users/7").await, StatusCode::OK);
    assert_eq!(send(&app, "GET", "/nowhere").await, StatusCode::NOT_FOUND);
    assert_exposition_with(
        &registry,
        r#"
        # TYPE http_requests_total counter
        http_requests_total{method="GET",route="/users/{id}",status="200"} 1
        "#,
        ExpectMode::Subset,
    );
}

#[tokio::test]
async fn nested_routers_report_the_full_template() {
    let registry = Registry::new();
    let app = Router::new()
        .nest("/api/v1", routes())
        .layer(layer(&registry));
    assert_eq!(send(&app, "GET", "/api/v1/users/9").await, StatusCode::OK);
    assert_exposition_with(
        &registry,
        r#"
        # TYPE http_requests_total counter
        http_requests_total{method="GET",route="/api/v1/users/{id}",status="200"} 1
        "#,
        ExpectMode::Subset,
    );
}

/// Wrapping the router from outside runs before routing: no template is known yet, so
/// every request is `unmatched` (the module documentation warns about this).
#[tokio::test]
async fn wrapping_the_router_from_outside_sees_no_template() {
    let registry = Registry::new();
    let app = layer(&registry).layer(routes());
    let request = Request::builder()
        .uri("/users/1")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_exposition_with(
        &registry,
        r#"
        # TYPE http_requests_total counter
        http_requests_total{method="GET",route="unmatched",status="200"} 1
        "#,
        ExpectMode::Subset,
    );
}

#[test]
fn a_mismatch_produces_a_readable_diff() {
    let registry = Registry::new();
    registry.counter("jobs", "Jobs.").unwrap().inc_by(2);
    let expected = "# TYPE jobs_total counter\njobs_total 3\n";
    let diff = diff_exposition(&registry.encode_text(), expected, ExpectMode::Subset).unwrap();
    assert!(diff.contains("-jobs_total 3\n+jobs_total 2\n"), "{diff}");
    let panic = std::panic::catch_unwind(|| {
        tally::assert_exposition!("# TYPE g gauge\ng 1\n", "# TYPE g gauge\ng 2\n");
    })
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("-g 2\n+g 1\n"), "{message}");
}

/// Sends raw bytes, returns the whole answer (the server closes every connection).
fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    String::from_utf8(answer).unwrap()
}

fn split(answer: &str) -> (&str, &str) {
    answer.split_once("\r\n\r\n").unwrap()
}

#[test]
fn pull_endpoint_over_loopback() {
    let registry = Registry::new();
    registry.counter("jobs", "Jobs run.").unwrap().inc_by(3);
    let server = tally::pull::serve("127.0.0.1:0", &registry).unwrap();
    let addr = server.local_addr();

    let answer = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = split(&answer);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    assert_exposition_with(
        body,
        "# HELP jobs_total Jobs run.\n# TYPE jobs_total counter\njobs_total 3\n",
        ExpectMode::Exact,
    );

    let answer = exchange(
        addr,
        b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n",
    );
    let (head, body) = split(&answer);
    assert!(
        head.contains("Content-Type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert_exposition_with(
        body,
        "# TYPE jobs_total counter\njobs_total 3\n",
        ExpectMode::Exact,
    );

    // The registry is shared, not copied: a later scrape sees later values.
    registry.counter("jobs", "Jobs run.").unwrap().inc();
    let answer = exchange(addr, b"GET /metrics HTTP/1.0\r\n\r\n");
    assert!(split(&answer).1.contains("jobs_total 4\n"), "{answer}");

    let answer = exchange(addr, b"GET /other HTTP/1.1\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
    let answer = exchange(addr, b"DELETE /metrics HTTP/1.1\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 405 "), "{answer}");
    assert!(answer.contains("Allow: GET, HEAD\r\n"), "{answer}");

    // Garbage, binary, oversized and abandoned requests get an error or a closed
    // connection, and the server keeps answering.
    let answer = exchange(addr, b"\x00\xff garbage\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    let oversized = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
    let answer = exchange(addr, oversized.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    drop(TcpStream::connect(addr).unwrap());
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /metr").unwrap();
    drop(half);
    let answer = exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");

    server.shutdown();
    assert!(
        TcpStream::connect(addr).is_err(),
        "still listening after shutdown"
    );
}
