//! Debian's real Prometheus sends the alerts of its rules to tally's `POST
//! /api/v2/alerts`, as it would to an Alertmanager.

use std::time::{Duration, Instant};

use tally_testkit::prometheus_sending_alerts;

use crate::support::{serve, team_notifier};

#[test]
fn prometheus_sends_its_alerts_to_tally() {
    let n = team_notifier();
    let served = serve(&n);
    let prometheus = prometheus_sending_alerts(served.port);
    // Bounded wait for an external process: rules every second, sends right after.
    let deadline = Instant::now() + Duration::from_secs(30);
    let alert = loop {
        if let Some(a) = n.alerts().into_iter().next() {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "no alert from Prometheus; its log:\n{}",
            prometheus.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(alert.alert.labels.get("alertname"), Some("AlwaysFiring"));
    assert_eq!(alert.alert.labels.get("severity"), Some("page"));
    assert_eq!(
        alert.alert.annotations.get("summary"),
        Some("always firing")
    );
    assert!(
        alert.alert.generator_url.contains("/graph?g0.expr="),
        "{}",
        alert.alert.generator_url
    );
    // Prometheus sends firing alerts with an end a few evaluation intervals ahead.
    assert!(
        alert
            .alert
            .ends_at
            .is_some_and(|end| end > chrono::Utc::now()),
        "{alert:?}"
    );
    assert_eq!(alert.receivers, vec!["team".to_owned()]);
    n.shutdown().expect("shutdown");
}
