//! Striped atomic cells: how updates from many threads avoid sharing a cache line.
//!
//! A metric keeps one cache-line-padded cell per *stripe*; each thread is assigned a stripe
//! once (round-robin, on its first update) and adds to that stripe's cell only. Readers sum
//! the stripes. With at least as many stripes as cores, two threads updating the same
//! counter never bounce a cache line between cores, which is what makes contended updates
//! scale. The stripe count is the number of available cores rounded up to a power of two,
//! capped at [`MAX_STRIPES`].

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

use crossbeam_utils::CachePadded;

/// Upper bound on stripes per metric (memory per counter is 64 bytes per stripe).
pub const MAX_STRIPES: usize = 16;

/// Number of stripes every striped metric uses (a power of two).
pub(crate) fn stripe_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .next_power_of_two()
            .min(MAX_STRIPES)
    })
}

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: usize = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed);
}

/// This thread's stripe number (unbounded; callers mask it).
#[inline]
pub(crate) fn thread_stripe() -> usize {
    STRIPE.with(|s| *s)
}

/// A `u64` sum spread over per-stripe cells.
#[derive(Debug)]
pub(crate) struct StripedU64 {
    cells: Box<[CachePadded<AtomicU64>]>,
}

impl StripedU64 {
    pub(crate) fn new() -> Self {
        Self {
            cells: (0..stripe_count())
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
        }
    }

    /// Adds `n` to this thread's cell. Wraps on overflow (after 2^64 increments).
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        let i = thread_stripe() & (self.cells.len() - 1);
        self.cells[i].fetch_add(n, Ordering::Relaxed);
    }

    /// The sum over all cells. Not a snapshot: concurrent adds may or may not be included.
    pub(crate) fn sum(&self) -> u64 {
        self.cells
            .iter()
            .fold(0u64, |acc, c| acc.wrapping_add(c.load(Ordering::Relaxed)))
    }
}

/// Adds `delta` to an `f64` stored as bits in `cell`, with a compare-and-swap loop.
#[inline]
pub(crate) fn add_f64(cell: &AtomicU64, delta: f64) {
    let mut current = cell.load(Ordering::Relaxed);
    loop {
        let new = (f64::from_bits(current) + delta).to_bits();
        match cell.compare_exchange_weak(current, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => current = actual,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_across_threads() {
        let s = std::sync::Arc::new(StripedU64::new());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        s.add(1);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(s.sum(), 40_000);
    }

    #[test]
    fn adds_floats() {
        let cell = AtomicU64::new(0f64.to_bits());
        add_f64(&cell, 1.5);
        add_f64(&cell, -0.25);
        assert_eq!(f64::from_bits(cell.load(Ordering::Relaxed)), 1.25);
    }
}
