//! Engine behaviour the conformance scripts do not pin down: limits, cancellation,
//! result types, both name-removal modes, per-query lookback.

use std::time::Duration;

use tally_model::{Labels, Sample};
use tally_storage::{MemStorage, Storage};

use super::*;

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

/// `a_total{x="1"}` and `b_total{x="1"}` counting up by 60 a minute for 10 minutes.
fn store() -> MemStorage {
    let db = MemStorage::new();
    let mut app = db.appender();
    for name in ["a_total", "b_total"] {
        for m in 0..=10 {
            app.append(
                &l(&[("__name__", name), ("x", "1")]),
                Sample::new(m * 60_000, m as f64 * 60.0),
            )
            .unwrap();
        }
    }
    app.commit().unwrap();
    db
}

fn engine(delayed: bool) -> Engine {
    Engine::new(EngineConfig {
        delayed_name_removal: delayed,
        ..EngineConfig::default()
    })
}

fn vector(r: QueryResult) -> Vec<VectorSample> {
    match r.value {
        Value::Vector(v) => v,
        other => panic!("not a vector: {other:?}"),
    }
}

#[test]
fn name_removal_modes() {
    let db = store();
    let q = r#"label_replace(rate(a_total[5m]), "n", "$1", "__name__", "(.+)")"#;
    let immediate = vector(engine(false).instant(&db, q, 600_000).unwrap());
    assert_eq!(immediate[0].labels, l(&[("x", "1")]));
    let delayed = vector(engine(true).instant(&db, q, 600_000).unwrap());
    assert_eq!(delayed[0].labels, l(&[("n", "a_total"), ("x", "1")]));

    // Dropping the names makes the two rates collide: an error at once without delayed
    // removal, fine when the sum comes first with it.
    let q = r#"sum(rate({__name__=~"a_total|b_total"}[5m]))"#;
    let e = engine(false).instant(&db, q, 600_000).unwrap_err();
    assert!(matches!(e, QueryError::DuplicateLabelset), "{e}");
    let v = vector(engine(true).instant(&db, q, 600_000).unwrap());
    assert!((v[0].value - 2.0).abs() < 1e-9);
    let e = engine(true)
        .instant(&db, r#"rate({__name__=~"a_total|b_total"}[5m])"#, 600_000)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "vector cannot contain metrics with the same labelset"
    );

    // Unary minus merges series that do not collide in time.
    let db2 = MemStorage::new();
    let mut app = db2.appender();
    app.append(&l(&[("__name__", "a"), ("j", "x")]), Sample::new(0, 2.0))
        .unwrap();
    app.append(
        &l(&[("__name__", "b"), ("j", "x")]),
        Sample::new(1_200_000, 4.0),
    )
    .unwrap();
    app.commit().unwrap();
    for delayed in [false, true] {
        let r = engine(delayed)
            .range(&db2, r#"-{j="x"}"#, 0, 1_200_000, 600_000)
            .unwrap();
        let Value::Matrix(m) = r.value else { panic!() };
        assert_eq!(m.len(), 1, "delayed={delayed}");
        assert_eq!(m[0].labels, l(&[("j", "x")]));
        assert_eq!(m[0].samples.len(), 2);
    }
}

#[test]
fn sample_limit_fails_like_prometheus() {
    let db = store();
    let small = Engine::new(EngineConfig {
        max_samples: 5,
        ..EngineConfig::default()
    });
    let e = small.instant(&db, "a_total[10m]", 600_000).unwrap_err();
    assert_eq!(
        e.to_string(),
        "query processing would load too many samples into memory in query execution"
    );
    assert!(small.instant(&db, "a_total", 600_000).is_ok());
    let e = small.range(&db, "a_total", 0, 600_000, 60_000).unwrap_err();
    assert!(matches!(e, QueryError::TooManySamples(_)));
}

#[test]
fn cancellation_and_timeout() {
    let db = store();
    let q = Query::parse("sum(a_total)").unwrap();
    let token = CancelToken::new();
    token.cancel();
    let opts = QueryOptions {
        cancel: Some(token),
        ..QueryOptions::default()
    };
    let e = Engine::default()
        .exec_instant(&db, &q, 0, &opts)
        .unwrap_err();
    assert_eq!(e.to_string(), "query was canceled in expression evaluation");
    let hasty = Engine::new(EngineConfig {
        timeout: Some(Duration::ZERO),
        ..EngineConfig::default()
    });
    let e = hasty.instant(&db, "sum(a_total)", 0).unwrap_err();
    assert_eq!(e.to_string(), "query timed out in expression evaluation");
}

#[test]
fn result_types() {
    let db = store();
    let e = Engine::default();
    assert!(matches!(
        e.instant(&db, "1 + 2", 0).unwrap().value,
        Value::Scalar { value, .. } if value == 3.0
    ));
    assert!(matches!(
        e.instant(&db, r#""hi""#, 0).unwrap().value,
        Value::String { value, .. } if value == "hi"
    ));
    let Value::Matrix(m) = e
        .instant(&db, r#"{__name__=~".+_total"}[2m]"#, 600_000)
        .unwrap()
        .value
    else {
        panic!()
    };
    assert_eq!(m.len(), 2);
    assert!(m[0].labels < m[1].labels);
    assert_eq!(
        m[0].samples,
        [Sample::new(540_000, 540.0), Sample::new(600_000, 600.0)]
    );
    let err = e.range(&db, "a_total[5m]", 0, 60_000, 1000).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"
    );
    assert!(e.range(&db, "a_total", 0, 60_000, 0).is_err());
    assert!(matches!(
        e.instant(&db, "sum(", 0).unwrap_err(),
        QueryError::Parse { .. }
    ));
}

#[test]
fn at_start_and_end_in_range_queries() {
    let db = store();
    let r = Engine::default()
        .range(
            &db,
            "a_total @ end() - a_total @ start()",
            60_000,
            300_000,
            60_000,
        )
        .unwrap();
    let Value::Matrix(m) = r.value else { panic!() };
    assert_eq!(m.len(), 1);
    assert!(m[0].samples.iter().all(|s| s.value == 240.0));
    assert_eq!(m[0].samples.len(), 5);
}

#[test]
fn per_query_lookback() {
    let db = store();
    let q = Query::parse("a_total").unwrap();
    let e = Engine::default();
    // The last sample is at 10m: 4m later it is still seen with the 5m default...
    assert_eq!(
        vector(
            e.exec_instant(&db, &q, 840_000, &QueryOptions::default())
                .unwrap()
        )
        .len(),
        1
    );
    // ...but not with a 1m lookback.
    let opts = QueryOptions {
        lookback_delta: Some(Duration::from_secs(60)),
        ..QueryOptions::default()
    };
    assert!(vector(e.exec_instant(&db, &q, 840_000, &opts).unwrap()).is_empty());
}

#[test]
fn annotations_point_into_the_query() {
    let db = MemStorage::new();
    let mut app = db.appender();
    for m in 0..=5 {
        app.append(&l(&[("__name__", "g")]), Sample::new(m * 60_000, m as f64))
            .unwrap();
    }
    app.commit().unwrap();
    let r = Engine::default()
        .instant(&db, "sum(rate(g[5m]))", 300_000)
        .unwrap();
    assert_eq!(
        r.annotations.infos(),
        ["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"g\" (1:10)"]
    );
    // Said once over a range, and only of series rate gave a value for: `h` has one
    // sample in every window, so no rate.
    let mut app = db.appender();
    app.append(&l(&[("__name__", "h")]), Sample::new(300_000, 1.0))
        .unwrap();
    app.commit().unwrap();
    let r = Engine::default()
        .range(&db, "rate({__name__=~\"g|h\"}[5m])", 0, 300_000, 60_000)
        .unwrap();
    assert_eq!(
        r.annotations.infos(),
        ["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"g\" (1:6)"]
    );
}

#[test]
fn huge_step_counts_hit_the_limit_before_allocating() {
    let db = store();
    let small = Engine::new(EngineConfig {
        max_samples: 1000,
        ..EngineConfig::default()
    });
    let e = small.range(&db, "vector(1)", 0, 1 << 53, 1).unwrap_err();
    assert!(matches!(e, QueryError::TooManySamples(_)), "{e}");
    // A selector with nothing to return is fine over many steps.
    assert!(small.range(&db, "nothing", 0, 100_000, 1).is_ok());
}
