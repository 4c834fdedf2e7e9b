//! The Prometheus query API over the stored history, in-process: answers in Prometheus'
//! JSON shape (string values, float-second timestamps), GET and form POST, and
//! Prometheus' error shape and status codes for bad input.

use serde_json::{json, Value};

use crate::harness::{Harness, START_MS};

fn body(a: &crate::harness::Answer) -> Value {
    serde_json::from_slice(&a.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", a.text()))
}

async fn filled() -> Harness {
    let h = Harness::with_defaults();
    for (instance, n) in [("a", 3), ("b", 4)] {
        let text = format!("# TYPE jobs_total counter\njobs_total{{queue=\"q1\"}} {n}\n");
        h.put(&format!("job/batch/instance/{instance}"), &text)
            .await
            .expect(200);
    }
    h.app.sample_history().unwrap(); // at START_MS: 7
    h.clock.advance_ms(15_000);
    let text = "# TYPE jobs_total counter\njobs_total{queue=\"q1\"} 10\n";
    h.put("job/batch/instance/a", text).await.expect(200);
    h.app.sample_history().unwrap(); // at +15 s: 14
    h
}

#[tokio::test]
async fn instant_and_range_queries_answer_as_prometheus() {
    let h = filled().await;
    let t = (START_MS + 15_000) / 1000; // whole seconds: written as integers
    let a = h
        .get(&format!(
            "/api/v1/query?query=sum%20by%20(queue)%20(jobs_total)&time={t}"
        ))
        .await;
    a.expect(200);
    assert_eq!(
        body(&a),
        json!({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"queue": "q1"}, "value": [t, "14"]}
        ]}})
    );
    // Form POST, RFC 3339 time, a scalar result.
    let a = h
        .request(
            "POST",
            "/api/v1/query",
            &[("content-type", "application/x-www-form-urlencoded")],
            "query=scalar(jobs_total)%20*%202&time=2026-01-01T00:00:15Z".to_owned(),
        )
        .await;
    a.expect(200);
    assert_eq!(
        body(&a)["data"],
        json!({"resultType": "scalar", "result": [t, "28"]})
    );
    let start = START_MS / 1000;
    let a = h
        .get(&format!(
            "/api/v1/query_range?query=jobs_total&start={start}&end={t}&step=15s"
        ))
        .await;
    a.expect(200);
    assert_eq!(
        body(&a)["data"]["result"],
        json!([{"metric": {"__name__": "jobs_total", "job": "batch", "queue": "q1"},
                "values": [[start, "7"], [t, "14"]]}])
    );
}

#[tokio::test]
async fn series_labels_values_metadata_buildinfo() {
    let h = filled().await;
    let a = h.get("/api/v1/series?match[]=jobs_total").await;
    a.expect(200);
    assert_eq!(
        body(&a)["data"],
        json!([{"__name__": "jobs_total", "job": "batch", "queue": "q1"}])
    );
    let a = h.get("/api/v1/labels?match[]=jobs_total").await;
    assert_eq!(body(&a)["data"], json!(["__name__", "job", "queue"]));
    let a = h.get("/api/v1/label/queue/values").await;
    assert_eq!(body(&a)["data"], json!(["q1"]));
    let a = h.get("/api/v1/metadata?metric=jobs_total").await;
    assert_eq!(body(&a)["data"]["jobs_total"][0]["type"], json!("counter"));
    let a = h.get("/api/v1/status/buildinfo").await;
    assert_eq!(body(&a)["status"], json!("success"));
    assert!(body(&a)["data"]["version"].is_string());
    let a = h.get("/api/v1/query_exemplars?query=jobs_total").await;
    assert_eq!(body(&a)["data"], json!([]));
}

#[tokio::test]
async fn bad_input_gets_prometheus_errors() {
    let h = filled().await;
    for (uri, needle) in [
        ("/api/v1/query", "query must not be empty"),
        ("/api/v1/query?query=sum(", ""),
        ("/api/v1/query?query=up&time=yesterday", "\"time\""),
        (
            "/api/v1/query_range?query=up&start=1&end=0&step=1",
            "end timestamp",
        ),
        ("/api/v1/query_range?query=up&start=0&end=1&step=0", "step"),
        (
            "/api/v1/query_range?query=up&start=0&end=100000&step=1",
            "11,000",
        ),
        ("/api/v1/query_range?query=up&start=0&end=1", "\"step\""),
        ("/api/v1/series", "match[]"),
        (
            "/api/v1/series?match[]=rate(x[5m])",
            "not a series selector",
        ),
        ("/api/v1/query?query=up&timeout=soon", "\"timeout\""),
        (
            "/api/v1/query?query=up&time=1e300",
            "time 9223372036854775s is out of range",
        ),
        (
            "/api/v1/query?query=up%20@%20-1e308",
            "out of bounds for @ modifier",
        ),
        ("/api/v1/query?query=up[1e30800]", "could not be parsed"),
    ] {
        let a = h.get(uri).await;
        assert_eq!(a.status, 400, "{uri}: {}", a.text());
        let b = body(&a);
        assert_eq!(b["status"], json!("error"), "{uri}");
        assert_eq!(b["errorType"], json!("bad_data"), "{uri}");
        let message = b["error"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{uri}: {message}");
    }
    // A failure of evaluation is `execution`, 422: two series on the right side match
    // the same (empty) `on()` group.
    let q = "jobs_total + on() (jobs_total or label_replace(jobs_total, \"queue\", \"q2\", \"\", \"\"))";
    let uri = format!(
        "/api/v1/query?query={}",
        q.replace(' ', "%20")
            .replace('+', "%2B")
            .replace('"', "%22")
    );
    let a = h.get(&uri).await;
    assert_eq!(a.status, 422, "{}", a.text());
    assert_eq!(body(&a)["errorType"], json!("execution"));
    assert!(
        body(&a)["error"]
            .as_str()
            .unwrap_or_default()
            .contains("duplicate series"),
        "{}",
        a.text()
    );
}

#[tokio::test]
async fn the_servers_sample_limit_fails_a_query_as_prometheus_does() {
    let mut config = tally_server::ServerConfig::default();
    config.query.max_samples = 1;
    let h = Harness::new(config);
    for instance in ["a", "b"] {
        let text = "# TYPE jobs_total counter\njobs_total 1\n";
        h.put(&format!("job/batch/instance/{instance}/x/{instance}"), text)
            .await
            .expect(200);
    }
    h.app.sample_history().unwrap();
    let t = START_MS / 1000;
    let a = h
        .get(&format!("/api/v1/query?query=jobs_total&time={t}"))
        .await;
    assert_eq!(a.status, 422, "{}", a.text());
    assert_eq!(body(&a)["errorType"], json!("execution"));
    assert!(
        body(&a)["error"]
            .as_str()
            .unwrap_or_default()
            .contains("query processing would load too many samples into memory"),
        "{}",
        a.text()
    );
}
