//! [`Group`]: an aggregation group, the alerts of one route that share the values of the
//! route's `group_by` labels, notified together on the group's timers.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use tally_model::Labels;

use crate::clock::later;
use crate::route::Route;
use crate::time_interval::TimeGate;

/// An aggregation group and its timer.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// The route's position in the tree.
    pub route_id: usize,
    /// Alertmanager's group key: `<route key>:<group labels>`.
    pub key: String,
    /// The group labels.
    pub labels: Labels,
    /// The route's receiver.
    pub receiver: String,
    /// The route's `group_interval`.
    pub group_interval: Duration,
    /// The route's `repeat_interval`.
    pub repeat_interval: Duration,
    /// The route's time intervals.
    pub time_gate: TimeGate,
    /// Fingerprints of the alerts in the group.
    pub alerts: BTreeSet<u64>,
    /// When the group is flushed next.
    pub next_flush: DateTime<Utc>,
    /// Whether the group has been flushed at least once.
    pub flushed: bool,
}

impl Group {
    /// A new group for `route`, first flushed `group_wait` from `now`.
    pub fn new(route: &Route, labels: Labels, now: DateTime<Utc>) -> Self {
        Self {
            route_id: route.id,
            key: format!("{}:{}", route.key, labels_text(&labels)),
            labels,
            receiver: route.receiver.clone(),
            group_interval: route.group_interval,
            repeat_interval: route.repeat_interval,
            time_gate: route.time_gate.clone(),
            alerts: BTreeSet::new(),
            next_flush: later(now, route.group_wait),
            flushed: false,
        }
    }

    /// Adds an alert. An alert that started longer than `group_wait` ago makes a group
    /// that has not been flushed yet flush at once (as Alertmanager does: nobody should
    /// wait again for an alert that has already waited, e.g. after a restart).
    pub fn insert(
        &mut self,
        fp: u64,
        starts_at: DateTime<Utc>,
        group_wait: Duration,
        now: DateTime<Utc>,
    ) {
        self.alerts.insert(fp);
        if !self.flushed && later(starts_at, group_wait) < now && self.next_flush > now {
            self.next_flush = now;
        }
    }

    /// Moves the timer past a flush at `now`.
    pub fn schedule_next(&mut self, now: DateTime<Utc>) {
        self.flushed = true;
        self.next_flush = later(self.next_flush, self.group_interval);
        if self.next_flush <= now {
            self.next_flush = later(now, self.group_interval);
        }
    }
}

/// `{a="1", b="2"}` as Alertmanager prints label sets in group keys.
pub(crate) fn labels_text(labels: &Labels) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(k);
        out.push('=');
        out.push_str(&format!("{v:?}"));
    }
    out.push('}');
    out
}
