//! How a group keeps its last push: [`StoredFamily`], [`StoredSeries`] and
//! [`StoredValue`], compact forms of the model's `MetricFamily`, `Metric` and
//! `MetricValue`.
//!
//! A gateway holds every live group's last push for as long as the group lives, so the
//! form it keeps them in is what a group costs in memory. The model's types are built for
//! parsing and encoding: a `Metric` is 128 bytes whatever its type (its value is sized
//! for a histogram) and its labels carry the grouping key's labels copied into every
//! series. Here:
//!
//! - a series keeps only its *own* labels, without the labels whose names are in the
//!   grouping key; the key is set over them when a view or a snapshot is built, which
//!   gives exactly the labels Pushgateway's rule gives (key labels replace the series'
//!   labels of the same name, DESIGN.md §4);
//! - a plain counter, gauge or untyped value is an `f64` in a 16-byte [`StoredValue`];
//!   histograms, summaries, and counters with `_created` or an exemplar keep the model's
//!   value, boxed, so nothing pushed is lost;
//! - a group's families are one shared slice sorted by name, so copying a group (a
//!   snapshot of the gateway) is a reference count increment.

use std::borrow::Cow;
use std::sync::Arc;

use tally_model::{
    CounterValue, Labels, Metric, MetricFamily, MetricType, MetricValue, SummaryValue,
};

/// One family of a group's last push.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFamily {
    /// The family name.
    pub name: Box<str>,
    /// Help text, unescaped.
    pub help: Option<Box<str>>,
    /// OpenMetrics unit.
    pub unit: Option<Box<str>>,
    /// The family's type.
    pub metric_type: MetricType,
    /// One entry per label set, in exposition order.
    pub series: Box<[StoredSeries]>,
}

/// One series (a histogram or summary counts once) of a stored family.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSeries {
    /// The series' labels without those named in the group's grouping key.
    pub labels: Labels,
    /// The value.
    pub value: StoredValue,
}

/// A stored value: plain scalars inline, anything else boxed as the model has it.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredValue {
    /// A counter total without `_created` or exemplar.
    Counter(f64),
    /// A gauge.
    Gauge(f64),
    /// An untyped value.
    Unknown(f64),
    /// Any other value, as parsed.
    Other(Box<MetricValue>),
}

impl StoredValue {
    /// Stores a model value; histogram bucket and summary quantile vectors are moved to
    /// allocations of their length (see [`exact`]).
    pub fn new(value: MetricValue) -> Self {
        match value {
            MetricValue::Counter(CounterValue {
                value,
                created: None,
                exemplar: None,
            }) => Self::Counter(value),
            MetricValue::Gauge(v) => Self::Gauge(v),
            MetricValue::Unknown(v) => Self::Unknown(v),
            mut other => {
                match &mut other {
                    MetricValue::Histogram(h) => exact(&mut h.buckets),
                    MetricValue::Summary(SummaryValue { quantiles, .. }) => exact(quantiles),
                    MetricValue::StateSet(states) => exact(states),
                    _ => {}
                }
                Self::Other(Box::new(other))
            }
        }
    }

    /// The value as the model has it: built for scalars (no allocation), borrowed
    /// otherwise.
    pub fn to_model(&self) -> Cow<'_, MetricValue> {
        match self {
            Self::Counter(value) => Cow::Owned(MetricValue::Counter(CounterValue {
                value: *value,
                created: None,
                exemplar: None,
            })),
            Self::Gauge(v) => Cow::Owned(MetricValue::Gauge(*v)),
            Self::Unknown(v) => Cow::Owned(MetricValue::Unknown(*v)),
            Self::Other(v) => Cow::Borrowed(v),
        }
    }
}

/// Moves the elements of a vector the parser grew by doubling into an allocation of
/// their length. Unlike `shrink_to_fit`, which lets the allocator split the block in
/// place and leaves a hole beside data that lives as long as the group, this frees the
/// whole grown block, which the next push's parser then reuses.
fn exact<T>(v: &mut Vec<T>) {
    if v.capacity() > v.len() {
        let mut fitted = Vec::with_capacity(v.len());
        fitted.append(v);
        *v = fitted;
    }
}

/// The labels of `labels` whose names are not in `key`, without allocating when there
/// are none (the usual case: clients rarely repeat the grouping key in their series).
fn without_key(labels: Labels, key: &Labels) -> Labels {
    if key.iter().any(|(name, _)| labels.contains(name)) {
        let names: Vec<&str> = key.iter().map(|(n, _)| n).collect();
        labels.without(&names)
    } else {
        labels
    }
}

impl StoredFamily {
    /// Stores a pushed family of the group with grouping key `key`. Timestamps are
    /// dropped (the gateway refuses pushes that carry them).
    pub fn new(family: MetricFamily, key: &Labels) -> Self {
        Self {
            name: family.name.into_boxed_str(),
            help: family.help.map(String::into_boxed_str),
            unit: family.unit.map(String::into_boxed_str),
            metric_type: family.metric_type,
            // Collected into a new allocation of the exact size rather than in place into
            // the parser's larger one (see `exact`).
            series: {
                let mut series = Vec::with_capacity(family.metrics.len());
                series.extend(family.metrics.into_iter().map(|m| StoredSeries {
                    labels: without_key(m.labels, key),
                    value: StoredValue::new(m.value),
                }));
                series.into_boxed_slice()
            },
        }
    }

    /// Stores every family of a push, sorted by name; of two families with the same
    /// name the later one wins.
    pub fn store_all(families: Vec<MetricFamily>, key: &Labels) -> Vec<StoredFamily> {
        let mut stored: Vec<StoredFamily> = families
            .into_iter()
            .map(|f| StoredFamily::new(f, key))
            .collect();
        sort_unique(&mut stored);
        stored
    }

    /// The family as the model has it, with the grouping key `key` set over every
    /// series' labels.
    pub fn to_family(&self, key: &Labels) -> MetricFamily {
        MetricFamily {
            name: self.name.to_string(),
            help: self.help.as_deref().map(str::to_owned),
            unit: self.unit.as_deref().map(str::to_owned),
            metric_type: self.metric_type,
            metrics: self
                .series
                .iter()
                .map(|s| Metric::new(s.labels.merged_with(key), s.value.to_model().into_owned()))
                .collect(),
        }
    }
}

/// Sorts families by name and keeps the last of each name.
pub(crate) fn sort_unique(families: &mut Vec<StoredFamily>) {
    // A stable sort keeps pushes' order among equal names; keep the last of each run.
    families.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out: Vec<StoredFamily> = Vec::with_capacity(families.len());
    for f in families.drain(..) {
        match out.last_mut() {
            Some(last) if last.name == f.name => *last = f,
            _ => out.push(f),
        }
    }
    *families = out;
}

/// A group's families: sorted by name, unique, shared (cloning is a reference count
/// increment).
pub type StoredFamilies = Arc<[StoredFamily]>;

/// The family called `name` in sorted `families`.
pub(crate) fn find<'a>(families: &'a [StoredFamily], name: &str) -> Option<&'a StoredFamily> {
    families
        .binary_search_by(|f| (*f.name).cmp(name))
        .ok()
        .map(|i| &families[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_model::expfmt::{parse, Format};

    fn key() -> Labels {
        Labels::from_pairs([("job", "j"), ("instance", "a")]).unwrap_or_default()
    }

    #[test]
    fn round_trips_with_the_key_set_over_the_series_labels() {
        let body = "# TYPE c_total counter\nc_total{instance=\"x\",route=\"/\"} 3\n\
                    # TYPE g gauge\ng 1.5\n\
                    # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n";
        let families = parse(body.as_bytes(), Format::Text).unwrap_or_default();
        let stored = StoredFamily::store_all(families.clone(), &key());
        let c = find(&stored, "c_total").map(|f| &f.series[0]);
        assert_eq!(
            c.map(|s| s.labels.clone()),
            Labels::from_pairs([("route", "/")]).ok()
        );
        assert!(matches!(c.map(|s| &s.value), Some(StoredValue::Counter(v)) if *v == 3.0));
        for original in &families {
            let back = find(&stored, &original.name).map(|f| f.to_family(&key()));
            let mut expected = original.clone();
            for m in &mut expected.metrics {
                m.labels = m.labels.merged_with(&key());
            }
            assert_eq!(back.as_ref(), Some(&expected));
        }
    }

    #[test]
    fn the_last_family_of_a_name_wins_and_names_are_sorted() {
        let f = |name: &str, v: f64| {
            MetricFamily::new(name, MetricType::Gauge)
                .with_metric(Metric::new(Labels::new(), MetricValue::Gauge(v)))
        };
        let stored = StoredFamily::store_all(vec![f("b", 1.0), f("a", 2.0), f("b", 3.0)], &key());
        let names: Vec<&str> = stored.iter().map(|f| &*f.name).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(
            find(&stored, "b").map(|f| f.series[0].value.clone()),
            Some(StoredValue::Gauge(3.0))
        );
    }
}
