//! Keeping resident memory close to the live heap: fewer allocator arenas, and freed pages
//! given back to the operating system after a checkpoint.
//!
//! A checkpoint frees what the head held since the previous one (sealed chunks, the
//! copies it wrote). glibc's allocator keeps freed memory in the arena of the thread that
//! used it and returns it to the system only from the top of each heap, so under a
//! remote_write load (requests decoded on many blocking threads, each with its arena)
//! resident memory grew to several times the live heap: measured with `tally bench
//! remote-write`, 93 MB resident for 16 MB in use. `malloc_trim(0)` walks every arena and
//! returns the free pages inside the heaps too (`madvise(MADV_DONTNEED)`).
//!
//! A server that writes should also cap glibc's arenas at one per core (its default is
//! eight per core) with [`limit_allocator_arenas`], first thing: each request's
//! short-lived buffers land in the arena of the thread that decodes it, and fewer arenas
//! reuse each other's freed memory instead of each growing to the load's peak. That is a
//! process-wide setting, so the library leaves it to the binary (`tally serve` does it). Measured with the same bench on 2 cores: 77 MB resident
//! after the load with the default, 44 MB with 2 arenas, ingest rate unchanged within the
//! machine's noise (437,000 and 450,000 samples/s).
//!
//! These are the crate's only `unsafe` code: calls into the C library that take no
//! pointers and lock the allocator themselves. Elsewhere (other C libraries, other
//! allocators) they do nothing.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod glibc {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> std::os::raw::c_int;
        fn mallopt(param: std::os::raw::c_int, value: std::os::raw::c_int) -> std::os::raw::c_int;
    }

    /// `M_ARENA_MAX` from glibc's `malloc.h`.
    const M_ARENA_MAX: std::os::raw::c_int = -8;

    pub(super) fn trim() {
        // SAFETY: `malloc_trim` has no preconditions: it reads no caller memory and takes
        // the allocator's locks itself, so it may run beside allocations on other threads.
        unsafe {
            malloc_trim(0);
        }
    }

    pub(super) fn arena_max(n: usize) {
        let n = std::os::raw::c_int::try_from(n).unwrap_or(std::os::raw::c_int::MAX);
        // SAFETY: as above; `mallopt` only sets a tunable, under the allocator's lock.
        unsafe {
            mallopt(M_ARENA_MAX, n);
        }
    }
}

/// Caps the allocator's arenas at one per core (glibc only; otherwise nothing). Process
/// wide; later calls change nothing.
///
/// The database does not call it (it would change the whole process's allocator behind
/// its user's back), and the cap only applies to arenas created afterwards: a server that
/// starts its async runtime first has 3–4 arenas on 2 cores by then. A binary that will
/// write should call this first, before it starts threads, as `tally serve` does. Measured with `tally bench remote-write` (10,000
/// series, 2 cores, three alternating runs each, the cap set from the start with
/// `MALLOC_ARENA_MAX=2`): mean RSS during the load 40.8–42.6 MB against 44.7–46.4, peak
/// 51.8–53.1 against 58.5–60.2, after it 32.9–33.9 against 33.2–36.4.
pub fn limit_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            glibc::arena_max(cores.max(2));
        });
    }
}

/// Returns free heap pages to the operating system (glibc only; otherwise nothing).
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    glibc::trim();
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_allocator_calls_may_be_repeated_from_any_thread() {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    super::limit_allocator_arenas();
                    let v = vec![0u8; 1 << 20];
                    drop(v);
                    super::release_free_memory();
                })
            })
            .collect();
        for t in threads {
            assert!(t.join().is_ok());
        }
    }
}
