//! The dispatcher's timers, routing, muting and deduplication, driven by a clock set by
//! hand: every test is a timeline of `put` and `tick` calls.

use chrono::{DateTime, Utc};
use tally_notify::dispatch::Notification;
use tally_notify::silence::SilenceInput;
use tally_notify::{Alert, Config, Dispatcher};

use crate::support::{at, labels};

const CONFIG: &str = r#"
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['severity="page"']
      receiver: pager
      continue: true
    - matchers: ['team="db"']
      receiver: db
      group_by: ['...']
receivers:
  - name: team
    webhook_configs: [{ url: "http://127.0.0.1:1/team" }]
  - name: pager
    webhook_configs: [{ url: "http://127.0.0.1:1/pager", send_resolved: false }]
  - name: db
    webhook_configs: [{ url: "http://127.0.0.1:1/db" }]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [cluster]
"#;

fn dispatcher() -> Dispatcher {
    Dispatcher::new(Config::parse(CONFIG).expect("valid config"), "http://tally")
}

/// A firing alert as a rule engine re-sends it at `now`: ends 4 minutes later.
fn firing(pairs: &[(&str, &str)], started: i64, now: i64) -> Alert {
    let mut a = Alert::firing(labels(pairs), at(started));
    a.ends_at = Some(at(now + 240));
    a
}

fn resolved(pairs: &[(&str, &str)], started: i64, ended: i64) -> Alert {
    let mut a = Alert::firing(labels(pairs), at(started));
    a.ends_at = Some(at(ended));
    a
}

/// `receiver: [job=status ...]` for each notification, to compare timelines readably.
fn summary(ns: &[Notification]) -> Vec<String> {
    ns.iter()
        .map(|n| {
            let alerts: Vec<String> = n
                .data
                .alerts
                .iter()
                .map(|a| {
                    let name = a.alert.labels.get("job").unwrap_or("?");
                    format!("{name}={}", if a.resolved { "resolved" } else { "firing" })
                })
                .collect();
            format!("{}: {}", n.data.receiver, alerts.join(" "))
        })
        .collect()
}

fn tick(d: &mut Dispatcher, secs: i64) -> Vec<String> {
    summary(&d.tick(at(secs)))
}

fn none() -> Vec<String> {
    Vec::new()
}

#[test]
fn group_wait_then_one_notification_per_group_interval() {
    let mut d = dispatcher();
    let api = [("alertname", "Down"), ("job", "api")];
    let db = [("alertname", "Down"), ("job", "web")];
    d.put([firing(&api, 0, 0)], at(0));
    crate::eqnice!(none(), tick(&mut d, 29));
    crate::eqnice!(vec!["team: api=firing"], tick(&mut d, 30));
    // A second alert of the group waits for the group interval, however often it is sent.
    for s in [60, 120, 180, 240, 300] {
        d.put([firing(&api, 0, s), firing(&db, 60, s)], at(s));
        crate::eqnice!(none(), tick(&mut d, s));
    }
    crate::eqnice!(vec!["team: api=firing web=firing"], tick(&mut d, 330));
    // Unchanged: nothing at the next intervals.
    for s in [360, 420, 480, 540, 600] {
        d.put([firing(&api, 0, s), firing(&db, 60, s)], at(s));
    }
    crate::eqnice!(none(), tick(&mut d, 630));
    assert_eq!(d.next_wakeup(), Some(at(930)));
}

#[test]
fn unchanged_group_repeats_after_repeat_interval() {
    let mut d = dispatcher();
    let api = [("alertname", "Down"), ("job", "api")];
    let mut sent = Vec::new();
    let mut s = 0;
    while s <= 4 * 3600 + 600 {
        d.put([firing(&api, 0, s)], at(s));
        if !d.tick(at(s)).is_empty() {
            sent.push(s);
        }
        s += 30;
    }
    // First at group_wait; then at the first flush more than 4 h later (flushes fall
    // every 5 min from 30 s; 30 + 48 * 300 = 14,430 s is exactly 4 h, so 14,730 s).
    crate::eqnice!(vec![30, 14_730], sent);
}

#[test]
fn resolved_alerts_are_notified_once_then_leave_the_group() {
    let mut d = dispatcher();
    let api = [("alertname", "Down"), ("job", "api")];
    d.put([firing(&api, 0, 0)], at(0));
    crate::eqnice!(vec!["team: api=firing"], tick(&mut d, 30));
    d.put([resolved(&api, 0, 100)], at(100));
    crate::eqnice!(vec!["team: api=resolved"], tick(&mut d, 330));
    assert_eq!(d.group_count(), 0);
    // Prometheus keeps re-sending the resolved alert for a while: nobody hears of it again.
    d.put([resolved(&api, 0, 100)], at(400));
    crate::eqnice!(none(), tick(&mut d, 400));
    crate::eqnice!(none(), tick(&mut d, 1000));
    assert!(d.alerts(at(1000)).is_empty());
}

#[test]
fn without_send_resolved_a_partial_resolution_is_not_notified() {
    let mut d = dispatcher();
    let a = [("alertname", "Page"), ("job", "a"), ("severity", "page")];
    let b = [("alertname", "Page"), ("job", "b"), ("severity", "page")];
    d.put([firing(&a, 0, 0), firing(&b, 0, 0)], at(0));
    crate::eqnice!(vec!["pager: a=firing b=firing"], tick(&mut d, 30));
    d.put([resolved(&a, 0, 60), firing(&b, 0, 60)], at(60));
    d.put([firing(&b, 0, 300)], at(300));
    // pager has send_resolved: false, and nothing new fires.
    crate::eqnice!(none(), tick(&mut d, 330));
    // Everything resolved: the log is cleared but nothing is sent to pager.
    d.put([resolved(&b, 0, 400)], at(400));
    crate::eqnice!(none(), tick(&mut d, 630));
    assert_eq!(d.group_count(), 0);
}

#[test]
fn continue_sends_to_the_next_matching_sibling_too() {
    let mut d = dispatcher();
    let both = [
        ("alertname", "Page"),
        ("job", "a"),
        ("severity", "page"),
        ("team", "db"),
    ];
    d.put([firing(&both, 0, 0)], at(0));
    crate::eqnice!(vec!["pager: a=firing", "db: a=firing"], tick(&mut d, 30));
    // Without continue, the first match wins: db's own route stops there.
    let db = [("alertname", "Slow"), ("job", "b"), ("team", "db")];
    d.put([firing(&db, 0, 0)], at(40));
    crate::eqnice!(vec!["db: b=firing"], tick(&mut d, 40));
}

#[test]
fn group_by_all_labels_makes_one_group_per_alert() {
    let mut d = dispatcher();
    d.put(
        [
            firing(&[("alertname", "Slow"), ("job", "x"), ("team", "db")], 0, 0),
            firing(&[("alertname", "Slow"), ("job", "y"), ("team", "db")], 0, 0),
        ],
        at(0),
    );
    let mut got = tick(&mut d, 30);
    got.sort();
    crate::eqnice!(vec!["db: x=firing", "db: y=firing"], got);
    let ns = d.tick(at(30));
    assert!(ns.is_empty());
    assert_eq!(d.group_count(), 2);
}

#[test]
fn group_key_and_labels_are_alertmanagers() {
    let mut d = dispatcher();
    d.put(
        [firing(&[("alertname", "Down"), ("job", "api")], 0, 0)],
        at(0),
    );
    let ns = d.tick(at(30));
    assert_eq!(ns[0].data.group_key, r#"{}:{alertname="Down"}"#);
    assert_eq!(ns[0].data.group_labels, labels(&[("alertname", "Down")]));
    assert_eq!(ns[0].data.external_url, "http://tally");
}

#[test]
fn an_old_alert_in_a_new_group_does_not_wait_again() {
    let mut d = dispatcher();
    d.put(
        [firing(&[("alertname", "Old"), ("job", "api")], -3600, 0)],
        at(0),
    );
    crate::eqnice!(vec!["team: api=firing"], tick(&mut d, 0));
}

#[test]
fn a_firing_critical_alert_inhibits_warnings_of_its_cluster() {
    let mut d = dispatcher();
    let crit = [
        ("alertname", "Down"),
        ("job", "crit"),
        ("severity", "critical"),
        ("cluster", "a"),
    ];
    let warn_a = [
        ("alertname", "Down"),
        ("job", "warn-a"),
        ("severity", "warning"),
        ("cluster", "a"),
    ];
    let warn_b = [
        ("alertname", "Down"),
        ("job", "warn-b"),
        ("severity", "warning"),
        ("cluster", "b"),
    ];
    d.put(
        [
            firing(&crit, 0, 0),
            firing(&warn_a, 0, 0),
            firing(&warn_b, 0, 0),
        ],
        at(0),
    );
    crate::eqnice!(vec!["team: crit=firing warn-b=firing"], tick(&mut d, 30));
    let views = d.alerts(at(30));
    let inhibited: Vec<_> = views
        .iter()
        .filter(|v| !v.inhibited_by.is_empty())
        .map(|v| v.alert.labels.get("job").unwrap_or(""))
        .collect();
    crate::eqnice!(vec!["warn-a"], inhibited);
    // The source resolves: the warning is heard of at the next interval.
    d.put(
        [
            resolved(&crit, 0, 60),
            firing(&warn_a, 0, 60),
            firing(&warn_b, 0, 60),
        ],
        at(60),
    );
    d.put([firing(&warn_a, 0, 300), firing(&warn_b, 0, 300)], at(300));
    crate::eqnice!(
        vec!["team: warn-a=firing warn-b=firing crit=resolved"],
        tick(&mut d, 330)
    );
}

fn silence(d: &mut Dispatcher, matcher: &str, from: i64, to: i64, now: DateTime<Utc>) -> String {
    let input = SilenceInput {
        id: None,
        matchers: tally_notify::matcher::Matchers::parse_list(&[matcher]).expect("matcher"),
        starts_at: at(from),
        ends_at: at(to),
        created_by: "test".into(),
        comment: "quiet".into(),
    };
    d.silences_mut().upsert(input, now).expect("valid silence")
}

#[test]
fn silences_mute_while_active_and_not_after() {
    let mut d = dispatcher();
    let api = [("alertname", "Down"), ("job", "api")];
    let id = silence(&mut d, r#"job="api""#, 0, 600, at(0));
    d.put([firing(&api, 0, 0)], at(0));
    crate::eqnice!(none(), tick(&mut d, 30));
    assert_eq!(d.alerts(at(30))[0].silenced_by, vec![id.clone()]);
    for s in [60, 120, 180, 240, 300, 360, 420, 480, 540, 600] {
        d.put([firing(&api, 0, s)], at(s));
    }
    crate::eqnice!(none(), tick(&mut d, 330));
    // The silence ended at 600 s: the next flush (630 s) notifies.
    crate::eqnice!(vec!["team: api=firing"], tick(&mut d, 630));
    d.silences_mut()
        .expire(&id, at(640))
        .expect_err("already expired");
}

#[test]
fn alerts_without_an_end_resolve_after_resolve_timeout() {
    let mut d = dispatcher();
    d.put(
        [Alert::firing(
            labels(&[("alertname", "Down"), ("job", "api")]),
            at(0),
        )],
        at(0),
    );
    crate::eqnice!(vec!["team: api=firing"], tick(&mut d, 30));
    crate::eqnice!(none(), tick(&mut d, 299));
    // 5 minutes after the last update it has resolved; the flush at 330 s says so.
    crate::eqnice!(vec!["team: api=resolved"], tick(&mut d, 330));
}

#[test]
fn a_failed_delivery_is_retried_at_the_next_flush() {
    let mut d = dispatcher();
    let api = [("alertname", "Down"), ("job", "api")];
    d.put([firing(&api, 0, 0)], at(0));
    let ns = d.tick(at(30));
    assert_eq!(ns.len(), 1);
    d.delivery_failed(&ns[0], at(40));
    d.put([firing(&api, 0, 300)], at(300));
    crate::eqnice!(vec!["team: api=firing"], tick(&mut d, 330));
}

#[test]
fn a_failed_resolved_notification_is_retried_though_its_group_emptied() {
    let mut d = dispatcher();
    let api = [("alertname", "Down"), ("job", "api")];
    d.put([firing(&api, 0, 0)], at(0));
    crate::eqnice!(vec!["team: api=firing"], tick(&mut d, 30));
    d.put([resolved(&api, 0, 100)], at(100));
    let ns = d.tick(at(330));
    crate::eqnice!(vec!["team: api=resolved"], summary(&ns));
    assert_eq!(d.group_count(), 0);
    d.delivery_failed(&ns[0], at(400));
    crate::eqnice!(vec!["team: api=resolved"], tick(&mut d, 400));
    crate::eqnice!(none(), tick(&mut d, 1000));
    assert_eq!(d.group_count(), 0);
}

#[test]
fn a_reloaded_configuration_keeps_what_was_sent() {
    let mut d = dispatcher();
    let api = [("alertname", "Down"), ("job", "api")];
    d.put([firing(&api, 0, 0)], at(0));
    crate::eqnice!(vec!["team: api=firing"], tick(&mut d, 30));
    d.set_config(Config::parse(CONFIG).expect("valid config"), at(40));
    for s in [60, 120, 180, 240, 300, 360] {
        d.put([firing(&api, 0, s)], at(s));
        crate::eqnice!(none(), tick(&mut d, s));
    }
}
