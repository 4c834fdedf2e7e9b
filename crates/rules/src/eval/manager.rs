//! [`Manager`]: the rule groups of the loaded files, evaluated on their schedule,
//! swapped on reload without losing alert state.
//!
//! # Locking
//!
//! The manager holds its list of groups under one mutex and each group under its own.
//! An evaluation locks only its group, so the HTTP API and reloads wait for at most one
//! group's evaluation. The list lock is never held while a group is evaluated, nor while
//! alerts are handed to the [`AlertSender`].

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tally_model::Labels;
use tally_promql::Engine;
use tally_storage::Storage;

use super::alert::Alert;
use super::group::{self, Group, GroupCounters};
use super::load::{load_rule_files, LoadError};
use super::restore::restore_for_state;
use super::rule::EvalEnv;
use super::send::{outgoing, AlertSender, OutgoingAlert};
use crate::file::RuleFile;
use tally_model::clock::Clock;

const MINUTE_MS: i64 = 60_000;

/// How a [`Manager`] runs. Build with [`ManagerConfig::new`] and adjust the fields.
pub struct ManagerConfig {
    /// Where rules read from and write to.
    pub storage: Arc<dyn Storage>,
    /// The PromQL engine.
    pub engine: Engine,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Where alerts go.
    pub sender: Arc<dyn AlertSender>,
    /// `$externalLabels` in templates, added to sent alerts where absent.
    pub external_labels: Labels,
    /// `$externalURL` in templates and the base of alerts' generator URLs.
    pub external_url: String,
    /// Interval of groups that set none (Prometheus' `evaluation_interval`): 1m.
    pub evaluation_interval_ms: i64,
    /// How far back `ALERTS_FOR_STATE` is read when restoring after a start: 1h.
    pub outage_tolerance_ms: i64,
    /// Alerts with a `for` shorter than this are not restored, and restored ones fire
    /// no sooner than this after the start: 10m.
    pub for_grace_period_ms: i64,
    /// Minimum time between two sends of the same firing alert: 1m.
    pub resend_delay_ms: i64,
    /// Restore alerts' `for` state from storage after the first load (a server): true.
    /// When false, alerting rules write `ALERTS` from their first evaluation and nothing
    /// is restored (what `promtool test rules` does).
    pub restore_state: bool,
}

impl std::fmt::Debug for ManagerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagerConfig")
            .field("external_labels", &self.external_labels)
            .field("external_url", &self.external_url)
            .field("evaluation_interval_ms", &self.evaluation_interval_ms)
            .field("outage_tolerance_ms", &self.outage_tolerance_ms)
            .field("for_grace_period_ms", &self.for_grace_period_ms)
            .field("resend_delay_ms", &self.resend_delay_ms)
            .field("restore_state", &self.restore_state)
            .finish_non_exhaustive()
    }
}

impl ManagerConfig {
    /// Prometheus' defaults over the given storage, clock and sender, with the default
    /// engine and no external labels or URL.
    pub fn new(
        storage: Arc<dyn Storage>,
        clock: Arc<dyn Clock>,
        sender: Arc<dyn AlertSender>,
    ) -> Self {
        Self {
            storage,
            engine: Engine::default(),
            clock,
            sender,
            external_labels: Labels::new(),
            external_url: String::new(),
            evaluation_interval_ms: MINUTE_MS,
            outage_tolerance_ms: 60 * MINUTE_MS,
            for_grace_period_ms: 10 * MINUTE_MS,
            resend_delay_ms: MINUTE_MS,
            restore_state: true,
        }
    }
}

/// A group's numbers for the server's own metrics and the API.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupStats {
    /// The file the group came from.
    pub file: String,
    /// The group's name.
    pub name: String,
    /// Its interval.
    pub interval_ms: i64,
    /// How many rules it has.
    pub rules: usize,
    /// When the last evaluation started (clock ms).
    pub last_evaluation_ms: Option<i64>,
    /// How long it took.
    pub last_duration: Duration,
    /// Counters, kept across reloads of the same group.
    pub counters: GroupCounters,
}

/// Series of removed groups, marked stale two intervals after removal (so a group that
/// was only renamed or moved has written its own samples first, and the late markers
/// are refused as out of order).
#[derive(Debug)]
struct PendingStale {
    series: Vec<Labels>,
    stale_at_ms: i64,
    due_ms: i64,
}

#[derive(Debug, Default)]
struct Inner {
    groups: Vec<Arc<Mutex<Group>>>,
    loaded_once: bool,
    pending_stale: Vec<PendingStale>,
    stopped: bool,
}

/// Runs rule groups. Share it as `Arc<Manager>`: `run` on one thread, `update` on
/// reload, the API functions from request handlers.
pub struct Manager {
    config: ManagerConfig,
    inner: Mutex<Inner>,
    wake: Condvar,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Manager {
    /// A manager with no groups.
    pub fn new(config: ManagerConfig) -> Self {
        Self {
            config,
            inner: Mutex::new(Inner::default()),
            wake: Condvar::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ManagerConfig {
        &self.config
    }

    /// Replaces the rule groups with those of `files` (parsed and valid; on a broken
    /// file the caller keeps the old rules by not calling this).
    ///
    /// A group with the same file, name and definition as before is kept as it is,
    /// schedule included. A changed group takes over the old one's state: evaluation
    /// times, counters, and per rule (matched by name and labels) the series it wrote
    /// and its active alerts. Series of rules that disappeared are marked stale at the
    /// group's next evaluation; series of groups that disappeared, two of their intervals
    /// from now. New groups are scheduled at their next slot. The first call (the
    /// start) also arranges for `for` state to be restored from storage, when
    /// [`ManagerConfig::restore_state`] is set.
    pub fn update(&self, files: Vec<RuleFile>) {
        let now = self.config.clock.now_ms();
        let mut inner = lock(&self.inner);
        let first = !inner.loaded_once;
        let restore = first && self.config.restore_state;
        let mut old: BTreeMap<(String, String), Arc<Mutex<Group>>> = BTreeMap::new();
        for g in inner.groups.drain(..) {
            let key = {
                let g = lock(&g);
                (g.file.clone(), g.name().to_owned())
            };
            old.insert(key, g);
        }
        let mut groups = Vec::new();
        for file in &files {
            for source in &file.groups {
                let key = (file.path.clone(), source.name.clone());
                if let Some(prev) = old.remove(&key) {
                    let same = lock(&prev).same_definition(
                        &file.path,
                        source,
                        self.config.evaluation_interval_ms,
                    );
                    if same {
                        groups.push(prev);
                        continue;
                    }
                    let prev = lock(&prev);
                    let mut g =
                        Group::new(&file.path, source, self.config.evaluation_interval_ms, true);
                    g.copy_state(&prev);
                    g.next_eval_ms = next_slot(&g, now);
                    groups.push(Arc::new(Mutex::new(g)));
                    continue;
                }
                let mut g = Group::new(
                    &file.path,
                    source,
                    self.config.evaluation_interval_ms,
                    !restore,
                );
                g.should_restore = restore;
                g.next_eval_ms = next_slot(&g, now);
                groups.push(Arc::new(Mutex::new(g)));
            }
        }
        for (_, g) in old {
            let g = lock(&g);
            inner.pending_stale.push(PendingStale {
                series: g.all_series(),
                stale_at_ms: now,
                due_ms: now + 2 * g.interval_ms,
            });
        }
        inner.groups = groups;
        inner.loaded_once = true;
        drop(inner);
        self.wake.notify_all();
    }

    /// Loads the rule files matching `patterns` and swaps them in with
    /// [`update`](Self::update). If any file cannot be read or is invalid, the running
    /// rules stay as they were and every error is returned (the server logs them and
    /// reports the reload as failed).
    pub fn reload(&self, patterns: &[String]) -> Result<(), Vec<LoadError>> {
        let files = load_rule_files(patterns)?;
        self.update(files);
        Ok(())
    }

    /// The earliest time something is due: a group evaluation or stale markers of a
    /// removed group. `None` with nothing loaded.
    pub fn next_due(&self) -> Option<i64> {
        let inner = lock(&self.inner);
        let groups = inner.groups.iter().map(|g| lock(g).next_eval_ms);
        let stale = inner.pending_stale.iter().map(|p| p.due_ms);
        groups.chain(stale).min()
    }

    /// Does everything due at `now_ms`: evaluates each group whose next evaluation time
    /// has come (at that time, aligned to its interval: iterations that were missed are
    /// counted and skipped, not caught up), sends alerts, restores `for` state after the
    /// second evaluation after a start, and writes due staleness markers.
    pub fn tick(&self, now_ms: i64) {
        let (due, stale) = {
            let mut inner = lock(&self.inner);
            let due: Vec<_> = inner
                .groups
                .iter()
                .filter(|g| lock(g).next_eval_ms <= now_ms)
                .cloned()
                .collect();
            let (stale, keep) = std::mem::take(&mut inner.pending_stale)
                .into_iter()
                .partition(|p| p.due_ms <= now_ms);
            inner.pending_stale = keep;
            (due, stale)
        };
        for p in stale {
            group::write_stale(self.config.storage.as_ref(), p.series, p.stale_at_ms);
        }
        for g in due {
            let batch = {
                let mut g = lock(&g);
                if g.next_eval_ms > now_ms {
                    continue;
                }
                let missed = (now_ms - g.next_eval_ms) / g.interval_ms;
                g.counters.iterations_missed += missed as u64;
                g.counters.iterations += missed as u64 + 1;
                let ts = g.next_eval_ms + missed * g.interval_ms;
                g.next_eval_ms = ts + g.interval_ms;
                let batch = self.eval_locked(&mut g, ts);
                if g.should_restore && g.evaluations_since_start >= 2 {
                    restore_for_state(
                        &mut g,
                        self.config.storage.as_ref(),
                        self.config.clock.now_ms(),
                        self.config.outage_tolerance_ms,
                        self.config.for_grace_period_ms,
                    );
                    g.should_restore = false;
                }
                batch
            };
            self.send(batch);
        }
    }

    /// Evaluates every group once at `ts`, in the order given by `order` (group names;
    /// groups not named keep their file order, before the named ones), ignoring the
    /// schedule. What `promtool test rules` does at each step.
    pub fn eval_all_at(&self, ts: i64, order: &[String]) {
        let groups = self.ordered_groups(order);
        for g in groups {
            let batch = self.eval_locked(&mut lock(&g), ts);
            self.send(batch);
        }
    }

    /// The groups in evaluation order for [`eval_all_at`](Self::eval_all_at).
    fn ordered_groups(&self, order: &[String]) -> Vec<Arc<Mutex<Group>>> {
        let mut groups: Vec<(usize, Arc<Mutex<Group>>)> = lock(&self.inner)
            .groups
            .iter()
            .map(|g| {
                let rank = order.iter().position(|n| n == lock(g).name()).unwrap_or(0);
                (rank, g.clone())
            })
            .collect();
        groups.sort_by_key(|(rank, _)| *rank);
        groups.into_iter().map(|(_, g)| g).collect()
    }

    /// Hands a batch to the sender, if it is not empty.
    fn send(&self, batch: Vec<OutgoingAlert>) {
        if !batch.is_empty() {
            self.config.sender.send(batch);
        }
    }

    /// Evaluates a locked group at `ts`; returns its alerts to send.
    fn eval_locked(&self, g: &mut Group, ts: i64) -> Vec<OutgoingAlert> {
        let env = EvalEnv {
            storage: self.config.storage.as_ref(),
            engine: &self.config.engine,
            external_labels: &self.config.external_labels,
            external_url: &self.config.external_url,
        };
        let now = self.config.clock.now_ms();
        let outcome = g.eval(&env, ts, now, self.config.resend_delay_ms);
        outcome
            .to_send
            .iter()
            .map(|(expr, a)| {
                outgoing(
                    a,
                    expr,
                    &self.config.external_labels,
                    &self.config.external_url,
                )
            })
            .collect()
    }

    /// Evaluates on the clock until [`stop`](Self::stop): a thin loop over
    /// [`tick`](Self::tick) and [`next_due`](Self::next_due) that waits on a condition
    /// variable (woken by `update` and `stop`). Blocks the calling thread; start it
    /// once storage is ready.
    pub fn run(&self) {
        loop {
            let now = self.config.clock.now_ms();
            self.tick(now);
            let next = self.next_due();
            let inner = lock(&self.inner);
            if inner.stopped {
                return;
            }
            let now = self.config.clock.now_ms();
            let wait_ms = next.map_or(1_000, |n| (n - now).clamp(0, 1_000));
            if wait_ms > 0 {
                let _ = self
                    .wake
                    .wait_timeout(inner, Duration::from_millis(wait_ms as u64));
            }
        }
    }

    /// Makes [`run`](Self::run) return (after the evaluation in progress, if any).
    pub fn stop(&self) {
        lock(&self.inner).stopped = true;
        self.wake.notify_all();
    }

    /// Every pending and firing alert (its `alertname` label names its rule), in group
    /// and rule order: for a dashboard; the API has [`api::alerts`](super::api::alerts).
    pub fn active_alerts(&self) -> Vec<Alert> {
        self.with_groups(|groups| {
            groups
                .iter()
                .flat_map(|g| g.rules.iter())
                .filter_map(|r| r.alerting())
                .flat_map(|a| a.active_alerts().cloned())
                .collect()
        })
    }

    /// Each group's numbers, in evaluation (file) order.
    pub fn stats(&self) -> Vec<GroupStats> {
        self.with_groups(|groups| {
            groups
                .iter()
                .map(|g| GroupStats {
                    file: g.file.clone(),
                    name: g.name().to_owned(),
                    interval_ms: g.interval_ms,
                    rules: g.rules.len(),
                    last_evaluation_ms: g.last_evaluation_ms,
                    last_duration: g.evaluation_duration,
                    counters: g.counters.clone(),
                })
                .collect()
        })
    }

    /// Runs `f` over the groups, each locked, in order.
    pub(crate) fn with_groups<R>(&self, f: impl FnOnce(&[&Group]) -> R) -> R {
        let arcs: Vec<Arc<Mutex<Group>>> = lock(&self.inner).groups.clone();
        let guards: Vec<MutexGuard<'_, Group>> = arcs.iter().map(|g| lock(g)).collect();
        let refs: Vec<&Group> = guards.iter().map(|g| &**g).collect();
        f(&refs)
    }
}

/// The group's first evaluation time after `now`: its slot in the interval (an offset
/// from a hash of its file and name, so groups spread out and keep their slot across
/// restarts), aligned to the interval.
fn next_slot(g: &Group, now_ms: i64) -> i64 {
    let interval = g.interval_ms.max(1);
    let offset = (slot_hash(&g.file, g.name()) % interval as u64) as i64;
    let adjusted = now_ms - offset;
    let base = adjusted - adjusted.rem_euclid(interval);
    base + offset + interval
}

/// FNV-1a over the file and the name.
fn slot_hash(file: &str, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in file.bytes().chain([0xff]).chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
