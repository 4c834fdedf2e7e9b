//! Input a user or a peer controls never panics: matcher strings, durations, whole
//! configuration files, API bodies. Bounded by `TALLY_FUZZ_CASES` (default 256).

use proptest::prelude::*;
use tally_notify::config::Duration;
use tally_notify::matcher::{Matcher, Matchers};
use tally_notify::Config;

fn cases() -> u32 {
    std::env::var("TALLY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Pieces configuration files and matchers are made of, so mutations reach deep.
const PIECES: &[&str] = &[
    "route:",
    "receiver:",
    "routes:",
    "- ",
    "  ",
    "\n",
    "matchers:",
    "['",
    "']",
    "a=\"b\"",
    "=~",
    "!~",
    "!=",
    "\"",
    "{",
    "}",
    ",",
    "group_by:",
    "'...'",
    "group_wait:",
    "30s",
    "1h30m",
    "receivers:",
    "name:",
    "webhook_configs:",
    "url:",
    "http://x/",
    "inhibit_rules:",
    "equal:",
    "slack_configs:",
    "title:",
    "{{ .Status }}",
    "{{",
    "}}",
    "email_configs:",
    "to:",
    "a@b",
    "global:",
    "smtp_smarthost:",
    "h:25",
    "continue:",
    "true",
    "[",
    "]",
    "&a",
    "*a",
    "!!str",
    "templates:",
    "alertmanagers:",
    "999999999999y",
    "0",
    "-1",
    "\\",
];

fn pieces() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(PIECES), 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn matchers_never_panic(text in "\\PC{0,40}", built in pieces()) {
        let _ = Matcher::parse(&text);
        let _ = Matchers::parse_list(&[&text, &built]);
    }

    #[test]
    fn durations_never_panic(text in "[0-9a-z]{0,24}") {
        if let Some(d) = Duration::parse(&text) {
            let _ = d.to_chrono();
            let _ = d.to_string();
        }
    }

    #[test]
    fn configurations_never_panic(yaml in pieces(), raw in "\\PC{0,200}") {
        let _ = Config::parse(&yaml);
        let _ = Config::parse(&raw);
    }
}

/// Pieces of API bodies.
const JSON: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\"labels\"",
    "\"annotations\"",
    "\"startsAt\"",
    "\"endsAt\"",
    "\"matchers\"",
    "\"name\"",
    "\"value\"",
    "\"isRegex\"",
    "true",
    "false",
    "null",
    "\"a\"",
    "\"\"",
    "\"2026-03-01T12:00:00Z\"",
    "\"+262142-12-31T23:59:59Z\"",
    "\"-262143-01-01T00:00:00Z\"",
    "\"createdBy\"",
    "\"comment\"",
    "\"id\"",
    "1e400",
    "-1",
    "\"(\"",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases().min(512)))]

    #[test]
    fn api_bodies_never_panic(parts in proptest::collection::vec(proptest::sample::select(JSON), 0..30)) {
        use axum::body::Body;
        use axum::http::Request;
        use tower::ServiceExt;
        let body = parts.concat();
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let config = Config::parse("route: { receiver: a }\nreceivers: [{ name: a }]\n").expect("config");
        let options = tally_notify::NotifierOptions { workers: 1, ..Default::default() };
        let n = tally_notify::Notifier::new(config, options).expect("notifier");
        for uri in ["/api/v2/alerts", "/api/v2/silences"] {
            let request = Request::builder().method("POST").uri(uri).body(Body::from(body.clone())).expect("request");
            let response = runtime.block_on(tally_notify::router(n.clone()).oneshot(request)).expect("infallible");
            prop_assert!(response.status().as_u16() < 500, "{uri} {body}: {}", response.status());
        }
        // Whatever was accepted can be listed, flushed and saved.
        let _ = n.alerts();
        let _ = n.tick_blocking();
        n.shutdown().expect("shutdown");
    }
}

#[test]
fn extreme_times_are_accepted_or_refused_without_panicking() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let config =
        Config::parse("route: { receiver: a, group_wait: 0s }\nreceivers: [{ name: a }]\n")
            .expect("config");
    let options = tally_notify::NotifierOptions {
        workers: 1,
        ..Default::default()
    };
    let n = tally_notify::Notifier::new(config, options).expect("notifier");
    let bodies = [
        (
            "/api/v2/alerts",
            r#"[{"labels":{"a":"max"},"startsAt":"+262142-12-31T23:59:59Z"}]"#,
        ),
        (
            "/api/v2/alerts",
            r#"[{"labels":{"a":"min"},"startsAt":"-262143-01-01T00:00:00Z","endsAt":"+262142-12-31T23:59:59Z"}]"#,
        ),
        (
            "/api/v2/alerts",
            r#"[{"labels":{"a":"end"},"startsAt":"9999-12-31T23:59:59Z","endsAt":"9999-12-31T23:59:59Z"}]"#,
        ),
        (
            "/api/v2/silences",
            r#"{"matchers":[{"name":"a","value":"x","isRegex":false}],"startsAt":"2026-01-01T00:00:00Z","endsAt":"+262142-12-31T23:59:59Z","createdBy":"a","comment":"b"}"#,
        ),
    ];
    for (uri, body) in bodies {
        let request = Request::builder()
            .method("POST")
            .uri(uri)
            .body(Body::from(body))
            .expect("request");
        let response = runtime
            .block_on(tally_notify::router(n.clone()).oneshot(request))
            .expect("infallible");
        assert!(
            response.status().as_u16() < 500,
            "{uri} {body}: {}",
            response.status()
        );
    }
    let _ = n.alerts();
    let _ = n.tick_blocking().expect("tick");
    let mut metrics = String::new();
    n.write_metrics(&mut metrics);
    n.shutdown().expect("shutdown");
}

/// Pieces of Go's template language and of Alertmanager's data, so random texts reach
/// deep into the template engine.
const TEMPLATE: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    "-}}",
    " ",
    "\n",
    ".",
    ".Receiver",
    ".Status",
    ".Alerts",
    ".Alerts.Firing",
    ".Alerts.Resolved",
    ".GroupLabels",
    ".CommonLabels",
    ".CommonAnnotations",
    ".ExternalURL",
    ".Labels",
    ".Annotations",
    ".StartsAt",
    ".EndsAt",
    ".Fingerprint",
    "$",
    "$x",
    ":=",
    "=",
    "|",
    "(",
    ")",
    "\"s\"",
    "`r`",
    "'c'",
    "1",
    "-2.5",
    "1e9",
    "nil",
    "true",
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "\"t\"",
    "block",
    "index",
    "len",
    "printf",
    "\"%d\"",
    "\"%*s\"",
    "\"%v\"",
    "toUpper",
    "toLower",
    "title",
    "join",
    "match",
    "reReplaceAll",
    "safeHtml",
    "html",
    "js",
    "urlquery",
    "slice",
    "eq",
    "ne",
    "lt",
    "and",
    "or",
    "not",
    "call",
    "break",
    "continue",
    ".SortedPairs",
    ".Names",
    ".Values",
    ".Remove",
    "stringSlice",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn notification_templates_render_or_fail_without_panicking(
        parts in proptest::collection::vec(proptest::sample::select(TEMPLATE), 0..24),
    ) {
        use tally_notify::payload::{AlertData, NotificationData};
        let text = parts.concat();
        let config = Config::parse("").expect("empty config");
        let mut alert = tally_notify::Alert::firing(
            tally_model::Labels::from_pairs([("alertname", "Down"), ("job", "api")])
                .expect("labels"),
            chrono::Utc::now(),
        );
        alert.annotations = tally_model::Labels::from_pairs([("summary", "api is down")])
            .expect("annotations");
        let data = NotificationData {
            receiver: "team".into(),
            alerts: vec![AlertData { resolved: false, alert, fingerprint: 7 }],
            group_labels: tally_model::Labels::from_pairs([("alertname", "Down")])
                .expect("labels"),
            group_key: "{}:{alertname=\"Down\"}".into(),
            external_url: "http://tally".into(),
            truncated_alerts: 0,
        };
        let templates = config.templates();
        let checked = templates.check("t", &text);
        let rendered = templates.render("t", &text, &data);
        // What does not parse cannot render.
        if checked.is_err() {
            prop_assert!(rendered.is_err());
        }
    }
}
