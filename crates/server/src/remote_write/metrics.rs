//! [`RemoteWriteMetrics`]: what the receiver counts about itself, in tally's own registry.

use tally::{Counter, Family, Registry};
use tally_storage::Rejection;

use super::error::WriteError;
use super::WriteStats;

/// The receiver's counters. Cloning is shallow (the counters are shared).
#[derive(Debug, Clone)]
pub struct RemoteWriteMetrics {
    /// Requests by answered status code (`204`, `400`, ...).
    pub requests: Family<Counter, 1>,
    /// Float samples in requests that could be decoded.
    pub samples_received: Counter,
    /// Samples stored.
    pub samples_appended: Counter,
    /// Samples identical to the newest of their series (a resent batch), accepted
    /// without change.
    pub samples_repeated: Counter,
    /// Samples refused, by reason: the store's (`out_of_order`, `duplicate_timestamp`,
    /// `too_old`, `missing_name`, `series_limit`) and whole requests'
    /// (`invalid_labels`, `request_limit`, `native_histogram`).
    pub samples_rejected: Family<Counter, 1>,
    /// Series created by remote_write.
    pub series_created: Counter,
    /// Exemplars received and ignored.
    pub exemplars_ignored: Counter,
    /// Metadata entries stored.
    pub metadata_applied: Counter,
    /// Metadata entries dropped (no name, too long, store full).
    pub metadata_dropped: Counter,
}

impl RemoteWriteMetrics {
    /// Registers the counters in `registry` (tally's own: the server's
    /// `ServerMetrics::registry`). Registering twice in one registry shares the counters.
    pub fn register(registry: &Registry) -> Result<Self, tally::RegistryError> {
        let r = registry;
        Ok(Self {
            requests: r.counter_family(
                "tally_remote_write_requests_total",
                "remote_write requests, by answered status code.",
                ["code"],
            )?,
            samples_received: r.counter(
                "tally_remote_write_samples_received_total",
                "Float samples in remote_write requests that could be decoded.",
            )?,
            samples_appended: r.counter(
                "tally_remote_write_samples_appended_total",
                "remote_write samples stored.",
            )?,
            samples_repeated: r.counter(
                "tally_remote_write_samples_repeated_total",
                "remote_write samples identical to the newest of their series, accepted without change.",
            )?,
            samples_rejected: r.counter_family(
                "tally_remote_write_samples_rejected_total",
                "remote_write samples refused, by reason.",
                ["reason"],
            )?,
            series_created: r.counter(
                "tally_remote_write_series_created_total",
                "Series created by remote_write.",
            )?,
            exemplars_ignored: r.counter(
                "tally_remote_write_exemplars_ignored_total",
                "Exemplars received over remote_write and ignored.",
            )?,
            metadata_applied: r.counter(
                "tally_remote_write_metadata_applied_total",
                "Metric metadata entries received over remote_write and stored.",
            )?,
            metadata_dropped: r.counter(
                "tally_remote_write_metadata_dropped_total",
                "Metric metadata entries dropped (no name, over the length limit, too many names).",
            )?,
        })
    }

    /// Counts one request's outcome.
    pub fn record(&self, result: &Result<WriteStats, WriteError>) {
        let status = match result {
            Ok(_) => axum::http::StatusCode::NO_CONTENT,
            Err(e) => e.status(),
        };
        self.requests.with(&[status.as_str()]).inc();
        match result {
            Ok(stats) => self.record_stats(stats),
            Err(WriteError::Refused { stats, .. }) => self.record_stats(stats),
            Err(e) => {
                if let Some((reason, samples)) = e.refused_samples() {
                    self.samples_received.inc_by(samples as u64);
                    self.samples_rejected.with(&[reason]).inc_by(samples as u64);
                }
            }
        }
    }

    fn record_stats(&self, stats: &WriteStats) {
        let a = &stats.append;
        self.samples_received.inc_by(stats.samples as u64);
        self.samples_appended.inc_by(a.appended);
        self.samples_repeated.inc_by(a.repeats);
        self.series_created.inc_by(a.new_series);
        for (reason, n) in Rejection::ALL.iter().zip(a.rejected) {
            if n > 0 {
                self.samples_rejected.with(&[reason.as_str()]).inc_by(n);
            }
        }
        self.exemplars_ignored
            .inc_by(stats.exemplars_ignored as u64);
        self.metadata_applied.inc_by(stats.metadata.applied as u64);
        self.metadata_dropped.inc_by(stats.metadata.dropped as u64);
    }
}
