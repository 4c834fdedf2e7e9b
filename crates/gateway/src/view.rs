//! The two read views: the aggregated view (rules 1, 5–7) and the per-group view.
//!
//! # Histograms with different bucket layouts (rule 6)
//!
//! The aggregated histogram has the union of every contributor's bounds. A contributor
//! that lacks a bound `b` adds its cumulative count at its largest bound below `b` (zero
//! if none): the observations it certainly has at or below `b`. So every aggregated bucket
//! is a lower bound of the true count, buckets stay cumulative, and `+Inf`, `_sum` and
//! `_count` are exact. Nothing is rejected and no count is lost.

use std::collections::BTreeMap;

use tally_model::{
    Bucket, CounterValue, HistogramValue, Labels, Metric, MetricFamily, MetricType, MetricValue,
    SummaryValue,
};

use crate::config::GaugeMode;
use crate::contribution::{aggregate_labels, Retired, RetiredSeries};
use crate::{Gateway, GatewayConfig, Group};

enum SeriesAcc {
    Counter(f64),
    /// Values with the push time of their group.
    Gauge(Vec<(f64, i64)>),
    Histogram {
        layouts: Vec<(Vec<f64>, Vec<f64>)>,
        sum: f64,
        count: f64,
    },
    Summary {
        sum: f64,
        count: f64,
    },
}

struct FamilyAcc {
    metric_type: MetricType,
    help: Option<String>,
    series: BTreeMap<Labels, SeriesAcc>,
}

fn add_layout(layouts: &mut Vec<(Vec<f64>, Vec<f64>)>, bounds: &[f64], counts: &[f64]) {
    match layouts.iter_mut().find(|(b, _)| b == bounds) {
        Some((_, acc)) => {
            for (a, c) in acc.iter_mut().zip(counts) {
                *a += c;
            }
        }
        None => layouts.push((bounds.to_vec(), counts.to_vec())),
    }
}

/// Merges cumulative histograms of different layouts (see the module documentation).
pub fn merge_layouts(layouts: &[(Vec<f64>, Vec<f64>)]) -> Vec<(f64, f64)> {
    let mut bounds: Vec<f64> = layouts
        .iter()
        .flat_map(|(b, _)| b.iter().copied())
        .collect();
    bounds.sort_by(f64::total_cmp);
    bounds.dedup();
    bounds
        .into_iter()
        .map(|b| {
            let total = layouts
                .iter()
                .map(|(lb, counts)| {
                    let below = lb.partition_point(|&x| x <= b);
                    if below == 0 {
                        0.0
                    } else {
                        counts[below - 1]
                    }
                })
                .sum();
            (b, total)
        })
        .collect()
}

impl SeriesAcc {
    fn add_retired(&mut self, r: &RetiredSeries) {
        match self {
            Self::Counter(v) => *v += r.counter,
            Self::Histogram {
                layouts,
                sum,
                count,
            } => {
                *sum += r.sum;
                *count += r.count;
                for l in &r.layouts {
                    add_layout(layouts, &l.bounds, &l.cumulative);
                }
            }
            Self::Summary { sum, count } => {
                *sum += r.sum;
                *count += r.count;
            }
            Self::Gauge(_) => {}
        }
    }

    fn into_value(self, metric_type: MetricType, mode: GaugeMode) -> MetricValue {
        match self {
            Self::Counter(value) => MetricValue::Counter(CounterValue {
                value,
                ..CounterValue::default()
            }),
            Self::Gauge(values) => {
                let v = match mode {
                    GaugeMode::Sum => values.iter().map(|(v, _)| v).sum(),
                    GaugeMode::Max => values.iter().map(|(v, _)| *v).fold(f64::NAN, f64::max),
                    GaugeMode::Min => values.iter().map(|(v, _)| *v).fold(f64::NAN, f64::min),
                    GaugeMode::Last => values
                        .iter()
                        .max_by_key(|(_, t)| *t)
                        .map_or(f64::NAN, |(v, _)| *v),
                };
                if metric_type == MetricType::Unknown {
                    MetricValue::Unknown(v)
                } else {
                    MetricValue::Gauge(v)
                }
            }
            Self::Histogram {
                layouts,
                sum,
                count,
            } => MetricValue::Histogram(HistogramValue {
                buckets: merge_layouts(&layouts)
                    .into_iter()
                    .map(|(upper_bound, cumulative_count)| Bucket {
                        upper_bound,
                        cumulative_count,
                        exemplar: None,
                    })
                    .collect(),
                sum: Some(sum),
                count: Some(count),
                created: None,
            }),
            Self::Summary { sum, count } => MetricValue::Summary(SummaryValue {
                quantiles: Vec::new(),
                sum: Some(sum),
                count: Some(count),
                created: None,
            }),
        }
    }
}

/// What the views are built from, copied out of a [`Gateway`] by
/// [`Gateway::view_source`]: the live groups (their families shared, not copied), the
/// retired amounts and the configuration. Taking it costs a few small allocations per
/// group, far less than building a view, so a server can hold the gateway's lock just
/// for that and build the views after releasing it.
#[derive(Debug, Clone)]
pub struct ViewSource {
    config: GatewayConfig,
    groups: Vec<Group>,
    retired: Retired,
}

impl ViewSource {
    /// [`Gateway::aggregated`] of the gateway this was taken from.
    pub fn aggregated(&self) -> Vec<MetricFamily> {
        aggregated(&self.config, &self.groups, &self.retired)
    }

    /// [`Gateway::group_view`] of the gateway this was taken from.
    pub fn group_view(&self) -> Vec<MetricFamily> {
        group_view(self.groups.iter().collect())
    }

    /// Number of live groups.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Number of live series over all groups.
    pub fn series_count(&self) -> usize {
        self.groups.iter().map(Group::series).sum()
    }
}

impl Gateway {
    /// The aggregated view: every series with the aggregation labels removed, combined
    /// over the live groups (and, for counter-like series, the retired amounts). Only
    /// series that at least one live group feeds are included. Families sorted by name.
    pub fn aggregated(&self) -> Vec<MetricFamily> {
        aggregated(&self.config, self.groups.values(), &self.retired)
    }

    /// The per-group view, as Pushgateway serves it: every group's series (grouping key
    /// labels set), plus `push_time_seconds` and `push_failure_time_seconds` per group.
    pub fn group_view(&self) -> Vec<MetricFamily> {
        group_view(self.groups.values().collect())
    }

    /// A copy of what the views are built from (see [`ViewSource`]).
    pub fn view_source(&self) -> ViewSource {
        ViewSource {
            config: self.config.clone(),
            groups: self.groups.values().cloned().collect(),
            retired: self.retired.clone(),
        }
    }
}

fn aggregated<'a>(
    config: &GatewayConfig,
    groups: impl IntoIterator<Item = &'a Group>,
    retired: &Retired,
) -> Vec<MetricFamily> {
    let agg = &config.aggregation_labels;
    let mut families: BTreeMap<&str, FamilyAcc> = BTreeMap::new();
    for group in groups {
        for family in group.families.iter() {
            let acc = families.entry(&family.name).or_insert_with(|| FamilyAcc {
                metric_type: family.metric_type,
                help: family.help.as_deref().map(str::to_owned),
                series: BTreeMap::new(),
            });
            for s in family.series.iter() {
                let labels = aggregate_labels(&s.labels, &group.key, agg);
                add_metric(
                    &mut acc.series,
                    labels,
                    &s.value.to_model(),
                    group.last_push_ms,
                );
            }
        }
    }
    families
        .into_iter()
        .map(|(name, acc)| {
            let mode = config.gauge_mode(name);
            let metrics = acc
                .series
                .into_iter()
                .map(|(labels, mut s)| {
                    if let Some(r) = retired.get(&(name.to_owned(), labels.clone())) {
                        s.add_retired(r);
                    }
                    Metric::new(labels, s.into_value(acc.metric_type, mode))
                })
                .collect();
            MetricFamily {
                name: name.to_owned(),
                help: acc.help,
                unit: None,
                metric_type: acc.metric_type,
                metrics,
            }
        })
        .collect()
}

fn group_view(mut groups: Vec<&Group>) -> Vec<MetricFamily> {
    let mut families: BTreeMap<String, MetricFamily> = BTreeMap::new();
    groups.sort_by(|a, b| a.key.cmp(&b.key));
    let mut push_time = MetricFamily::new("push_time_seconds", MetricType::Gauge)
        .with_help("Last Unix time when changing this group in the Pushgateway succeeded.");
    let mut failure_time = MetricFamily::new("push_failure_time_seconds", MetricType::Gauge)
        .with_help("Last Unix time when changing this group in the Pushgateway failed.");
    for group in groups {
        for family in group.to_families() {
            match families.get_mut(&family.name) {
                Some(out) => out.metrics.extend(family.metrics),
                None => {
                    families.insert(family.name.clone(), family);
                }
            }
        }
        push_time.metrics.push(Metric::new(
            group.key.clone(),
            MetricValue::Gauge(group.last_push_ms as f64 / 1000.0),
        ));
        failure_time.metrics.push(Metric::new(
            group.key.clone(),
            MetricValue::Gauge(group.last_failure_ms.map_or(0.0, |t| t as f64 / 1000.0)),
        ));
    }
    families.insert(push_time.name.clone(), push_time);
    families.insert(failure_time.name.clone(), failure_time);
    families.into_values().collect()
}

fn add_metric(
    series: &mut BTreeMap<Labels, SeriesAcc>,
    labels: Labels,
    value: &MetricValue,
    pushed_ms: i64,
) {
    let entry = series.entry(labels);
    match value {
        MetricValue::Counter(c) => {
            let acc = entry.or_insert(SeriesAcc::Counter(0.0));
            if let SeriesAcc::Counter(v) = acc {
                *v += c.value;
            }
        }
        MetricValue::Gauge(v) | MetricValue::Unknown(v) => {
            let acc = entry.or_insert_with(|| SeriesAcc::Gauge(Vec::new()));
            if let SeriesAcc::Gauge(values) = acc {
                values.push((*v, pushed_ms));
            }
        }
        MetricValue::Histogram(h) => {
            let acc = entry.or_insert_with(|| SeriesAcc::Histogram {
                layouts: Vec::new(),
                sum: 0.0,
                count: 0.0,
            });
            if let SeriesAcc::Histogram {
                layouts,
                sum,
                count,
            } = acc
            {
                let bounds: Vec<f64> = h.buckets.iter().map(|b| b.upper_bound).collect();
                let counts: Vec<f64> = h.buckets.iter().map(|b| b.cumulative_count).collect();
                add_layout(layouts, &bounds, &counts);
                *sum += h.sum.unwrap_or(0.0);
                *count += h
                    .count
                    .or_else(|| h.buckets.last().map(|b| b.cumulative_count))
                    .unwrap_or(0.0);
            }
        }
        MetricValue::Summary(s) => {
            let acc = entry.or_insert(SeriesAcc::Summary {
                sum: 0.0,
                count: 0.0,
            });
            if let SeriesAcc::Summary { sum, count } = acc {
                *sum += s.sum.unwrap_or(0.0);
                *count += s.count.unwrap_or(0.0);
            }
        }
        MetricValue::Info | MetricValue::StateSet(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_layouts_conservatively() {
        let inf = f64::INFINITY;
        let a = (vec![1.0, 5.0, inf], vec![2.0, 4.0, 5.0]);
        let b = (vec![2.0, inf], vec![3.0, 3.0]);
        let merged = merge_layouts(&[a, b]);
        assert_eq!(
            merged,
            [(1.0, 2.0), (2.0, 2.0 + 3.0), (5.0, 4.0 + 3.0), (inf, 8.0)]
        );
    }
}
