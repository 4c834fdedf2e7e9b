//! Expositions flattened into samples (`name{labels}` → value), and a comparison that
//! prints a line diff on failure.
//!
//! A key is the sample name, then the labels sorted by name with Rust-quoted values:
//! `http_requests_total{code="200",job="api"}`. Histogram bounds and summary quantiles are
//! written as Rust writes the float (`le="0.5"`, `le="1"`, `le="+Inf"`), so keys do not
//! depend on how an exposition spelled them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use tally_model::expfmt::{self, Format};
use tally_model::{Labels, MetricFamily, MetricValue};

/// Samples by key (see the module documentation).
pub type Samples = BTreeMap<String, f64>;

/// How a bound or quantile is written in a key.
pub fn fmt_float(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{v}")
    }
}

/// The key of sample `name` with `labels` (in any order).
pub fn series(name: &str, labels: &[(&str, &str)]) -> String {
    let mut sorted: Vec<(&str, &str)> = labels.to_vec();
    sorted.sort_unstable();
    key_from_pairs(name, sorted.iter().map(|(n, v)| (*n, (*v).to_owned())))
}

fn key_from_pairs<'a>(name: &str, pairs: impl Iterator<Item = (&'a str, String)>) -> String {
    let mut key = name.to_owned();
    let mut first = true;
    for (n, v) in pairs {
        key.push(if first { '{' } else { ',' });
        first = false;
        let _ = write!(key, "{n}={v:?}");
    }
    if !first {
        key.push('}');
    }
    key
}

fn key(name: &str, labels: &Labels, extra: Option<(&'static str, f64)>) -> String {
    let mut pairs: Vec<(&str, String)> = labels.iter().map(|(n, v)| (n, v.to_owned())).collect();
    if let Some((n, v)) = extra {
        pairs.push((n, fmt_float(v)));
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    }
    key_from_pairs(name, pairs.into_iter())
}

/// Every sample of `families`.
pub fn flatten(families: &[MetricFamily]) -> Samples {
    let mut out = Samples::new();
    for f in families {
        let name = f.name.as_str();
        for m in &f.metrics {
            match &m.value {
                MetricValue::Counter(c) => {
                    out.insert(key(name, &m.labels, None), c.value);
                }
                MetricValue::Gauge(v) | MetricValue::Unknown(v) => {
                    out.insert(key(name, &m.labels, None), *v);
                }
                MetricValue::Histogram(h) => {
                    for b in &h.buckets {
                        let k = key(
                            &format!("{name}_bucket"),
                            &m.labels,
                            Some(("le", b.upper_bound)),
                        );
                        out.insert(k, b.cumulative_count);
                    }
                    if let Some(sum) = h.sum {
                        out.insert(key(&format!("{name}_sum"), &m.labels, None), sum);
                    }
                    if let Some(count) = h.count {
                        out.insert(key(&format!("{name}_count"), &m.labels, None), count);
                    }
                }
                MetricValue::Summary(s) => {
                    for q in &s.quantiles {
                        let k = key(name, &m.labels, Some(("quantile", q.quantile)));
                        out.insert(k, q.value);
                    }
                    if let Some(sum) = s.sum {
                        out.insert(key(&format!("{name}_sum"), &m.labels, None), sum);
                    }
                    if let Some(count) = s.count {
                        out.insert(key(&format!("{name}_count"), &m.labels, None), count);
                    }
                }
                MetricValue::Info | MetricValue::StateSet(_) => {
                    out.insert(key(name, &m.labels, None), 1.0);
                }
            }
        }
    }
    out
}

/// Parses a text-format (0.0.4) exposition, panicking with the body on failure.
pub fn parse_text(body: &[u8]) -> Vec<MetricFamily> {
    parse(body, Format::Text)
}

/// Parses an exposition in `format`, panicking with the body on failure.
pub fn parse(body: &[u8], format: Format) -> Vec<MetricFamily> {
    expfmt::parse(body, format).unwrap_or_else(|e| {
        panic!(
            "the server's exposition does not parse: {e}\n{}",
            String::from_utf8_lossy(body)
        )
    })
}

/// The samples of a text exposition, without tally's own `tally_*` metrics.
pub fn pushed_samples(body: &[u8]) -> Samples {
    flatten(&parse_text(body))
        .into_iter()
        .filter(|(k, _)| !k.starts_with("tally_"))
        .collect()
}

/// Only the samples whose key starts with `prefix`.
pub fn with_prefix(samples: &Samples, prefix: &str) -> Samples {
    samples
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// The lines by which `actual` differs from `expected` (`-` missing, `+` unexpected,
/// `~` different value); empty when they are equal (NaN equals NaN).
pub fn diff(expected: &Samples, actual: &Samples) -> String {
    let mut out = String::new();
    for (k, e) in expected {
        match actual.get(k) {
            None => {
                let _ = writeln!(out, "- {k} {e}");
            }
            Some(a) if a.to_bits() != e.to_bits() && !(a.is_nan() && e.is_nan()) => {
                let _ = writeln!(out, "~ {k} expected {e}, got {a}");
            }
            Some(_) => {}
        }
    }
    for (k, a) in actual {
        if !expected.contains_key(k) {
            let _ = writeln!(out, "+ {k} {a}");
        }
    }
    out
}

/// Asserts that two sample sets are equal, printing the diff otherwise.
#[track_caller]
pub fn assert_samples_eq(expected: &Samples, actual: &Samples, context: &str) {
    let d = diff(expected, actual);
    assert!(
        d.is_empty(),
        "{context}: samples differ (- missing, + unexpected, ~ value):\n{d}"
    );
}

/// The value of one sample, panicking with the whole set when it is missing.
#[track_caller]
pub fn value(samples: &Samples, key: &str) -> f64 {
    match samples.get(key) {
        Some(v) => *v,
        None => {
            let all: Vec<&String> = samples.keys().collect();
            panic!("no sample {key}; samples are:\n{all:#?}")
        }
    }
}
