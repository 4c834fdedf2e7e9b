//! Restarts (state restored from storage), reloads and the run loop.

use super::*;

/// A firing alert survives a restart: a new manager over the same storage restores its
/// `activeAt` after its second evaluation and it fires again without a new start.
#[test]
fn firing_alert_is_restored_after_restart() {
    let f = Fixture::new();
    f.up((0..=120).map(|i| i * 30_000), 0.0);
    let rules = || {
        vec![file(
            "r.yml",
            vec![group("g", vec![alerting("Down", "up == 0", 15 * MIN, 0)])],
        )]
    };
    let m = f.manager(true);
    m.update(rules());
    f.run_until(&m, 30 * MIN);
    let before = one_alert(&m).unwrap();
    assert_eq!(before.state, AlertState::Firing);
    // Restored from ALERTS_FOR_STATE, which holds whole seconds.
    let active_at = before.active_at_ms / 1000 * 1000;
    drop(m);
    f.sender.take();

    // Down for 5 minutes.
    f.clock.set(35 * MIN);
    let m = f.manager(true);
    m.update(rules());
    let first = m.next_due().unwrap();
    f.run_until(&m, first + MIN);
    // Two evaluations since the start: pending from scratch, nothing written yet, then
    // the old activeAt restored.
    let a = one_alert(&m).unwrap();
    assert_eq!(a.active_at_ms, active_at);
    assert!(f.sender.take().is_empty());
    let writes_after_restart = f
        .samples(&for_state_series())
        .iter()
        .filter(|s| s.timestamp_ms >= 35 * MIN)
        .count();
    assert_eq!(writes_after_restart, 0);
    f.run_until(&m, first + 2 * MIN);
    let a = one_alert(&m).unwrap();
    assert_eq!((a.state, a.active_at_ms), (AlertState::Firing, active_at));
    assert_eq!(f.sender.take().len(), 1);
    let last = *f.samples(&for_state_series()).last().unwrap();
    assert_eq!(
        last,
        Sample::new(first + 2 * MIN, (active_at / 1000) as f64)
    );
}

/// A pending alert keeps the progress it had: the outage does not count.
#[test]
fn pending_alert_keeps_its_progress_after_restart() {
    let f = Fixture::new();
    f.up((0..=120).map(|i| i * 30_000), 0.0);
    let rules = || {
        vec![file(
            "r.yml",
            vec![group("g", vec![alerting("Down", "up == 0", 30 * MIN, 0)])],
        )]
    };
    f.clock.set(MIN / 2);
    let m = f.manager(true);
    m.update(rules());
    f.run_until(&m, 10 * MIN);
    let a = one_alert(&m).unwrap();
    assert_eq!(a.state, AlertState::Pending);
    let last_write = f.samples(&for_state_series()).last().unwrap().timestamp_ms;
    let pending_for = last_write / 1000 * 1000 - a.active_at_ms / 1000 * 1000;
    drop(m);

    f.clock.set(20 * MIN);
    let m = f.manager(true);
    m.update(rules());
    let first = m.next_due().unwrap();
    f.run_until(&m, first + MIN);
    let restore_time = first + MIN;
    let a = one_alert(&m).unwrap();
    // activeAt moved forward by the outage: remaining = 30m - pending_for from restore.
    assert_eq!(a.active_at_ms, restore_time - pending_for);
}

/// Alerts with a `for` under the grace period start over after a restart.
#[test]
fn short_for_is_not_restored() {
    let f = Fixture::new();
    f.up((0..=120).map(|i| i * 30_000), 0.0);
    let rules = || {
        vec![file(
            "r.yml",
            vec![group("g", vec![alerting("Down", "up == 0", 5 * MIN, 0)])],
        )]
    };
    let m = f.manager(true);
    m.update(rules());
    f.run_until(&m, 20 * MIN);
    assert_eq!(one_alert(&m).unwrap().state, AlertState::Firing);
    drop(m);
    f.clock.set(22 * MIN);
    let m = f.manager(true);
    m.update(rules());
    let first = m.next_due().unwrap();
    f.run_until(&m, first + 2 * MIN);
    let a = one_alert(&m).unwrap();
    assert_eq!((a.state, a.active_at_ms), (AlertState::Pending, first));
}

#[test]
fn reload_keeps_alerts_and_stales_removed_rules_and_groups() {
    let f = Fixture::new();
    f.up((0..=60).map(|i| i * 30_000), 0.0);
    let m = f.manager(false);
    let g1 = group(
        "g",
        vec![
            alerting("Down", "up == 0", 0, 0),
            recording("old:up", "up", &[]),
        ],
    );
    let g2 = group("other", vec![recording("other:up", "up", &[])]);
    m.update(vec![file("r.yml", vec![g1, g2])]);
    f.run_until(&m, 3 * MIN);
    let before = one_alert(&m).unwrap();
    let old_series = labels(&[("__name__", "old:up"), ("job", "a")]);
    let other_series = labels(&[("__name__", "other:up"), ("job", "a")]);
    assert!(!f.samples(&old_series).is_empty());

    // Reload: the alerting rule's expression changes (same name and labels), the
    // recording rule and the other group go.
    let g1 = group("g", vec![alerting("Down", "up < 1", 0, 0)]);
    m.update(vec![file("r.yml", vec![g1])]);
    let now = f.clock.now_ms();
    f.run_until(&m, now + 3 * MIN);
    let after = one_alert(&m).unwrap();
    assert_eq!(after.active_at_ms, before.active_at_ms);
    assert_eq!(after.state, AlertState::Firing);
    assert!(f.samples(&old_series).last().unwrap().is_stale());
    let other = f.samples(&other_series);
    let last = other.last().unwrap();
    assert!(last.is_stale() && last.timestamp_ms == now, "{other:?}");
    // Unchanged reload keeps the group object and its schedule.
    let due = m.next_due();
    m.update(vec![file(
        "r.yml",
        vec![group("g", vec![alerting("Down", "up < 1", 0, 0)])],
    )]);
    assert_eq!(m.next_due(), due);
}

#[test]
fn reload_with_a_broken_file_keeps_the_running_rules() {
    let dir = std::env::temp_dir().join(format!("tally-rules-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: vector(1)\n";
    std::fs::write(dir.join("a.yml"), good).unwrap();
    let pattern = vec![format!("{}/*.yml", dir.display())];
    let f = Fixture::new();
    let m = f.manager(false);
    m.reload(&pattern).unwrap();
    assert_eq!(m.stats().len(), 1);

    std::fs::write(
        dir.join("b.yml"),
        "groups:\n  - name: h\n    rules:\n      - record: 1bad\n        expr: sum(\n",
    )
    .unwrap();
    let errors = m.reload(&pattern).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(
        matches!(&errors[0], LoadError::Invalid { path, .. } if path.ends_with("b.yml")),
        "{errors:?}"
    );
    assert!(errors[0].to_string().contains("b.yml:"), "{}", errors[0]);
    let stats = m.stats();
    assert_eq!((stats.len(), stats[0].name.as_str()), (1, "g"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_loop_ticks_and_stops_without_waiting() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Manager>();
    let f = Fixture::new();
    let m = Arc::new(f.manager(false));
    m.update(vec![file(
        "r.yml",
        vec![group("g", vec![recording("r", "vector(1)", &[])])],
    )]);
    let due = m.next_due().unwrap();
    f.clock.set(due);
    // Stopped before it starts: `run` does what is due once, then returns.
    m.stop();
    let runner = {
        let m = m.clone();
        std::thread::spawn(move || m.run())
    };
    runner.join().unwrap();
    assert_eq!(m.stats()[0].counters.iterations, 1);
    assert_eq!(
        f.samples(&labels(&[("__name__", "r")])),
        vec![Sample::new(due, 1.0)]
    );
}
