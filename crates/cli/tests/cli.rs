//! End-to-end tests of the `tally` binary: `check-metrics` on files, stdin and URLs of
//! real peers (Debian's Prometheus, Pushgateway and Alertmanager, the Python client),
//! with `promtool check metrics` as the oracle for lint findings.
//!
//! The peers are installed by `scripts/test`; a missing one fails the test with a message
//! saying so.

// Test helpers outside `#[test]` functions fail the test by panicking; `expect` is how.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support {
    pub mod run;
    pub mod server;
}

#[path = "e2e/bench_remote_write.rs"]
mod bench_remote_write;
#[path = "e2e/gateway_cmds.rs"]
mod gateway_cmds;
#[path = "e2e/rules_check.rs"]
mod rules_check;
#[path = "e2e/rules_serve.rs"]
mod rules_serve;
#[path = "e2e/rules_templates.rs"]
mod rules_templates;
#[path = "e2e/rules_test.rs"]
mod rules_test;
#[path = "e2e/serve_process.rs"]
mod serve_process;
#[path = "e2e/tsdb_cmds.rs"]
mod tsdb_cmds;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use support::run::{tally, Run};
use tally_testkit::{
    alertmanager, find_program, prometheus, pushgateway, python_client, run_with_input, Peer,
};

const VALID_TEXT: &str = "\
# HELP http_requests_total Requests handled.
# TYPE http_requests_total counter
http_requests_total{method=\"GET\",code=\"200\"} 1027 1395066363000
http_requests_total{method=\"POST\",code=\"400\"} 3
# HELP request_duration_seconds Request latency.
# TYPE request_duration_seconds histogram
request_duration_seconds_bucket{le=\"0.05\"} 24054
request_duration_seconds_bucket{le=\"0.5\"} 129389
request_duration_seconds_bucket{le=\"+Inf\"} 144320
request_duration_seconds_sum 53423
request_duration_seconds_count 144320
# HELP rpc_duration_seconds RPC latency.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile=\"0.5\"} 4773
rpc_duration_seconds{quantile=\"0.99\"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
";

const VALID_OPENMETRICS: &str = "\
# TYPE build info
# HELP build Build information.
build_info{version=\"1.0\"} 1
# TYPE job_runtime_seconds counter
# UNIT job_runtime_seconds seconds
# HELP job_runtime_seconds Time spent in jobs.
job_runtime_seconds_total 4 # {trace_id=\"x\"} 1 1.5
job_runtime_seconds_created 1.7e9
# EOF
";

fn write(dir: &Path, name: &str, content: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("writing a fixture");
    path.to_str().expect("temporary paths are UTF-8").to_owned()
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::TempDir::new().expect("creating a temporary directory")
}

#[test]
fn valid_text_file_exits_0_and_prints_nothing() {
    let dir = temp_dir();
    let file = write(dir.path(), "ok.prom", VALID_TEXT.as_bytes());
    let run = tally(&["check-metrics", &file], None);
    run.assert_code(0);
    assert_eq!(run.stdout, "", "{run}");
    assert_eq!(run.stderr, "", "{run}");
}

#[test]
fn openmetrics_file_is_detected_by_its_eof() {
    let dir = temp_dir();
    let file = write(dir.path(), "ok.om", VALID_OPENMETRICS.as_bytes());
    let run = tally(&["check-metrics", &file], None);
    run.assert_code(0);
    assert_eq!(run.stdout, "", "{run}");
    // Forced to OpenMetrics, text input is not valid (no `# EOF`, no `_total` convention).
    let text = write(dir.path(), "ok.prom", VALID_TEXT.as_bytes());
    let run = tally(&["check-metrics", "--format", "openmetrics", &text], None);
    run.assert_code(1);
}

#[test]
fn malformed_file_exits_1_with_line_and_column() {
    let dir = temp_dir();
    let input = "# HELP a A.\n# TYPE a gauge\na 1\nb{x=\"1\" y=\"2\"} 1\nc 3\n";
    let file = write(dir.path(), "bad.prom", input.as_bytes());
    let run = tally(&["check-metrics", &file], None);
    run.assert_code(1);
    assert_eq!(run.stdout.lines().count(), 1, "{run}");
    assert!(run.stdout.starts_with("4:9: "), "{run}");
}

#[test]
fn format_errors_are_found_past_the_lexer() {
    // Each line lexes on its own; the parser must reject how they fit together, on one
    // of the lines involved.
    for (input, lines) in [
        ("# TYPE a gauge\na 1\na 2\n", &["3"][..]),
        (
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n",
            &["2", "3"],
        ),
        ("# TYPE a gauge\n# TYPE a counter\n", &["2"]),
    ] {
        let run = tally(&["check-metrics"], Some(input.as_bytes()));
        run.assert_code(1);
        let line = run.stdout.split(':').next().unwrap_or_default();
        assert!(
            lines.contains(&line),
            "expected line {lines:?} for {input:?}\n{run}"
        );
        assert_eq!(run.stdout.lines().count(), 1, "{run}");
    }
}

#[test]
fn stdin_is_the_default_and_dash() {
    for args in [&["check-metrics"][..], &["check-metrics", "-"]] {
        let run = tally(args, Some(VALID_TEXT.as_bytes()));
        run.assert_code(0);
        assert_eq!(run.stdout, "", "{run}");
    }
    let run = tally(&["check-metrics", "-"], Some(b"a{ 1\n"));
    run.assert_code(1);
    assert!(run.stdout.starts_with("1:"), "{run}");
    let run = tally(&["check-metrics"], Some(VALID_OPENMETRICS.as_bytes()));
    run.assert_code(0);
}

#[test]
fn counter_without_total_is_a_lint_problem_not_an_error() {
    let input = "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n\
                 # HELP requests Requests.\n# TYPE requests counter\nrequests 5\n";
    let run = tally(&["check-metrics"], Some(input.as_bytes()));
    run.assert_code(0);
    assert_eq!(
        run.stdout, "4:1: requests: counter metrics should have \"_total\" suffix\n",
        "{run}"
    );
}

#[test]
fn unreadable_inputs_exit_2_with_a_clear_message() {
    let dir = temp_dir();
    let missing = dir.path().join("nope.prom");
    let missing = missing.to_str().expect("UTF-8 path");
    let run = tally(&["check-metrics", missing], None);
    run.assert_code(2);
    assert!(run.stderr.contains(missing), "{run}");
    assert!(run.stderr.contains("No such file"), "{run}");
    assert_eq!(run.stdout, "", "{run}");

    // A port nobody listens on: bind one and close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let run = tally(&["check-metrics", &url], None);
    run.assert_code(2);
    assert!(run.stderr.contains(&url), "{run}");

    let run = tally(&["check-metrics", "--format", "xml"], Some(b""));
    run.assert_code(2);
}

#[test]
fn hostile_bytes_never_crash() {
    for input in [
        &b"\xff\xfe\x00"[..],
        b"# TYPE",
        b"{\"\xc3\"} 1\n",
        b"a{x=\"\\",
        b"# EOF",
        b"# EOF\n# EOF\n",
        b"a 1e999999\n",
        b"\n\n\r\n\t",
    ] {
        let run = tally(&["check-metrics"], Some(input));
        assert!(matches!(run.code, Some(0 | 1)), "{run}");
    }
}

/// Lint findings match `promtool check metrics` (Debian's, i.e. promlint of its
/// version): everything promtool reports, tally reports with the same words; what tally
/// reports beyond that comes from rules promtool's promlint lacks.
#[test]
fn lint_agrees_with_promtool() {
    let input = "\
# TYPE fooBar counter
fooBar{someLabel=\"x\"} 1
# HELP x_milliseconds h
# TYPE x_milliseconds gauge
x_milliseconds 1
# HELP disk_kilobytes h
# TYPE disk_kilobytes gauge
disk_kilobytes 1
# HELP y_total h
# TYPE y_total gauge
y_total 1
# HELP z_count h
# TYPE z_count gauge
z_count 1
# HELP w_bucket h
# TYPE w_bucket summary
w_bucket{quantile=\"0.5\"} 1
# HELP a_ms h
# TYPE a_ms gauge
a_ms 1
# HELP job:b:rate5m h
# TYPE job:b:rate5m gauge
job:b:rate5m 1
# HELP q_gauge h
# TYPE q_gauge gauge
q_gauge{le=\"1\"} 1
# HELP t_timestamp_seconds h
# TYPE t_timestamp_seconds counter
t_timestamp_seconds 1
# HELP __r h
# TYPE __r gauge
__r{__x=\"1\"} 1
# HELP fine_bytes_total h
# TYPE fine_bytes_total counter
fine_bytes_total 1
untyped_thing_total 1
";
    let ours = tally(&["check-metrics"], Some(input.as_bytes()));
    ours.assert_code(0);
    let promtool = promtool_problems(input.as_bytes());
    assert!(
        !promtool.is_empty(),
        "promtool found nothing to compare with"
    );
    compare_with_promtool(&ours, &promtool);
    let flagged: BTreeSet<_> = ours.lint_problems().into_iter().map(|(m, _)| m).collect();
    assert!(!flagged.contains("fine_bytes_total"), "{ours}");
    assert!(flagged.contains("__r"), "{ours}");
    assert!(flagged.contains("disk_kilobytes"), "{ours}");
}

/// Rules tally has that the promtool installed here may not (newer promlint, or tally's own).
const TALLY_ONLY_RULES: [&str; 3] = [
    "non-gauge metrics should not have \"_timestamp_seconds\" suffix",
    "metric names starting with \"__\"",
    "label names starting with \"__\"",
];

fn compare_with_promtool(ours: &Run, promtool: &BTreeSet<(String, String)>) {
    let ours_problems = ours.lint_problems();
    for (metric, text) in promtool {
        assert!(
            ours_problems
                .iter()
                .any(|(m, t)| m == metric && t.starts_with(text.as_str())),
            "promtool reports `{metric} {text}`, tally does not\n{ours}"
        );
    }
    for (metric, text) in &ours_problems {
        let known = promtool
            .iter()
            .any(|(m, t)| m == metric && text.starts_with(t.as_str()));
        let tally_only = TALLY_ONLY_RULES.iter().any(|r| text.starts_with(r));
        assert!(
            known || tally_only,
            "tally reports `{metric}: {text}`, promtool does not\n{ours}\npromtool: {promtool:?}"
        );
    }
}

/// `promtool check metrics` on `input`: its lint problems as (metric, text). Fails the
/// test if promtool finds a format error.
fn promtool_problems(input: &[u8]) -> BTreeSet<(String, String)> {
    let output = run_with_input(
        &find_program("promtool"),
        &["check", "metrics"],
        input,
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    // 0: clean, 3: lint problems only; anything else is a format error or a crash.
    assert!(
        matches!(output.status.code(), Some(0 | 3)),
        "promtool rejected the input ({:?}):\n{stderr}",
        output.status
    );
    stderr
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(m, t)| (m.to_owned(), t.to_owned()))
        .collect()
}

/// Fetches `url` with `accept`, returning the Content-Type and the body.
fn fetch(url: &str, accept: &str) -> (String, Vec<u8>) {
    let mut response = ureq::get(url)
        .header("Accept", accept)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.body_mut().read_to_vec().expect("reading a body");
    (content_type, body)
}

const ACCEPT_OPENMETRICS: &str = "application/openmetrics-text;version=1.0.0";

/// Checks a peer's `/metrics` both ways: as text (the default), compared with promtool,
/// and asking for OpenMetrics. Returns whether the peer answered OpenMetrics when asked.
fn check_peer(peer: &Peer) -> bool {
    let url = peer.url("/metrics");

    let run = tally(&["check-metrics", &url], None);
    run.assert_code(0);
    assert_eq!(run.stderr, "", "{run}");
    let (content_type, body) = fetch(&url, "text/plain;version=0.0.4");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    // The body changes between fetches (request counters), so compare on this copy.
    let dir = temp_dir();
    let file = write(dir.path(), "metrics.prom", &body);
    let run = tally(&["check-metrics", "--format", "text", &file], None);
    run.assert_code(0);
    compare_with_promtool(&run, &promtool_problems(&body));

    let run = tally(&["check-metrics", "--format", "openmetrics", &url], None);
    run.assert_code(0);
    let (content_type, body) = fetch(&url, ACCEPT_OPENMETRICS);
    let openmetrics = content_type.starts_with("application/openmetrics-text");
    // tally says so when the server ignores the request for OpenMetrics.
    assert_eq!(
        run.stderr.contains("asked for OpenMetrics"),
        !openmetrics,
        "{run}"
    );
    let file = write(dir.path(), "metrics.body", &body);
    let run = tally(&["check-metrics", &file], None);
    run.assert_code(0);
    if openmetrics {
        let run = tally(&["check-metrics", "--format", "openmetrics", &file], None);
        run.assert_code(0);
    }
    drop(dir);
    openmetrics
}

#[test]
fn prometheus_metrics_pass() {
    let peer = prometheus();
    check_peer(&peer);
}

#[test]
fn pushgateway_metrics_pass_with_pushed_groups() {
    let peer = pushgateway();
    let body = "# TYPE batch_records_total counter\n\
                # HELP batch_records_total Records processed.\n\
                batch_records_total{stage=\"load\"} 42\n\
                # TYPE batch_duration_seconds histogram\n\
                # HELP batch_duration_seconds Batch latency.\n\
                batch_duration_seconds_bucket{le=\"1\"} 1\n\
                batch_duration_seconds_bucket{le=\"+Inf\"} 2\n\
                batch_duration_seconds_sum 3.5\n\
                batch_duration_seconds_count 2\n";
    for group in ["/metrics/job/nightly", "/metrics/job/nightly/instance/a@b"] {
        let url = peer.url(group);
        let response = ureq::put(&url)
            .header("Content-Type", "text/plain; version=0.0.4")
            .send(body)
            .unwrap_or_else(|e| panic!("PUT {url}: {e}\n{}", peer.log()));
        assert!(
            response.status().is_success(),
            "PUT {url}: {}",
            response.status()
        );
    }
    check_peer(&peer);
}

#[test]
fn alertmanager_metrics_pass() {
    let peer = alertmanager();
    check_peer(&peer);
}

#[test]
fn python_client_metrics_pass_in_both_formats() {
    let peer = python_client();
    assert!(
        check_peer(&peer),
        "prometheus_client should answer OpenMetrics when asked"
    );
    let run = tally(
        &[
            "check-metrics",
            "--format",
            "openmetrics",
            &peer.url("/metrics"),
        ],
        None,
    );
    run.assert_code(0);
    assert_eq!(run.stderr, "", "{run}");
}
