//! Striped atomic cells: how updates from many threads avoid sharing a cache line.
//!
//! A metric keeps one cache-line-padded cell per *stripe*; each thread is assigned a stripe
//! once (round-robin, on its first update) and adds to that stripe's cell only. Readers sum
//! the stripes. With at least as many stripes as cores, two threads updating the same
//! counter never bounce a cache line between cores, which is what makes contended updates
//! scale. The stripe count is the number of available cores rounded up to a power of two,
//! capped at [`MAX_STRIPES`].

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crossbeam_utils::CachePadded;

/// Upper bound on stripes per metric (a counter takes one `CachePadded` cell per stripe:
/// 128 bytes on x86-64, where crossbeam pads to two lines for the adjacent-line prefetcher).
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

/// One `T` per stripe, each on its own cache line, in a single allocation: the handle to a
/// striped metric is this one pointer, so an update is one dependent load away from its
/// cell.
pub(crate) fn new_stripes<T>(mut make: impl FnMut() -> T) -> Arc<[CachePadded<T>]> {
    (0..stripe_count())
        .map(|_| CachePadded::new(make()))
        .collect()
}

/// This thread's cell among `cells` (made by [`new_stripes`], so a power-of-two count).
#[inline]
pub(crate) fn this_stripe<T>(cells: &[CachePadded<T>]) -> &T {
    &cells[thread_stripe() & (cells.len() - 1)]
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
    fn threads_add_to_their_own_stripes() {
        let cells = new_stripes(|| AtomicU64::new(0));
        assert!(cells.len().is_power_of_two());
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        this_stripe(&cells).fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        let sum: u64 = cells.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        assert_eq!(sum, 40_000);
    }

    #[test]
    fn adds_floats() {
        let cell = AtomicU64::new(0f64.to_bits());
        add_f64(&cell, 1.5);
        add_f64(&cell, -0.25);
        assert_eq!(f64::from_bits(cell.load(Ordering::Relaxed)), 1.25);
    }
}
