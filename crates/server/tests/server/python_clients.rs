//! 20 processes of the official Python client (`clients.py`) push, retry, restart and
//! delete at once; the aggregated view must hold exactly the sum of what each says it
//! contributed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tally_server::ServerConfig;
use tally_testkit::{python_with_modules, ChildGuard};
use tempfile::TempDir;

use crate::live::LiveServer;
use crate::samples::{assert_samples_eq, fmt_float, series, with_prefix, Samples};

const PROCESSES: usize = 20;
const BUCKETS: [f64; 4] = [0.1, 0.5, 1.0, f64::INFINITY];

/// Zero for every series the clients push: a live group that keeps the aggregated series
/// in the view after every client has deleted its own (decision 0003: series no live
/// group feeds leave the view), adding nothing.
const KEEPER: &str = "\
# TYPE pyapp_work_total counter
pyapp_work_total{kind=\"a\"} 0
pyapp_work_total{kind=\"b\"} 0
# TYPE pyapp_batches_total counter
pyapp_batches_total 0
# TYPE pyapp_latency_seconds histogram
pyapp_latency_seconds_bucket{le=\"0.1\"} 0
pyapp_latency_seconds_bucket{le=\"0.5\"} 0
pyapp_latency_seconds_bucket{le=\"1.0\"} 0
pyapp_latency_seconds_bucket{le=\"+Inf\"} 0
pyapp_latency_seconds_sum 0
pyapp_latency_seconds_count 0
";

/// What one client process says it contributed.
#[derive(Debug, Default, serde::Deserialize)]
struct Totals {
    work_a: f64,
    work_b: f64,
    batches: f64,
    observations: Vec<f64>,
}

fn expected(all: &[Totals]) -> Samples {
    let job = ("job", "pyclients");
    let sum = |f: fn(&Totals) -> f64| all.iter().map(f).sum::<f64>();
    let observations: Vec<f64> = all.iter().flat_map(|t| t.observations.clone()).collect();
    let mut want = Samples::from([
        (
            series("pyapp_work_total", &[job, ("kind", "a")]),
            sum(|t| t.work_a),
        ),
        (
            series("pyapp_work_total", &[job, ("kind", "b")]),
            sum(|t| t.work_b),
        ),
        (series("pyapp_batches_total", &[job]), sum(|t| t.batches)),
        (
            series("pyapp_latency_seconds_sum", &[job]),
            observations.iter().sum(),
        ),
        (
            series("pyapp_latency_seconds_count", &[job]),
            observations.len() as f64,
        ),
    ]);
    for bound in BUCKETS {
        let count = observations.iter().filter(|o| **o <= bound).count();
        want.insert(
            series(
                "pyapp_latency_seconds_bucket",
                &[job, ("le", &fmt_float(bound))],
            ),
            count as f64,
        );
    }
    want
}

#[test]
fn python_clients_push_retry_restart_delete_and_totals_are_exact() {
    let python = python_with_modules(&["prometheus_client"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/server/clients.py");
    let dir = TempDir::new().unwrap();
    let server = LiveServer::start(ServerConfig::default(), dir.path());
    let http = server.http();
    let keeper = http
        .push("PUT", "job/pyclients/instance/keeper", KEEPER)
        .unwrap();
    assert_eq!(keeper.status, 200, "{}", keeper.body);

    let gateway = server.addr.to_string();
    let mut clients: Vec<ChildGuard> = (0..PROCESSES)
        .map(|i| {
            let child = Command::new(&python)
                .arg(&script)
                .arg(&gateway)
                .arg(i.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", python.display()));
            ChildGuard(child)
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut totals = Vec::new();
    for (i, client) in clients.iter_mut().enumerate() {
        let output = client.wait_output(deadline, &format!("clients.py {i}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "clients.py {i} failed ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let t: Totals = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("clients.py {i} printed {stdout:?}: {e}"));
        totals.push(t);
    }

    let agg = with_prefix(&http.aggregated(), "pyapp_");
    assert_samples_eq(
        &expected(&totals),
        &agg,
        "aggregated view = the sum of what every process contributed",
    );
    // Every client deleted its group; only the keeper is left.
    let groups: Vec<String> = with_prefix(&http.groups(), "push_time_seconds")
        .into_keys()
        .collect();
    assert_eq!(
        groups,
        ["push_time_seconds{instance=\"keeper\",job=\"pyclients\"}"]
    );
    // And a restart recovers the same totals from the log.
    server.stop().expect("a graceful stop");
    let server = LiveServer::start(ServerConfig::default(), dir.path());
    assert_eq!(server.recovery.dropped, None);
    assert!(server.recovery.records > 0, "{:?}", server.recovery);
    assert_samples_eq(
        &expected(&totals),
        &with_prefix(&server.http().aggregated(), "pyapp_"),
        "after a restart",
    );
}
