#![allow(clippy::unwrap_used, clippy::expect_used)]

//! tally-gateway's integration tests: one per DESIGN.md §4 rule, and a property test.

mod property;
mod rules;

use tally_gateway::{parse_grouping_path, Gateway, GatewayConfig, Push, PushMethod, PushOutcome};
use tally_model::expfmt::{encode, parse, Format};
use tally_model::{MetricFamily, MetricValue};

/// Builds a push from a text body.
pub fn push(method: PushMethod, key: &str, body: &str) -> Push {
    Push {
        method,
        key: parse_grouping_path(key).unwrap(),
        families: parse(body.as_bytes(), Format::Text).unwrap(),
        ttl_ms: None,
        start_time: None,
        sequence: None,
    }
}

/// Applies a push and expects it to be applied.
pub fn apply(gw: &mut Gateway, p: Push, now: i64) -> PushOutcome {
    gw.push(p, now).unwrap()
}

/// The aggregated view as text, for readable assertions.
pub fn view_text(gw: &Gateway) -> String {
    let mut out = Vec::new();
    encode(&gw.aggregated(), Format::Text, &mut out);
    String::from_utf8(out).unwrap()
}

/// The value of an aggregated counter, gauge or untyped series given by name and
/// `label=value` pairs (all other labels must be absent).
pub fn value(view: &[MetricFamily], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let family = view.iter().find(|f| f.name == name)?;
    let metric = family.metrics.iter().find(|m| {
        m.labels.len() == labels.len() && labels.iter().all(|(n, v)| m.labels.get(n) == Some(*v))
    })?;
    match &metric.value {
        MetricValue::Counter(c) => Some(c.value),
        MetricValue::Gauge(v) | MetricValue::Unknown(v) => Some(*v),
        MetricValue::Histogram(h) => h.count,
        MetricValue::Summary(s) => s.count,
        _ => None,
    }
}

/// A gateway with the default configuration.
pub fn gateway() -> Gateway {
    Gateway::new(GatewayConfig::default())
}
