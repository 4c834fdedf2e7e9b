//! Forwarding to Debian's real Alertmanager: alerts show up in its API with the labels,
//! annotations and timestamps sent; a resolution makes them leave its active list.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use tally_notify::clock::SystemClock;
use tally_notify::deliver::RetryPolicy;
use tally_notify::forward::{ForwardOptions, Forwarder};
use tally_notify::stats::Stats;
use tally_notify::{Alert, Config, Notifier, NotifierOptions};
use tally_testkit::alertmanager;

use crate::support::labels;

/// How long Alertmanager may take to show what was sent (bounded polling of an external
/// process).
const SHOW_UP: Duration = Duration::from_secs(20);

fn get_alerts(agent: &ureq::Agent, url: &str) -> Vec<serde_json::Value> {
    let Ok(mut response) = agent.get(url).call() else {
        return Vec::new();
    };
    let text = response.body_mut().read_to_string().unwrap_or_default();
    serde_json::from_str::<Vec<serde_json::Value>>(&text).unwrap_or_default()
}

/// Polls Alertmanager's alert list until `done` says so, or fails after [`SHOW_UP`].
fn poll(
    url: &str,
    what: &str,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .http_status_as_error(false)
        .build()
        .into();
    let deadline = Instant::now() + SHOW_UP;
    loop {
        let alerts = get_alerts(&agent, url);
        if done(&alerts) {
            return alerts;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: Alertmanager shows {alerts:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn time(v: &serde_json::Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

#[test]
fn forwarded_alerts_show_up_in_alertmanager_with_labels_annotations_and_times() {
    let am = alertmanager();
    let config = Config::parse(&format!("alertmanagers: [\"{}\"]\n", am.url(""))).expect("config");
    let options = NotifierOptions {
        clock: Arc::new(SystemClock),
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(50),
            ..RetryPolicy::default()
        },
        ..NotifierOptions::default()
    };
    let n = Notifier::new(config, options).expect("notifier");
    let now = Utc::now().trunc_subsecs(3);
    let started = now - chrono::Duration::minutes(10);
    let mut disk = Alert::firing(
        labels(&[
            ("alertname", "DiskFull"),
            ("instance", "db1:9100"),
            ("severity", "page"),
        ]),
        started,
    );
    disk.annotations = labels(&[
        ("summary", "disk 97% full"),
        ("runbook", "https://runbooks.example/disk"),
    ]);
    disk.ends_at = Some(now + chrono::Duration::hours(1));
    disk.generator_url = "http://tally.example/graph?g0.expr=disk".into();
    let cpu = Alert::firing(
        labels(&[("alertname", "HighCPU"), ("instance", "web1:9100")]),
        started,
    );
    n.put(vec![disk.clone(), cpu]).expect("room for the alerts");

    let url = am.url("/api/v2/alerts");
    let alerts = poll(&url, "both alerts", |a| a.len() == 2);
    let find = |name: &str| {
        alerts
            .iter()
            .find(|a| a["labels"]["alertname"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {alerts:#?}"))
            .clone()
    };
    let got = find("DiskFull");
    assert_eq!(
        got["labels"],
        serde_json::json!({"alertname": "DiskFull", "instance": "db1:9100", "severity": "page"})
    );
    assert_eq!(
        got["annotations"],
        serde_json::json!({"summary": "disk 97% full", "runbook": "https://runbooks.example/disk"})
    );
    assert_eq!(time(&got["startsAt"]), started);
    assert_eq!(time(&got["endsAt"]), now + chrono::Duration::hours(1));
    assert_eq!(
        got["generatorURL"],
        "http://tally.example/graph?g0.expr=disk"
    );
    assert_eq!(got["status"]["state"], "active");
    // Alertmanager computes the same fingerprint as tally.
    assert_eq!(
        got["fingerprint"],
        tally_notify::alert::fingerprint_hex(disk.fingerprint())
    );
    // Without an end, Alertmanager applies its own resolve_timeout (5 min).
    let cpu = find("HighCPU");
    assert_eq!(time(&cpu["startsAt"]), started);
    assert!(time(&cpu["endsAt"]) > now, "{cpu}");

    // The rule engine sends the resolution; Alertmanager no longer lists the alert.
    let mut resolved = disk.clone();
    resolved.ends_at = Some(Utc::now().trunc_subsecs(3) - chrono::Duration::seconds(1));
    n.put(vec![resolved]).expect("room for the alerts");
    poll(&url, "DiskFull resolved", |a| {
        a.len() == 1 && a[0]["labels"]["alertname"] == "HighCPU"
    });
    assert_eq!(n.stats().forward_stats(&am.url("")).forwarded, 3);
    assert_eq!(n.stats().forward_stats(&am.url("")).dropped, 0);
    n.shutdown().expect("shutdown");
}

#[test]
fn a_full_queue_drops_the_oldest_alerts_and_counts_them() {
    // Nothing listens on port 1: the sender keeps retrying its first batch while the
    // queue fills.
    let stats = Stats::default();
    let forwarder = Forwarder::start(
        &["http://127.0.0.1:1".to_owned()],
        ForwardOptions {
            queue_capacity: 3,
            batch_size: 1,
        },
        RetryPolicy {
            initial_backoff: Duration::from_secs(60),
            ..RetryPolicy::default()
        },
        stats.clone(),
    );
    let alerts: Vec<Alert> = (0..10)
        .map(|i| {
            Alert::firing(
                labels(&[("alertname", "A"), ("i", &i.to_string())]),
                Utc::now(),
            )
        })
        .collect();
    forwarder.enqueue(&alerts);
    assert_eq!(stats.forward_stats("http://127.0.0.1:1").dropped, 7);
    forwarder.shutdown();
    assert_eq!(stats.forward_stats("http://127.0.0.1:1").forwarded, 0);
}
