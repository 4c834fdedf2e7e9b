//! The `tally serve` process itself: how it sets up the C library before it starts.

use crate::support::server::Server;

/// `serve` re-executes itself once with glibc's per-thread caches of freed blocks turned
/// off (see `without_malloc_thread_cache` in `src/serve.rs`), keeping its process id, and
/// then serves as usual.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn serve_runs_without_glibc_thread_caches() {
    let server = Server::start();
    let environ = std::fs::read(format!("/proc/{}/environ", server.pid())).expect("environ");
    let tunables: Vec<&[u8]> = environ
        .split(|b| *b == 0)
        .filter(|v| v.starts_with(b"GLIBC_TUNABLES="))
        .collect();
    assert_eq!(tunables.len(), 1, "{:?}", String::from_utf8_lossy(&environ));
    let value = String::from_utf8_lossy(tunables[0]);
    assert!(value.contains("glibc.malloc.tcache_count=0"), "{value}");
    // Still the process that answered `/-/ready` (the harness waited for it): the same
    // id, now with its metrics.
    let metrics = ureq::get(&server.url("/metrics"))
        .call()
        .expect("metrics")
        .into_body()
        .read_to_string()
        .expect("body");
    assert!(metrics.contains("tally_"), "{metrics}");
}
