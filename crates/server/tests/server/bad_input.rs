//! A corpus of malformed and hostile requests. Each one must get its status and a short
//! message naming the problem (the line, for parse errors), change nothing (aggregated
//! view, per-group view, and what a restart recovers), and leave the server healthy.

use axum::body::Body;
use tally_server::{RateLimit, ServerConfig};

use crate::harness::Harness;
use tally_model::expfmt::{self, Format};

use crate::samples::{assert_samples_eq, diff, flatten, series, value, Samples};

/// Largest body the corpus' server accepts.
const MAX_BODY: usize = 2 << 20;

/// Longest message an error answer may have: one line naming the problem, never an echo
/// of a huge input.
const MAX_MESSAGE: usize = 2048;

/// One hostile request and what the server must answer.
#[derive(Debug)]
struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
    status: u16,
    /// Substrings the message must contain (case-sensitive).
    needles: Vec<&'static str>,
    /// The server's group limit: room for one more than the baseline, unless a case
    /// tests that limit.
    max_groups: usize,
}

fn case(what: &'static str, path: &str, body: impl Into<Vec<u8>>, status: u16) -> Case {
    Case {
        what,
        method: "PUT",
        path: format!("/metrics/{path}"),
        headers: Vec::new(),
        body: body.into(),
        status,
        needles: Vec::new(),
        max_groups: BASELINE_GROUPS + 1,
    }
}

impl Case {
    fn naming(mut self, needles: &[&'static str]) -> Self {
        self.needles.extend_from_slice(needles);
        self
    }

    fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }

    fn max_groups(mut self, max_groups: usize) -> Self {
        self.max_groups = max_groups;
        self
    }

    fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }
}

fn config(max_groups: usize) -> ServerConfig {
    let mut config = ServerConfig {
        max_body_bytes: MAX_BODY,
        ..ServerConfig::default()
    };
    let limits = &mut config.gateway.limits;
    limits.max_groups = max_groups;
    limits.max_series_per_group = 20;
    limits.max_labels = 8;
    limits.max_label_length = 1024;
    config
}

/// Groups in the baseline.
const BASELINE_GROUPS: usize = 4;

/// [`BASELINE_GROUPS`] groups, a counter, a gauge and a histogram each.
async fn baseline(h: &Harness) {
    for (path, n) in [
        ("job/bad/instance/a", 1),
        ("job/bad/instance/b", 2),
        ("job/other", 3),
        ("job/spare", 4),
    ] {
        let body = format!(
            "# TYPE base_requests_total counter\nbase_requests_total{{code=\"200\"}} {n}\n\
             # TYPE base_in_flight gauge\nbase_in_flight {n}\n\
             # TYPE base_seconds histogram\nbase_seconds_bucket{{le=\"1\"}} {n}\n\
             base_seconds_bucket{{le=\"+Inf\"}} {n}\nbase_seconds_sum {n}\nbase_seconds_count {n}\n"
        );
        h.put(path, &body).await.expect(200);
    }
}

fn corpus() -> Vec<Case> {
    let a = "job/bad/instance/a";
    let many_series: String = (0..21)
        .map(|i| format!("s_total{{n=\"{i}\"}} 1\n"))
        .collect();
    let many_labels = format!(
        "l{{{}}} 1\n",
        (0..8)
            .map(|i| format!("l{i}=\"v\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let repeated = format!("r{{{}}} 1\n", "a=\"1\",".repeat(20_000));
    vec![
        case(
            "bad syntax",
            a,
            "# TYPE ok_total counter\nok_total 1\nbroken{ 1\n",
            400,
        )
        .naming(&["line 3"]),
        case(
            "a value that is not a number",
            a,
            "# TYPE g gauge\ng one\n",
            400,
        )
        .naming(&["line 2", "\"one\""]),
        case(
            "duplicate series",
            a,
            "# TYPE d_total counter\nd_total{a=\"1\"} 1\nd_total{a=\"1\"} 2\n",
            400,
        )
        .naming(&["line 3", "duplicate series", "d_total"]),
        case(
            "histogram without +Inf",
            a,
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
            400,
        )
        .naming(&["+Inf", "line"]),
        case(
            "a negative counter",
            a,
            "# TYPE base_requests_total counter\nbase_requests_total{code=\"200\"} -5\n",
            400,
        )
        .naming(&["base_requests_total"]),
        case(
            "a NaN counter",
            a,
            "# TYPE base_requests_total counter\nbase_requests_total{code=\"200\"} NaN\n",
            400,
        )
        .naming(&["base_requests_total"]),
        case(
            "an infinite counter",
            a,
            "# TYPE base_requests_total counter\nbase_requests_total{code=\"200\"} +Inf\n",
            400,
        )
        .naming(&["base_requests_total"]),
        case(
            "a negative histogram count",
            a,
            "# TYPE base_seconds histogram\nbase_seconds_bucket{le=\"+Inf\"} -1\n\
             base_seconds_sum 1\nbase_seconds_count -1\n",
            400,
        )
        .naming(&["base_seconds"]),
        case("unknown type", a, "# TYPE q quantum\nq 1\n", 400).naming(&["line 1", "quantum"]),
        case(
            "a timestamp",
            a,
            "# TYPE t_total counter\nt_total 1 1700000000000\n",
            400,
        )
        .naming(&["timestamp", "t_total"]),
        case(
            "a type other groups push differently",
            "job/bad/instance/b",
            "# TYPE base_requests_total gauge\nbase_requests_total 1\n",
            400,
        )
        .naming(&["base_requests_total", "gauge", "counter"]),
        case(
            "a histogram whose _count another group pushes as a gauge name",
            "job/bad/instance/b",
            "# TYPE base_in_flight_count gauge\nbase_in_flight_count 1\n\
             # TYPE base_seconds_count gauge\nbase_seconds_count 1\n",
            400,
        )
        .naming(&["base_seconds_count", "histogram"]),
        case(
            "invalid UTF-8",
            a,
            &b"# TYPE u gauge\nu{a=\"\xff\xfe\"} 1\n"[..],
            400,
        )
        .naming(&["line 2", "UTF-8"]),
        case("a NUL byte", a, &b"# TYPE n gauge\nn\0 1\n"[..], 400).naming(&["line 2"]),
        case(
            "a 1 MB line that never ends",
            a,
            format!("big{{{}", "a".repeat(1 << 20)),
            400,
        )
        .naming(&["line 1"]),
        case(
            "a 1 MB metric name",
            a,
            format!("# TYPE x gauge\n{} 1\n", "x".repeat(1 << 20)),
            422,
        )
        .naming(&["label length", "1024"]),
        case("a label repeated 20,000 times", a, repeated, 400)
            .naming(&["line 1", "duplicate label"]),
        case(
            "a 100 kB label value",
            a,
            format!("v{{a=\"{}\"}} 1\n", "v".repeat(100_000)),
            422,
        )
        .naming(&["label length", "1024"]),
        case(
            "a 10 kB label value in the grouping key",
            &format!("job/bad/instance/{}", "i".repeat(10_000)),
            "x 1\n",
            422,
        )
        .naming(&["label length"]),
        case("too many series", a, many_series, 422).naming(&["series per group", "20"]),
        case("too many labels", a, many_labels, 422).naming(&["labels per series", "8"]),
        case(
            "a fifth group",
            "job/bad/instance/d",
            "# TYPE ok_total counter\nok_total 1\n",
            422,
        )
        .max_groups(BASELINE_GROUPS)
        .naming(&["groups", "4"]),
        case(
            "an OpenMetrics-only type",
            a,
            "# TYPE gh gaugehistogram\ngh_bucket{le=\"+Inf\"} 1\ngh_gcount 1\ngh_gsum 1\n# EOF\n",
            400,
        )
        .header("Content-Type", "application/openmetrics-text; version=1.0.0")
        .naming(&["gh", "gaugehistogram"]),
        case(
            "OpenMetrics without # EOF",
            a,
            "# TYPE c counter\nc_total 1\n",
            400,
        )
        .header("Content-Type", "application/openmetrics-text; version=1.0.0")
        .naming(&["EOF"]),
        case(
            "protobuf",
            a,
            &b"\x0a\x03abc"[..],
            415,
        )
        .header(
            "Content-Type",
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
        )
        .naming(&["protobuf", "text"]),
        case(
            "a body over max_body_bytes",
            a,
            format!("# TYPE x gauge\nx 1\n{}", "#".repeat(MAX_BODY)),
            413,
        )
        .naming(&["max-body-bytes"]),
        case("no job", "job", "x 1\n", 400).naming(&["grouping key", "job"]),
        case("no job, another label", "instance/x", "x 1\n", 400).naming(&["job"]),
        case("a label without a value", "job/x/a", "x 1\n", 400).naming(&["\"a\"", "value"]),
        case("an invalid label name", "job/x/a-b/1", "x 1\n", 400).naming(&["a-b"]),
        case("an empty label name", "job/x//1", "x 1\n", 400).naming(&["label name"]),
        case("a reserved label name", "job/x/__name__/y", "x 1\n", 400).naming(&["__name__"]),
        case("a label twice", "job/x/a/1/a/2", "x 1\n", 400).naming(&["\"a\"", "twice"]),
        case("bad base64", "job/x/instance@base64/!!!", "x 1\n", 400)
            .naming(&["base64", "instance"]),
        case("base64 of invalid UTF-8", "job/x/instance@base64/_w", "x 1\n", 400)
            .naming(&["base64"]),
        case("an empty base64 job", "job@base64/=", "x 1\n", 400).naming(&["job"]),
        case("a delete without a job", "instance/x", "", 400)
            .method("DELETE")
            .naming(&["job"]),
        case("a bad TTL", a, "x 1\n", 400)
            .header("Tally-TTL", "eventually")
            .naming(&["Tally-TTL"]),
        case("a bad start time", a, "x 1\n", 400)
            .header("Tally-Process-Start", "-")
            .naming(&["Tally-Process-Start"]),
    ]
}

/// Everything a request could change: both views (failure times aside). A view that no
/// longer parses shows up as one `!` sample naming the error.
async fn state(h: &Harness) -> (Samples, Samples) {
    let view = |body: Vec<u8>| match expfmt::parse(&body, Format::Text) {
        Ok(families) => flatten(&families),
        Err(e) => Samples::from([(format!("!unparseable view: {e}"), 0.0)]),
    };
    let aggregated = view(h.get("/metrics").await.body)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("tally_"))
        .collect();
    let groups = view(h.get("/metrics/groups").await.body)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("push_failure_time_seconds"))
        .collect();
    (aggregated, groups)
}

/// Sends one case to a fresh server holding the baseline; returns what went wrong.
async fn check(c: Case) -> Vec<String> {
    let mut wrong = Vec::new();
    let h = Harness::new(config(c.max_groups));
    baseline(&h).await;
    let (agg, groups) = state(&h).await;
    let answer = h
        .request(c.method, &c.path, &c.headers, Body::from(c.body))
        .await;
    let message = answer.text();
    let short = message.trim_end().lines().count() <= 1 && message.len() <= MAX_MESSAGE;
    let named = c.needles.iter().all(|n| message.contains(n));
    if answer.status != c.status || !short || !named {
        wrong.push(format!(
            "expected {} naming {:?}, got {}: {}{}",
            c.status,
            c.needles,
            answer.status,
            message.chars().take(300).collect::<String>(),
            if short { "" } else { " [message too long]" },
        ));
    }
    let (agg_after, groups_after) = state(&h).await;
    wrong.push(diff(&agg, &agg_after));
    wrong.push(diff(&groups, &groups_after));
    if h.get("/-/healthy").await.status != 200 {
        wrong.push("not healthy afterwards".to_owned());
    }
    // Nothing refused reached the log either: a restart recovers the same state.
    let (dir, clock) = h.close().await;
    let h = Harness::open(config(c.max_groups), dir, clock);
    if h.recovery.refused != 0 || h.recovery.dropped.is_some() {
        wrong.push(format!("recovery: {:?}", h.recovery));
    }
    let (agg_after, groups_after) = state(&h).await;
    wrong.push(diff(&agg, &agg_after));
    wrong.push(diff(&groups, &groups_after));
    // And the server still takes pushes.
    let ok = h
        .put(
            "job/bad/instance/a",
            "# TYPE base_in_flight gauge\nbase_in_flight 10\n",
        )
        .await;
    if ok.status != 200 {
        wrong.push(format!(
            "a valid push afterwards: {} {}",
            ok.status,
            ok.text()
        ));
    }
    wrong.retain(|w| !w.is_empty());
    wrong
}

#[tokio::test]
async fn hostile_requests_are_refused_and_change_nothing() {
    let h = Harness::new(config(BASELINE_GROUPS));
    baseline(&h).await;
    assert_eq!(
        value(
            &h.aggregated().await,
            &series("base_requests_total", &[("code", "200"), ("job", "bad")])
        ),
        3.0
    );
    let mut failures = Vec::new();
    for c in corpus() {
        let what = c.what;
        let wrong = check(c).await;
        if !wrong.is_empty() {
            failures.push(format!("{what}:\n  {}", wrong.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the corpus went wrong (state diffs: - missing, + unexpected, ~ value):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let config = ServerConfig {
        rate_limit: Some(RateLimit {
            per_second: 1,
            burst: 2,
        }),
        ..ServerConfig::default()
    };
    let h = Harness::new(config);
    let body = |n: u32| format!("# TYPE r_total counter\nr_total {n}\n");
    // The bucket holds 2 and refills one token a second; these requests take
    // microseconds, so the third is refused (a stalled machine may let one more through).
    let mut refused = None;
    for n in 1..=10 {
        let answer = h.put("job/rate", &body(n)).await;
        if answer.status == 429 {
            refused = Some((n, answer));
            break;
        }
        answer.expect(200);
    }
    let (n, refused) = refused.expect("no push was rate limited");
    assert!(n >= 3, "the burst of 2 was allowed");
    let retry_after: u64 = refused
        .header("retry-after")
        .expect("a 429 carries Retry-After")
        .parse()
        .expect("Retry-After is whole seconds");
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    assert!(refused.text().contains("rate limit"), "{}", refused.text());
    let before = h.aggregated().await;
    assert_eq!(
        before[&series("r_total", &[("job", "rate")])],
        f64::from(n - 1),
        "the refused push changed nothing"
    );
    h.delete("job/rate").await.expect(429);
    assert_samples_eq(&before, &h.aggregated().await, "after refused requests");
    // Reads are not rate limited.
    h.get("/metrics").await.expect(200);
    h.get("/-/healthy").await.expect(200);
    let own = crate::samples::flatten(&crate::samples::parse_text(&h.get("/metrics").await.body));
    assert_eq!(
        value(
            &own,
            &series("tally_gateway_rejections_total", &[("reason", "rate")])
        ),
        2.0
    );
}
