//! `tally-tsdb`: the embedded time-series database behind the `tally-storage` traits.
//!
//! (Being built; see `ARCHITECTURE.md`.)

#![warn(missing_docs)]

pub mod chunk;
pub mod wal;
