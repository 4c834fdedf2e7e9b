//! Slack-compatible incoming webhooks, received by a real HTTP server.

use std::sync::Arc;

use tally_notify::clock::ManualClock;
use tally_notify::{Alert, Config, Notifier, NotifierOptions};

use crate::support::sink::Sink;
use crate::support::{at, labels, t0};
use crate::webhook::fast_retry;

#[test]
fn slack_messages_have_alertmanager_style_defaults_and_templates() {
    let sink = Sink::start();
    let clock = ManualClock::new(t0());
    let config = Config::parse(&format!(
        r##"
global:
  slack_api_url: "{url}"
route:
  receiver: chat
  group_by: [alertname]
  group_wait: 10s
receivers:
  - name: chat
    slack_configs:
      - channel: "#alerts"
        send_resolved: true
      - channel: "#custom"
        api_url: "{custom}"
        title: '{{{{ .CommonLabels.alertname }}}}: {{{{ len .Alerts.Firing }}}} firing'
        text: '{{{{ range .Alerts }}}}{{{{ .Labels.job }}}} {{{{ end }}}}'
        username: bot
"##,
        url = sink.url("/slack"),
        custom = sink.url("/custom"),
    ))
    .expect("valid config");
    let n = Notifier::new(
        config,
        NotifierOptions {
            clock: Arc::new(clock.clone()),
            retry: fast_retry(),
            workers: 1,
            ..NotifierOptions::default()
        },
    )
    .expect("notifier");
    let mut a = Alert::firing(labels(&[("alertname", "Down"), ("job", "api")]), at(0));
    a.annotations = labels(&[("summary", "api is down")]);
    a.ends_at = Some(at(240));
    n.put(vec![a.clone()]).expect("room for the alerts");
    clock.set(at(10));
    let outcomes = n.tick_blocking().expect("tick");
    assert!(outcomes.iter().all(|(_, r)| r.is_ok()), "{outcomes:?}");
    let mut got = sink.take();
    got.sort_by(|x, y| x.path.cmp(&y.path));
    assert_eq!(got.len(), 2);
    let custom = got[0].json();
    assert_eq!(got[0].path, "/custom");
    assert_eq!(custom["channel"], "#custom");
    assert_eq!(custom["username"], "bot");
    assert_eq!(custom["attachments"][0]["title"], "Down: 1 firing");
    assert_eq!(custom["attachments"][0]["text"], "api ");
    let default = got[1].json();
    assert_eq!(default["channel"], "#alerts");
    assert_eq!(default["username"], "tally");
    let att = &default["attachments"][0];
    assert_eq!(att["title"], "[FIRING:1] Down");
    assert_eq!(att["color"], "danger");
    assert!(
        att["text"]
            .as_str()
            .is_some_and(|t| t.contains("api is down")),
        "{att}"
    );

    // Resolved: only the integration with send_resolved hears of it, in green.
    a.ends_at = Some(at(60));
    n.put(vec![a]).expect("room for the alerts");
    clock.set(at(310));
    assert_eq!(n.tick_blocking().expect("tick").len(), 1);
    let got = sink.take();
    let att = &got[0].json()["attachments"][0];
    assert_eq!(att["color"], "good");
    assert_eq!(att["title"], "[RESOLVED] Down");
    assert_eq!(n.stats().integration_stats("slack", "chat").sent, 3);
    n.shutdown().expect("shutdown");
}
