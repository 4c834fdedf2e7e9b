//! The `tally` client crate's integration tests: one binary, one module per concern.

// Helpers outside `#[test]` functions fail the test loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod measured;
mod middleware;
mod push;
