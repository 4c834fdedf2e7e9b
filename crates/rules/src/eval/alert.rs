//! Alerting rules at run time: the alert state machine (inactive → pending → firing →
//! resolved), `keep_firing_for`, templates, and the `ALERTS` / `ALERTS_FOR_STATE` series.
//!
//! The rules are Prometheus' (`rules/alerting.go`):
//!
//! - each series of the expression's result is an alert, identified by its labels
//!   without `__name__`, with the rule's labels (templates expanded) set over them and
//!   `alertname` set last; two series giving the same alert labels are an error;
//! - a new alert is pending from the evaluation that first sees it (`activeAt`), and
//!   fires at the first evaluation at least `for` later;
//! - an alert whose series is gone is dropped if it was pending; a firing one keeps
//!   firing while `keep_firing_for` has not passed since it went missing, then becomes
//!   inactive (resolved) and is kept 15 minutes so the resolution can be re-sent;
//! - a series that comes back after the alert resolved starts a new alert;
//! - more active alerts than the group's `limit` is an error, and every alert of the
//!   rule is dropped.

use std::collections::BTreeMap;

use tally_model::{Labels, Sample};
use tally_promql::{Query, VectorSample};

use super::rule::EvalEnv;
use super::EvalError;
use crate::template::{self, TemplateData};

/// How long a resolved alert is kept (and re-sent) after it resolved: 15 minutes.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// The metric holding one series per pending or firing alert.
pub const ALERTS_METRIC: &str = "ALERTS";
/// The metric holding each active alert's `activeAt` in seconds, used to restore `for`
/// progress after a restart.
pub const ALERTS_FOR_STATE_METRIC: &str = "ALERTS_FOR_STATE";

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    /// Resolved (or never active).
    Inactive,
    /// Active for less than `for`.
    Pending,
    /// Active for `for` or more.
    Firing,
}

impl AlertState {
    /// `inactive`, `pending` or `firing`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of an alerting rule. Times are milliseconds since the epoch, evaluation
/// timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The alert's labels: the series' labels without `__name__`, the rule's labels,
    /// `alertname`.
    pub labels: Labels,
    /// Annotations, templates expanded.
    pub annotations: BTreeMap<String, String>,
    /// Its state.
    pub state: AlertState,
    /// The expression's value at the last evaluation that saw the series.
    pub value: f64,
    /// When it became pending (restored after a restart: see `restore.rs`).
    pub active_at_ms: i64,
    /// When it started firing.
    pub fired_at_ms: Option<i64>,
    /// When it resolved.
    pub resolved_at_ms: Option<i64>,
    /// When it was last handed to the sender.
    pub last_sent_at_ms: Option<i64>,
    /// The `endsAt` given with the last send of a firing alert.
    pub valid_until_ms: Option<i64>,
    /// Since when it has been kept firing by `keep_firing_for` with its series gone.
    pub keep_firing_since_ms: Option<i64>,
}

impl Alert {
    /// Whether the sender should get this alert at `now_ms`: firing or resolved, and
    /// either resolved since it was last sent or not sent for more than `resend_delay`.
    pub fn needs_sending(&self, now_ms: i64, resend_delay_ms: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        let Some(last) = self.last_sent_at_ms else {
            return true;
        };
        if self.resolved_at_ms.is_some_and(|r| r > last) {
            return true;
        }
        last + resend_delay_ms < now_ms
    }
}

/// An alerting rule with its active alerts.
#[derive(Debug, Clone)]
pub(crate) struct AlertingRule {
    pub name: String,
    pub query: Result<Query, String>,
    pub for_ms: i64,
    pub keep_firing_for_ms: i64,
    /// Group labels with the rule's own set over them, unexpanded.
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Active alerts (pending, firing, and resolved ones kept for re-sending).
    pub active: BTreeMap<Labels, Alert>,
    /// Whether `ALERTS` / `ALERTS_FOR_STATE` are written: false after a start until the
    /// `for` state has been restored.
    pub restored: bool,
}

impl AlertingRule {
    /// Evaluates the rule at `ts` (the query runs at `ts - query_offset`) and returns the
    /// `ALERTS` and `ALERTS_FOR_STATE` samples to write.
    pub fn eval(
        &mut self,
        env: &EvalEnv<'_>,
        ts: i64,
        query_offset_ms: i64,
        limit: usize,
    ) -> Result<Vec<(Labels, Sample)>, EvalError> {
        let query_ts = ts - query_offset_ms;
        let result = env.run(&self.query, query_ts)?;

        let mut fresh: BTreeMap<Labels, Alert> = BTreeMap::new();
        for sample in &result {
            let alert = self.alert_for(env, sample, ts)?;
            if fresh.contains_key(&alert.labels) {
                return Err(EvalError::DuplicateLabelset {
                    what: "alert labels",
                });
            }
            fresh.insert(alert.labels.clone(), alert);
        }

        for (labels, alert) in &fresh {
            match self.active.get_mut(labels) {
                Some(old) if old.state != AlertState::Inactive => {
                    old.value = alert.value;
                    old.annotations = alert.annotations.clone();
                }
                _ => {
                    self.active.insert(labels.clone(), alert.clone());
                }
            }
        }

        let mut out = Vec::new();
        let mut active_count = 0usize;
        let mut remove = Vec::new();
        for (labels, a) in self.active.iter_mut() {
            if fresh.contains_key(labels) {
                a.keep_firing_since_ms = None;
            } else {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && self.keep_firing_for_ms > 0 {
                    let since = *a.keep_firing_since_ms.get_or_insert(ts);
                    keep_firing = ts - since < self.keep_firing_for_ms;
                }
                if a.state == AlertState::Pending
                    || a.resolved_at_ms
                        .is_some_and(|r| ts - r > RESOLVED_RETENTION_MS)
                {
                    remove.push(labels.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at_ms = Some(ts);
                }
                if !keep_firing {
                    continue;
                }
            }
            active_count += 1;
            if a.state == AlertState::Pending && ts - a.active_at_ms >= self.for_ms {
                a.state = AlertState::Firing;
                a.fired_at_ms = Some(ts);
            }
            if self.restored {
                let at = query_ts;
                let (name, labels) = (&self.name, &self.labels);
                out.push((
                    alert_series(name, labels, ALERTS_METRIC, a, true)?,
                    Sample::new(at, 1.0),
                ));
                out.push((
                    alert_series(name, labels, ALERTS_FOR_STATE_METRIC, a, false)?,
                    Sample::new(at, (a.active_at_ms.div_euclid(1000)) as f64),
                ));
            }
        }
        for labels in remove {
            self.active.remove(&labels);
        }
        if limit > 0 && active_count > limit {
            self.active.clear();
            return Err(EvalError::Limit {
                limit,
                count: active_count,
                what: "alerts",
            });
        }
        Ok(out)
    }

    /// The alert a result sample stands for, labels and annotations expanded, pending
    /// from `ts`.
    fn alert_for(
        &self,
        env: &EvalEnv<'_>,
        sample: &VectorSample,
        ts: i64,
    ) -> Result<Alert, EvalError> {
        let query_fn = |text: &str| env.query_text(text, ts);
        let data = TemplateData {
            labels: &sample.labels,
            value: sample.value,
            external_labels: env.external_labels,
            external_url: env.external_url,
            time_ms: ts,
            query: Some(&query_fn),
        };
        let template_name = format!("__alert_{}", self.name);
        let expand = |text: &str| match template::expand(&template_name, text, &data) {
            Ok(s) => s,
            Err(e) => format!("<error expanding template: {e}>"),
        };
        let mut labels = sample.labels.without(&["__name__"]);
        for (name, value) in &self.labels {
            labels = labels.with(name, &expand(value))?;
        }
        labels = labels.with("alertname", &self.name)?;
        let annotations = self
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), expand(v)))
            .collect();
        Ok(Alert {
            labels,
            annotations,
            state: AlertState::Pending,
            value: sample.value,
            active_at_ms: ts,
            fired_at_ms: None,
            resolved_at_ms: None,
            last_sent_at_ms: None,
            valid_until_ms: None,
            keep_firing_since_ms: None,
        })
    }

    /// The `ALERTS` (with `alertstate`) or `ALERTS_FOR_STATE` series of an alert: the
    /// rule's raw labels, the alert's labels over them, the name and `alertname`.
    pub fn series(&self, metric: &str, a: &Alert, with_state: bool) -> Result<Labels, EvalError> {
        alert_series(&self.name, &self.labels, metric, a, with_state)
    }

    /// The highest state among the alerts (`/api/v1/rules`' `state`).
    pub fn state(&self) -> AlertState {
        self.active
            .values()
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }

    /// Alerts that are pending or firing (not resolved), in label order.
    pub fn active_alerts(&self) -> impl Iterator<Item = &Alert> {
        self.active.values().filter(|a| a.resolved_at_ms.is_none())
    }

    /// The alerts to hand to the sender at `ts`, marked as sent, with `valid_until` set
    /// to `ts + 4 * max(resend_delay, interval)` (room for two failed evaluations or
    /// sends).
    pub fn take_to_send(&mut self, ts: i64, resend_delay_ms: i64, interval_ms: i64) -> Vec<Alert> {
        let delta = resend_delay_ms.max(interval_ms);
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            if a.needs_sending(ts, resend_delay_ms) {
                a.last_sent_at_ms = Some(ts);
                a.valid_until_ms = Some(ts + 4 * delta);
                out.push(a.clone());
            }
        }
        out
    }
}

/// The `ALERTS` / `ALERTS_FOR_STATE` series of alert `a` of rule `name` with raw labels
/// `rule_labels`.
fn alert_series(
    name: &str,
    rule_labels: &BTreeMap<String, String>,
    metric: &str,
    a: &Alert,
    with_state: bool,
) -> Result<Labels, EvalError> {
    let raw = Labels::from_pairs(rule_labels.iter())?;
    let mut l = raw
        .merged_with(&a.labels)
        .with("__name__", metric)?
        .with("alertname", name)?;
    if with_state {
        l = l.with("alertstate", a.state.as_str())?;
    }
    Ok(l)
}
