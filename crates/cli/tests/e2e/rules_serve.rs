//! `tally serve --rules` end to end: a rule file evaluated over pushed metrics, the
//! alert forwarded to Debian's real `prometheus-alertmanager` (`--alertmanager-url`)
//! and found in its API with its labels, annotations and times; the rule file reloaded
//! on SIGHUP; `/api/v1/rules` and `/api/v1/alerts` compared with Debian's Prometheus
//! running the same file; the built-in notifier (`--alerting-config`) delivering a v4
//! webhook payload.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use tally_testkit::{alertmanager, prometheus_with_rules};
use tempfile::TempDir;

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

/// Writes `rules` to `dir/batch.yml` and starts `tally serve` evaluating it and sampling
/// the aggregated view every second, with `extra` flags; then pushes 3 failed jobs of
/// `job="nightly"`. Returns the server and the rule file's path.
fn serve_rules(dir: &Path, rules: &str, extra: &[&str]) -> (Server, PathBuf) {
    let file = dir.join("batch.yml");
    std::fs::write(&file, rules).expect("writing the rule file");
    let mut args = vec![
        "--rules",
        file.to_str().expect("UTF-8 path"),
        "--evaluation-interval",
        "1s",
        "--sample-interval",
        "1s",
    ];
    args.extend_from_slice(extra);
    let server = Server::start_with(&args);
    let answer = agent()
        .put(server.url("/metrics/job/nightly/instance/a"))
        .send("# TYPE jobs_failed_total counter\njobs_failed_total 3\n")
        .expect("pushing");
    assert_eq!(answer.status(), 200);
    (server, file)
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
    let am = alertmanager();
    let dir = TempDir::new().expect("temporary directory");
    let before = chrono::Utc::now();
    let (server, rules) = serve_rules(
        dir.path(),
        RULES,
        &[
            "--external-url",
            "http://tally.test:9091",
            "--alertmanager-url",
            &am.url(""),
        ],
    );

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

/// Replaces the values that differ between two servers by when they run (evaluation
/// times and durations, alerts' `activeAt`) with a placeholder, everywhere in `v`.
fn without_times(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if ["evaluationTime", "lastEvaluation", "activeAt"].contains(&k.as_str()) {
                    *v = Value::String("<time>".into());
                } else {
                    without_times(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(without_times),
        _ => {}
    }
}

const CROSSCHECK_RULES: &str = r#"groups:
  - name: batch
    interval: 1s
    limit: 10
    rules:
      - record: job:jobs_failed:sum
        expr: sum by (job) (jobs_failed_total)
        labels:
          source: rules
      - alert: BatchJobsFailing
        expr: job:jobs_failed:sum > 1
        labels:
          severity: ticket
        annotations:
          summary: "{{ $labels.job }}: {{ $value | humanize }} jobs failed"
          runbook: "https://runbooks.test/{{ $labels.job | toUpper }}"
      - alert: BatchJobsFailingForAnHour
        expr: job:jobs_failed:sum > 1
        for: 1h
      - alert: NeverFires
        expr: job:jobs_failed:sum > 1000
      - alert: BatchJobsFailingSticky
        expr: job:jobs_failed:sum > 1
        keep_firing_for: 10m
        labels:
          severity: page
"#;
// Not compared: a group without rules. Prometheus 2.42 (the peer here) lists it with
// `"rules":[]`; current Prometheus, like tally, leaves out every group that has no rules
// left after the filters.

#[test]
fn rules_and_alerts_api_answer_as_prometheus_does() {
    let dir = TempDir::new().expect("temporary directory");
    let (server, rules) = serve_rules(dir.path(), CROSSCHECK_RULES, &[]);
    // Prometheus scrapes the same series from tally's /metrics and runs the same file.
    let prometheus = prometheus_with_rules(&format!("127.0.0.1:{}", server.port), &rules);

    // Both have evaluated every rule and hold two firing alerts and one pending.
    let settled = |base: &dyn Fn(&str) -> String| {
        let alerts = get_json(&base("/api/v1/alerts"));
        let mut states: Vec<&str> = alerts["data"]["alerts"]
            .as_array()?
            .iter()
            .filter_map(|a| a["state"].as_str())
            .collect();
        states.sort_unstable();
        let rules = get_json(&base("/api/v1/rules"));
        let evaluated = rules["data"]["groups"][0]["rules"]
            .as_array()?
            .iter()
            .all(|r| r["health"] == "ok");
        (states == ["firing", "firing", "pending"] && evaluated).then_some(())
    };
    poll("tally's alerts", || settled(&|p| server.url(p)));
    poll("Prometheus' alerts", || settled(&|p| prometheus.url(p)));

    for path in [
        "/api/v1/rules",
        "/api/v1/rules?type=alert",
        "/api/v1/rules?type=record&rule_name[]=job:jobs_failed:sum",
        "/api/v1/alerts",
    ] {
        let mut ours = get_json(&server.url(path));
        let mut theirs = get_json(&prometheus.url(path));
        without_times(&mut ours);
        without_times(&mut theirs);
        assert_eq!(
            ours,
            theirs,
            "{path}\ntally:      {ours}\nPrometheus: {theirs}\nPrometheus log:\n{}",
            prometheus.log()
        );
    }
}

/// A webhook receiver on a loopback port: every POST body it gets, in order.
struct Hook {
    port: u16,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Hook {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the webhook receiver");
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("binding 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let seen = bodies.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: String| {
                let seen = seen.clone();
                async move {
                    let json = serde_json::from_str(&body).unwrap_or(Value::String(body));
                    seen.lock().expect("hook lock").push(json);
                    "ok"
                }
            }),
        );
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            port,
            bodies,
            _runtime: runtime,
        }
    }

    fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().expect("hook lock").clone()
    }
}

#[test]
fn alerts_reach_a_webhook_through_the_built_in_notifier() {
    let hook = Hook::start();
    let dir = TempDir::new().expect("temporary directory");
    let alerting = dir.path().join("alerting.yml");
    std::fs::write(
        &alerting,
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  \
             group_interval: 10m\nreceivers:\n  - name: hook\n    webhook_configs:\n      \
             - url: http://127.0.0.1:{}/hook\n",
            hook.port
        ),
    )
    .expect("writing the alerting configuration");
    let (server, _) = serve_rules(
        dir.path(),
        RULES,
        &["--alerting-config", alerting.to_str().expect("UTF-8 path")],
    );

    let payload = poll("a webhook payload", || hook.bodies().first().cloned());
    assert_eq!(payload["version"], "4", "{payload}");
    assert_eq!(payload["status"], "firing", "{payload}");
    assert_eq!(payload["receiver"], "hook", "{payload}");
    assert_eq!(
        payload["groupLabels"]["alertname"], "BatchJobsFailing",
        "{payload}"
    );
    let alert = &payload["alerts"][0];
    assert_eq!(alert["labels"]["job"], "nightly", "{payload}");
    assert_eq!(
        alert["annotations"]["summary"], "nightly: 3 jobs failed",
        "{payload}"
    );
    // That nothing more arrives before group_interval is the dispatcher's clock-driven
    // tests' business (tally-notify); here: the delivery is counted.
    poll("the delivery counted in /metrics", || {
        let metrics = agent()
            .get(server.url("/metrics"))
            .call()
            .ok()?
            .body_mut()
            .read_to_string()
            .ok()?;
        metrics
            .contains("tally_notifications_total{integration=\"webhook\",receiver=\"hook\"} 1")
            .then_some(())
    });
}
