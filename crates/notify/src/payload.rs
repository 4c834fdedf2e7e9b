//! [`NotificationData`]: what one notification says (Alertmanager's template data), and
//! its JSON forms: the webhook payload version 4 and the Alertmanager v2 API alert.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use tally_model::Labels;

use crate::alert::{fingerprint_hex, Alert};

/// `"firing"` or `"resolved"`.
pub fn status_str(resolved: bool) -> &'static str {
    if resolved {
        "resolved"
    } else {
        "firing"
    }
}

/// One alert as a notification shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertData {
    /// Whether it has resolved.
    pub resolved: bool,
    /// The alert.
    pub alert: Alert,
    /// Its fingerprint.
    pub fingerprint: u64,
}

/// Everything one notification to one receiver says about one aggregation group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationData {
    /// The receiver's name.
    pub receiver: String,
    /// The alerts (firing first, then resolved; each part by fingerprint).
    pub alerts: Vec<AlertData>,
    /// The labels the group is keyed by.
    pub group_labels: Labels,
    /// The group's key: route key and group labels, e.g. `{}:{alertname="X"}`.
    pub group_key: String,
    /// Link back to the notifier.
    pub external_url: String,
    /// Alerts left out by `max_alerts` (webhooks only).
    pub truncated_alerts: u64,
}

impl NotificationData {
    /// `firing` when any alert fires, else `resolved`.
    pub fn status(&self) -> &'static str {
        status_str(self.alerts.iter().all(|a| a.resolved))
    }

    /// Labels every alert shares (same name and value).
    pub fn common_labels(&self) -> BTreeMap<String, String> {
        common(self.alerts.iter().map(|a| &a.alert.labels))
    }

    /// Annotations every alert shares.
    pub fn common_annotations(&self) -> BTreeMap<String, String> {
        common(self.alerts.iter().map(|a| &a.alert.annotations))
    }

    /// The webhook payload, version 4, as JSON bytes.
    pub fn webhook_json(&self) -> Vec<u8> {
        let payload = WebhookPayload {
            receiver: &self.receiver,
            status: self.status(),
            alerts: self.alerts.iter().map(WebhookAlert::from).collect(),
            group_labels: map(&self.group_labels),
            common_labels: self.common_labels(),
            common_annotations: self.common_annotations(),
            external_url: &self.external_url,
            version: "4",
            group_key: &self.group_key,
            truncated_alerts: self.truncated_alerts,
        };
        serde_json::to_vec(&payload).unwrap_or_default()
    }
}

fn common<'a>(mut sets: impl Iterator<Item = &'a Labels>) -> BTreeMap<String, String> {
    let Some(first) = sets.next() else {
        return BTreeMap::new();
    };
    let mut out = map(first);
    for set in sets {
        out.retain(|k, v| set.get(k) == Some(v.as_str()));
    }
    out
}

/// A label set as a JSON object.
pub fn map(labels: &Labels) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A time as Go's `time.Time` marshals it: RFC 3339 with as many fractional digits as
/// needed (none for whole seconds); `None` is Go's zero time `0001-01-01T00:00:00Z`.
pub fn go_time(t: Option<DateTime<Utc>>) -> String {
    match t {
        Some(t) => {
            let text = t.to_rfc3339_opts(SecondsFormat::Nanos, true);
            match text.split_once('.') {
                Some((whole, frac)) => {
                    let digits = frac.trim_end_matches('Z').trim_end_matches('0');
                    if digits.is_empty() {
                        format!("{whole}Z")
                    } else {
                        format!("{whole}.{digits}Z")
                    }
                }
                None => text,
            }
        }
        None => "0001-01-01T00:00:00Z".to_owned(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookPayload<'a> {
    receiver: &'a str,
    status: &'a str,
    alerts: Vec<WebhookAlert>,
    group_labels: BTreeMap<String, String>,
    common_labels: BTreeMap<String, String>,
    common_annotations: BTreeMap<String, String>,
    #[serde(rename = "externalURL")]
    external_url: &'a str,
    version: &'a str,
    group_key: &'a str,
    truncated_alerts: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookAlert {
    status: &'static str,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL")]
    generator_url: String,
    fingerprint: String,
}

impl From<&AlertData> for WebhookAlert {
    fn from(a: &AlertData) -> Self {
        Self {
            status: status_str(a.resolved),
            labels: map(&a.alert.labels),
            annotations: map(&a.alert.annotations),
            starts_at: go_time(Some(a.alert.starts_at)),
            // A firing alert shows no end, as Alertmanager's notifications do.
            ends_at: go_time(if a.resolved { a.alert.ends_at } else { None }),
            generator_url: a.alert.generator_url.clone(),
            fingerprint: fingerprint_hex(a.fingerprint),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn go_time_trims_fractions_and_prints_zero_time() {
        let t = Utc.timestamp_opt(1_700_000_000, 0).single();
        assert_eq!(go_time(t), "2023-11-14T22:13:20Z");
        let t = Utc.timestamp_opt(1_700_000_000, 120_000_000).single();
        assert_eq!(go_time(t), "2023-11-14T22:13:20.12Z");
        assert_eq!(go_time(None), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn webhook_payload_has_alertmanager_field_names() -> Result<(), Box<dyn std::error::Error>> {
        let start = Utc.timestamp_opt(1_700_000_000, 0).single().ok_or("time")?;
        let labels = Labels::from_pairs([("alertname", "Down"), ("job", "api")])?;
        let mut alert = Alert::firing(labels.clone(), start);
        alert.annotations = Labels::from_pairs([("summary", "api is down")])?;
        let data = NotificationData {
            receiver: "team".into(),
            alerts: vec![AlertData {
                resolved: false,
                fingerprint: alert.fingerprint(),
                alert,
            }],
            group_labels: Labels::from_pairs([("alertname", "Down")])?,
            group_key: r#"{}:{alertname="Down"}"#.into(),
            external_url: "http://tally:9091".into(),
            truncated_alerts: 0,
        };
        let json: serde_json::Value = serde_json::from_slice(&data.webhook_json())?;
        assert_eq!(json["version"], "4");
        assert_eq!(json["status"], "firing");
        assert_eq!(json["receiver"], "team");
        assert_eq!(json["groupKey"], r#"{}:{alertname="Down"}"#);
        assert_eq!(json["externalURL"], "http://tally:9091");
        assert_eq!(json["truncatedAlerts"], 0);
        assert_eq!(json["commonLabels"]["job"], "api");
        assert_eq!(json["commonAnnotations"]["summary"], "api is down");
        let a = &json["alerts"][0];
        assert_eq!(a["startsAt"], "2023-11-14T22:13:20Z");
        assert_eq!(a["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(a["generatorURL"], "");
        assert_eq!(a["fingerprint"].as_str().map(str::len), Some(16));
        Ok(())
    }
}
