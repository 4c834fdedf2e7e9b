//! [`Appender`]: writing a batch of samples, and the ordering rule every store shares.
//!
//! # The ordering rule
//!
//! Each series is append-only in time. For a sample at `t` and the series' newest stored
//! sample at `last` (including samples appended earlier in the same batch):
//!
//! - `t > last`: appended.
//! - `t == last` with the same value, bit for bit: a repeat (a retried remote_write batch,
//!   say). Accepted, changes nothing, counted in [`AppendStats::repeats`].
//! - `t == last` with another value: rejected, [`Rejection::DuplicateTimestamp`].
//! - `t < last`: rejected, [`Rejection::OutOfOrder`].
//!
//! A rejected sample does not spoil the batch: the other samples still commit, and the
//! caller decides what to answer (the remote_write receiver answers `400`, which senders
//! do not retry, after committing the rest). Prometheus without its out-of-order window
//! behaves the same per sample.

use tally_model::{Labels, Sample};

use crate::StorageError;

/// Why one sample was refused. The batch it was in carries on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// Older than the newest sample of its series.
    OutOfOrder,
    /// Same timestamp as the newest sample of its series, different value.
    DuplicateTimestamp,
    /// Older than the store keeps (before the retention horizon).
    TooOld,
    /// The label set cannot name a series: no `__name__`.
    MissingName,
    /// Creating the series would exceed the store's series limit.
    SeriesLimit,
}

impl Rejection {
    /// Every reason, for metrics that count each one.
    pub const ALL: [Rejection; 5] = [
        Rejection::OutOfOrder,
        Rejection::DuplicateTimestamp,
        Rejection::TooOld,
        Rejection::MissingName,
        Rejection::SeriesLimit,
    ];

    /// A short machine-readable name (`out_of_order`, ...), used as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::OutOfOrder => "out_of_order",
            Rejection::DuplicateTimestamp => "duplicate_timestamp",
            Rejection::TooOld => "too_old",
            Rejection::MissingName => "missing_name",
            Rejection::SeriesLimit => "series_limit",
        }
    }
}

/// A sample an [`Appender`] refused, with what a user needs to find it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} sample for series {labels} at {timestamp_ms}{}", reason.as_str().replace('_', " "),
        newest_ms.map(|n| format!(" (newest sample at {n})")).unwrap_or_default())]
pub struct AppendError {
    /// Why.
    pub reason: Rejection,
    /// The series.
    pub labels: Labels,
    /// The refused sample's timestamp.
    pub timestamp_ms: i64,
    /// The series' newest timestamp, when the reason is about order.
    pub newest_ms: Option<i64>,
}

/// What a committed batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendStats {
    /// Samples stored.
    pub appended: u64,
    /// Samples identical to the newest of their series, accepted without change.
    pub repeats: u64,
    /// Series that did not exist before this batch.
    pub new_series: u64,
    /// Refused samples by reason, in [`Rejection::ALL`] order.
    pub rejected: [u64; 5],
}

impl AppendStats {
    /// Refused samples in all.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }

    /// Counts one refusal.
    pub fn reject(&mut self, reason: Rejection) {
        let i = Rejection::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.rejected[i] += 1;
    }

    /// Counts a refusal and returns the error that names it.
    pub fn refuse(
        &mut self,
        reason: Rejection,
        labels: &Labels,
        sample: Sample,
        newest: Option<Sample>,
    ) -> AppendError {
        self.reject(reason);
        AppendError {
            reason,
            labels: labels.clone(),
            timestamp_ms: sample.timestamp_ms,
            newest_ms: newest.map(|s| s.timestamp_ms),
        }
    }

    /// Adds another batch's counts to these.
    pub fn add(&mut self, other: &AppendStats) {
        self.appended += other.appended;
        self.repeats += other.repeats;
        self.new_series += other.new_series;
        for (a, b) in self.rejected.iter_mut().zip(other.rejected) {
            *a += b;
        }
    }
}

/// What [`check_order`] decided for a sample that is not refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Newer than the series' newest sample: store it.
    Append,
    /// Identical to the newest sample: nothing to store.
    Repeat,
}

/// The ordering rule of this module, for a series whose newest sample is `newest`.
pub fn check_order(newest: Option<Sample>, sample: Sample) -> Result<Accepted, Rejection> {
    let Some(newest) = newest else {
        return Ok(Accepted::Append);
    };
    match sample.timestamp_ms.cmp(&newest.timestamp_ms) {
        std::cmp::Ordering::Greater => Ok(Accepted::Append),
        std::cmp::Ordering::Equal if sample.value.to_bits() == newest.value.to_bits() => {
            Ok(Accepted::Repeat)
        }
        std::cmp::Ordering::Equal => Err(Rejection::DuplicateTimestamp),
        std::cmp::Ordering::Less => Err(Rejection::OutOfOrder),
    }
}

/// A batch of samples for a [`Storage`](crate::Storage).
///
/// Samples appended are invisible to queriers until [`commit`](Appender::commit), which
/// makes them visible and, for a durable store, durable: when `commit` returns `Ok`, the
/// batch survives a crash of the process. Dropping an appender without committing
/// discards the batch.
pub trait Appender: Send {
    /// Adds one sample. A refused sample returns its reason and leaves the rest of the
    /// batch as it was.
    fn append(&mut self, labels: &Labels, sample: Sample) -> Result<(), AppendError>;

    /// Adds one sample to the series whose label set is `pairs`, which must be in the form
    /// a [`Labels`] holds: sorted by name, names non-empty and unique, values non-empty.
    /// Otherwise the same as [`append`](Self::append); a store that already holds the
    /// series can find it without building a label set (the remote_write receiver
    /// borrows the pairs from the request body, so a known series costs no allocation).
    ///
    /// The default builds the label set and calls `append`. Pairs not in that form are a
    /// caller's bug: the default then appends to the empty label set, which a store
    /// refuses ([`Rejection::MissingName`]).
    fn append_pairs(&mut self, pairs: &[(&str, &str)], sample: Sample) -> Result<(), AppendError> {
        let labels = Labels::from_pairs(pairs.iter().copied()).unwrap_or_default();
        self.append(&labels, sample)
    }

    /// Makes the batch visible and durable, and says what it did (refusals included).
    fn commit(self: Box<Self>) -> Result<AppendStats, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_rule() {
        let newest = Some(Sample::new(10, 1.0));
        assert_eq!(check_order(None, Sample::new(0, 1.0)), Ok(Accepted::Append));
        assert_eq!(
            check_order(newest, Sample::new(11, 0.0)),
            Ok(Accepted::Append)
        );
        assert_eq!(
            check_order(newest, Sample::new(10, 1.0)),
            Ok(Accepted::Repeat)
        );
        assert_eq!(
            check_order(newest, Sample::new(10, 2.0)),
            Err(Rejection::DuplicateTimestamp)
        );
        assert_eq!(
            check_order(newest, Sample::new(9, 1.0)),
            Err(Rejection::OutOfOrder)
        );
        // A repeat is by bits: the staleness marker is not an ordinary NaN.
        let stale = Some(Sample::stale(10));
        assert_eq!(check_order(stale, Sample::stale(10)), Ok(Accepted::Repeat));
        assert_eq!(
            check_order(stale, Sample::new(10, f64::NAN)),
            Err(Rejection::DuplicateTimestamp)
        );
    }

    #[test]
    fn error_message_names_series_and_times() {
        let e = AppendError {
            reason: Rejection::OutOfOrder,
            labels: Labels::from_pairs([("__name__", "up")]).unwrap(),
            timestamp_ms: 5,
            newest_ms: Some(9),
        };
        let s = e.to_string();
        assert!(
            s.contains("out of order") && s.contains("up") && s.contains("9"),
            "{s}"
        );
    }
}
