//! Running a parsed script against [`MemStorage`] and the engine.

use tally_model::{Labels, Sample};
use tally_storage::{MemStorage, Storage};

use super::compare::{check_all_annotations, compare};
use super::script::{Command, EvalCmd, Expected, LoadSeries};
use super::series::Item;
use super::EvalOutcome;
use crate::engine::{Engine, Query, QueryOptions};
use crate::value::{Value, VectorSample};

/// Functions whose result depends on the evaluation time even with `@`: their evals
/// get no `@` variants.
const TIME_DEPENDENT: &[&str] = &[
    "time",
    "timestamp",
    "predict_linear",
    "start",
    "end",
    "range",
    "step",
    "year",
    "month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "hour",
    "minute",
];

/// Appends a load block's samples.
fn load(db: &MemStorage, interval: i64, series: &[LoadSeries]) {
    let mut app = db.appender();
    for s in series {
        for (i, item) in s.items.iter().enumerate() {
            let t = i as i64 * interval;
            let sample = match item {
                Item::Float(v) => Sample::new(t, *v),
                Item::Stale => Sample::stale(t),
                Item::Missing | Item::Histogram => continue,
            };
            // A refused sample (out of order) is left out, as Prometheus' store would.
            let _ = app.append(&s.labels, sample);
        }
    }
    let _ = app.commit();
}

/// Runs every command; returns one outcome per eval.
pub(crate) fn run_commands(engine: &Engine, cmds: &[Command]) -> Vec<EvalOutcome> {
    let mut db = MemStorage::new();
    let mut out = Vec::new();
    for cmd in cmds {
        match cmd {
            Command::Clear => db = MemStorage::new(),
            Command::Load { interval, series } => load(&db, *interval, series),
            Command::Eval(e) => out.push(EvalOutcome {
                line: e.line,
                header: e.header.clone(),
                expr: e.expr.clone(),
                failure: run_eval(engine, &db, e).err(),
            }),
        }
    }
    out
}

/// Checks the outcome of one query run against the eval's failure expectation;
/// `Ok(None)` means it failed as expected and nothing more is checked.
fn check_failure<'r>(
    cmd: &EvalCmd,
    res: &'r Result<crate::engine::QueryResult, crate::error::QueryError>,
    what: &str,
) -> Result<Option<&'r crate::engine::QueryResult>, String> {
    match (res, &cmd.fail) {
        (Err(e), Some(m)) => {
            let msg = e.to_string();
            if m.matches(&msg) {
                Ok(None)
            } else {
                Err(format!(
                    "{what}: failed with {msg:?}, which is not the expected error"
                ))
            }
        }
        (Err(e), None) => Err(format!("{what}: query failed: {e}")),
        (Ok(_), Some(_)) => Err(format!("{what}: expected the query to fail, it succeeded")),
        (Ok(r), None) => Ok(Some(r)),
    }
}

fn run_eval(engine: &Engine, db: &dyn Storage, cmd: &EvalCmd) -> Result<(), String> {
    let query = Query::parse(&cmd.expr)
        .map_err(|e| format!("the PromQL parser cannot parse the expression: {e}"))?;
    let opts = QueryOptions::default();
    if let Some((start, end, step)) = cmd.range {
        let res = engine.exec_range(db, &query, start, end, step, &opts);
        let Some(r) = check_failure(cmd, &res, "range query")? else {
            return Ok(());
        };
        check_all_annotations(&cmd.warn, &cmd.info, &r.annotations)?;
        return compare(&cmd.expected, &r.value, cmd.ordered, cmd.range);
    }
    let mut runs = vec![(query.clone(), cmd.at, "instant query".to_owned())];
    if !query.calls_any(TIME_DEPENDENT) {
        let pinned = query.pinned_at(cmd.at);
        let t = cmd.at;
        let times = if t == 0 {
            vec![-1000, 0, 1000]
        } else {
            vec![-10 * t, 0, t / 5, t, 10 * t]
        };
        for et in times {
            runs.push((
                pinned.clone(),
                et,
                format!("with @ {} evaluated at {}", t, et),
            ));
        }
    }
    for (q, t, what) in runs {
        let res = engine.exec_instant(db, &q, t, &opts);
        let Some(r) = check_failure(cmd, &res, &what)? else {
            continue;
        };
        check_all_annotations(&cmd.warn, &cmd.info, &r.annotations)
            .map_err(|e| format!("{what}: {e}"))?;
        compare(&cmd.expected, &r.value, cmd.ordered, cmd.range_vector)
            .map_err(|e| format!("{what}: {e}"))?;
        let skip_range = cmd.range_vector.is_some()
            || matches!(cmd.expected, Expected::String(_))
            || q.calls_any(&["start", "end", "range", "step"]);
        if !skip_range {
            range_mode_check(engine, db, cmd, &q, t, &r.value)
                .map_err(|e| format!("{what}, in range mode: {e}"))?;
        }
    }
    Ok(())
}

/// Runs the query as a range query around `t` and checks its points at `t`.
fn range_mode_check(
    engine: &Engine,
    db: &dyn Storage,
    cmd: &EvalCmd,
    q: &Query,
    t: i64,
    instant: &Value,
) -> Result<(), String> {
    let res = engine
        .exec_range(
            db,
            q,
            t - 60_000,
            t + 60_000,
            60_000,
            &QueryOptions::default(),
        )
        .map_err(|e| format!("query failed: {e}"))?;
    if cmd.ordered {
        return Ok(());
    }
    let Value::Matrix(m) = res.value else {
        return Err("a range query did not return a matrix".to_owned());
    };
    if m.windows(2).any(|w| w[0].labels > w[1].labels) {
        return Err("matrix is not sorted by labels".to_owned());
    }
    let vector: Vec<VectorSample> = m
        .iter()
        .filter_map(|s| {
            s.samples
                .iter()
                .find(|p| p.timestamp_ms == t)
                .map(|p| VectorSample {
                    labels: s.labels.clone(),
                    timestamp_ms: t,
                    value: p.value,
                })
        })
        .collect();
    let value = if matches!(instant, Value::Scalar { .. }) {
        Value::Scalar {
            timestamp_ms: t,
            value: vector.first().map_or(f64::NAN, |s| s.value),
        }
    } else {
        Value::Vector(vector)
    };
    compare(&cmd.expected, &value, false, None)
}

/// Labels helper for tests.
#[allow(dead_code)]
pub(crate) fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap_or_default()
}
