//! Configuration files: Alertmanager's field names accepted, mistakes refused with the
//! field (and line, for YAML mistakes) named.

use tally_notify::config::ConfigError;
use tally_notify::Config;

fn error(yaml: &str) -> String {
    match Config::parse(yaml) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_full_alertmanager_file_is_accepted() {
    let config = Config::parse(
        r#"
global:
  resolve_timeout: 2m
  smtp_from: alerts@example.org
  smtp_smarthost: mail.example.org:587
  smtp_auth_username: alerts
  smtp_auth_password: secret
  smtp_require_tls: true
  slack_api_url: https://hooks.slack.example/services/T/B/X
  http_config:
    authorization: { credentials: token }
route:
  receiver: default
  group_by: ['alertname', 'cluster']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['severity="critical"', 'team=~"db|storage"']
      receiver: pager
      continue: true
    - match: { team: frontend }
      match_re: { service: "web.*" }
      receiver: frontend
      group_by: ['...']
receivers:
  - name: default
    webhook_configs:
      - url: http://127.0.0.1:5001/
        send_resolved: false
        max_alerts: 10
  - name: pager
    email_configs:
      - to: oncall@example.org
        headers: { Subject: 'Page: {{ .CommonLabels.alertname }}' }
  - name: frontend
    slack_configs:
      - channel: '#frontend'
        title: '{{ .Status }}'
        color: '{{ if eq .Status "firing" }}warning{{ else }}good{{ end }}'
inhibit_rules:
  - source_match: { severity: critical }
    target_match_re: { severity: warning|info }
    equal: [cluster]
  - source_matchers: [alertname="ClusterDown"]
    target_matchers: [alertname!="ClusterDown"]
templates: []
alertmanagers: ["http://127.0.0.1:9093"]
"#,
    )
    .expect("valid config");
    assert_eq!(config.raw.global.resolve_timeout.to_string(), "2m");
    assert_eq!(config.raw.receivers.len(), 3);
    assert_eq!(config.raw.alertmanagers.len(), 1);
}

#[test]
fn unknown_fields_are_named_with_their_line() {
    let e = error("route:\n  receiver: a\n  group_wiat: 30s\nreceivers: [{name: a}]\n");
    assert!(e.contains("group_wiat") && e.contains("line 3"), "{e}");
    let e = error("receivers:\n  - name: a\n    webhook_configs:\n      - url: http://x/\n        sendresolved: true\n");
    assert!(e.contains("sendresolved") && e.contains("line 5"), "{e}");
    let e = error("global:\n  resolve_timeout: soon\n");
    assert!(
        e.contains("invalid duration") && e.contains("line 2"),
        "{e}"
    );
    let e = error("route: [not, a, map]\n");
    assert!(e.contains("line 1"), "{e}");
}

#[test]
fn references_and_values_are_checked() {
    let cases = [
        ("route: { group_by: [a] }\nreceivers: [{name: a}]\n", "route.receiver"),
        ("route: { receiver: nobody }\nreceivers: [{name: a}]\n", "\"nobody\" is not defined"),
        (
            "route: { receiver: a, routes: [{ receiver: b }] }\nreceivers: [{name: a}]\n",
            "route.routes[0].receiver",
        ),
        (
            "route: { receiver: a, routes: [{ matchers: ['job=~\"(\"'] }] }\nreceivers: [{name: a}]\n",
            "route.routes[0].matchers",
        ),
        ("route: { receiver: a, group_by: ['...', job] }\nreceivers: [{name: a}]\n", "route.group_by"),
        ("route: { receiver: a, group_interval: 0s }\nreceivers: [{name: a}]\n", "route.group_interval"),
        ("route: { receiver: a, matchers: ['a=\"b\"'] }\nreceivers: [{name: a}]\n", "root route must not have matchers"),
        ("receivers: [{name: a}, {name: a}]\n", "defined twice"),
        ("receivers: [{name: a, webhook_configs: [{url: 'ftp://x'}]}]\n", "receivers[0].webhook_configs[0].url"),
        ("receivers: [{name: a, slack_configs: [{channel: x}]}]\n", "receivers[0].slack_configs[0].api_url"),
        ("receivers: [{name: a, email_configs: [{to: x@y}]}]\n", "receivers[0].email_configs[0].smarthost"),
        (
            "global: { smtp_smarthost: 'mail:25' }\nreceivers: [{name: a, email_configs: [{to: x@y}]}]\n",
            "receivers[0].email_configs[0].from",
        ),
        ("inhibit_rules: [{ source_matchers: ['x'] }]\n", "inhibit_rules[0].source.matchers"),
        ("alertmanagers: ['am:9093']\n", "alertmanagers[0]"),
        (
            "route: { receiver: a, routes: [{ mute_time_intervals: [nope] }] }\nreceivers: [{name: a}]\n",
            "route.routes[0].mute_time_intervals[0]: time interval \"nope\" is not defined",
        ),
        (
            "route: { receiver: a, active_time_intervals: [x] }\nreceivers: [{name: a}]\ntime_intervals: [{name: x}]\n",
            "the root route must not have mute or active time intervals",
        ),
        (
            "receivers: [{name: a, webhook_configs: [{url: 'http://x/', http_config: {proxy_url: 'http://p:3128', proxy_from_environment: true}}]}]\n",
            "receivers[0].webhook_configs[0].http_config: proxy_url and proxy_from_environment cannot both be set",
        ),
        (
            "global: {http_config: {no_proxy: x}}\n",
            "global.http_config: no_proxy needs proxy_url",
        ),
        (
            "global: {http_config: {proxy_url: 'ftp://p'}}\n",
            "global.http_config: proxy_url \"ftp://p\" is not a proxy URL",
        ),
        (
            "global: {http_config: {proxy_url: 'http://p:3128', no_proxy: '10.0.0.0/8'}}\n",
            "no_proxy entry \"10.0.0.0/8\": address ranges are not supported",
        ),
        (
            "time_intervals: [{name: x}]\nmute_time_intervals: [{name: x}]\n",
            "mute_time_intervals[0].name: time interval \"x\" is defined twice",
        ),
        (
            "time_intervals: [{name: x, time_intervals: [{times: [{start_time: '10:00', end_time: '09:00'}]}, {weekdays: [funday]}]}]\n",
            "time_intervals[0].time_intervals[0].times[0]: start time cannot be equal or greater",
        ),
        (
            "time_intervals: [{name: x, time_intervals: [{weekdays: [funday]}]}]\n",
            "time_intervals[0].time_intervals[0].weekdays[0]: funday is not a valid weekday",
        ),
        (
            "global: { slack_api_url: 'http://x/' }\nreceivers: [{name: a, slack_configs: [{title: '{{ .Status '}]}]\n",
            "receivers[0].slack_configs[0].title",
        ),
        (
            "global: { smtp_smarthost: 'mail:25', smtp_from: a@b }\nreceivers: [{name: a, email_configs: [{to: x@y, headers: {Subject: '{{ if }}'}}]}]\n",
            "receivers[0].email_configs[0].headers.Subject",
        ),
    ];
    for (yaml, needle) in cases {
        let e = error(yaml);
        assert!(
            e.contains(needle),
            "{yaml}\n=> {e}\nshould contain {needle}"
        );
    }
}

#[test]
fn tls_settings_are_loaded_and_checked_with_the_configuration() {
    let hook = |tls: &str| {
        format!(
            "receivers: [{{name: a, webhook_configs: [{{url: 'https://x/', \
             http_config: {{tls_config: {{{tls}}}}}}}]}}]\n"
        )
    };
    let at = "receivers[0].webhook_configs[0].http_config.tls_config";
    let cases = [
        (
            hook("ca_file: /nonexistent/ca.pem"),
            format!("{at}.ca_file: reading /nonexistent/ca.pem"),
        ),
        (
            hook("ca: 'not PEM'"),
            format!("{at}.ca: no PEM certificate found"),
        ),
        (
            hook("ca: x, ca_file: y"),
            format!("{at}.ca: at most one of ca and ca_file"),
        ),
        (
            hook("cert: x"),
            format!("{at}.key: a client certificate needs its key"),
        ),
        (
            hook("key: x"),
            format!("{at}.cert: a client key needs its certificate"),
        ),
        (
            hook("server_name: other"),
            format!("{at}.server_name: not supported"),
        ),
        (
            hook("min_version: TLS13"),
            format!("{at}.min_version: TLS13 is not supported"),
        ),
        (
            hook("min_version: SSL3"),
            format!("{at}.min_version: unknown TLS version \"SSL3\""),
        ),
        (
            hook("max_version: TLS12"),
            format!("{at}.max_version: TLS12 is not supported"),
        ),
        (
            "global: {http_config: {tls_config: {cert_file: /nonexistent/c.pem, key: x}}}\n".into(),
            "global.http_config.tls_config.cert_file: reading /nonexistent/c.pem".into(),
        ),
        (hook("ca_fil: x"), "unknown field `ca_fil`".into()),
    ];
    for (yaml, needle) in cases {
        let e = error(&yaml);
        assert!(
            e.contains(&needle),
            "{yaml}\n=> {e}\nshould contain {needle}"
        );
    }
    // A certificate given inline, and verification turned off, load.
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = tally_testkit::TestPki::generate(dir.path());
    let ca = std::fs::read_to_string(&pki.ca).expect("CA PEM");
    let yaml = hook(&format!(
        "ca: {}, insecure_skip_verify: true",
        serde_json::to_string(&ca).expect("a JSON string is a YAML string")
    ));
    Config::parse(&yaml).unwrap_or_else(|e| panic!("{yaml}\n=> {e}"));
}

#[test]
fn template_files_are_loaded_relative_to_the_config_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("templates")).expect("mkdir");
    std::fs::write(
        dir.path().join("templates/custom.tmpl"),
        "{{ define \"my.title\" }}ALERT {{ .GroupLabels.alertname }}{{ end }}\n",
    )
    .expect("write template");
    let path = dir.path().join("notify.yml");
    std::fs::write(&path, "templates: ['templates/*.tmpl']\n").expect("write config");
    let config = Config::load(&path).expect("valid config");
    config
        .templates()
        .check("title", r#"{{ template "my.title" . }}"#)
        .expect("defined");

    std::fs::write(
        dir.path().join("templates/broken.tmpl"),
        "{{ define \"x\" }}{{ .A ",
    )
    .expect("write");
    let e = Config::load(&path).expect_err("broken template");
    assert!(
        matches!(e, ConfigError::Invalid { ref field, .. } if field == "templates"),
        "{e}"
    );
    let e = Config::load(&dir.path().join("missing.yml")).expect_err("missing file");
    assert!(matches!(e, ConfigError::Read { .. }), "{e}");
}
