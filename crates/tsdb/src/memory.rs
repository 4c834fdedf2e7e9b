//! Giving freed heap memory back to the operating system after a checkpoint.
//!
//! A checkpoint frees what the head held since the previous one (sealed chunks, the
//! copies it wrote). glibc's allocator keeps freed memory in the arena of the thread that
//! used it and returns it to the system only from the top of each heap, so under a
//! remote_write load (requests decoded on many blocking threads, each with its arena)
//! resident memory grew to several times the live heap: measured with `tally bench
//! remote-write`, 93 MB resident for 16 MB in use. `malloc_trim(0)` walks every arena and
//! returns the free pages inside the heaps too (`madvise(MADV_DONTNEED)`).
//!
//! This is the crate's only `unsafe`: one call into the C library, which takes no
//! pointers and locks each arena itself. Elsewhere (other C libraries, other allocators)
//! it does nothing.

/// Returns free heap pages to the operating system (glibc only; otherwise nothing).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(crate) fn release_free_memory() {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> std::os::raw::c_int;
    }
    // SAFETY: `malloc_trim` has no preconditions: it reads no caller memory and takes the
    // allocator's locks itself, so it may run beside allocations on other threads.
    unsafe {
        malloc_trim(0);
    }
}

/// Returns free heap pages to the operating system (glibc only; otherwise nothing).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn release_free_memory() {}
