//! [`Stats`]: what the notifier counts (per integration and receiver, and per external
//! Alertmanager), written in the Prometheus text format for the server's `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::integration::IntegrationId;

/// Upper bounds of the delivery latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 8] = [0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0];

/// Counters of one (integration kind, receiver) pair.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntegrationStats {
    /// Notifications delivered.
    pub sent: u64,
    /// Notifications given up on.
    pub failed: u64,
    /// Attempts retried.
    pub retried: u64,
    /// Delivery latency (first attempt to outcome) histogram counts, per bucket of
    /// `LATENCY_BUCKETS` plus `+Inf`, not cumulative.
    latency_buckets: [u64; LATENCY_BUCKETS.len() + 1],
    /// Sum of latencies in seconds.
    pub latency_sum: f64,
}

/// Counters of one external Alertmanager.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardStats {
    /// Alerts accepted by it.
    pub forwarded: u64,
    /// Alerts dropped: queue full, or a batch given up on.
    pub dropped: u64,
    /// Batches that failed (each failed attempt).
    pub failed_batches: u64,
}

#[derive(Debug, Default)]
struct Inner {
    integrations: BTreeMap<(&'static str, String), IntegrationStats>,
    forward: BTreeMap<String, ForwardStats>,
}

/// The notifier's counters. Cloning shares them (one `Arc`); each update takes a short
/// lock.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    inner: Arc<Mutex<Inner>>,
}

impl Stats {
    fn integration(&self, id: &IntegrationId, f: impl FnOnce(&mut IntegrationStats)) {
        let mut inner = self.inner.lock();
        let entry = inner
            .integrations
            .entry((id.kind.as_str(), id.receiver.clone()))
            .or_default();
        f(entry);
    }

    fn observe(s: &mut IntegrationStats, latency: Duration) {
        let secs = latency.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        s.latency_buckets[bucket] += 1;
        s.latency_sum += secs;
    }

    pub(crate) fn notification_sent(&self, id: &IntegrationId, latency: Duration) {
        self.integration(id, |s| {
            s.sent += 1;
            Self::observe(s, latency);
        });
    }

    pub(crate) fn notification_failed(&self, id: &IntegrationId, latency: Duration) {
        self.integration(id, |s| {
            s.failed += 1;
            Self::observe(s, latency);
        });
    }

    pub(crate) fn notification_retried(&self, id: &IntegrationId) {
        self.integration(id, |s| s.retried += 1);
    }

    pub(crate) fn forward(&self, url: &str, f: impl FnOnce(&mut ForwardStats)) {
        f(self.inner.lock().forward.entry(url.to_owned()).or_default());
    }

    /// The counters of an integration kind (`webhook`, `slack`, `email`) and receiver.
    pub fn integration_stats(&self, kind: &str, receiver: &str) -> IntegrationStats {
        self.inner
            .lock()
            .integrations
            .iter()
            .find(|((k, r), _)| *k == kind && r == receiver)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }

    /// The counters of an external Alertmanager (by its configured URL).
    pub fn forward_stats(&self, url: &str) -> ForwardStats {
        self.inner
            .lock()
            .forward
            .get(url)
            .cloned()
            .unwrap_or_default()
    }

    /// Appends the counters in the Prometheus text format 0.0.4.
    pub fn write_prometheus(&self, out: &mut String) {
        let inner = self.inner.lock();
        let series = |out: &mut String,
                      name: &str,
                      help: &str,
                      kind: &str,
                      get: &dyn Fn(&IntegrationStats) -> u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((integration, receiver), s) in &inner.integrations {
                let _ = writeln!(
                    out,
                    "{name}{{integration=\"{integration}\",receiver=\"{}\"}} {}",
                    escape(receiver),
                    get(s)
                );
            }
        };
        series(
            out,
            "tally_notifications_total",
            "Notifications delivered.",
            "counter",
            &|s| s.sent,
        );
        series(
            out,
            "tally_notifications_failed_total",
            "Notifications given up on after retries.",
            "counter",
            &|s| s.failed,
        );
        series(
            out,
            "tally_notification_retries_total",
            "Delivery attempts retried.",
            "counter",
            &|s| s.retried,
        );
        let name = "tally_notification_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from the first attempt to the outcome.\n# TYPE {name} histogram"
        );
        for ((integration, receiver), s) in &inner.integrations {
            let labels = format!(
                "integration=\"{integration}\",receiver=\"{}\"",
                escape(receiver)
            );
            let mut cumulative = 0;
            for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                cumulative += s.latency_buckets[i];
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
            }
            cumulative += s.latency_buckets[LATENCY_BUCKETS.len()];
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", s.latency_sum);
            let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
        }
        let fwd = |out: &mut String, name: &str, help: &str, get: &dyn Fn(&ForwardStats) -> u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (url, s) in &inner.forward {
                let _ = writeln!(out, "{name}{{alertmanager=\"{}\"}} {}", escape(url), get(s));
            }
        };
        fwd(
            out,
            "tally_alerts_forwarded_total",
            "Alerts accepted by an external Alertmanager.",
            &|s| s.forwarded,
        );
        fwd(out, "tally_alerts_forward_dropped_total", "Alerts dropped before reaching an external Alertmanager (queue full or retries exhausted).", &|s| s.dropped);
        fwd(
            out,
            "tally_alerts_forward_failures_total",
            "Failed attempts to send a batch to an external Alertmanager.",
            &|s| s.failed_batches,
        );
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integration::IntegrationKind;

    #[test]
    fn writes_counters_and_histogram() {
        let stats = Stats::default();
        let id = IntegrationId {
            receiver: "team \"a\"".into(),
            kind: IntegrationKind::Webhook,
            index: 0,
        };
        stats.notification_sent(&id, Duration::from_millis(20));
        stats.notification_retried(&id);
        stats.notification_failed(&id, Duration::from_secs(100));
        stats.forward("http://am:9093", |s| s.forwarded += 3);
        let mut out = String::new();
        stats.write_prometheus(&mut out);
        assert!(out.contains("tally_notifications_total{integration=\"webhook\",receiver=\"team \\\"a\\\"\"} 1\n"), "{out}");
        assert!(out.contains("tally_notifications_failed_total{integration=\"webhook\",receiver=\"team \\\"a\\\"\"} 1\n"));
        assert!(out.contains("le=\"0.05\"} 1\n"));
        assert!(out.contains("le=\"+Inf\"} 2\n"));
        assert!(out.contains("tally_alerts_forwarded_total{alertmanager=\"http://am:9093\"} 3\n"));
        assert_eq!(stats.integration_stats("webhook", "team \"a\"").retried, 1);
    }
}
