//! [`Nflog`]: the notification log. For each (group, integration) it remembers what the
//! last notification said (the fingerprints of its firing and resolved alerts) and when,
//! so a group is re-notified only when it changed or `repeat_interval` has passed, also
//! across restarts (the log is saved with the notifier's state).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

/// How long an entry is kept after it was written (Alertmanager's default retention).
pub const NFLOG_RETENTION: Duration = Duration::hours(120);

/// What was last sent for one group to one integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NflogEntry {
    /// Fingerprints of the firing alerts notified.
    pub firing: BTreeSet<u64>,
    /// Fingerprints of the resolved alerts notified.
    pub resolved: BTreeSet<u64>,
    /// When.
    pub timestamp: DateTime<Utc>,
}

impl NflogEntry {
    /// Whether a notification about `firing` and `resolved` is due, given this entry
    /// (`None`: nothing sent yet). Alertmanager's rules: notify when a firing alert is
    /// new; when everything resolved (to clear the receiver's view) if something was
    /// firing; when a resolved alert is new and resolved alerts are sent; else only when
    /// more than `repeat` has passed since the last notification.
    pub fn needs_update(
        entry: Option<&NflogEntry>,
        firing: &BTreeSet<u64>,
        resolved: &BTreeSet<u64>,
        send_resolved: bool,
        repeat: Duration,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(entry) = entry else {
            return !firing.is_empty();
        };
        if !firing.is_subset(&entry.firing) {
            return true;
        }
        if firing.is_empty() {
            return !entry.firing.is_empty();
        }
        if send_resolved && !resolved.is_subset(&entry.resolved) {
            return true;
        }
        // Strictly: Alertmanager logs after delivering, so a flush exactly one repeat
        // interval after the last one finds the interval not yet passed.
        crate::clock::later(entry.timestamp, repeat) < now
    }
}

/// Entries by key (group key, receiver and integration).
#[derive(Debug, Clone, Default)]
pub struct Nflog {
    pub(crate) entries: BTreeMap<String, NflogEntry>,
}

impl Nflog {
    /// The entry for `key`.
    pub fn get(&self, key: &str) -> Option<&NflogEntry> {
        self.entries.get(key)
    }

    /// Records a notification, returning the entry it replaces.
    pub fn log(&mut self, key: String, entry: NflogEntry) -> Option<NflogEntry> {
        self.entries.insert(key, entry)
    }

    /// Undoes [`log`](Self::log) after a failed delivery: puts `previous` back if the
    /// entry is still the one written at `written_at`.
    pub fn undo(&mut self, key: &str, written_at: DateTime<Utc>, previous: Option<NflogEntry>) {
        if self.entries.get(key).map(|e| e.timestamp) != Some(written_at) {
            return;
        }
        match previous {
            Some(p) => {
                self.entries.insert(key.to_owned(), p);
            }
            None => {
                self.entries.remove(key);
            }
        }
    }

    /// Forgets entries older than [`NFLOG_RETENTION`].
    pub fn gc(&mut self, now: DateTime<Utc>) {
        self.entries
            .retain(|_, e| crate::clock::later(e.timestamp, NFLOG_RETENTION) > now);
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn set(items: &[u64]) -> BTreeSet<u64> {
        items.iter().copied().collect()
    }

    #[test]
    fn alertmanager_dedup_rules() {
        let t0 = Utc.timestamp_opt(0, 0).single().unwrap_or_default();
        let repeat = Duration::hours(4);
        let needs = |e: Option<&NflogEntry>, f: &[u64], r: &[u64], sr: bool, now| {
            NflogEntry::needs_update(e, &set(f), &set(r), sr, repeat, now)
        };
        assert!(needs(None, &[1], &[], true, t0));
        assert!(!needs(None, &[], &[1], true, t0));
        let entry = NflogEntry {
            firing: set(&[1, 2]),
            resolved: set(&[]),
            timestamp: t0,
        };
        let e = Some(&entry);
        assert!(!needs(e, &[1, 2], &[], true, t0 + Duration::minutes(5)));
        assert!(!needs(e, &[1], &[], false, t0 + Duration::minutes(5)));
        assert!(needs(e, &[1], &[2], true, t0 + Duration::minutes(5)));
        assert!(needs(e, &[1, 2, 3], &[], true, t0 + Duration::minutes(5)));
        assert!(needs(e, &[], &[1, 2], false, t0 + Duration::minutes(5)));
        assert!(!needs(e, &[1, 2], &[], true, t0 + repeat));
        assert!(needs(
            e,
            &[1, 2],
            &[],
            true,
            t0 + repeat + Duration::seconds(1)
        ));
    }
}
