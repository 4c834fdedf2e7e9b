//! Queries as users mistype them never panic the engine: every expression of
//! Prometheus' PromQL test scripts (and a built-in few when the scripts are not checked
//! out), and byte-level mutations of them (proptest), are
//! parsed and evaluated, instant and over a range, against a small store with tight
//! limits. Any answer, or an error, is fine; a panic fails with the query that caused it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;
use tally_model::{Labels, Sample};
use tally_promql::{Engine, EngineConfig};
use tally_storage::{MemStorage, Storage};

/// Expressions of every kind, so the properties have a corpus even where the scripts
/// are not checked out beside the project.
const BUILT_IN: &[&str] = &[
    "http_requests_total",
    "http_requests_total{job=\"api\", instance=~\"a|b\"} offset 5m",
    "rate(http_requests_total[5m] @ 300)",
    "sum by (job) (rate(http_requests_total[5m]))",
    "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
    "max_over_time(deriv(metric[5m])[10m:1m])",
    "topk(2, http_requests_total) or on(job) group_left up",
    "label_replace(up, \"x\", \"$1\", \"job\", \"(.*)\")",
    "count_values(\"v\", metric) > bool 1",
    "quantile_over_time(0.5, metric[1h]) - scalar(sum(up))",
    "absent(nothing{job=\"x\"})",
    "predict_linear(metric[10m], 3600) * -1 ^ 2 % 3",
    "sort_desc(avg without (instance) (http_requests_total))",
    "time() - timestamp(up) atan2 vector(1)",
];

/// [`BUILT_IN`] and the expressions after `eval ... at T` / `eval ... step S` in
/// Prometheus' scripts (`../shared/promql-tests`) when they are there.
fn corpus() -> Vec<String> {
    let mut out: Vec<String> = BUILT_IN.iter().map(|s| (*s).to_owned()).collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/promql-tests");
    let entries = std::fs::read_dir(&dir).into_iter().flatten().flatten();
    for entry in entries {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines().map(str::trim_start) {
            if !line.starts_with("eval") {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let after = words
                .iter()
                .position(|w| *w == "at" || *w == "step")
                .map(|i| i + 2);
            if let Some(i) = after.filter(|i| *i < words.len()) {
                out.push(words[i..].join(" "));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn storage() -> MemStorage {
    let db = MemStorage::new();
    let mut app = db.appender();
    let series: [&[(&str, &str)]; 6] = [
        &[
            ("__name__", "http_requests_total"),
            ("job", "api"),
            ("instance", "a"),
        ],
        &[
            ("__name__", "http_requests_total"),
            ("job", "api"),
            ("instance", "b"),
        ],
        &[("__name__", "metric"), ("group", "x")],
        &[("__name__", "up"), ("job", "api")],
        &[
            ("__name__", "request_duration_seconds_bucket"),
            ("le", "0.1"),
        ],
        &[
            ("__name__", "request_duration_seconds_bucket"),
            ("le", "+Inf"),
        ],
    ];
    for (i, pairs) in series.iter().enumerate() {
        let labels = Labels::from_pairs(pairs.iter().copied()).unwrap();
        for k in 0..40i64 {
            let v = if i == 2 {
                (k % 7) as f64 - 3.0
            } else {
                (k * (i as i64 + 1)) as f64
            };
            app.append(&labels, Sample::new(k * 30_000, v)).unwrap();
        }
    }
    app.commit().unwrap();
    db
}

fn engine() -> Engine {
    Engine::new(EngineConfig {
        max_samples: 200_000,
        timeout: Some(Duration::from_secs(2)),
        ..EngineConfig::default()
    })
}

/// Evaluates `query` every way; panics name the query.
fn evaluate(engine: &Engine, db: &MemStorage, query: &str) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let _ = engine.instant(db, query, 600_000);
        let _ = engine.range(db, query, 0, 1_200_000, 60_000);
    }));
    if outcome.is_err() {
        panic!("the engine panicked on {query:?}");
    }
}

#[test]
fn every_script_expression_evaluates_without_panicking() {
    let corpus = corpus();
    let (engine, db) = (engine(), storage());
    for query in &corpus {
        evaluate(&engine, &db, query);
        // At the ends of time, as an API call with an absurd `time` asks (refused), and
        // at the last times accepted.
        for t in [i64::MIN, i64::MAX, -(1 << 53), 1 << 53] {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let _ = engine.instant(&db, query, t);
                let _ = engine.range(&db, query, t, t, 60_000);
            }));
            assert!(outcome.is_ok(), "the engine panicked on {query:?} at {t}");
        }
    }
}

#[test]
fn queries_that_once_panicked_are_errors_now() {
    let (engine, db) = (engine(), storage());
    let cases = [
        // `@ -1e308` overflowed the subquery's window arithmetic.
        (
            "sum_over_time(sum_over_time(metric[10s])[100s:25s] @ -1e308)",
            "timestamp out of bounds for @ modifier",
        ),
        // promql-parser overflows `Duration` on this range and panics.
        (
            "changes(http_requests_total[1e30800])",
            "could not be parsed",
        ),
        (
            "metric offset 300000y",
            "offset 9460800000000s is out of range",
        ),
        (
            "rate(metric[300000y])",
            "range 9460800000000s is out of range",
        ),
        ("max_over_time(metric[1h:300000y])", "subquery step"),
    ];
    for (query, message) in cases {
        evaluate(&engine, &db, query);
        let err = engine.instant(&db, query, 600_000).unwrap_err().to_string();
        assert!(err.contains(message), "{query}: {err}");
    }
    // Bounds still leave every time Prometheus can express: its durations end at 292 years.
    assert!(engine.instant(&db, "metric offset 290y", 600_000).is_ok());
    assert!(engine
        .instant(&db, "metric @ 9000000000000", 600_000)
        .is_ok());
    let err = engine
        .instant(&db, "metric", i64::MAX)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("time 9223372036854775s is out of range"),
        "{err}"
    );
}

/// A mutation: at `at` (a fraction of the length), delete `del` bytes and insert `ins`.
fn mutated(query: &str, at: f64, del: usize, ins: &str) -> String {
    let bytes = query.as_bytes();
    let start = ((bytes.len() as f64) * at) as usize;
    let end = (start + del).min(bytes.len());
    let mut out = bytes[..start].to_vec();
    out.extend_from_slice(ins.as_bytes());
    out.extend_from_slice(&bytes[end..]);
    String::from_utf8_lossy(&out).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("TALLY_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_expressions_evaluate_without_panicking(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec(
            (0.0f64..=1.0, 0usize..4, prop::sample::select(vec![
                "", "(", ")", "[", "]", "{", "}", ",", "@", "offset", " by ", " without ",
                " on(", " ignoring(", "group_left", "group_right", "[5m:1s]", "[0s]",
                "1e308", "-1e308", "NaN", "Inf", "0", "-", "^", "%", "atan2", "bool",
                "\"", "=~", "!~", "start()", "end()", "step()", "[1y:1ms]", "/", "\\", "é",
                "histogram_quantile(", "label_replace(", "count_values(", "topk(", "sort_by_label(",
                "quantile_over_time(", "absent(", "scalar(", "vector(", "time()", "and", "or", "unless",
            ])),
            1..4,
        ),
    ) {
        let corpus = corpus();
        let mut query = pick.get(&corpus).clone();
        for (at, del, ins) in edits {
            query = mutated(&query, at, del, ins);
        }
        evaluate(&engine(), &storage(), &query);
    }
}
