//! `tally-storage`: the seam between everything that writes samples and everything that
//! reads them.
//!
//! The gateway's sampler, the remote_write receiver and the rule evaluator write through an
//! [`Appender`]; the PromQL engine, the HTTP API and the CLI read through a [`Querier`].
//! Neither side knows which [`Storage`] is behind it: the embedded TSDB (`tally-tsdb`) in
//! the server, [`MemStorage`] in tests. That is what lets the query engine be tested
//! against an in-memory fake (Prometheus' `storage.Queryable` plays the same role).
//!
//! # Layout
//!
//! - [`Matcher`] (`matcher.rs`): a label matcher (`=`, `!=`, `=~`, `!~`) with Prometheus'
//!   semantics (regexes fully anchored; an absent label matches the empty string).
//! - [`Appender`], [`AppendError`], [`Rejection`] (`append.rs`): a batch of samples that
//!   becomes visible and durable together on [`Appender::commit`], with the one
//!   ordering rule every implementation shares ([`append::check_order`]).
//! - [`Querier`], [`Series`], [`SelectHints`] (`query.rs`): series selection over a time
//!   range, label names and values.
//! - [`MemStorage`] (`memory.rs`): the reference implementation, a sorted map under a lock.
//!
//! # Example
//!
//! ```
//! use tally_model::{Labels, Sample};
//! use tally_storage::{MemStorage, Matcher, SelectHints, Storage};
//!
//! let db = MemStorage::new();
//! let up = Labels::from_pairs([("__name__", "up"), ("job", "api")])?;
//! let mut app = db.appender();
//! app.append(&up, Sample::new(1_000, 1.0))?;
//! app.append(&up, Sample::new(16_000, 0.0))?;
//! app.commit()?;
//!
//! let q = db.querier(0, 20_000)?;
//! let series = q.select(&[Matcher::equal("job", "api")], &SelectHints::default())?;
//! assert_eq!(series[0].samples.len(), 2);
//! assert_eq!(q.label_values("job", &[])?, ["api"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod append;
mod matcher;
mod memory;
mod query;

pub use append::{AppendError, AppendStats, Appender, Rejection};
pub use matcher::{MatchOp, Matcher, MatcherError};
pub use memory::MemStorage;
pub use query::{Querier, SelectHints, Series};

/// A failure of the store itself (I/O, corruption, a closed database), as opposed to a
/// sample the store refused ([`AppendError`]).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Reading or writing the store's files failed.
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Stored data could not be decoded; `what` names the file, table or record.
    #[error("corrupt data in {what}: {reason}")]
    Corrupt {
        /// Where the damage is.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A query would load more than the caller allowed ([`SelectHints::max_samples`]).
    #[error("query would load more than {limit} samples")]
    TooManySamples {
        /// The limit that was reached.
        limit: usize,
    },
    /// Any other failure of the backing store, with its message.
    #[error("storage: {0}")]
    Other(String),
}

/// A place samples are written to and read from.
///
/// Implementations are shared between threads (`Send + Sync`); each appender and querier
/// borrows the store.
pub trait Storage: Send + Sync {
    /// A new batch of appends. Nothing is visible to queriers until it is committed.
    fn appender(&self) -> Box<dyn Appender + '_>;

    /// A reader of the samples with timestamps in `[mint_ms, maxt_ms]` (both inclusive).
    fn querier(&self, mint_ms: i64, maxt_ms: i64) -> Result<Box<dyn Querier + '_>, StorageError>;
}
