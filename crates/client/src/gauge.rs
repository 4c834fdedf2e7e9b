//! [`Gauge`]: a value that goes up and down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::stripe::add_f64;

/// A current value: temperature, queue depth, calls in flight.
///
/// One `f64` in an atomic cell: [`set`](Self::set) is a single store, and
/// [`add`](Self::add) / [`inc`](Self::inc) / [`dec`](Self::dec) a compare-and-swap loop,
/// so every update is atomic and none is lost. Cloning is shallow (a reference-count
/// increment); clones update the same gauge.
#[derive(Debug, Clone)]
pub struct Gauge {
    cell: Arc<AtomicU64>,
}

impl Default for Gauge {
    fn default() -> Self {
        Self::new()
    }
}

impl Gauge {
    /// A gauge at zero, not registered anywhere.
    pub fn new() -> Self {
        Self {
            cell: Arc::new(AtomicU64::new(0f64.to_bits())),
        }
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, v: f64) {
        self.cell.store(v.to_bits(), Ordering::Relaxed);
    }

    /// Adds `v` (may be negative).
    #[inline]
    pub fn add(&self, v: f64) {
        add_f64(&self.cell, v);
    }

    /// Subtracts `v`.
    #[inline]
    pub fn sub(&self, v: f64) {
        add_f64(&self.cell, -v);
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.cell.load(Ordering::Relaxed))
    }

    /// Sets the value to the current Unix time in seconds.
    pub fn set_to_current_time(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.set(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goes_up_and_down() {
        let g = Gauge::new();
        g.inc();
        g.inc();
        g.dec();
        g.add(2.5);
        g.sub(0.5);
        assert_eq!(g.get(), 3.0);
        g.set(-7.0);
        assert_eq!(g.clone().get(), -7.0);
    }

    #[test]
    fn concurrent_updates_are_not_lost() {
        let g = Gauge::new();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..5000 {
                        g.inc();
                    }
                });
            }
        });
        assert_eq!(g.get(), 20_000.0);
    }
}
