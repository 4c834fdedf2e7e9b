//! Whatever a client sends, the server answers: requests to every route, their paths,
//! parameters and bodies mutated at random (proptest, `TALLY_FUZZ_CASES` cases), go
//! through the router one after another on one server. No request may panic a handler
//! or get a 5xx (nothing here fails the disk), and the server still serves afterwards.

use axum::body::Body;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::harness::Harness;

/// Requests as clients send them: method, URI and body.
const TEMPLATES: &[(&str, &str, &str)] = &[
    ("PUT", "/metrics/job/batch/instance/a", "# TYPE jobs_total counter\njobs_total{queue=\"q\"} 3\n"),
    ("POST", "/metrics/job/batch", "# TYPE temp gauge\ntemp 1.5\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"),
    ("PUT", "/metrics/job@base64/YmF0Y2g=/instance/b", "up 1\n"),
    ("DELETE", "/metrics/job/batch/instance/a", ""),
    ("GET", "/metrics", ""),
    ("GET", "/api/v1/query?query=sum%20by%20(queue)%20(rate(jobs_total%5B5m%5D))&time=1767225600", ""),
    ("POST", "/api/v1/query_range?query=jobs_total&start=1767225000&end=1767225600&step=15", ""),
    ("GET", "/api/v1/series?match[]=jobs_total%7Bqueue%3D~%22q.*%22%7D", ""),
    ("GET", "/api/v1/labels?match[]=up", ""),
    ("GET", "/api/v1/label/queue/values", ""),
    ("GET", "/api/v1/metadata?metric=jobs_total&limit=1", ""),
    ("GET", "/api/v1/groups", ""),
    ("GET", "/api/v1/rules?type=alert", ""),
    ("GET", "/api/v1/alerts", ""),
    ("POST", "/api/v2/alerts", "[{\"labels\":{\"alertname\":\"Down\"},\"startsAt\":\"2026-01-01T00:00:00Z\"}]"),
    ("POST", "/api/v2/silences", "{\"matchers\":[{\"name\":\"job\",\"value\":\"api\",\"isRegex\":false}],\"startsAt\":\"2026-01-01T00:00:00Z\",\"endsAt\":\"2026-01-02T00:00:00Z\",\"createdBy\":\"a\",\"comment\":\"c\"}"),
    ("GET", "/api/v2/silence/00000000-0000-0000-0000-000000000000", ""),
    ("POST", "/api/v1/write", "\u{0}\u{1}\u{2}"),
    ("GET", "/-/ready", ""),
    ("POST", "/-/reload", ""),
];

/// What mutations insert: pieces of URIs, exposition text and JSON.
const PIECES: &[&str] = &[
    "",
    "/",
    "//",
    "%2F",
    "%00",
    "%ZZ",
    "%",
    "@base64",
    "=",
    "&",
    "?",
    "[",
    "]",
    "{",
    "}",
    "\"",
    "\\",
    "\n",
    " ",
    "#",
    "# TYPE x counter\n",
    "NaN",
    "+Inf",
    "-1",
    "1e309",
    "99999999999999999999",
    "le=\"",
    "0x",
    "\u{e9}",
    "\u{fffd}",
    ",",
    ":",
    "null",
    "[]",
    "{}",
    "true",
    "time=-1e300",
    "step=0",
    "step=1e-9",
    "start=1e300",
    "match[]=",
    "query=",
    "(",
    ")",
    "by",
    "without",
    "offset",
    "@",
    "job",
    "instance",
    "__name__",
];

fn cases() -> u32 {
    std::env::var("TALLY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// At fraction `at` of `s`, remove `del` bytes and insert `ins`.
fn edit(s: &[u8], at: f64, del: usize, ins: &str) -> Vec<u8> {
    let start = ((s.len() as f64) * at) as usize;
    let end = (start + del).min(s.len());
    let mut out = s[..start].to_vec();
    out.extend_from_slice(ins.as_bytes());
    out.extend_from_slice(&s[end..]);
    out
}

/// `uri` with every byte but letters, digits and `/?&=%-._~` percent-encoded.
fn escaped(uri: &str) -> String {
    let mut out = String::new();
    for b in uri.bytes() {
        if b.is_ascii_alphanumeric() || b"/?&=%-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn edits() -> impl Strategy<Value = Vec<(f64, usize, &'static str)>> {
    prop::collection::vec(
        (0.0f64..=1.0, 0usize..3, prop::sample::select(PIECES)),
        0..3,
    )
}

#[test]
fn mutated_requests_get_answers_not_panics() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let h = Harness::with_defaults();
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        max_global_rejects: cases().max(1024),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        prop::sample::select(TEMPLATES),
        // URI edits stay after the leading slash.
        edits(),
        edits(),
    );
    runner
        .run(&strategy, |((method, uri, body), uri_edits, body_edits)| {
            let mut u = uri.as_bytes()[1..].to_vec();
            for (at, del, ins) in uri_edits {
                u = edit(&u, at, del, ins);
            }
            let mut uri = format!("/{}", String::from_utf8_lossy(&u));
            if axum::http::Uri::try_from(uri.as_str()).is_err() {
                // As a client library would send it: escaped.
                uri = escaped(&uri);
            }
            // What is still not a URI never reaches the router (the HTTP layer refuses it).
            prop_assume!(axum::http::Uri::try_from(uri.as_str()).is_ok());
            let mut b = body.as_bytes().to_vec();
            for (at, del, ins) in body_edits {
                b = edit(&b, at, del, ins);
            }
            let answer = runtime.block_on(h.request(method, &uri, &[], Body::from(b.clone())));
            prop_assert!(
                answer.status < 500,
                "{method} {uri} with {:?}: {} {}",
                String::from_utf8_lossy(&b),
                answer.status,
                answer.text()
            );
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    // Still serving.
    runtime.block_on(h.get("/-/ready")).expect(200);
    runtime.block_on(h.get("/metrics")).expect(200);
}
