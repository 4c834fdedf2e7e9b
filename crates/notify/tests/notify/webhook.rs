//! Webhook deliveries to a real HTTP server, the clock driven by hand: exactly one
//! version-4 payload per group per interval, retries, and the notification log across a
//! restart.

use std::sync::Arc;
use std::time::Duration;

use tally_notify::clock::ManualClock;
use tally_notify::deliver::RetryPolicy;
use tally_notify::silence::SilenceInput;
use tally_notify::{Alert, Config, Notifier, NotifierOptions};

use crate::support::sink::Sink;
use crate::support::{at, labels, t0};

fn config(url: &str) -> Config {
    Config::parse(&format!(
        r#"
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: team
    webhook_configs:
      - url: "{url}"
        http_config:
          basic_auth: {{ username: tally, password: secret }}
"#
    ))
    .expect("valid config")
}

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        deadline: Duration::from_secs(10),
        attempt_timeout: Duration::from_secs(5),
    }
}

fn notifier(config: Config, clock: &ManualClock, dir: Option<&std::path::Path>) -> Notifier {
    let options = NotifierOptions {
        data_dir: dir.map(|d| d.to_path_buf()),
        external_url: "http://tally.example:9091".into(),
        clock: Arc::new(clock.clone()),
        retry: fast_retry(),
        workers: 1,
        ..NotifierOptions::default()
    };
    Notifier::new(config, options).expect("notifier starts")
}

fn alert(name: &str, job: &str, started: i64, now: i64) -> Alert {
    let mut a = Alert::firing(labels(&[("alertname", name), ("job", job)]), at(started));
    a.annotations = labels(&[("summary", &format!("{job} is down"))]);
    a.ends_at = Some(at(now + 240));
    a.generator_url = format!("http://tally.example:9091/graph?g0.expr=up%7Bjob%3D%22{job}%22%7D");
    a
}

/// Moves the clock to `secs` and runs the timers, delivering in this thread.
fn tick_at(n: &Notifier, clock: &ManualClock, secs: i64) -> usize {
    clock.set(at(secs));
    let outcomes = n.tick_blocking().expect("tick");
    for (id, r) in &outcomes {
        assert!(r.is_ok(), "{id}: {r:?}");
    }
    outcomes.len()
}

#[test]
fn exactly_one_v4_payload_per_group_per_interval() {
    let sink = Sink::start();
    let clock = ManualClock::new(t0());
    let n = notifier(config(&sink.url("/hook")), &clock, None);
    n.put(vec![alert("Down", "api", 0, 0), alert("Slow", "db", 0, 0)])
        .expect("room for the alerts");
    assert_eq!(tick_at(&n, &clock, 29), 0);
    assert_eq!(tick_at(&n, &clock, 30), 2);
    let first = sink.take();
    assert_eq!(first.len(), 2, "one payload per group");
    let mut keys: Vec<String> = first
        .iter()
        .map(|r| r.json()["groupKey"].as_str().unwrap_or("").to_owned())
        .collect();
    keys.sort();
    crate::eqnice!(
        vec![r#"{}:{alertname="Down"}"#, r#"{}:{alertname="Slow"}"#],
        keys
    );

    let down = first
        .iter()
        .map(|r| r.json())
        .find(|j| j["groupLabels"]["alertname"] == "Down")
        .expect("Down payload");
    assert_eq!(first[0].path, "/hook");
    assert_eq!(
        first[0].authorization.as_deref(),
        Some("Basic dGFsbHk6c2VjcmV0")
    );
    assert_eq!(down["version"], "4");
    assert_eq!(down["status"], "firing");
    assert_eq!(down["receiver"], "team");
    assert_eq!(down["externalURL"], "http://tally.example:9091");
    assert_eq!(down["truncatedAlerts"], 0);
    assert_eq!(
        down["commonLabels"],
        serde_json::json!({"alertname": "Down", "job": "api"})
    );
    assert_eq!(
        down["commonAnnotations"],
        serde_json::json!({"summary": "api is down"})
    );
    let a = &down["alerts"][0];
    assert_eq!(a["status"], "firing");
    assert_eq!(
        a["labels"],
        serde_json::json!({"alertname": "Down", "job": "api"})
    );
    assert_eq!(a["startsAt"], "2026-03-01T12:00:00Z");
    assert_eq!(a["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(
        a["generatorURL"],
        "http://tally.example:9091/graph?g0.expr=up%7Bjob%3D%22api%22%7D"
    );
    assert_eq!(a["fingerprint"].as_str().map(str::len), Some(16));

    // Prometheus re-sends every minute; a second Down alert joins at 60 s. Ticking every
    // 10 s for the next 10 minutes yields one payload, at the group interval (330 s).
    let mut deliveries = Vec::new();
    for s in (40..=930).step_by(10) {
        if s % 60 == 0 {
            n.put(vec![
                alert("Down", "api", 0, s),
                alert("Slow", "db", 0, s),
                alert("Down", "web", 60, s),
            ])
            .expect("room for the alerts");
        }
        if tick_at(&n, &clock, s) > 0 {
            deliveries.push(s);
        }
    }
    crate::eqnice!(vec![330], deliveries);
    let second = sink.take();
    assert_eq!(second.len(), 1);
    let j = second[0].json();
    assert_eq!(j["groupLabels"]["alertname"], "Down");
    assert_eq!(j["alerts"].as_array().map(Vec::len), Some(2));
    assert_eq!(j["commonLabels"], serde_json::json!({"alertname": "Down"}));

    // Resolution: one resolved payload at the next interval (send_resolved defaults to true).
    let mut resolved = alert("Down", "web", 60, 940);
    resolved.ends_at = Some(at(940));
    n.put(vec![
        resolved,
        alert("Down", "api", 0, 940),
        alert("Slow", "db", 0, 940),
    ])
    .expect("room for the alerts");
    n.put(vec![
        alert("Down", "api", 0, 1200),
        alert("Slow", "db", 0, 1200),
    ])
    .expect("room for the alerts");
    assert_eq!(tick_at(&n, &clock, 930 + 300), 1);
    let third = sink.take();
    let j = third[0].json();
    assert_eq!(j["status"], "firing", "one alert still fires");
    let statuses: Vec<_> = j["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| a["status"].clone())
        .collect();
    crate::eqnice!(
        vec![serde_json::json!("firing"), serde_json::json!("resolved")],
        statuses
    );
    assert_eq!(j["alerts"][1]["endsAt"], "2026-03-01T12:15:40Z");
    n.shutdown().expect("shutdown");
}

#[test]
fn max_alerts_truncates_and_counts() {
    let sink = Sink::start();
    let clock = ManualClock::new(t0());
    let config = Config::parse(&format!(
        "route: {{ receiver: r, group_by: [alertname], group_wait: 0s }}\n\
         receivers: [{{ name: r, webhook_configs: [{{ url: \"{}\", max_alerts: 2 }}] }}]\n",
        sink.url("/hook")
    ))
    .expect("valid config");
    let n = notifier(config, &clock, None);
    n.put(
        (0..5)
            .map(|i| alert("Many", &format!("j{i}"), 0, 0))
            .collect(),
    )
    .expect("room for the alerts");
    assert_eq!(tick_at(&n, &clock, 0), 1);
    let j = sink.take()[0].json();
    assert_eq!(j["alerts"].as_array().map(Vec::len), Some(2));
    assert_eq!(j["truncatedAlerts"], 3);
    n.shutdown().expect("shutdown");
}

#[test]
fn failed_deliveries_retry_with_backoff_then_succeed() {
    let sink = Sink::failing(3);
    let clock = ManualClock::new(t0());
    let n = notifier(config(&sink.url("/hook")), &clock, None);
    n.put(vec![alert("Down", "api", 0, 0)])
        .expect("room for the alerts");
    assert_eq!(tick_at(&n, &clock, 30), 1);
    assert_eq!(sink.take().len(), 1, "delivered once, after the failures");
    let stats = n.stats().integration_stats("webhook", "team");
    assert_eq!((stats.sent, stats.failed, stats.retried), (1, 0, 3));
    let mut metrics = String::new();
    n.write_metrics(&mut metrics);
    assert!(
        metrics
            .contains("tally_notifications_total{integration=\"webhook\",receiver=\"team\"} 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains(
        "tally_notifications_failed_total{integration=\"webhook\",receiver=\"team\"} 0\n"
    ));
    assert!(metrics.contains(
        "tally_notification_retries_total{integration=\"webhook\",receiver=\"team\"} 3\n"
    ));
    n.shutdown().expect("shutdown");
}

#[test]
fn a_delivery_given_up_on_is_sent_again_at_the_next_interval() {
    let sink = Sink::failing(usize::MAX);
    let clock = ManualClock::new(t0());
    let options = NotifierOptions {
        clock: Arc::new(clock.clone()),
        retry: RetryPolicy {
            deadline: Duration::from_millis(20),
            ..fast_retry()
        },
        workers: 1,
        ..NotifierOptions::default()
    };
    let n = Notifier::new(config(&sink.url("/hook")), options).expect("notifier");
    n.put(vec![alert("Down", "api", 0, 0)])
        .expect("room for the alerts");
    clock.set(at(30));
    let outcomes = n.tick_blocking().expect("tick");
    assert!(
        outcomes[0].1.as_ref().is_err_and(|e| e.is_retryable()),
        "{outcomes:?}"
    );
    assert_eq!(n.stats().integration_stats("webhook", "team").failed, 1);
    n.put(vec![alert("Down", "api", 0, 300)])
        .expect("room for the alerts");
    clock.set(at(330));
    assert_eq!(
        n.tick_blocking().expect("tick").len(),
        1,
        "retried at the next flush"
    );
    assert_eq!(n.stats().integration_stats("webhook", "team").failed, 2);
    n.shutdown().expect("shutdown");
}

#[test]
fn a_restart_neither_renotifies_nor_forgets_silences() {
    let sink = Sink::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(t0());
    let first = notifier(config(&sink.url("/hook")), &clock, Some(dir.path()));
    first
        .put(vec![alert("Down", "api", 0, 0), alert("Gone", "old", 0, 0)])
        .expect("room for the alerts");
    assert_eq!(tick_at(&first, &clock, 30), 2);
    let silence = first
        .upsert_silence(SilenceInput {
            id: None,
            matchers: tally_notify::matcher::Matchers::parse_list(&[r#"alertname="Muted""#])
                .expect("matcher"),
            starts_at: at(0),
            ends_at: at(86_400),
            created_by: "ops".into(),
            comment: "known issue".into(),
        })
        .expect("silence");
    first.shutdown().expect("shutdown");
    drop(first);
    assert_eq!(sink.take().len(), 2);

    // Ten minutes later: Prometheus re-sends Down (still firing) but not Gone, which
    // resolved while tally was down (its last ends_at, 240 s, has passed).
    clock.set(at(600));
    let second = notifier(config(&sink.url("/hook")), &clock, Some(dir.path()));
    assert_eq!(
        second.silence(&silence).map(|s| s.comment),
        Some("known issue".into())
    );
    // Nothing at the restart: Down and Gone were notified already, Muted is silenced.
    second
        .put(vec![
            alert("Down", "api", 0, 600),
            alert("Muted", "x", 0, 600),
        ])
        .expect("room for the alerts");
    assert_eq!(tick_at(&second, &clock, 600), 0);
    let mut deliveries = Vec::new();
    for s in (660..=4 * 3600 + 600).step_by(60) {
        second
            .put(vec![alert("Down", "api", 0, s), alert("Muted", "x", 0, s)])
            .expect("room for the alerts");
        if tick_at(&second, &clock, s) > 0 {
            deliveries.push((s, sink.take()[0].json()));
        }
    }
    // Gone stays firing for resolve_timeout (5 min) after the restart, time for the rule
    // engine to re-send it; it did not, so its resolution goes out at 900 s. Down is sent
    // again only after the repeat interval: the restored group flushes every 5 min from
    // 600 s, and the first flush 4 h after the notification at 30 s is at 14,700 s.
    let summary: Vec<(i64, String, String)> = deliveries
        .iter()
        .map(|(s, j)| {
            let name = j["groupLabels"]["alertname"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            (*s, name, j["status"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    crate::eqnice!(
        vec![
            (900, "Gone".to_owned(), "resolved".to_owned()),
            (14_700, "Down".to_owned(), "firing".to_owned())
        ],
        summary
    );
    second.shutdown().expect("shutdown");
}

#[test]
fn the_timer_thread_and_workers_deliver_off_the_callers_thread() {
    let sink = Sink::start();
    let clock = ManualClock::new(t0());
    let n = notifier(config(&sink.url("/hook")), &clock, None);
    n.start(Duration::from_millis(5)).expect("timer thread");
    n.put(vec![alert("Down", "api", 0, 0)])
        .expect("room for the alerts");
    clock.set(at(30));
    let got = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(got[0].json()["groupLabels"]["alertname"], "Down");
    // A group due at once, flushed by whichever of tick() here or the timer thread runs
    // first; the notification log makes sure it is sent once.
    n.put(vec![alert("Other", "x", -600, 30)])
        .expect("room for the alerts");
    n.tick().expect("tick");
    let got = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(got[0].json()["groupLabels"]["alertname"], "Other");
    n.shutdown().expect("shutdown");
    assert!(sink.take().is_empty(), "exactly one payload per group");
}

#[test]
fn a_corrupt_state_file_is_an_error_naming_the_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(tally_notify::state::STATE_FILE);
    std::fs::write(&path, "{\"version\": 1,\n \"savedAt\": 7}").expect("write");
    let clock = ManualClock::new(t0());
    let options = NotifierOptions {
        data_dir: Some(dir.path().to_path_buf()),
        clock: Arc::new(clock),
        ..NotifierOptions::default()
    };
    let err = Notifier::new(config("http://127.0.0.1:1/"), options).expect_err("corrupt");
    let text = err.to_string();
    assert!(
        text.contains("notify-state.json") && text.contains("line 2"),
        "{text}"
    );
}

#[test]
fn a_reload_keeps_alerts_and_what_was_sent() {
    let sink = Sink::start();
    let clock = ManualClock::new(t0());
    let n = notifier(config(&sink.url("/old")), &clock, None);
    n.put(vec![alert("Down", "api", 0, 0)])
        .expect("room for the alerts");
    assert_eq!(tick_at(&n, &clock, 30), 1);
    assert_eq!(sink.take()[0].path, "/old");
    n.reload(config(&sink.url("/new")));
    assert_eq!(n.alerts().len(), 1, "alerts kept");
    // The receiver and its integration are the same, so the log still holds what Down's
    // group was told: the rebuilt group (flushing at 60 s, then every 5 min) sends
    // nothing until a new alert joins at 300 s, then one payload, to the new URL.
    let mut deliveries = Vec::new();
    for s in (60..=900).step_by(10) {
        if s % 60 == 0 {
            let mut batch = vec![alert("Down", "api", 0, s)];
            if s >= 300 {
                batch.push(alert("Down", "web", 300, s));
            }
            n.put(batch).expect("room for the alerts");
        }
        if tick_at(&n, &clock, s) > 0 {
            deliveries.push(s);
        }
    }
    crate::eqnice!(vec![360], deliveries);
    let got = sink.take();
    assert_eq!(got[0].path, "/new");
    assert_eq!(got[0].json()["alerts"].as_array().map(Vec::len), Some(2));
    n.shutdown().expect("shutdown");
}
