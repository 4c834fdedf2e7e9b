//! [`AlertSender`]: where firing and resolved alerts go, and how an [`Alert`] becomes
//! what a notifier (or Alertmanager) receives.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tally_model::Labels;

use super::alert::Alert;

/// An alert as handed to a notifier, in Alertmanager's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingAlert {
    /// The alert's labels with the external labels added where absent (as Prometheus'
    /// notifier adds them).
    pub labels: Labels,
    /// Annotations, templates expanded.
    pub annotations: BTreeMap<String, String>,
    /// When it started firing (ms since the epoch).
    pub starts_at_ms: i64,
    /// For a resolved alert, when it resolved; for a firing one, when it should be
    /// considered resolved if no newer send arrives: `now + 4 * max(resend_delay,
    /// group interval)`.
    pub ends_at_ms: Option<i64>,
    /// A link to the alert's expression in the graph page:
    /// `EXTERNAL_URL/graph?g0.expr=...&g0.tab=1`.
    pub generator_url: String,
}

/// Receives alerts from the rule evaluator. Called on the evaluating thread after each
/// group evaluation that has alerts to send (never with an empty batch), without any
/// manager lock held; an implementation should queue and return quickly.
pub trait AlertSender: Send + Sync {
    /// Takes a batch of alerts.
    fn send(&self, alerts: Vec<OutgoingAlert>);
}

/// A sender that drops everything (unit tests, rules without a notifier).
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardSender;

impl AlertSender for DiscardSender {
    fn send(&self, _alerts: Vec<OutgoingAlert>) {}
}

/// A sender that keeps every batch, for tests.
#[derive(Debug, Default)]
pub struct RecordingSender {
    batches: Mutex<Vec<Vec<OutgoingAlert>>>,
}

impl RecordingSender {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the batches received so far.
    pub fn take(&self) -> Vec<Vec<OutgoingAlert>> {
        match self.batches.lock() {
            Ok(mut b) => std::mem::take(&mut *b),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

impl AlertSender for RecordingSender {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        match self.batches.lock() {
            Ok(mut b) => b.push(alerts),
            Err(poisoned) => poisoned.into_inner().push(alerts),
        }
    }
}

/// Converts an alert of the rule with expression `expr` for sending.
pub(crate) fn outgoing(
    alert: &Alert,
    expr: &str,
    external_labels: &Labels,
    external_url: &str,
) -> OutgoingAlert {
    let mut labels = alert.labels.clone();
    for (n, v) in external_labels {
        if !labels.contains(n) {
            labels = labels.with(n, v).unwrap_or(labels);
        }
    }
    OutgoingAlert {
        labels,
        annotations: alert.annotations.clone(),
        starts_at_ms: alert.fired_at_ms.unwrap_or(alert.active_at_ms),
        ends_at_ms: alert.resolved_at_ms.or(alert.valid_until_ms),
        generator_url: generator_url(external_url, expr),
    }
}

/// `external_url` + `/graph?g0.expr=EXPR&g0.tab=1`, the expression query-escaped.
pub fn generator_url(external_url: &str, expr: &str) -> String {
    format!(
        "{}/graph?g0.expr={}&g0.tab=1",
        external_url.trim_end_matches('/'),
        query_escape(expr)
    )
}

/// Escapes `s` for a URL query, as Go's `url.QueryEscape`: letters, digits and `-_.~`
/// kept, space as `+`, everything else `%XX`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_url_escapes_like_go() {
        assert_eq!(
            generator_url("http://h:9090/", "up{job=\"a b\"} == 0"),
            "http://h:9090/graph?g0.expr=up%7Bjob%3D%22a+b%22%7D+%3D%3D+0&g0.tab=1"
        );
    }
}
