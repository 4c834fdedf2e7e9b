//! The Grafana dashboard shipped in `deploy/grafana/functions.json`: every query of every
//! panel, with Grafana's variables filled in as Grafana would, runs through the engine
//! over function metrics as `#[tally::measured]` writes them, and the numbers are the
//! ones the data implies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use tally_model::{Labels, Sample};
use tally_promql::{Engine, Value};
use tally_storage::{MemStorage, Storage};

const STEP_MS: i64 = 15_000;
/// Ten minutes of samples, every 15 s.
const STEPS: i64 = 41;

/// One function, `load` in `app::db`, over ten minutes: 9 successful calls and 1 error
/// every 15 s, half of them under 50 ms and all under 100 ms (0.6 s in total), 2 calls
/// in flight; one firing alert; and tally's own gauges and counters.
fn storage() -> MemStorage {
    let db = MemStorage::new();
    let mut app = db.appender();
    let f = [("function", "load"), ("module", "app::db")];
    let series = |name: &str, extra: &[(&str, &str)]| {
        let mut pairs = vec![("__name__", name)];
        pairs.extend(f);
        pairs.extend(extra);
        Labels::from_pairs(pairs).unwrap()
    };
    for k in 0..STEPS {
        let t = k * STEP_MS;
        let n = k as f64;
        let mut put = |labels: Labels, v: f64| app.append(&labels, Sample::new(t, v)).unwrap();
        put(series("function_calls_total", &[("result", "ok")]), 9.0 * n);
        put(series("function_calls_total", &[("result", "error")]), n);
        for (le, per_step) in [("0.05", 5.0), ("0.1", 10.0), ("+Inf", 10.0)] {
            put(
                series("function_calls_duration_seconds_bucket", &[("le", le)]),
                per_step * n,
            );
        }
        put(
            series("function_calls_duration_seconds_count", &[]),
            10.0 * n,
        );
        put(series("function_calls_duration_seconds_sum", &[]), 0.6 * n);
        put(series("function_calls_concurrent", &[]), 2.0);
        let alert = [
            ("__name__", "ALERTS"),
            ("alertname", "Slow"),
            ("alertstate", "firing"),
        ];
        put(Labels::from_pairs(alert).unwrap(), 1.0);
        // tally's own metrics, as the history sampler stores them.
        let own = |name: &str| Labels::from_pairs([("__name__", name)]).unwrap();
        put(own("tally_gateway_groups"), 3.0);
        put(own("tally_gateway_series"), 40.0);
        let pushes = [("__name__", "tally_gateway_pushes_total"), ("result", "ok")];
        put(Labels::from_pairs(pushes).unwrap(), 3.0 * n);
        put(own("tally_tsdb_head_series"), 120.0);
        put(own("tally_remote_write_samples_appended_total"), 1500.0 * n);
        let sent = [
            ("__name__", "tally_notifications_total"),
            ("integration", "webhook"),
            ("receiver", "team"),
        ];
        put(Labels::from_pairs(sent).unwrap(), 1.5 * n);
        let failed = [
            ("__name__", "tally_notifications_failed_total"),
            ("integration", "webhook"),
            ("receiver", "team"),
        ];
        put(Labels::from_pairs(failed).unwrap(), 0.15 * n);
    }
    app.commit().unwrap();
    db
}

/// The query with Grafana's variables as it would send them: every module and function
/// (`All` is `.*`), a rate interval of four samples, the range of the last five minutes.
fn fill(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__range", "5m")
        .replace("$function", ".*")
        .replace("$module", ".*")
}

/// What each query must give for `load` (every step of a range, or the instant).
fn expected(title: &str, ref_id: &str) -> f64 {
    match (title, ref_id) {
        ("Functions", "calls") | ("Calls per second", _) => 10.0 / 15.0,
        ("Functions", "error_ratio") | ("Error ratio", _) => 0.1,
        ("Functions", "mean") | ("Mean duration", _) => 0.06,
        // Rank 9.5 of 10 falls in (0.05, 0.1], which holds calls 5 to 10.
        ("Functions", "p95") | ("Duration p50 / p95 / p99", "B") => 0.095,
        ("Duration p50 / p95 / p99", "A") => 0.05,
        ("Duration p50 / p95 / p99", "C") => 0.099,
        ("In flight", _) => 2.0,
        ("Firing alerts", _) => 1.0,
        ("Push groups and series", "A") => 3.0,
        ("Push groups and series", "B") => 40.0,
        ("Pushes per second", _) => 0.2,
        ("Stored series and remote_write", "A") => 120.0,
        ("Stored series and remote_write", "B") => 100.0,
        ("Notifications per second", "A") => 0.1,
        ("Notifications per second", "B") => 0.01,
        other => panic!("no expected value for panel {other:?}: add one"),
    }
}

#[test]
fn every_panel_query_runs_and_shows_the_data() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana/functions.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let db = storage();
    let engine = Engine::default();
    let end = (STEPS - 1) * STEP_MS;
    let mut checked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        let title = panel["title"].as_str().unwrap();
        // Rows hold no queries.
        let Some(targets) = panel["targets"].as_array() else {
            assert_eq!(panel["type"], "row", "{title}: a panel without queries");
            continue;
        };
        for target in targets {
            let ref_id = target["refId"].as_str().unwrap();
            let expr = fill(target["expr"].as_str().unwrap());
            assert!(
                !expr.contains('$'),
                "{title}/{ref_id}: unfilled variable in {expr}"
            );
            let want = expected(title, ref_id);
            let values: Vec<f64> = if target["instant"] == true {
                match engine.instant(&db, &expr, end).unwrap().value {
                    Value::Vector(v) => v.iter().map(|s| s.value).collect(),
                    other => panic!("{title}/{ref_id}: {other:?}"),
                }
            } else {
                match engine
                    .range(&db, &expr, end - 300_000, end, 60_000)
                    .unwrap()
                    .value
                {
                    Value::Matrix(m) => {
                        assert_eq!(m.len(), 1, "{title}/{ref_id}: one series");
                        assert_eq!(m[0].samples.len(), 6, "{title}/{ref_id}: every step");
                        m[0].samples.iter().map(|s| s.value).collect()
                    }
                    other => panic!("{title}/{ref_id}: {other:?}"),
                }
            };
            assert!(!values.is_empty(), "{title}/{ref_id}: no data from {expr}");
            for v in values {
                assert!(
                    (v - want).abs() < 1e-9,
                    "{title}/{ref_id}: {v}, not {want}: {expr}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 19, "every query of the dashboard");
    // The variables' queries ask for label values the data has.
    let vars = dashboard["templating"]["list"].as_array().unwrap();
    let queries: Vec<&str> = vars
        .iter()
        .filter_map(|v| v["definition"].as_str())
        .collect();
    assert_eq!(
        queries,
        [
            "label_values(function_calls_total, module)",
            "label_values(function_calls_total{module=~\"$module\"}, function)"
        ]
    );
}
