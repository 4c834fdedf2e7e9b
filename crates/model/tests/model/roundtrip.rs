//! Property: encode → parse returns the families that were encoded, for any valid family
//! set, in both formats.
//!
//! The generators build only what each format can carry: the text format has no
//! `_created`, exemplars, units or OpenMetrics-only types, and cannot keep leading blanks
//! in help text (Prometheus' parser skips them); OpenMetrics carries everything.

use proptest::prelude::*;
use tally_model::expfmt::{self, Format};
use tally_model::{
    Bucket, CounterValue, Exemplar, HistogramValue, Labels, Metric, MetricFamily, MetricType,
    MetricValue, Quantile, State, SummaryValue,
};

fn cases() -> u32 {
    std::env::var("TALLY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(400, |n: u32| (n / 8).max(64))
}

/// Any float, including NaN and the infinities.
fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -1e6f64..1e6,
        2 => (0u32..100_000).prop_map(f64::from),
        1 => prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
}

/// A non-negative, non-NaN float (OpenMetrics counters).
fn total_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        0f64..1e12,
        (0u32..1_000_000).prop_map(f64::from),
        Just(f64::INFINITY)
    ]
}

fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_/.:-]{1,12}",
        "[ -~]{1,10}",
        "\\PC{1,6}",
        Just("quote\" backslash\\ newline\n".to_owned()),
    ]
}

fn label_set(reserved: &'static [&'static str]) -> impl Strategy<Value = Labels> {
    prop::collection::btree_map(
        prop_oneof![4 => "[a-z_][a-z0-9_]{0,8}", 1 => "[a-z]{1,3}\\.[a-z]{1,3}"],
        label_value(),
        0..5,
    )
    .prop_map(move |map| {
        Labels::from_pairs(
            map.into_iter()
                .filter(|(n, _)| !n.starts_with("__") && !reserved.contains(&n.as_str())),
        )
        .unwrap()
    })
}

fn help(format: Format) -> impl Strategy<Value = Option<String>> {
    let text = prop_oneof!["[ -~]{0,30}", "\\PC{0,12}", Just("a\\b\nc\"d".to_owned())];
    prop::option::of(text).prop_map(move |h| {
        h.map(|h| match format {
            Format::Text => h.trim_start_matches([' ', '\t']).to_owned(),
            Format::OpenMetrics => h,
        })
    })
}

fn timestamp(format: Format) -> impl Strategy<Value = Option<i64>> {
    let _ = format;
    prop::option::of(-1_000_000_000_000_000i64..1_000_000_000_000_000)
}

fn exemplar(format: Format) -> BoxedStrategy<Option<Exemplar>> {
    if format == Format::Text {
        return Just(None).boxed();
    }
    prop::option::of(
        (
            prop::collection::btree_map("[a-z_]{1,8}", "[a-zA-Z0-9]{1,16}", 0..3),
            any_value(),
            prop::option::of(1.0e9f64..2.0e9),
        )
            .prop_map(|(labels, value, timestamp)| Exemplar {
                labels: Labels::from_pairs(labels).unwrap(),
                value,
                timestamp,
            }),
    )
    .boxed()
}

fn created(format: Format) -> BoxedStrategy<Option<f64>> {
    match format {
        Format::Text => Just(None).boxed(),
        Format::OpenMetrics => prop::option::of(1.0e9f64..2.0e9).boxed(),
    }
}

fn histogram(format: Format, gauge: bool) -> impl Strategy<Value = HistogramValue> {
    (
        prop::collection::btree_set(-1000i32..1000, 0..6),
        prop::collection::vec(0u32..1000, 7),
        prop::option::of(any_value()),
        any::<bool>(),
        if gauge {
            Just(None).boxed()
        } else {
            created(format)
        },
        prop::collection::vec(exemplar(format), 7),
    )
        .prop_map(
            move |(bounds, increments, sum, with_count, created, exemplars)| {
                let mut cumulative = 0.0;
                let mut buckets: Vec<Bucket> = bounds
                    .into_iter()
                    .map(|b| f64::from(b) / 8.0)
                    .chain([f64::INFINITY])
                    .zip(increments)
                    .zip(exemplars)
                    .map(|((upper_bound, inc), exemplar)| {
                        cumulative += f64::from(inc);
                        Bucket {
                            upper_bound,
                            cumulative_count: cumulative,
                            exemplar: exemplar.map(Box::new),
                        }
                    })
                    .collect();
                buckets.sort_by(|a, b| a.upper_bound.total_cmp(&b.upper_bound));
                HistogramValue {
                    count: with_count.then_some(cumulative),
                    sum: if with_count { sum.or(Some(0.0)) } else { sum },
                    buckets,
                    created,
                }
            },
        )
}

fn summary(format: Format) -> impl Strategy<Value = SummaryValue> {
    (
        prop::collection::btree_map(0u32..=100, any_value(), 0..4),
        prop::option::of(any_value()),
        prop::option::of(0u32..100_000),
        created(format),
    )
        .prop_filter("a summary needs at least one line", |(q, s, c, _)| {
            !q.is_empty() || s.is_some() || c.is_some()
        })
        .prop_map(|(quantiles, sum, count, created)| SummaryValue {
            quantiles: quantiles
                .into_iter()
                .map(|(q, value)| Quantile {
                    quantile: f64::from(q) / 100.0,
                    value,
                })
                .collect(),
            sum,
            count: count.map(f64::from),
            created,
        })
}

fn value(format: Format, metric_type: MetricType, family: &str) -> BoxedStrategy<MetricValue> {
    match metric_type {
        MetricType::Counter => {
            let total = match format {
                Format::Text => any_value().boxed(),
                Format::OpenMetrics => total_value().boxed(),
            };
            (total, created(format), exemplar(format))
                .prop_map(|(value, created, exemplar)| {
                    MetricValue::Counter(CounterValue {
                        value,
                        created,
                        exemplar: exemplar.map(Box::new),
                    })
                })
                .boxed()
        }
        MetricType::Gauge => any_value().prop_map(MetricValue::Gauge).boxed(),
        MetricType::Unknown => any_value().prop_map(MetricValue::Unknown).boxed(),
        MetricType::Histogram => histogram(format, false)
            .prop_map(MetricValue::Histogram)
            .boxed(),
        MetricType::GaugeHistogram => histogram(format, true)
            .prop_map(MetricValue::Histogram)
            .boxed(),
        MetricType::Summary => summary(format).prop_map(MetricValue::Summary).boxed(),
        MetricType::Info => Just(MetricValue::Info).boxed(),
        MetricType::StateSet => {
            let _ = family;
            prop::collection::btree_map("[a-z]{1,6}", any::<bool>(), 1..4)
                .prop_map(|states| {
                    MetricValue::StateSet(
                        states
                            .into_iter()
                            .map(|(name, enabled)| State { name, enabled })
                            .collect(),
                    )
                })
                .boxed()
        }
    }
}

fn metric_type(format: Format) -> BoxedStrategy<MetricType> {
    let text = [
        MetricType::Counter,
        MetricType::Gauge,
        MetricType::Histogram,
        MetricType::Summary,
        MetricType::Unknown,
    ];
    let om = [
        MetricType::GaugeHistogram,
        MetricType::Info,
        MetricType::StateSet,
    ];
    match format {
        Format::Text => prop::sample::select(text.to_vec()).boxed(),
        Format::OpenMetrics => prop::sample::select([text.to_vec(), om.to_vec()].concat()).boxed(),
    }
}

/// One family named from `index` so that no two families' sample names collide.
fn family(format: Format, index: usize) -> impl Strategy<Value = MetricFamily> {
    (
        metric_type(format),
        help(format),
        prop_oneof![3 => "[a-z][a-z0-9_]{0,10}", 1 => "[a-z]{1,4}\\.[a-z]{1,4}"],
        prop::option::of(prop::sample::select(vec!["seconds", "bytes", "ratio"])),
    )
        .prop_flat_map(move |(metric_type, help, stem, unit)| {
            let unit = unit.filter(|_| format == Format::OpenMetrics);
            let base = match &unit {
                Some(u) => format!("{stem}_f{index}_{u}"),
                None => format!("{stem}_f{index}"),
            };
            let name = match metric_type {
                MetricType::Counter => format!("{base}_total"),
                MetricType::Info => format!("{base}_info"),
                _ => base.clone(),
            };
            let reserved: &'static [&'static str] = match metric_type {
                MetricType::Histogram | MetricType::GaugeHistogram => &["le"],
                MetricType::Summary => &["quantile"],
                _ => &[],
            };
            let state_label = base.clone();
            let metrics = prop::collection::vec(
                (
                    label_set(reserved),
                    value(format, metric_type, &base),
                    timestamp(format),
                ),
                0..4,
            )
            .prop_map(move |ms| {
                let mut seen = std::collections::BTreeSet::new();
                ms.into_iter()
                    .map(|(labels, value, timestamp_ms)| Metric {
                        labels: labels.without(&[state_label.as_str()]),
                        value,
                        timestamp_ms,
                    })
                    .filter(|m| seen.insert(m.labels.clone()))
                    .collect::<Vec<_>>()
            });
            (Just((name, metric_type, help.clone(), unit)), metrics)
        })
        .prop_map(|((name, metric_type, help, unit), metrics)| MetricFamily {
            name,
            help,
            unit: unit.map(str::to_owned),
            metric_type,
            metrics,
        })
}

fn families(format: Format) -> impl Strategy<Value = Vec<MetricFamily>> {
    (0usize..6).prop_flat_map(move |n| {
        (0..n)
            .map(|i| family(format, i).boxed())
            .collect::<Vec<_>>()
    })
}

fn round_trip(families: &[MetricFamily], format: Format) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    expfmt::encode(families, format, &mut out);
    let text = String::from_utf8_lossy(&out);
    let parsed = expfmt::parse(&out, format)
        .map_err(|e| TestCaseError::fail(format!("encoder output rejected: {e}\n{text}")))?;
    // Debug formatting compares NaN as equal to NaN, which `PartialEq` does not.
    prop_assert_eq!(
        format!("{families:#?}"),
        format!("{parsed:#?}"),
        "exposition:\n{}",
        text
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn text_round_trips(families in families(Format::Text)) {
        round_trip(&families, Format::Text)?;
    }

    #[test]
    fn openmetrics_round_trips(families in families(Format::OpenMetrics)) {
        round_trip(&families, Format::OpenMetrics)?;
    }
}
