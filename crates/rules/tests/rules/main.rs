//! Integration tests of `tally-rules`, one binary for the crate.

// Test helpers outside `#[test]` functions fail the test by panicking.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod corpus;
mod eval;
mod robustness;
mod unittests;
