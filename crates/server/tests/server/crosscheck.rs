//! The oracle for PromQL (issue 6 item 4): identical remote_write requests go to tally
//! and to Debian's Prometheus 2.42 (`--web.enable-remote-write-receiver`, no scrape
//! jobs), then a list of instant and range queries runs through both HTTP APIs and the
//! answers must agree: result type, label sets, timestamps and values (relative 1e-9 or
//! absolute 1e-12; NaN equals NaN). Every mismatching query is printed before failing.
//!
//! tally follows Prometheus 3; the oracle is 2.x. The data is chosen so that most of the
//! 2.x-versus-3.x differences cannot show (see [`EXCLUDED`] for the rest):
//! - Range selectors are left-open `(t - range, t]` in 3.x and closed `[t - range, t]` in
//!   2.x, and the lookback window likewise. Samples sit 3.7 s past a 15 s grid while every
//!   evaluation time, `@` time and range is a whole number of seconds, 50 s past a minute
//!   (and subquery steps divide a minute), so no window boundary ever holds a sample or a
//!   subquery step.
//! - `rate` and `increase` limit their extrapolation towards a series' start at the
//!   counter's zero point. Since Prometheus 2.51 (prometheus#13725, so in 3.x and tally)
//!   that limit applies after the choice between extrapolating to the window's start and
//!   by half a sample interval; 2.42 applies it before, so the two differ when the zero
//!   point lies between 0.5 and 1.1 sample intervals before the first sample. Every
//!   counter and bucket here starts far above its increase per interval, so its zero
//!   point lies far before the first sample and both versions extrapolate by half an
//!   interval, while the range queries still cover the series' start.
//! - 3.x sums with Kahan compensation (`sum`, `avg`, `*_over_time`, `stddev`): the last
//!   bits differ, inside the float tolerance.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use tally_server::remote_write::proto::{encode_body, Label, Sample, TimeSeries, WriteRequest};
use tally_server::ServerConfig;
use tally_testkit::prometheus_receiver;
use tempfile::TempDir;

use crate::http::Http;
use crate::live::LiveServer;

/// Interval between samples of every series (ms).
const SCRAPE_MS: i64 = 15_000;
/// Samples per series: 30 minutes of them.
const SAMPLES: i64 = 121;
/// How far past the 15 s grid every sample sits (ms): never on a window boundary.
const SKEW_MS: i64 = 3_700;
/// The staleness marker Prometheus writes (a NaN with these bits).
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// The queries compared, each as an instant query at `T` and as a range query. `{at}`
/// stands for a time (whole seconds) 10 minutes before `T`.
const QUERIES: &[&str] = &[
    // Selectors with every matcher kind.
    "http_requests_total",
    "http_requests_total{method=\"GET\",code!=\"200\"}",
    "http_requests_total{code=~\"2..\",instance!~\"b.*\"}",
    "{__name__=~\"http_.*|app_version\",method!=\"POST\"}",
    "worker_heartbeat",
    // Counters (with resets) and gauges over ranges.
    "rate(http_requests_total[5m])",
    "irate(http_requests_total[2m])",
    "increase(http_requests_total[10m])",
    "resets(http_requests_total[30m])",
    "idelta(queue_depth[2m])",
    "delta(temperature_celsius[10m])",
    "deriv(temperature_celsius[10m])",
    "predict_linear(temperature_celsius[10m], 600)",
    "changes(app_version[30m])",
    "avg_over_time(temperature_celsius[10m])",
    "min_over_time(temperature_celsius[10m]) - max_over_time(temperature_celsius[3m])",
    "sum_over_time(queue_depth[5m]) / count_over_time(queue_depth[5m])",
    "stddev_over_time(temperature_celsius[10m])",
    "stdvar_over_time(queue_depth[10m])",
    "quantile_over_time(0.9, temperature_celsius[10m])",
    "last_over_time(worker_heartbeat[10m])",
    "count_over_time(worker_heartbeat[10m])",
    // Aggregations, by and without.
    "sum by (method) (rate(http_requests_total[5m]))",
    "avg without (instance) (rate(http_requests_total[5m]))",
    "min by (code) (http_requests_total)",
    "sum without (instance, code) (increase(http_requests_total[10m]))",
    "max without (code, method) (http_requests_total)",
    "count by (instance) (http_requests_total)",
    "group by (job) (temperature_celsius)",
    "topk(3, temperature_celsius)",
    "bottomk by (method) (2, rate(http_requests_total[5m]))",
    "quantile by (job) (0.75, temperature_celsius)",
    "stddev without (room) (temperature_celsius)",
    "stdvar by (queue) (queue_depth)",
    "count_values(\"version\", app_version)",
    // Binary operators and vector matching.
    "rate(http_requests_total[5m]) / on (instance) group_left sum by (instance) (rate(http_requests_total[5m]))",
    "http_requests_total{code=\"500\"} / ignoring (code) http_requests_total{code=\"200\"}",
    "app_version * on (instance) group_right queue_depth",
    "temperature_celsius > bool 20",
    "temperature_celsius >= 12 < 28",
    "2 * temperature_celsius - 1",
    "temperature_celsius > 25 or temperature_celsius < 10",
    "http_requests_total and on (instance) (app_version == 2)",
    "http_requests_total unless ignoring (code) http_requests_total{code=\"500\"} > 500",
    // Classic histograms.
    "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.5, rate(request_duration_seconds_bucket[10m]))",
    "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])",
    // Time modifiers and subqueries.
    "http_requests_total offset 5m",
    "rate(http_requests_total[5m] offset 10m)",
    "temperature_celsius @ {at}",
    "sum(rate(http_requests_total[5m] @ {at}))",
    "max_over_time(rate(http_requests_total[2m])[10m:1m])",
    "avg_over_time(sum by (room) (temperature_celsius)[15m:30s] offset 2m)",
    // Functions.
    "label_replace(temperature_celsius, \"floor\", \"$1\", \"room\", \"[a-z]+-(.*)\")",
    "label_join(app_version, \"id\", \"/\", \"job\", \"instance\")",
    "absent(nonexistent_metric{job=\"x\"})",
    "absent(temperature_celsius)",
    "absent_over_time(worker_heartbeat{worker=\"w1\"}[5m])",
    "scalar(sum(app_version))",
    "scalar(sum(app_version)) * temperature_celsius",
    "vector(1) + 2",
    "sort(temperature_celsius)",
    "sort_desc(sum by (instance) (http_requests_total))",
    "clamp(abs(deriv(temperature_celsius[5m])) * 1000, 0.5, 2)",
    "round(temperature_celsius, 0.5)",
    "timestamp(temperature_celsius)",
];

/// 2.x-versus-3.x differences that cannot be avoided by choosing the data: queries not
/// sent, each with its reason.
const EXCLUDED: &[(&str, &str)] = &[
    (
        "holt_winters(temperature_celsius[10m], 0.5, 0.5)",
        "renamed double_exponential_smoothing in 3.x (and behind a feature flag there); \
         tally follows 3.x, where holt_winters is an unknown function",
    ),
    (
        "temperature_celsius[10m]",
        "a range selector at a time that holds a sample on its left edge: 3.x leaves it \
         out ((t-range, t]), 2.x keeps it ([t-range, t]). The queries above avoid such \
         edges; this is here to name the difference, not to test it",
    ),
];

/// Queries where tally is known to answer differently from Prometheus for a reason that
/// is not a 2.x-versus-3.x difference, each with the tally bug it shows. Still run; a
/// difference is printed, not failed. Each entry carries a `// BUG:` comment naming the
/// bug; none is known today.
const KNOWN_BUGS: &[(&str, &str)] = &[];

/// A series' labels.
type Labels = BTreeMap<String, String>;

/// One answer: its result type and series (a scalar or string as one unlabelled series),
/// each with its `(time s, value)` points; or the API's `errorType`.
#[derive(Debug)]
enum Answer {
    Data {
        kind: String,
        series: Vec<(Labels, Vec<(f64, f64)>)>,
    },
    Error(String),
}

/// The deterministic data: series and their samples, `first` the first sample's time.
fn series(first: i64) -> Vec<TimeSeries> {
    let mut out = Vec::new();
    let mut seed: u64 = 0x5eed;
    let mut noise = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as f64) / f64::from(1u32 << 31)
    };
    let times = |n: i64| (0..n).map(move |i| first + i * SCRAPE_MS);
    let mut push = |labels: &[(&str, &str)], samples: Vec<(i64, f64)>| {
        out.push(TimeSeries {
            labels: labels
                .iter()
                .map(|(n, v)| Label {
                    name: (*n).to_owned(),
                    value: (*v).to_owned(),
                })
                .collect(),
            samples: samples
                .into_iter()
                .map(|(timestamp, value)| Sample { value, timestamp })
                .collect(),
            ..Default::default()
        });
    };

    // Counters, two of them reset.
    let instances = ["a:80", "b:80", "c:80"];
    for (k, instance) in instances.iter().enumerate() {
        for method in ["GET", "POST"] {
            for code in ["200", "500"] {
                let reset_at = match (*instance, method, code) {
                    ("c:80", "GET", "200") => Some(60),
                    ("b:80", "POST", "500") => Some(90),
                    _ => None,
                };
                let scale = if code == "200" { 40.0 } else { 3.0 } * (k + 1) as f64;
                let mut value = 100.0 * (k + 1) as f64;
                let samples = times(SAMPLES)
                    .enumerate()
                    .map(|(i, t)| {
                        if Some(i) == reset_at {
                            value = (noise() * 5.0).floor();
                        } else {
                            value += (noise() * scale).floor();
                        }
                        (t, value)
                    })
                    .collect();
                push(
                    &[
                        ("__name__", "http_requests_total"),
                        ("code", code),
                        ("instance", instance),
                        ("job", "api"),
                        ("method", method),
                    ],
                    samples,
                );
            }
        }
    }

    // Gauges.
    for (k, room) in ["kitchen-1", "kitchen-2", "hall-1", "attic-3"]
        .iter()
        .enumerate()
    {
        for job in ["sensors", "backup"] {
            let phase = k as f64 + if job == "backup" { 0.5 } else { 0.0 };
            let samples = times(SAMPLES)
                .enumerate()
                .map(|(i, t)| {
                    let wave = (i as f64 / 20.0 + phase).sin() * 12.0;
                    (t, 18.0 + wave + noise() * 2.0)
                })
                .collect();
            push(
                &[
                    ("__name__", "temperature_celsius"),
                    ("job", job),
                    ("room", room),
                ],
                samples,
            );
        }
    }
    for (k, instance) in instances.iter().enumerate() {
        for queue in ["fast", "slow"] {
            let samples = times(SAMPLES)
                .map(|t| (t, (noise() * 50.0 * (k + 1) as f64).floor()))
                .collect();
            push(
                &[
                    ("__name__", "queue_depth"),
                    ("instance", instance),
                    ("queue", queue),
                ],
                samples,
            );
        }
        let samples = times(SAMPLES)
            .enumerate()
            .map(|(i, t)| {
                (
                    t,
                    if k == 2 && i < 70 {
                        1.0
                    } else {
                        2.0 + (k / 2) as f64
                    },
                )
            })
            .collect();
        push(
            &[
                ("__name__", "app_version"),
                ("instance", instance),
                ("job", "api"),
            ],
            samples,
        );
    }

    // A classic histogram per instance: cumulative buckets, sum and count.
    let bounds = ["0.1", "0.25", "0.5", "1", "2.5", "+Inf"];
    for instance in ["a:80", "b:80"] {
        let mut buckets = vec![Vec::new(); bounds.len()];
        // Counts far above one interval's increase, as the counters' (see the module
        // documentation on the zero point).
        let mut counts = [200.0, 400.0, 600.0, 800.0, 1000.0, 1200.0];
        let (mut sum, mut count) = (Vec::new(), Vec::new());
        let (mut total_sum, mut total) = (450.0, 1200.0);
        for t in times(SAMPLES) {
            let mut cumulative = 0.0;
            for (b, bucket) in buckets.iter_mut().enumerate() {
                if b + 1 < bounds.len() {
                    let new = (noise() * 10.0).floor();
                    cumulative += new;
                    total_sum += new * [0.05, 0.2, 0.4, 0.8, 2.0][b];
                }
                counts[b] += cumulative;
                bucket.push((t, counts[b]));
            }
            total += cumulative;
            sum.push((t, total_sum));
            count.push((t, total));
        }
        for (le, samples) in bounds.iter().zip(buckets) {
            push(
                &[
                    ("__name__", "request_duration_seconds_bucket"),
                    ("instance", instance),
                    ("job", "api"),
                    ("le", le),
                ],
                samples,
            );
        }
        for (name, samples) in [
            ("request_duration_seconds_sum", sum),
            ("request_duration_seconds_count", count),
        ] {
            push(
                &[("__name__", name), ("instance", instance), ("job", "api")],
                samples,
            );
        }
    }

    // Series that stop: w1 simply ends (the lookback ends it), w2 with a staleness
    // marker while its last sample is still inside the lookback at `T`.
    let w1 = times(81).map(|t| (t, 1.0)).collect();
    push(&[("__name__", "worker_heartbeat"), ("worker", "w1")], w1);
    let mut w2: Vec<(i64, f64)> = times(110).map(|t| (t, 2.0)).collect();
    w2.push((first + 110 * SCRAPE_MS, f64::from_bits(STALE_NAN)));
    push(&[("__name__", "worker_heartbeat"), ("worker", "w2")], w2);
    out
}

/// Percent-encodes a query parameter.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A JSON sample value as Prometheus writes it (`"NaN"`, `"+Inf"`, `"-Inf"` included).
fn value(v: &serde_json::Value) -> f64 {
    match v.as_str().unwrap_or_default() {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s
            .parse()
            .unwrap_or_else(|e| panic!("not a sample value ({e}): {v}")),
    }
}

fn point(pair: &serde_json::Value) -> (f64, f64) {
    let t = pair[0]
        .as_f64()
        .unwrap_or_else(|| panic!("not a time: {pair}"));
    (t, value(&pair[1]))
}

fn labels(metric: &serde_json::Value) -> Labels {
    metric
        .as_object()
        .into_iter()
        .flatten()
        .map(|(n, v)| (n.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// Asks `api` at `path` and parses its answer. Series are sorted by labels unless
/// `ordered` (the query sorts).
fn ask(api: &Http, who: &str, path: &str, ordered: bool) -> Answer {
    let reply = api
        .get(path)
        .unwrap_or_else(|e| panic!("{who}: GET {path}: {e}"));
    let json: serde_json::Value = serde_json::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("{who}: not JSON ({e}): {}", reply.body));
    if json["status"] != "success" {
        return Answer::Error(json["errorType"].as_str().unwrap_or("?").to_owned());
    }
    let kind = json["data"]["resultType"]
        .as_str()
        .unwrap_or("?")
        .to_owned();
    let result = &json["data"]["result"];
    let mut series: Vec<(Labels, Vec<(f64, f64)>)> = match kind.as_str() {
        "scalar" | "string" => vec![(Labels::new(), vec![point(result)])],
        _ => result
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                let points = match s.get("values") {
                    Some(values) => values.as_array().into_iter().flatten().map(point).collect(),
                    None => vec![point(&s["value"])],
                };
                (labels(&s["metric"]), points)
            })
            .collect(),
    };
    if !ordered {
        series.sort_by(|a, b| a.0.cmp(&b.0));
    }
    Answer::Data { kind, series }
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan())
        || a == b
        || (a - b).abs() <= 1e-12
        || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn show(labels: &Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// The differences between two answers, one per line; empty when they agree.
fn diff(tally: &Answer, prometheus: &Answer) -> String {
    let (
        Answer::Data {
            kind: ours,
            series: a,
        },
        Answer::Data {
            kind: theirs,
            series: b,
        },
    ) = (tally, prometheus)
    else {
        return match (tally, prometheus) {
            (Answer::Error(x), Answer::Error(y)) if x == y => String::new(),
            _ => format!("    tally: {tally:?}\n    prometheus: {prometheus:?}\n"),
        };
    };
    let mut out = String::new();
    if ours != theirs {
        let _ = writeln!(out, "    result type: tally {ours}, prometheus {theirs}");
    }
    let order = |s: &[(Labels, Vec<(f64, f64)>)]| s.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    if order(a) != order(b) {
        let ours: BTreeMap<_, _> = a.iter().cloned().collect();
        let theirs: BTreeMap<_, _> = b.iter().cloned().collect();
        for l in ours.keys().filter(|l| !theirs.contains_key(*l)) {
            let _ = writeln!(out, "    only in tally: {}", show(l));
        }
        for l in theirs.keys().filter(|l| !ours.contains_key(*l)) {
            let _ = writeln!(out, "    only in prometheus: {}", show(l));
        }
        if ours.len() == theirs.len() && ours.keys().eq(theirs.keys()) {
            let _ = writeln!(out, "    order differs: tally {:?}", order(a));
            let _ = writeln!(out, "                   prometheus {:?}", order(b));
        }
    }
    let theirs: BTreeMap<_, _> = b.iter().map(|(l, p)| (l, p)).collect();
    for (l, ours) in a {
        let Some(theirs) = theirs.get(l) else {
            continue;
        };
        let same = ours.len() == theirs.len()
            && ours
                .iter()
                .zip(theirs.iter())
                .all(|(x, y)| (x.0 - y.0).abs() < 1e-6 && close(x.1, y.1));
        if !same {
            let _ = writeln!(out, "    {}:", show(l));
            let _ = writeln!(out, "      tally      {}", points(ours));
            let _ = writeln!(out, "      prometheus {}", points(theirs));
        }
    }
    out
}

fn points(p: &[(f64, f64)]) -> String {
    let shown: Vec<String> = p.iter().take(8).map(|(t, v)| format!("{t}:{v}")).collect();
    let more = if p.len() > 8 {
        format!(" … ({} points)", p.len())
    } else {
        String::new()
    };
    format!("[{}]{more}", shown.join(" "))
}

#[test]
fn promql_answers_match_prometheus_on_identical_data() {
    let started = Instant::now();
    // Samples 3.7 s past a whole minute (then every 15 s) for 30 minutes, ending about
    // three minutes before now (Prometheus refuses samples over an hour behind its newest).
    let now = (tally_tsdb::system_clock())();
    let first = (now - 33 * 60_000).div_euclid(60_000) * 60_000 + SKEW_MS;
    let last = first + (SAMPLES - 1) * SCRAPE_MS;
    // T: 50 s past a minute, 13.7 s before the last sample; ranges step whole minutes.
    let t = (last - SKEW_MS) / 1000 - 10;
    let (start, end) = (t - 25 * 60, t + 6 * 60);

    let dir = TempDir::new().unwrap();
    let server = LiveServer::start(ServerConfig::default(), &dir.path().join("tally"));
    let prometheus_peer = prometheus_receiver();
    let prometheus = Http::new(prometheus_peer.addr());
    let tally = server.http();

    // The same requests to both: one per series, so each stays small.
    for series in series(first) {
        let body = encode_body(&WriteRequest {
            timeseries: vec![series],
            ..Default::default()
        });
        for (who, api) in [("tally", &tally), ("prometheus", &prometheus)] {
            let reply = api
                .remote_write(&body)
                .unwrap_or_else(|e| panic!("{who}: remote_write: {e}"));
            assert!(
                (200..300).contains(&reply.status),
                "{who} refused a remote_write request: {reply:?}"
            );
        }
    }

    let mut failures = Vec::new();
    let mut known = Vec::new();
    for query in QUERIES {
        let query = query.replace("{at}", &(t - 600).to_string());
        assert!(!EXCLUDED.iter().any(|(q, _)| *q == query), "{query}");
        let ordered = query.starts_with("sort");
        let instant = format!("/api/v1/query?query={}&time={t}", encode(&query));
        let range = format!(
            "/api/v1/query_range?query={}&start={start}&end={end}&step=60",
            encode(&query)
        );
        for (what, path) in [("instant", instant), ("range", range)] {
            let ours = ask(&tally, "tally", &path, ordered && what == "instant");
            let theirs = ask(
                &prometheus,
                "prometheus",
                &path,
                ordered && what == "instant",
            );
            let mut d = diff(&ours, &theirs);
            if let Answer::Error(e) = &ours {
                // Agreeing on an error would compare nothing: no query here should fail.
                let _ = writeln!(d, "    both failed ({e}): every query here must answer");
            }
            if d.is_empty() {
                continue;
            }
            let entry = format!("{what} {query}\n{d}");
            match KNOWN_BUGS.iter().find(|(q, _)| *q == query) {
                Some((_, bug)) => known.push(format!("{entry}    (known: {bug})")),
                None => failures.push(entry),
            }
        }
    }
    if !known.is_empty() {
        eprintln!("known differences:\n{}", known.join("\n"));
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries (instant at {t}, range {start}..{end} step 60 s) answer differently \
         from Prometheus 2.42:\n{}",
        failures.len(),
        QUERIES.len() * 2,
        failures.join("\n")
    );
    eprintln!("crosscheck took {:?}", started.elapsed());
}
