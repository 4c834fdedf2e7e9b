//! `tally serve --rules` end to end: a rule file evaluated over pushed metrics, the
//! alert forwarded to Debian's real `prometheus-alertmanager` (`--alertmanager-url`)
//! and found in its API with its labels, annotations and times; the rule file reloaded
//! on SIGHUP.

use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::support::peers;
use crate::support::server::{agent, Server};

/// How long to wait for something that happens on the next evaluation (every second)
/// or the next forwarding batch: generous, it bounds a poll, it times nothing.
const DEADLINE: Duration = Duration::from_secs(30);

const RULES: &str = r#"groups:
  - name: batch
    rules:
      - alert: BatchJobsFailing
        expr: sum by (job) (jobs_failed_total) > 1
        labels:
          severity: ticket
        annotations:
          summary: "{{ $labels.job }}: {{ $value }} jobs failed"
"#;

/// Polls `f` until it returns `Some`, at most [`DEADLINE`].
fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn get_json(url: &str) -> Value {
    let body = agent()
        .get(url)
        .call()
        .expect("GET")
        .body_mut()
        .read_to_string()
        .expect("reading the answer");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"))
}

#[test]
fn alerts_reach_a_real_alertmanager_and_rules_reload_on_sighup() {
    let am = peers::alertmanager();
    let dir = TempDir::new().expect("temporary directory");
    let rules = dir.path().join("batch.yml");
    std::fs::write(&rules, RULES).expect("writing the rule file");
    let server = Server::start_with(&[
        "--rules",
        rules.to_str().expect("UTF-8 path"),
        "--evaluation-interval",
        "1s",
        "--sample-interval",
        "1s",
        "--external-url",
        "http://tally.test:9091",
        "--alertmanager-url",
        &am.url(""),
    ]);
    let before = chrono::Utc::now();
    let answer = agent()
        .put(server.url("/metrics/job/nightly/instance/a"))
        .send("# TYPE jobs_failed_total counter\njobs_failed_total 3\n")
        .expect("pushing");
    assert_eq!(answer.status(), 200);

    let alert = poll("the alert in Alertmanager", || {
        get_json(&am.url("/api/v2/alerts"))
            .as_array()?
            .iter()
            .find(|a| a["labels"]["alertname"] == "BatchJobsFailing")
            .cloned()
    });
    assert_eq!(alert["labels"]["job"], "nightly", "{alert}");
    assert_eq!(alert["labels"]["severity"], "ticket", "{alert}");
    assert_eq!(
        alert["annotations"]["summary"], "nightly: 3 jobs failed",
        "{alert}"
    );
    assert_eq!(alert["status"]["state"], "active", "{alert}");
    let time = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(alert[field].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{field} of {alert}: {e}"))
            .with_timezone(&chrono::Utc)
    };
    // Started at an evaluation after the push (evaluation times are aligned to the
    // interval, hence the second of slack), and ends in the future unless re-sent.
    assert!(
        time("startsAt") >= before - chrono::Duration::seconds(1),
        "{alert}"
    );
    assert!(time("startsAt") <= chrono::Utc::now(), "{alert}");
    assert!(time("endsAt") > chrono::Utc::now(), "{alert}");
    assert!(
        alert["generatorURL"]
            .as_str()
            .unwrap_or_default()
            .starts_with("http://tally.test:9091/graph?g0.expr="),
        "{alert}"
    );
    let ours = get_json(&server.url("/api/v1/alerts"));
    assert_eq!(ours["data"]["alerts"][0]["state"], "firing", "{ours}");

    // A second rule, picked up on SIGHUP.
    std::fs::write(
        &rules,
        format!("{RULES}      - record: job:jobs_failed:sum\n        expr: sum by (job) (jobs_failed_total)\n"),
    )
    .expect("rewriting the rule file");
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .expect("running kill");
    assert!(status.success());
    poll("the reloaded rule in /api/v1/rules", || {
        let rules = get_json(&server.url("/api/v1/rules"));
        (rules["data"]["groups"][0]["rules"].as_array()?.len() == 2).then_some(())
    });
    let value = poll("the recorded series", || {
        let q = get_json(&server.url("/api/v1/query?query=job:jobs_failed:sum"));
        q["data"]["result"][0]["value"][1]
            .as_str()
            .map(str::to_owned)
    });
    assert_eq!(value, "3");
}
