//! The evaluator through the crate's public API, from rule-file text: parsed rules,
//! real templates, a manual clock, a restart over the same storage.

use std::sync::Arc;

use tally_model::{Labels, Sample};
use tally_rules::eval::{api, AlertState, Manager, ManagerConfig, ManualClock, RecordingSender};
use tally_storage::{MemStorage, Storage};

const MIN: i64 = 60_000;

const RULES: &str = r#"
groups:
  - name: availability
    interval: 1m
    rules:
      - record: job:up:avg
        expr: avg by (job) (up)
      - alert: JobDown
        expr: job:up:avg < 0.5
        for: 10m
        labels:
          severity: "{{ if lt $value 0.1 }}critical{{ else }}warning{{ end }}"
        annotations:
          summary: "{{ $labels.job }} at {{ $value | humanizePercentage }} ({{ $externalLabels.dc }})"
"#;

fn manager(
    storage: &Arc<MemStorage>,
    clock: &Arc<ManualClock>,
    sender: &Arc<RecordingSender>,
) -> Manager {
    let mut config = ManagerConfig::new(storage.clone(), clock.clone(), sender.clone());
    config.external_labels = Labels::from_pairs([("dc", "fra")]).unwrap();
    config.external_url = "http://tally.example:9091".to_owned();
    let m = Manager::new(config);
    let file = tally_rules::file::parse("availability.yml", RULES).expect("valid rules");
    m.update(vec![file]);
    m
}

fn run_until(m: &Manager, clock: &ManualClock, end: i64) {
    while let Some(next) = m.next_due().filter(|n| *n <= end) {
        clock.set(next);
        m.tick(next);
    }
    clock.set(end);
}

#[test]
fn alert_fires_is_sent_and_survives_a_restart() {
    let storage = Arc::new(MemStorage::new());
    let mut app = storage.appender();
    for (instance, value) in [("a", 0.0), ("b", 0.0)] {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "api"), ("instance", instance)])
            .unwrap();
        for i in 0..=240 {
            app.append(&l, Sample::new(i * 15_000, value)).unwrap();
        }
    }
    app.commit().unwrap();
    let clock = Arc::new(ManualClock::new(0));
    let sender = Arc::new(RecordingSender::new());

    let m = manager(&storage, &clock, &sender);
    run_until(&m, &clock, 30 * MIN);
    let alerts = m.active_alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].state, AlertState::Firing);
    assert_eq!(alerts[0].labels.get("severity"), Some("critical"));
    assert_eq!(alerts[0].annotations["summary"], "api at 0% (fra)");
    let sent: Vec<_> = sender.take().into_iter().flatten().collect();
    assert!(!sent.is_empty());
    assert_eq!(sent[0].labels.get("dc"), Some("fra"));
    assert!(sent[0]
        .generator_url
        .starts_with("http://tally.example:9091/graph?g0.expr=job%3Aup%3Aavg"));
    let active_at = alerts[0].active_at_ms / 1000 * 1000;

    let body = api::alerts(&m).to_json();
    assert!(body.contains("\"summary\":\"api at 0% (fra)\""), "{body}");
    assert!(body.contains("\"state\":\"firing\""), "{body}");
    drop(m);

    // Restart five minutes later over the same storage.
    clock.set(35 * MIN);
    let m = manager(&storage, &clock, &sender);
    run_until(&m, &clock, 40 * MIN);
    let alerts = m.active_alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].state, alerts[0].active_at_ms),
        (AlertState::Firing, active_at)
    );
    let rules = api::rules(&m, &api::RulesQuery::default()).to_json();
    assert!(rules.contains("\"health\":\"ok\""), "{rules}");
}
