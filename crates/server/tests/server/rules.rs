//! Rules inside the server (issue 7), in-process on the harness's manual clock: pushed
//! metrics reach the TSDB through history rounds, rule groups are evaluated at chosen
//! times, and the results are read back through `/api/v1/query`, `/api/v1/rules`,
//! `/api/v1/alerts`, the notifier's `/api/v2/alerts` and `/metrics`; reloads keep the
//! previous rules when a file is broken; a restart keeps a firing alert firing.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use tally_server::{Clock as _, ServerConfig};

use crate::harness::{Harness, ManualClock};

const RULES: &str = r#"
groups:
  - name: jobs
    rules:
      - record: job:jobs_failed:sum
        expr: sum by (job) (jobs_failed_total)
      - alert: JobsFailing
        expr: job:jobs_failed:sum > 2
        for: 30s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} has {{ $value }} failed jobs"
"#;

const BROKEN: &str = "groups:\n  - name: jobs\n    rules:\n      - record: x\n        expr: sum(\n";

fn config(dir: &Path, rules: &str) -> ServerConfig {
    let file = dir.join("jobs.rules.yml");
    std::fs::write(&file, rules).unwrap();
    let mut config = ServerConfig::default();
    config.rules.files = vec![dir.join("*.rules.yml").to_str().unwrap().to_owned()];
    config.rules.evaluation_interval = std::time::Duration::from_secs(15);
    config.rules.external_url = Some("http://tally.example:9091".into());
    config
}

fn failed(n: u32) -> String {
    format!("# TYPE jobs_failed_total counter\njobs_failed_total {n}\n")
}

/// One step of the server's life: the clock moves `seconds`, the aggregated view is
/// written to the TSDB, and the rule manager does what is due (one evaluation of each
/// 15 s group, restoring state when it is the second after a start).
fn step(h: &Harness, seconds: i64) {
    h.clock.advance_ms(seconds * 1000);
    h.app.sample_history().expect("a history round");
    h.app.alerting.rules.tick(h.clock.now_ms());
}

/// Moves the clock to the first evaluation of the groups (each group has its own offset
/// within its interval) after writing a history round, and does what [`step`] does
/// there.
fn first_evaluation(h: &Harness) {
    // The evaluation looks back from its own (aligned) time: a round before it.
    h.app.sample_history().expect("a history round");
    let due = h.app.alerting.rules.next_due().expect("groups are loaded");
    step(h, ((due - h.clock.now_ms()).max(0) + 999) / 1000);
}

async fn json(h: &Harness, uri: &str) -> Value {
    let answer = h.get(uri).await;
    answer.expect(200);
    serde_json::from_slice(&answer.body).unwrap()
}

async fn alert_states(h: &Harness) -> Vec<String> {
    json(h, "/api/v1/alerts").await["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}:{}",
                a["labels"]["job"].as_str().unwrap(),
                a["state"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn recording_rules_and_alerts_run_over_pushed_metrics() {
    let rules_dir = tempfile::tempdir().unwrap();
    let h = Harness::new(config(rules_dir.path(), RULES));
    h.put("job/batch/instance/a", &failed(1)).await.expect(200);
    h.put("job/batch/instance/b", &failed(2)).await.expect(200);
    first_evaluation(&h);

    // The recording rule's result is a stored series like any other.
    let q = json(&h, "/api/v1/query?query=job:jobs_failed:sum").await;
    let result = &q["data"]["result"][0];
    assert_eq!(result["metric"]["job"], "batch", "{q}");
    assert_eq!(result["value"][1], "3", "{q}");

    // 3 > 2: pending first, firing once `for: 30s` has passed.
    assert_eq!(alert_states(&h).await, ["batch:pending"]);
    step(&h, 15);
    assert_eq!(alert_states(&h).await, ["batch:pending"]);
    step(&h, 15);
    assert_eq!(alert_states(&h).await, ["batch:firing"]);

    let rules = json(&h, "/api/v1/rules").await;
    let group = &rules["data"]["groups"][0];
    assert_eq!(group["name"], "jobs");
    assert_eq!(group["interval"], 15);
    assert_eq!(group["rules"][0]["type"], "recording");
    assert_eq!(group["rules"][0]["health"], "ok");
    let alert = &group["rules"][1];
    assert_eq!(alert["type"], "alerting");
    assert_eq!(alert["state"], "firing");
    assert_eq!(alert["duration"], 30);
    assert_eq!(
        alert["alerts"][0]["annotations"]["summary"],
        "batch has 3 failed jobs"
    );
    let only_records = json(&h, "/api/v1/rules?type=record").await;
    assert_eq!(
        only_records["data"]["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let bad = h.get("/api/v1/rules?type=nope").await;
    bad.expect(400);
    assert!(bad.text().contains("not supported value"), "{}", bad.text());

    // ALERTS is written back to storage.
    let q = json(&h, "/api/v1/query?query=ALERTS").await;
    assert_eq!(
        q["data"]["result"][0]["metric"]["alertstate"], "firing",
        "{q}"
    );
    assert_eq!(q["data"]["result"][0]["metric"]["severity"], "page", "{q}");

    // The firing alert reached the notifier, with its labels, annotations and link.
    let am = json(&h, "/api/v2/alerts").await;
    let sent = am
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "JobsFailing")
        .unwrap_or_else(|| panic!("no JobsFailing in {am}"));
    assert_eq!(sent["labels"]["job"], "batch");
    assert_eq!(sent["annotations"]["summary"], "batch has 3 failed jobs");
    assert!(
        sent["generatorURL"]
            .as_str()
            .unwrap()
            .starts_with("http://tally.example:9091/graph?g0.expr="),
        "{sent}"
    );

    // Rule metrics are in /metrics.
    let metrics = h.get("/metrics").await.text();
    assert!(
        metrics.contains("tally_rules_config_last_reload_successful 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tally_rule_evaluations_total{rule_group="),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_broken_file_on_reload_keeps_the_running_rules() {
    let rules_dir = tempfile::tempdir().unwrap();
    let h = Harness::new(config(rules_dir.path(), RULES));
    let file = rules_dir.path().join("jobs.rules.yml");

    std::fs::write(&file, BROKEN).unwrap();
    let answer = h.request("POST", "/-/reload", &[], "").await;
    answer.expect(500);
    assert!(
        answer.text().contains("jobs.rules.yml"),
        "{}",
        answer.text()
    );
    assert!(
        answer.text().contains(":5:"),
        "the line is named: {}",
        answer.text()
    );
    let rules = json(&h, "/api/v1/rules").await;
    assert_eq!(
        rules["data"]["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let metrics = h.get("/metrics").await.text();
    assert!(
        metrics.contains("tally_rules_config_last_reload_successful 0"),
        "{metrics}"
    );

    // Fixed: the new rules replace the old.
    std::fs::write(
        &file,
        "groups:\n  - name: other\n    rules:\n      - record: one\n        expr: vector(1)\n",
    )
    .unwrap();
    h.request("POST", "/-/reload", &[], "").await.expect(200);
    let rules = json(&h, "/api/v1/rules").await;
    assert_eq!(rules["data"]["groups"][0]["name"], "other");
    assert!(h
        .get("/metrics")
        .await
        .text()
        .contains("tally_rules_config_last_reload_successful 1"));
}

#[tokio::test]
async fn a_broken_rule_file_at_start_is_an_error() {
    let rules_dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut config = config(rules_dir.path(), BROKEN);
    config.data_dir = data.path().to_owned();
    let err = tally_server::open(config, ManualClock::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("jobs.rules.yml"), "{err}");
}

#[tokio::test]
async fn a_firing_alert_stays_firing_across_a_restart() {
    let rules_dir = tempfile::tempdir().unwrap();
    // `for` must be at least the 10 minute grace period to be restored (Prometheus'
    // rule); the outage here is 2 minutes.
    let rules = RULES.replace("for: 30s", "for: 10m");
    let h = Harness::new(config(rules_dir.path(), &rules));
    h.put("job/batch/instance/a", &failed(5)).await.expect(200);
    first_evaluation(&h);
    for _ in 0..41 {
        step(&h, 15);
    }
    assert_eq!(alert_states(&h).await, ["batch:firing"]);
    let active_at = json(&h, "/api/v1/alerts").await["data"]["alerts"][0]["activeAt"]
        .as_str()
        .unwrap()
        .to_owned();
    // ALERTS_FOR_STATE keeps whole seconds, as Prometheus' does: what is restored.
    let active_at_second = format!(
        "{}Z",
        active_at.split('.').next().unwrap().trim_end_matches('Z')
    );
    h.app.tsdb.checkpoint().unwrap();
    let config = h.app.config.clone();
    let (dir, clock) = h.close().await;

    clock.advance_ms(120_000);
    let h = Harness::open(config, dir, Arc::clone(&clock));
    // Prometheus restores `for` state on the second evaluation after a start.
    step(&h, 15);
    step(&h, 15);
    step(&h, 15);
    assert_eq!(alert_states(&h).await, ["batch:firing"]);
    let alerts = json(&h, "/api/v1/alerts").await;
    assert_eq!(
        alerts["data"]["alerts"][0]["activeAt"], active_at_second,
        "{alerts}"
    );
}
