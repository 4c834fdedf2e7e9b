//! Metric families: a name, its type and metadata, and one [`Metric`] per label set.
//!
//! # Naming
//!
//! A family's [`name`](MetricFamily::name) is the name of its samples as the Prometheus
//! text format 0.0.4 writes them in its `# TYPE` line. For most types that is also the
//! OpenMetrics family name; two types differ, because OpenMetrics puts a suffix on their
//! samples that is not part of the family name:
//!
//! | type | `name` here | OpenMetrics `# TYPE` | OpenMetrics samples |
//! |---|---|---|---|
//! | counter | `foo_total` | `foo` | `foo_total`, `foo_created` |
//! | info | `foo_info` | `foo` | `foo_info` |
//!
//! Histograms, summaries and gauge histograms keep their base name (`foo`) and derive
//! `foo_bucket`, `foo_sum`, `foo_count` (and `foo_created`, `foo_gsum`, `foo_gcount`).
//! A counter whose name lacks `_total` (legal in 0.0.4, linted) gains it when written as
//! OpenMetrics.

use crate::{Exemplar, Labels};

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// A monotonically increasing total.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Cumulative buckets of observations, with sum and count.
    Histogram,
    /// OpenMetrics: buckets of a current distribution (may go down), with `_gsum`/`_gcount`.
    GaugeHistogram,
    /// Client-side quantiles, with sum and count.
    Summary,
    /// OpenMetrics: textual information as labels on a constant 1.
    Info,
    /// OpenMetrics: a set of boolean states.
    StateSet,
    /// No type given (`untyped` in 0.0.4, `unknown` in OpenMetrics).
    Unknown,
}

impl MetricType {
    /// The name used in a 0.0.4 `# TYPE` line. OpenMetrics-only types have none.
    pub fn as_text_name(self) -> Option<&'static str> {
        match self {
            Self::Counter => Some("counter"),
            Self::Gauge => Some("gauge"),
            Self::Histogram => Some("histogram"),
            Self::Summary => Some("summary"),
            Self::Unknown => Some("untyped"),
            Self::GaugeHistogram | Self::Info | Self::StateSet => None,
        }
    }

    /// The name used in an OpenMetrics `# TYPE` line.
    pub fn as_openmetrics_name(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::GaugeHistogram => "gaugehistogram",
            Self::Summary => "summary",
            Self::Info => "info",
            Self::StateSet => "stateset",
            Self::Unknown => "unknown",
        }
    }

    /// Parses a 0.0.4 type name.
    pub fn from_text_name(name: &str) -> Option<Self> {
        match name {
            "counter" => Some(Self::Counter),
            "gauge" => Some(Self::Gauge),
            "histogram" => Some(Self::Histogram),
            "summary" => Some(Self::Summary),
            "untyped" => Some(Self::Unknown),
            _ => None,
        }
    }

    /// Parses an OpenMetrics type name.
    pub fn from_openmetrics_name(name: &str) -> Option<Self> {
        match name {
            "counter" => Some(Self::Counter),
            "gauge" => Some(Self::Gauge),
            "histogram" => Some(Self::Histogram),
            "gaugehistogram" => Some(Self::GaugeHistogram),
            "summary" => Some(Self::Summary),
            "info" => Some(Self::Info),
            "stateset" => Some(Self::StateSet),
            "unknown" => Some(Self::Unknown),
            _ => None,
        }
    }
}

/// A named group of metrics of one type, with optional help text and unit.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// The family name (see the module documentation for counters and infos).
    pub name: String,
    /// Help text, unescaped.
    pub help: Option<String>,
    /// OpenMetrics unit (e.g. `seconds`); the name should end with `_<unit>`.
    pub unit: Option<String>,
    /// The family's type; every metric's value has the matching variant.
    pub metric_type: MetricType,
    /// One entry per label set, in exposition order.
    pub metrics: Vec<Metric>,
}

impl MetricFamily {
    /// An empty family.
    pub fn new(name: impl Into<String>, metric_type: MetricType) -> Self {
        Self {
            name: name.into(),
            help: None,
            unit: None,
            metric_type,
            metrics: Vec::new(),
        }
    }

    /// Sets the help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Appends a metric.
    pub fn with_metric(mut self, metric: Metric) -> Self {
        self.metrics.push(metric);
        self
    }

    /// The OpenMetrics family name: `name` without the `_total` (counter) or `_info`
    /// (info) suffix its samples carry.
    pub fn openmetrics_name(&self) -> &str {
        let suffix = match self.metric_type {
            MetricType::Counter => "_total",
            MetricType::Info => "_info",
            _ => return &self.name,
        };
        self.name.strip_suffix(suffix).unwrap_or(&self.name)
    }
}

/// One series (or, for histograms and summaries, one group of series) of a family.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The labels, without `__name__`, and without `le`/`quantile` (those live in the
    /// value) or a stateset's state label.
    pub labels: Labels,
    /// The value, shaped by the family's type.
    pub value: MetricValue,
    /// Explicit timestamp in milliseconds, if the exposition gave one.
    pub timestamp_ms: Option<i64>,
}

impl Metric {
    /// A metric without a timestamp.
    pub fn new(labels: Labels, value: MetricValue) -> Self {
        Self {
            labels,
            value,
            timestamp_ms: None,
        }
    }
}

/// The value of one [`Metric`]; the variant matches the family's [`MetricType`].
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    /// For [`MetricType::Counter`].
    Counter(CounterValue),
    /// For [`MetricType::Gauge`].
    Gauge(f64),
    /// For [`MetricType::Unknown`].
    Unknown(f64),
    /// For [`MetricType::Histogram`] and [`MetricType::GaugeHistogram`].
    Histogram(HistogramValue),
    /// For [`MetricType::Summary`].
    Summary(SummaryValue),
    /// For [`MetricType::Info`]: the information is in the labels, the value is 1.
    Info,
    /// For [`MetricType::StateSet`]: each state and whether it is set.
    StateSet(Vec<State>),
}

/// A counter's total, creation time and exemplar.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CounterValue {
    /// The total.
    pub value: f64,
    /// When the counter started, in seconds since the epoch (OpenMetrics `_created`).
    pub created: Option<f64>,
    /// An exemplar for the latest increment (boxed: most counters have none, and the
    /// gateway keeps many values).
    pub exemplar: Option<Box<Exemplar>>,
}

/// Cumulative buckets plus sum and count.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistogramValue {
    /// Buckets in increasing `upper_bound` order; the last has `upper_bound == +Inf`.
    pub buckets: Vec<Bucket>,
    /// Sum of observations (`_sum`, or `_gsum` for gauge histograms), when given.
    pub sum: Option<f64>,
    /// Count of observations (`_count` / `_gcount`), when given.
    pub count: Option<f64>,
    /// Creation time in seconds since the epoch (OpenMetrics `_created`).
    pub created: Option<f64>,
}

/// One cumulative histogram bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// The `le` bound.
    pub upper_bound: f64,
    /// Observations less than or equal to `upper_bound`.
    pub cumulative_count: f64,
    /// An exemplar that fell in this bucket (boxed, which keeps a bucket at 24 bytes).
    pub exemplar: Option<Box<Exemplar>>,
}

/// Quantiles plus sum and count.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SummaryValue {
    /// The quantiles as reported by the client.
    pub quantiles: Vec<Quantile>,
    /// Sum of observations, when given.
    pub sum: Option<f64>,
    /// Count of observations, when given.
    pub count: Option<f64>,
    /// Creation time in seconds since the epoch (OpenMetrics `_created`).
    pub created: Option<f64>,
}

/// One summary quantile.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantile {
    /// The quantile rank, in `[0, 1]`.
    pub quantile: f64,
    /// The observed value at that rank.
    pub value: f64,
}

/// One state of a state set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// The state's name (the value of the label named after the family).
    pub name: String,
    /// Whether the state is set (sample value 1) or not (0).
    pub enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip() {
        for t in [
            MetricType::Counter,
            MetricType::Gauge,
            MetricType::Histogram,
            MetricType::GaugeHistogram,
            MetricType::Summary,
            MetricType::Info,
            MetricType::StateSet,
            MetricType::Unknown,
        ] {
            assert_eq!(
                MetricType::from_openmetrics_name(t.as_openmetrics_name()),
                Some(t)
            );
            if let Some(name) = t.as_text_name() {
                assert_eq!(MetricType::from_text_name(name), Some(t));
            }
        }
    }

    #[test]
    fn openmetrics_names_drop_sample_suffixes() {
        assert_eq!(
            MetricFamily::new("a_total", MetricType::Counter).openmetrics_name(),
            "a"
        );
        assert_eq!(
            MetricFamily::new("a", MetricType::Counter).openmetrics_name(),
            "a"
        );
        assert_eq!(
            MetricFamily::new("b_info", MetricType::Info).openmetrics_name(),
            "b"
        );
        assert_eq!(
            MetricFamily::new("c_total", MetricType::Gauge).openmetrics_name(),
            "c_total"
        );
    }
}
