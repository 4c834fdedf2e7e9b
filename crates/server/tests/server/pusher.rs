//! tally's own client end to end: `tally::Pusher` (process start time, push sequence,
//! TTL header, `@base64` and percent-encoded grouping values) pushing to the server.

use std::time::{Duration, Instant};

use tally::{Pusher, Registry};
use tally_server::ServerConfig;
use tempfile::TempDir;

use crate::http::Http;
use crate::live::LiveServer;
use crate::samples::{assert_samples_eq, diff, series, with_prefix, Samples};

/// Waits (bounded) until the aggregated `rustapp_*` samples equal `want`.
fn wait_for(http: &Http, want: &Samples, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = with_prefix(&http.aggregated(), "rustapp_");
        if diff(want, &got).is_empty() {
            return;
        }
        if Instant::now() > deadline {
            assert_samples_eq(want, &got, what);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn expected(jobs: f64, hist: Option<(f64, f64, f64, f64)>) -> Samples {
    let l = [("job", "rustapp"), ("zone", "eu west")];
    let mut want = Samples::from([(series("rustapp_jobs_total", &l), jobs)]);
    if let Some((le_quarter, le_one, count, sum)) = hist {
        for (le, v) in [("0.25", le_quarter), ("1", le_one), ("+Inf", count)] {
            let key = series("rustapp_latency_seconds_bucket", &[l[0], l[1], ("le", le)]);
            want.insert(key, v);
        }
        want.insert(series("rustapp_latency_seconds_count", &l), count);
        want.insert(series("rustapp_latency_seconds_sum", &l), sum);
    }
    want
}

#[test]
fn tally_pusher_to_tally_serve() {
    let dir = TempDir::new().unwrap();
    let server = LiveServer::start(ServerConfig::default(), dir.path());
    let http = server.http();
    let url = server.base_url();
    let start = |instance: &str, registry: Registry| {
        Pusher::builder()
            .url(url.clone())
            .job("rustapp")
            .instance(instance)
            .label("zone", "eu west")
            .registry(registry)
            .max_wait(Duration::from_secs(3600))
            .ttl(Duration::from_secs(90))
            .start()
            .expect("starting a pusher")
    };

    let registry_a = Registry::new();
    let jobs_a = registry_a.counter("rustapp_jobs", "Jobs done.").unwrap();
    let latency_a = registry_a
        .histogram("rustapp_latency_seconds", "Latency.", &[0.25, 1.0])
        .unwrap();
    let pusher_a = start("a", registry_a);
    let registry_b = Registry::new();
    let jobs_b = registry_b.counter("rustapp_jobs", "Jobs done.").unwrap();
    let pusher_b = start("pod/b", registry_b);

    jobs_a.inc_by(5);
    latency_a.observe(0.125);
    latency_a.observe(2.0);
    jobs_b.inc_by(7);
    pusher_a.push_now();
    pusher_b.push_now();
    wait_for(
        &http,
        &expected(12.0, Some((1.0, 1.0, 2.0, 2.125))),
        "after push_now",
    );

    // The grouping key arrived whole, and the TTL header took effect.
    let json: serde_json::Value = serde_json::from_str(&http.get_ok("/api/v1/groups")).unwrap();
    let groups = json["data"].as_array().unwrap();
    let labels: Vec<&serde_json::Value> = groups.iter().map(|g| &g["labels"]).collect();
    assert_eq!(
        labels,
        [
            &serde_json::json!({"instance": "a", "job": "rustapp", "zone": "eu west"}),
            &serde_json::json!({"instance": "pod/b", "job": "rustapp", "zone": "eu west"}),
        ]
    );
    for g in groups {
        let left = g["ttl_left_seconds"].as_f64().unwrap();
        assert!(left > 60.0 && left <= 90.0, "TTL left {left}: {g}");
    }

    // Shutdown pushes the final state.
    jobs_a.inc_by(3);
    jobs_b.inc_by(4);
    let report = pusher_a.shutdown(Duration::from_secs(10));
    assert!(report.all_pushed(), "{report:?}");
    let report = pusher_b.shutdown(Duration::from_secs(10));
    assert!(report.all_pushed(), "{report:?}");
    let want = expected(19.0, Some((1.0, 1.0, 2.0, 2.125)));
    assert_samples_eq(
        &want,
        &with_prefix(&http.aggregated(), "rustapp_"),
        "after shutdown",
    );

    // A new pusher for `a` in the same process, with a fresh registry: the same start
    // time and a sequence above its predecessor's, so its pushes apply (they are not
    // taken for late retries), and its lower values are series resets, not a restart:
    // they add to what `a` had (decision 0003).
    let registry_a2 = Registry::new();
    let jobs_a2 = registry_a2.counter("rustapp_jobs", "Jobs done.").unwrap();
    let latency_a2 = registry_a2
        .histogram("rustapp_latency_seconds", "Latency.", &[0.25, 1.0])
        .unwrap();
    let pusher_a2 = start("a", registry_a2);
    jobs_a2.inc_by(2);
    latency_a2.observe(0.5);
    let report = pusher_a2.shutdown(Duration::from_secs(10));
    assert!(report.all_pushed(), "{report:?}");
    let want = expected(21.0, Some((1.0, 2.0, 3.0, 2.625)));
    assert_samples_eq(
        &want,
        &with_prefix(&http.aggregated(), "rustapp_"),
        "after a2",
    );
    let per_group = http.groups();
    let a = [("instance", "a"), ("job", "rustapp"), ("zone", "eu west")];
    assert_eq!(
        per_group[&series("rustapp_jobs_total", &a)],
        2.0,
        "the per-group view shows the last push"
    );
    let own = crate::samples::flatten(&crate::samples::parse_text(
        http.get_ok("/metrics").as_bytes(),
    ));
    let rejected = series("tally_gateway_pushes_total", &[("result", "rejected")]);
    assert_eq!(own.get(&rejected), None, "no push was refused");
}
