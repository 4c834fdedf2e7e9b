//! tally-model's integration tests: one binary, one module per concern.

mod corpus;
mod fuzz;
mod roundtrip;
