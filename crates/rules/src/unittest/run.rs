//! Running one test group as promtool does: input series loaded step by step, every
//! group evaluated at each `evaluation_interval` from 0 to the last `eval_time`, alerts
//! compared at the step each `eval_time` falls in, expressions queried at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tally_model::{Labels, Sample};
use tally_promql::{Engine, EngineConfig, Query, QueryOptions, Value};
use tally_storage::{MemStorage, Storage};

use super::format::{
    alerts_list, indent_lines, model_duration, samples_list, LabelsAndAnnotations,
};
use super::input::TestGroup;
use super::TestFailure;
use crate::eval::{AlertState, DiscardSender, Manager, ManagerConfig, ManualClock};
use crate::file::RuleFile;

/// What a test group needs from its file.
pub(crate) struct GroupSetup<'a> {
    pub rule_files: &'a [RuleFile],
    pub evaluation_interval_ms: i64,
    pub group_eval_order: &'a [String],
}

/// Runs `tg`; returns its failures (empty: passed).
pub(crate) fn run_group(tg: &TestGroup, setup: &GroupSetup<'_>) -> Vec<TestFailure> {
    let eval_ms = setup.evaluation_interval_ms;
    let interval_ms = tg
        .interval
        .map(|d| d.0)
        .filter(|i| *i > 0)
        .unwrap_or(eval_ms);
    let mut failures = Vec::new();

    // Input series, loaded up to each evaluation time.
    let mut pending: Vec<(Labels, Sample)> = Vec::new();
    for s in &tg.input_series {
        match tally_promql::promqltest::series_samples(&s.series, &s.values, interval_ms) {
            Ok((labels, samples)) => {
                pending.extend(samples.into_iter().map(|x| (labels.clone(), x)))
            }
            Err(e) => {
                return vec![TestFailure::Setup(format!(
                    "error in input series {:?}: {e}",
                    s.series
                ))]
            }
        }
    }
    pending.sort_by_key(|(_, s)| s.timestamp_ms);
    let mut pending = pending.into_iter().peekable();

    let storage = Arc::new(MemStorage::new());
    let clock = Arc::new(ManualClock::new(0));
    let mut config = ManagerConfig::new(storage.clone(), clock.clone(), Arc::new(DiscardSender));
    config.restore_state = false;
    config.engine = test_engine(eval_ms);
    config.evaluation_interval_ms = interval_ms;
    config.external_labels = Labels::from_pairs(tg.external_labels.iter()).unwrap_or_default();
    config.external_url = tg.external_url.clone();
    let engine = config.engine.clone();
    let manager = Manager::new(config);
    manager.update(setup.rule_files.to_vec());

    // Alert tests by time.
    let mut alert_times: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, at) in tg.alert_rule_test.iter().enumerate() {
        if at.alertname.is_empty() {
            let in_group = if tg.name.is_empty() {
                String::new()
            } else {
                format!(" (in TestGroup {})", tg.name)
            };
            return vec![TestFailure::Setup(format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                model_duration(at.eval_time.0)
            ))];
        }
        alert_times.entry(at.eval_time.0).or_default().push(i);
    }
    let max_t = tg
        .alert_rule_test
        .iter()
        .map(|a| a.eval_time.0)
        .chain(tg.promql_expr_test.iter().map(|e| e.eval_time.0))
        .max()
        .unwrap_or(0);
    let mut alert_times = alert_times.into_iter().peekable();

    let mut ts = 0i64;
    while ts <= max_t {
        let mut app = storage.appender();
        while let Some((labels, sample)) = pending.next_if(|(_, s)| s.timestamp_ms <= ts) {
            if let Err(e) = app.append(&labels, sample) {
                failures.push(TestFailure::Setup(e.to_string()));
            }
        }
        if let Err(e) = app.commit() {
            failures.push(TestFailure::Setup(e.to_string()));
            return failures;
        }
        clock.set(ts);
        manager.eval_all_at(ts, setup.group_eval_order);
        let errors = rule_errors(&manager, ts);
        if !errors.is_empty() {
            failures.extend(errors);
            return failures;
        }
        while let Some((t, tests)) = alert_times.next_if(|(t, _)| ts <= *t && *t < ts + eval_ms) {
            for i in tests {
                let at = &tg.alert_rule_test[i];
                let got = firing_alerts(&manager, &at.alertname);
                let mut exp: Vec<LabelsAndAnnotations> = at
                    .exp_alerts
                    .iter()
                    .map(|a| LabelsAndAnnotations {
                        labels: Labels::from_pairs(a.exp_labels.iter())
                            .and_then(|l| l.with("alertname", &at.alertname))
                            .unwrap_or_default(),
                        annotations: a.exp_annotations.clone(),
                    })
                    .collect();
                exp.sort();
                if exp != got {
                    failures.push(TestFailure::Alerts {
                        test_name: tg.name.clone(),
                        alertname: at.alertname.clone(),
                        time: model_duration(t),
                        exp: indent_lines(&alerts_list(&exp), "            "),
                        got: indent_lines(&alerts_list(&got), "            "),
                    });
                }
            }
        }
        ts += eval_ms;
    }

    for et in &tg.promql_expr_test {
        let time = model_duration(et.eval_time.0);
        let got = match query(&engine, storage.as_ref(), &et.expr, et.eval_time.0) {
            Ok(v) => v,
            Err(err) => {
                failures.push(TestFailure::ExprError {
                    expr: et.expr.clone(),
                    time,
                    err,
                });
                continue;
            }
        };
        let mut exp = Vec::new();
        let mut bad = None;
        for s in &et.exp_samples {
            match tally_promql::promqltest::parse_metric(&s.labels) {
                Ok(l) => exp.push((l, s.value)),
                Err(e) => {
                    bad = Some(format!("labels {:?}: {e}", s.labels));
                    break;
                }
            }
        }
        if let Some(err) = bad {
            failures.push(TestFailure::ExprError {
                expr: et.expr.clone(),
                time,
                err,
            });
            continue;
        }
        let mut got = got;
        exp.sort_by(|a, b| a.0.cmp(&b.0));
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let same =
            exp.len() == got.len() && exp.iter().zip(&got).all(|(e, g)| e.0 == g.0 && e.1 == g.1);
        if !same {
            failures.push(TestFailure::ExprMismatch {
                expr: et.expr.clone(),
                time,
                exp: samples_list(&exp),
                got: samples_list(&got),
            });
        }
    }
    failures
}

/// The engine promtool's test suite uses: 5m lookback, at most 10000 samples per query,
/// 100 s timeout, subqueries without a step stepping by the evaluation interval.
fn test_engine(eval_ms: i64) -> Engine {
    Engine::new(EngineConfig {
        lookback_delta: Duration::from_secs(300),
        max_samples: 10_000,
        timeout: Some(Duration::from_secs(100)),
        default_subquery_step: Duration::from_millis(eval_ms.max(1) as u64),
        delayed_name_removal: false,
    })
}

/// Errors of the rules after an evaluation at `ts`, in group and rule order.
fn rule_errors(manager: &Manager, ts: i64) -> Vec<TestFailure> {
    manager.with_groups(|groups| {
        groups
            .iter()
            .flat_map(|g| g.rules.iter())
            .filter_map(|r| {
                r.status.last_error.as_ref().map(|e| TestFailure::RuleEval {
                    rule: r.source.name().to_owned(),
                    time_ms: ts,
                    err: e.clone(),
                })
            })
            .collect()
    })
}

/// The firing alerts of every rule named `alertname`, sorted.
fn firing_alerts(manager: &Manager, alertname: &str) -> Vec<LabelsAndAnnotations> {
    let mut out: Vec<LabelsAndAnnotations> = manager.with_groups(|groups| {
        groups
            .iter()
            .flat_map(|g| g.rules.iter())
            .filter_map(|r| r.alerting())
            .filter(|a| a.name == alertname)
            .flat_map(|a| a.active.values())
            .filter(|a| a.state == AlertState::Firing)
            .map(|a| LabelsAndAnnotations {
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
            })
            .collect()
    });
    out.sort();
    out
}

/// Runs `expr` at `t` as promtool does: a vector or a scalar (as one sample without
/// labels).
fn query(
    engine: &Engine,
    storage: &dyn Storage,
    expr: &str,
    t: i64,
) -> Result<Vec<(Labels, f64)>, String> {
    let q = Query::parse(expr).map_err(|e| e.to_string())?;
    let r = engine
        .exec_instant(storage, &q, t, &QueryOptions::default())
        .map_err(|e| e.to_string())?;
    match r.value {
        Value::Vector(v) => Ok(v.into_iter().map(|s| (s.labels, s.value)).collect()),
        Value::Scalar { value, .. } => Ok(vec![(Labels::new(), value)]),
        _ => Err("rule result is not a vector or scalar".to_owned()),
    }
}

/// Group names that appear twice in `order`.
pub(crate) fn repeated(order: &[String]) -> Option<&str> {
    let mut seen = BTreeSet::new();
    order
        .iter()
        .find(|n| !seen.insert(n.as_str()))
        .map(String::as_str)
}
