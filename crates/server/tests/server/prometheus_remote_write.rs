//! A real sender (issue 5 item 8): Debian's `prometheus` scrapes itself every second and
//! remote_writes to tally's `/api/v1/write`; tally's TSDB must hold exactly the samples
//! Prometheus stored (same series, timestamps and values), and the metadata it sent.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tally_server::ServerConfig;
use tally_storage::{Matcher, SelectHints, Storage as _};
use tally_testkit::prometheus_with_config;
use tempfile::TempDir;

use crate::http::Http;
use crate::live::LiveServer;

/// How long Prometheus may take to scrape and send (it scrapes every second and sends
/// within 100 ms).
const DEADLINE: Duration = Duration::from_secs(30);

/// Series (as their label sets) → samples `(timestamp ms, value bits)`.
type Stored = BTreeMap<BTreeMap<String, String>, Vec<(i64, u64)>>;

/// The selectors compared: one that never changes, one whose value varies per scrape,
/// and a counter that grows with every scrape.
const SELECTORS: [&[(&str, &str)]; 3] = [
    &[("__name__", "up"), ("job", "prometheus")],
    &[
        ("__name__", "scrape_samples_scraped"),
        ("job", "prometheus"),
    ],
    &[
        ("__name__", "prometheus_http_requests_total"),
        ("handler", "/metrics"),
        ("job", "prometheus"),
    ],
];

/// tally's samples for `selector` in `[mint, maxt]`.
fn tally_samples(server: &LiveServer, selector: &[(&str, &str)], mint: i64, maxt: i64) -> Stored {
    let matchers: Vec<Matcher> = selector.iter().map(|(n, v)| Matcher::equal(n, v)).collect();
    let q = server.app.tsdb.querier(mint, maxt).unwrap();
    q.select(&matchers, &SelectHints::default())
        .unwrap()
        .into_iter()
        .map(|s| {
            let labels = s
                .labels
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect();
            let samples = s
                .samples
                .iter()
                .map(|x| (x.timestamp_ms, x.value.to_bits()))
                .collect();
            (labels, samples)
        })
        .collect()
}

/// The newest timestamp tally holds for each series of `selector` (none: `None`).
fn newest(server: &LiveServer, selector: &[(&str, &str)]) -> Option<i64> {
    let now = (tally_tsdb::system_clock())();
    let got = tally_samples(server, selector, now - 600_000, now + 60_000);
    got.values().map(|s| s.last().map(|x| x.0)).min().flatten()
}

/// Prometheus' raw samples for `selector` in `(t - 60 s, t]`, from `selector[1m]` at `t`.
fn prometheus_samples(api: &Http, selector: &[(&str, &str)], t: i64) -> Result<Stored, String> {
    let inner: Vec<String> = selector
        .iter()
        .map(|(n, v)| format!("{n}=\"{v}\""))
        .collect();
    let query = format!("{{{}}}[1m]", inner.join(","));
    let path = format!(
        "/api/v1/query?query={}&time={}.{:03}",
        encode(&query),
        t / 1000,
        t % 1000
    );
    let reply = api.get(&path)?;
    let json: serde_json::Value =
        serde_json::from_str(&reply.body).map_err(|e| format!("{e}: {}", reply.body))?;
    if json["status"] != "success" {
        return Err(reply.body);
    }
    let mut out = Stored::new();
    for r in json["data"]["result"].as_array().into_iter().flatten() {
        let labels = r["metric"]
            .as_object()
            .ok_or("a metric object")?
            .iter()
            .map(|(n, v)| (n.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        let samples = r["values"]
            .as_array()
            .ok_or("a matrix")?
            .iter()
            .map(|pair| {
                let secs = pair[0].as_f64().ok_or("a timestamp")?;
                let value: f64 = pair[1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .ok_or("a value")?;
                Ok(((secs * 1000.0).round() as i64, value.to_bits()))
            })
            .collect::<Result<_, &str>>()?;
        out.insert(labels, samples);
    }
    Ok(out)
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

/// The one series of `name` Prometheus' instant query answers, as (labels, value).
fn prometheus_instant(api: &Http, name: &str) -> (BTreeMap<String, String>, String) {
    let body = api.get_ok(&format!("/api/v1/query?query={name}"));
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let result = json["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{body}");
    let labels = result[0]["metric"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    (labels, result[0]["value"][1].as_str().unwrap().to_owned())
}

#[test]
fn prometheus_remote_writes_its_own_series_to_tally() {
    let dir = TempDir::new().unwrap();
    let server = LiveServer::start(ServerConfig::default(), dir.path());
    let tally = server.addr;
    let prometheus = prometheus_with_config(|port| {
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: prometheus\n    \
             static_configs:\n      - targets: ['127.0.0.1:{port}']\n\
             remote_write:\n  - url: http://{tally}/api/v1/write\n    \
             queue_config:\n      batch_send_deadline: 100ms\n      \
             min_backoff: 10ms\n      max_backoff: 100ms\n    \
             metadata_config:\n      send_interval: 1s\n"
        )
    });
    let api = Http::new(prometheus.addr());

    // Until tally holds three scrapes of every compared series and, up to the newest
    // time it holds all of them, exactly what Prometheus stored.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let t = SELECTORS
            .iter()
            .map(|s| newest(&server, s))
            .collect::<Option<Vec<i64>>>()
            .and_then(|ts| ts.into_iter().min());
        let mut last = String::from("tally holds none of the series yet");
        if let Some(t) = t {
            let mut differences = Vec::new();
            for selector in SELECTORS {
                // The window of a `[1m]` selector at t: (t - 60 s, t].
                let ours = tally_samples(&server, selector, t - 60_000 + 1, t);
                let theirs = prometheus_samples(&api, selector, t);
                let enough = ours.values().all(|s| s.len() >= 3);
                match theirs {
                    Ok(theirs) if theirs == ours && enough && !ours.is_empty() => {}
                    other => differences.push(format!(
                        "{selector:?} at {t}:\n  tally {ours:?}\n  prometheus {other:?}"
                    )),
                }
            }
            if differences.is_empty() {
                break;
            }
            last = differences.join("\n");
        }
        assert!(
            Instant::now() < deadline,
            "tally did not receive Prometheus' samples within {DEADLINE:?}:\n{last}\n\
             Prometheus log:\n{}",
            prometheus.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // prometheus_build_info: the same labels as Prometheus' own answer, value 1.
    let (labels, value) = prometheus_instant(&api, "prometheus_build_info");
    assert_eq!(value, "1");
    let now = (tally_tsdb::system_clock())();
    let stored = tally_samples(
        &server,
        &[("__name__", "prometheus_build_info")],
        now - 600_000,
        now,
    );
    assert_eq!(
        stored.keys().collect::<Vec<_>>(),
        [&labels],
        "prometheus_build_info's labels"
    );
    let samples = stored.values().next().unwrap();
    assert!(samples.iter().all(|s| s.1 == 1f64.to_bits()), "{samples:?}");

    // Metadata, sent every second: as Prometheus' /api/v1/metadata has it.
    let want = {
        let body = api.get_ok("/api/v1/metadata?metric=prometheus_build_info");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        let m = &json["data"]["prometheus_build_info"][0];
        (
            m["type"].as_str().unwrap().to_owned(),
            m["help"].as_str().unwrap().to_owned(),
        )
    };
    let deadline = Instant::now() + DEADLINE;
    loop {
        let got = server
            .app
            .remote_write
            .metadata()
            .get("prometheus_build_info")
            .map(|m| (m.kind.as_str().to_owned(), m.help));
        if got.as_ref() == Some(&want) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "metadata: want {want:?}, tally has {got:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
