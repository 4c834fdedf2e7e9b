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

#[test]
fn a_line_continues_the_previous_metric_only_with_the_same_identity() {
    // `le` is part of a `_sum` line's identity, so this `_sum` belongs to another metric
    // (which then has no buckets), although its text repeats the bucket line's labels.
    let input = "# TYPE h histogram\n\
                 h_bucket{a=\"x\",le=\"+Inf\",z=\"y\"} 1\n\
                 h_sum{a=\"x\",le=\"+Inf\",z=\"y\"} 1\n";
    assert_eq!(
        err(input, Format::Text),
        (
            3,
            "histogram h{a=\"x\", le=\"+Inf\", z=\"y\"} has no +Inf bucket".into()
        )
    );
    // An empty value is an absent label, whichever line has it.
    for input in [
        "g{a=\"1\",b=\"\"} 1\ng{a=\"1\"} 2\n",
        "g{a=\"1\"} 1\ng{a=\"1\",b=\"\"} 2\n",
        "g{b=\"\",a=\"1\"} 1\ng{b=\"\",a=\"1\",c=\"\"} 2\n",
    ] {
        assert_eq!(err(input, Format::Text).0, 2, "{input}");
    }
    // The same labels in another family are another metric.
    let families = text("a{x=\"1\"} 1\nb{x=\"1\"} 2\na_sum{x=\"1\"} 3\n");
    assert_eq!(families.len(), 3);
    // A summary's lines, labels written out of order, with metadata in between.
    let families = text(
        "# TYPE s summary\n\
         s{z=\"1\",a=\"2\",quantile=\"0.5\"} 1\n\
         s{z=\"1\",a=\"2\",quantile=\"0.9\"} 2\n\
         # HELP s Help after samples is fine in 0.0.4.\n\
         s_sum{z=\"1\",a=\"2\"} 3\n\
         s_count{z=\"1\",a=\"2\"} 4\n\
         s{z=\"1\",a=\"3\",quantile=\"0.5\"} 1\n",
    );
    let metrics = &families[0].metrics;
    assert_eq!(metrics.len(), 2);
    assert_eq!(metrics[0].labels, labels(&[("a", "2"), ("z", "1")]));
    match &metrics[0].value {
        MetricValue::Summary(s) => {
            assert_eq!(
                (s.quantiles.len(), s.sum, s.count),
                (2, Some(3.0), Some(4.0))
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_continuing_line_still_has_its_names_checked() {
    let input = "# TYPE h histogram\n\
                 h_bucket{z=\"1\",a=\"2\",le=\"1\"} 1\n\
                 h_bucket{z=\"1\",a=\"2\",le=\"+Inf\",z=\"3\"} 2\n";
    let e = parse(input.as_bytes(), Format::Text).unwrap_err();
    assert_eq!((e.line, e.column), (3, 32), "{e}");
    assert_eq!(e.kind, ParseErrorKind::DuplicateLabel("z".into()));
    let input = "# TYPE h histogram\n\
                 h_bucket{z=\"1\",a=\"2\",le=\"1\"} 1\n\
                 h_bucket{z=\"1\",a=\"2\",le=\"+Inf\",le=\"3\"} 2\n";
    let e = parse(input.as_bytes(), Format::Text).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::DuplicateLabel("le".into()));
}

mod shortcuts {
    //! The lexer's reuse of the previous line's name and pairs, and the builder's
    //! recognition of the previous metric, must change nothing: checked against parsing
    //! without them on inputs made of few names and labels, so lines share a lot.
    use super::*;
    use proptest::prelude::*;

    fn label_value() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["", "1", "2", "x\\\"y", "a,b", "x\\\\", "é", "+Inf"])
    }

    /// One metric's lines (a histogram's buckets, sum and count; a summary's quantiles; a
    /// state set's states; or one sample), its labels in any order, the special label
    /// anywhere among them, sometimes with a stray label added to one line.
    fn metric_lines(format: Format) -> impl Strategy<Value = Vec<String>> {
        let names = prop::sample::subsequence(vec!["a", "b", "z", "\"q.x\""], 0..=3).prop_shuffle();
        let values = prop::collection::vec(label_value(), 3);
        let parts = prop::sample::subsequence(vec!["0.5", "1", "+Inf"], 0..=3);
        let stray = (
            0..6usize,
            prop::sample::select(vec!["a", "le", "quantile", "z"]),
            label_value(),
        );
        // OpenMetrics has one spelling, text has several.
        let styles = if format == Format::Text {
            0..6u8
        } else {
            0..1u8
        };
        let shape = (0..6u8, 0..4usize, styles, prop::option::of(stray));
        (names, values, parts, shape).prop_map(
            |(names, values, parts, (kind, at, style, stray))| {
                let own: Vec<(&str, &str)> = names.iter().copied().zip(values).collect();
                let labelled = |special: Option<(&'static str, &'static str)>| {
                    let mut pairs = own.clone();
                    if let Some(pair) = special {
                        pairs.insert(at.min(pairs.len()), pair);
                    }
                    pairs
                };
                let mut lines: Vec<(&str, Vec<(&str, &str)>)> = Vec::new();
                let mut parted = |name: &'static str, special: &'static str, base: &'static str| {
                    for part in &parts {
                        lines.push((name, labelled(Some((special, part)))));
                    }
                    if !base.is_empty() {
                        lines.push((base, labelled(None)));
                    }
                };
                match kind {
                    0 => {
                        parted("h_bucket", "le", "h_sum");
                        lines.push(("h_count", labelled(None)));
                    }
                    1 => {
                        parted("s", "quantile", "s_sum");
                        lines.push(("s_count", labelled(None)));
                    }
                    2 => {
                        lines.push(("st", labelled(Some(("st", "on")))));
                        lines.push(("st", labelled(Some(("st", "off")))));
                    }
                    3 => lines.push(("c_total", labelled(None))),
                    4 => lines.push(("g", labelled(None))),
                    _ => lines.push(("\"q.n\"", labelled(None))),
                }
                if let Some((i, name, value)) = stray {
                    if let Some((_, pairs)) = lines.get_mut(i) {
                        pairs.push((name, value));
                    }
                }
                lines
                    .iter()
                    .enumerate()
                    .map(|(i, (name, pairs))| render(name, pairs, style, i))
                    .collect()
            },
        )
    }

    /// A sample line in one of several spellings (blanks, tabs, trailing comma, `{}`).
    fn render(name: &str, pairs: &[(&str, &str)], style: u8, i: usize) -> String {
        let pairs: Vec<String> = pairs
            .iter()
            .map(|(l, v)| match style {
                3 => format!(" {l} = \"{v}\" "),
                _ => format!("{l}=\"{v}\""),
            })
            .collect();
        let mut line = name.to_owned();
        match style {
            1 => line.push(' '),
            2 => line.push('\t'),
            _ => {}
        }
        if !pairs.is_empty() || style == 4 {
            line.push('{');
            line.push_str(&pairs.join(","));
            if style == 5 {
                line.push(',');
            }
            line.push('}');
        }
        let value = if name == "st" { i % 2 } else { i + 1 };
        format!("{line} {value}")
    }

    fn exposition(format: Format) -> impl Strategy<Value = String> {
        let mut metadata = vec![
            "# TYPE h histogram",
            "# TYPE s summary",
            "# TYPE c counter",
            "# TYPE g gauge",
            "# HELP h Help.",
        ];
        match format {
            Format::Text => metadata.extend(["# a comment", ""]),
            Format::OpenMetrics => metadata.push("# TYPE st stateset"),
        }
        let metadata = prop::sample::select(metadata).prop_map(|l| vec![l.to_owned()]);
        let block = prop_oneof![1 => metadata, 4 => metric_lines(format)];
        prop::collection::vec(block, 1..16).prop_map(move |blocks| {
            let mut text = blocks.concat().join("\n");
            text.push('\n');
            if format == Format::OpenMetrics {
                text.push_str("# EOF\n");
            }
            text
        })
    }

    /// Every entry, its labels and the error if any, as text.
    fn lexed(input: &str, format: Format, reuse: bool) -> Vec<String> {
        let mut lexer = Lexer::new(input, format);
        if !reuse {
            lexer = lexer.without_reuse();
        }
        let mut out = Vec::new();
        loop {
            match lexer.next_entry() {
                Ok(Some(entry)) => out.push(format!("{entry:?} {:?}", lexer.labels())),
                Ok(None) => return out,
                Err(e) => {
                    out.push(format!("{e:?}"));
                    return out;
                }
            }
        }
    }

    fn check(input: &str, format: Format) -> Result<(), TestCaseError> {
        prop_assert_eq!(lexed(input, format, true), lexed(input, format, false));
        // Compared as text, where NaN equals NaN.
        let fast = format!("{:?}", parse_with(input.as_bytes(), format, true));
        let slow = format!("{:?}", parse_with(input.as_bytes(), format, false));
        prop_assert_eq!(fast, slow, "input:\n{}", input);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn change_nothing_in_text(input in exposition(Format::Text)) {
            check(&input, Format::Text)?;
        }

        #[test]
        fn change_nothing_in_openmetrics(input in exposition(Format::OpenMetrics)) {
            check(&input, Format::OpenMetrics)?;
        }
    }
}
