//! Bounded fuzzing of the parser with proptest (placeholder, being written).
