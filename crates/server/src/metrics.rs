//! [`ServerMetrics`]: tally's own metrics, kept in a registry of the server's own and
//! served on `/metrics` after the aggregated view.

use tally::{Counter, Family, Gauge, Histogram, Registry};

/// Counters and gauges about the server itself. Cloning is shallow.
#[derive(Debug, Clone)]
pub struct ServerMetrics {
    /// The registry they live in.
    pub registry: Registry,
    /// Pushes by result: `applied`, `stale`, `rejected`.
    pub pushes: Family<Counter, 1>,
    /// Rejected requests by reason: `parse`, `content`, `limit`, `rate`, `size`, `key`.
    pub rejections: Family<Counter, 1>,
    /// Samples in applied pushes.
    pub samples: Counter,
    /// Deletes of existing groups.
    pub deletes: Counter,
    /// Groups expired.
    pub expired: Counter,
    /// Live groups, updated when `/metrics` is read.
    pub groups: Gauge,
    /// Live series, updated when `/metrics` is read.
    pub series: Gauge,
    /// Request durations by route template and method.
    pub latency: Family<Histogram, 2>,
}

impl ServerMetrics {
    /// Registers every metric in a new registry.
    pub fn new() -> Result<Self, tally::RegistryError> {
        let r = Registry::new();
        let latency_buckets = [
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
        ];
        Ok(Self {
            pushes: r.counter_family(
                "tally_gateway_pushes_total",
                "Pushes received, by result.",
                ["result"],
            )?,
            rejections: r.counter_family(
                "tally_gateway_rejections_total",
                "Requests refused, by reason.",
                ["reason"],
            )?,
            samples: r.counter(
                "tally_gateway_samples_total",
                "Series in applied pushes (a histogram or summary counts once).",
            )?,
            deletes: r.counter("tally_gateway_deletes_total", "Groups deleted.")?,
            expired: r.counter("tally_gateway_expired_total", "Groups expired by TTL.")?,
            groups: r.gauge("tally_gateway_groups", "Live groups.")?,
            series: r.gauge("tally_gateway_series", "Live series over all groups.")?,
            latency: r.histogram_family(
                "tally_http_request_duration_seconds",
                "HTTP request latency by route template.",
                ["route", "method"],
                &latency_buckets,
            )?,
            registry: r,
        })
    }
}
