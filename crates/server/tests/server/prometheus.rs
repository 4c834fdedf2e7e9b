//! tally's `/metrics` read by the real Prometheus tools: Debian's `prometheus` scrapes it
//! (and negotiates OpenMetrics) and must store exactly the aggregated values; `promtool
//! check metrics` must find nothing to say about it.

use std::time::{Duration, Instant};

use tally_server::ServerConfig;
use tally_testkit::{find_program, prometheus_scraping, run_with_input};
use tempfile::TempDir;

use crate::http::Http;
use crate::live::LiveServer;
use crate::samples::{diff, fmt_float, series, Samples};

/// Three instances of a service with one family of each pushable type; `c` is deleted
/// afterwards, so its counters are retired amounts in the aggregated view.
fn push_demo(http: &Http) {
    for (instance, n) in [("a", 1), ("b", 2), ("c", 4)] {
        let body = format!(
            "# HELP demo_jobs_total Jobs processed.\n# TYPE demo_jobs_total counter\n\
             demo_jobs_total{{queue=\"fast\"}} {}\ndemo_jobs_total{{queue=\"slow\"}} {n}\n\
             # HELP demo_queue_depth Jobs waiting.\n# TYPE demo_queue_depth gauge\n\
             demo_queue_depth {n}\n\
             # HELP demo_latency_seconds Job latency.\n# TYPE demo_latency_seconds histogram\n\
             demo_latency_seconds_bucket{{le=\"0.25\"}} {n}\n\
             demo_latency_seconds_bucket{{le=\"1\"}} {}\n\
             demo_latency_seconds_bucket{{le=\"+Inf\"}} {}\n\
             demo_latency_seconds_sum {}\ndemo_latency_seconds_count {}\n\
             # HELP demo_payload_bytes Payload sizes.\n# TYPE demo_payload_bytes summary\n\
             demo_payload_bytes{{quantile=\"0.5\"}} 512\ndemo_payload_bytes_sum {}\n\
             demo_payload_bytes_count {n}\n",
            10 * n,
            2 * n,
            3 * n,
            1.5 * f64::from(n),
            3 * n,
            512 * n,
        );
        let r = http
            .push("PUT", &format!("job/demo/instance/{instance}"), &body)
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(http.delete("job/demo/instance/c").unwrap().status, 202);
}

/// Samples of a Prometheus instant-query answer, without the `instance` label the scrape
/// added; `le` and `quantile` written as [`series`] keys write them.
fn query_samples(answer: &str) -> Samples {
    let json: serde_json::Value =
        serde_json::from_str(answer).unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert_eq!(json["status"], "success", "{answer}");
    let mut out = Samples::new();
    for r in json["data"]["result"].as_array().into_iter().flatten() {
        let metric = r["metric"].as_object().expect("a metric object");
        let name = metric["__name__"].as_str().expect("__name__");
        let labels: Vec<(String, String)> = metric
            .iter()
            .filter(|(n, _)| *n != "__name__" && *n != "instance")
            .map(|(n, v)| {
                let v = v.as_str().unwrap_or_default();
                let v = match (n.as_str(), v.parse::<f64>()) {
                    ("le" | "quantile", Ok(f)) => fmt_float(f),
                    _ => v.to_owned(),
                };
                (n.clone(), v)
            })
            .collect();
        let pairs: Vec<(&str, &str)> = labels
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let value: f64 = r["value"][1]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("a sample value");
        out.insert(series(name, &pairs), value);
    }
    out
}

#[test]
fn prometheus_scrapes_the_aggregated_view() {
    let dir = TempDir::new().unwrap();
    let server = LiveServer::start(ServerConfig::default(), dir.path());
    let http = server.http();
    push_demo(&http);
    let want: Samples = http
        .aggregated()
        .into_iter()
        .filter(|(k, _)| k.contains("job=\"demo\""))
        .collect();
    assert_eq!(
        want[&series("demo_jobs_total", &[("job", "demo"), ("queue", "fast")])],
        70.0,
        "10 + 20 + 40 retired"
    );

    let prometheus = prometheus_scraping(&server.addr.to_string());
    let api = Http::new(prometheus.addr());
    let query = "/api/v1/query?query=%7Bjob%3D%22demo%22%7D";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = api.get(query).map(|r| query_samples(&r.body));
        match got {
            Ok(got) if diff(&want, &got).is_empty() => break,
            other => {
                if Instant::now() > deadline {
                    let shown = match &other {
                        Ok(got) => diff(&want, got),
                        Err(e) => e.clone(),
                    };
                    let targets = api.get("/api/v1/targets").map(|r| r.body);
                    panic!(
                        "Prometheus did not store tally's aggregated view within 30 s \
                         (- missing, + unexpected, ~ value):\n{shown}\ntargets: {targets:?}\n\
                         log:\n{}",
                        prometheus.log()
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[test]
fn promtool_finds_nothing_to_lint() {
    let promtool = find_program("promtool");
    let dir = TempDir::new().unwrap();
    let server = LiveServer::start(ServerConfig::default(), dir.path());
    let http = server.http();
    push_demo(&http);
    // Every route once, so tally's own latency histogram has series.
    http.get_ok("/metrics/groups");
    http.get_ok("/api/v1/groups");
    let body = http.get_ok("/metrics");
    assert!(
        body.contains("tally_http_request_duration_seconds_bucket"),
        "{body}"
    );
    let output = run_with_input(
        &promtool,
        &["check", "metrics"],
        body.as_bytes(),
        Duration::from_secs(30),
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "promtool check metrics exited {} saying:\n{said}\non:\n{body}",
        output.status
    );
}
