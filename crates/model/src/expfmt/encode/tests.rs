//! Exact outputs of the encoder, type by type, in both formats.

use super::*;
use crate::{
    Bucket, CounterValue, Exemplar, HistogramValue, Labels, Metric, MetricFamily, MetricType,
    MetricValue, Quantile, State, SummaryValue,
};

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn enc(family: &MetricFamily, format: Format) -> String {
    enc_with(family, Encoder::new(format))
}

fn enc_with(family: &MetricFamily, encoder: Encoder) -> String {
    let mut out = Vec::new();
    encoder.family(family, &mut out);
    String::from_utf8(out).unwrap()
}

/// Compares line by line so that a failure shows the first differing line.
#[track_caller]
fn same(actual: &str, expected: &str) {
    for (i, (a, e)) in actual.lines().zip(expected.lines()).enumerate() {
        assert_eq!(
            a,
            e,
            "line {} differs\n--- actual:\n{actual}--- expected:\n{expected}",
            i + 1
        );
    }
    assert_eq!(actual, expected);
}

fn counter() -> MetricFamily {
    let exemplar = Exemplar {
        labels: labels(&[("trace_id", "abc")]),
        value: 0.5,
        timestamp: Some(1_700_000_000.25),
    };
    MetricFamily::new("http_requests_total", MetricType::Counter)
        .with_help("Requests served.")
        .with_metric(Metric::new(
            labels(&[("code", "200"), ("method", "GET")]),
            MetricValue::Counter(CounterValue {
                value: 1027.0,
                created: Some(1_699_999_000.5),
                exemplar: Some(Box::new(exemplar)),
            }),
        ))
        .with_metric(Metric {
            labels: labels(&[("code", "500"), ("method", "POST")]),
            value: MetricValue::Counter(CounterValue {
                value: 3.0,
                ..CounterValue::default()
            }),
            timestamp_ms: Some(1_700_000_000_123),
        })
}

fn histogram(metric_type: MetricType) -> MetricFamily {
    let bucket = |upper_bound, cumulative_count| Bucket {
        upper_bound,
        cumulative_count,
        exemplar: None,
    };
    let mut buckets = vec![
        bucket(0.05, 24054.0),
        bucket(0.5, 129_389.0),
        bucket(f64::INFINITY, 144_320.0),
    ];
    buckets[1].exemplar = Some(Box::new(Exemplar {
        labels: labels(&[("trace_id", "t1")]),
        value: 0.31,
        timestamp: None,
    }));
    MetricFamily::new("request_duration_seconds", metric_type)
        .with_help("Request latency.")
        .with_metric(Metric::new(
            labels(&[("path", "/")]),
            MetricValue::Histogram(HistogramValue {
                buckets,
                sum: Some(53423.5),
                count: Some(144_320.0),
                created: Some(1_700_000_000.0),
            }),
        ))
}

fn summary() -> MetricFamily {
    MetricFamily::new("rpc_duration_seconds", MetricType::Summary)
        .with_help("RPC latency.")
        .with_metric(Metric::new(
            Labels::new(),
            MetricValue::Summary(SummaryValue {
                quantiles: vec![
                    Quantile {
                        quantile: 0.5,
                        value: 0.0123,
                    },
                    Quantile {
                        quantile: 0.99,
                        value: f64::NAN,
                    },
                ],
                sum: Some(17.5),
                count: Some(2693.0),
                created: Some(1_600_000_000.125),
            }),
        ))
}

fn gauge(name: &str, labels: Labels, value: f64) -> MetricFamily {
    MetricFamily::new(name, MetricType::Gauge)
        .with_help("A gauge.")
        .with_metric(Metric::new(labels, MetricValue::Gauge(value)))
}

fn info() -> MetricFamily {
    MetricFamily::new("build_info", MetricType::Info)
        .with_help("Build information.")
        .with_metric(Metric::new(
            labels(&[("version", "1.2.3"), ("revision", "abc")]),
            MetricValue::Info,
        ))
}

fn stateset() -> MetricFamily {
    let state = |name: &str, enabled| State {
        name: name.into(),
        enabled,
    };
    MetricFamily::new("door_state", MetricType::StateSet)
        .with_help("Door.")
        .with_metric(Metric::new(
            labels(&[("room", "hall")]),
            MetricValue::StateSet(vec![state("open", true), state("closed", false)]),
        ))
}

#[test]
fn text_counter() {
    same(
        &enc(&counter(), Format::Text),
        "# HELP http_requests_total Requests served.\n\
         # TYPE http_requests_total counter\n\
         http_requests_total{code=\"200\",method=\"GET\"} 1027\n\
         http_requests_total{code=\"500\",method=\"POST\"} 3 1700000000123\n",
    );
}

#[test]
fn openmetrics_counter() {
    same(
        &enc(&counter(), Format::OpenMetrics),
        "# TYPE http_requests counter\n\
         # HELP http_requests Requests served.\n\
         http_requests_total{code=\"200\",method=\"GET\"} 1027 # {trace_id=\"abc\"} 0.5 1700000000.25\n\
         http_requests_created{code=\"200\",method=\"GET\"} 1699999000.5\n\
         http_requests_total{code=\"500\",method=\"POST\"} 3 1700000000.123\n",
    );
}

#[test]
fn counter_without_total_suffix() {
    let family = MetricFamily::new("jobs", MetricType::Counter).with_metric(Metric::new(
        Labels::new(),
        MetricValue::Counter(CounterValue::default()),
    ));
    same(&enc(&family, Format::Text), "# TYPE jobs counter\njobs 0\n");
    same(
        &enc(&family, Format::OpenMetrics),
        "# TYPE jobs counter\njobs_total 0\n",
    );
}

#[test]
fn text_histogram() {
    same(
        &enc(&histogram(MetricType::Histogram), Format::Text),
        "# HELP request_duration_seconds Request latency.\n\
         # TYPE request_duration_seconds histogram\n\
         request_duration_seconds_bucket{path=\"/\",le=\"0.05\"} 24054\n\
         request_duration_seconds_bucket{path=\"/\",le=\"0.5\"} 129389\n\
         request_duration_seconds_bucket{path=\"/\",le=\"+Inf\"} 144320\n\
         request_duration_seconds_sum{path=\"/\"} 53423.5\n\
         request_duration_seconds_count{path=\"/\"} 144320\n",
    );
}

#[test]
fn openmetrics_histogram() {
    let mut family = histogram(MetricType::Histogram);
    family.unit = Some("seconds".into());
    same(
        &enc(&family, Format::OpenMetrics),
        "# TYPE request_duration_seconds histogram\n\
         # UNIT request_duration_seconds seconds\n\
         # HELP request_duration_seconds Request latency.\n\
         request_duration_seconds_bucket{path=\"/\",le=\"0.05\"} 24054\n\
         request_duration_seconds_bucket{path=\"/\",le=\"0.5\"} 129389 # {trace_id=\"t1\"} 0.31\n\
         request_duration_seconds_bucket{path=\"/\",le=\"+Inf\"} 144320\n\
         request_duration_seconds_count{path=\"/\"} 144320\n\
         request_duration_seconds_sum{path=\"/\"} 53423.5\n\
         request_duration_seconds_created{path=\"/\"} 1700000000\n",
    );
}

#[test]
fn histogram_without_inf_bucket_gets_one_from_count() {
    let mut family = histogram(MetricType::Histogram);
    let MetricValue::Histogram(h) = &mut family.metrics[0].value else {
        unreachable!()
    };
    h.buckets.pop();
    h.sum = None;
    let text = enc(&family, Format::Text);
    assert!(text.contains("request_duration_seconds_bucket{path=\"/\",le=\"+Inf\"} 144320\n"));
    assert!(!text.contains("_sum"));
    // Without a count there is nothing to build it from.
    if let MetricValue::Histogram(h) = &mut family.metrics[0].value {
        h.count = None;
    }
    assert!(!enc(&family, Format::Text).contains("+Inf"));
}

#[test]
fn gauge_histogram_in_both_formats() {
    let family = histogram(MetricType::GaugeHistogram);
    same(
        &enc(&family, Format::OpenMetrics),
        "# TYPE request_duration_seconds gaugehistogram\n\
         # HELP request_duration_seconds Request latency.\n\
         request_duration_seconds_bucket{path=\"/\",le=\"0.05\"} 24054\n\
         request_duration_seconds_bucket{path=\"/\",le=\"0.5\"} 129389 # {trace_id=\"t1\"} 0.31\n\
         request_duration_seconds_bucket{path=\"/\",le=\"+Inf\"} 144320\n\
         request_duration_seconds_gcount{path=\"/\"} 144320\n\
         request_duration_seconds_gsum{path=\"/\"} 53423.5\n",
    );
    same(
        &enc(&family, Format::Text),
        "# HELP request_duration_seconds Request latency.\n\
         # TYPE request_duration_seconds histogram\n\
         request_duration_seconds_bucket{path=\"/\",le=\"0.05\"} 24054\n\
         request_duration_seconds_bucket{path=\"/\",le=\"0.5\"} 129389\n\
         request_duration_seconds_bucket{path=\"/\",le=\"+Inf\"} 144320\n\
         # HELP request_duration_seconds_gcount Request latency.\n\
         # TYPE request_duration_seconds_gcount gauge\n\
         request_duration_seconds_gcount{path=\"/\"} 144320\n\
         # HELP request_duration_seconds_gsum Request latency.\n\
         # TYPE request_duration_seconds_gsum gauge\n\
         request_duration_seconds_gsum{path=\"/\"} 53423.5\n",
    );
}

#[test]
fn summary_in_both_formats() {
    same(
        &enc(&summary(), Format::Text),
        "# HELP rpc_duration_seconds RPC latency.\n\
         # TYPE rpc_duration_seconds summary\n\
         rpc_duration_seconds{quantile=\"0.5\"} 0.0123\n\
         rpc_duration_seconds{quantile=\"0.99\"} NaN\n\
         rpc_duration_seconds_sum 17.5\n\
         rpc_duration_seconds_count 2693\n",
    );
    same(
        &enc(&summary(), Format::OpenMetrics),
        "# TYPE rpc_duration_seconds summary\n\
         # HELP rpc_duration_seconds RPC latency.\n\
         rpc_duration_seconds{quantile=\"0.5\"} 0.0123\n\
         rpc_duration_seconds{quantile=\"0.99\"} NaN\n\
         rpc_duration_seconds_count 2693\n\
         rpc_duration_seconds_sum 17.5\n\
         rpc_duration_seconds_created 1600000000.125\n",
    );
}

#[test]
fn gauges_and_special_values() {
    for (value, written) in [
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (-2.5, "-2.5"),
        (1e-9, "1e-9"),
        (12.0, "12"),
    ] {
        let family = gauge("temp", Labels::new(), value);
        same(
            &enc(&family, Format::Text),
            &format!("# HELP temp A gauge.\n# TYPE temp gauge\ntemp {written}\n"),
        );
        same(
            &enc(&family, Format::OpenMetrics),
            &format!("# TYPE temp gauge\n# HELP temp A gauge.\ntemp {written}\n"),
        );
    }
}

#[test]
fn unknown_type_names() {
    let family = MetricFamily::new("mystery", MetricType::Unknown).with_metric(Metric::new(
        labels(&[("a", "1")]),
        MetricValue::Unknown(4.0),
    ));
    same(
        &enc(&family, Format::Text),
        "# TYPE mystery untyped\nmystery{a=\"1\"} 4\n",
    );
    same(
        &enc(&family, Format::OpenMetrics),
        "# TYPE mystery unknown\nmystery{a=\"1\"} 4\n",
    );
}

#[test]
fn info_in_both_formats() {
    same(
        &enc(&info(), Format::OpenMetrics),
        "# TYPE build info\n\
         # HELP build Build information.\n\
         build_info{revision=\"abc\",version=\"1.2.3\"} 1\n",
    );
    same(
        &enc(&info(), Format::Text),
        "# HELP build_info Build information.\n\
         # TYPE build_info gauge\n\
         build_info{revision=\"abc\",version=\"1.2.3\"} 1\n",
    );
    // A family name without the suffix still yields `_info` samples.
    let mut bare = info();
    bare.name = "build".into();
    assert_eq!(enc(&bare, Format::Text), enc(&info(), Format::Text));
    assert_eq!(
        enc(&bare, Format::OpenMetrics),
        enc(&info(), Format::OpenMetrics)
    );
}

#[test]
fn stateset_in_both_formats() {
    same(
        &enc(&stateset(), Format::OpenMetrics),
        "# TYPE door_state stateset\n\
         # HELP door_state Door.\n\
         door_state{room=\"hall\",door_state=\"open\"} 1\n\
         door_state{room=\"hall\",door_state=\"closed\"} 0\n",
    );
    same(
        &enc(&stateset(), Format::Text),
        "# HELP door_state Door.\n\
         # TYPE door_state gauge\n\
         door_state{room=\"hall\",door_state=\"open\"} 1\n\
         door_state{room=\"hall\",door_state=\"closed\"} 0\n",
    );
}

#[test]
fn escapes_label_values_and_help() {
    let family = gauge("g", labels(&[("path", "C:\\dir\n\"x\"")]), 1.0)
        .with_help("Line one\nline \"two\" \\ end");
    same(
        &enc(&family, Format::Text),
        "# HELP g Line one\\nline \"two\" \\\\ end\n\
         # TYPE g gauge\n\
         g{path=\"C:\\\\dir\\n\\\"x\\\"\"} 1\n",
    );
    same(
        &enc(&family, Format::OpenMetrics),
        "# TYPE g gauge\n\
         # HELP g Line one\\nline \\\"two\\\" \\\\ end\n\
         g{path=\"C:\\\\dir\\n\\\"x\\\"\"} 1\n",
    );
}

#[test]
fn empty_help_is_written() {
    let family = gauge("g", Labels::new(), 1.0).with_help("");
    same(
        &enc(&family, Format::Text),
        "# HELP g \n# TYPE g gauge\ng 1\n",
    );
}

fn utf8_family() -> MetricFamily {
    MetricFamily::new("my.requests_total", MetricType::Counter)
        .with_help("Dotted.")
        .with_metric(Metric::new(
            labels(&[("la.bel", "v"), ("ok", "1")]),
            MetricValue::Counter(CounterValue {
                value: 2.0,
                ..CounterValue::default()
            }),
        ))
}

#[test]
fn utf8_names_are_quoted() {
    same(
        &enc(&utf8_family(), Format::Text),
        "# HELP \"my.requests_total\" Dotted.\n\
         # TYPE \"my.requests_total\" counter\n\
         {\"my.requests_total\",\"la.bel\"=\"v\",ok=\"1\"} 2\n",
    );
    same(
        &enc(&utf8_family(), Format::OpenMetrics),
        "# TYPE \"my.requests\" counter\n\
         # HELP \"my.requests\" Dotted.\n\
         {\"my.requests_total\",\"la.bel\"=\"v\",ok=\"1\"} 2\n",
    );
    // Without labels the braces hold only the name; quotes inside names are escaped.
    let family = gauge("say \"hi\"", Labels::new(), 1.0);
    same(
        &enc(&family, Format::Text),
        "# HELP \"say \\\"hi\\\"\" A gauge.\n# TYPE \"say \\\"hi\\\"\" gauge\n{\"say \\\"hi\\\"\"} 1\n",
    );
}

#[test]
fn utf8_histogram_suffixes_go_inside_the_quotes() {
    let mut family = histogram(MetricType::Histogram);
    family.name = "req.seconds".into();
    let text = enc(&family, Format::Text);
    assert!(
        text.contains("# TYPE \"req.seconds\" histogram\n"),
        "{text}"
    );
    assert!(
        text.contains("{\"req.seconds_bucket\",path=\"/\",le=\"0.05\"} 24054\n"),
        "{text}"
    );
    assert!(
        text.contains("{\"req.seconds_sum\",path=\"/\"} 53423.5\n"),
        "{text}"
    );
}

#[test]
fn escaping_schemes_rewrite_invalid_names_only() {
    let cases = [
        (
            EscapingScheme::Underscores,
            "# TYPE my_requests_total counter\nmy_requests_total{la_bel=\"v\",ok=\"1\"} 2\n",
        ),
        (
            EscapingScheme::Dots,
            "# TYPE my_dot_requests_total counter\nmy_dot_requests_total{la_dot_bel=\"v\",ok=\"1\"} 2\n",
        ),
        (
            EscapingScheme::Values,
            "# TYPE U__my_2e_requests_total counter\nU__my_2e_requests_total{U__la_2e_bel=\"v\",ok=\"1\"} 2\n",
        ),
    ];
    for (scheme, expected) in cases {
        let mut family = utf8_family();
        family.help = None;
        same(
            &enc_with(&family, Encoder::new(Format::Text).with_escaping(scheme)),
            expected,
        );
    }
    // Valid names are never rewritten, not even by `dots`.
    let family = counter();
    for scheme in [
        EscapingScheme::Underscores,
        EscapingScheme::Dots,
        EscapingScheme::Values,
    ] {
        assert_eq!(
            enc_with(&family, Encoder::new(Format::Text).with_escaping(scheme)),
            enc(&family, Format::Text)
        );
    }
}

#[test]
fn escaping_applies_to_openmetrics_and_state_labels() {
    let mut family = stateset();
    family.name = "door:state".into();
    let encoder = Encoder::new(Format::OpenMetrics).with_escaping(EscapingScheme::Underscores);
    // `:` is valid in a metric name but not in a label name.
    same(
        &enc_with(&family, encoder),
        "# TYPE door:state stateset\n\
         # HELP door:state Door.\n\
         door:state{room=\"hall\",door_state=\"open\"} 1\n\
         door:state{room=\"hall\",door_state=\"closed\"} 0\n",
    );
    let quoted = enc(&family, Format::OpenMetrics);
    assert!(
        quoted.contains("door:state{room=\"hall\",\"door:state\"=\"open\"} 1\n"),
        "{quoted}"
    );
}

#[test]
fn exemplar_labels_are_escaped_and_quoted() {
    let mut family = counter();
    if let MetricValue::Counter(c) = &mut family.metrics[0].value {
        c.exemplar = Some(Box::new(Exemplar {
            labels: labels(&[("trace.id", "a\"b")]),
            value: 1.0,
            timestamp: None,
        }));
        c.created = None;
    }
    let out = enc(&family, Format::OpenMetrics);
    assert!(
        out.contains("1027 # {\"trace.id\"=\"a\\\"b\"} 1\n"),
        "{out}"
    );
    // Exemplars never appear in 0.0.4.
    assert!(!enc(&family, Format::Text).contains(" # "));
}

#[test]
fn empty_exemplar_labels() {
    let mut family = counter();
    if let MetricValue::Counter(c) = &mut family.metrics[0].value {
        c.exemplar = Some(Box::new(Exemplar {
            labels: Labels::new(),
            value: 2.0,
            timestamp: None,
        }));
    }
    assert!(enc(&family, Format::OpenMetrics).contains("1027 # {} 2\n"));
}

#[test]
fn timestamps_in_each_format() {
    let mut family = gauge("g", Labels::new(), 1.0);
    family.help = None;
    for (ms, text, om) in [
        (1_700_000_000_000, "1700000000000", "1700000000"),
        (1_700_000_000_120, "1700000000120", "1700000000.12"),
        (5, "5", "0.005"),
        (-1500, "-1500", "-1.5"),
    ] {
        family.metrics[0].timestamp_ms = Some(ms);
        same(
            &enc(&family, Format::Text),
            &format!("# TYPE g gauge\ng 1 {text}\n"),
        );
        same(
            &enc(&family, Format::OpenMetrics),
            &format!("# TYPE g gauge\ng 1 {om}\n"),
        );
    }
}

#[test]
fn whole_expositions() {
    let families = [gauge("a", Labels::new(), 1.0), counter()];
    let mut text = Vec::new();
    encode(&families, Format::Text, &mut text);
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with("# HELP a A gauge.\n# TYPE a gauge\na 1\n# HELP http_requests_total"));
    assert!(!text.contains("EOF"));
    let mut om = Vec::new();
    encode(&families, Format::OpenMetrics, &mut om);
    assert!(String::from_utf8(om)
        .unwrap()
        .ends_with("_total{code=\"500\",method=\"POST\"} 3 1700000000.123\n# EOF\n"));
    let mut empty = Vec::new();
    encode(&[], Format::OpenMetrics, &mut empty);
    assert_eq!(empty, b"# EOF\n");
}

#[test]
fn mismatched_values_do_not_panic() {
    let family = MetricFamily::new("odd_total", MetricType::Counter)
        .with_metric(Metric::new(Labels::new(), MetricValue::Gauge(1.0)))
        .with_metric(Metric::new(Labels::new(), MetricValue::StateSet(vec![])))
        .with_metric(Metric::new(Labels::new(), MetricValue::Info));
    same(
        &enc(&family, Format::Text),
        "# TYPE odd_total counter\nodd_total 1\nodd_total 1\n",
    );
    same(
        &enc(&family, Format::OpenMetrics),
        "# TYPE odd counter\nodd_total 1\nodd_total 1\n",
    );
    let empty = MetricFamily::new("", MetricType::Histogram);
    let _ = enc(&empty, Format::Text);
    let _ = enc(&empty, Format::OpenMetrics);
}
