//! Webhooks over HTTPS with `http_config.tls_config`, delivered to a real TLS server
//! (Python's `http.server` behind OpenSSL) that demands a client certificate, and email
//! over STARTTLS (`aiosmtpd`) with an email receiver's `tls_config`, with certificates
//! made for the test; and Alertmanager's `amtool` accepting the same files.

use std::path::Path;

use tally_notify::Config;
use tally_testkit::{https_requests, https_sink, mails, smtp_sink_starttls, TestPki};

use crate::support::{assert_amtool_accepts, deliver_one};

/// Writes an Alertmanager file with one webhook receiver for `url` and `tls` (YAML lines
/// of `tls_config`, indented by the caller; empty for none) into `dir` and loads it.
fn load(dir: &Path, url: &str, tls: &str) -> Config {
    let tls = if tls.is_empty() {
        String::new()
    } else {
        format!("        http_config:\n          tls_config:\n{tls}")
    };
    let yaml = format!(
        "route:\n  receiver: team\n  group_by: [alertname]\n  group_wait: 0s\n\
         receivers:\n  - name: team\n    webhook_configs:\n      - url: \"{url}\"\n{tls}"
    );
    let path = dir.join("alertmanager.yml");
    std::fs::write(&path, yaml).expect("writing the configuration");
    Config::load(&path).unwrap_or_else(|e| panic!("configuration refused: {e}"))
}

#[test]
fn webhook_over_https_presents_the_client_certificate() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::create_dir(dir.path().join("certs")).expect("certs directory");
    let pki = TestPki::generate(&dir.path().join("certs"));
    let sink = https_sink(&pki);
    let url = format!("https://127.0.0.1:{}/hook", sink.port());
    // File names relative to the configuration file's directory, as in Alertmanager.
    let tls = "            ca_file: certs/ca.pem\n\
               \x20           cert_file: certs/client.pem\n\
               \x20           key_file: certs/client-key.pem\n\
               \x20           min_version: TLS12\n";
    let config = load(dir.path(), &url, tls);
    deliver_one(config).expect("delivered over HTTPS");
    let got = https_requests(&sink);
    assert_eq!(got.len(), 1, "{got:?}\n{}", sink.log());
    let request: serde_json::Value = serde_json::from_str(&got[0]).expect("JSON line");
    assert_eq!(request["path"], "/hook");
    assert_eq!(request["client"], "tally-test-client");
    let body: serde_json::Value =
        serde_json::from_str(request["body"].as_str().unwrap_or("")).expect("JSON body");
    assert_eq!(body["version"], "4");
    assert_eq!(body["commonLabels"]["alertname"], "Down");

    // Alertmanager's own checker accepts the same file.
    assert_amtool_accepts(&dir.path().join("alertmanager.yml"));
}

#[test]
fn https_fails_without_the_right_certificates_and_skips_verification_when_told() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = TestPki::generate(dir.path());
    let sink = https_sink(&pki);
    let url = format!("https://127.0.0.1:{}/hook", sink.port());
    let (ca, cert, key) = (
        pki.ca.display(),
        pki.client_cert.display(),
        pki.client_key.display(),
    );

    // The test authority is not among the built-in roots.
    let err = deliver_one(load(dir.path(), &url, "")).expect_err("unknown issuer");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    // Trusting the authority is not enough: the server wants a client certificate.
    let tls = format!("            ca_file: {ca}\n");
    deliver_one(load(dir.path(), &url, &tls)).expect_err("no client certificate");
    // A client certificate without the authority still fails the server check...
    let tls = format!("            cert_file: {cert}\n            key_file: {key}\n");
    let err = deliver_one(load(dir.path(), &url, &tls)).expect_err("unknown issuer");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    // ...unless verification is skipped.
    let tls = format!("{tls}            insecure_skip_verify: true\n");
    deliver_one(load(dir.path(), &url, &tls)).expect("delivered without verifying");
    assert_eq!(https_requests(&sink).len(), 1, "{}", sink.log());
}

#[test]
fn email_over_starttls_trusts_the_authority_of_its_tls_config() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = TestPki::generate(dir.path());
    let smtp = smtp_sink_starttls(&pki);
    // STARTTLS is required by default (smtp_require_tls).
    let email = |tls: &str| {
        let yaml = format!(
            "global: {{ smtp_from: tally@example.org, smtp_smarthost: '127.0.0.1:{}' }}\n\
             route: {{ receiver: ops, group_by: [alertname], group_wait: 0s }}\n\
             receivers: [{{ name: ops, email_configs: [{{ to: ops@example.org{tls} }}] }}]\n",
            smtp.port()
        );
        let path = dir.path().join("alertmanager.yml");
        std::fs::write(&path, yaml).expect("writing the configuration");
        Config::load(&path).unwrap_or_else(|e| panic!("configuration refused: {e}"))
    };
    let err = deliver_one(email("")).expect_err("the test authority is unknown");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    assert!(mails(&smtp).is_empty());
    // The server's certificate names 127.0.0.1 and localhost, not mail.example.org.
    let tls = format!(
        ", tls_config: {{ ca_file: {}, server_name: mail.example.org }}",
        pki.ca.display()
    );
    let err = deliver_one(email(&tls)).expect_err("wrong name");
    assert!(err.to_string().contains("not valid for name"), "{err}");
    let tls = format!(
        ", tls_config: {{ ca_file: {}, server_name: localhost }}",
        pki.ca.display()
    );
    deliver_one(email(&tls)).expect("delivered over STARTTLS");
    let got = mails(&smtp);
    assert_eq!(got.len(), 1, "{}", smtp.log());
    assert!(got[0].contains("Subject: [FIRING:1] Down"), "{}", got[0]);
    assert_amtool_accepts(&dir.path().join("alertmanager.yml"));
}
