//! [`Group`] at run time: its rules in order, one evaluation at a time, the series each
//! rule wrote last (for staleness markers), and its schedule.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tally_model::{Labels, Sample};
use tally_promql::Query;
use tally_storage::Storage;

use super::alert::{Alert, AlertingRule};
use super::recording::RecordingRule;
use super::rule::{EvalEnv, RuleStatus};
use super::EvalError;
use crate::file::{Rule, RuleGroup, RuleKind};

/// A rule compiled for evaluation.
#[derive(Debug, Clone)]
pub(crate) enum Compiled {
    Recording(RecordingRule),
    Alerting(AlertingRule),
}

/// One rule of a group with its run-time state.
#[derive(Debug, Clone)]
pub(crate) struct RuleEntry {
    /// The rule as written.
    pub source: Rule,
    pub compiled: Compiled,
    pub status: RuleStatus,
    /// Series written by the last successful evaluation.
    pub series_prev: BTreeSet<Labels>,
}

impl RuleEntry {
    /// The alerting rule, if this is one.
    pub fn alerting(&self) -> Option<&AlertingRule> {
        match &self.compiled {
            Compiled::Alerting(a) => Some(a),
            Compiled::Recording(_) => None,
        }
    }

    /// Prometheus' identity of a rule across reloads: its name and its own labels.
    pub fn identity(&self) -> (String, Vec<(String, String)>) {
        (
            self.source.name().to_owned(),
            self.source
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }
}

/// Counters of a group, kept across reloads of the same group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupCounters {
    /// Rule evaluations (`prometheus_rule_evaluations_total`).
    pub evaluations: u64,
    /// Rule evaluations that failed (`prometheus_rule_evaluation_failures_total`).
    pub evaluation_failures: u64,
    /// Group iterations scheduled, missed ones included
    /// (`prometheus_rule_group_iterations_total`).
    pub iterations: u64,
    /// Iterations skipped because the previous one ran late
    /// (`prometheus_rule_group_iterations_missed_total`).
    pub iterations_missed: u64,
    /// Samples the last evaluation produced
    /// (`prometheus_rule_group_last_evaluation_samples`).
    pub last_samples: u64,
}

/// A group at run time.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub file: String,
    pub source: RuleGroup,
    pub interval_ms: i64,
    pub rules: Vec<RuleEntry>,
    /// Series of removed rules, to be marked stale at the next evaluation.
    pub stale_series: Vec<Labels>,
    /// When the last evaluation started (clock time).
    pub last_evaluation_ms: Option<i64>,
    /// The last evaluation's timestamp (aligned to the schedule).
    pub last_eval_timestamp_ms: Option<i64>,
    pub evaluation_duration: Duration,
    /// The next evaluation timestamp.
    pub next_eval_ms: i64,
    /// Restore `for` state after the second evaluation (groups loaded at start).
    pub should_restore: bool,
    pub evaluations_since_start: u64,
    pub counters: GroupCounters,
}

/// What one group evaluation leaves for the caller: alerts to send.
#[derive(Debug, Default)]
pub(crate) struct GroupOutcome {
    /// Alerts to send with the expression of their rule.
    pub to_send: Vec<(String, Alert)>,
}

impl Group {
    /// Compiles `source` (a group of file `file`); `default_interval_ms` applies when
    /// the group has none. Alerting rules start `restored` as given.
    pub fn new(file: &str, source: &RuleGroup, default_interval_ms: i64, restored: bool) -> Self {
        let interval_ms = source
            .interval_ms
            .filter(|i| *i > 0)
            .unwrap_or(default_interval_ms)
            .max(1);
        let rules = source
            .rules
            .iter()
            .map(|r| compile(source, r, restored))
            .collect();
        Self {
            file: file.to_owned(),
            source: source.clone(),
            interval_ms,
            rules,
            stale_series: Vec::new(),
            last_evaluation_ms: None,
            last_eval_timestamp_ms: None,
            evaluation_duration: Duration::ZERO,
            next_eval_ms: 0,
            should_restore: false,
            evaluations_since_start: 0,
            counters: GroupCounters::default(),
        }
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.source.name
    }

    /// The query offset in milliseconds.
    pub fn query_offset_ms(&self) -> i64 {
        self.source.query_offset_ms.unwrap_or(0).max(0)
    }

    /// Whether `other` is the same group with the same rules (positions ignored): a
    /// reload then keeps this group as it is.
    pub fn same_definition(&self, file: &str, other: &RuleGroup, default_interval_ms: i64) -> bool {
        let strip = |g: &RuleGroup| {
            let mut g = g.clone();
            g.line = 0;
            for r in &mut g.rules {
                r.line = 0;
            }
            g
        };
        let other_interval = other
            .interval_ms
            .filter(|i| *i > 0)
            .unwrap_or(default_interval_ms)
            .max(1);
        self.file == file
            && self.interval_ms == other_interval
            && strip(&self.source) == strip(other)
    }

    /// Takes over the state of `from`, the previous version of this group: evaluation
    /// times, counters, and for each rule matched by name and labels (in order among
    /// equals) the series it wrote and its alerts. Series of rules that are gone are
    /// marked stale at the next evaluation.
    pub fn copy_state(&mut self, from: &Group) {
        self.last_evaluation_ms = from.last_evaluation_ms;
        self.last_eval_timestamp_ms = from.last_eval_timestamp_ms;
        self.evaluation_duration = from.evaluation_duration;
        self.counters = from.counters.clone();
        let mut used = vec![false; from.rules.len()];
        for rule in &mut self.rules {
            let id = rule.identity();
            let Some(fi) =
                (0..from.rules.len()).find(|&i| !used[i] && from.rules[i].identity() == id)
            else {
                continue;
            };
            used[fi] = true;
            let old = &from.rules[fi];
            rule.series_prev = old.series_prev.clone();
            if let (Compiled::Alerting(new), Compiled::Alerting(old)) =
                (&mut rule.compiled, &old.compiled)
            {
                new.active = old.active.clone();
            }
        }
        self.stale_series = from.stale_series.clone();
        for (i, old) in from.rules.iter().enumerate() {
            if !used[i] {
                self.stale_series.extend(old.series_prev.iter().cloned());
            }
        }
    }

    /// Every series the group's rules wrote at their last evaluation, and the ones still
    /// to be marked stale: what must go stale when the group is removed.
    pub fn all_series(&self) -> Vec<Labels> {
        let mut out = self.stale_series.clone();
        for r in &self.rules {
            out.extend(r.series_prev.iter().cloned());
        }
        out
    }

    /// Evaluates every rule in order at `ts`; `now_ms` is the clock time (for
    /// `lastEvaluation`).
    pub fn eval(
        &mut self,
        env: &EvalEnv<'_>,
        ts: i64,
        now_ms: i64,
        resend_delay_ms: i64,
    ) -> GroupOutcome {
        let started = Instant::now();
        let mut outcome = GroupOutcome::default();
        let offset = self.query_offset_ms();
        let limit = self.source.limit;
        let interval = self.interval_ms;
        let mut samples_total = 0u64;
        for rule in &mut self.rules {
            let rule_started = Instant::now();
            self.counters.evaluations += 1;
            let result = match &mut rule.compiled {
                Compiled::Recording(r) => r.eval(env, ts, offset, limit),
                Compiled::Alerting(a) => a.eval(env, ts, offset, limit),
            };
            rule.status.last_evaluation_ms = Some(now_ms);
            match result {
                Err(e) => {
                    rule.status.fail(&e);
                    self.counters.evaluation_failures += 1;
                }
                Ok(samples) => {
                    rule.status.succeed();
                    samples_total += samples.len() as u64;
                    if let Compiled::Alerting(a) = &mut rule.compiled {
                        let expr = rule.source.expr.clone();
                        outcome.to_send.extend(
                            a.take_to_send(ts, resend_delay_ms, interval)
                                .into_iter()
                                .map(|al| (expr.clone(), al)),
                        );
                    }
                    write_rule_results(env.storage, rule, samples, ts - offset);
                }
            }
            rule.status.evaluation_duration = rule_started.elapsed();
        }
        self.counters.last_samples = samples_total;
        write_stale(env.storage, std::mem::take(&mut self.stale_series), ts);
        self.evaluation_duration = started.elapsed();
        self.last_evaluation_ms = Some(now_ms);
        self.last_eval_timestamp_ms = Some(ts);
        self.evaluations_since_start += 1;
        outcome
    }
}

/// Compiles one rule of `group`.
fn compile(group: &RuleGroup, rule: &Rule, restored: bool) -> RuleEntry {
    let query = Query::parse(&rule.expr).map_err(|e| e.to_string());
    let mut labels = group.labels.clone();
    labels.extend(rule.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    let compiled = match &rule.kind {
        RuleKind::Recording { record } => Compiled::Recording(RecordingRule {
            name: record.clone(),
            query,
            labels,
        }),
        RuleKind::Alerting {
            alert,
            for_ms,
            keep_firing_for_ms,
        } => Compiled::Alerting(AlertingRule {
            name: alert.clone(),
            query,
            for_ms: *for_ms,
            keep_firing_for_ms: *keep_firing_for_ms,
            labels,
            annotations: rule.annotations.clone(),
            active: Default::default(),
            restored,
        }),
    };
    RuleEntry {
        source: rule.clone(),
        compiled,
        status: RuleStatus::default(),
        series_prev: BTreeSet::new(),
    }
}

/// Writes a rule's samples, then staleness markers at `stale_ts` for the series it wrote
/// last time and not now; on success the written series become the rule's previous
/// ones. Refused samples make the rule unhealthy; refused staleness markers are expected
/// (another rule may write the series) and ignored.
fn write_rule_results(
    storage: &dyn Storage,
    rule: &mut RuleEntry,
    samples: Vec<(Labels, Sample)>,
    stale_ts: i64,
) {
    let mut app = storage.appender();
    let mut returned = BTreeSet::new();
    for (labels, sample) in samples {
        match app.append(&labels, sample) {
            Ok(()) => {
                returned.insert(labels);
            }
            Err(e) => rule.status.fail(&EvalError::Append(Box::new(e))),
        }
    }
    for labels in rule.series_prev.difference(&returned) {
        let _ = app.append(labels, Sample::stale(stale_ts));
    }
    match app.commit() {
        Ok(_) => rule.series_prev = returned,
        Err(e) => rule.status.fail(&EvalError::Storage(e.to_string())),
    }
}

/// Writes staleness markers for `series` at `ts`, ignoring refusals (a newer sample
/// means someone else writes the series now).
pub(crate) fn write_stale(storage: &dyn Storage, series: Vec<Labels>, ts: i64) {
    if series.is_empty() {
        return;
    }
    let mut app = storage.appender();
    for labels in &series {
        let _ = app.append(labels, Sample::stale(ts));
    }
    let _ = app.commit();
}
