//! Debian's `amtool` (Alertmanager's own client) against tally's API on a real socket:
//! silences added, queried and expired; alerts queried.

use std::process::Command;

use tally_notify::Alert;
use tally_testkit::find_program;

use crate::support::{labels, serve, team_notifier};

fn amtool(url: &str, args: &[&str]) -> String {
    let out = Command::new(find_program("amtool"))
        .arg(format!("--alertmanager.url={url}"))
        .args(args)
        .output()
        .expect("running amtool");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "amtool {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn amtool_manages_silences_and_queries_alerts() {
    let n = team_notifier();
    let served = serve(&n);
    let mut a = Alert::firing(
        labels(&[("alertname", "Down"), ("job", "api")]),
        chrono::Utc::now(),
    );
    a.annotations = labels(&[("summary", "api is down")]);
    n.put(vec![
        a,
        Alert::firing(
            labels(&[("alertname", "Slow"), ("job", "db")]),
            chrono::Utc::now(),
        ),
    ])
    .expect("room for the alerts");

    let id = amtool(
        &served.url,
        &[
            "silence",
            "add",
            "job=api",
            "--author=ops",
            "--comment=deploy",
            "--duration=1h",
        ],
    );
    let id = id.trim();
    assert_eq!(id.len(), 36, "a UUID: {id:?}");
    assert_eq!(n.silence(id).map(|s| s.created_by), Some("ops".into()));

    let listed: serde_json::Value =
        serde_json::from_str(&amtool(&served.url, &["silence", "query", "-o", "json"]))
            .expect("JSON");
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["comment"], "deploy");

    let alerts = amtool(&served.url, &["alert", "query", "-o", "json"]);
    let alerts: serde_json::Value = serde_json::from_str(&alerts).expect("JSON");
    // amtool shows active alerts by default: the silenced one is left out.
    let names: Vec<_> = alerts
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| a["labels"]["alertname"].clone())
        .collect();
    crate::eqnice!(vec![serde_json::json!("Slow")], names);
    let all = amtool(
        &served.url,
        &[
            "alert",
            "query",
            "--silenced",
            "-o",
            "json",
            "alertname=Down",
        ],
    );
    let all: serde_json::Value = serde_json::from_str(&all).expect("JSON");
    assert_eq!(all[0]["status"]["silencedBy"][0], id);
    assert_eq!(all[0]["annotations"]["summary"], "api is down");

    amtool(&served.url, &["silence", "expire", id]);
    let shown = amtool(&served.url, &["config", "show"]);
    assert!(shown.contains("receiver: team"), "{shown}");
    assert!(n.alerts().iter().all(|a| a.silenced_by.is_empty()));
    n.shutdown().expect("shutdown");
}
