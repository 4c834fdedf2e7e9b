//! What one group's counter-like series add to the aggregated view, and the *retired*
//! amounts kept when series leave live groups.
//!
//! Counter-like means monotonic: counter values, histogram buckets, sums and counts, and
//! summary sums and counts. Their aggregate is `retired + Σ live groups`, so moving a
//! value from a live group into `retired` (on restart, delete, expiry, or a series
//! dropped from a push) leaves the total unchanged, and the total never decreases.

use std::collections::HashMap;

use tally_model::{Labels, MetricType, MetricValue};

use crate::stored::StoredFamily;

/// An aggregated series: family name and labels without the aggregation labels.
pub type SeriesKey = (String, Labels);

/// One group's counter-like contribution to an aggregated series.
#[derive(Debug, Clone, PartialEq)]
pub enum Contribution {
    /// A counter value.
    Counter(f64),
    /// A histogram: bounds (ending in `+Inf`), cumulative counts, sum and count.
    Histogram {
        /// Upper bounds, the last `+Inf`.
        bounds: Vec<f64>,
        /// Cumulative counts per bound.
        cumulative: Vec<f64>,
        /// Sum of observations.
        sum: f64,
        /// Count of observations.
        count: f64,
    },
    /// A summary's sum and count (quantiles cannot be aggregated).
    Summary {
        /// Sum of observations.
        sum: f64,
        /// Count of observations.
        count: f64,
    },
}

/// Whether a family type has counter-like series.
pub fn is_counter_like(t: MetricType) -> bool {
    matches!(
        t,
        MetricType::Counter | MetricType::Histogram | MetricType::Summary
    )
}

/// The aggregated labels of a stored series: its own labels with the group's grouping
/// key set over them (as `Labels::merged_with` does), minus the aggregation labels.
pub fn aggregate_labels(own: &Labels, key: &Labels, aggregation_labels: &[String]) -> Labels {
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(own.len() + key.len());
    let (mut a, mut b) = (own.iter().peekable(), key.iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => match x.0.cmp(y.0) {
                std::cmp::Ordering::Less => a.next(),
                std::cmp::Ordering::Greater => b.next(),
                std::cmp::Ordering::Equal => {
                    a.next();
                    b.next()
                }
            },
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => break,
        };
        if let Some((n, v)) = next {
            if !aggregation_labels.iter().any(|agg| agg == n) {
                pairs.push((n, v));
            }
        }
    }
    // Sorted and unique by construction, so this only copies.
    Labels::from_unsorted(&mut pairs).unwrap_or_default()
}

/// The counter-like contribution of one metric, if its type has one.
pub fn contribution(value: &MetricValue) -> Option<Contribution> {
    match value {
        MetricValue::Counter(c) => Some(Contribution::Counter(c.value)),
        MetricValue::Histogram(h) => Some(Contribution::Histogram {
            bounds: h.buckets.iter().map(|b| b.upper_bound).collect(),
            cumulative: h.buckets.iter().map(|b| b.cumulative_count).collect(),
            sum: h.sum.unwrap_or(0.0),
            count: h
                .count
                .or_else(|| h.buckets.last().map(|b| b.cumulative_count))
                .unwrap_or(0.0),
        }),
        MetricValue::Summary(s) => Some(Contribution::Summary {
            sum: s.sum.unwrap_or(0.0),
            count: s.count.unwrap_or(0.0),
        }),
        _ => None,
    }
}

/// Why a counter-like value cannot be aggregated, if it cannot: a counter total, bucket
/// count or `_count` that is negative, NaN or infinite would make the aggregated total go
/// down or stay NaN for good (retired amounts keep it). `_sum` may be anything.
pub(crate) fn unaggregatable(value: &MetricValue) -> Option<&'static str> {
    let bad = |v: f64| !(v.is_finite() && v >= 0.0);
    match value {
        MetricValue::Counter(c) if bad(c.value) => {
            Some("a counter must be a finite number not below zero")
        }
        MetricValue::Histogram(h)
            if h.buckets.iter().any(|b| bad(b.cumulative_count)) || h.count.is_some_and(bad) =>
        {
            Some("histogram bucket counts and _count must be finite numbers not below zero")
        }
        MetricValue::Summary(s) if s.count.is_some_and(bad) => {
            Some("a summary _count must be a finite number not below zero")
        }
        _ => None,
    }
}

/// Every counter-like contribution of a stored family of the group with grouping key
/// `key`, keyed by aggregated series.
pub fn family_contributions<'a>(
    family: &'a StoredFamily,
    key: &'a Labels,
    aggregation_labels: &'a [String],
) -> impl Iterator<Item = (SeriesKey, Contribution)> + 'a {
    family.series.iter().filter_map(move |s| {
        let c = contribution(&s.value.to_model())?;
        Some((
            (
                family.name.to_string(),
                aggregate_labels(&s.labels, key, aggregation_labels),
            ),
            c,
        ))
    })
}

/// Whether `new` is lower than `old` anywhere a monotonic value can be compared: the
/// sign that the process behind a group restarted.
pub fn decreased(old: &MetricValue, new: &MetricValue) -> bool {
    match (old, new) {
        (MetricValue::Counter(o), MetricValue::Counter(n)) => n.value < o.value,
        (MetricValue::Summary(o), MetricValue::Summary(n)) => {
            matches!((o.count, n.count), (Some(a), Some(b)) if b < a)
        }
        (MetricValue::Histogram(o), MetricValue::Histogram(n)) => {
            let count_down = matches!((o.count, n.count), (Some(a), Some(b)) if b < a);
            count_down
                || n.buckets.iter().any(|nb| {
                    o.buckets
                        .iter()
                        .find(|ob| ob.upper_bound == nb.upper_bound)
                        .is_some_and(|ob| nb.cumulative_count < ob.cumulative_count)
                })
        }
        _ => false,
    }
}

/// Retired histogram counts of one bucket layout.
#[derive(Debug, Clone, PartialEq)]
pub struct RetiredLayout {
    /// Upper bounds, the last `+Inf`.
    pub bounds: Vec<f64>,
    /// Cumulative counts per bound.
    pub cumulative: Vec<f64>,
}

/// Amounts retired into one aggregated series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetiredSeries {
    /// Counter total.
    pub counter: f64,
    /// Histogram or summary sum.
    pub sum: f64,
    /// Histogram or summary count.
    pub count: f64,
    /// Histogram buckets, one entry per layout seen.
    pub layouts: Vec<RetiredLayout>,
}

impl RetiredSeries {
    /// Adds (`sign = 1.0`) or takes back (`sign = -1.0`) a contribution.
    pub fn apply(&mut self, c: &Contribution, sign: f64) {
        match c {
            Contribution::Counter(v) => self.counter += sign * v,
            Contribution::Summary { sum, count } => {
                self.sum += sign * sum;
                self.count += sign * count;
            }
            Contribution::Histogram {
                bounds,
                cumulative,
                sum,
                count,
            } => {
                self.sum += sign * sum;
                self.count += sign * count;
                match self.layouts.iter_mut().find(|l| &l.bounds == bounds) {
                    Some(l) => {
                        for (acc, v) in l.cumulative.iter_mut().zip(cumulative) {
                            *acc += sign * v;
                        }
                    }
                    None => self.layouts.push(RetiredLayout {
                        bounds: bounds.clone(),
                        cumulative: cumulative.iter().map(|v| sign * v).collect(),
                    }),
                }
            }
        }
    }
}

/// The retired amounts of every aggregated series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Retired {
    series: HashMap<SeriesKey, RetiredSeries>,
}

impl Retired {
    /// Adds or takes back every counter-like contribution of `families`, the stored
    /// families of the group with grouping key `key`.
    pub fn apply_families<'a>(
        &mut self,
        families: impl IntoIterator<Item = &'a StoredFamily>,
        key: &Labels,
        aggregation_labels: &[String],
        sign: f64,
    ) {
        for family in families {
            for (series, c) in family_contributions(family, key, aggregation_labels) {
                self.series.entry(series).or_default().apply(&c, sign);
            }
        }
    }

    /// Adds or takes back one contribution.
    pub fn apply(&mut self, key: SeriesKey, c: &Contribution, sign: f64) {
        self.series.entry(key).or_default().apply(c, sign);
    }

    /// Sets the retired amounts of a series (restoring a snapshot).
    pub fn insert(&mut self, key: SeriesKey, series: RetiredSeries) {
        self.series.insert(key, series);
    }

    /// The retired amounts of a series, if any.
    pub fn get(&self, key: &SeriesKey) -> Option<&RetiredSeries> {
        self.series.get(key)
    }

    /// Number of series with retired amounts.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether nothing was retired.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Every series with retired amounts.
    pub fn iter(&self) -> impl Iterator<Item = (&SeriesKey, &RetiredSeries)> {
        self.series.iter()
    }
}
