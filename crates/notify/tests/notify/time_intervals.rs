//! Routes muted and activated by time intervals, on a clock set by hand (t0 is Sunday
//! 2026-03-01 12:00 UTC), and Alertmanager's `amtool` accepting the same file.

use tally_notify::{Alert, Config, Dispatcher};

use crate::support::{assert_amtool_accepts, at, labels};

const CONFIG: &str = r#"
route:
  receiver: team
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 1h
  routes:
    - matchers: ['severity="page"']
      receiver: pager
      active_time_intervals: [office]
    - matchers: ['severity="ticket"']
      mute_time_intervals: [lunch, weekdays]
      routes:
        - matchers: ['team="db"']
receivers:
  - name: team
    webhook_configs: [{ url: "http://127.0.0.1:1/team" }]
  - name: pager
    webhook_configs: [{ url: "http://127.0.0.1:1/pager" }]
time_intervals:
  - name: office
    time_intervals:
      - times: [{ start_time: "13:00", end_time: "17:00" }]
        weekdays: ["Sunday"]
        location: UTC
mute_time_intervals:
  - name: lunch
    time_intervals:
      - times: [{ start_time: "12:00", end_time: "12:30" }]
      - times: [{ start_time: "13:31", end_time: "13:32" }]
  - name: weekdays
    time_intervals: [{ weekdays: ["monday:friday"] }]
"#;

/// A firing alert as a rule engine re-sends it at `now`.
fn firing(pairs: &[(&str, &str)], now: i64) -> Alert {
    let mut a = Alert::firing(labels(pairs), at(0));
    a.ends_at = Some(at(now + 240));
    a
}

#[test]
fn routes_send_only_while_their_time_intervals_allow() {
    let mut d = Dispatcher::new(Config::parse(CONFIG).expect("valid config"), "http://tally");
    let page = [("alertname", "Down"), ("severity", "page")];
    let ticket = [("alertname", "Slow"), ("severity", "ticket")];
    // Not inherited: the db child of the muted route sends at once.
    let db = [
        ("alertname", "Disk"),
        ("severity", "ticket"),
        ("team", "db"),
    ];
    let mut sent: Vec<(i64, String)> = Vec::new();
    for s in (0..=2 * 3600).step_by(60) {
        d.put(
            [firing(&page, s), firing(&ticket, s), firing(&db, s)],
            at(s),
        );
        for n in d.tick(at(s)) {
            let name = n.data.alerts[0]
                .alert
                .labels
                .get("alertname")
                .unwrap_or("?");
            sent.push((s, format!("{}: {name}", n.data.receiver)));
        }
    }
    let sent: Vec<(i64, &str)> = sent.iter().map(|(s, r)| (*s, r.as_str())).collect();
    crate::eqnice!(
        vec![
            (0, "team: Disk"),
            // Lunch (12:00-12:30) mutes the ticket route; the first flush after it sends.
            (1800, "team: Slow"),
            // The pager route opens at 13:00.
            (3600, "pager: Down"),
            // Repeats are due once more than an hour has passed (13:01 for Disk). Slow's
            // falls at 13:31, inside lunch's second period (one minute): the next flush
            // sends it.
            (3660, "team: Disk"),
            (5520, "team: Slow"),
        ],
        sent
    );
    // Monday: the ticket route is muted all day, the pager route is closed.
    let monday = 24 * 3600 + 2 * 3600;
    d.put([firing(&page, monday), firing(&ticket, monday)], at(monday));
    assert!(d
        .tick(at(monday))
        .iter()
        .all(|n| n.data.receiver == "team"
            && n.data.alerts[0].alert.labels.get("team") == Some("db")));
}

#[test]
fn amtool_accepts_the_same_time_intervals() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("alertmanager.yml");
    std::fs::write(&path, CONFIG).expect("writing the configuration");
    assert_amtool_accepts(&path);
}
