//! Oracle: what tally's encoder writes, read back by implementations that are not ours.
//!
//! - The official Python client (`prometheus_client`, PyPI) parses the text 0.0.4 and the
//!   OpenMetrics output (`tests/oracle/parse_text.py` prints what it read as JSON); the
//!   result must equal what the model says, normalized the way the Python client sees
//!   families (counter families without `_total`, `le`/`quantile` as label strings, which
//!   are compared here as numbers).
//! - `promtool check metrics` (Debian's `prometheus` package) must accept the text output
//!   without a single complaint: the fixtures are lint-clean on purpose.
//!
//! Both tools are installed by `scripts/test`. When one is missing these tests fail and say
//! so; they never skip.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Map, Value};
use tally_model::expfmt::{encode, encode_with, Encoder, Format};
use tally_model::name::{is_legacy_label_name, EscapingScheme};
use tally_model::{
    Bucket, CounterValue, Exemplar, HistogramValue, Labels, Metric, MetricFamily, MetricType,
    MetricValue, Quantile, State, SummaryValue,
};

// ---- Fixtures ---------------------------------------------------------------------------

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).expect("fixture labels are valid")
}

fn at(mut metric: Metric, timestamp_ms: i64) -> Metric {
    metric.timestamp_ms = Some(timestamp_ms);
    metric
}

fn counter_value(value: f64, created: Option<f64>, exemplar: Option<Exemplar>) -> MetricValue {
    MetricValue::Counter(CounterValue {
        value,
        created,
        exemplar: exemplar.map(Box::new),
    })
}

fn exemplar(trace_id: &str, value: f64, timestamp: Option<f64>) -> Option<Exemplar> {
    Some(Exemplar {
        labels: labels(&[("trace_id", trace_id)]),
        value,
        timestamp,
    })
}

/// Cumulative buckets from `(upper bound, count in bucket)` pairs; returns the value with
/// `count` equal to the `+Inf` bucket.
fn histogram(bounds: &[(f64, f64)], sum: f64, created: Option<f64>) -> HistogramValue {
    let mut total = 0.0;
    let buckets = bounds
        .iter()
        .map(|&(upper_bound, n)| {
            total += n;
            Bucket {
                upper_bound,
                cumulative_count: total,
                exemplar: None,
            }
        })
        .collect();
    HistogramValue {
        buckets,
        sum: Some(sum),
        count: Some(total),
        created,
    }
}

const LATENCY: [(f64, f64); 6] = [
    (0.005, 3.0),
    (0.05, 40.0),
    (0.25, 17.0),
    (1.0, 2.0),
    (10.0, 1.0),
    (f64::INFINITY, 0.0),
];

/// Every type, with escapes, special values, timestamps, many labels, `_created` and
/// exemplars. Legacy names only (promtool 2.42 cannot read quoted names); lint-clean.
fn fixtures() -> Vec<MetricFamily> {
    let many: Vec<(String, String)> = (0..12)
        .map(|i| (format!("label_{i:02}"), format!("value {i}")))
        .collect();
    let many = Labels::from_pairs(many).expect("valid");
    let requests = MetricFamily::new("http_requests_total", MetricType::Counter)
        .with_help("Total HTTP requests.\nServed by the \"api\" \\ gateway #1.")
        .with_metric(Metric::new(
            labels(&[
                ("method", "GET"),
                ("code", "200"),
                ("path", "/api/\"quoted\""),
            ]),
            counter_value(
                1027.0,
                Some(1_699_990_000.5),
                exemplar("4bf92f35", 0.25, Some(1_700_000_000.123)),
            ),
        ))
        .with_metric(at(
            Metric::new(
                labels(&[("method", "POST"), ("code", "500"), ("path", "C:\\temp\\")]),
                counter_value(3.0, Some(1_699_990_000.0), None),
            ),
            1_700_000_000_123,
        ))
        .with_metric(Metric::new(
            labels(&[("method", "PUT"), ("code", "201"), ("path", "line1\nline2")]),
            // Not a `"`: the Python client's exemplar scanner does not understand `\"`.
            counter_value(1.5e10, None, exemplar("a\\b\n", 1.0, None)),
        ))
        .with_metric(Metric::new(
            labels(&[
                ("method", "GET"),
                ("code", "200"),
                ("path", "héllo ✓ {a=\"b\",c} #x"),
            ]),
            counter_value(f64::INFINITY, None, None),
        ))
        .with_metric(Metric::new(many, counter_value(0.0, None, None)));
    let temperature = MetricFamily::new("room_temperature_celsius", MetricType::Gauge)
        .with_help("Temperature.")
        .with_metric(Metric::new(
            labels(&[("room", "nan")]),
            MetricValue::Gauge(f64::NAN),
        ))
        .with_metric(Metric::new(
            labels(&[("room", "sun")]),
            MetricValue::Gauge(f64::INFINITY),
        ))
        .with_metric(Metric::new(
            labels(&[("room", "void")]),
            MetricValue::Gauge(f64::NEG_INFINITY),
        ))
        .with_metric(Metric::new(
            labels(&[("room", "lab")]),
            MetricValue::Gauge(-273.15),
        ))
        .with_metric(Metric::new(
            labels(&[("room", "tiny")]),
            MetricValue::Gauge(1e-9),
        ))
        .with_metric(Metric::new(
            labels(&[("room", "huge")]),
            MetricValue::Gauge(1.5e300),
        ))
        .with_metric(at(
            Metric::new(labels(&[("room", "sum")]), MetricValue::Gauge(0.1 + 0.2)),
            1_600_000_000_001,
        ))
        .with_metric(Metric::new(Labels::new(), MetricValue::Gauge(21.5)));
    let mut with_exemplar = histogram(&LATENCY, 12.375, Some(1_699_000_000.25));
    with_exemplar.buckets[1].exemplar =
        exemplar("c0ffee", 0.042, Some(1_700_000_001.5)).map(Box::new);
    let latency = MetricFamily::new("request_duration_seconds", MetricType::Histogram)
        .with_help("Request latency.")
        .with_metric(Metric::new(
            labels(&[("handler", "/")]),
            MetricValue::Histogram(with_exemplar),
        ))
        .with_metric(at(
            Metric::new(
                labels(&[("handler", "/metrics")]),
                MetricValue::Histogram(histogram(&LATENCY, 0.5, None)),
            ),
            1_700_000_000_000,
        ));
    let rpc = MetricFamily::new("rpc_duration_seconds", MetricType::Summary)
        .with_help("RPC latency.")
        .with_metric(Metric::new(
            labels(&[("service", "auth")]),
            MetricValue::Summary(SummaryValue {
                quantiles: [(0.5, 0.0123), (0.9, 0.5), (0.99, f64::NAN)]
                    .into_iter()
                    .map(|(quantile, value)| Quantile { quantile, value })
                    .collect(),
                sum: Some(17.25),
                count: Some(2693.0),
                created: Some(1_600_000_000.125),
            }),
        ))
        .with_metric(Metric::new(
            labels(&[("service", "none")]),
            MetricValue::Summary(SummaryValue {
                sum: Some(0.0),
                count: Some(0.0),
                ..SummaryValue::default()
            }),
        ));
    let legacy = MetricFamily::new("legacy_queue_length", MetricType::Unknown)
        .with_help("Untyped.")
        .with_metric(Metric::new(
            labels(&[("queue", "a")]),
            MetricValue::Unknown(7.0),
        ))
        .with_metric(Metric::new(
            labels(&[("queue", "b")]),
            MetricValue::Unknown(-1.25),
        ));
    let build = MetricFamily::new("build_info", MetricType::Info)
        .with_help("Build information.")
        .with_metric(Metric::new(
            labels(&[
                ("version", "1.2.3"),
                ("revision", "abc123"),
                ("branch", "main"),
            ]),
            MetricValue::Info,
        ));
    let state = |name: &str, enabled| State {
        name: name.to_owned(),
        enabled,
    };
    let flags = MetricFamily::new("feature_flag", MetricType::StateSet)
        .with_help("Feature flags.")
        .with_metric(Metric::new(
            labels(&[("feature", "search")]),
            MetricValue::StateSet(vec![state("on", true), state("off", false)]),
        ))
        .with_metric(Metric::new(
            labels(&[("feature", "beta")]),
            MetricValue::StateSet(vec![state("on", false), state("off", true)]),
        ));
    let mut waiting = histogram(&[(0.1, 4.0), (1.0, 2.0), (f64::INFINITY, 1.0)], 3.5, None);
    waiting.buckets[0].exemplar = exemplar("f00d", 0.05, None).map(Box::new);
    let queue = MetricFamily::new("queue_wait_seconds", MetricType::GaugeHistogram)
        .with_help("Time the queued items have waited.")
        .with_metric(Metric::new(
            labels(&[("queue", "jobs")]),
            MetricValue::Histogram(waiting),
        ));
    let mut uptime = MetricFamily::new("process_uptime_seconds", MetricType::Gauge)
        .with_help("Uptime.")
        .with_metric(Metric::new(Labels::new(), MetricValue::Gauge(3600.5)));
    uptime.unit = Some("seconds".to_owned());
    vec![
        requests,
        temperature,
        latency,
        rpc,
        legacy,
        build,
        flags,
        queue,
        uptime,
    ]
}

/// A family whose metric and label names need UTF-8 quoting or escaping.
fn utf8_family() -> MetricFamily {
    MetricFamily::new("my.requests_total", MetricType::Counter)
        .with_help("Dotted names.")
        .with_metric(Metric::new(
            labels(&[("la.bel", "v"), ("ok", "1")]),
            counter_value(2.0, Some(1_700_000_000.0), None),
        ))
}

/// The counter `family` with its names rewritten by `scheme` the way the encoder does:
/// only names that are not legacy-valid, and the counter's name without its `_total`
/// suffix, which is appended after escaping so that samples keep matching their family.
fn escaped_counter(family: &MetricFamily, scheme: EscapingScheme) -> MetricFamily {
    let mut out = family.clone();
    out.name = format!("{}_total", scheme.escape(family.openmetrics_name(), true));
    for metric in &mut out.metrics {
        let pairs: Vec<(String, String)> = metric
            .labels
            .iter()
            .map(|(n, v)| {
                let n = if is_legacy_label_name(n) {
                    n.into()
                } else {
                    scheme.escape(n, false)
                };
                (n.into_owned(), v.to_owned())
            })
            .collect();
        metric.labels = Labels::from_pairs(pairs).expect("escaped names stay distinct");
    }
    out
}

// ---- Running the peers ------------------------------------------------------------------

const INSTALL_HINT: &str = "run scripts/test, which installs the test peers";

fn scratch_file(tag: &str, bytes: &[u8]) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("tally-oracle-{}-{n}-{tag}", std::process::id()));
    let mut file = File::create(&path).expect("create a scratch file");
    file.write_all(bytes).expect("write a scratch file");
    path
}

/// Runs the Python parser over `exposition`; returns its JSON.
fn python(format: &str, exposition: &[u8]) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/parse_text.py");
    let input = scratch_file(format, exposition);
    let output = Command::new("python3")
        .arg(&script)
        .arg(format)
        .stdin(File::open(&input).expect("reopen the scratch file"))
        .output();
    let _ = std::fs::remove_file(&input);
    let output = match output {
        Ok(output) => output,
        Err(e) => panic!("cannot run python3 ({e}): {INSTALL_HINT}"),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => {}
        Some(2) => panic!("the Python prometheus_client is missing ({stderr}): {INSTALL_HINT}"),
        _ => panic!(
            "prometheus_client could not parse tally's {format} output: {stderr}\n--- exposition:\n{}",
            String::from_utf8_lossy(exposition)
        ),
    }
    serde_json::from_slice(&output.stdout).expect("parse_text.py prints JSON")
}

/// Runs `promtool check metrics < file`; fails on any exit status but 0 or any output.
fn promtool_check(exposition: &[u8]) {
    let promtool = ["/usr/bin/promtool", "promtool"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .unwrap_or_else(|| panic!("promtool is not installed: {INSTALL_HINT}"));
    let input = scratch_file("promtool.prom", exposition);
    let output = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(File::open(&input).expect("reopen the scratch file"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run promtool");
    let _ = std::fs::remove_file(&input);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "promtool check metrics: {}\n{said}\n--- exposition:\n{}",
        output.status,
        String::from_utf8_lossy(exposition)
    );
}

// ---- What the Python client should see ---------------------------------------------------

/// A float the way both sides are compared: `NaN`, `+Inf`, `-Inf` or Rust's shortest
/// round-trip form.
fn canon(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v:?}")
    }
}

fn canon_str(s: &str) -> String {
    s.parse::<f64>()
        .map_or_else(|_| format!("unparsable {s:?}"), canon)
}

fn label_map(labels: &Labels, extra: Option<(&str, String)>) -> Value {
    let mut map: Map<String, Value> = labels
        .iter()
        .map(|(n, v)| (n.to_owned(), json!(v)))
        .collect();
    if let Some((n, v)) = extra {
        map.insert(n.to_owned(), json!(v));
    }
    Value::Object(map)
}

fn exemplar_json(exemplar: Option<&Exemplar>) -> Value {
    exemplar.map_or(Value::Null, |e| {
        json!({
            "labels": label_map(&e.labels, None),
            "value": canon(e.value),
            "timestamp": e.timestamp.map(canon),
        })
    })
}

/// Collects the samples of one family as the Python client reports them.
struct Samples<'a> {
    metric: &'a Metric,
    out: &'a mut Vec<Value>,
}

impl Samples<'_> {
    fn optional(&mut self, name: String, value: Option<f64>) {
        if let Some(value) = value {
            self.push(name, None, value, None);
        }
    }

    fn push(
        &mut self,
        name: String,
        extra: Option<(&str, String)>,
        value: f64,
        exemplar: Option<&Exemplar>,
    ) {
        self.out.push(json!({
            "name": name,
            "labels": label_map(&self.metric.labels, extra),
            "value": canon(value),
            "timestamp_ms": self.metric.timestamp_ms,
            "exemplar": exemplar_json(exemplar),
        }));
    }
}

fn family_json(
    name: &str,
    kind: &str,
    family: &MetricFamily,
    unit: &str,
    samples: Vec<Value>,
) -> Value {
    json!({
        "name": name,
        "type": kind,
        "help": family.help.clone().unwrap_or_default(),
        "unit": unit,
        "samples": samples,
    })
}

/// Runs `each` over the metrics of `family`, collecting the samples it pushes.
fn samples_of(
    family: &MetricFamily,
    mut each: impl FnMut(&mut Samples<'_>, &MetricValue),
) -> Vec<Value> {
    let mut out = Vec::new();
    for metric in &family.metrics {
        let mut samples = Samples {
            metric,
            out: &mut out,
        };
        each(&mut samples, &metric.value);
    }
    out
}

fn stem<'a>(name: &'a str, suffix: &str) -> &'a str {
    name.strip_suffix(suffix).unwrap_or(name)
}

/// The families the Python text parser should report for `families` written as 0.0.4.
fn expected_text(families: &[MetricFamily]) -> Value {
    let mut out = Vec::new();
    for f in families {
        let name = f.name.as_str();
        match f.metric_type {
            MetricType::Counter => {
                let base = stem(name, "_total");
                let samples = samples_of(f, |s, v| {
                    if let MetricValue::Counter(c) = v {
                        s.push(format!("{base}_total"), None, c.value, None);
                    }
                });
                out.push(family_json(base, "counter", f, "", samples));
            }
            MetricType::Gauge | MetricType::Unknown => {
                let kind = if f.metric_type == MetricType::Gauge {
                    "gauge"
                } else {
                    "unknown"
                };
                let samples = samples_of(f, |s, v| {
                    if let MetricValue::Gauge(x) | MetricValue::Unknown(x) = v {
                        s.push(name.to_owned(), None, *x, None);
                    }
                });
                out.push(family_json(name, kind, f, "", samples));
            }
            MetricType::Histogram | MetricType::GaugeHistogram => {
                let gauge = f.metric_type == MetricType::GaugeHistogram;
                let samples = samples_of(f, |s, v| {
                    if let MetricValue::Histogram(h) = v {
                        for b in &h.buckets {
                            let le = Some(("le", canon(b.upper_bound)));
                            s.push(format!("{name}_bucket"), le, b.cumulative_count, None);
                        }
                        if !gauge {
                            s.optional(format!("{name}_sum"), h.sum);
                            s.optional(format!("{name}_count"), h.count);
                        }
                    }
                });
                out.push(family_json(name, "histogram", f, "", samples));
                if gauge {
                    for (suffix, pick) in [("_gcount", 0), ("_gsum", 1)] {
                        let samples = samples_of(f, |s, v| {
                            if let MetricValue::Histogram(h) = v {
                                let x = if pick == 0 { h.count } else { h.sum };
                                s.optional(format!("{name}{suffix}"), x);
                            }
                        });
                        out.push(family_json(
                            &format!("{name}{suffix}"),
                            "gauge",
                            f,
                            "",
                            samples,
                        ));
                    }
                }
            }
            MetricType::Summary => {
                let samples = samples_of(f, |s, v| {
                    if let MetricValue::Summary(q) = v {
                        for q in &q.quantiles {
                            s.push(
                                name.to_owned(),
                                Some(("quantile", canon(q.quantile))),
                                q.value,
                                None,
                            );
                        }
                        s.optional(format!("{name}_sum"), q.sum);
                        s.optional(format!("{name}_count"), q.count);
                    }
                });
                out.push(family_json(name, "summary", f, "", samples));
            }
            MetricType::Info => {
                let full = format!("{}_info", stem(name, "_info"));
                let samples = samples_of(f, |s, _| s.push(full.clone(), None, 1.0, None));
                out.push(family_json(&full, "gauge", f, "", samples));
            }
            MetricType::StateSet => {
                let samples = samples_of(f, |s, v| {
                    if let MetricValue::StateSet(states) = v {
                        for st in states {
                            let value = if st.enabled { 1.0 } else { 0.0 };
                            s.push(name.to_owned(), Some((name, st.name.clone())), value, None);
                        }
                    }
                });
                out.push(family_json(name, "gauge", f, "", samples));
            }
        }
    }
    Value::Array(out)
}

/// The families the Python OpenMetrics parser should report for `families`.
fn expected_openmetrics(families: &[MetricFamily]) -> Value {
    let mut out = Vec::new();
    for f in families {
        let name = f.openmetrics_name();
        let unit = f.unit.clone().unwrap_or_default();
        let kind = f.metric_type.as_openmetrics_name();
        let samples = samples_of(f, |s, v| match v {
            MetricValue::Counter(c) => {
                s.push(
                    format!("{name}_total"),
                    None,
                    c.value,
                    c.exemplar.as_deref(),
                );
                s.optional(format!("{name}_created"), c.created);
            }
            MetricValue::Gauge(x) | MetricValue::Unknown(x) => {
                s.push(name.to_owned(), None, *x, None)
            }
            MetricValue::Histogram(h) => {
                for b in &h.buckets {
                    let le = Some(("le", canon(b.upper_bound)));
                    s.push(
                        format!("{name}_bucket"),
                        le,
                        b.cumulative_count,
                        b.exemplar.as_deref(),
                    );
                }
                let (count, sum) = match f.metric_type {
                    MetricType::GaugeHistogram => ("_gcount", "_gsum"),
                    _ => ("_count", "_sum"),
                };
                s.optional(format!("{name}{count}"), h.count);
                s.optional(format!("{name}{sum}"), h.sum);
                if f.metric_type == MetricType::Histogram {
                    s.optional(format!("{name}_created"), h.created);
                }
            }
            MetricValue::Summary(q) => {
                for q in &q.quantiles {
                    s.push(
                        name.to_owned(),
                        Some(("quantile", canon(q.quantile))),
                        q.value,
                        None,
                    );
                }
                s.optional(format!("{name}_count"), q.count);
                s.optional(format!("{name}_sum"), q.sum);
                s.optional(format!("{name}_created"), q.created);
            }
            MetricValue::Info => s.push(format!("{name}_info"), None, 1.0, None),
            MetricValue::StateSet(states) => {
                for st in states {
                    let value = if st.enabled { 1.0 } else { 0.0 };
                    s.push(name.to_owned(), Some((name, st.name.clone())), value, None);
                }
            }
        });
        out.push(family_json(name, kind, f, &unit, samples));
    }
    Value::Array(out)
}

/// Canonicalizes the numbers in the Python parser's JSON: values, `le` and `quantile`
/// labels, exemplar values and timestamps.
fn normalize(mut families: Value) -> Value {
    let canon_at = |v: &mut Value| {
        if let Some(s) = v.as_str() {
            *v = json!(canon_str(s));
        }
    };
    for family in families.as_array_mut().into_iter().flatten() {
        for sample in family["samples"].as_array_mut().into_iter().flatten() {
            canon_at(&mut sample["value"]);
            for key in ["le", "quantile"] {
                if let Some(v) = sample["labels"].get_mut(key) {
                    canon_at(v);
                }
            }
            if sample["exemplar"].is_object() {
                canon_at(&mut sample["exemplar"]["value"]);
                canon_at(&mut sample["exemplar"]["timestamp"]);
            }
        }
    }
    families
}

/// Compares family by family, sample by sample, naming the first difference.
#[track_caller]
fn assert_same(actual: &Value, expected: &Value) {
    if actual == expected {
        return;
    }
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let (a, e) = (actual.as_array(), expected.as_array());
    let mut first = String::from("the family lists differ");
    if let (Some(a), Some(e)) = (a, e) {
        for (i, (fa, fe)) in a.iter().zip(e).enumerate() {
            if fa == fe {
                continue;
            }
            first = format!("family {i} ({}) differs", fe["name"]);
            let (sa, se) = (&fa["samples"], &fe["samples"]);
            if let (Some(sa), Some(se)) = (sa.as_array(), se.as_array()) {
                if let Some(j) = (0..sa.len().max(se.len())).find(|&j| sa.get(j) != se.get(j)) {
                    first += &format!(
                        "; sample {j}:\n  python: {}\n  model:  {}",
                        sa.get(j).map(Value::to_string).unwrap_or_default(),
                        se.get(j).map(Value::to_string).unwrap_or_default()
                    );
                }
            }
            break;
        }
        if a.len() != e.len() {
            first += &format!(
                "; python read {} families, the model has {}",
                a.len(),
                e.len()
            );
        }
    }
    panic!(
        "{first}\n--- python:\n{}\n--- model:\n{}",
        pretty(actual),
        pretty(expected)
    );
}

fn encoded(families: &[MetricFamily], encoder: Encoder) -> Vec<u8> {
    let mut out = Vec::new();
    encode_with(families, &encoder, &mut out);
    out
}

// ---- The tests ----------------------------------------------------------------------------

#[test]
fn python_reads_text_as_the_model_says() {
    let families = fixtures();
    let mut out = Vec::new();
    encode(&families, Format::Text, &mut out);
    assert_same(&normalize(python("text", &out)), &expected_text(&families));
}

#[test]
fn python_reads_openmetrics_as_the_model_says() {
    let mut families = fixtures();
    families.push(utf8_family());
    let mut out = Vec::new();
    encode(&families, Format::OpenMetrics, &mut out);
    assert_same(
        &normalize(python("openmetrics", &out)),
        &expected_openmetrics(&families),
    );
}

#[test]
fn python_reads_quoted_utf8_names_in_text() {
    let families = [utf8_family()];
    let out = encoded(&families, Encoder::new(Format::Text));
    assert!(out.starts_with(b"# HELP \"my.requests_total\""));
    assert_same(&normalize(python("text", &out)), &expected_text(&families));
}

#[test]
fn escaped_names_read_back_as_escaped() {
    for scheme in [
        EscapingScheme::Underscores,
        EscapingScheme::Dots,
        EscapingScheme::Values,
    ] {
        let family = utf8_family();
        let expected = [escaped_counter(&family, scheme)];
        let text = encoded(
            std::slice::from_ref(&family),
            Encoder::new(Format::Text).with_escaping(scheme),
        );
        assert_same(&normalize(python("text", &text)), &expected_text(&expected));
        let om = encoded(
            &[family],
            Encoder::new(Format::OpenMetrics).with_escaping(scheme),
        );
        assert_same(
            &normalize(python("openmetrics", &om)),
            &expected_openmetrics(&expected),
        );
    }
}

#[test]
fn promtool_accepts_the_text_output() {
    let families = fixtures();
    let mut out = Vec::new();
    encode(&families, Format::Text, &mut out);
    promtool_check(&out);
    // UTF-8 names escaped for a legacy reader are accepted too.
    let mut with_utf8 = families;
    with_utf8.push(utf8_family());
    promtool_check(&encoded(
        &with_utf8,
        Encoder::new(Format::Text).with_escaping(EscapingScheme::Underscores),
    ));
}
