//! [`Counter`]: a monotonically increasing total.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::stripe::{add_f64, StripedU64};

/// A total that only goes up: requests served, bytes sent, errors seen.
///
/// Integer increments ([`inc`](Self::inc), [`inc_by`](Self::inc_by)) go to a striped
/// integer cell (one relaxed atomic add on a cache line no other core writes); fractional
/// increments ([`inc_by_f64`](Self::inc_by_f64)) go to a separate float cell. The value is
/// their sum. Cloning is shallow: an atomic reference-count increment, and every clone
/// updates the same counter.
#[derive(Debug, Clone)]
pub struct Counter {
    core: Arc<CounterCore>,
}

#[derive(Debug)]
struct CounterCore {
    int: StripedU64,
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
            core: Arc::new(CounterCore {
                int: StripedU64::new(),
                float: AtomicU64::new(0f64.to_bits()),
            }),
        }
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.core.int.add(1);
    }

    /// Adds `n`.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.core.int.add(n);
    }

    /// Adds a fractional amount. Negative, NaN and infinite amounts are ignored: a counter
    /// never goes down.
    pub fn inc_by_f64(&self, v: f64) {
        if v > 0.0 && v.is_finite() {
            add_f64(&self.core.float, v);
        }
    }

    /// The current total.
    pub fn get(&self) -> f64 {
        self.core.int.sum() as f64 + f64::from_bits(self.core.float.load(Ordering::Relaxed))
    }

    /// The integer part of the total (what [`inc`](Self::inc) and [`inc_by`](Self::inc_by)
    /// added).
    pub fn get_u64(&self) -> u64 {
        self.core.int.sum()
    }

    /// Whether two handles update the same counter.
    pub fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.core, &other.core)
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
