//! The Alertmanager v2 API, in-process (`Router::oneshot`): silences created, listed,
//! fetched and expired; alerts posted and listed with their status, also by
//! aggregation group; bad input answered 400 with the field named.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tally_notify::clock::ManualClock;
use tally_notify::{router, Config, Notifier, NotifierOptions};
use tower::ServiceExt;

use crate::support::t0;

fn notifier(clock: &ManualClock) -> Notifier {
    let config = Config::parse(
        r#"
route: { receiver: team, group_by: [alertname] }
receivers: [{ name: team }]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [instance]
"#,
    )
    .expect("config");
    Notifier::new(
        config,
        NotifierOptions {
            clock: Arc::new(clock.clone()),
            workers: 1,
            ..NotifierOptions::default()
        },
    )
    .expect("notifier")
}

async fn call(n: &Notifier, method: &str, uri: &str, body: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request");
    let response = router(n.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

const SILENCE: &str = r#"{"matchers":[{"name":"job","value":"api","isRegex":false,"isEqual":true}],
  "startsAt":"2026-03-01T12:00:00Z","endsAt":"2026-03-01T14:00:00Z","createdBy":"ops","comment":"deploy"}"#;

#[tokio::test]
async fn silences_are_created_listed_fetched_and_expired() {
    let clock = ManualClock::new(t0());
    let n = notifier(&clock);
    let (status, body) = call(&n, "POST", "/api/v2/silences", SILENCE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = json(&body)["silenceID"]
        .as_str()
        .expect("silenceID")
        .to_owned();

    let (status, body) = call(&n, "GET", "/api/v2/silences", "").await;
    assert_eq!(status, StatusCode::OK);
    let list = json(&body);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["status"]["state"], "active");
    assert_eq!(list[0]["createdBy"], "ops");
    assert_eq!(
        list[0]["matchers"][0],
        serde_json::json!({"name":"job","value":"api","isRegex":false,"isEqual":true})
    );
    assert_eq!(list[0]["startsAt"], "2026-03-01T12:00:00Z");

    let (status, body) = call(&n, "GET", &format!("/api/v2/silence/{id}"), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["comment"], "deploy");

    clock.advance(chrono::Duration::minutes(1));
    let (status, _) = call(&n, "DELETE", &format!("/api/v2/silence/{id}"), "").await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = call(&n, "GET", &format!("/api/v2/silence/{id}"), "").await;
    assert_eq!(json(&body)["status"]["state"], "expired");
    assert_eq!(json(&body)["endsAt"], "2026-03-01T12:01:00Z");

    let (status, body) = call(&n, "DELETE", "/api/v2/silence/nope", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = call(&n, "GET", "/api/v2/silence/nope", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    n.shutdown().expect("shutdown");
}

#[tokio::test]
async fn posted_alerts_are_listed_with_silences_and_inhibitions() {
    let clock = ManualClock::new(t0());
    let n = notifier(&clock);
    let alerts = r#"[
      {"labels":{"alertname":"Down","job":"api","severity":"critical","instance":"a"},
       "annotations":{"summary":"api down"},"startsAt":"2026-03-01T11:50:00Z",
       "endsAt":"2026-03-01T12:04:00Z","generatorURL":"http://prom/graph"},
      {"labels":{"alertname":"Slow","job":"web","severity":"warning","instance":"a"}},
      {"labels":{"alertname":"Slow","job":"db","severity":"warning","instance":"b"}}
    ]"#;
    let (status, body) = call(&n, "POST", "/api/v2/alerts", alerts).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(&n, "POST", "/api/v2/silences", SILENCE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let silence_id = json(&body)["silenceID"].as_str().unwrap_or("").to_owned();

    let (status, body) = call(&n, "GET", "/api/v2/alerts", "").await;
    assert_eq!(status, StatusCode::OK);
    let list = json(&body);
    let by_job = |job: &str| {
        list.as_array()
            .into_iter()
            .flatten()
            .find(|a| a["labels"]["job"] == job)
            .cloned()
            .unwrap_or_else(|| panic!("{job} missing from {list}"))
    };
    let api = by_job("api");
    assert_eq!(api["status"]["state"], "suppressed");
    assert_eq!(api["status"]["silencedBy"], serde_json::json!([silence_id]));
    assert_eq!(api["startsAt"], "2026-03-01T11:50:00Z");
    assert_eq!(api["endsAt"], "2026-03-01T12:04:00Z");
    assert_eq!(api["generatorURL"], "http://prom/graph");
    assert_eq!(api["receivers"], serde_json::json!([{"name": "team"}]));
    let web = by_job("web");
    assert_eq!(web["status"]["state"], "suppressed");
    assert_eq!(
        web["status"]["inhibitedBy"].as_array().map(Vec::len),
        Some(1)
    );
    // No start: now; no end: now + resolve_timeout.
    assert_eq!(web["startsAt"], "2026-03-01T12:00:00Z");
    assert_eq!(web["endsAt"], "2026-03-01T12:05:00Z");
    assert_eq!(by_job("db")["status"]["state"], "active");

    let (_, body) = call(&n, "GET", "/api/v2/alerts?filter=job%3D%22db%22", "").await;
    assert_eq!(json(&body).as_array().map(Vec::len), Some(1));
    let (_, body) = call(
        &n,
        "GET",
        "/api/v2/alerts?silenced=false&inhibited=false",
        "",
    )
    .await;
    assert_eq!(json(&body).as_array().map(Vec::len), Some(1));
    n.shutdown().expect("shutdown");
}

#[tokio::test]
async fn alert_groups_list_each_group_with_its_alerts() {
    let clock = ManualClock::new(t0());
    let n = notifier(&clock);
    let alerts = r#"[
      {"labels":{"alertname":"Down","job":"api","severity":"critical","instance":"a"}},
      {"labels":{"alertname":"Slow","job":"web","severity":"warning","instance":"a"}},
      {"labels":{"alertname":"Slow","job":"db","severity":"warning","instance":"b"}}
    ]"#;
    let (status, body) = call(&n, "POST", "/api/v2/alerts", alerts).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = call(&n, "GET", "/api/v2/alerts/groups", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let groups = json(&body);
    let mut seen: Vec<(String, usize)> = groups
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            assert_eq!(g["receiver"]["name"], "team", "{g}");
            (
                g["labels"]["alertname"].as_str().unwrap_or("?").to_owned(),
                g["alerts"].as_array().map_or(0, Vec::len),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [("Down".to_owned(), 1), ("Slow".to_owned(), 2)],
        "{groups}"
    );

    // The alert filters apply inside groups; a group left empty is omitted. The web
    // alert is inhibited by the critical one on the same instance.
    let (_, body) = call(
        &n,
        "GET",
        "/api/v2/alerts/groups?inhibited=false&filter=alertname%3D%22Slow%22",
        "",
    )
    .await;
    let groups = json(&body);
    assert_eq!(groups.as_array().map(Vec::len), Some(1), "{groups}");
    assert_eq!(groups[0]["alerts"][0]["labels"]["job"], "db", "{groups}");
    let (_, body) = call(&n, "GET", "/api/v2/alerts/groups?receiver=nobody", "").await;
    assert_eq!(json(&body), serde_json::json!([]));
    let (status, _) = call(&n, "GET", "/api/v2/alerts/groups?active=maybe", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    n.shutdown().expect("shutdown");
}

/// Drops what differs between two servers by when they received the alerts.
fn without_times(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for key in ["startsAt", "endsAt", "updatedAt"] {
                map.remove(key);
            }
            map.values_mut().for_each(without_times);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(without_times),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_groups_answer_as_a_real_alertmanager_does() {
    let am = tally_testkit::alertmanager();
    let clock = ManualClock::new(t0());
    // The same routing as the peer's configuration: one receiver, no group_by.
    let n = Notifier::new(
        Config::parse("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n")
            .expect("config"),
        NotifierOptions {
            clock: Arc::new(clock.clone()),
            workers: 1,
            ..NotifierOptions::default()
        },
    )
    .expect("notifier");
    let alerts = r#"[
      {"labels":{"alertname":"Down","job":"api"},"annotations":{"summary":"api down"},
       "generatorURL":"http://prom/graph"},
      {"labels":{"alertname":"Slow","job":"web"}}
    ]"#;
    let (status, body) = call(&n, "POST", "/api/v2/alerts", alerts).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, ours) = call(&n, "GET", "/api/v2/alerts/groups", "").await;

    let base = am.url("");
    let theirs = tokio::task::spawn_blocking(move || {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        let answer = agent
            .post(format!("{base}/api/v2/alerts"))
            .header("content-type", "application/json")
            .send(alerts)
            .expect("posting to Alertmanager");
        assert_eq!(answer.status(), 200);
        agent
            .get(format!("{base}/api/v2/alerts/groups"))
            .call()
            .expect("GET groups")
            .body_mut()
            .read_to_string()
            .expect("reading groups")
    })
    .await
    .expect("the blocking task");

    let (mut ours, mut theirs) = (json(&ours), json(&theirs));
    without_times(&mut ours);
    without_times(&mut theirs);
    assert_eq!(ours, theirs, "tally: {ours}\nAlertmanager: {theirs}");
    n.shutdown().expect("shutdown");
}

#[tokio::test]
async fn limits_are_422_and_refuse_the_whole_batch() {
    let clock = ManualClock::new(t0());
    let config =
        Config::parse("route: { receiver: a }\nreceivers: [{ name: a }]\n").expect("config");
    let n = Notifier::new(
        config,
        NotifierOptions {
            clock: Arc::new(clock.clone()),
            workers: 1,
            max_alerts: 2,
            ..NotifierOptions::default()
        },
    )
    .expect("notifier");
    let batch = |names: &[&str]| {
        let items: Vec<String> = names
            .iter()
            .map(|x| format!(r#"{{"labels":{{"alertname":"{x}"}}}}"#))
            .collect();
        format!("[{}]", items.join(","))
    };
    assert_eq!(
        call(&n, "POST", "/api/v2/alerts", &batch(&["A", "B"]))
            .await
            .0,
        StatusCode::OK
    );
    // Updates of held alerts always fit; a batch with one new alert too many is refused whole.
    assert_eq!(
        call(&n, "POST", "/api/v2/alerts", &batch(&["A", "B", "A"]))
            .await
            .0,
        StatusCode::OK
    );
    let (status, text) = call(&n, "POST", "/api/v2/alerts", &batch(&["A", "C"])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains("limit 2"), "{text}");
    assert_eq!(n.alerts().len(), 2);
    n.shutdown().expect("shutdown");
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    let clock = ManualClock::new(t0());
    let n = notifier(&clock);
    let cases: &[(&str, &str, &str, &str)] = &[
        ("POST", "/api/v2/alerts", "not json", "invalid JSON"),
        (
            "POST",
            "/api/v2/alerts",
            r#"[{"labels":{}}]"#,
            "alerts[0].labels",
        ),
        (
            "POST",
            "/api/v2/alerts",
            r#"[{"labels":{"a":"b"}},{"labels":{"a":""}}]"#,
            "alerts[1].labels",
        ),
        (
            "POST",
            "/api/v2/alerts",
            r#"[{"labels":{"a":"b"},"startsAt":"yesterday"}]"#,
            "invalid JSON",
        ),
        (
            "POST",
            "/api/v2/alerts",
            r#"[{"labels":{"a":"b"},"startsAt":"2026-03-01T12:00:00Z","endsAt":"2026-03-01T11:00:00Z"}]"#,
            "alerts[0].endsAt",
        ),
        (
            "POST",
            "/api/v2/silences",
            r#"{"matchers":[]}"#,
            "missing field",
        ),
        (
            "POST",
            "/api/v2/silences",
            r#"{"matchers":[{"name":"job","value":"(","isRegex":true}],"startsAt":"2026-03-01T12:00:00Z","endsAt":"2026-03-01T13:00:00Z","createdBy":"a","comment":"b"}"#,
            "matchers[0]",
        ),
        (
            "POST",
            "/api/v2/silences",
            r#"{"matchers":[{"name":"job","value":"x","isRegex":false}],"startsAt":"2026-03-01T12:00:00Z","endsAt":"2026-03-01T11:00:00Z","createdBy":"a","comment":"b"}"#,
            "endsAt",
        ),
        (
            "POST",
            "/api/v2/silences",
            r#"{"matchers":[{"name":"job","value":".*","isRegex":true}],"startsAt":"2026-03-01T12:00:00Z","endsAt":"2026-03-01T13:00:00Z","createdBy":"a","comment":"b"}"#,
            "matchers",
        ),
        (
            "POST",
            "/api/v2/silences",
            r#"{"matchers":[{"name":"job","value":"x","isRegex":false}],"startsAt":"2026-03-01T12:00:00Z","endsAt":"2026-03-01T13:00:00Z","createdBy":"","comment":"b"}"#,
            "createdBy",
        ),
        ("GET", "/api/v2/alerts?filter=nonsense", "", "filter"),
        ("GET", "/api/v2/alerts?active=maybe", "", "active"),
        ("GET", "/api/v2/alerts?receiver=(", "", "receiver"),
    ];
    for (method, uri, body, field) in cases {
        let (status, text) = call(&n, method, uri, body).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{method} {uri} {body}: {text}"
        );
        assert!(
            text.contains(field),
            "{method} {uri} {body}: {text:?} should name {field}"
        );
    }
    n.shutdown().expect("shutdown");
}
