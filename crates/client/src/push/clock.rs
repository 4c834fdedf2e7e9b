//! [`Clock`]: the time the [`Pusher`](crate::Pusher) schedules by, real ([`SystemClock`])
//! or driven by a test ([`VirtualClock`]), and [`Wakeup`], what its threads wait on.
//!
//! Every wait of the pusher's threads goes through [`Clock::wait_until`], so with a
//! [`VirtualClock`] no pusher thread ever sleeps in real time: intervals, backoff,
//! `Retry-After` and the breaker's cool-down all elapse when the test advances the clock.
//! Only the HTTP request itself (its timeouts) and [`Pusher::shutdown`]'s deadline are in
//! real time, because they bound real I/O.
//!
//! [`Pusher::shutdown`]: crate::Pusher::shutdown

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of time for the pusher's scheduling.
///
/// Implementations must be cheap to call from several threads at once.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current monotonic time.
    fn now(&self) -> Instant;

    /// The current wall-clock time (for `*_timestamp_seconds` metrics and `Retry-After`
    /// HTTP dates).
    fn system_time(&self) -> SystemTime;

    /// Blocks until `wakeup`'s generation differs from `seen`, or until this clock reaches
    /// `deadline` (`None`: no deadline). May return early for no reason: callers re-check
    /// their condition and wait again.
    fn wait_until(&self, wakeup: &Wakeup, seen: u64, deadline: Option<Instant>);
}

/// A generation counter with a condition variable: a thread reads
/// [`generation`](Self::generation), checks its condition, then waits for the generation to
/// change, so a [`wake`](Self::wake) between the check and the wait is never lost.
/// Cloning is shallow (an `Arc` increment): clones wake and wait on the same counter.
#[derive(Clone, Default)]
pub struct Wakeup {
    inner: Arc<WakeupInner>,
}

#[derive(Default)]
struct WakeupInner {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl fmt::Debug for Wakeup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wakeup")
            .field("generation", &self.generation())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data behind these locks stays consistent even if a holder panicked.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Wakeup {
    /// A new counter at generation 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current generation.
    pub fn generation(&self) -> u64 {
        *lock(&self.inner.generation)
    }

    /// Moves to the next generation and wakes every waiter.
    pub fn wake(&self) {
        let mut generation = lock(&self.inner.generation);
        *generation = generation.wrapping_add(1);
        self.inner.changed.notify_all();
    }

    /// Blocks in real time until the generation differs from `seen` or `deadline` passes
    /// (`None`: no deadline). Returns whether the generation changed.
    pub fn wait(&self, seen: u64, deadline: Option<Instant>) -> bool {
        let mut generation = lock(&self.inner.generation);
        while *generation == seen {
            match deadline {
                None => {
                    generation = self
                        .inner
                        .changed
                        .wait(generation)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    generation = self
                        .inner
                        .changed
                        .wait_timeout(generation, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
        true
    }

    fn same(&self, other: &Weak<WakeupInner>) -> bool {
        std::ptr::eq(Arc::as_ptr(&self.inner), other.as_ptr())
    }
}

/// The real clock: [`Instant::now`], [`SystemTime::now`], condition-variable timeouts.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn system_time(&self) -> SystemTime {
        SystemTime::now()
    }

    fn wait_until(&self, wakeup: &Wakeup, seen: u64, deadline: Option<Instant>) {
        wakeup.wait(seen, deadline);
    }
}

/// A clock that moves only when [`advance`](Self::advance) is called, for tests.
///
/// Threads waiting through it block until woken or until the clock is advanced past their
/// deadline. [`settle`](Self::settle) waits until a given number of threads are blocked
/// on it with nothing left to do, so a test can advance time, let the pusher react, and
/// then assert on what happened without sleeping. Cloning is shallow: clones share the
/// same time.
#[derive(Clone)]
pub struct VirtualClock {
    inner: Arc<VirtualInner>,
}

struct VirtualInner {
    origin: Instant,
    wall_origin: SystemTime,
    state: Mutex<VirtualState>,
    /// Signalled whenever a thread starts or stops waiting, for `settle`.
    parked_changed: Condvar,
}

#[derive(Default)]
struct VirtualState {
    elapsed: Duration,
    /// Every wakeup a thread has waited on: advancing wakes them all.
    wakeups: Vec<Weak<WakeupInner>>,
    /// The threads blocked right now: their wakeup and the generation they wait to change.
    parked: Vec<(u64, Wakeup, u64)>,
    next_ticket: u64,
}

impl fmt::Debug for VirtualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.inner.state);
        f.debug_struct("VirtualClock")
            .field("elapsed", &state.elapsed)
            .field("parked", &state.parked.len())
            .finish()
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl VirtualClock {
    /// A clock at a fixed wall time (2024-01-01T00:00:00Z), so timestamps in tests are
    /// reproducible.
    pub fn new() -> Self {
        Self::at(UNIX_EPOCH + Duration::from_secs(1_704_067_200))
    }

    /// A clock whose [`system_time`](Clock::system_time) starts at `wall`.
    pub fn at(wall: SystemTime) -> Self {
        Self {
            inner: Arc::new(VirtualInner {
                origin: Instant::now(),
                wall_origin: wall,
                state: Mutex::new(VirtualState::default()),
                parked_changed: Condvar::new(),
            }),
        }
    }

    /// How far the clock has been advanced since it was made.
    pub fn elapsed(&self) -> Duration {
        lock(&self.inner.state).elapsed
    }

    /// Moves the clock forward by `by` and wakes every thread waiting on it.
    pub fn advance(&self, by: Duration) {
        let wakeups: Vec<Arc<WakeupInner>> = {
            let mut state = lock(&self.inner.state);
            state.elapsed += by;
            state.wakeups.retain(|w| w.strong_count() > 0);
            state.wakeups.iter().filter_map(Weak::upgrade).collect()
        };
        for inner in wakeups {
            Wakeup { inner }.wake();
        }
    }

    /// Blocks (in real time, at most `timeout`) until exactly `threads` threads are waiting
    /// on this clock and none of them has a wake-up pending: the pusher threads have done
    /// everything the current time allows. Returns `false` on timeout.
    pub fn settle(&self, threads: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.inner.state);
        loop {
            let idle = state.parked.len() == threads
                && state
                    .parked
                    .iter()
                    .all(|(_, wakeup, seen)| wakeup.generation() == *seen);
            if idle {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            // A thread with a wake-up pending leaves `parked` (and says so) soon.
            state = self
                .inner
                .parked_changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Instant {
        self.inner.origin + lock(&self.inner.state).elapsed
    }

    fn system_time(&self) -> SystemTime {
        self.inner.wall_origin + lock(&self.inner.state).elapsed
    }

    fn wait_until(&self, wakeup: &Wakeup, seen: u64, deadline: Option<Instant>) {
        let ticket = {
            let mut state = lock(&self.inner.state);
            // Checked under the lock that `advance` takes: an advance either happened
            // before (seen here) or wakes the wakeup registered here.
            if deadline.is_some_and(|d| self.inner.origin + state.elapsed >= d) {
                return;
            }
            if !state.wakeups.iter().any(|w| wakeup.same(w)) {
                state.wakeups.push(Arc::downgrade(&wakeup.inner));
            }
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.parked.push((ticket, wakeup.clone(), seen));
            ticket
        };
        self.inner.parked_changed.notify_all();
        wakeup.wait(seen, None);
        lock(&self.inner.state)
            .parked
            .retain(|(t, _, _)| *t != ticket);
        self.inner.parked_changed.notify_all();
    }
}

/// Seconds since the Unix epoch of `t`, as a float (0 before the epoch).
pub(crate) fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn a_wake_between_check_and_wait_is_not_lost() {
        let w = Wakeup::new();
        let seen = w.generation();
        w.wake();
        assert!(w.wait(seen, None), "returns at once: the generation moved");
        assert!(!w.wait(w.generation(), Some(Instant::now())));
    }

    #[test]
    fn virtual_waits_end_when_time_reaches_the_deadline() {
        let clock = VirtualClock::new();
        let start = clock.now();
        let wakeup = Wakeup::new();
        let waiter = {
            let (clock, wakeup) = (clock.clone(), wakeup.clone());
            thread::spawn(move || {
                let deadline = start + Duration::from_secs(10);
                while clock.now() < deadline {
                    clock.wait_until(&wakeup, wakeup.generation(), Some(deadline));
                }
                clock.now()
            })
        };
        assert!(clock.settle(1, Duration::from_secs(5)));
        clock.advance(Duration::from_secs(4));
        assert!(
            clock.settle(1, Duration::from_secs(5)),
            "still waiting at 4 s"
        );
        clock.advance(Duration::from_secs(6));
        let woke_at = waiter.join().unwrap();
        assert_eq!(woke_at - start, Duration::from_secs(10));
        assert!(clock.settle(0, Duration::from_secs(5)));
        assert_eq!(
            unix_seconds(clock.system_time()),
            1_704_067_200.0 + 10.0,
            "wall time moves with the clock"
        );
    }

    #[test]
    fn settle_sees_a_pending_wake() {
        let clock = VirtualClock::new();
        let wakeup = Wakeup::new();
        let seen = wakeup.generation();
        let waiter = {
            let (clock, wakeup) = (clock.clone(), wakeup.clone());
            thread::spawn(move || clock.wait_until(&wakeup, seen, None))
        };
        assert!(clock.settle(1, Duration::from_secs(5)));
        wakeup.wake();
        waiter.join().unwrap();
        assert!(clock.settle(0, Duration::from_secs(5)));
        assert!(!clock.settle(1, Duration::from_millis(20)), "nobody waits");
    }
}
