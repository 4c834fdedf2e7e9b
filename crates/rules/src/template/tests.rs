//! Expansion end to end: the prelude variables, every Prometheus function through a
//! template, printing as Go does, queries, and the errors Go's parser reports.

use super::*;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn run_with(text: &str, value: f64, query: Option<QueryFn<'_>>) -> Result<String, TemplateError> {
    let alert = labels(&[
        ("instance", "web-1:9090"),
        ("job", "api"),
        ("severity", "page"),
    ]);
    let external = labels(&[("cluster", "eu")]);
    let data = TemplateData {
        labels: &alert,
        value,
        external_labels: &external,
        external_url: "http://testhost:9090/path/prefix",
        time_ms: 1_435_065_584_128,
        query,
    };
    expand("__alert_Test", text, &data)
}

fn run(text: &str) -> String {
    run_with(text, 1234567.0, None).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn fails(text: &str) -> String {
    match run_with(text, 1.0, None) {
        Ok(out) => panic!("{text} expanded to {out:?}, expected an error"),
        Err(e) => e.message,
    }
}

#[test]
fn prelude_variables_and_fields() {
    assert_eq!(run("plain text"), "plain text");
    assert_eq!(
        run("{{ $labels.instance }} of {{ .Labels.job }}"),
        "web-1:9090 of api"
    );
    assert_eq!(
        run("{{ $value }}|{{ .Value }}"),
        "1.234567e+06|1.234567e+06"
    );
    assert_eq!(run("{{ $externalLabels.cluster }}"), "eu");
    assert_eq!(run("{{ .ExternalLabels.cluster }}"), "eu");
    assert_eq!(
        run("{{ $externalURL }}"),
        "http://testhost:9090/path/prefix"
    );
    assert_eq!(
        run("{{ .ExternalURL }}"),
        "http://testhost:9090/path/prefix"
    );
    assert_eq!(run("[{{ $labels.missing }}]"), "[]");
}

#[test]
fn values_print_as_go_prints_them() {
    for (v, out) in [
        (1.0, "1"),
        (0.5, "0.5"),
        (1e6, "1e+06"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (f64::NAN, "NaN"),
    ] {
        assert_eq!(run_with("{{ $value }}", v, None).unwrap(), out);
    }
    assert_eq!(
        run("{{ 1 }} {{ 1.5 }} {{ true }} {{ \"s\" }}"),
        "1 1.5 true s"
    );
    assert_eq!(run("{{ printf \"%.2f\" $value }}"), "1234567.00");
    assert_eq!(run("{{ $value | printf \"%.0f\" }}"), "1234567");
}

#[test]
fn number_functions() {
    assert_eq!(run("{{ humanize $value }}"), "1.235M");
    assert_eq!(run("{{ $value | humanize }}"), "1.235M");
    assert_eq!(run("{{ humanize \"1234567.0\" }}"), "1.235M");
    assert_eq!(run("{{ humanize 1234567 }}"), "1.235M");
    assert_eq!(run("{{ humanize1024 1048576.0 }}"), "1Mi");
    assert_eq!(run("{{ humanizeDuration 90 }}"), "1m 30s");
    assert_eq!(run("{{ humanizeDuration 0.1 }}"), "100ms");
    assert_eq!(run("{{ humanizePercentage 0.1234567 }}"), "12.35%");
    assert_eq!(
        run("{{ humanizeTimestamp 1435065584.128 }}"),
        "2015-06-23 13:19:44.128 +0000 UTC"
    );
    assert_eq!(run("{{ toTime 0 }}"), "1970-01-01 00:00:00 +0000 UTC");
    assert_eq!(run("{{ toDuration 90 }}"), "1m30s");
    assert_eq!(
        run("{{ printf \"%0.2f\" (parseDuration \"1h2m10ms\") }}"),
        "3720.01"
    );
    assert_eq!(run("{{ now }}"), "1.435065584128e+09");
    assert_eq!(
        run("{{ now | humanizeTimestamp }}"),
        "2015-06-23 13:19:44.128 +0000 UTC"
    );
}

#[test]
fn number_functions_refuse_bad_input() {
    assert!(fails("{{ humanize \"one\" }}").contains("strconv.ParseFloat: parsing \"one\""));
    assert!(fails("{{ humanize1024 true }}").contains("can't convert"));
    assert!(fails("{{ humanizeDuration }}").contains("wrong number of args"));
    assert!(fails("{{ humanizeTimestamp 1e300 }}").contains("overflows int64"));
    assert!(fails("{{ toTime \"NaN\" }}").contains("NaN"));
    assert!(fails("{{ parseDuration \"5\" }}").contains("not a valid duration"));
    assert!(fails("{{ parseDuration 5 }}").contains("expected string"));
    assert!(fails("{{ now 1 }}").contains("wrong number of args"));
}

#[test]
fn string_functions() {
    assert_eq!(run("{{ \"aa bb CC\" | title }}"), "Aa Bb CC");
    assert_eq!(run("{{ \"aa bb CC\" | toUpper }}"), "AA BB CC");
    assert_eq!(run("{{ \"aA bB CC\" | toLower }}"), "aa bb cc");
    assert_eq!(
        run("{{ match \"a+\" \"aa\" }} {{ match \"a+\" \"b\" }}"),
        "true false"
    );
    assert_eq!(run("{{ reReplaceAll \"(a)b\" \"x$1\" \"ab\" }}"), "xa");
    assert_eq!(
        run("{{ reReplaceAll \":.*\" \"\" $labels.instance }}"),
        "web-1"
    );
    assert_eq!(run("{{ $labels.instance | stripPort }}"), "web-1");
    assert_eq!(
        run("{{ \"foo.example.com:12345\" | stripDomain }}"),
        "foo:12345"
    );
    assert_eq!(run("{{ \"<b>\" | safeHtml }}"), "<b>");
    assert_eq!(run("{{ graphLink \"up\" }}"), "/graph?g0.expr=up&g0.tab=0");
    assert_eq!(run("{{ tableLink \"up\" }}"), "/graph?g0.expr=up&g0.tab=1");
    assert_eq!(run("{{ pathPrefix }}"), "/path/prefix");
    assert_eq!(run("{{ externalURL }}"), "http://testhost:9090/path/prefix");
    assert_eq!(
        run("{{define \"x\"}}{{.arg0}} {{.arg1}}{{end}}{{template \"x\" (args 1 \"2\")}}"),
        "1 2"
    );
}

#[test]
fn string_functions_refuse_bad_input() {
    assert!(fails("{{ match \"(\" \"a\" }}").contains("error parsing regexp"));
    assert!(fails("{{ reReplaceAll \"[\" \"\" \"a\" }}").contains("error parsing regexp"));
    assert!(fails("{{ title 1 }}").contains("expected string"));
    assert!(fails("{{ toUpper }}").contains("wrong number of args"));
    assert!(fails("{{ stripPort $value }}").contains("expected string"));
}

#[test]
fn go_builtins_work() {
    assert_eq!(
        run("{{ if gt $value 1000.0 }}big{{ else }}small{{ end }}"),
        "big"
    );
    assert_eq!(run("{{ len $labels }}"), "3");
    assert_eq!(run("{{ index $labels \"job\" }}"), "api");
    assert_eq!(
        run("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}"),
        "instance=web-1:9090;job=api;severity=page;"
    );
    assert_eq!(run("{{ with $labels.job }}job {{ . }}{{ end }}"), "job api");
    assert_eq!(
        run("{{ if eq $labels.severity \"page\" }}paging{{ end }}"),
        "paging"
    );
}

fn vector() -> Vec<VectorSample> {
    [("b", 21.0), ("a", 11.0)]
        .iter()
        .map(|(instance, value)| VectorSample {
            labels: labels(&[
                ("__name__", "metric"),
                ("instance", instance),
                ("__value__", "s"),
            ]),
            timestamp_ms: 0,
            value: *value,
        })
        .collect()
}

#[test]
fn queries() {
    let asked = std::cell::RefCell::new(Vec::new());
    let query = |q: &str| {
        asked.borrow_mut().push(q.to_owned());
        if q == "empty" {
            Ok(Vec::new())
        } else if q == "broken" {
            Err("boom".to_owned())
        } else {
            Ok(vector())
        }
    };
    let q: QueryFn<'_> = &query;
    let ok = |text: &str| run_with(text, 1.0, Some(q)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok("{{ query \"metric\" | first | value }}"), "21");
    assert_eq!(
        ok("{{ query \"metric\" | first | label \"instance\" }}"),
        "b"
    );
    assert_eq!(ok("{{ query \"metric\" | first | label \"nope\" }}"), "");
    assert_eq!(ok("{{ query \"metric\" | first | strvalue }}"), "s");
    assert_eq!(
        ok("{{ range query \"metric\" | sortByLabel \"instance\" }}{{.Labels.instance}}:{{.Value}}: {{end}}"),
        "a:11: b:21: "
    );
    assert_eq!(
        ok("{{ with printf \"metric{job=%q}\" $labels.job | query }}{{ . | first | value | humanize }}{{ end }}"),
        "21"
    );
    assert_eq!(
        ok("{{ $x := query \"metric\" | first }}{{ $x.Labels.foo }}"),
        ""
    );
    assert!(asked.borrow().contains(&"metric{job=\"api\"}".to_owned()));

    let err = run_with("{{ query \"empty\" | first }}", 1.0, Some(q)).unwrap_err();
    assert!(
        err.message
            .contains("first() called on vector with no elements"),
        "{err}"
    );
    let err = run_with("{{ query \"broken\" }}", 1.0, Some(q)).unwrap_err();
    assert!(err.message.contains("boom"), "{err}");
    let err = run_with("{{ query \"metric\" }}", 1.0, None).unwrap_err();
    assert!(err.message.contains("not available"), "{err}");
    let err = run_with("{{ first 1 }}", 1.0, Some(q)).unwrap_err();
    assert!(err.message.contains("expected a query result"), "{err}");
    let err = run_with("{{ value \"x\" }}", 1.0, Some(q)).unwrap_err();
    assert!(err.message.contains("expected a sample"), "{err}");
}

#[test]
fn check_reports_what_go_parsing_reports() {
    assert_eq!(check("t", "{{ $labels.x }} {{ humanize $value }}"), Ok(()));
    assert_eq!(check("t", ""), Ok(()));
    let message = |text: &str| check("__alert_X", text).unwrap_err().message;
    assert_eq!(message("{{ $value "), "1:11: unclosed action");
    assert_eq!(
        message("{{ humanise $value }}"),
        "1: function \"humanise\" not defined"
    );
    assert_eq!(message("{{ $foo }}"), "1: undefined variable \"$foo\"");
    assert_eq!(
        message("{{ . | 1 }}"),
        "1: non executable command in pipeline stage 2"
    );
    assert!(check("t", "{{ $value | humanize | printf \"%s\" }}").is_ok());
    // Go reads a trailing `|` as if it were not there.
    assert!(check("t", "{{ $value | }}").is_ok());
    assert_eq!(run("{{ $labels.job | }}"), "api");
    assert_eq!(message("a\n{{ end }}"), "2: unexpected {{end}}");
    assert!(message("{{ if true }}x").contains("unexpected EOF"));
    // Variables are scoped to their control structure.
    assert!(check("t", "{{ if true }}{{ $x := 1 }}{{ $x }}{{ end }}").is_ok());
    assert!(message("{{ if true }}{{ $x := 1 }}{{ end }}{{ $x }}").contains("$x"));
    assert!(check(
        "t",
        "{{ range $i, $v := $labels }}{{ $i }}{{ $v }}{{ end }}"
    )
    .is_ok());
    assert!(message("{{ define \"d\" }}{{ $labels }}{{ end }}").contains("$labels"));
    let err = check("__alert_X", "{{").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("template __alert_X: {}", err.message)
    );
}

#[test]
fn expansion_reports_parse_errors_too() {
    assert!(fails("{{ nope }}").contains("function \"nope\" not defined"));
    assert!(fails("{{").contains("unclosed action"));
}

#[test]
fn hostile_templates_end_with_an_error() {
    let budget = fails("{{ range 2000000 }}x{{ end }}");
    assert!(budget.contains("range"), "{budget}");
    let recursion = fails("{{ define \"a\" }}{{ template \"a\" }}{{ end }}{{ template \"a\" }}");
    assert!(recursion.contains("recursion"), "{recursion}");
    assert!(fails("{{ template \"nope\" }}").contains("nope"));
    assert_eq!(run("{{ range 3 }}x{{ end }}"), "xxx");
}
