//! End-to-end tests of `tally push`, `tally functions`, `tally rules generate` and
//! `tally bench push` against a real `tally serve` started on a loopback port.

use std::net::TcpListener;
use std::path::Path;

use tempfile::TempDir;

use crate::support::run::{tally, Run};
use crate::support::server::Server;

fn write(dir: &Path, name: &str, content: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("writing a fixture");
    path.to_str().expect("temporary paths are UTF-8").to_owned()
}

const JOBS: &str =
    "# HELP jobs_done_total Jobs done.\n# TYPE jobs_done_total counter\njobs_done_total 3\n";

#[test]
fn push_encodes_the_grouping_key_and_delete_removes_it() {
    let server = Server::start();
    let url = server.url("");
    let pushed = tally(
        &[
            "push",
            "--url",
            &url,
            "--job",
            "nightly/import",
            "--label",
            "path=a/b",
            "--label",
            "zone=eu west",
            "--label",
            "instance=",
            "-",
        ],
        Some(JOBS.as_bytes()),
    );
    pushed.assert_code(0);
    // The empty instance is an absent label, as in Pushgateway.
    assert_eq!(
        server.groups(),
        [["job=nightly/import", "path=a/b", "zone=eu west"]],
        "{pushed}"
    );
    assert!(server
        .get("/metrics")
        .contains("jobs_done_total{job=\"nightly/import\",path=\"a/b\",zone=\"eu west\"} 3"));

    let deleted = tally(
        &[
            "push",
            "--url",
            &url,
            "--job",
            "nightly/import",
            "--label",
            "path=a/b",
            "--label",
            "zone=eu west",
            "--delete",
        ],
        None,
    );
    deleted.assert_code(0);
    assert!(server.groups().is_empty(), "{deleted}");
}

#[test]
fn push_from_a_file_with_post_and_ttl() {
    let server = Server::start();
    let dir = TempDir::new().expect("temporary directory");
    let file = write(dir.path(), "jobs.prom", JOBS);
    let url = server.url("/");
    tally(
        &[
            "push", "--url", &url, "--job", "batch", "--method", "post", "--ttl", "90s", &file,
        ],
        None,
    )
    .assert_code(0);
    let json: serde_json::Value =
        serde_json::from_str(&server.get("/api/v1/groups")).expect("groups JSON");
    let ttl = json["data"][0]["ttl_left_seconds"].as_f64().expect("a TTL");
    assert!((80.0..=90.0).contains(&ttl), "TTL left {ttl}");
}

#[test]
fn an_invalid_body_is_reported_by_position_and_not_sent() {
    let server = Server::start();
    let run = tally(
        &["push", "--url", &server.url(""), "--job", "j"],
        Some(b"ok_metric 1\nbad{x=\"1\" y=\"2\"} 1\n"),
    );
    run.assert_code(1);
    assert!(run.stderr.starts_with("2:11: "), "{run}");
    assert!(run.stderr.contains("nothing pushed"), "{run}");
    assert!(server.groups().is_empty());
}

#[test]
fn a_refused_push_prints_the_gateway_message() {
    let server = Server::start();
    // Valid text, but pushes must not carry timestamps: the gateway answers 400.
    let run = tally(
        &["push", "--url", &server.url(""), "--job", "j"],
        Some(b"# TYPE a counter\na 1 1700000000000\n"),
    );
    run.assert_code(1);
    assert!(run.stderr.contains("400 Bad Request"), "{run}");
    assert!(run.stderr.contains("timestamps"), "{run}");
}

#[test]
fn push_to_nothing_exits_2() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port();
    let run = tally(
        &[
            "push",
            "--url",
            &format!("http://127.0.0.1:{port}"),
            "--job",
            "j",
        ],
        Some(JOBS.as_bytes()),
    );
    run.assert_code(2);
    assert!(run.stderr.contains("sending to"), "{run}");
}

const FUNCTIONS: &str = "\
# TYPE function_calls_total counter
function_calls_total{function=\"load\",module=\"app\",result=\"ok\"} 95
function_calls_total{function=\"load\",module=\"app\",result=\"error\"} 5
function_calls_total{function=\"save\",module=\"app\",result=\"ok\"} 10
function_calls_total{function=\"save\",module=\"app\",result=\"error\"} 0
# TYPE function_calls_duration_seconds histogram
function_calls_duration_seconds_bucket{function=\"load\",module=\"app\",le=\"0.01\"} 50
function_calls_duration_seconds_bucket{function=\"load\",module=\"app\",le=\"0.1\"} 100
function_calls_duration_seconds_bucket{function=\"load\",module=\"app\",le=\"+Inf\"} 100
function_calls_duration_seconds_sum{function=\"load\",module=\"app\"} 2
function_calls_duration_seconds_count{function=\"load\",module=\"app\"} 100
function_calls_duration_seconds_bucket{function=\"save\",module=\"app\",le=\"0.01\"} 10
function_calls_duration_seconds_bucket{function=\"save\",module=\"app\",le=\"0.1\"} 10
function_calls_duration_seconds_bucket{function=\"save\",module=\"app\",le=\"+Inf\"} 10
function_calls_duration_seconds_sum{function=\"save\",module=\"app\"} 0.01
function_calls_duration_seconds_count{function=\"save\",module=\"app\"} 10
";

fn push_functions(server: &Server, instance: &str) -> Run {
    let run = tally(
        &[
            "push",
            "--url",
            &server.url(""),
            "--job",
            "api",
            "--label",
            &format!("instance={instance}"),
        ],
        Some(FUNCTIONS.as_bytes()),
    );
    run.assert_code(0);
    run
}

#[test]
fn functions_table_sums_instances_of_the_aggregated_view() {
    let server = Server::start();
    push_functions(&server, "a");
    push_functions(&server, "b");
    let run = tally(&["functions", "--url", &server.url("")], None);
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "FUNCTION  MODULE  CALLS  ERRORS  ERR%    MEAN     P95",
            // Rank 190 of 200 is in (0.01, 0.1] (100 there, 100 below): 0.01 + 0.09 * 0.9.
            "load      app       200      10  5.00  20.0ms  91.0ms",
            "save      app        20       0  0.00   1.0ms   9.5ms",
        ],
        "{run}"
    );

    let run = tally(&["functions", "--url", &server.url(""), "--json"], None);
    run.assert_code(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON output");
    assert_eq!(json["functions"][0]["function"], "load");
    assert_eq!(json["functions"][0]["calls"], 200.0);
    assert_eq!(json["functions"][0]["error_ratio"], 0.05);
}

#[test]
fn rules_generate_writes_a_file_promtool_accepts() {
    let server = Server::start();
    push_functions(&server, "a");
    let run = tally(
        &[
            "rules",
            "generate",
            "--url",
            &server.url(""),
            "--error-ratio",
            "0.1",
            "--p95-seconds",
            "0.25",
        ],
        None,
    );
    run.assert_code(0);
    // Two functions, both with calls and durations: two alerts each.
    assert_eq!(
        run.stdout.matches("alert: FunctionErrorRatioHigh").count(),
        2,
        "{run}"
    );
    assert_eq!(
        run.stdout.matches("alert: FunctionLatencyHigh").count(),
        2,
        "{run}"
    );
    assert!(
        run.stdout
            .contains(r#"{function="load",module="app"} > 0.1'"#),
        "{run}"
    );
    assert!(
        run.stdout
            .contains(r#"{function="save",module="app"} > 0.25'"#),
        "{run}"
    );

    let dir = TempDir::new().expect("temporary directory");
    let file = write(dir.path(), "functions.rules.yml", &run.stdout);
    let promtool = std::process::Command::new(tally_testkit::find_program("promtool"))
        .args(["check", "rules", &file])
        .output()
        .expect("running promtool");
    assert!(
        promtool.status.success(),
        "promtool check rules refused the generated file:\n{}{}\n{}",
        String::from_utf8_lossy(&promtool.stdout),
        String::from_utf8_lossy(&promtool.stderr),
        run.stdout
    );
    assert!(
        String::from_utf8_lossy(&promtool.stdout).contains("SUCCESS: 7 rules found"),
        "{}",
        String::from_utf8_lossy(&promtool.stdout)
    );
    // tally's own checker agrees, and the rules run: the server loads the file.
    let check = tally(&["rules", "check", &file], None);
    check.assert_code(0);
    assert!(check.stdout.contains("SUCCESS: 7 rules found"), "{check}");
    let with_rules = Server::start_with(&["--rules", &file]);
    let rules: serde_json::Value =
        serde_json::from_str(&with_rules.get("/api/v1/rules")).expect("rules JSON");
    assert_eq!(
        rules["data"]["groups"][0]["rules"].as_array().map(Vec::len),
        Some(7),
        "{rules}"
    );
}

#[test]
fn rules_generate_without_function_metrics_is_an_error() {
    let server = Server::start();
    let run = tally(&["rules", "generate", "--url", &server.url("")], None);
    run.assert_code(2);
    assert!(run.stderr.contains("no functions"), "{run}");
    let run = tally(&["rules", "generate", "--error-ratio", "2"], None);
    run.assert_code(2);
    assert!(run.stderr.contains("--error-ratio 2"), "{run}");
}

#[test]
fn functions_watch_reports_rates_between_reads() {
    let server = Server::start();
    push_functions(&server, "a");
    let run = tally(
        &[
            "functions",
            "--url",
            &server.url(""),
            "--json",
            "--watch",
            "0.2",
            "--iterations",
            "2",
        ],
        None,
    );
    run.assert_code(0);
    let reads: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(reads.len(), 2, "{run}");
    assert!(reads[0]["interval_seconds"].is_null());
    assert!(reads[1]["interval_seconds"]
        .as_f64()
        .is_some_and(|s| s > 0.1));
    // Nothing was pushed in between: no calls per second.
    assert_eq!(reads[1]["functions"][0]["calls_per_second"], 0.0);
}

#[test]
fn bench_push_makes_exactly_the_pushes_asked_for() {
    let server = Server::start();
    let run = tally(
        &[
            "bench",
            "push",
            "--url",
            &server.url(""),
            "--groups",
            "5",
            "--concurrency",
            "2",
            "--pushes",
            "40",
            "--warmup",
            "0",
            "--json",
        ],
        None,
    );
    run.assert_code(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON report");
    assert_eq!(report["pushes_ok"], 40, "{run}");
    assert_eq!(report["samples_per_push"], 36);
    assert!(
        report["errors"].as_object().is_some_and(|e| e.is_empty()),
        "{run}"
    );
    assert_eq!(server.groups().len(), 5);
    // Counters grew push after push (41 pushes of 5 groups, the pre-flight one included).
    assert!(server.get("/metrics").contains("app_http_requests_total"));
}

#[test]
fn bench_push_refuses_remote_targets() {
    let run = tally(&["bench", "push", "--url", "http://192.0.2.1:9091"], None);
    run.assert_code(2);
    assert!(run.stderr.contains("--allow-remote"), "{run}");
}

#[test]
fn query_prints_instant_and_range_results_and_api_errors() {
    let server = Server::start();
    let url = server.url("");
    let run = tally(&["query", "--url", &url, "vector(3) * 2"], None);
    run.assert_code(0);
    assert_eq!(run.stdout, "{} 6\n", "{run}");
    let run = tally(
        &[
            "query", "--url", &url, "--range", "--start", "100", "--end", "160", "--step", "30s",
            "time()",
        ],
        None,
    );
    run.assert_code(0);
    assert_eq!(run.stdout, "{}\n  100 100\n  130 130\n  160 160\n", "{run}");
    let run = tally(&["query", "--url", &url, "--json", "1 + 1"], None);
    run.assert_code(0);
    assert!(run.stdout.contains("\"resultType\": \"scalar\""), "{run}");
    let run = tally(&["query", "--url", &url, "sum("], None);
    run.assert_code(2);
    assert!(run.stderr.contains("bad_data"), "{run}");
}
