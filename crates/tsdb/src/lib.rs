//! `tally-tsdb`: the embedded time-series database behind the `tally-storage` traits.
//!
//! Samples arrive through an [`Appender`](tally_storage::Appender), are written to a
//! write-ahead log, and kept in a *head* of compressed chunks in memory; checkpoints move
//! sealed chunks, checkpoints of open chunks and rollups into one SQLite file, then drop
//! the log segments that held them. Reads go through a
//! [`Querier`](tally_storage::Querier) that merges memory with the store.
//!
//! # Layout
//!
//! - [`Db`] (`db.rs`): the database; appenders, queriers, [`Db::checkpoint`],
//!   [`Db::apply_retention`], rollup reads. Start here.
//! - `head.rs`, `head/append.rs`, `head/read.rs`, `head/checkpoint.rs`: the in-memory
//!   series, chunk cutting, reads, and what a checkpoint takes.
//! - [`index`]: label pairs interned and numbered, their postings (pair → sorted series ids),
//!   and matcher evaluation; the head keeps each series' labels as pair numbers.
//! - [`chunk`]: Gorilla-style XOR chunks (`docs/format/chunk.md`).
//! - [`wal`]: the write-ahead log (`docs/format/tsdb-wal.md`).
//! - [`store`]: the SQLite file (`docs/format/tsdb-store.md`).
//! - [`rollup`]: 1 minute and 1 hour buckets (count, sum, min, max, last).
//! - `memory.rs`: allocator arenas capped, freed heap pages returned after a checkpoint.
//!
//! # Example
//!
//! ```
//! use tally_model::{Labels, Sample};
//! use tally_storage::{Matcher, SelectHints, Storage};
//! use tally_tsdb::{Db, Options};
//!
//! let dir = tempfile::tempdir()?;
//! let (db, _report) = Db::open(Options::new(dir.path()))?;
//! let up = Labels::from_pairs([("__name__", "up"), ("job", "api")])?;
//! let now = (tally_tsdb::system_clock())(); // ms; older than the retention is refused
//! let mut app = db.appender();
//! app.append(&up, Sample::new(now, 1.0))?;
//! app.commit()?; // in the log: survives kill -9
//! db.checkpoint()?; // in SQLite; the log segment is gone
//!
//! let q = db.querier(now - 60_000, now)?;
//! let series = q.select(&[Matcher::equal("job", "api")], &SelectHints::default())?;
//! assert_eq!(series[0].samples, [Sample::new(now, 1.0)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod chunk;
mod db;
mod head;
pub mod index;
mod memory;
pub mod rollup;
pub mod store;
pub mod wal;

pub use db::{
    system_clock, CheckpointReport, Clock, Db, DbCounters, DbError, OpenReport, Options,
    RetentionReport,
};
pub use memory::limit_allocator_arenas;
