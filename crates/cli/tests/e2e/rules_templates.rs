//! Template expansion against Prometheus itself: `promtool test rules` (Debian's,
//! 2.42) expands an alert's annotations and compares them with the annotations a
//! test file expects. The expected annotations here are what
//! [`tally_rules::template::expand`] produces for the same alerts, so promtool passing
//! means every output is byte for byte what Prometheus' templates give.

use std::process::Command;

use serde_json::{json, Value};
use tally_model::Labels;
use tally_promql::VectorSample;
use tally_rules::template::{self, TemplateData};
use tally_testkit::find_program;

/// The annotations under test: every function promtool 2.42 has, and printing.
const ANNOTATIONS: &[(&str, &str)] = &[
    ("value", "{{ $value }}|{{ .Value }}"),
    ("humanize", "{{ humanize $value }}"),
    ("humanize1024", "{{ humanize1024 $value }}"),
    ("duration", "{{ humanizeDuration $value }}"),
    ("percentage", "{{ humanizePercentage $value }}"),
    ("timestamp", "{{ humanizeTimestamp $value }}"),
    ("printf", "{{ printf \"%.3f|%g|%e|%d\" $value $value $value 42 }}"),
    ("labels", "{{ $labels.instance }} {{ .Labels.job }} [{{ $labels.missing }}]"),
    (
        "strings",
        "{{ title \"aa bb-cc\" }} {{ toUpper \"ab\" }} {{ toLower \"AB\" }} {{ match \"^web\" $labels.instance }}",
    ),
    ("regex", "{{ reReplaceAll \"^([^.]+)\\\\..*$\" \"host=$1\" $labels.instance }}"),
    (
        "hosts",
        "{{ stripPort $labels.instance }} {{ stripDomain $labels.instance }} {{ safeHtml \"<b>\" }}",
    ),
    ("links", "{{ graphLink \"rate(m[5m]) > 1\" }} {{ tableLink \"up\" }}"),
    (
        "query",
        "{{ range query \"m\" | sortByLabel \"case\" }}{{ .Labels.case }}={{ .Value }};{{ end }}",
    ),
    (
        "first",
        "{{ with query \"m{case='b'}\" }}{{ . | first | value | humanize }} {{ . | first | label \"job\" }}{{ end }}",
    ),
    (
        "args",
        "{{ define \"kv\" }}{{ .arg0 }}={{ .arg1 }}{{ end }}{{ template \"kv\" (args \"v\" $value) }}",
    ),
    (
        "control",
        "{{ if gt $value 1000.0 }}big{{ else if lt $value 0.0 }}negative{{ else }}small{{ end }} {{ len $labels }}",
    ),
    ("range", "{{ range $k, $v := $labels }}{{ $k }}:{{ $v }},{{ end }}"),
];

/// The test series: (case label, value).
const CASES: &[(&str, f64)] = &[
    ("a", 1234567.0),
    ("b", 0.12),
    ("c", 90.0),
    ("d", -183845.0),
    ("e", 1048576.0),
    ("f", 0.0),
    ("g", 1435065584.128),
    ("h", 1e-7),
    ("i", 1e9),
    ("j", f64::NAN),
    ("k", f64::INFINITY),
    ("l", f64::NEG_INFINITY),
];

const INSTANCE: &str = "web-1.example.com:9090";

fn series_labels(case: &str) -> Labels {
    Labels::from_pairs([("case", case), ("instance", INSTANCE), ("job", "api")])
        .expect("valid labels")
}

/// A value in promtool's series notation.
fn series_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v:e}")
    }
}

#[test]
fn annotations_expand_as_promtool_expands_them() {
    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let annotations: serde_json::Map<String, Value> = ANNOTATIONS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let rules = json!({"groups": [{"name": "t", "rules": [
        {"alert": "T", "expr": "m", "annotations": annotations}
    ]}]});
    std::fs::write(dir.path().join("rules.yml"), rules.to_string()).expect("writing rules");

    // What `query "m"` returns at the evaluation time: every series, `__name__` kept.
    let vector: Vec<VectorSample> = CASES
        .iter()
        .map(|(case, value)| VectorSample {
            labels: series_labels(case).with("__name__", "m").expect("valid"),
            timestamp_ms: 60_000,
            value: *value,
        })
        .collect();
    let query = |q: &str| -> Result<Vec<VectorSample>, String> {
        Ok(match q {
            "m" => vector.clone(),
            "m{case='b'}" => vector
                .iter()
                .filter(|s| s.labels.get("case") == Some("b"))
                .cloned()
                .collect(),
            other => return Err(format!("unexpected query {other}")),
        })
    };
    let no_labels = Labels::new();
    let mut alerts = Vec::new();
    for (case, value) in CASES {
        // `$labels` is the sample as the expression returned it: `__name__` included.
        let labels = series_labels(case).with("__name__", "m").expect("valid");
        let data = TemplateData {
            labels: &labels,
            value: *value,
            external_labels: &no_labels,
            external_url: "",
            time_ms: 60_000,
            query: Some(&query),
        };
        let expanded: serde_json::Map<String, Value> = ANNOTATIONS
            .iter()
            .map(|(k, text)| {
                let out = template::expand("__alert_T", text, &data)
                    .unwrap_or_else(|e| panic!("{k} for case {case}: {e}"));
                ((*k).to_owned(), json!(out))
            })
            .collect();
        alerts.push(json!({
            "exp_labels": {"case": case, "instance": INSTANCE, "job": "api"},
            "exp_annotations": expanded,
        }));
    }
    let series: Vec<Value> = CASES
        .iter()
        .map(|(case, value)| {
            json!({
                "series": format!("m{{case=\"{case}\",instance=\"{INSTANCE}\",job=\"api\"}}"),
                "values": vec![series_value(*value); 3].join(" "),
            })
        })
        .collect();
    let tests = json!({
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [{"eval_time": "1m", "alertname": "T", "exp_alerts": alerts}],
        }],
    });
    let test_file = dir.path().join("tests.yml");
    std::fs::write(&test_file, tests.to_string()).expect("writing the test file");

    let output = Command::new(find_program("promtool"))
        .args(["test", "rules", "tests.yml"])
        .current_dir(dir.path())
        .output()
        .expect("running promtool");
    assert!(
        output.status.success(),
        "promtool expands differently:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
