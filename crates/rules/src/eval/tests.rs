//! Tests of the evaluator as a whole, driven by a manual clock: alert states, sending,
//! recording rules, staleness, restore after a restart, reloads, scheduling, the API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use tally_model::{Labels, Sample};
use tally_storage::{Matcher, MemStorage, SelectHints, Storage};

use super::*;
use crate::file::{Rule, RuleFile, RuleGroup, RuleKind};

mod api_bodies;
mod lifecycle;

const MIN: i64 = 60_000;

struct Fixture {
    storage: Arc<MemStorage>,
    clock: Arc<ManualClock>,
    sender: Arc<RecordingSender>,
}

impl Fixture {
    fn new() -> Self {
        Self {
            storage: Arc::new(MemStorage::new()),
            clock: Arc::new(ManualClock::new(0)),
            sender: Arc::new(RecordingSender::new()),
        }
    }

    fn config(&self, restore: bool) -> ManagerConfig {
        let mut c = ManagerConfig::new(
            self.storage.clone(),
            self.clock.clone(),
            self.sender.clone(),
        );
        c.restore_state = restore;
        c
    }

    fn manager(&self, restore: bool) -> Manager {
        Manager::new(self.config(restore))
    }

    /// Writes `value` for `up{job="a"}` at each of `times`.
    fn up(&self, times: impl IntoIterator<Item = i64>, value: f64) {
        let l = labels(&[("__name__", "up"), ("job", "a")]);
        let mut app = self.storage.appender();
        for t in times {
            app.append(&l, Sample::new(t, value)).unwrap();
        }
        app.commit().unwrap();
    }

    /// Raw samples of the series with exactly `l`.
    fn samples(&self, l: &Labels) -> Vec<Sample> {
        let q = self.storage.querier(i64::MIN / 2, i64::MAX / 2).unwrap();
        let m: Vec<Matcher> = l.iter().map(|(n, v)| Matcher::equal(n, v)).collect();
        q.select(&m, &SelectHints::default())
            .unwrap()
            .into_iter()
            .find(|s| &s.labels == l)
            .map(|s| s.samples)
            .unwrap_or_default()
    }

    /// Runs everything due up to and including `end`, moving the clock.
    fn run_until(&self, m: &Manager, end: i64) {
        while let Some(next) = m.next_due() {
            if next > end {
                break;
            }
            self.clock.set(next);
            m.tick(next);
        }
        self.clock.set(end);
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn alerting(name: &str, expr: &str, for_ms: i64, keep_firing_for_ms: i64) -> Rule {
    Rule {
        kind: RuleKind::Alerting {
            alert: name.into(),
            for_ms,
            keep_firing_for_ms,
        },
        expr: expr.into(),
        labels: map(&[("severity", "page")]),
        annotations: map(&[("summary", "down")]),
        line: 1,
    }
}

fn recording(name: &str, expr: &str, labels: &[(&str, &str)]) -> Rule {
    Rule {
        kind: RuleKind::Recording {
            record: name.into(),
        },
        expr: expr.into(),
        labels: map(labels),
        annotations: BTreeMap::new(),
        line: 1,
    }
}

fn file(path: &str, groups: Vec<RuleGroup>) -> RuleFile {
    RuleFile {
        path: path.into(),
        groups,
    }
}

fn group(name: &str, rules: Vec<Rule>) -> RuleGroup {
    RuleGroup {
        name: name.into(),
        interval_ms: Some(MIN),
        rules,
        ..Default::default()
    }
}

fn one_alert(m: &Manager) -> Option<Alert> {
    let mut all = Vec::new();
    m.with_groups(|gs| {
        for g in gs {
            for r in &g.rules {
                if let group::Compiled::Alerting(a) = &r.compiled {
                    all.extend(a.active.values().cloned());
                }
            }
        }
    });
    assert!(all.len() <= 1, "{all:?}");
    all.pop()
}

fn alerts_series(state: &str) -> Labels {
    labels(&[
        ("__name__", "ALERTS"),
        ("alertname", "Down"),
        ("alertstate", state),
        ("job", "a"),
        ("severity", "page"),
    ])
}

fn for_state_series() -> Labels {
    labels(&[
        ("__name__", "ALERTS_FOR_STATE"),
        ("alertname", "Down"),
        ("job", "a"),
        ("severity", "page"),
    ])
}

#[test]
fn pending_then_firing_then_resolved() {
    let f = Fixture::new();
    f.up([0, MIN, 2 * MIN], 0.0);
    f.up([3 * MIN], 1.0);
    let m = f.manager(false);
    m.update(vec![file(
        "r.yml",
        vec![group("g", vec![alerting("Down", "up == 0", 2 * MIN, 0)])],
    )]);

    m.eval_all_at(0, &[]);
    let a = one_alert(&m).unwrap();
    assert_eq!((a.state, a.active_at_ms), (AlertState::Pending, 0));
    assert_eq!(
        a.labels,
        labels(&[("alertname", "Down"), ("job", "a"), ("severity", "page")])
    );
    m.eval_all_at(MIN, &[]);
    assert_eq!(one_alert(&m).unwrap().state, AlertState::Pending);
    assert!(f.sender.take().is_empty(), "pending alerts are not sent");

    m.eval_all_at(2 * MIN, &[]);
    let a = one_alert(&m).unwrap();
    assert_eq!(
        (a.state, a.fired_at_ms),
        (AlertState::Firing, Some(2 * MIN))
    );
    let sent = f.sender.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0][0].starts_at_ms, 2 * MIN);
    assert_eq!(sent[0][0].ends_at_ms, Some(2 * MIN + 4 * MIN));
    assert_eq!(
        sent[0][0].generator_url,
        "/graph?g0.expr=up+%3D%3D+0&g0.tab=1"
    );

    m.eval_all_at(3 * MIN, &[]);
    let a = one_alert(&m).unwrap();
    assert_eq!(
        (a.state, a.resolved_at_ms),
        (AlertState::Inactive, Some(3 * MIN))
    );
    let sent = f.sender.take();
    assert_eq!(
        sent[0][0].ends_at_ms,
        Some(3 * MIN),
        "resolved: ends at resolution"
    );

    // ALERTS: pending at 0 and 1m, then stale; firing at 2m, stale at 3m.
    let pending = f.samples(&alerts_series("pending"));
    assert_eq!(pending.len(), 3);
    assert_eq!(
        (pending[0], pending[1]),
        (Sample::new(0, 1.0), Sample::new(MIN, 1.0))
    );
    assert!(pending[2].is_stale() && pending[2].timestamp_ms == 2 * MIN);
    let firing = f.samples(&alerts_series("firing"));
    assert_eq!(firing[0], Sample::new(2 * MIN, 1.0));
    assert!(firing[1].is_stale() && firing[1].timestamp_ms == 3 * MIN);
    let for_state = f.samples(&for_state_series());
    assert_eq!(
        &for_state[..3],
        &[
            Sample::new(0, 0.0),
            Sample::new(MIN, 0.0),
            Sample::new(2 * MIN, 0.0)
        ]
    );
    assert!(for_state[3].is_stale());
}

#[test]
fn vanished_pending_alert_is_dropped_and_returning_series_starts_over() {
    let f = Fixture::new();
    f.up([0], 0.0);
    f.up([MIN], 1.0);
    f.up([2 * MIN], 0.0);
    let m = f.manager(false);
    m.update(vec![file(
        "r.yml",
        vec![group("g", vec![alerting("Down", "up == 0", 5 * MIN, 0)])],
    )]);
    m.eval_all_at(0, &[]);
    m.eval_all_at(MIN, &[]);
    assert!(one_alert(&m).is_none());
    m.eval_all_at(2 * MIN, &[]);
    assert_eq!(one_alert(&m).unwrap().active_at_ms, 2 * MIN);
}

#[test]
fn keep_firing_for_holds_a_vanished_alert() {
    let f = Fixture::new();
    f.up([0], 0.0);
    f.up([MIN, 2 * MIN, 3 * MIN], 1.0);
    let m = f.manager(false);
    m.update(vec![file(
        "r.yml",
        vec![group("g", vec![alerting("Down", "up == 0", 0, 2 * MIN)])],
    )]);
    m.eval_all_at(0, &[]);
    assert_eq!(one_alert(&m).unwrap().state, AlertState::Firing);
    m.eval_all_at(MIN, &[]);
    let a = one_alert(&m).unwrap();
    assert_eq!(
        (a.state, a.keep_firing_since_ms),
        (AlertState::Firing, Some(MIN))
    );
    let body = api::alerts(&m).to_json();
    assert!(
        body.contains("\"keepFiringSince\":\"1970-01-01T00:01:00Z\""),
        "{body}"
    );
    m.eval_all_at(2 * MIN, &[]);
    assert_eq!(one_alert(&m).unwrap().state, AlertState::Firing);
    m.eval_all_at(3 * MIN, &[]);
    let a = one_alert(&m).unwrap();
    assert_eq!(
        (a.state, a.resolved_at_ms),
        (AlertState::Inactive, Some(3 * MIN))
    );
}

#[test]
fn resend_timing_and_resolved_retention() {
    let f = Fixture::new();
    f.up((0..=3).map(|i| i * MIN), 0.0);
    f.up((4..=30).map(|i| i * MIN), 1.0);
    let m = f.manager(false);
    m.update(vec![file(
        "r.yml",
        vec![group("g", vec![alerting("Down", "up == 0", 0, 0)])],
    )]);
    let mut sends = Vec::new();
    for i in 0..=30 {
        m.eval_all_at(i * MIN, &[]);
        for batch in f.sender.take() {
            for a in batch {
                sends.push((i, a.ends_at_ms.map(|e| e / MIN)));
            }
        }
    }
    // Firing at 0, resent once more than a resend delay later (2m); resolved at 4m and
    // resent every 2m while kept (15 minutes), then forgotten.
    assert_eq!(
        sends,
        vec![
            (0, Some(4)),
            (2, Some(6)),
            (4, Some(4)),
            (6, Some(4)),
            (8, Some(4)),
            (10, Some(4)),
            (12, Some(4)),
            (14, Some(4)),
            (16, Some(4)),
            (18, Some(4)),
        ]
    );
    assert!(one_alert(&m).is_none());
}

#[test]
fn templates_data_and_external_labels_reach_sent_alerts() {
    let f = Fixture::new();
    f.up([0], 0.0);
    let mut c = f.config(false);
    c.external_labels = labels(&[("cluster", "eu"), ("job", "ignored")]);
    c.external_url = "http://tally:9091".into();
    let m = Manager::new(c);
    m.update(vec![file(
        "r.yml",
        vec![group("g", vec![alerting("Down", "up == 0", 0, 0)])],
    )]);
    m.eval_all_at(0, &[]);
    let sent = f.sender.take();
    let a = &sent[0][0];
    assert_eq!(a.labels.get("cluster"), Some("eu"));
    assert_eq!(
        a.labels.get("job"),
        Some("a"),
        "alert labels win over external ones"
    );
    assert!(a
        .generator_url
        .starts_with("http://tally:9091/graph?g0.expr="));
    // ALERTS carries no external labels.
    assert!(!f.samples(&alerts_series("firing")).is_empty());
}

#[test]
fn alert_limit_and_duplicate_labels_are_errors() {
    let f = Fixture::new();
    let mut app = f.storage.appender();
    for i in ["x", "y"] {
        app.append(
            &labels(&[("__name__", "up"), ("instance", i)]),
            Sample::new(0, 0.0),
        )
        .unwrap();
    }
    app.commit().unwrap();
    let m = f.manager(false);
    let mut g = group("g", vec![alerting("Down", "up == 0", 0, 0)]);
    g.limit = 1;
    let mut dup = alerting("Dup", "up == 0", 0, 0);
    dup.labels.insert("instance".into(), "same".into());
    g.rules.push(dup);
    m.update(vec![file("r.yml", vec![g])]);
    m.eval_all_at(0, &[]);
    m.with_groups(|gs| {
        let st: Vec<_> = gs[0].rules.iter().map(|r| r.status.clone()).collect();
        assert_eq!(st[0].health, RuleHealth::Err);
        assert_eq!(
            st[0].last_error.as_deref(),
            Some("exceeded limit of 1 with 2 alerts")
        );
        assert_eq!(
            st[1].last_error.as_deref(),
            Some("vector contains metrics with the same labelset after applying alert labels")
        );
        assert_eq!(gs[0].counters.evaluation_failures, 2);
    });
    assert!(one_alert(&m).is_none());
    assert!(f.sender.take().is_empty());
}

#[test]
fn recording_rules_write_relabelled_series_and_staleness_markers() {
    let f = Fixture::new();
    let mut app = f.storage.appender();
    for (i, v) in [("x", 1.0), ("y", 2.0)] {
        let l = labels(&[("__name__", "up"), ("instance", i), ("job", "a")]);
        app.append(&l, Sample::new(0, v)).unwrap();
    }
    app.append(
        &labels(&[("__name__", "up"), ("instance", "x"), ("job", "a")]),
        Sample::new(MIN, 1.0),
    )
    .unwrap();
    app.commit().unwrap();
    // y has no sample after 0, so it is gone once the 5m lookback has passed.
    let m = f.manager(false);
    m.update(vec![file(
        "r.yml",
        vec![group(
            "g",
            vec![recording("inst:up", "up", &[("job", ""), ("env", "prod")])],
        )],
    )]);
    m.eval_all_at(0, &[]);
    let x = labels(&[("__name__", "inst:up"), ("env", "prod"), ("instance", "x")]);
    let y = labels(&[("__name__", "inst:up"), ("env", "prod"), ("instance", "y")]);
    assert_eq!(f.samples(&x), vec![Sample::new(0, 1.0)]);
    assert_eq!(f.samples(&y), vec![Sample::new(0, 2.0)]);
    m.eval_all_at(5 * MIN + 30_000, &[]);
    let ys = f.samples(&y);
    assert_eq!(ys.len(), 2);
    assert!(
        ys[1].is_stale() && ys[1].timestamp_ms == 5 * MIN + 30_000,
        "{ys:?}"
    );
    assert_eq!(
        f.samples(&x).last(),
        Some(&Sample::new(5 * MIN + 30_000, 1.0))
    );
}

#[test]
fn recording_rule_errors_limit_duplicates_scalars() {
    let f = Fixture::new();
    let mut app = f.storage.appender();
    for i in ["x", "y"] {
        app.append(
            &labels(&[("__name__", "up"), ("instance", i)]),
            Sample::new(0, 1.0),
        )
        .unwrap();
    }
    app.commit().unwrap();
    let m = f.manager(false);
    let mut g = group(
        "g",
        vec![
            recording("a", "up", &[]),
            recording("b", "up", &[("instance", "same")]),
            recording("c", "scalar(sum(up))", &[]),
            recording("d", "\"text\"", &[]),
        ],
    );
    g.limit = 1;
    m.update(vec![file("r.yml", vec![g])]);
    m.eval_all_at(0, &[]);
    m.with_groups(|gs| {
        let errs: Vec<_> = gs[0]
            .rules
            .iter()
            .map(|r| r.status.last_error.clone())
            .collect();
        assert_eq!(
            errs[0].as_deref(),
            Some("exceeded limit of 1 with 2 series")
        );
        assert_eq!(
            errs[1].as_deref(),
            Some("vector contains metrics with the same labelset after applying rule labels")
        );
        assert_eq!(errs[2], None);
        assert_eq!(
            errs[3].as_deref(),
            Some("rule result is not a vector or scalar")
        );
    });
    assert_eq!(
        f.samples(&labels(&[("__name__", "c")])),
        vec![Sample::new(0, 2.0)]
    );
    assert!(f
        .samples(&labels(&[("__name__", "a"), ("instance", "x")]))
        .is_empty());
}

#[test]
fn schedule_is_aligned_with_a_stable_offset_and_counts_missed_iterations() {
    let f = Fixture::new();
    f.clock.set(10 * MIN + 7);
    let m = f.manager(false);
    m.update(vec![file(
        "r.yml",
        vec![group("g", vec![recording("r", "vector(1)", &[])])],
    )]);
    let first = m.next_due().unwrap();
    assert!(first > 10 * MIN + 7 && first <= 11 * MIN + 7, "{first}");
    let offset = first.rem_euclid(MIN);
    // Another manager started at another time picks the same slot in the minute.
    f.clock.set(99 * MIN + 1234);
    let m2 = f.manager(false);
    m2.update(vec![file(
        "r.yml",
        vec![group("g", vec![recording("r", "vector(1)", &[])])],
    )]);
    assert_eq!(m2.next_due().unwrap().rem_euclid(MIN), offset);

    m.tick(first - 1);
    assert_eq!(m.stats()[0].counters.iterations, 0);
    m.tick(first);
    m.tick(first + 3 * MIN + 5);
    let s = &m.stats()[0];
    assert_eq!(
        (s.counters.iterations, s.counters.iterations_missed),
        (4, 2)
    );
    assert_eq!(m.next_due(), Some(first + 4 * MIN));
    let r = f.samples(&labels(&[("__name__", "r")]));
    assert_eq!(
        r.iter().map(|s| s.timestamp_ms).collect::<Vec<_>>(),
        vec![first, first + 3 * MIN]
    );
}

#[test]
fn query_offset_evaluates_and_writes_in_the_past() {
    let f = Fixture::new();
    f.up([0], 1.0);
    f.up([MIN], 0.0);
    let m = f.manager(false);
    let mut g = group(
        "g",
        vec![recording("r", "up", &[]), alerting("Down", "up == 0", 0, 0)],
    );
    g.query_offset_ms = Some(MIN);
    m.update(vec![file("r.yml", vec![g])]);
    m.eval_all_at(2 * MIN, &[]);
    // The query ran at 1m (up == 0 there); results and ALERTS are stamped 1m.
    let r = f.samples(&labels(&[("__name__", "r"), ("job", "a")]));
    assert_eq!(r, vec![Sample::new(MIN, 0.0)]);
    assert_eq!(
        f.samples(&alerts_series("firing")),
        vec![Sample::new(MIN, 1.0)]
    );
    // The alert itself is active from the evaluation time.
    assert_eq!(one_alert(&m).unwrap().active_at_ms, 2 * MIN);
}
