//! [`Pusher`]: background threads that push a registry's cumulative state to one or more
//! gateways (tally or Prometheus Pushgateway), so short-lived and many-instance programs
//! need no scrape endpoint and no async runtime.
//!
//! # Layout
//!
//! - `push.rs` (this file): [`Pusher`], [`PusherGuard`], shutdown and its report.
//! - `push/config.rs`: [`PusherBuilder`], the `TALLY_*` environment, [`PushConfigError`].
//! - `push/scheduler.rs`: the scheduler thread; when to push, the snapshot a push sends.
//! - `push/worker.rs`: one thread per gateway: spool replay, retries, breaker, final push.
//! - `push/retry.rs`, `push/breaker.rs`: backoff with full jitter, `Retry-After`, the
//!   circuit breaker.
//! - `push/grouping.rs`: the grouping key and its `/metrics/job/...` URL path.
//! - `push/spool.rs`: final states kept on disk when the gateway is not there at exit.
//! - `push/transport.rs`: [`Transport`] and the real [`HttpTransport`].
//! - `push/clock.rs`: [`Clock`], [`SystemClock`], [`VirtualClock`] for tests.
//! - `push/metrics.rs`: the pusher's own `tally_pusher_*` metrics.
//!
//! The wire contract (URL, headers, body, status handling) is
//! `docs/format/push-protocol.md`; the spool files are `docs/format/push-spool.md`.
//!
//! # Threads and cost
//!
//! The instrumented code pays nothing: the scheduler thread samples
//! [`Registry::activity`] every `sample_interval` (one pass over the metrics) and gathers
//! the registry at most once per push; each gateway thread does its own I/O. A snapshot is
//! shared by all gateways; a gateway that is behind sends only the newest one (the state is
//! cumulative, so nothing is lost by skipping older ones).
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//!
//! let registry = tally::Registry::new();
//! let jobs = registry.counter("jobs_done", "Jobs done.")?;
//! let pusher = tally::Pusher::builder()
//!     .url("http://gateway:9091")
//!     .job("importer")
//!     .registry(registry)
//!     .spool_dir("/var/spool/importer")
//!     .start()?;
//! jobs.inc();
//! // At exit: one last push, or the spool if the gateway is away.
//! let report = pusher.shutdown(Duration::from_secs(5));
//! assert!(report.all_pushed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod breaker;
mod clock;
mod config;
mod grouping;
mod metrics;
mod retry;
mod scheduler;
mod spool;
mod transport;
mod worker;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

pub use clock::{Clock, SystemClock, VirtualClock, Wakeup};
pub use config::{PushConfigError, PusherBuilder};
pub use transport::{HttpTransport, PushRequest, PushResponse, Transport, TransportError};

use crate::Registry;
use config::{Parts, PushConfig};
use metrics::PusherMetrics;
use scheduler::Snapshot;
use spool::SpoolEntry;

/// How long [`Pusher::shutdown`] waits past its deadline for gateway threads that are
/// writing the final state to the spool.
const SPOOL_GRACE: Duration = Duration::from_secs(10);

/// Pushes a registry to gateways from background threads: every `max_wait`, earlier when
/// busy, with retries, a circuit breaker per gateway, and a final push at
/// [`shutdown`](Self::shutdown).
///
/// Made by [`Pusher::builder`] or [`Pusher::from_env`]. Dropping a `Pusher` without
/// `shutdown` stops its threads without a final push (a request in flight finishes within
/// its timeout); use [`PusherGuard`] to push on drop.
#[derive(Debug)]
pub struct Pusher {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// State shared by the caller and the pusher's threads.
#[derive(Debug)]
struct Shared {
    config: PushConfig,
    registry: Registry,
    clock: Arc<dyn Clock>,
    transport: Arc<dyn Transport>,
    metrics: PusherMetrics,
    process_start: f64,
    /// Woken on every change of `state`; threads wait on it through the clock.
    wakeup: Wakeup,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// The newest snapshot; gateway threads send it when newer than their last.
    latest: Option<Arc<Snapshot>>,
    /// [`Pusher::push_now`] was called.
    push_now: bool,
    /// The final push per gateway, filled during shutdown.
    outcomes: Vec<Slot>,
}

#[derive(Debug, Clone)]
enum Phase {
    Running,
    /// Shutting down: every gateway thread makes one attempt with `snapshot`.
    Finishing {
        snapshot: Arc<Snapshot>,
        deadline: Instant,
    },
    Stopped,
}

/// The final push of one gateway, as it progresses.
#[derive(Debug)]
enum Slot {
    Pending,
    /// Its thread or `shutdown` is finishing it (spooling); no one else may.
    Claimed,
    Done(FinalOutcome),
}

/// What became of the final state for one gateway.
#[derive(Debug)]
pub enum FinalOutcome {
    /// The gateway took it.
    Pushed,
    /// It was not pushed and is in the spool at this path.
    Spooled(PathBuf),
    /// It was not pushed and is lost: no spool directory, or writing it failed.
    Lost {
        /// Why the push failed, and the spool error if there was one.
        reason: String,
    },
}

/// What [`Pusher::shutdown`] did, per gateway.
#[derive(Debug)]
pub struct ShutdownReport {
    /// `(gateway URL, outcome)` in configuration order.
    pub gateways: Vec<(String, FinalOutcome)>,
}

impl ShutdownReport {
    /// Whether every gateway took the final state.
    pub fn all_pushed(&self) -> bool {
        self.gateways
            .iter()
            .all(|(_, o)| matches!(o, FinalOutcome::Pushed))
    }
}

impl Pusher {
    /// A builder with the defaults listed on [`PusherBuilder`].
    pub fn builder() -> PusherBuilder {
        PusherBuilder::default()
    }

    /// Starts a pusher of the [default registry](crate::default_registry) configured by
    /// the environment:
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `TALLY_PUSH_URL` | gateway base URLs, comma-separated (required) |
    /// | `TALLY_JOB` | the `job` label (required) |
    /// | `TALLY_INSTANCE` | the `instance` label (default `<host name>-<pid>`) |
    /// | `TALLY_PUSH_INTERVAL` | `max_wait`: `5s`, `500ms`, `1m` or plain seconds |
    /// | `TALLY_PUSH_MAX_ITEMS` | early push after this many updates (`0`: never) |
    /// | `TALLY_SPOOL_DIR` | the spool directory |
    /// | `TALLY_PUSH_TTL` | [`ttl`](PusherBuilder::ttl): `90s`, `15m`, ... |
    pub fn from_env() -> Result<Self, PushConfigError> {
        PusherBuilder::from_env()?.start()
    }

    fn start(parts: Parts) -> Result<Self, PushConfigError> {
        let metrics = PusherMetrics::register(&parts.registry)?;
        let gateways = parts.config.gateways.len();
        let shared = Arc::new(Shared {
            config: parts.config,
            registry: parts.registry,
            clock: parts.clock,
            transport: parts.transport,
            metrics,
            process_start: crate::process_start_time(),
            wakeup: Wakeup::new(),
            state: Mutex::new(State {
                phase: Phase::Running,
                latest: None,
                push_now: false,
                outcomes: (0..gateways).map(|_| Slot::Pending).collect(),
            }),
        });
        let mut pusher = Pusher {
            shared: shared.clone(),
            threads: Vec::with_capacity(gateways + 1),
        };
        let spawn = |name: String, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name)
                .spawn(f)
                .map_err(PushConfigError::Spawn)
        };
        for index in 0..gateways {
            let gateway_metrics = shared.metrics.gateway(&shared.config.gateways[index]);
            let worker = worker::Worker::new(shared.clone(), index, gateway_metrics);
            // On error `pusher` is dropped, which stops the threads already started.
            pusher.threads.push(spawn(
                format!("tally-push-{index}"),
                Box::new(move || worker.run()),
            )?);
        }
        let s = shared.clone();
        pusher.threads.push(spawn(
            "tally-pusher".into(),
            Box::new(move || scheduler::run(&s)),
        )?);
        Ok(pusher)
    }

    /// Takes a snapshot and pushes it now, without waiting for `max_wait` (returns at
    /// once; the push happens on the pusher's threads).
    pub fn push_now(&self) {
        self.shared.state.lock().push_now = true;
        self.shared.wakeup.wake();
    }

    /// The gateway base URLs, as normalised.
    pub fn gateways(&self) -> &[String] {
        &self.shared.config.gateways
    }

    /// Wraps the pusher so that dropping the guard calls [`shutdown`](Self::shutdown)
    /// with `deadline`.
    pub fn into_guard(self, deadline: Duration) -> PusherGuard {
        PusherGuard {
            pusher: self,
            deadline,
            finished: false,
        }
    }

    /// Stops pushing: takes a final snapshot and pushes it to every gateway at once, each
    /// with one attempt bounded by `deadline` (real time). For each gateway that did not
    /// take it — failure, `Retry-After` in force, or no answer by the deadline — the final
    /// state is written to the spool directory if there is one (that local write may end
    /// a little after the deadline). Spooled states of earlier processes not yet delivered
    /// stay in the spool. Threads still waiting for an answer at the deadline are left to
    /// finish on their own.
    pub fn shutdown(mut self, deadline: Duration) -> ShutdownReport {
        self.finish(deadline)
    }

    fn finish(&mut self, deadline: Duration) -> ShutdownReport {
        let shared = &*self.shared;
        let until = Instant::now() + deadline;
        let snapshot = Arc::new(Snapshot::take(
            &shared.registry,
            shared.process_start,
            shared.config.ttl,
        ));
        shared.state.lock().phase = Phase::Finishing {
            snapshot: snapshot.clone(),
            deadline: until,
        };
        shared.wakeup.wake();

        // Wait, in real time, for the gateway threads' outcomes.
        let late: Vec<usize> = loop {
            let seen = shared.wakeup.generation();
            let state = shared.state.lock();
            if state.outcomes.iter().all(|s| matches!(s, Slot::Done(_))) {
                break Vec::new();
            }
            drop(state);
            if Instant::now() >= until {
                let mut state = shared.state.lock();
                let late = (0..state.outcomes.len())
                    .filter(|&i| matches!(state.outcomes[i], Slot::Pending))
                    .collect();
                for &i in &late {
                    state.outcomes[i] = Slot::Claimed;
                }
                break late;
            }
            shared.wakeup.wait(seen, Some(until));
        };
        for index in late {
            let outcome = spool_final(
                shared,
                index,
                &snapshot,
                "no answer before the shutdown deadline".into(),
            );
            shared.state.lock().outcomes[index] = Slot::Done(outcome);
        }
        // Threads that claimed a slot are writing the spool: local I/O, waited for (up to
        // SPOOL_GRACE, in case a thread died).
        let grace = Instant::now() + SPOOL_GRACE;
        loop {
            let seen = shared.wakeup.generation();
            let state = shared.state.lock();
            if state.outcomes.iter().all(|s| matches!(s, Slot::Done(_))) {
                break;
            }
            drop(state);
            if !shared.wakeup.wait(seen, Some(grace)) {
                break;
            }
        }
        let outcomes = {
            let mut state = shared.state.lock();
            state.phase = Phase::Stopped;
            std::mem::take(&mut state.outcomes)
        };
        shared.wakeup.wake();
        // Join the threads that are done; leave those still in a request.
        for handle in std::mem::take(&mut self.threads) {
            if handle.is_finished() {
                let _ = handle.join();
            }
        }
        ShutdownReport {
            gateways: shared
                .config
                .gateways
                .iter()
                .cloned()
                .zip(outcomes.into_iter().map(|slot| match slot {
                    Slot::Done(outcome) => outcome,
                    Slot::Pending | Slot::Claimed => FinalOutcome::Lost {
                        reason: "the gateway thread did not finish writing the spool".into(),
                    },
                }))
                .collect(),
        }
    }
}

impl Drop for Pusher {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.phase = Phase::Stopped;
        drop(state);
        self.shared.wakeup.wake();
    }
}

/// Writes the final `snapshot` for gateway `index` to the spool, if there is one.
fn spool_final(shared: &Shared, index: usize, snapshot: &Snapshot, why: String) -> FinalOutcome {
    let config = &shared.config;
    let gateway = &config.gateways[index];
    let Some(dir) = &config.spool_dir else {
        log::warn!("tally pusher: final push to {gateway} failed ({why}); no spool directory, the final state is lost");
        return FinalOutcome::Lost { reason: why };
    };
    let entry = SpoolEntry {
        gateway: gateway.clone(),
        url: format!("{gateway}{}", config.key.path()),
        job: config.key.job.clone(),
        process_start: shared.process_start,
        sequence: snapshot.sequence,
        headers: snapshot.headers.clone(),
        body: snapshot.body.clone(),
    };
    match spool::write(dir, &entry) {
        Ok(path) => {
            shared.metrics.spooled(gateway);
            log::warn!(
                "tally pusher: final push to {gateway} failed ({why}); spooled to {}",
                path.display()
            );
            FinalOutcome::Spooled(path)
        }
        Err(e) => {
            log::warn!("tally pusher: final push to {gateway} failed ({why}) and {e}");
            FinalOutcome::Lost {
                reason: format!("{why}; {e}"),
            }
        }
    }
}

/// Shuts its [`Pusher`] down with a deadline when dropped: a final push, or the spool.
/// Keep it alive for as long as the program should push (e.g. in `main`).
#[derive(Debug)]
pub struct PusherGuard {
    pusher: Pusher,
    deadline: Duration,
    finished: bool,
}

impl PusherGuard {
    /// The pusher, e.g. for [`Pusher::push_now`].
    pub fn pusher(&self) -> &Pusher {
        &self.pusher
    }

    /// Shuts down now rather than on drop, and returns the report.
    pub fn shutdown(mut self) -> ShutdownReport {
        self.finished = true;
        self.pusher.finish(self.deadline)
    }
}

impl Drop for PusherGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.finished = true;
            self.pusher.finish(self.deadline);
        }
    }
}
