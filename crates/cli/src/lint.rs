//! Naming and metadata lints for parsed metric families, after Prometheus' `promlint`
//! (what `promtool check metrics` reports).
//!
//! The rules, in the order they are checked for each family:
//!
//! | rule | flags |
//! |---|---|
//! | help | no `# HELP`, or an empty one |
//! | units | a non-base unit in the name (`_milliseconds`, `_kilobytes`, `_minutes`, `_bits`) |
//! | counter | a counter without `_total`; a typed non-counter with `_total` |
//! | gauge | a typed non-gauge ending in `_timestamp_seconds` |
//! | histogram/summary names | `_bucket` outside histograms, `_count`/`_sum` outside histograms and summaries; `le` / `quantile` labels where they do not belong |
//! | type in name | `_gauge`, `_counter_`, ... inside the name |
//! | reserved characters | `:` in a metric name (reserved for recording rules) |
//! | camelCase | metric or label names with a lower-case letter followed by an upper-case one |
//! | abbreviations | abbreviated units (`_ms`, `_sec`, `_kb`, ...) |
//! | reserved prefix | metric or label names starting with `__` (tally's addition) |
//!
//! Where promlint has the rule, the message is promlint's, word for word, so that output can
//! be compared with `promtool`'s; label rules append the offending label name. Unlike
//! promlint, a problem is reported once per family, not once per series that shows it.
//! promlint has no rule on percentages versus `_ratio`, so neither does this module.
//!
//! Untyped (`unknown`) families are exempt from the type-dependent rules, as in promlint.

mod units;

use std::collections::BTreeSet;

use tally_model::{MetricFamily, MetricType};

/// One lint finding about one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Index of the family in the slice given to [`lint`].
    pub family: usize,
    /// The family name (as the model spells it: counters keep `_total`).
    pub metric: String,
    /// What is wrong, as one sentence without a trailing period.
    pub text: String,
}

/// Lints every family; problems come family by family, in the order of the rules above.
/// Never panics, whatever the names contain.
pub fn lint(families: &[MetricFamily]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (index, family) in families.iter().enumerate() {
        let mut texts = Vec::new();
        lint_family(family, &mut texts);
        problems.extend(texts.into_iter().map(|text| Problem {
            family: index,
            metric: family.name.clone(),
            text,
        }));
    }
    problems
}

/// The problems of one family, as texts.
fn lint_family(family: &MetricFamily, out: &mut Vec<String>) {
    let labels = label_names(family);
    lint_help(family, out);
    lint_units(&family.name, out);
    lint_counter(family, out);
    lint_gauge(family, out);
    lint_histogram_summary_reserved(family, &labels, out);
    lint_type_in_name(&family.name, out);
    lint_reserved_chars(&family.name, out);
    lint_camel_case(&family.name, &labels, out);
    lint_unit_abbreviations(&family.name, out);
    lint_reserved_prefix(&family.name, &labels, out);
}

/// The distinct label names of a family's series, sorted. The model keeps `le` and
/// `quantile` of histograms and summaries in their values, so those are not included.
fn label_names(family: &MetricFamily) -> BTreeSet<&str> {
    family
        .metrics
        .iter()
        .flat_map(|m| m.labels.iter().map(|(name, _)| name))
        .collect()
}

fn lint_help(family: &MetricFamily, out: &mut Vec<String>) {
    if family.help.as_deref().is_none_or(str::is_empty) {
        out.push("no help text".to_owned());
    }
}

fn lint_units(name: &str, out: &mut Vec<String>) {
    if let Some((unit, base)) = units::metric_unit(name) {
        if unit != base {
            out.push(format!("use base unit {base:?} instead of {unit:?}"));
        }
    }
}

fn lint_counter(family: &MetricFamily, out: &mut Vec<String>) {
    let has_total = family.name.ends_with("_total");
    match family.metric_type {
        MetricType::Counter if !has_total => {
            out.push(r#"counter metrics should have "_total" suffix"#.to_owned());
        }
        MetricType::Counter | MetricType::Unknown => {}
        _ if has_total => {
            out.push(r#"non-counter metrics should not have "_total" suffix"#.to_owned());
        }
        _ => {}
    }
}

fn lint_gauge(family: &MetricFamily, out: &mut Vec<String>) {
    let typed_non_gauge = !matches!(family.metric_type, MetricType::Gauge | MetricType::Unknown);
    if typed_non_gauge && family.name.ends_with("_timestamp_seconds") {
        out.push(r#"non-gauge metrics should not have "_timestamp_seconds" suffix"#.to_owned());
    }
}

fn lint_histogram_summary_reserved(
    family: &MetricFamily,
    labels: &BTreeSet<&str>,
    out: &mut Vec<String>,
) {
    let t = family.metric_type;
    if t == MetricType::Unknown {
        return;
    }
    let histogram = matches!(t, MetricType::Histogram | MetricType::GaugeHistogram);
    let summary = t == MetricType::Summary;
    let name = &family.name;
    if !histogram && name.ends_with("_bucket") {
        out.push(r#"non-histogram metrics should not have "_bucket" suffix"#.to_owned());
    }
    if !histogram && !summary {
        for suffix in ["_count", "_sum"] {
            if name.ends_with(suffix) {
                out.push(format!(
                    "non-histogram and non-summary metrics should not have {suffix:?} suffix"
                ));
            }
        }
    }
    if !histogram && labels.contains("le") {
        out.push(r#"non-histogram metrics should not have "le" label"#.to_owned());
    }
    if !summary && labels.contains("quantile") {
        out.push(r#"non-summary metrics should not have "quantile" label"#.to_owned());
    }
}

/// The type names promlint looks for, as they appear in its protobuf model (lower-cased).
const TYPE_NAMES: [&str; 5] = [
    "counter",
    "gauge",
    "histogram",
    "summary",
    "gauge_histogram",
];

fn lint_type_in_name(name: &str, out: &mut Vec<String>) {
    let lower = name.to_lowercase();
    for t in TYPE_NAMES {
        if has_word(&lower, t) {
            out.push(format!("metric name should not include type '{t}'"));
        }
    }
}

fn lint_reserved_chars(name: &str, out: &mut Vec<String>) {
    if name.contains(':') {
        out.push("metric names should not contain ':'".to_owned());
    }
}

fn lint_camel_case(name: &str, labels: &BTreeSet<&str>, out: &mut Vec<String>) {
    if is_camel_case(name) {
        out.push("metric names should be written in 'snake_case' not 'camelCase'".to_owned());
    }
    for label in labels.iter().filter(|l| is_camel_case(l)) {
        out.push(format!(
            "label names should be written in 'snake_case' not 'camelCase': label {label:?}"
        ));
    }
}

fn lint_unit_abbreviations(name: &str, out: &mut Vec<String>) {
    let lower = name.to_lowercase();
    if units::ABBREVIATIONS.iter().any(|a| has_word(&lower, a)) {
        out.push("metric names should not contain abbreviated units".to_owned());
    }
}

fn lint_reserved_prefix(name: &str, labels: &BTreeSet<&str>, out: &mut Vec<String>) {
    if name.starts_with("__") {
        out.push(r#"metric names starting with "__" are reserved for internal use"#.to_owned());
    }
    for label in labels.iter().filter(|l| l.starts_with("__")) {
        out.push(format!(
            r#"label names starting with "__" are reserved for internal use: label {label:?}"#
        ));
    }
}

/// Whether `word` appears in `name` as `_word_` or as a final `_word`.
fn has_word(name: &str, word: &str) -> bool {
    name.strip_suffix(word)
        .is_some_and(|rest| rest.ends_with('_'))
        || name.contains(&format!("_{word}_"))
}

/// Whether `name` has an ASCII lower-case letter directly followed by an upper-case one.
fn is_camel_case(name: &str) -> bool {
    name.as_bytes()
        .windows(2)
        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_model::{Labels, Metric, MetricValue};

    fn family(name: &str, t: MetricType, labels: &[(&str, &str)]) -> MetricFamily {
        let value = match t {
            MetricType::Gauge => MetricValue::Gauge(1.0),
            MetricType::Counter => MetricValue::Counter(Default::default()),
            MetricType::Histogram => MetricValue::Histogram(Default::default()),
            MetricType::Summary => MetricValue::Summary(Default::default()),
            _ => MetricValue::Unknown(1.0),
        };
        let labels = Labels::from_pairs(labels.iter().copied()).unwrap();
        MetricFamily::new(name, t)
            .with_help("Some help.")
            .with_metric(Metric::new(labels, value))
    }

    fn texts(f: MetricFamily) -> Vec<String> {
        lint(&[f]).into_iter().map(|p| p.text).collect()
    }

    #[test]
    fn clean_names_pass() {
        assert!(texts(family(
            "http_requests_total",
            MetricType::Counter,
            &[("code", "200")]
        ))
        .is_empty());
        assert!(texts(family(
            "process_resident_memory_bytes",
            MetricType::Gauge,
            &[]
        ))
        .is_empty());
        assert!(texts(family(
            "request_duration_seconds",
            MetricType::Histogram,
            &[]
        ))
        .is_empty());
        assert!(texts(family("rpc_duration_seconds", MetricType::Summary, &[])).is_empty());
        assert!(texts(family("x_bytes_total", MetricType::Unknown, &[])).is_empty());
        assert!(texts(family("thermometers", MetricType::Gauge, &[])).is_empty());
    }

    #[test]
    fn help() {
        let mut f = family("a", MetricType::Gauge, &[]);
        f.help = None;
        assert_eq!(texts(f.clone()), ["no help text"]);
        f.help = Some(String::new());
        assert_eq!(texts(f), ["no help text"]);
    }

    #[test]
    fn counters_and_total() {
        assert_eq!(
            texts(family("x_bytes", MetricType::Counter, &[])),
            [r#"counter metrics should have "_total" suffix"#]
        );
        assert_eq!(
            texts(family("x_bytes_total", MetricType::Gauge, &[])),
            [r#"non-counter metrics should not have "_total" suffix"#]
        );
        assert_eq!(
            texts(family(
                "last_run_timestamp_seconds",
                MetricType::Summary,
                &[]
            )),
            [r#"non-gauge metrics should not have "_timestamp_seconds" suffix"#]
        );
    }

    #[test]
    fn units() {
        assert_eq!(
            texts(family("x_milliseconds", MetricType::Gauge, &[])),
            [r#"use base unit "seconds" instead of "milliseconds""#]
        );
        assert_eq!(
            texts(family("disk_kilobytes", MetricType::Gauge, &[])),
            [r#"use base unit "bytes" instead of "kilobytes""#]
        );
        assert_eq!(
            texts(family("uptime_minutes_total", MetricType::Counter, &[])),
            [r#"use base unit "seconds" instead of "minutes""#]
        );
        assert_eq!(
            texts(family("latency_ms", MetricType::Gauge, &[])),
            ["metric names should not contain abbreviated units"]
        );
    }

    #[test]
    fn reserved_suffixes_and_labels() {
        assert_eq!(
            texts(family("x_bucket", MetricType::Gauge, &[("le", "1")])),
            [
                r#"non-histogram metrics should not have "_bucket" suffix"#,
                r#"non-histogram metrics should not have "le" label"#,
            ]
        );
        assert_eq!(
            texts(family("x_count", MetricType::Counter, &[]))[1],
            r#"non-histogram and non-summary metrics should not have "_count" suffix"#
        );
        assert_eq!(
            texts(family("x", MetricType::Histogram, &[("quantile", "0.5")])),
            [r#"non-summary metrics should not have "quantile" label"#]
        );
        assert!(texts(family("x_sum", MetricType::Unknown, &[("le", "1")])).is_empty());
    }

    #[test]
    fn names() {
        assert_eq!(
            texts(family("queue_gauge", MetricType::Gauge, &[])),
            ["metric name should not include type 'gauge'"]
        );
        assert_eq!(
            texts(family("job:rate5m", MetricType::Gauge, &[])),
            ["metric names should not contain ':'"]
        );
        assert_eq!(
            texts(family("requestCount", MetricType::Gauge, &[("httpMethod", "GET")])),
            [
                "metric names should be written in 'snake_case' not 'camelCase'",
                "label names should be written in 'snake_case' not 'camelCase': label \"httpMethod\"",
            ]
        );
        assert_eq!(
            texts(family("__x", MetricType::Gauge, &[("__y", "1")])),
            [
                r#"metric names starting with "__" are reserved for internal use"#,
                r#"label names starting with "__" are reserved for internal use: label "__y""#,
            ]
        );
    }

    #[test]
    fn odd_names_do_not_panic() {
        for name in [
            "",
            "_",
            "__",
            "é",
            "a.b-c",
            "_total",
            "ms",
            "_ms",
            "🦀_milli",
        ] {
            let _ = texts(family(name, MetricType::Gauge, &[]));
            let _ = texts(family(name, MetricType::Counter, &[]));
        }
    }
}
