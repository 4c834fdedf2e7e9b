//! [`Counter`]: a monotonically increasing total.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;

use crate::stripe::{add_f64, new_stripes, this_stripe};

/// A total that only goes up: requests served, bytes sent, errors seen.
///
/// Each thread adds to its own stripe (a cache line no other core writes, see `stripe.rs`):
/// integer increments ([`inc`](Self::inc), [`inc_by`](Self::inc_by)) to the stripe's
/// integer cell with one relaxed atomic add, fractional ones
/// ([`inc_by_f64`](Self::inc_by_f64)) to its float cell. The value is the sum over
/// stripes. Cloning is shallow: an atomic reference-count increment, and every clone
/// updates the same counter.
#[derive(Debug, Clone)]
pub struct Counter {
    cells: Arc<[CachePadded<Cell>]>,
}

#[derive(Debug, Default)]
struct Cell {
    int: AtomicU64,
    /// An `f64`, as bits (0 is `0.0`).
    float: AtomicU64,
}

impl Default for Counter {
    fn default() -> Self {
        Self::new()
    }
}

impl Counter {
    /// A counter at zero, not registered anywhere (see [`Registry`](crate::Registry)).
    pub fn new() -> Self {
        Self {
            cells: new_stripes(Cell::default),
        }
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds `n`. Wraps on overflow (after 2^64 increments).
    #[inline]
    pub fn inc_by(&self, n: u64) {
        this_stripe(&self.cells).int.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds a fractional amount. Negative, NaN and infinite amounts are ignored: a counter
    /// never goes down.
    pub fn inc_by_f64(&self, v: f64) {
        if v > 0.0 && v.is_finite() {
            add_f64(&this_stripe(&self.cells).float, v);
        }
    }

    /// The current total. Not a snapshot: concurrent increments may or may not be
    /// included.
    pub fn get(&self) -> f64 {
        let float: f64 = self
            .cells
            .iter()
            .map(|c| f64::from_bits(c.float.load(Ordering::Relaxed)))
            .sum();
        self.get_u64() as f64 + float
    }

    /// The integer part of the total (what [`inc`](Self::inc) and [`inc_by`](Self::inc_by)
    /// added).
    pub fn get_u64(&self) -> u64 {
        self.cells.iter().fold(0u64, |acc, c| {
            acc.wrapping_add(c.int.load(Ordering::Relaxed))
        })
    }

    /// Whether two handles update the same counter.
    pub fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.cells, &other.cells)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_integers_and_fractions() {
        let c = Counter::new();
        c.inc();
        c.inc_by(4);
        c.inc_by_f64(0.5);
        c.inc_by_f64(-3.0);
        c.inc_by_f64(f64::NAN);
        assert_eq!(c.get(), 5.5);
        assert_eq!(c.get_u64(), 5);
        let clone = c.clone();
        clone.inc();
        assert_eq!(c.get(), 6.5);
        assert!(c.same_as(&clone));
        assert!(!c.same_as(&Counter::new()));
    }
}
