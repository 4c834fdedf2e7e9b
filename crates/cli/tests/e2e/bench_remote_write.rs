//! End-to-end tests of `tally bench remote-write`: against Debian's Prometheus as a
//! remote_write receiver (every series and sample must arrive), and against tally's own
//! receiver in-process over a `MemStorage` (the same seed gives the same data whatever
//! the shards and batches).

use std::sync::Arc;

use tally_storage::{MatchOp, Matcher, MemStorage, SelectHints, Storage};
use tally_testkit::{prometheus_receiver, Peer};

use crate::support::run::{tally, Run};

/// The bench's JSON report of a successful run.
fn report(run: &Run) -> serde_json::Value {
    run.assert_code(0);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("JSON report: {e}\n{run}"))
}

/// One PromQL instant query against Prometheus: its `data.result`.
fn query_result(prometheus: &Peer, promql: &str, time_ms: i64) -> serde_json::Value {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut response = agent
        .get(prometheus.url("/api/v1/query"))
        .query("query", promql)
        .query("time", format!("{:.3}", time_ms as f64 / 1000.0))
        .call()
        .expect("querying Prometheus");
    let body = response
        .body_mut()
        .read_to_string()
        .expect("reading the answer");
    let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON answer");
    assert_eq!(json["status"], "success", "{promql}: {body}");
    json["data"]["result"].clone()
}

/// One PromQL instant query against Prometheus, its single result's value.
fn query(prometheus: &Peer, promql: &str, time_ms: i64) -> String {
    let result = query_result(prometheus, promql, time_ms);
    result[0]["value"][1]
        .as_str()
        .unwrap_or_else(|| panic!("{promql}: no single result in {result}"))
        .to_owned()
}

#[test]
fn every_series_and_sample_arrives_in_prometheus() {
    let prometheus = prometheus_receiver();
    let run = tally(
        &[
            "bench",
            "remote-write",
            "--url",
            &prometheus.url("/api/v1/write"),
            "--series",
            "500",
            "--samples",
            "5000",
            "--concurrency",
            "3",
            "--batch",
            "300",
            "--json",
        ],
        None,
    );
    let r = report(&run);
    assert_eq!(r["samples_ok"], 5000, "{run}");
    assert_eq!(r["rounds_complete"], 10, "{run}");
    assert_eq!(r["stopped_by"], "rounds", "{run}");
    assert!(
        r["errors"].as_object().is_some_and(|e| e.is_empty()),
        "{run}\n{}",
        prometheus.log()
    );
    let end_ms = r["end_ms"].as_i64().expect("end_ms");
    // 10 rounds of 15 s: every sample is within the last 5 minutes of the end.
    assert_eq!(query(&prometheus, r#"count({job="bench"})"#, end_ms), "500");
    let matrix = query_result(&prometheus, r#"{job="bench"}[5m]"#, end_ms);
    let samples: usize = matrix
        .as_array()
        .expect("a matrix")
        .iter()
        .map(|series| series["values"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(samples, 5000);
    // Histograms arrive consistent: +Inf equals _count for every endpoint.
    assert_eq!(
        query(
            &prometheus,
            r#"count(http_request_duration_seconds_bucket{le="+Inf"} == ignoring(le) http_request_duration_seconds_count)"#,
            end_ms
        ),
        "20"
    );
}

/// tally's receiver over a `MemStorage`, served on a loopback port while the value lives.
struct Receiver {
    db: MemStorage,
    url: String,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    fn start() -> Self {
        let db = MemStorage::new();
        let registry = tally::Registry::new();
        let rw = tally_server::remote_write::RemoteWrite::new(
            Arc::new(db.clone()),
            Default::default(),
            &registry,
        )
        .expect("registering the receiver's metrics");
        let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("binding 127.0.0.1:0");
        let url = format!(
            "http://{}/api/v1/write",
            listener.local_addr().expect("the bound address")
        );
        runtime.spawn(async move {
            axum::serve(listener, tally_server::remote_write::router(rw)).await
        });
        Self {
            db,
            url,
            _runtime: runtime,
        }
    }

    /// Every series and its samples, values as bits.
    fn dump(&self) -> Vec<(String, Vec<(i64, u64)>)> {
        let q = self.db.querier(i64::MIN, i64::MAX).expect("a querier");
        let all = Matcher::new(MatchOp::Regex, "__name__", ".+").expect("a matcher");
        q.select(&[all], &SelectHints::default())
            .expect("selecting every series")
            .into_iter()
            .map(|s| {
                let samples = s
                    .samples
                    .iter()
                    .map(|x| (x.timestamp_ms, x.value.to_bits()))
                    .collect();
                (s.labels.to_string(), samples)
            })
            .collect()
    }
}

fn bench_into(receiver: &Receiver, concurrency: &str, batch: &str) -> serde_json::Value {
    let run = tally(
        &[
            "bench",
            "remote-write",
            "--url",
            &receiver.url,
            "--series",
            "250",
            "--samples",
            "1000",
            "--start-ms",
            "1767225600000",
            "--seed",
            "42",
            "--concurrency",
            concurrency,
            "--batch",
            batch,
            "--json",
        ],
        None,
    );
    report(&run)
}

#[test]
fn tally_stores_what_the_bench_sends_and_the_seed_fixes_the_data() {
    let one = Receiver::start();
    let r = bench_into(&one, "1", "2000");
    assert_eq!(r["samples_ok"], 1000);
    assert!(r["errors"].as_object().is_some_and(|e| e.is_empty()), "{r}");
    assert_eq!(r["start_ms"], 1_767_225_600_000i64);
    let first = one.dump();
    assert_eq!(first.len(), 250);
    assert!(first.iter().all(|(_, samples)| samples.len() == 4));

    // Other shards and batches, same seed: the same samples.
    let three = Receiver::start();
    bench_into(&three, "3", "77");
    assert!(
        three.dump() == first,
        "the data depend on the shards or batches"
    );
}

#[test]
fn bench_remote_write_refuses_remote_targets() {
    let run = tally(
        &[
            "bench",
            "remote-write",
            "--url",
            "http://192.0.2.1:9090/api/v1/write",
        ],
        None,
    );
    run.assert_code(2);
    assert!(run.stderr.contains("--allow-remote"), "{run}");
}
