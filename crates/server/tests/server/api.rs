//! The HTTP API in-process: pushes, deletes, the two views, the tally headers, TTL expiry
//! on a manual clock, content negotiation and the health endpoints.

use tally_model::expfmt::Format;
use tally_server::ServerConfig;

use crate::harness::{Harness, START_MS};
use crate::samples::{self, assert_samples_eq, series, value, with_prefix, Samples};

fn expected(pairs: &[(String, f64)]) -> Samples {
    pairs.iter().cloned().collect()
}

const INSTANCE_A: &str = "\
# HELP jobs_total Jobs done.
# TYPE jobs_total counter
jobs_total{kind=\"x\"} 3
# TYPE queue_depth gauge
queue_depth 2
# TYPE latency_seconds histogram
latency_seconds_bucket{le=\"0.5\"} 1
latency_seconds_bucket{le=\"+Inf\"} 2
latency_seconds_sum 1.25
latency_seconds_count 2
";

const INSTANCE_B: &str = "\
# TYPE jobs_total counter
jobs_total{kind=\"x\"} 4
# TYPE queue_depth gauge
queue_depth 5
# TYPE latency_seconds histogram
latency_seconds_bucket{le=\"0.5\"} 2
latency_seconds_bucket{le=\"+Inf\"} 3
latency_seconds_sum 2.5
latency_seconds_count 3
";

#[tokio::test]
async fn push_read_delete_round_trip() {
    let h = Harness::with_defaults();
    h.put("job/api/instance/a", INSTANCE_A).await.expect(200);
    h.put("job/api/instance/b", INSTANCE_B).await.expect(200);
    let both = expected(&[
        (series("jobs_total", &[("job", "api"), ("kind", "x")]), 7.0),
        (series("queue_depth", &[("job", "api")]), 7.0),
        (
            series("latency_seconds_bucket", &[("job", "api"), ("le", "0.5")]),
            3.0,
        ),
        (
            series("latency_seconds_bucket", &[("job", "api"), ("le", "+Inf")]),
            5.0,
        ),
        (series("latency_seconds_sum", &[("job", "api")]), 3.75),
        (series("latency_seconds_count", &[("job", "api")]), 5.0),
    ]);
    assert_samples_eq(&both, &h.aggregated().await, "after two pushes");

    // The per-group view keeps each group's last push, grouping key labels set.
    let groups = h.groups().await;
    let a = [("instance", "a"), ("job", "api")];
    assert_eq!(
        value(&groups, &series("jobs_total", &[a[0], a[1], ("kind", "x")])),
        3.0
    );
    assert_eq!(value(&groups, &series("queue_depth", &a)), 2.0);

    // A retry of the same cumulative state changes nothing.
    h.put("job/api/instance/a", INSTANCE_A).await.expect(200);
    assert_samples_eq(&both, &h.aggregated().await, "after a retry");

    // A delete answers 202 like Pushgateway; a's counters retire, its gauge goes.
    h.delete("job/api/instance/a").await.expect(202);
    let mut after = both.clone();
    after.insert(series("queue_depth", &[("job", "api")]), 5.0);
    assert_samples_eq(&after, &h.aggregated().await, "after deleting a");
    assert!(
        with_prefix(&h.groups().await, "queue_depth{instance=\"a\"").is_empty(),
        "a's group is gone from the per-group view"
    );
    // Deleting a group that does not exist is not an error.
    h.delete("job/api/instance/nobody").await.expect(202);
    assert_samples_eq(&after, &h.aggregated().await, "after a no-op delete");
    let own = samples::flatten(&samples::parse_text(&h.get("/metrics").await.body));
    assert_eq!(value(&own, "tally_gateway_deletes_total"), 1.0);
    assert_eq!(
        value(
            &own,
            &series("tally_gateway_pushes_total", &[("result", "applied")])
        ),
        3.0
    );
}

#[tokio::test]
async fn put_replaces_the_group_post_only_the_pushed_families() {
    let h = Harness::with_defaults();
    let key = "job/j/instance/i";
    h.put(
        key,
        "# TYPE a_total counter\na_total 1\n# TYPE b_total counter\nb_total 2\n\
         # TYPE g gauge\ng 1\n",
    )
    .await
    .expect(200);
    h.post(key, "# TYPE b_total counter\nb_total 5\n")
        .await
        .expect(200);
    let group = [("instance", "i"), ("job", "j")];
    let in_group = |name: &str| series(name, &group);
    let groups = h.groups().await;
    assert_eq!(value(&groups, &in_group("a_total")), 1.0, "POST kept a");
    assert_eq!(value(&groups, &in_group("b_total")), 5.0, "POST replaced b");
    assert_eq!(value(&groups, &in_group("g")), 1.0, "POST kept g");

    h.put(key, "# TYPE a_total counter\na_total 2\n")
        .await
        .expect(200);
    let groups = h.groups().await;
    assert_eq!(value(&groups, &in_group("a_total")), 2.0);
    assert!(!groups.contains_key(&in_group("b_total")), "PUT dropped b");
    assert!(!groups.contains_key(&in_group("g")), "PUT dropped g");
    // b's total retired (it never goes down) but no group feeds it any more, so it left
    // the aggregated view (decision 0003); the gauge is gone.
    let want = expected(&[(series("a_total", &[("job", "j")]), 2.0)]);
    assert_samples_eq(&want, &h.aggregated().await, "after the PUT");
    // When a group feeds b again it comes back with the retired amount included.
    h.post(key, "# TYPE b_total counter\nb_total 1\n")
        .await
        .expect(200);
    assert_eq!(
        value(&h.aggregated().await, &series("b_total", &[("job", "j")])),
        6.0
    );
    // POST creates a group that does not exist yet.
    h.post("job/j/instance/new", "# TYPE a_total counter\na_total 10\n")
        .await
        .expect(200);
    assert_eq!(
        value(&h.aggregated().await, &series("a_total", &[("job", "j")])),
        12.0
    );
}

#[tokio::test]
async fn post_without_start_time_keeps_the_groups_start_time() {
    let h = Harness::with_defaults();
    let key = "job/pst/instance/i";
    let main = |start: u32, c: u32| {
        format!(
            "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {start}\n\
             # TYPE c_total counter\nc_total {c}\n"
        )
    };
    h.put(key, &main(1000, 5)).await.expect(200);
    // Another registry of the same process, without the start-time gauge.
    h.post(key, "# TYPE e_total counter\ne_total 3\n")
        .await
        .expect(200);
    // The process restarted and its counter is already past the old value: only the
    // start time, still in the group, shows it. 5 retires, 10 counts on top.
    h.post(key, &main(2000, 10)).await.expect(200);
    // The restarted process' other registry starts again low: no second restart.
    h.post(key, "# TYPE e_total counter\ne_total 1\n")
        .await
        .expect(200);
    h.post(key, &main(2000, 12)).await.expect(200);
    let agg = h.aggregated().await;
    assert_eq!(value(&agg, &series("c_total", &[("job", "pst")])), 17.0);
    assert_eq!(value(&agg, &series("e_total", &[("job", "pst")])), 4.0);
}

#[tokio::test]
async fn base64_grouping_values() {
    let h = Harness::with_defaults();
    let body = "# TYPE x_total counter\nx_total 1\n";
    // "pod/7" in URL-safe base64, without and with padding: the same group.
    h.put("job/b64/instance@base64/cG9kLzc", body)
        .await
        .expect(200);
    h.put("job/b64/instance@base64/cG9kLzc=", body)
        .await
        .expect(200);
    // A base64 job ("foo/bar"), and an empty value (`=`), which is an absent label.
    h.put("job@base64/Zm9vL2Jhcg/zone@base64/=", body)
        .await
        .expect(200);
    let groups = h.groups().await;
    assert_eq!(
        value(
            &groups,
            &series("x_total", &[("instance", "pod/7"), ("job", "b64")])
        ),
        1.0
    );
    assert_eq!(
        value(&groups, &series("x_total", &[("job", "foo/bar")])),
        1.0
    );
    assert_eq!(
        with_prefix(&groups, "x_total").len(),
        2,
        "padding or not, one group: {groups:#?}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&h.get("/api/v1/groups").await.expect(200).body).unwrap();
    let labels: Vec<&serde_json::Value> = json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| &g["labels"])
        .collect();
    assert_eq!(
        labels,
        [
            &serde_json::json!({"instance": "pod/7", "job": "b64"}),
            &serde_json::json!({"job": "foo/bar"}),
        ]
    );
    // Delete through the other spelling of the same key.
    h.delete("job/b64/instance@base64/cG9kLzc=")
        .await
        .expect(202);
    assert!(with_prefix(&h.groups().await, "x_total{instance").is_empty());
}

#[tokio::test]
async fn ttl_header_and_expiry_on_a_manual_clock() {
    let mut config = ServerConfig::default();
    config.gateway.default_ttl_ms = 600_000;
    let h = Harness::new(config);
    let body =
        |c: u32, g: u32| format!("# TYPE c_total counter\nc_total {c}\n# TYPE g gauge\ng {g}\n");
    h.request(
        "PUT",
        "/metrics/job/t/instance/short",
        &[("Tally-TTL", "90s")],
        body(4, 1),
    )
    .await
    .expect(200);
    h.put("job/t/instance/long", &body(6, 2)).await.expect(200);
    let ttl_left = |json: &serde_json::Value| -> Vec<f64> {
        json["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["ttl_left_seconds"].as_f64().unwrap())
            .collect()
    };
    let json: serde_json::Value =
        serde_json::from_slice(&h.get("/api/v1/groups").await.body).unwrap();
    assert_eq!(ttl_left(&json), [600.0, 90.0], "long, short: {json}");

    let c = series("c_total", &[("job", "t")]);
    let g = series("g", &[("job", "t")]);
    h.clock.advance_ms(89_999);
    assert_eq!(h.app.expire().await.unwrap(), 0, "not due yet");
    h.clock.advance_ms(1);
    assert_eq!(h.app.expire().await.unwrap(), 1, "short expires at 90 s");
    let agg = h.aggregated().await;
    assert_eq!(value(&agg, &c), 10.0, "the expired counter retired");
    assert_eq!(value(&agg, &g), 2.0, "the expired gauge vanished");

    h.clock.advance_ms(510_000);
    assert_eq!(h.app.expire().await.unwrap(), 1, "long expires at 600 s");
    assert!(
        h.aggregated().await.is_empty(),
        "no live group feeds c or g"
    );
    let own = samples::flatten(&samples::parse_text(&h.get("/metrics").await.body));
    assert_eq!(value(&own, "tally_gateway_expired_total"), 2.0);

    // A new push (no start time: a new process) counts on top of what retired.
    h.put("job/t/instance/long", &body(1, 7)).await.expect(200);
    let agg = h.aggregated().await;
    assert_eq!(value(&agg, &c), 11.0);
    assert_eq!(value(&agg, &g), 7.0);

    for bad in ["forever", "0s", "31d", "-5s", "10y", ""] {
        let before = h.aggregated().await;
        let answer = h
            .request(
                "PUT",
                "/metrics/job/t/instance/long",
                &[("Tally-TTL", bad)],
                body(100, 100),
            )
            .await;
        answer.expect(400);
        assert!(
            answer.text().contains("Tally-TTL"),
            "TTL {bad:?}: {}",
            answer.text()
        );
        assert_samples_eq(&before, &h.aggregated().await, &format!("TTL {bad:?}"));
    }
}

#[tokio::test]
async fn process_start_and_push_sequence_order_pushes() {
    let h = Harness::with_defaults();
    let key = "/metrics/job/seq/instance/i";
    let push = |start: &'static str, seq: &'static str, total: u32| {
        let h = &h;
        async move {
            h.request(
                "PUT",
                key,
                &[("Tally-Process-Start", start), ("Tally-Push-Sequence", seq)],
                format!("# TYPE c_total counter\nc_total {total}\n"),
            )
            .await
        }
    };
    let c = series("c_total", &[("job", "seq")]);
    let in_group = series("c_total", &[("instance", "i"), ("job", "seq")]);
    push("1000.5", "2", 10).await.expect(200);
    // A late retry of an older push: acknowledged, ignored; it is not a restart.
    push("1000.5", "1", 5).await.expect(200);
    assert_eq!(value(&h.aggregated().await, &c), 10.0);
    assert_eq!(value(&h.groups().await, &in_group), 10.0);
    push("1000.5", "2", 10).await.expect(200);
    push("1000.5", "3", 12).await.expect(200);
    assert_eq!(value(&h.aggregated().await, &c), 12.0);
    // A late push of a process that has since been replaced: ignored too.
    push("999", "50", 1).await.expect(200);
    assert_eq!(value(&h.aggregated().await, &c), 12.0);
    // A later start time is a restart: 12 retires, 3 counts on top.
    push("2000", "1", 3).await.expect(200);
    assert_eq!(value(&h.aggregated().await, &c), 15.0);
    assert_eq!(value(&h.groups().await, &in_group), 3.0);
    let own = samples::flatten(&samples::parse_text(&h.get("/metrics").await.body));
    assert_eq!(
        value(
            &own,
            &series("tally_gateway_pushes_total", &[("result", "stale")])
        ),
        3.0
    );

    for (header, bad) in [
        ("Tally-Process-Start", "yesterday"),
        ("Tally-Process-Start", "NaN"),
        ("Tally-Process-Start", "inf"),
        ("Tally-Push-Sequence", "-1"),
        ("Tally-Push-Sequence", "1.5"),
        ("Tally-Push-Sequence", "99999999999999999999999"),
    ] {
        let answer = h
            .request(
                "PUT",
                key,
                &[(header, bad)],
                "# TYPE c_total counter\nc_total 100\n".to_owned(),
            )
            .await;
        answer.expect(400);
        assert!(
            answer.text().contains(header),
            "{header}: {bad:?}: {}",
            answer.text()
        );
        assert_eq!(value(&h.aggregated().await, &c), 15.0);
    }
}

#[tokio::test]
async fn openmetrics_when_the_accept_header_asks() {
    let h = Harness::with_defaults();
    h.put("job/om/instance/a", INSTANCE_A).await.expect(200);
    // A push may itself be OpenMetrics.
    h.request(
        "PUT",
        "/metrics/job/om/instance/b",
        &[(
            "Content-Type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        "# TYPE jobs counter\njobs_total{kind=\"x\"} 4\n# EOF\n",
    )
    .await
    .expect(200);

    let text = h.get("/metrics").await.expect(200).text();
    let plain = h.get("/metrics").await;
    let content_type = plain.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain") && content_type.contains("version=0.0.4"),
        "{content_type}"
    );
    let om = h
        .request(
            "GET",
            "/metrics",
            &[("Accept", "application/openmetrics-text; version=1.0.0")],
            "",
        )
        .await;
    om.expect(200);
    let content_type = om.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(om.text().ends_with("# EOF\n"), "{}", om.text());
    let from_om: Samples = samples::flatten(&samples::parse(&om.body, Format::OpenMetrics))
        .into_iter()
        .filter(|(k, _)| !k.starts_with("tally_"))
        .collect();
    assert_samples_eq(
        &samples::pushed_samples(text.as_bytes()),
        &from_om,
        "OpenMetrics and text carry the same aggregated samples",
    );
    assert_eq!(
        value(
            &from_om,
            &series("jobs_total", &[("job", "om"), ("kind", "x")])
        ),
        7.0
    );
    let groups = h
        .request(
            "GET",
            "/metrics/groups",
            &[("Accept", "application/openmetrics-text; version=1.0.0")],
            "",
        )
        .await;
    assert!(groups.text().ends_with("# EOF\n"), "{}", groups.text());
}

#[tokio::test]
async fn per_group_view_has_push_and_failure_times() {
    let h = Harness::with_defaults();
    let body = "# TYPE x_total counter\nx_total 1\n";
    h.put("job/pt/instance/a", body).await.expect(200);
    h.clock.advance_ms(5_000);
    h.put("job/pt/instance/b", body).await.expect(200);
    h.clock.advance_ms(2_500);
    h.put("job/pt/instance/a", "x_total{").await.expect(400);
    let groups = h.groups().await;
    let start = START_MS as f64 / 1000.0;
    let at = |name: &str, instance: &str| {
        value(
            &groups,
            &series(name, &[("instance", instance), ("job", "pt")]),
        )
    };
    assert_eq!(at("push_time_seconds", "a"), start);
    assert_eq!(at("push_time_seconds", "b"), start + 5.0);
    assert_eq!(at("push_failure_time_seconds", "a"), start + 7.5);
    assert_eq!(at("push_failure_time_seconds", "b"), 0.0);
    assert_eq!(
        at("x_total", "a"),
        1.0,
        "the failed push changed nothing else"
    );
}

#[tokio::test]
async fn groups_as_json() {
    let h = Harness::with_defaults();
    h.put("job/js/instance/a", INSTANCE_A).await.expect(200);
    h.clock.advance_ms(1_000);
    let answer = h.get("/api/v1/groups").await;
    answer.expect(200);
    assert!(answer
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "status": "success",
            "data": [{
                "labels": {"instance": "a", "job": "js"},
                "last_push_seconds": START_MS as f64 / 1000.0,
                "last_failure_seconds": null,
                "ttl_left_seconds": 599.0,
                "series": 3,
                "families": ["jobs_total", "latency_seconds", "queue_depth"],
            }]
        })
    );
}

#[tokio::test]
async fn health_endpoints() {
    let h = Harness::with_defaults();
    for path in ["/-/healthy", "/-/ready"] {
        let answer = h.get(path).await;
        answer.expect(200);
        assert_eq!(answer.text(), "OK\n");
    }
    h.get("/no/such/page").await.expect(404);
}
