//! The history of the aggregated view (DESIGN.md §5, issue 5 item 3), in-process on the
//! harness's manual clock: groups are pushed, [`App::sample_history`] writes rounds at
//! chosen times, and the TSDB is read back through the `tally-storage` traits.

use std::collections::BTreeMap;

use tally_model::Labels;
use tally_server::{App, Clock as _, ServerConfig};
use tally_storage::{MatchOp, Matcher, SelectHints, Storage as _};

use crate::harness::{Harness, START_MS};

/// Every stored series whose name matches `name` (a regex), as its label set → its
/// samples, each written `<seconds after START_MS>:<value>` or `<seconds>:stale`.
fn stored(app: &App, name: &str) -> BTreeMap<String, Vec<String>> {
    let q = app
        .tsdb
        .querier(START_MS - 3_600_000, START_MS + 3_600_000)
        .unwrap();
    let m = Matcher::new(MatchOp::Regex, "__name__", name).unwrap();
    q.select(&[m], &SelectHints::default())
        .unwrap()
        .into_iter()
        .map(|s| {
            let samples = s
                .samples
                .iter()
                .map(|x| {
                    let t = (x.timestamp_ms - START_MS) / 1000;
                    if x.is_stale() {
                        format!("{t}:stale")
                    } else {
                        format!("{t}:{}", x.value)
                    }
                })
                .collect();
            (s.labels.to_string(), samples)
        })
        .collect()
}

/// The key [`stored`] uses for a label set.
fn key(pairs: &[(&str, &str)]) -> String {
    Labels::from_pairs(pairs.iter().copied())
        .unwrap()
        .to_string()
}

/// Writes one history round at the clock's current time; returns what it appended.
fn round(h: &Harness) -> u64 {
    h.app.sample_history().expect("a history round").appended
}

/// Moves the clock to `seconds` after [`START_MS`].
fn at(h: &Harness, seconds: i64) {
    let now = h.clock.now_ms();
    let target = START_MS + seconds * 1000;
    assert!(target >= now, "the clock only moves forward");
    h.clock.advance_ms(target - now);
}

#[tokio::test]
async fn aggregated_view_is_stored_every_round_with_staleness_markers() {
    let h = Harness::with_defaults();
    // Three instances of one job. `b` alone feeds b_jobs_total and b_temp; `c` (TTL 30 s)
    // alone feeds c_only.
    h.put(
        "job/svc/instance/a",
        "# TYPE req_total counter\nreq_total 10\n# TYPE queue_depth gauge\nqueue_depth 3\n",
    )
    .await
    .expect(200);
    h.put(
        "job/svc/instance/b",
        "# TYPE req_total counter\nreq_total 5\n# TYPE queue_depth gauge\nqueue_depth 4\n\
         # TYPE b_jobs_total counter\nb_jobs_total 7\n# TYPE b_temp gauge\nb_temp 21\n",
    )
    .await
    .expect(200);
    h.request(
        "PUT",
        "/metrics/job/svc/instance/c",
        &[("Tally-TTL", "30s")],
        "# TYPE req_total counter\nreq_total 1\n# TYPE queue_depth gauge\nqueue_depth 2\n\
         # TYPE c_only gauge\nc_only 5\n",
    )
    .await
    .expect(200);
    round(&h);

    at(&h, 15);
    h.put(
        "job/svc/instance/a",
        "# TYPE req_total counter\nreq_total 12\n# TYPE queue_depth gauge\nqueue_depth 1\n",
    )
    .await
    .expect(200);
    round(&h);

    at(&h, 20);
    h.delete("job/svc/instance/b").await.expect(202);
    at(&h, 30);
    round(&h);

    at(&h, 45);
    assert_eq!(h.app.expire().await.unwrap(), 1, "c expires");
    round(&h);

    at(&h, 60);
    // Nothing changed: every live series again, no marker repeated.
    let appended = round(&h);

    at(&h, 70);
    // b comes back (a new process): its counter counts on top of what it retired.
    h.put(
        "job/svc/instance/b",
        "# TYPE b_jobs_total counter\nb_jobs_total 2\n",
    )
    .await
    .expect(200);
    at(&h, 75);
    round(&h);

    let svc = |name: &str| key(&[("__name__", name), ("job", "svc")]);
    let want: BTreeMap<String, Vec<&str>> = [
        // 10 + 5 + 1; a moves to 12; b's 5 and c's 1 retire and stay in the total.
        (
            svc("req_total"),
            vec!["0:16", "15:18", "30:18", "45:18", "60:18", "75:18"],
        ),
        // Gauges sum over the live groups only.
        (
            svc("queue_depth"),
            vec!["0:9", "15:7", "30:3", "45:1", "60:1", "75:1"],
        ),
        // No live group feeds it after b's delete: stale at the next round; back with 7
        // retired + 2 when b returns.
        (svc("b_jobs_total"), vec!["0:7", "15:7", "30:stale", "75:9"]),
        (svc("b_temp"), vec!["0:21", "15:21", "30:stale"]),
        (svc("c_only"), vec!["0:5", "15:5", "30:5", "45:stale"]),
    ]
    .into_iter()
    .collect();
    let got = stored(&h.app, "req_total|queue_depth|b_.*|c_only");
    let got: BTreeMap<String, Vec<&str>> = got
        .iter()
        .map(|(k, v)| (k.clone(), v.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(got, want);

    // Round 60 wrote the two live pushed series and tally's own metrics, no marker.
    let own = stored(&h.app, "tally_.*");
    assert!(
        own.keys().any(|k| k.contains("tally_gateway_")),
        "tally's own metrics are stored too: {:?}",
        own.keys().collect::<Vec<_>>()
    );
    // The gateway's gauges are current in every round, though nothing asked for
    // `/metrics` (they used to be set only there), and the rule and notifier metrics
    // are stored as well.
    assert_eq!(
        own.get(&key(&[("__name__", "tally_gateway_groups")])),
        Some(
            &["0:3", "15:3", "30:2", "45:1", "60:1", "75:2"]
                .map(String::from)
                .to_vec()
        )
    );
    assert!(
        own.contains_key(&key(&[(
            "__name__",
            "tally_rules_config_last_reload_successful"
        )])),
        "{:?}",
        own.keys().collect::<Vec<_>>()
    );
    let own_at_60 = own
        .values()
        .filter(|s| s.iter().any(|x| x.starts_with("60:")))
        .count() as u64;
    assert_eq!(appended, 2 + own_at_60);
    // Per-group series are off by default.
    let q = h.app.tsdb.querier(START_MS, START_MS + 3_600_000).unwrap();
    assert_eq!(
        q.label_values("tally_view", &[]).unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn store_group_series_adds_the_per_group_view() {
    let mut config = ServerConfig::default();
    config.storage.store_group_series = true;
    let h = Harness::new(config);
    for (instance, n) in [("a", 1), ("b", 2)] {
        h.put(
            &format!("job/svc/instance/{instance}"),
            &format!(
                "# TYPE req_total counter\nreq_total {}\n# TYPE queue_depth gauge\nqueue_depth {n}\n",
                10 * n
            ),
        )
        .await
        .expect(200);
    }
    round(&h);
    at(&h, 15);
    h.delete("job/svc/instance/b").await.expect(202);
    round(&h);

    let group = |name: &str, instance: &str| {
        key(&[
            ("__name__", name),
            ("instance", instance),
            ("job", "svc"),
            ("tally_view", "group"),
        ])
    };
    let svc = |name: &str| key(&[("__name__", name), ("job", "svc")]);
    let want: BTreeMap<String, Vec<String>> = [
        (svc("req_total"), vec!["0:30", "15:30"]),
        (svc("queue_depth"), vec!["0:3", "15:1"]),
        (group("req_total", "a"), vec!["0:10", "15:10"]),
        (group("queue_depth", "a"), vec!["0:1", "15:1"]),
        // The deleted group's own series all end with a marker, counters included (the
        // per-group view shows the last push, as Pushgateway would).
        (group("req_total", "b"), vec!["0:20", "15:stale"]),
        (group("queue_depth", "b"), vec!["0:2", "15:stale"]),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(stored(&h.app, "req_total|queue_depth"), want);

    // The per-group view's push_time_seconds is stored per group too, never aggregated
    // with the plain series.
    let push_times = stored(&h.app, "push_time_seconds");
    let a = group("push_time_seconds", "a");
    assert_eq!(
        push_times.keys().collect::<Vec<_>>(),
        [&a, &group("push_time_seconds", "b")],
        "{push_times:?}"
    );
    assert_eq!(push_times[&a].len(), 2, "{push_times:?}");
}
