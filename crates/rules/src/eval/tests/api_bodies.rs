//! `/api/v1/rules` and `/api/v1/alerts` bodies.

use super::*;

#[test]
fn rules_and_alerts_api_bodies() {
    let f = Fixture::new();
    f.up([0], 0.0);
    let m = f.manager(false);
    let mut g = group(
        "g",
        vec![
            alerting("Down", "up==0", 5 * MIN, 0),
            recording("r", "up", &[]),
        ],
    );
    g.limit = 3;
    m.update(vec![file("r.yml", vec![g])]);
    let before = api::rules(&m, &api::RulesQuery::default()).to_json();
    assert!(before.contains("\"health\":\"unknown\""), "{before}");
    assert!(
        before.contains("\"lastEvaluation\":\"0001-01-01T00:00:00Z\""),
        "{before}"
    );
    f.clock.set(1_500);
    m.eval_all_at(0, &[]);
    let body = api::rules(&m, &api::RulesQuery::default()).to_json();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let g = &v["groups"][0];
    assert_eq!(g["name"], "g");
    assert_eq!(g["file"], "r.yml");
    assert_eq!(g["interval"], 60);
    assert_eq!(g["limit"], 3);
    assert_eq!(g["lastEvaluation"], "1970-01-01T00:00:01.5Z");
    let a = &g["rules"][0];
    assert_eq!(a["type"], "alerting");
    assert_eq!(a["state"], "pending");
    assert_eq!(a["query"], "up == 0");
    assert_eq!(a["duration"], 300);
    assert_eq!(a["keepFiringFor"], 0);
    assert_eq!(a["labels"]["severity"], "page");
    assert_eq!(a["health"], "ok");
    assert!(a.get("lastError").is_none());
    let alert = &a["alerts"][0];
    assert_eq!(alert["value"], "0e+00");
    assert_eq!(alert["activeAt"], "1970-01-01T00:00:00Z");
    assert_eq!(alert["state"], "pending");
    assert_eq!(alert["labels"]["alertname"], "Down");
    assert_eq!(g["rules"][1]["type"], "recording");
    assert!(g["rules"][1].get("labels").is_none());
    // Field order as Prometheus writes it.
    assert!(
        body.contains("\"rules\":[{\"state\":\"pending\",\"name\":\"Down\",\"query\":"),
        "{body}"
    );

    let q = |pairs: &[(&str, &str)]| {
        let q = api::RulesQuery::from_params(pairs.iter().copied()).unwrap();
        serde_json::to_value(api::rules(&m, &q)).unwrap()
    };
    assert_eq!(
        q(&[("type", "record")])["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        q(&[("rule_name[]", "nope")])["groups"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        q(&[("rule_group[]", "g"), ("file[]", "r.yml")])["groups"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(q(&[("exclude_alerts", "true")])["groups"][0]["rules"][0]
        .get("alerts")
        .is_none());

    let alerts = api::alerts(&m).to_json();
    assert_eq!(
        alerts,
        "{\"alerts\":[{\"labels\":{\"alertname\":\"Down\",\"job\":\"a\",\"severity\":\"page\"},\
         \"annotations\":{\"summary\":\"down\"},\"state\":\"pending\",\
         \"activeAt\":\"1970-01-01T00:00:00Z\",\"value\":\"0e+00\"}]}"
    );
}
