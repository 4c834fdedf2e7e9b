//! `/api/v2/alerts`: the alerts held, with their status, and Alertmanager's way in;
//! `/api/v2/alerts/groups`: the same by aggregation group.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tally_model::Labels;

use super::{parse_json, ApiError};
use crate::alert::{fingerprint_hex, Alert};
use crate::dispatch::AlertView;
use crate::matcher::Matchers;
use crate::payload::{go_time, map};
use crate::Notifier;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PostableAlert {
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    #[serde(rename = "generatorURL", default)]
    generator_url: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AlertStatus {
    state: &'static str,
    silenced_by: Vec<String>,
    inhibited_by: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ReceiverName {
    name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GettableAlert {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    starts_at: String,
    ends_at: String,
    updated_at: String,
    /// Left out when empty, as Alertmanager does.
    #[serde(rename = "generatorURL", skip_serializing_if = "String::is_empty")]
    generator_url: String,
    fingerprint: String,
    receivers: Vec<ReceiverName>,
    status: AlertStatus,
}

/// Query parameters: `filter` (repeated matchers), `receiver` (a regular expression a
/// receiver's name must match), `active`, `silenced`, `inhibited` (booleans, default
/// true).
#[derive(Debug)]
struct Query {
    filter: Matchers,
    receiver: Option<regex::Regex>,
    active: bool,
    silenced: bool,
    inhibited: bool,
}

fn parse_query(raw: Option<&str>) -> Result<Query, ApiError> {
    let mut q = Query {
        filter: Matchers::default(),
        receiver: None,
        active: true,
        silenced: true,
        inhibited: true,
    };
    let mut filters = Vec::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value)
            .ok_or_else(|| ApiError::bad_request(format!("{key}: bad percent-encoding")))?;
        let flag = |v: &str| match v {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(ApiError::bad_request(format!(
                "{key}: expected true or false, got {v:?}"
            ))),
        };
        match key {
            "filter" => filters.push(value),
            "receiver" if !value.is_empty() => {
                let re = regex::Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| ApiError::bad_request(format!("receiver: {e}")))?;
                q.receiver = Some(re);
            }
            "active" => q.active = flag(&value)?,
            "silenced" => q.silenced = flag(&value)?,
            "inhibited" => q.inhibited = flag(&value)?,
            _ => {}
        }
    }
    q.filter = Matchers::parse_list(&filters)
        .map_err(|e| ApiError::bad_request(format!("filter: {e}")))?;
    Ok(q)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

impl Query {
    /// Whether `a` passes the `filter`, `active`, `silenced` and `inhibited` parameters.
    fn keeps(&self, a: &AlertView) -> bool {
        let (silenced, inhibited) = (!a.silenced_by.is_empty(), !a.inhibited_by.is_empty());
        self.filter.matches(&a.alert.labels)
            && (self.active || silenced || inhibited)
            && (self.silenced || !silenced)
            && (self.inhibited || !inhibited)
    }

    /// Whether a receiver named `name` passes the `receiver` parameter.
    fn keeps_receiver(&self, name: &str) -> bool {
        self.receiver.as_ref().is_none_or(|re| re.is_match(name))
    }
}

fn gettable(a: AlertView) -> GettableAlert {
    let suppressed = !a.silenced_by.is_empty() || !a.inhibited_by.is_empty();
    GettableAlert {
        labels: map(&a.alert.labels),
        annotations: map(&a.alert.annotations),
        starts_at: go_time(Some(a.alert.starts_at)),
        ends_at: go_time(a.alert.ends_at),
        updated_at: go_time(Some(a.updated_at)),
        generator_url: a.alert.generator_url.clone(),
        fingerprint: fingerprint_hex(a.fingerprint),
        receivers: a
            .receivers
            .into_iter()
            .map(|name| ReceiverName { name })
            .collect(),
        status: AlertStatus {
            state: if suppressed { "suppressed" } else { "active" },
            silenced_by: a.silenced_by,
            inhibited_by: a.inhibited_by.into_iter().map(fingerprint_hex).collect(),
        },
    }
}

/// `GET /api/v2/alerts`.
pub(crate) async fn list(
    State(n): State<Notifier>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<GettableAlert>>, ApiError> {
    let q = parse_query(raw.as_deref())?;
    let out = n
        .alerts()
        .into_iter()
        .filter(|a| {
            q.keeps(a) && (q.receiver.is_none() || a.receivers.iter().any(|r| q.keeps_receiver(r)))
        })
        .map(gettable)
        .collect();
    Ok(Json(out))
}

/// One aggregation group in `GET /api/v2/alerts/groups`.
#[derive(Debug, Serialize)]
pub(crate) struct AlertGroup {
    labels: BTreeMap<String, String>,
    receiver: ReceiverName,
    alerts: Vec<GettableAlert>,
}

/// `GET /api/v2/alerts/groups`: the aggregation groups and their alerts (what Grafana's
/// Alertmanager data source and Alertmanager's own UI list), with the same parameters as
/// `GET /api/v2/alerts`; `receiver` filters by the group's receiver, and groups left
/// without alerts are omitted.
pub(crate) async fn groups(
    State(n): State<Notifier>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<AlertGroup>>, ApiError> {
    let q = parse_query(raw.as_deref())?;
    let out = n
        .alert_groups()
        .into_iter()
        .filter(|g| q.keeps_receiver(&g.receiver))
        .filter_map(|g| {
            let alerts: Vec<GettableAlert> = g
                .alerts
                .into_iter()
                .filter(|a| q.keeps(a))
                .map(gettable)
                .collect();
            (!alerts.is_empty()).then(|| AlertGroup {
                labels: map(&g.labels),
                receiver: ReceiverName { name: g.receiver },
                alerts,
            })
        })
        .collect();
    Ok(Json(out))
}

/// `POST /api/v2/alerts`: a JSON array of alerts, as Prometheus sends them.
pub(crate) async fn post(State(n): State<Notifier>, body: Bytes) -> Result<(), ApiError> {
    let posted: Vec<PostableAlert> = parse_json(&body)?;
    let now = n.now();
    let mut alerts = Vec::with_capacity(posted.len());
    for (i, p) in posted.into_iter().enumerate() {
        if p.labels.is_empty() {
            return Err(ApiError::bad_request(format!(
                "alerts[{i}].labels: at least one label is required"
            )));
        }
        if let Some((name, _)) = p.labels.iter().find(|(k, v)| k.is_empty() || v.is_empty()) {
            return Err(ApiError::bad_request(format!(
                "alerts[{i}].labels: empty label name or value ({name:?})"
            )));
        }
        let labels = Labels::from_pairs(p.labels.iter())
            .map_err(|e| ApiError::bad_request(format!("alerts[{i}].labels: {e}")))?;
        let annotations = Labels::from_pairs(p.annotations.iter())
            .map_err(|e| ApiError::bad_request(format!("alerts[{i}].annotations: {e}")))?;
        let starts_at = match (p.starts_at, p.ends_at) {
            (Some(s), _) => s,
            (None, Some(e)) if e < now => e,
            _ => now,
        };
        if let Some(end) = p.ends_at {
            if end < starts_at {
                return Err(ApiError::bad_request(format!(
                    "alerts[{i}].endsAt: before startsAt"
                )));
            }
        }
        alerts.push(Alert {
            labels,
            annotations,
            starts_at,
            ends_at: p.ends_at,
            generator_url: p.generator_url,
        });
    }
    n.put(alerts).map_err(|e| ApiError {
        status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        message: e.to_string(),
    })
}
