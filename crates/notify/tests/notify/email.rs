//! Email to a real SMTP server (the Python `aiosmtpd` sink): subject, recipients,
//! templated headers, text and HTML parts.

use std::sync::Arc;

use tally_notify::clock::ManualClock;
use tally_notify::{Alert, Config, Notifier, NotifierOptions};
use tally_testkit::{mails, smtp_sink};

use crate::support::{at, labels, t0};
use crate::webhook::fast_retry;

fn config(port: u16, require_tls: bool) -> Config {
    Config::parse(&format!(
        r#"
global:
  smtp_from: "tally <tally@example.org>"
  smtp_smarthost: "127.0.0.1:{port}"
  smtp_require_tls: {require_tls}
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 0s
receivers:
  - name: ops
    email_configs:
      - to: "ops@example.org, oncall@example.org"
        headers:
          X-Tally-Receiver: "{{{{ .Receiver }}}}"
        send_resolved: true
"#
    ))
    .expect("valid config")
}

fn notifier(config: Config, clock: &ManualClock) -> Notifier {
    Notifier::new(
        config,
        NotifierOptions {
            clock: Arc::new(clock.clone()),
            retry: fast_retry(),
            workers: 1,
            ..NotifierOptions::default()
        },
    )
    .expect("notifier")
}

fn alert(job: &str) -> Alert {
    let mut a = Alert::firing(labels(&[("alertname", "Down"), ("job", job)]), at(0));
    a.annotations = labels(&[("summary", &format!("{job} is down"))]);
    a.ends_at = Some(at(240));
    a
}

#[test]
fn email_arrives_at_the_smtp_sink() {
    let smtp = smtp_sink();
    let clock = ManualClock::new(t0());
    let n = notifier(config(smtp.port(), false), &clock);
    n.put(vec![alert("api"), alert("db")])
        .expect("room for the alerts");
    let outcomes = n.tick_blocking().expect("tick");
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].1.is_ok(), "{outcomes:?}\n{}", smtp.log());
    let got = mails(&smtp);
    assert_eq!(got.len(), 1, "{}", smtp.log());
    let mail = &got[0];
    assert!(mail.contains("Subject: [FIRING:2] Down"), "{mail}");
    assert!(mail.contains("From: tally <tally@example.org>"), "{mail}");
    assert!(
        mail.contains("ops@example.org") && mail.contains("oncall@example.org"),
        "{mail}"
    );
    assert!(mail.contains("X-Tally-Receiver: ops"), "{mail}");
    assert!(mail.contains("multipart/alternative"), "{mail}");
    assert!(
        mail.contains("text/plain") && mail.contains("text/html"),
        "{mail}"
    );
    assert!(
        mail.contains("api is down") && mail.contains("db is down"),
        "{mail}"
    );
    assert_eq!(n.stats().integration_stats("email", "ops").sent, 1);

    // Resolution is sent too (send_resolved: true).
    clock.set(at(300));
    let outcomes = n.tick_blocking().expect("tick");
    assert!(outcomes.iter().all(|(_, r)| r.is_ok()), "{outcomes:?}");
    let got = mails(&smtp);
    assert_eq!(got.len(), 2);
    assert!(
        got.iter().any(|m| m.contains("Subject: [RESOLVED] Down")),
        "{got:#?}"
    );
    n.shutdown().expect("shutdown");
}

#[test]
fn required_starttls_that_the_server_lacks_is_an_error_not_a_panic() {
    let smtp = smtp_sink();
    let clock = ManualClock::new(t0());
    let n = notifier(config(smtp.port(), true), &clock);
    n.put(vec![alert("api")]).expect("room for the alerts");
    let outcomes = n.tick_blocking().expect("tick");
    assert!(outcomes[0].1.is_err(), "{outcomes:?}");
    assert!(mails(&smtp).is_empty());
    assert_eq!(n.stats().integration_stats("email", "ops").failed, 1);
    n.shutdown().expect("shutdown");
}
