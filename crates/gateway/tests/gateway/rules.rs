//! One or more tests per rule of DESIGN.md §4.

use tally_gateway::{
    Gateway, GatewayConfig, GaugeMode, Limits, NamePattern, PushError, PushMethod::*, PushOutcome,
};
use tally_model::MetricValue;

use super::{apply, gateway, push, value, view_text};

const MIN: i64 = 60_000;

fn counter(v: u64) -> String {
    format!("# TYPE jobs_total counter\njobs_total {v}\n")
}

fn jobs(gw: &Gateway) -> Option<f64> {
    value(&gw.aggregated(), "jobs_total", &[("job", "batch")])
}

#[test]
fn rule1_counters_sum_over_instances_and_retries_change_nothing() {
    let mut gw = gateway();
    apply(&mut gw, push(Put, "job/batch/instance/a", &counter(3)), 0);
    apply(&mut gw, push(Put, "job/batch/instance/b", &counter(4)), 0);
    assert_eq!(jobs(&gw), Some(7.0));
    // A retry of the same cumulative state.
    apply(&mut gw, push(Put, "job/batch/instance/a", &counter(3)), 1);
    assert_eq!(jobs(&gw), Some(7.0));
    apply(&mut gw, push(Put, "job/batch/instance/a", &counter(5)), 2);
    assert_eq!(jobs(&gw), Some(9.0));
    // The aggregation label is gone, the other grouping labels stay.
    assert!(
        view_text(&gw).contains("jobs_total{job=\"batch\"} 9\n"),
        "{}",
        view_text(&gw)
    );
}

#[test]
fn rule2_a_restart_retires_every_counter_of_the_group() {
    let mut gw = gateway();
    let body = |a: u64, b: u64| {
        format!("# TYPE a_total counter\na_total {a}\n# TYPE b_total counter\nb_total {b}\n")
    };
    apply(&mut gw, push(Put, "job/j/instance/i", &body(10, 5)), 0);
    // After the restart `a` is lower (2 < 10) but `b` already climbed past 5: both retire.
    let outcome = apply(&mut gw, push(Put, "job/j/instance/i", &body(2, 7)), 1);
    assert_eq!(outcome, PushOutcome::Applied { restarted: true });
    let view = gw.aggregated();
    assert_eq!(value(&view, "a_total", &[("job", "j")]), Some(12.0));
    assert_eq!(value(&view, "b_total", &[("job", "j")]), Some(12.0));
    // The per-group view shows the last push only, as Pushgateway would.
    let groups = gw.group_view();
    let a = groups.iter().find(|f| f.name == "a_total").unwrap();
    assert!(matches!(&a.metrics[0].value, MetricValue::Counter(c) if c.value == 2.0));
}

#[test]
fn rule2_a_changed_start_time_is_a_restart() {
    let mut gw = gateway();
    let body = |start: u64, v: u64| {
        format!(
            "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {start}\n{}",
            counter(v)
        )
    };
    apply(
        &mut gw,
        push(Put, "job/batch/instance/a", &body(100, 10)),
        0,
    );
    // No counter went down, but the process is a new one.
    let outcome = apply(
        &mut gw,
        push(Put, "job/batch/instance/a", &body(200, 15)),
        1,
    );
    assert_eq!(outcome, PushOutcome::Applied { restarted: true });
    assert_eq!(jobs(&gw), Some(25.0));
}

#[test]
fn rule2_batch_runs_accumulate_and_deletes_never_lose_work() {
    let mut gw = gateway();
    for run in 1..=3 {
        // Each run starts from zero and pushes its own total to the same group.
        let mut p = push(Put, "job/batch", &counter(10));
        p.start_time = Some(f64::from(run));
        apply(&mut gw, p, i64::from(run));
    }
    assert_eq!(jobs(&gw), Some(30.0));
    apply(
        &mut gw,
        push(Put, "job/batch/instance/other", &counter(1)),
        5,
    );
    assert!(gw.delete(&tally_gateway::parse_grouping_path("job/batch").unwrap()));
    // The deleted group's 30 stay in the total that the live group still feeds.
    assert_eq!(jobs(&gw), Some(31.0));
}

#[test]
fn rule2_series_dropped_from_a_put_retire() {
    let mut gw = gateway();
    let body = "# TYPE r_total counter\nr_total{code=\"200\"} 5\nr_total{code=\"500\"} 2\n";
    apply(&mut gw, push(Put, "job/j/instance/a", body), 0);
    apply(&mut gw, push(Put, "job/j/instance/b", body), 0);
    // Instance a stops reporting code 500 (and its whole family is still there).
    apply(
        &mut gw,
        push(
            Put,
            "job/j/instance/a",
            "# TYPE r_total counter\nr_total{code=\"200\"} 6\n",
        ),
        1,
    );
    let view = gw.aggregated();
    assert_eq!(
        value(&view, "r_total", &[("job", "j"), ("code", "200")]),
        Some(11.0)
    );
    assert_eq!(
        value(&view, "r_total", &[("job", "j"), ("code", "500")]),
        Some(4.0)
    );
}

#[test]
fn rule3_late_retries_are_acknowledged_and_ignored() {
    let mut gw = gateway();
    let seq = |v: u64, s: u64| {
        let mut p = push(Put, "job/batch/instance/a", &counter(v));
        p.start_time = Some(1000.0);
        p.sequence = Some(s);
        p
    };
    apply(&mut gw, seq(10, 1), 0);
    apply(&mut gw, seq(20, 2), 1);
    // Push 1 arrives again late: without the sequence it would look like a restart.
    assert_eq!(apply(&mut gw, seq(10, 1), 2), PushOutcome::Stale);
    assert_eq!(apply(&mut gw, seq(20, 2), 3), PushOutcome::Stale);
    assert_eq!(jobs(&gw), Some(20.0));
    // A push from an earlier process is stale too.
    let mut old = seq(99, 7);
    old.start_time = Some(999.0);
    assert_eq!(apply(&mut gw, old, 4), PushOutcome::Stale);
    assert_eq!(jobs(&gw), Some(20.0));
}

#[test]
fn rule3_a_process_that_pushes_after_its_group_expired_is_not_counted_twice() {
    let mut gw = gateway();
    let at = |v: u64| {
        let mut p = push(Put, "job/batch/instance/a", &counter(v));
        p.start_time = Some(1000.0);
        p
    };
    apply(&mut gw, at(10), 0);
    assert_eq!(gw.expire(11 * MIN).len(), 1);
    // The same process (same start time) comes back with its cumulative 15.
    apply(&mut gw, at(15), 12 * MIN);
    assert_eq!(jobs(&gw), Some(15.0));
}

#[test]
fn rule4_expiry_retires_counters_and_drops_gauges() {
    let mut gw = gateway();
    let body = |v: u64| format!("{}# TYPE queue gauge\nqueue 4\n", counter(v));
    apply(&mut gw, push(Put, "job/batch/instance/a", &body(10)), 0);
    let mut b = push(Put, "job/batch/instance/b", &body(1));
    b.ttl_ms = Some(30 * MIN);
    apply(&mut gw, b, 0);
    assert_eq!(gw.next_expiry_ms(), Some(10 * MIN));
    assert!(gw.expire(10 * MIN - 1).is_empty());
    let expired = gw.expire(10 * MIN);
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].get("instance"), Some("a"));
    let view = gw.aggregated();
    assert_eq!(value(&view, "jobs_total", &[("job", "batch")]), Some(11.0));
    assert_eq!(value(&view, "queue", &[("job", "batch")]), Some(4.0));
    gw.expire(30 * MIN);
    // No live group feeds anything now: the aggregated view is empty...
    assert!(gw.aggregated().is_empty());
    // ...but the retired total comes back when a group feeds the series again.
    apply(
        &mut gw,
        push(Put, "job/batch/instance/c", &counter(1)),
        31 * MIN,
    );
    assert_eq!(jobs(&gw), Some(12.0));
}

#[test]
fn rule5_gauge_modes() {
    let mut config = GatewayConfig::default();
    config
        .gauge_modes
        .insert(0, (NamePattern::new("peak_*"), GaugeMode::Max));
    config
        .gauge_modes
        .insert(0, (NamePattern::new("low_*"), GaugeMode::Min));
    let mut gw = Gateway::new(config);
    let body = |v: u64, ts: u64| {
        format!(
            "# TYPE inflight gauge\ninflight {v}\n# TYPE peak_mem gauge\npeak_mem {v}\n\
             # TYPE low_mem gauge\nlow_mem {v}\n\
             # TYPE last_run_timestamp_seconds gauge\nlast_run_timestamp_seconds {ts}\n"
        )
    };
    apply(&mut gw, push(Put, "job/j/instance/a", &body(3, 500)), 2);
    apply(&mut gw, push(Put, "job/j/instance/b", &body(5, 400)), 1);
    let view = gw.aggregated();
    let j = [("job", "j")];
    assert_eq!(value(&view, "inflight", &j), Some(8.0));
    assert_eq!(value(&view, "peak_mem", &j), Some(5.0));
    assert_eq!(value(&view, "low_mem", &j), Some(3.0));
    // `last` follows the push time, not the value.
    assert_eq!(value(&view, "last_run_timestamp_seconds", &j), Some(500.0));
}

#[test]
fn rule6_histograms_with_different_layouts_merge_without_loss() {
    let mut gw = gateway();
    apply(
        &mut gw,
        push(
            Put,
            "job/j/instance/a",
            "# TYPE lat histogram\nlat_bucket{le=\"0.1\"} 2\nlat_bucket{le=\"1\"} 4\n\
             lat_bucket{le=\"+Inf\"} 5\nlat_sum 3\nlat_count 5\n",
        ),
        0,
    );
    apply(
        &mut gw,
        push(
            Put,
            "job/j/instance/b",
            "# TYPE lat histogram\nlat_bucket{le=\"0.5\"} 1\nlat_bucket{le=\"+Inf\"} 3\n\
             lat_sum 2\nlat_count 3\n",
        ),
        0,
    );
    let text = view_text(&gw);
    for line in [
        "lat_bucket{job=\"j\",le=\"0.1\"} 2\n",
        "lat_bucket{job=\"j\",le=\"0.5\"} 3\n",
        "lat_bucket{job=\"j\",le=\"1\"} 5\n",
        "lat_bucket{job=\"j\",le=\"+Inf\"} 8\n",
        "lat_sum{job=\"j\"} 5\n",
        "lat_count{job=\"j\"} 8\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn rule7_summaries_keep_sum_and_count_only() {
    let mut gw = gateway();
    let body = "# TYPE rpc summary\nrpc{quantile=\"0.5\"} 0.2\nrpc_sum 10\nrpc_count 4\n";
    apply(&mut gw, push(Put, "job/j/instance/a", body), 0);
    apply(&mut gw, push(Put, "job/j/instance/b", body), 0);
    let text = view_text(&gw);
    assert!(
        text.contains("rpc_sum{job=\"j\"} 20\nrpc_count{job=\"j\"} 8\n"),
        "{text}"
    );
    assert!(!text.contains("quantile"), "{text}");
    let groups = gw.group_view();
    let rpc = groups.iter().find(|f| f.name == "rpc").unwrap();
    assert!(matches!(&rpc.metrics[0].value, MetricValue::Summary(s) if s.quantiles.len() == 1));
}

#[test]
fn rule8_type_conflicts_are_rejected_naming_both_types() {
    let mut gw = gateway();
    apply(
        &mut gw,
        push(Put, "job/j/instance/a", "# TYPE x counter\nx 1\n"),
        0,
    );
    let err = gw
        .push(push(Put, "job/j/instance/b", "# TYPE x gauge\nx 1\n"), 1)
        .unwrap_err();
    assert_eq!(
        err,
        PushError::TypeConflict {
            name: "x".into(),
            existing: "counter",
            new: "gauge"
        }
    );
    assert_eq!(err.status(), 400);
    assert_eq!(
        err.to_string(),
        "metric \"x\" is pushed as gauge here but is a counter in other groups"
    );
    // The only group holding `x` may change its type.
    apply(
        &mut gw,
        push(Put, "job/j/instance/a", "# TYPE x gauge\nx 1\n"),
        2,
    );
    // A gauge named like a histogram's derived series conflicts as well.
    apply(
        &mut gw,
        push(
            Put,
            "job/k",
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\n",
        ),
        3,
    );
    let err = gw
        .push(push(Put, "job/k2", "# TYPE h_count gauge\nh_count 1\n"), 4)
        .unwrap_err();
    assert!(matches!(err, PushError::TypeConflict { .. }), "{err}");
}

#[test]
fn post_replaces_only_the_pushed_families() {
    let mut gw = gateway();
    apply(
        &mut gw,
        push(Put, "job/j", "# TYPE a gauge\na 1\n# TYPE b gauge\nb 2\n"),
        0,
    );
    apply(&mut gw, push(Post, "job/j", "# TYPE a gauge\na 5\n"), 1);
    let view = gw.aggregated();
    assert_eq!(value(&view, "a", &[("job", "j")]), Some(5.0));
    assert_eq!(value(&view, "b", &[("job", "j")]), Some(2.0));
    apply(&mut gw, push(Put, "job/j", "# TYPE a gauge\na 6\n"), 2);
    assert_eq!(value(&gw.aggregated(), "b", &[("job", "j")]), None);
}

#[test]
fn grouping_labels_override_series_labels() {
    let mut gw = gateway();
    apply(
        &mut gw,
        push(
            Put,
            "job/j/zone/eu",
            "# TYPE g gauge\ng{zone=\"us\",x=\"1\"} 1\n",
        ),
        0,
    );
    let view = gw.aggregated();
    assert_eq!(
        value(&view, "g", &[("job", "j"), ("zone", "eu"), ("x", "1")]),
        Some(1.0)
    );
}

#[test]
fn rejected_pushes_change_nothing() {
    let config = GatewayConfig {
        limits: Limits {
            max_groups: 2,
            max_series_per_group: 3,
            max_labels: 4,
            max_label_length: 16,
            ..Limits::default()
        },
        ..GatewayConfig::default()
    };
    let mut gw = Gateway::new(config);
    apply(&mut gw, push(Put, "job/j/instance/a", &counter(1)), 0);
    let before = view_text(&gw);
    let cases = [
        (
            push(
                Put,
                "job/j/instance/a",
                "# TYPE jobs_total counter\njobs_total 5 1000\n",
            ),
            400,
        ),
        (push(Put, "job/j/instance/a", "a 1\nb 1\nc 1\nd 1\n"), 422),
        (
            push(Put, "job/j/instance/a", "a{b=\"1\",c=\"2\",d=\"3\"} 1\n"),
            422,
        ),
        (
            push(Put, "job/j/instance/a", "a{b=\"0123456789abcdefg\"} 1\n"),
            422,
        ),
        (
            push(
                Put,
                "job/j/instance/b",
                "# TYPE jobs_total gauge\njobs_total 1\n",
            ),
            400,
        ),
    ];
    for (p, status) in cases {
        let err = gw.push(p, 1).unwrap_err();
        assert_eq!(err.status(), status, "{err}");
        assert_eq!(view_text(&gw), before);
    }
    apply(&mut gw, push(Put, "job/j/instance/b", &counter(1)), 2);
    let err = gw
        .push(push(Put, "job/j/instance/c", &counter(1)), 3)
        .unwrap_err();
    assert_eq!(err.to_string(), "limit exceeded: at most 2 groups");
    // A rejected push to an existing group records the failure time.
    let key = tally_gateway::parse_grouping_path("job/j/instance/a").unwrap();
    gw.record_failure(&key, 4_000);
    assert_eq!(gw.group(&key).unwrap().last_failure_ms, Some(4_000));
}

#[test]
fn group_view_has_push_times() {
    let mut gw = gateway();
    apply(&mut gw, push(Put, "job/j/instance/a", &counter(1)), 1_500);
    let mut out = Vec::new();
    tally_model::expfmt::encode(
        &gw.group_view(),
        tally_model::expfmt::Format::Text,
        &mut out,
    );
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("jobs_total{instance=\"a\",job=\"j\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("push_time_seconds{instance=\"a\",job=\"j\"} 1.5\n"),
        "{text}"
    );
    assert!(
        text.contains("push_failure_time_seconds{instance=\"a\",job=\"j\"} 0\n"),
        "{text}"
    );
}

#[test]
fn state_round_trips_through_a_snapshot() {
    let mut gw = gateway();
    let mut p = push(Put, "job/batch/instance/a", &counter(10));
    p.start_time = Some(5.0);
    apply(&mut gw, p, 0);
    apply(&mut gw, push(Put, "job/batch/instance/b", &counter(3)), 0);
    gw.delete(&tally_gateway::parse_grouping_path("job/batch/instance/a").unwrap());
    let restored = Gateway::from_state(GatewayConfig::default(), gw.state());
    assert_eq!(view_text(&restored), view_text(&gw));
    // The tombstone survived too: the same process resumes without double counting.
    let mut again = restored;
    let mut p = push(Put, "job/batch/instance/a", &counter(12));
    p.start_time = Some(5.0);
    apply(&mut again, p, 1);
    assert_eq!(jobs(&again), Some(15.0));
}
