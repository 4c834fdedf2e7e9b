//! Restoring alerts' `for` progress after a restart, from the `ALERTS_FOR_STATE` series
//! written before it (Prometheus' `RestoreForState`).
//!
//! After a start, a group evaluates twice (so recording rules it depends on have
//! fresh values) without writing `ALERTS` / `ALERTS_FOR_STATE`; then, at the clock time
//! `now`, for each alerting rule whose `for` is at least the grace period, and each of
//! its active alerts, the newest `ALERTS_FOR_STATE` sample of that alert within the
//! outage tolerance before `now` gives the time the server went down (`downAt`, the
//! sample's timestamp) and the alert's old `activeAt` (its value). With
//! `pending = downAt - activeAt` and `remaining = for - pending`:
//!
//! - `remaining <= 0`: the alert was firing; `activeAt` is restored as it was, so it
//!   fires again at the next evaluation;
//! - `remaining < grace period`: `activeAt = now + grace - for`, so it fires one grace
//!   period from now at the earliest;
//! - otherwise: `activeAt` moves forward by the outage (`now - downAt`), so the time it
//!   spent pending before the restart counts.
//!
//! A stale last sample (the alert had ended) restores nothing. Rules with a `for`
//! shorter than the grace period are not restored. Either way the rule then writes its
//! series again.

use tally_model::{Labels, Sample};
use tally_storage::{Matcher, SelectHints, Storage};

use super::alert::ALERTS_FOR_STATE_METRIC;
use super::group::{Compiled, Group};

/// Restores the `for` state of `group`'s alerting rules at `now_ms`.
pub(crate) fn restore_for_state(
    group: &mut Group,
    storage: &dyn Storage,
    now_ms: i64,
    outage_tolerance_ms: i64,
    grace_ms: i64,
) {
    let querier = storage.querier(now_ms - outage_tolerance_ms, now_ms).ok();
    for rule in &mut group.rules {
        let Compiled::Alerting(ar) = &mut rule.compiled else {
            continue;
        };
        if ar.for_ms < grace_ms {
            ar.restored = true;
            continue;
        }
        let Some(q) = querier.as_ref() else {
            ar.restored = true;
            continue;
        };
        let mut updates: Vec<(Labels, i64)> = Vec::new();
        for (key, alert) in &ar.active {
            let Ok(series) = ar.series(ALERTS_FOR_STATE_METRIC, alert, false) else {
                continue;
            };
            let matchers: Vec<Matcher> = series.iter().map(|(n, v)| Matcher::equal(n, v)).collect();
            let Ok(found) = q.select(&matchers, &SelectHints::default()) else {
                continue;
            };
            let Some(last) = found
                .iter()
                .find(|s| s.labels == series)
                .and_then(|s| s.samples.last().copied())
            else {
                continue;
            };
            if let Some(active_at) = restored_active_at(last, ar.for_ms, now_ms, grace_ms) {
                updates.push((key.clone(), active_at));
            }
        }
        for (key, active_at) in updates {
            if let Some(a) = ar.active.get_mut(&key) {
                a.active_at_ms = active_at;
            }
        }
        ar.restored = true;
    }
}

/// The restored `activeAt` (ms) from the last `ALERTS_FOR_STATE` sample, or `None` when
/// the alert had ended (stale marker).
fn restored_active_at(last: Sample, for_ms: i64, now_ms: i64, grace_ms: i64) -> Option<i64> {
    if last.is_stale() || !last.value.is_finite() {
        return None;
    }
    // Prometheus keeps whole seconds of both times.
    let down_at = last.timestamp_ms.div_euclid(1000) * 1000;
    let active_at = (last.value as i64).saturating_mul(1000);
    let remaining = for_ms - (down_at - active_at);
    Some(if remaining <= 0 {
        active_at
    } else if remaining < grace_ms {
        now_ms + grace_ms - for_ms
    } else {
        active_at + (now_ms - down_at)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn restore_rules() {
        // Firing when it went down: kept.
        let last = Sample::new(100 * MIN, (50 * 60) as f64);
        assert_eq!(
            restored_active_at(last, 30 * MIN, 110 * MIN, 10 * MIN),
            Some(50 * MIN)
        );
        // 5 minutes left, less than the grace period: fires a grace period from now.
        let last = Sample::new(100 * MIN, (75 * 60) as f64);
        assert_eq!(
            restored_active_at(last, 30 * MIN, 110 * MIN, 10 * MIN),
            Some(110 * MIN + 10 * MIN - 30 * MIN)
        );
        // 20 minutes left: moved forward by the 10-minute outage.
        let last = Sample::new(100 * MIN, (90 * 60) as f64);
        assert_eq!(
            restored_active_at(last, 30 * MIN, 110 * MIN, 10 * MIN),
            Some(100 * MIN)
        );
        // Ended before the restart.
        assert_eq!(
            restored_active_at(Sample::stale(100 * MIN), 30 * MIN, 110 * MIN, 10 * MIN),
            None
        );
    }
}
