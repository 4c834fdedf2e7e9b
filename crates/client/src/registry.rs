//! [`Registry`]: the set of metrics an application exports, and the process-wide default.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;
use tally_model::expfmt::{self, Format};
use tally_model::name::{is_legacy_label_name, is_legacy_metric_name};
use tally_model::{
    Bucket, CounterValue, HistogramValue, Labels, Metric, MetricFamily, MetricType, MetricValue,
};

use crate::histogram::{validate_buckets, BucketsError};
use crate::{Counter, Family, Gauge, Histogram};

/// Why a metric could not be registered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegistryError {
    /// The metric name does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name {0:?}")]
    InvalidName(String),
    /// A label name is invalid, reserved (`__` prefix, `le` on a histogram) or repeated.
    #[error("invalid label name {label:?} for metric {metric:?}: {reason}")]
    InvalidLabel {
        /// The metric.
        metric: String,
        /// The label.
        label: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The name is taken by a metric of another type, other labels or other buckets.
    #[error(
        "metric {name:?} is already registered as {existing}; cannot register it as {requested}"
    )]
    Conflict {
        /// The metric name.
        name: String,
        /// What is registered.
        existing: String,
        /// What was asked for.
        requested: String,
    },
    /// The histogram bucket layout is invalid.
    #[error(transparent)]
    Buckets(#[from] BucketsError),
}

/// Something that produces metric families when the registry is gathered: the process
/// collector, or an application's own.
pub trait Collector: Send + Sync + 'static {
    /// Appends the current families.
    fn collect(&self, out: &mut Vec<MetricFamily>);
}

type CollectFn = Box<dyn Fn(&mut Vec<Metric>) + Send + Sync>;
type ActivityFn = Box<dyn Fn() -> u64 + Send + Sync>;

struct Entry {
    name: String,
    help: String,
    metric_type: MetricType,
    /// Type, label names and buckets: two registrations with the same signature share.
    signature: String,
    source: Arc<dyn Any + Send + Sync>,
    collect: CollectFn,
    activity: ActivityFn,
}

#[derive(Default)]
struct Inner {
    entries: Vec<Entry>,
    collectors: Vec<Arc<dyn Collector>>,
}

/// A set of metrics to export. Cloning is shallow: clones share the same metrics.
///
/// Registering a name again with the same type, labels (and buckets) returns the metric
/// already registered, so independent parts of a program can ask for the same metric;
/// with anything different it is a [`RegistryError::Conflict`]. Updates never touch the
/// registry: it is only locked to register and to gather.
#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<RwLock<Inner>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.read();
        f.debug_struct("Registry")
            .field(
                "metrics",
                &inner.entries.iter().map(|e| &e.name).collect::<Vec<_>>(),
            )
            .field("collectors", &inner.collectors.len())
            .finish()
    }
}

/// The process-wide registry that `#[tally::measured]`, the ready-made metrics and the
/// default [`Pusher`](crate::Pusher) use.
pub fn default_registry() -> &'static Registry {
    static DEFAULT: OnceLock<Registry> = OnceLock::new();
    DEFAULT.get_or_init(Registry::new)
}

fn check_labels(metric: &str, labels: &[&str], histogram: bool) -> Result<(), RegistryError> {
    for (i, label) in labels.iter().enumerate() {
        let reason = if !is_legacy_label_name(label) {
            Some("not a valid label name")
        } else if label.starts_with("__") {
            Some("names starting with __ are reserved")
        } else if histogram && *label == "le" {
            Some("le is reserved for histogram buckets")
        } else if labels[..i].contains(label) {
            Some("repeated")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(RegistryError::InvalidLabel {
                metric: metric.to_owned(),
                label: (*label).to_owned(),
                reason,
            });
        }
    }
    Ok(())
}

fn labels_of<const N: usize>(names: &[Box<str>; N], values: &[Box<str>; N]) -> Labels {
    // Names are validated and distinct at registration, so this cannot fail.
    Labels::from_pairs(names.iter().zip(values.iter())).unwrap_or_default()
}

fn counter_metric(labels: Labels, c: &Counter) -> Metric {
    Metric::new(
        labels,
        MetricValue::Counter(CounterValue {
            value: c.get(),
            created: None,
            exemplar: None,
        }),
    )
}

fn histogram_metric(labels: Labels, h: &Histogram) -> Metric {
    let s = h.snapshot();
    Metric::new(
        labels,
        MetricValue::Histogram(HistogramValue {
            buckets: s
                .bounds
                .iter()
                .zip(&s.cumulative)
                .map(|(&upper_bound, &c)| Bucket {
                    upper_bound,
                    cumulative_count: c as f64,
                    exemplar: None,
                })
                .collect(),
            sum: Some(s.sum),
            count: Some(s.count as f64),
            created: None,
        }),
    )
}

fn bucket_signature(bounds: &[f64]) -> String {
    let parts: Vec<String> = bounds.iter().map(|b| b.to_string()).collect();
    format!("[{}]", parts.join(","))
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an entry, or returns the source of an identical earlier registration.
    fn register<T: Clone + Send + Sync + 'static>(
        &self,
        name: &str,
        help: &str,
        metric_type: MetricType,
        signature: String,
        make: impl FnOnce() -> (T, CollectFn, ActivityFn),
    ) -> Result<T, RegistryError> {
        if !is_legacy_metric_name(name) {
            return Err(RegistryError::InvalidName(name.to_owned()));
        }
        let mut inner = self.inner.write();
        if let Some(e) = inner.entries.iter().find(|e| e.name == name) {
            return match e.source.downcast_ref::<T>() {
                Some(existing) if e.signature == signature => Ok(existing.clone()),
                _ => Err(RegistryError::Conflict {
                    name: name.to_owned(),
                    existing: e.signature.clone(),
                    requested: signature,
                }),
            };
        }
        let (source, collect, activity) = make();
        inner.entries.push(Entry {
            name: name.to_owned(),
            help: help.to_owned(),
            metric_type,
            signature,
            source: Arc::new(source.clone()),
            collect,
            activity,
        });
        Ok(source)
    }

    /// A counter without labels. `_total` is appended to `name` unless present.
    pub fn counter(&self, name: &str, help: &str) -> Result<Counter, RegistryError> {
        let name = counter_name(name);
        self.register(&name, help, MetricType::Counter, "counter{}".into(), || {
            let c = Counter::new();
            let (c1, c2) = (c.clone(), c.clone());
            (
                c,
                Box::new(move |out: &mut Vec<Metric>| out.push(counter_metric(Labels::new(), &c1))),
                Box::new(move || c2.get_u64()),
            )
        })
    }

    /// A gauge without labels.
    pub fn gauge(&self, name: &str, help: &str) -> Result<Gauge, RegistryError> {
        self.register(name, help, MetricType::Gauge, "gauge{}".into(), || {
            let g = Gauge::new();
            let g1 = g.clone();
            (
                g,
                Box::new(move |out: &mut Vec<Metric>| {
                    out.push(Metric::new(Labels::new(), MetricValue::Gauge(g1.get())))
                }),
                Box::new(|| 0),
            )
        })
    }

    /// A histogram without labels, with the given bucket upper bounds.
    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        buckets: &[f64],
    ) -> Result<Histogram, RegistryError> {
        let bounds = validate_buckets(buckets)?;
        let signature = format!("histogram{{}}{}", bucket_signature(&bounds));
        self.register(name, help, MetricType::Histogram, signature, || {
            let h = Histogram::with_bounds(bounds);
            let (h1, h2) = (h.clone(), h.clone());
            (
                h,
                Box::new(move |out: &mut Vec<Metric>| {
                    out.push(histogram_metric(Labels::new(), &h1))
                }),
                Box::new(move || h2.count()),
            )
        })
    }

    /// A labelled counter family. `_total` is appended to `name` unless present.
    pub fn counter_family<const N: usize>(
        &self,
        name: &str,
        help: &str,
        labels: [&str; N],
    ) -> Result<Family<Counter, N>, RegistryError> {
        let name = counter_name(name);
        check_labels(&name, &labels, false)?;
        let signature = format!("counter{{{}}}", labels.join(","));
        self.register(&name, help, MetricType::Counter, signature, || {
            let f = Family::new(labels, Counter::new);
            let (f1, f2) = (f.clone(), f.clone());
            (
                f,
                Box::new(move |out: &mut Vec<Metric>| {
                    let names = f1.label_names();
                    f1.for_each(|values, c| out.push(counter_metric(labels_of(names, values), c)));
                }),
                Box::new(move || {
                    let mut n = 0u64;
                    f2.for_each(|_, c| n = n.wrapping_add(c.get_u64()));
                    n
                }),
            )
        })
    }

    /// A labelled gauge family.
    pub fn gauge_family<const N: usize>(
        &self,
        name: &str,
        help: &str,
        labels: [&str; N],
    ) -> Result<Family<Gauge, N>, RegistryError> {
        check_labels(name, &labels, false)?;
        let signature = format!("gauge{{{}}}", labels.join(","));
        self.register(name, help, MetricType::Gauge, signature, || {
            let f = Family::new(labels, Gauge::new);
            let f1 = f.clone();
            (
                f,
                Box::new(move |out: &mut Vec<Metric>| {
                    let names = f1.label_names();
                    f1.for_each(|values, g| {
                        out.push(Metric::new(
                            labels_of(names, values),
                            MetricValue::Gauge(g.get()),
                        ))
                    });
                }),
                Box::new(|| 0),
            )
        })
    }

    /// A labelled histogram family with the given bucket upper bounds.
    pub fn histogram_family<const N: usize>(
        &self,
        name: &str,
        help: &str,
        labels: [&str; N],
        buckets: &[f64],
    ) -> Result<Family<Histogram, N>, RegistryError> {
        check_labels(name, &labels, true)?;
        let bounds = validate_buckets(buckets)?;
        let signature = format!(
            "histogram{{{}}}{}",
            labels.join(","),
            bucket_signature(&bounds)
        );
        self.register(name, help, MetricType::Histogram, signature, || {
            let f = Family::new(labels, move || Histogram::with_bounds(bounds.clone()));
            let (f1, f2) = (f.clone(), f.clone());
            (
                f,
                Box::new(move |out: &mut Vec<Metric>| {
                    let names = f1.label_names();
                    f1.for_each(|values, h| {
                        out.push(histogram_metric(labels_of(names, values), h))
                    });
                }),
                Box::new(move || {
                    let mut n = 0u64;
                    f2.for_each(|_, h| n = n.wrapping_add(h.count()));
                    n
                }),
            )
        })
    }

    /// Adds a collector, called on every [`gather`](Self::gather).
    pub fn register_collector(&self, collector: impl Collector) {
        self.inner.write().collectors.push(Arc::new(collector));
    }

    /// Every metric family, sorted by name (collectors' families included).
    pub fn gather(&self) -> Vec<MetricFamily> {
        let (mut families, collectors) = {
            let inner = self.inner.read();
            let families: Vec<MetricFamily> = inner
                .entries
                .iter()
                .map(|e| {
                    let mut metrics = Vec::new();
                    (e.collect)(&mut metrics);
                    MetricFamily {
                        name: e.name.clone(),
                        help: (!e.help.is_empty()).then(|| e.help.clone()),
                        unit: None,
                        metric_type: e.metric_type,
                        metrics,
                    }
                })
                .collect();
            (families, inner.collectors.clone())
        };
        // Collectors run outside the lock: they may be slow (reading /proc).
        for c in &collectors {
            c.collect(&mut families);
        }
        families.sort_by(|a, b| a.name.cmp(&b.name));
        families
    }

    /// The registry as an exposition in `format`.
    pub fn encode(&self, format: Format) -> Vec<u8> {
        let mut out = Vec::with_capacity(4096);
        expfmt::encode(&self.gather(), format, &mut out);
        out
    }

    /// The registry in the Prometheus text format 0.0.4, as a string.
    pub fn encode_text(&self) -> String {
        // The encoder writes UTF-8 only.
        String::from_utf8_lossy(&self.encode(Format::Text)).into_owned()
    }

    /// A count that grows with every counter increment and histogram observation: the
    /// [`Pusher`](crate::Pusher) compares it between pushes to push early when busy.
    /// Reading it costs one pass over the metrics; updating metrics costs nothing extra.
    pub fn activity(&self) -> u64 {
        let inner = self.inner.read();
        inner
            .entries
            .iter()
            .fold(0u64, |acc, e| acc.wrapping_add((e.activity)()))
    }
}

fn counter_name(name: &str) -> String {
    if name.ends_with("_total") {
        name.to_owned()
    } else {
        format!("{name}_total")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_and_gathers() {
        let r = Registry::new();
        let c = r.counter("jobs", "Jobs run.").unwrap();
        c.inc();
        let f = r
            .counter_family("http_requests_total", "Requests.", ["method", "code"])
            .unwrap();
        f.with(&["GET", "200"]).inc_by(3);
        let h = r
            .histogram("latency_seconds", "Latency.", &[0.1, 1.0])
            .unwrap();
        h.observe(0.5);
        let g = r.gauge("temp", "").unwrap();
        g.set(21.5);
        let text = r.encode_text();
        assert!(
            text.contains("# TYPE jobs_total counter\njobs_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains("http_requests_total{code=\"200\",method=\"GET\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("latency_seconds_bucket{le=\"1\"} 1"),
            "{text}"
        );
        assert!(text.contains("temp 21.5"), "{text}");
        let names: Vec<String> = r.gather().into_iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "http_requests_total",
                "jobs_total",
                "latency_seconds",
                "temp"
            ]
        );
        assert_eq!(r.activity(), 1 + 3 + 1);
    }

    #[test]
    fn same_registration_returns_the_same_metric() {
        let r = Registry::new();
        let a = r.counter("x_total", "").unwrap();
        let b = r.counter("x", "").unwrap();
        assert!(a.same_as(&b));
        let f1 = r.counter_family("y", "", ["a"]).unwrap();
        let f2 = r.counter_family("y", "", ["a"]).unwrap();
        f1.with(&["v"]).inc();
        assert_eq!(f2.with(&["v"]).get(), 1.0);
    }

    #[test]
    fn conflicts_are_errors() {
        let r = Registry::new();
        r.counter("x", "").unwrap();
        assert!(matches!(
            r.counter_family("x", "", ["a"]),
            Err(RegistryError::Conflict { .. })
        ));
        r.gauge("g", "").unwrap();
        let err = r.histogram("g", "", &[1.0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "metric \"g\" is already registered as gauge{}; cannot register it as histogram{}[1]"
        );
        r.histogram("h", "", &[1.0]).unwrap();
        assert!(r.histogram("h", "", &[2.0]).is_err());
        assert!(matches!(
            r.gauge("bad-name", ""),
            Err(RegistryError::InvalidName(_))
        ));
        assert!(matches!(
            r.histogram_family("hf", "", ["le"], &[1.0]),
            Err(RegistryError::InvalidLabel { .. })
        ));
        assert!(r.gauge_family("gf", "", ["a", "a"]).is_err());
        assert!(r.gauge_family("gf", "", ["__x"]).is_err());
    }
}
