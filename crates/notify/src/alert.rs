//! [`Alert`]: an alert as Prometheus (or tally's rule engine) sends it, and its
//! fingerprint.

use chrono::{DateTime, Utc};
use tally_model::Labels;

/// An alert as a rule engine sends it. Firing alerts are re-sent on the engine's cadence
/// with `ends_at` a little in the future; a resolved alert carries its resolution time in
/// `ends_at`. An alert without `ends_at` resolves `resolve_timeout` after it was last
/// received (see [`GlobalConfig::resolve_timeout`](crate::config::GlobalConfig)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Identifying labels; their [`fingerprint`] identifies the alert.
    pub labels: Labels,
    /// Descriptive annotations (summary, description, runbook...).
    pub annotations: Labels,
    /// When the alert started firing.
    pub starts_at: DateTime<Utc>,
    /// When the alert resolves (resolved already when in the past); `None` when unknown.
    pub ends_at: Option<DateTime<Utc>>,
    /// Link back to the expression that produced the alert.
    pub generator_url: String,
}

impl Alert {
    /// A firing alert with these labels, starting at `starts_at`, with no annotations,
    /// end or generator URL: a convenience for tests and examples.
    pub fn firing(labels: Labels, starts_at: DateTime<Utc>) -> Self {
        Self {
            labels,
            annotations: Labels::new(),
            starts_at,
            ends_at: None,
            generator_url: String::new(),
        }
    }

    /// Whether the alert is resolved at `now`: it has an end that is not after `now`.
    pub fn resolved_at(&self, now: DateTime<Utc>) -> bool {
        self.ends_at.is_some_and(|end| end <= now)
    }

    /// The alert's fingerprint (see [`fingerprint`]).
    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.labels)
    }
}

/// The fingerprint Prometheus and Alertmanager give a label set: 64-bit FNV-1a over each
/// name and value in name order, each followed by the byte `0xff`. The same label set
/// therefore has the same fingerprint (printed as 16 hex digits) in tally and Alertmanager.
pub fn fingerprint(labels: &Labels) -> u64 {
    const OFFSET: u64 = 14_695_981_039_346_656_037;
    const PRIME: u64 = 1_099_511_628_211;
    let mut hash = OFFSET;
    let mut add = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    for (name, value) in labels.iter() {
        add(name.as_bytes());
        add(&[0xff]);
        add(value.as_bytes());
        add(&[0xff]);
    }
    hash
}

/// The fingerprint as Alertmanager prints it: 16 lower-case hex digits.
pub fn fingerprint_hex(fp: u64) -> String {
    format!("{fp:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_label_set_hashes_to_the_fnv_offset() {
        assert_eq!(fingerprint(&Labels::new()), 14_695_981_039_346_656_037);
    }

    #[test]
    fn fingerprint_depends_on_names_and_values() -> Result<(), tally_model::LabelsError> {
        let a = Labels::from_pairs([("alertname", "A"), ("job", "x")])?;
        let b = Labels::from_pairs([("job", "x"), ("alertname", "A")])?;
        let c = Labels::from_pairs([("alertname", "Aj"), ("ob", "x")])?;
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
        assert_eq!(fingerprint_hex(1), "0000000000000001");
        Ok(())
    }
}
