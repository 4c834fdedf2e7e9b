//! [`Dispatcher`]: the notifier's core, without threads or I/O. Alerts go in with
//! [`put`](Dispatcher::put); [`tick`](Dispatcher::tick) is called with the current time
//! and returns the notifications due, so every timer can be tested with a clock driven by
//! hand.
//!
//! Each alert is routed down the tree to its routes; per route it joins the aggregation
//! group of its `group_by` labels. A group is flushed `group_wait` after it was created,
//! then every `group_interval`. At a flush, silenced and inhibited alerts are left out, a
//! route muted by its time intervals sends nothing, and each integration of the route's receiver is notified if the [notification
//! log](Nflog) says the group changed since its last notification (or `repeat_interval`
//! passed). Resolved alerts are notified once (where `send_resolved`) and then leave the
//! group; an empty group is dropped.

mod group;
mod nflog;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

pub use nflog::{Nflog, NflogEntry, NFLOG_RETENTION};

use crate::alert::{fingerprint, Alert};
use crate::config::Config;
use crate::integration::{integrations, IntegrationId, IntegrationInfo};
use crate::payload::{AlertData, NotificationData};
use crate::route::Route;
use crate::silence::Silences;
use group::Group;

/// How many alerts a dispatcher holds at most by default.
pub const DEFAULT_MAX_ALERTS: usize = 100_000;

/// A batch of alerts was refused, whole, because holding its new alerts would pass the
/// limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{new} new alerts refused: {held} held, limit {limit}")]
pub struct TooManyAlerts {
    /// Alerts held now.
    pub held: usize,
    /// Alerts of the batch not held yet.
    pub new: usize,
    /// The limit.
    pub limit: usize,
}

/// One notification due: what to tell one integration about one group.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Where it goes.
    pub integration: IntegrationId,
    /// What it says.
    pub data: NotificationData,
    pub(crate) nflog_key: String,
    pub(crate) written_at: DateTime<Utc>,
    pub(crate) previous: Option<NflogEntry>,
}

/// An alert as the dispatcher keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredAlert {
    /// The alert; `ends_at` is always set (from `resolve_timeout` when it was missing).
    pub alert: Alert,
    /// Whether `ends_at` came from `resolve_timeout`.
    pub timeout: bool,
    /// When it was last received.
    pub updated_at: DateTime<Utc>,
}

/// An alert with its current status, for the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertView {
    /// The alert (`ends_at` set).
    pub alert: Alert,
    /// Its fingerprint.
    pub fingerprint: u64,
    /// When it was last received.
    pub updated_at: DateTime<Utc>,
    /// The receivers its routes lead to.
    pub receivers: Vec<String>,
    /// Ids of the silences muting it.
    pub silenced_by: Vec<String>,
    /// Fingerprints of the alerts inhibiting it.
    pub inhibited_by: Vec<u64>,
}

/// An aggregation group with its alerts, for the API (`/api/v2/alerts/groups`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertGroupView {
    /// The group labels (the route's `group_by` values).
    pub labels: tally_model::Labels,
    /// The route's receiver.
    pub receiver: String,
    /// Its alerts not resolved yet.
    pub alerts: Vec<AlertView>,
}

/// The routing, grouping, muting and deduplication state. Not synchronised: the
/// [`Notifier`](crate::Notifier) keeps it behind one mutex.
#[derive(Debug)]
pub struct Dispatcher {
    config: Config,
    receivers: HashMap<String, Vec<IntegrationInfo>>,
    external_url: String,
    pub(crate) alerts: BTreeMap<u64, StoredAlert>,
    groups: BTreeMap<(usize, u64), Group>,
    pub(crate) nflog: Nflog,
    pub(crate) silences: Silences,
    max_alerts: usize,
}

impl Dispatcher {
    /// A dispatcher with no alerts; `external_url` is the link notifications carry.
    pub fn new(config: Config, external_url: impl Into<String>) -> Self {
        let receivers = receivers_of(&config);
        Self {
            config,
            receivers,
            external_url: external_url.into(),
            alerts: BTreeMap::new(),
            groups: BTreeMap::new(),
            nflog: Nflog::default(),
            silences: Silences::default(),
            max_alerts: DEFAULT_MAX_ALERTS,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Replaces the configuration: groups are rebuilt from the alerts held; the
    /// notification log and silences are kept, so nothing already sent is sent again.
    pub fn set_config(&mut self, config: Config, now: DateTime<Utc>) {
        self.receivers = receivers_of(&config);
        self.config = config;
        self.regroup(now);
    }

    /// Rebuilds every group from the alerts held (after a restore or a reload).
    pub(crate) fn regroup(&mut self, now: DateTime<Utc>) {
        self.groups.clear();
        let fps: Vec<u64> = self.alerts.keys().copied().collect();
        for fp in fps {
            self.route(fp, now);
        }
    }

    /// Sets the most alerts held (see [`check_room`](Self::check_room)).
    pub fn set_max_alerts(&mut self, limit: usize) {
        self.max_alerts = limit;
    }

    /// Whether the alerts held plus the new ones of `alerts` stay within the limit;
    /// [`Notifier::put`](crate::Notifier::put) refuses a batch that does not, so nothing
    /// is half-applied. Updates of alerts already held always fit.
    pub fn check_room(&self, alerts: &[Alert]) -> Result<(), TooManyAlerts> {
        let mut new: Vec<u64> = alerts
            .iter()
            .map(Alert::fingerprint)
            .filter(|fp| !self.alerts.contains_key(fp))
            .collect();
        new.sort_unstable();
        new.dedup();
        let held = self.alerts.len();
        if held + new.len() > self.max_alerts {
            return Err(TooManyAlerts {
                held,
                new: new.len(),
                limit: self.max_alerts,
            });
        }
        Ok(())
    }

    /// Takes alerts in, as a rule engine sends them: an alert already held is updated
    /// (its start kept while it keeps firing), a missing `ends_at` becomes `now +
    /// resolve_timeout`.
    pub fn put(&mut self, alerts: impl IntoIterator<Item = Alert>, now: DateTime<Utc>) {
        let timeout = self.config.raw.global.resolve_timeout.to_chrono();
        for mut alert in alerts {
            let fp = fingerprint(&alert.labels);
            let is_timeout = alert.ends_at.is_none();
            if is_timeout {
                alert.ends_at = Some(crate::clock::later(now, timeout));
            }
            if let Some(old) = self.alerts.get(&fp) {
                // The same incident when the old one had not ended before the new start:
                // it keeps its first start.
                let old_end = old.alert.ends_at.unwrap_or(now);
                if alert.starts_at <= old_end && old.alert.starts_at < alert.starts_at {
                    alert.starts_at = old.alert.starts_at;
                }
            }
            let stored = StoredAlert {
                alert,
                timeout: is_timeout,
                updated_at: now,
            };
            self.alerts.insert(fp, stored);
            self.route(fp, now);
        }
    }

    /// Adds the alert to the groups of the routes it matches.
    fn route(&mut self, fp: u64, now: DateTime<Utc>) {
        let (Some(root), Some(stored)) = (&self.config.route, self.alerts.get(&fp)) else {
            return;
        };
        for route in root.matching(&stored.alert.labels) {
            let labels = route.group_by.group_labels(&stored.alert.labels);
            let group = self
                .groups
                .entry((route.id, fingerprint(&labels)))
                .or_insert_with(|| Group::new(route, labels, now));
            group.insert(fp, stored.alert.starts_at, route.group_wait, now);
        }
    }

    /// The earliest time a group is due, if any group exists: when to call
    /// [`tick`](Self::tick) next.
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        self.groups.values().map(|g| g.next_flush).min()
    }

    /// Flushes every group due at `now` and returns the notifications to deliver. Their
    /// notification-log entries are written now; report a delivery that finally failed
    /// with [`delivery_failed`](Self::delivery_failed) so the group is retried at its
    /// next flush.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<Notification> {
        let due: Vec<(usize, u64)> = self
            .groups
            .iter()
            .filter(|(_, g)| g.next_flush <= now)
            .map(|(k, _)| *k)
            .collect();
        let mut out = Vec::new();
        for key in due {
            self.flush(key, now, &mut out);
        }
        let grouped: BTreeSet<u64> = self
            .groups
            .values()
            .flat_map(|g| g.alerts.iter().copied())
            .collect();
        self.alerts
            .retain(|fp, a| grouped.contains(fp) || !a.alert.resolved_at(now));
        self.nflog.gc(now);
        self.silences.gc(now);
        out
    }

    fn flush(&mut self, key: (usize, u64), now: DateTime<Utc>, out: &mut Vec<Notification>) {
        let Some(group) = self.groups.get(&key) else {
            return;
        };
        let mut shown: Vec<AlertData> = Vec::new();
        let mut done: Vec<u64> = Vec::new();
        for fp in &group.alerts {
            let Some(stored) = self.alerts.get(fp) else {
                done.push(*fp);
                continue;
            };
            let resolved = stored.alert.resolved_at(now);
            if resolved {
                done.push(*fp);
            }
            if self.is_muted(&stored.alert, *fp, now) {
                continue;
            }
            shown.push(AlertData {
                resolved,
                alert: stored.alert.clone(),
                fingerprint: *fp,
            });
        }
        shown.sort_by(|a, b| {
            a.resolved
                .cmp(&b.resolved)
                .then_with(|| a.alert.labels.cmp(&b.alert.labels))
        });
        // A route closed by its time intervals notifies nothing and logs nothing; its
        // resolved alerts still leave the group (as in Alertmanager).
        if !shown.is_empty() && group.time_gate.closed_at(now).is_none() {
            self.notify(key, &shown, now, out);
        }
        if let Some(group) = self.groups.get_mut(&key) {
            for fp in done {
                group.alerts.remove(&fp);
            }
            if group.alerts.is_empty() {
                self.groups.remove(&key);
            } else {
                group.schedule_next(now);
            }
        }
    }

    fn notify(
        &mut self,
        key: (usize, u64),
        shown: &[AlertData],
        now: DateTime<Utc>,
        out: &mut Vec<Notification>,
    ) {
        let Some(group) = self.groups.get(&key) else {
            return;
        };
        let firing: BTreeSet<u64> = shown
            .iter()
            .filter(|a| !a.resolved)
            .map(|a| a.fingerprint)
            .collect();
        let resolved: BTreeSet<u64> = shown
            .iter()
            .filter(|a| a.resolved)
            .map(|a| a.fingerprint)
            .collect();
        let integrations = self
            .receivers
            .get(&group.receiver)
            .cloned()
            .unwrap_or_default();
        for integ in integrations {
            let nflog_key = format!("{}#{}|{}", group.key, group.route_id, integ.id);
            let entry = self.nflog.get(&nflog_key);
            if !NflogEntry::needs_update(
                entry,
                &firing,
                &resolved,
                integ.send_resolved,
                group.repeat_interval,
                now,
            ) {
                continue;
            }
            let logged = NflogEntry {
                firing: firing.clone(),
                resolved: resolved.clone(),
                timestamp: now,
            };
            let previous = self.nflog.log(nflog_key.clone(), logged);
            let mut alerts: Vec<AlertData> = shown
                .iter()
                .filter(|a| integ.send_resolved || !a.resolved)
                .cloned()
                .collect();
            if alerts.is_empty() {
                continue;
            }
            let mut truncated = 0;
            if integ.max_alerts > 0 && alerts.len() as u64 > integ.max_alerts {
                truncated = alerts.len() as u64 - integ.max_alerts;
                alerts.truncate(integ.max_alerts as usize);
            }
            out.push(Notification {
                integration: integ.id.clone(),
                data: NotificationData {
                    receiver: group.receiver.clone(),
                    alerts,
                    group_labels: group.labels.clone(),
                    group_key: group.key.clone(),
                    external_url: self.external_url.clone(),
                    truncated_alerts: truncated,
                },
                nflog_key,
                written_at: now,
                previous,
            });
        }
    }

    /// Reports that a notification could not be delivered (after its retries): its
    /// notification-log entry is undone, and the resolved alerts it carried (which left
    /// their group at the flush) are put back, so a flush sends it again: the group's
    /// next one, or at once for a group that had emptied.
    pub fn delivery_failed(&mut self, notification: &Notification, now: DateTime<Utc>) {
        self.nflog.undo(
            &notification.nflog_key,
            notification.written_at,
            notification.previous.clone(),
        );
        for a in notification.data.alerts.iter().filter(|a| a.resolved) {
            self.alerts
                .entry(a.fingerprint)
                .or_insert_with(|| StoredAlert {
                    alert: a.alert.clone(),
                    timeout: false,
                    updated_at: notification.written_at,
                });
            self.route(a.fingerprint, now);
        }
    }

    /// Whether an alert is silenced or inhibited at `now`.
    fn is_muted(&self, alert: &Alert, fp: u64, now: DateTime<Utc>) -> bool {
        !self.silences.muting(&alert.labels, now).is_empty()
            || !self.inhibitors(alert, fp, now).is_empty()
    }

    /// Fingerprints of the firing alerts that inhibit `alert`.
    fn inhibitors(&self, alert: &Alert, fp: u64, now: DateTime<Utc>) -> Vec<u64> {
        let mut out = Vec::new();
        for rule in &self.config.inhibit_rules {
            let firing = self
                .alerts
                .iter()
                .filter(|(_, a)| !a.alert.resolved_at(now))
                .map(|(f, a)| (&a.alert.labels, *f));
            if let Some(source) = rule.mutes(&alert.labels, fp, firing) {
                out.push(source);
            }
        }
        out
    }

    /// The alerts not resolved at `now`, with their status, by fingerprint.
    pub fn alerts(&self, now: DateTime<Utc>) -> Vec<AlertView> {
        self.alerts
            .iter()
            .filter(|(_, a)| !a.alert.resolved_at(now))
            .map(|(fp, a)| self.view(*fp, a, now))
            .collect()
    }

    /// The aggregation groups with their alerts not resolved at `now`; groups left
    /// without such alerts are omitted. Ordered as Alertmanager orders them: groups by
    /// label set (see [`label_set_before`]) then receiver, alerts by `job`, `instance`,
    /// then label set.
    pub fn alert_groups(&self, now: DateTime<Utc>) -> Vec<AlertGroupView> {
        let mut groups: Vec<AlertGroupView> = self
            .groups
            .values()
            .filter_map(|g| {
                let mut alerts: Vec<AlertView> = g
                    .alerts
                    .iter()
                    .filter_map(|fp| {
                        let a = self.alerts.get(fp)?;
                        (!a.alert.resolved_at(now)).then(|| self.view(*fp, a, now))
                    })
                    .collect();
                alerts.sort_by(|a, b| alert_order(&a.alert.labels, &b.alert.labels));
                (!alerts.is_empty()).then(|| AlertGroupView {
                    labels: g.labels.clone(),
                    receiver: g.receiver.clone(),
                    alerts,
                })
            })
            .collect();
        groups.sort_by(|a, b| {
            if a.labels == b.labels {
                a.receiver.cmp(&b.receiver)
            } else if label_set_before(&a.labels, &b.labels) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
        groups
    }

    fn view(&self, fp: u64, a: &StoredAlert, now: DateTime<Utc>) -> AlertView {
        AlertView {
            alert: a.alert.clone(),
            fingerprint: fp,
            updated_at: a.updated_at,
            receivers: self.receivers_for(&a.alert),
            silenced_by: self.silences.muting(&a.alert.labels, now),
            inhibited_by: self.inhibitors(&a.alert, fp, now),
        }
    }

    fn receivers_for(&self, alert: &Alert) -> Vec<String> {
        let Some(root) = &self.config.route else {
            return Vec::new();
        };
        let mut names: Vec<String> = root
            .matching(&alert.labels)
            .iter()
            .map(|r: &&Route| r.receiver.clone())
            .collect();
        names.dedup();
        names
    }

    /// The silences.
    pub fn silences(&self) -> &Silences {
        &self.silences
    }

    /// The silences, for changes.
    pub fn silences_mut(&mut self) -> &mut Silences {
        &mut self.silences
    }

    /// The notification log.
    pub fn nflog(&self) -> &Nflog {
        &self.nflog
    }

    /// The number of aggregation groups.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }
}

/// Alertmanager's order of label sets: fewer labels first; then, over the names of both
/// in order, the set lacking a name first, else the smaller value first.
pub fn label_set_before(a: &tally_model::Labels, b: &tally_model::Labels) -> bool {
    if a.len() != b.len() {
        return a.len() < b.len();
    }
    let mut names: Vec<&str> = a.iter().chain(b.iter()).map(|(n, _)| n).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        match (a.get(name), b.get(name)) {
            (None, _) => return true,
            (_, None) => return false,
            (Some(x), Some(y)) if x != y => return x < y,
            _ => {}
        }
    }
    false
}

/// Alertmanager's order of alerts in a group: by `job`, then `instance` (an alert with
/// the label before one without), then [`label_set_before`].
fn alert_order(a: &tally_model::Labels, b: &tally_model::Labels) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for key in ["job", "instance"] {
        match (a.get(key), b.get(key)) {
            (None, None) => {}
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    if a == b {
        Ordering::Equal
    } else if label_set_before(a, b) {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

fn receivers_of(config: &Config) -> HashMap<String, Vec<IntegrationInfo>> {
    config
        .raw
        .receivers
        .iter()
        .map(|r| (r.name.clone(), integrations(r)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> tally_model::Labels {
        tally_model::Labels::from_pairs(pairs.iter().copied()).unwrap_or_default()
    }

    #[test]
    fn label_sets_order_as_alertmanager_orders_them() {
        // Fewer labels first.
        assert!(label_set_before(
            &labels(&[("z", "z")]),
            &labels(&[("a", "a"), ("b", "b")])
        ));
        // Same length: the set lacking the first differing name first.
        let (ab, ac) = (
            labels(&[("a", "1"), ("b", "1")]),
            labels(&[("a", "1"), ("c", "1")]),
        );
        assert!(label_set_before(&ac, &ab));
        assert!(!label_set_before(&ab, &ac));
        // Same names: the smaller value first.
        assert!(label_set_before(
            &labels(&[("a", "1")]),
            &labels(&[("a", "2")])
        ));
        assert!(!label_set_before(
            &labels(&[("a", "1")]),
            &labels(&[("a", "1")])
        ));
    }

    #[test]
    fn alerts_order_by_job_then_instance_then_labels() {
        use std::cmp::Ordering;
        let web = labels(&[("alertname", "A"), ("job", "web")]);
        let api = labels(&[("alertname", "Z"), ("job", "api")]);
        assert_eq!(alert_order(&api, &web), Ordering::Less);
        let no_job = labels(&[("alertname", "A")]);
        assert_eq!(
            alert_order(&web, &no_job),
            Ordering::Less,
            "with a job first"
        );
        let i1 = labels(&[("instance", "1"), ("job", "api")]);
        let i2 = labels(&[("instance", "2"), ("job", "api")]);
        assert_eq!(alert_order(&i1, &i2), Ordering::Less);
        assert_eq!(alert_order(&i1, &i1), Ordering::Equal);
    }
}
