use super::*;

fn text(input: &str) -> Vec<MetricFamily> {
    match parse(input.as_bytes(), Format::Text) {
        Ok(f) => f,
        Err(e) => panic!("{e}\ninput:\n{input}"),
    }
}

fn om(input: &str) -> Vec<MetricFamily> {
    match parse(input.as_bytes(), Format::OpenMetrics) {
        Ok(f) => f,
        Err(e) => panic!("{e}\ninput:\n{input}"),
    }
}

fn err(input: &str, format: Format) -> (usize, String) {
    match parse(input.as_bytes(), format) {
        Ok(f) => panic!("accepted: {f:?}\ninput:\n{input}"),
        Err(e) => (e.line, e.kind.to_string()),
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

#[test]
fn groups_text_families() {
    let families = text(
        "# HELP http_requests_total Requests.\n\
         # TYPE http_requests_total counter\n\
         http_requests_total{method=\"GET\",code=\"200\"} 10\n\
         http_requests_total{method=\"POST\",code=\"200\"} 3 1700000000000\n\
         # TYPE temp gauge\n\
         temp -1.5\n\
         loose{a=\"b\"} NaN\n",
    );
    assert_eq!(families.len(), 3);
    let req = &families[0];
    assert_eq!(req.name, "http_requests_total");
    assert_eq!(req.metric_type, MetricType::Counter);
    assert_eq!(req.help.as_deref(), Some("Requests."));
    assert_eq!(req.metrics.len(), 2);
    assert_eq!(
        req.metrics[0].labels,
        labels(&[("code", "200"), ("method", "GET")])
    );
    assert_eq!(
        req.metrics[1].value,
        MetricValue::Counter(CounterValue {
            value: 3.0,
            ..Default::default()
        })
    );
    assert_eq!(req.metrics[1].timestamp_ms, Some(1_700_000_000_000));
    assert_eq!(families[1].metrics[0].value, MetricValue::Gauge(-1.5));
    assert_eq!(families[2].metric_type, MetricType::Unknown);
    assert!(matches!(families[2].metrics[0].value, MetricValue::Unknown(v) if v.is_nan()));
}

#[test]
fn groups_histograms_and_summaries() {
    let families = text(
        "# TYPE lat histogram\n\
         lat_bucket{path=\"/\",le=\"0.1\"} 1\n\
         lat_bucket{path=\"/\",le=\"1\"} 3\n\
         lat_bucket{le=\"+Inf\",path=\"/\"} 4\n\
         lat_sum{path=\"/\"} 2.5\n\
         lat_count{path=\"/\"} 4\n\
         # TYPE rpc summary\n\
         rpc{quantile=\"0.5\"} 0.2\n\
         rpc{quantile=\"0.99\"} 0.9\n\
         rpc_sum 10\n\
         rpc_count 40\n",
    );
    let MetricValue::Histogram(h) = &families[0].metrics[0].value else {
        panic!("not a histogram: {:?}", families[0]);
    };
    assert_eq!(families[0].metrics.len(), 1);
    assert_eq!(families[0].metrics[0].labels, labels(&[("path", "/")]));
    let bounds: Vec<f64> = h.buckets.iter().map(|b| b.upper_bound).collect();
    assert_eq!(bounds, [0.1, 1.0, f64::INFINITY]);
    assert_eq!((h.sum, h.count), (Some(2.5), Some(4.0)));
    let MetricValue::Summary(s) = &families[1].metrics[0].value else {
        panic!("not a summary");
    };
    assert_eq!(s.quantiles.len(), 2);
    assert_eq!((s.sum, s.count), (Some(10.0), Some(40.0)));
}

#[test]
fn text_buckets_may_arrive_unordered_and_families_split() {
    let families = text(
        "# TYPE h histogram\n\
         h_bucket{le=\"+Inf\"} 5\n\
         h_bucket{le=\"1\"} 2\n\
         h_count 5\n\
         other 1\n\
         h_sum 3\n",
    );
    let MetricValue::Histogram(h) = &families[0].metrics[0].value else {
        panic!("not a histogram");
    };
    assert_eq!(h.buckets[0].upper_bound, 1.0);
    assert_eq!(h.sum, Some(3.0));
}

#[test]
fn openmetrics_families() {
    let families = om("# TYPE req_seconds counter\n\
         # UNIT req_seconds seconds\n\
         # HELP req_seconds Time \\\"served\\\".\n\
         req_seconds_total{a=\"1\"} 3 # {trace_id=\"abc\"} 1 1700000000.5\n\
         req_seconds_created{a=\"1\"} 1700000000\n\
         # TYPE build info\n\
         build_info{version=\"1.0\"} 1\n\
         # TYPE mode stateset\n\
         mode{mode=\"a\"} 1\n\
         mode{mode=\"b\"} 0\n\
         # TYPE q gaugehistogram\n\
         q_bucket{le=\"1\"} 2\n\
         q_bucket{le=\"+Inf\"} 3\n\
         q_gcount 3\n\
         q_gsum 1.5\n\
         # EOF\n");
    assert_eq!(families[0].name, "req_seconds_total");
    assert_eq!(families[0].unit.as_deref(), Some("seconds"));
    assert_eq!(families[0].help.as_deref(), Some("Time \"served\"."));
    let MetricValue::Counter(c) = &families[0].metrics[0].value else {
        panic!("not a counter");
    };
    assert_eq!(c.created, Some(1_700_000_000.0));
    let ex = c.exemplar.as_ref().unwrap();
    assert_eq!(ex.labels.get("trace_id"), Some("abc"));
    assert_eq!(ex.timestamp, Some(1_700_000_000.5));
    let info = families.iter().find(|f| f.name == "build_info").unwrap();
    assert_eq!(info.metric_type, MetricType::Info);
    assert_eq!(info.metrics[0].labels.get("version"), Some("1.0"));
    let mode = families.iter().find(|f| f.name == "mode").unwrap();
    assert_eq!(
        mode.metrics[0].value,
        MetricValue::StateSet(vec![
            State {
                name: "a".into(),
                enabled: true
            },
            State {
                name: "b".into(),
                enabled: false
            },
        ])
    );
    let q = families.iter().find(|f| f.name == "q").unwrap();
    assert_eq!(q.metric_type, MetricType::GaugeHistogram);
}

#[test]
fn openmetrics_unit_must_suffix_the_name() {
    let families = om("# TYPE d_seconds gauge\n# UNIT d_seconds seconds\nd_seconds 1\n# EOF\n");
    assert_eq!(families[0].unit.as_deref(), Some("seconds"));
    assert_eq!(
        err(
            "# TYPE d gauge\n# UNIT d seconds\n# EOF\n",
            Format::OpenMetrics
        ),
        (
            2,
            "unit \"seconds\" is not a suffix of metric family name \"d\"".into()
        )
    );
}

#[test]
fn utf8_names() {
    let families = text("# TYPE \"my.gauge\" gauge\n{\"my.gauge\",\"lab.el\"=\"x\"} 1\n");
    assert_eq!(families[0].name, "my.gauge");
    assert_eq!(families[0].metric_type, MetricType::Gauge);
    assert_eq!(families[0].metrics[0].labels.get("lab.el"), Some("x"));
}

#[test]
fn empty_label_values_are_absent_labels() {
    let (line, msg) = err("a{x=\"\"} 1\na 2\n", Format::Text);
    assert_eq!(line, 2);
    assert_eq!(msg, "duplicate series a");
}

#[test]
fn rejections_name_the_line() {
    let cases: &[(&str, Format, usize, &str)] = &[
        ("a 1\na 2\n", Format::Text, 2, "duplicate series a"),
        (
            "a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 1\n",
            Format::Text,
            2,
            "duplicate series a{x=\"1\", y=\"2\"}",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
            Format::Text,
            4,
            "histogram h has no +Inf bucket",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"2\"} 3\nh_bucket{le=\"+Inf\"} 5\n",
            Format::Text,
            3,
            "histogram h: bucket le=\"2\" is lower than a smaller bucket",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_bucket{le=\"1\"} 3\n",
            Format::Text,
            3,
            "histogram h: bucket le=\"+Inf\" is lower than a smaller bucket",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1.0\"} 1\n",
            Format::Text,
            3,
            "duplicate series h_bucket with le=\"1.0\"",
        ),
        (
            "# TYPE h histogram\nh_bucket 1\n",
            Format::Text,
            2,
            "sample \"h_bucket\" is missing the \"le\" label",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"x\"} 1\n",
            Format::Text,
            2,
            "invalid value \"x\" for label \"le\"",
        ),
        (
            "# TYPE h histogram\nh 1\n",
            Format::Text,
            2,
            "sample \"h\" does not belong to histogram family \"h\"",
        ),
        (
            "# TYPE a counter\n# TYPE a gauge\n",
            Format::Text,
            2,
            "type conflict for metric \"a\": already counter, now gauge",
        ),
        (
            "# TYPE h histogram\n# TYPE h_count gauge\n",
            Format::Text,
            2,
            "type conflict for metric \"h_count\": already histogram, now gauge",
        ),
        (
            "h_count 1\n# TYPE h histogram\n",
            Format::Text,
            2,
            "type conflict for metric \"h_count\": already unknown, now histogram",
        ),
        (
            "a 1\n# TYPE a gauge\n",
            Format::Text,
            2,
            "TYPE line for metric family \"a\" after its samples or after another family",
        ),
        (
            "# HELP a x\n# HELP a y\n",
            Format::Text,
            2,
            "second HELP line for metric family \"a\"",
        ),
        (
            "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns{quantile=\"0.5\"} 2\n",
            Format::Text,
            3,
            "duplicate series s with quantile=\"0.5\"",
        ),
        (
            "# TYPE s summary\ns_sum 1\ns_sum 2\n",
            Format::Text,
            3,
            "duplicate series s_sum",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1 100\nh_count 1 200\n",
            Format::Text,
            3,
            "samples of h carry different timestamps",
        ),
        (
            "a{x=\"1\",x=\"1\"} 1\n",
            Format::Text,
            1,
            "duplicate label name \"x\"",
        ),
        ("# TYPE a counter\na_total 1\n", Format::OpenMetrics, 3, "missing \"# EOF\" at the end of OpenMetrics input"),
        (
            "# TYPE a counter\na 1\n# EOF\n",
            Format::OpenMetrics,
            2,
            "sample \"a\" does not belong to counter family \"a_total\"",
        ),
        (
            "# TYPE a counter\na_total -1\n# EOF\n",
            Format::OpenMetrics,
            2,
            "invalid value for \"a_total\": a counter must be a non-negative number",
        ),
        (
            "# TYPE a counter\na_created 1\n# EOF\n",
            Format::OpenMetrics,
            2,
            "a_total has no _total sample",
        ),
        (
            "a 1\nb 1\na 2\n# EOF\n",
            Format::OpenMetrics,
            3,
            "samples of metric family \"a\" are split by another family",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n# EOF\n",
            Format::OpenMetrics,
            3,
            "histogram h: buckets are not in increasing \"le\" order",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 3\nh_sum 1\n# EOF\n",
            Format::OpenMetrics,
            4,
            "histogram h: _count differs from the +Inf bucket",
        ),
        (
            "# TYPE g gauge\ng 1 # {a=\"1\"} 1\n# EOF\n",
            Format::OpenMetrics,
            2,
            "invalid exemplar: only counter _total and histogram _bucket samples may carry one",
        ),
        (
            "# TYPE i info\ni_info 2\n# EOF\n",
            Format::OpenMetrics,
            2,
            "invalid value for \"i_info\": an info metric's value must be 1",
        ),
        (
            "# TYPE s stateset\ns{s=\"a\"} 0.5\n# EOF\n",
            Format::OpenMetrics,
            2,
            "invalid value for \"s\": a state set's values must be 0 or 1",
        ),
        (
            "# TYPE s stateset\ns 1\n# EOF\n",
            Format::OpenMetrics,
            2,
            "sample \"s\" is missing the \"state\" label",
        ),
        (
            "a 1\n# HELP a late\n# EOF\n",
            Format::OpenMetrics,
            2,
            "HELP line for metric family \"a\" after its samples or after another family",
        ),
    ];
    for (input, format, line, msg) in cases {
        let got = err(input, *format);
        assert_eq!(got, (*line, (*msg).to_owned()), "input:\n{input}");
    }
}

#[test]
fn duplicate_labels_point_at_the_second_one() {
    for (input, column) in [
        ("a{x=\"1\",x=\"2\"} 1\n", 9),
        ("a{xx=\"x=\",y=\"1\", xx = \"3\"} 1\n", 18),
        ("{\"a.b\",\"q\"=\"1\",\"q\"=\"2\"} 1\n", 17),
    ] {
        let e = parse(input.as_bytes(), Format::Text).unwrap_err();
        assert_eq!(e.column, column, "{input}");
        assert!(matches!(e.kind, ParseErrorKind::DuplicateLabel(_)), "{e}");
    }
}

#[test]
fn long_exemplars_are_rejected() {
    let long = "x".repeat(130);
    let input = format!("# TYPE c counter\nc_total 1 # {{id=\"{long}\"}} 1\n# EOF\n");
    assert_eq!(
        err(&input, Format::OpenMetrics).1,
        "invalid exemplar: labels longer than 128 characters in all"
    );
}

#[test]
fn metadata_only_families_are_kept() {
    let families = text("# HELP lonely Nothing here.\n# TYPE lonely gauge\n");
    assert_eq!(families.len(), 1);
    assert!(families[0].metrics.is_empty());
    assert_eq!(families[0].metric_type, MetricType::Gauge);
}
