//! The bodies of Prometheus' `GET /api/v1/rules` and `GET /api/v1/alerts`: the `data`
//! part, which the server wraps in `{"status":"success","data":...}`.
//!
//! The types serialize (serde) with Prometheus' field names and order: serialize them
//! in place (a `#[derive(Serialize)]` envelope with a `data: RulesData` field keeps the
//! order; converting to `serde_json::Value` first sorts the keys, which clients accept
//! but which is not byte-for-byte Prometheus). Times are RFC 3339 as Go writes them,
//! alert values strings in Go's `%e` form (`1e+00`), durations in seconds.

mod rfc3339;

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use tally_model::Labels;

use super::alert::{Alert, AlertState};
use super::group::{Compiled, Group, RuleEntry};
use super::manager::Manager;
use crate::file::RuleKind;

pub use rfc3339::format_ms as format_time;

/// A query parameter of `/api/v1/rules` with a value Prometheus refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid parameter {param:?}: {message}")]
pub struct ParamError {
    /// The parameter (`type`, `exclude_alerts`).
    pub param: &'static str,
    /// What is wrong with its value.
    pub message: String,
}

/// The filters of `/api/v1/rules`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesQuery {
    /// `type=alert` or `type=record`: only that kind; `None`: both.
    pub only: Option<RuleType>,
    /// `rule_name[]`: only rules with one of these names (empty: all).
    pub rule_names: Vec<String>,
    /// `rule_group[]`: only groups with one of these names.
    pub rule_groups: Vec<String>,
    /// `file[]`: only groups from one of these files.
    pub files: Vec<String>,
    /// `exclude_alerts=true`: alerting rules without their `alerts`.
    pub exclude_alerts: bool,
}

/// A kind of rule, for the `type` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleType {
    /// `alert`.
    Alert,
    /// `record`.
    Record,
}

impl RulesQuery {
    /// Reads the filters from decoded query parameters (`type`, `rule_name[]`,
    /// `rule_group[]`, `file[]`, `exclude_alerts`); other parameters are ignored.
    pub fn from_params<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ParamError> {
        let mut q = RulesQuery::default();
        for (k, v) in params {
            match k {
                "type" => {
                    q.only = match v.to_ascii_lowercase().as_str() {
                        "" => None,
                        "alert" => Some(RuleType::Alert),
                        "record" => Some(RuleType::Record),
                        _ => {
                            return Err(ParamError {
                                param: "type",
                                message: format!("not supported value {v:?}"),
                            })
                        }
                    }
                }
                "rule_name[]" => q.rule_names.push(v.to_owned()),
                "rule_group[]" => q.rule_groups.push(v.to_owned()),
                "file[]" => q.files.push(v.to_owned()),
                "exclude_alerts" => q.exclude_alerts = parse_bool(v)?,
                _ => {}
            }
        }
        Ok(q)
    }
}

/// Go's `strconv.ParseBool`; empty means false.
fn parse_bool(v: &str) -> Result<bool, ParamError> {
    match v {
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        _ => Err(ParamError {
            param: "exclude_alerts",
            message: format!("strconv.ParseBool: parsing {v:?}: invalid syntax"),
        }),
    }
}

/// `data` of `/api/v1/rules`.
#[derive(Debug, Clone, Serialize)]
pub struct RulesData {
    /// The groups.
    pub groups: Vec<GroupJson>,
}

/// One group.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupJson {
    /// Name.
    pub name: String,
    /// File.
    pub file: String,
    /// Rules, in order.
    pub rules: Vec<RuleJson>,
    /// Interval in seconds.
    pub interval: Seconds,
    /// Limit (0: none).
    pub limit: usize,
    /// Last evaluation's duration in seconds.
    pub evaluation_time: Seconds,
    /// Last evaluation's start.
    pub last_evaluation: String,
}

/// A rule: alerting or recording.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RuleJson {
    /// `type: alerting`.
    Alerting(AlertingRuleJson),
    /// `type: recording`.
    Recording(RecordingRuleJson),
}

/// An alerting rule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertingRuleJson {
    /// `inactive`, `pending` or `firing`: the highest state of its alerts.
    pub state: &'static str,
    /// The alert name.
    pub name: String,
    /// The expression.
    pub query: String,
    /// `for` in seconds.
    pub duration: Seconds,
    /// `keep_firing_for` in seconds.
    pub keep_firing_for: Seconds,
    /// The rule's labels, as written.
    #[serde(serialize_with = "map_in_order")]
    pub labels: Vec<(String, String)>,
    /// The rule's annotations, as written.
    #[serde(serialize_with = "map_in_order")]
    pub annotations: Vec<(String, String)>,
    /// Its pending and firing alerts (absent with `exclude_alerts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<AlertJson>>,
    /// `ok`, `err` or `unknown`.
    pub health: &'static str,
    /// The last error, when unhealthy.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_error: String,
    /// Last evaluation's duration in seconds.
    pub evaluation_time: Seconds,
    /// Last evaluation's start.
    pub last_evaluation: String,
    /// Always `alerting`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// A recording rule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingRuleJson {
    /// The recorded metric name.
    pub name: String,
    /// The expression.
    pub query: String,
    /// The rule's labels (absent when none).
    #[serde(serialize_with = "map_in_order", skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<(String, String)>,
    /// `ok`, `err` or `unknown`.
    pub health: &'static str,
    /// The last error, when unhealthy.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_error: String,
    /// Last evaluation's duration in seconds.
    pub evaluation_time: Seconds,
    /// Last evaluation's start.
    pub last_evaluation: String,
    /// Always `recording`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// `data` of `/api/v1/alerts`.
#[derive(Debug, Clone, Serialize)]
pub struct AlertsData {
    /// Every pending and firing alert.
    pub alerts: Vec<AlertJson>,
}

/// One alert.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertJson {
    /// Its labels.
    #[serde(serialize_with = "map_in_order")]
    pub labels: Vec<(String, String)>,
    /// Its annotations, expanded.
    #[serde(serialize_with = "map_in_order")]
    pub annotations: Vec<(String, String)>,
    /// `pending` or `firing`.
    pub state: &'static str,
    /// When it became active.
    pub active_at: String,
    /// Since when `keep_firing_for` keeps it firing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_firing_since: Option<String>,
    /// The expression's value, as Go's `%e`.
    pub value: String,
}

/// Seconds, written as Go's `encoding/json` writes a float64: `60`, `0.000031647`,
/// `1e-7`, `1e+21`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seconds(pub f64);

impl Serialize for Seconds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = go_json_float(self.0);
        match serde_json::value::RawValue::from_string(text) {
            Ok(raw) => raw.serialize(s),
            // Not finite: JSON has no such number (Go refuses it too).
            Err(_) => s.serialize_f64(self.0),
        }
    }
}

/// Go's `encoding/json` text of a float64: shortest decimal, in exponent form below
/// 1e-6 or from 1e21 on (`e-7`, `e+21`).
fn go_json_float(v: f64) -> String {
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{v:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else {
        format!("{v}")
    }
}

fn map_in_order<S: Serializer>(pairs: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

impl RulesData {
    /// The JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl AlertsData {
    /// The JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `GET /api/v1/rules`: the groups and rules that pass `query`'s filters. Groups left
/// without rules by the filters are omitted.
pub fn rules(manager: &Manager, query: &RulesQuery) -> RulesData {
    manager.with_groups(|groups| RulesData {
        groups: groups
            .iter()
            .filter(|g| {
                query.rule_groups.is_empty() || query.rule_groups.iter().any(|n| n == g.name())
            })
            .filter(|g| query.files.is_empty() || query.files.contains(&g.file))
            .filter_map(|g| group_json(g, query))
            .collect(),
    })
}

/// `GET /api/v1/alerts`: every pending and firing alert of every alerting rule.
pub fn alerts(manager: &Manager) -> AlertsData {
    manager.with_groups(|groups| AlertsData {
        alerts: groups
            .iter()
            .flat_map(|g| g.rules.iter())
            .filter_map(|r| match &r.compiled {
                Compiled::Alerting(a) => {
                    Some(a.active_alerts().map(alert_json).collect::<Vec<_>>())
                }
                Compiled::Recording(_) => None,
            })
            .flatten()
            .collect(),
    })
}

fn group_json(g: &Group, query: &RulesQuery) -> Option<GroupJson> {
    let rules: Vec<RuleJson> = g
        .rules
        .iter()
        .filter(|r| {
            query.rule_names.is_empty() || query.rule_names.iter().any(|n| n == r.source.name())
        })
        .filter_map(|r| rule_json(r, query))
        .collect();
    if rules.is_empty() {
        return None;
    }
    Some(GroupJson {
        name: g.name().to_owned(),
        file: g.file.clone(),
        rules,
        interval: Seconds(g.interval_ms as f64 / 1000.0),
        limit: g.source.limit,
        evaluation_time: Seconds(g.evaluation_duration.as_secs_f64()),
        last_evaluation: time_or_zero(g.last_evaluation_ms),
    })
}

fn rule_json(r: &RuleEntry, query: &RulesQuery) -> Option<RuleJson> {
    let labels: Vec<(String, String)> = r.source.labels.clone().into_iter().collect();
    let health = r.status.health.as_str();
    let last_error = r.status.last_error.clone().unwrap_or_default();
    let evaluation_time = Seconds(r.status.evaluation_duration.as_secs_f64());
    let last_evaluation = time_or_zero(r.status.last_evaluation_ms);
    let query_text = canonical(&r.source.expr);
    match (&r.compiled, &r.source.kind) {
        (
            Compiled::Alerting(a),
            RuleKind::Alerting {
                for_ms,
                keep_firing_for_ms,
                ..
            },
        ) => {
            if query.only == Some(RuleType::Record) {
                return None;
            }
            Some(RuleJson::Alerting(AlertingRuleJson {
                state: a.state().as_str(),
                name: a.name.clone(),
                query: query_text,
                duration: Seconds(*for_ms as f64 / 1000.0),
                keep_firing_for: Seconds(*keep_firing_for_ms as f64 / 1000.0),
                labels,
                annotations: r.source.annotations.clone().into_iter().collect(),
                alerts: (!query.exclude_alerts)
                    .then(|| a.active_alerts().map(alert_json).collect()),
                health,
                last_error,
                evaluation_time,
                last_evaluation,
                kind: "alerting",
            }))
        }
        _ => {
            if query.only == Some(RuleType::Alert) {
                return None;
            }
            Some(RuleJson::Recording(RecordingRuleJson {
                name: r.source.name().to_owned(),
                query: query_text,
                labels,
                health,
                last_error,
                evaluation_time,
                last_evaluation,
                kind: "recording",
            }))
        }
    }
}

fn alert_json(a: &Alert) -> AlertJson {
    AlertJson {
        labels: label_pairs(&a.labels),
        annotations: a
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect(),
        state: match a.state {
            AlertState::Firing => "firing",
            AlertState::Pending => "pending",
            AlertState::Inactive => "inactive",
        },
        active_at: rfc3339::format_ms(a.active_at_ms),
        keep_firing_since: a.keep_firing_since_ms.map(rfc3339::format_ms),
        value: format_go_e(a.value),
    }
}

fn label_pairs(l: &Labels) -> Vec<(String, String)> {
    l.iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

fn time_or_zero(ms: Option<i64>) -> String {
    ms.map_or_else(|| rfc3339::ZERO_TIME.to_owned(), rfc3339::format_ms)
}

/// The expression as Prometheus prints a parsed one (`up==0` → `up == 0`); the text as
/// written if it does not parse.
fn canonical(expr: &str) -> String {
    tally_promql::parse_expr(expr).map_or_else(|_| expr.to_owned(), |e| e.to_string())
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: `1e+00`, `1.5e-07`, `NaN`, `+Inf`.
pub fn format_go_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let s = format!("{v:e}");
    let Some((mantissa, exp)) = s.split_once('e') else {
        return s;
    };
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_e_format() {
        assert_eq!(format_go_e(1.0), "1e+00");
        assert_eq!(format_go_e(0.0), "0e+00");
        assert_eq!(format_go_e(123.45), "1.2345e+02");
        assert_eq!(format_go_e(-1.5e-7), "-1.5e-07");
        assert_eq!(format_go_e(1e100), "1e+100");
        assert_eq!(format_go_e(f64::INFINITY), "+Inf");
    }

    #[test]
    fn params() {
        let q = RulesQuery::from_params([
            ("type", "ALERT"),
            ("rule_name[]", "A"),
            ("exclude_alerts", "true"),
        ])
        .map_err(|e| e.to_string());
        assert_eq!(
            q,
            Ok(RulesQuery {
                only: Some(RuleType::Alert),
                rule_names: vec!["A".into()],
                exclude_alerts: true,
                ..Default::default()
            })
        );
        let e = RulesQuery::from_params([("type", "x")])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("invalid parameter \"type\": not supported value \"x\"")
        );
        assert_eq!(Seconds(60.0).0, 60.0);
        assert_eq!(
            serde_json::to_string(&Seconds(60.0)).ok().as_deref(),
            Some("60")
        );
        assert_eq!(
            serde_json::to_string(&Seconds(0.5)).ok().as_deref(),
            Some("0.5")
        );
    }
    /// What Prometheus 2.42's `/api/v1/rules` showed as `query` for these expressions.
    #[test]
    fn queries_print_as_prometheus_prints_them() {
        for (written, shown) in [
            ("sum(rate(x[5m])) by (job)", "sum by (job) (rate(x[5m]))"),
            ("histogram_quantile(0.9, sum without(instance)(rate(h_bucket{a=~\"b.*\",c!=\"d\"}[5m] offset 1m)))", "histogram_quantile(0.9, sum without (instance) (rate(h_bucket{a=~\"b.*\",c!=\"d\"}[5m] offset 1m)))"),
            ("x > bool 1 and on(a) y or ignoring (b) z * on(q) group_left(c) w", "x > bool 1 and on (a) y or ignoring (b) z * on (q) group_left (c) w"),
            ("-{__name__=\"x\"} ^ 2 % 3 / 4 - v @ 100", "-{__name__=\"x\"} ^ 2 % 3 / 4 - v @ 100.000"),
            ("max_over_time(deriv(x[5m:1m])[10m:]) or label_replace(y, \"dst\", \"$1\", \"src\", \"(.*)\")", "max_over_time(deriv(x[5m:1m])[10m:]) or label_replace(y, \"dst\", \"$1\", \"src\", \"(.*)\")"),
            ("topk(3, x) == 1e3 or vector(0.5) + count_values(\"v\", x) or absent(nope{a=\"\\\"q\\\"\"})", "topk(3, x) == 1000 or vector(0.5) + count_values(\"v\", x) or absent(nope{a=\"\\\"q\\\"\"})"),
        ] {
            assert_eq!(canonical(written), shown, "{written}");
        }
    }
}
