//! `GET /api/v2/status` and `GET /api/v2/receivers`: what `amtool config show` and
//! `amtool cluster show` read. tally runs no Alertmanager cluster, so the cluster is
//! `disabled` with no peers.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::payload::go_time;
use crate::Notifier;

/// `GET /api/v2/status`.
pub(crate) async fn status(State(n): State<Notifier>) -> Json<Value> {
    let version = env!("CARGO_PKG_VERSION");
    Json(json!({
        "cluster": { "status": "disabled", "peers": [] },
        "config": { "original": redact(&n.config().source) },
        "uptime": go_time(Some(n.started_at())),
        "versionInfo": {
            "branch": "",
            "buildDate": "",
            "buildUser": "",
            "goVersion": "",
            "revision": "",
            "version": format!("tally-{version}"),
        },
    }))
}

/// The configuration text with every secret's value replaced by `<secret>`, as
/// Alertmanager shows secrets: passwords, credentials, bearer tokens and Slack URLs, in
/// block (`key: value`) and flow (`{key: value}`) style alike.
pub(crate) fn redact(source: &str) -> String {
    static SECRET: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"(\b(?:password|auth_password|smtp_auth_password|credentials|bearer_token|api_url|slack_api_url)\s*:[ \t]*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,}\]#]+)"#,
        )
        .ok()
    });
    match SECRET.as_ref() {
        Some(re) => re.replace_all(source, "${1}<secret>").into_owned(),
        // The pattern is a constant; were it ever invalid, show nothing rather than secrets.
        None => String::new(),
    }
}

/// `GET /api/v2/receivers`: the receivers' names.
pub(crate) async fn receivers(State(n): State<Notifier>) -> Json<Value> {
    let names: Vec<Value> = n
        .config()
        .raw
        .receivers
        .iter()
        .map(|r| json!({ "name": r.name }))
        .collect();
    Json(Value::Array(names))
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn secrets_are_redacted_in_block_and_flow_style() {
        let source = "global:\n  smtp_auth_password: 'p@ss'\n  slack_api_url: https://hooks/x\n\
                      receivers: [{name: a, webhook_configs: [{url: http://x/, http_config: \
                      {basic_auth: {username: u, password: \"s\\\"x\"}}}]}]\n";
        let out = redact(source);
        assert!(
            !out.contains("p@ss") && !out.contains("hooks/x") && !out.contains("s\\\"x"),
            "{out}"
        );
        assert!(out.contains("smtp_auth_password: <secret>"), "{out}");
        assert!(out.contains("password: <secret>}"), "{out}");
        assert!(out.contains("username: u"), "{out}");
    }
}
