//! One gateway's thread: delivers spooled states of earlier processes, then the latest
//! snapshot, one request at a time, with backoff, `Retry-After` and a circuit breaker;
//! makes the final push when the pusher shuts down.
//!
//! Each gateway has its own thread and its own state here, so a slow or dead gateway
//! delays only itself.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::breaker::{Breaker, BreakerState};
use super::clock::unix_seconds;
use super::metrics::GatewayMetrics;
use super::retry::{classify, FailureReason, Outcome};
use super::scheduler::Snapshot;
use super::spool::{self, SpoolEntry};
use super::transport::PushRequest;
use super::{spool_final, FinalOutcome, Phase, Shared, Slot};

/// What a gateway thread sends next.
enum Item {
    /// The first spooled state of an earlier process (`Worker::spooled`'s front).
    Spooled,
    /// The current state of this process.
    Live(Arc<Snapshot>),
}

/// The state of one gateway's thread.
pub(crate) struct Worker {
    shared: Arc<Shared>,
    index: usize,
    gateway: String,
    url: String,
    metrics: GatewayMetrics,
    breaker: Breaker,
    rng: fastrand::Rng,
    spooled: VecDeque<(PathBuf, SpoolEntry)>,
    /// The highest snapshot sequence delivered (or given up on).
    done: u64,
    /// Consecutive retryable failures, for the backoff.
    failures: u32,
    /// No request before this (backoff or `Retry-After`).
    not_before: Option<Instant>,
    /// Whether `not_before` is the gateway's `Retry-After`.
    retry_after: bool,
}

impl Worker {
    /// The worker for gateway `index` of `shared`'s configuration.
    pub(crate) fn new(shared: Arc<Shared>, index: usize, metrics: GatewayMetrics) -> Self {
        let config = &shared.config;
        let gateway = config.gateways[index].clone();
        let url = format!("{gateway}{}", config.key.path());
        let rng = match config.seed {
            Some(seed) => fastrand::Rng::with_seed(seed.wrapping_add(index as u64)),
            None => fastrand::Rng::new(),
        };
        Self {
            breaker: Breaker::new(config.breaker_threshold, config.breaker_cool_down),
            shared,
            index,
            gateway,
            url,
            metrics,
            rng,
            spooled: VecDeque::new(),
            done: 0,
            failures: 0,
            not_before: None,
            retry_after: false,
        }
    }

    /// The thread's body: runs until the pusher stops.
    pub(crate) fn run(mut self) {
        self.load_spool();
        loop {
            let seen = self.shared.wakeup.generation();
            let (phase, latest) = {
                let state = self.shared.state.lock();
                (state.phase.clone(), state.latest.clone())
            };
            let latest = match phase {
                Phase::Stopped => return,
                Phase::Finishing { snapshot, deadline } => {
                    self.final_push(&snapshot, deadline);
                    return;
                }
                Phase::Running => latest,
            };
            let clock = &*self.shared.clock;
            let item = match self.spooled.front() {
                Some(_) => Item::Spooled,
                None => match latest {
                    Some(s) if s.sequence > self.done => Item::Live(s),
                    _ => {
                        clock.wait_until(&self.shared.wakeup, seen, None);
                        continue;
                    }
                },
            };
            let now = clock.now();
            let breaker_at = match self.breaker.state(now) {
                BreakerState::Open => self.breaker.allowed_at(),
                BreakerState::Closed | BreakerState::HalfOpen => None,
            };
            self.metrics.breaker(self.breaker.state(now));
            if let Some(at) = self.not_before.max(breaker_at).filter(|at| now < *at) {
                clock.wait_until(&self.shared.wakeup, seen, Some(at));
                continue;
            }
            self.attempt(item);
        }
    }

    fn load_spool(&mut self) {
        let Some(dir) = &self.shared.config.spool_dir else {
            return;
        };
        let scan = spool::read(
            dir,
            &self.shared.config.key.job,
            std::slice::from_ref(&self.gateway),
        );
        for problem in &scan.problems {
            log::warn!("tally pusher: {problem}");
        }
        self.spooled = scan.entries.into();
    }

    /// Sends `item` once and updates the backoff, breaker and metrics.
    fn attempt(&mut self, item: Item) {
        let config = &self.shared.config;
        let request = match (&item, self.spooled.front()) {
            (Item::Spooled, Some((_, entry))) => PushRequest {
                url: &entry.url,
                headers: &entry.headers,
                body: &entry.body,
            },
            (Item::Spooled, None) => return,
            (Item::Live(s), _) => PushRequest {
                url: &self.url,
                headers: &s.headers,
                body: &s.body,
            },
        };
        let url = request.url.to_owned();
        let result = self.shared.transport.put(&request, config.request_timeout);
        let done = match classify(result, self.shared.clock.system_time()) {
            Outcome::Success => {
                self.succeeded();
                true
            }
            Outcome::Failure {
                reason,
                retry_after,
                detail,
            } => self.failed(reason, retry_after, &detail, &url),
        };
        let now = self.shared.clock.now();
        self.metrics.breaker(self.breaker.state(now));
        if done {
            match item {
                Item::Spooled => {
                    if let Some((path, _)) = self.spooled.pop_front() {
                        if let Err(e) = spool::remove(&path) {
                            log::warn!("tally pusher: {e}");
                        }
                    }
                }
                Item::Live(s) => self.done = self.done.max(s.sequence),
            }
        }
    }

    fn succeeded(&mut self) {
        let clock = &*self.shared.clock;
        self.metrics.success(unix_seconds(clock.system_time()));
        if self.breaker.state(clock.now()) != BreakerState::Closed {
            log::info!("tally pusher: {} answers again", self.gateway);
        }
        self.breaker.on_success();
        self.failures = 0;
        self.not_before = None;
        self.retry_after = false;
    }

    /// Records a failed attempt; returns whether the item is done with (not retried).
    fn failed(
        &mut self,
        reason: FailureReason,
        retry_after: Option<Duration>,
        detail: &str,
        url: &str,
    ) -> bool {
        let config = &self.shared.config;
        let now = self.shared.clock.now();
        self.metrics.failure(reason);
        if reason.unhealthy() {
            let was = self.breaker.state(now);
            self.breaker.on_failure(now);
            match (was, self.breaker.state(now)) {
                (BreakerState::Closed, BreakerState::Open) => log::warn!(
                    "tally pusher: {} failed {} times in a row ({detail}); pausing it for {:?}",
                    self.gateway,
                    config.breaker_threshold,
                    config.breaker_cool_down
                ),
                (BreakerState::HalfOpen, _) => log::debug!(
                    "tally pusher: probe of {} failed ({detail}); pausing it again",
                    self.gateway
                ),
                _ => log::debug!("tally pusher: push to {url} failed: {detail}"),
            }
        } else {
            // A gateway that answers 4xx or 429 works.
            self.breaker.on_success();
        }
        if !reason.retryable() {
            log::warn!("tally pusher: {url} rejected the push ({detail}); not retrying it");
            self.failures = 0;
            self.not_before = None;
            self.retry_after = false;
            return true;
        }
        self.failures = self.failures.saturating_add(1);
        let wait =
            retry_after.unwrap_or_else(|| config.backoff.delay(self.failures, &mut self.rng));
        self.not_before = Some(now + wait);
        self.retry_after = retry_after.is_some();
        false
    }

    /// One attempt with the final snapshot, bounded by `deadline` (real time); spools it
    /// when that fails. Records the outcome unless `shutdown` gave up waiting first.
    fn final_push(&mut self, snapshot: &Snapshot, deadline: Instant) {
        let clock = &*self.shared.clock;
        let left = deadline.saturating_duration_since(Instant::now());
        let told_to_wait = self.retry_after && self.not_before.is_some_and(|at| clock.now() < at);
        let failure = if left.is_zero() {
            Some((
                FailureReason::Timeout,
                "no time left before the deadline".to_owned(),
            ))
        } else if told_to_wait {
            Some((
                FailureReason::Throttled,
                "the gateway asked to wait (Retry-After)".to_owned(),
            ))
        } else {
            let request = PushRequest {
                url: &self.url,
                headers: &snapshot.headers,
                body: &snapshot.body,
            };
            let timeout = left.min(self.shared.config.request_timeout);
            let result = self.shared.transport.put(&request, timeout);
            match classify(result, clock.system_time()) {
                Outcome::Success => None,
                Outcome::Failure { reason, detail, .. } => Some((reason, detail)),
            }
        };
        match self.shared.state.lock().outcomes.get_mut(self.index) {
            Some(slot @ Slot::Pending) => *slot = Slot::Claimed,
            // `shutdown` stopped waiting and took care of this gateway.
            _ => return,
        }
        let outcome = match failure {
            None => {
                self.metrics.success(unix_seconds(clock.system_time()));
                FinalOutcome::Pushed
            }
            Some((reason, detail)) => {
                self.metrics.failure(reason);
                spool_final(&self.shared, self.index, snapshot, detail)
            }
        };
        if let Some(slot) = self.shared.state.lock().outcomes.get_mut(self.index) {
            *slot = Slot::Done(outcome);
        }
        self.shared.wakeup.wake();
    }
}
