//! [`Notifier`]: the handle the server holds. It owns the [`Dispatcher`] (behind one
//! mutex), the delivery worker threads, the forwarders to external Alertmanagers, the
//! state file and the statistics, and runs the dispatcher's timers from a thread of its
//! own ([`Notifier::start`]) or from the caller ([`Notifier::tick`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::{Condvar, Mutex, RwLock};

use crate::alert::Alert;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::deliver::{DeliverError, Deliverer, RetryPolicy};
use crate::dispatch::{AlertView, Dispatcher, Notification, TooManyAlerts};
use crate::forward::{ForwardOptions, Forwarder};
use crate::integration::IntegrationId;
use crate::silence::{Silence, SilenceError, SilenceInput};
use crate::state::{StateError, StateStore};
use crate::stats::Stats;

/// The outcome of delivering one notification: where it went and whether it arrived.
pub type Delivery = (IntegrationId, Result<(), DeliverError>);

/// How a [`Notifier`] runs.
#[derive(Debug, Clone)]
pub struct NotifierOptions {
    /// Where the state file lives; `None` keeps state in memory only.
    pub data_dir: Option<PathBuf>,
    /// The link notifications carry back to tally (`externalURL`).
    pub external_url: String,
    /// Where time comes from.
    pub clock: Arc<dyn Clock>,
    /// Retrying failed deliveries.
    pub retry: RetryPolicy,
    /// Delivery worker threads.
    pub workers: usize,
    /// Forwarding to external Alertmanagers.
    pub forward: ForwardOptions,
    /// The most alerts held; a batch that would pass it is refused whole.
    pub max_alerts: usize,
}

impl Default for NotifierOptions {
    /// In memory, wall clock, default retries, 4 workers, 100,000 alerts.
    fn default() -> Self {
        Self {
            data_dir: None,
            external_url: String::new(),
            clock: Arc::new(SystemClock),
            retry: RetryPolicy::default(),
            workers: 4,
            forward: ForwardOptions::default(),
            max_alerts: crate::dispatch::DEFAULT_MAX_ALERTS,
        }
    }
}

/// Why a notifier could not start or save.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    /// The state file could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// A thread could not be started.
    #[error("starting a notifier thread: {0}")]
    Thread(std::io::Error),
}

struct Stop {
    flag: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
}

impl Stop {
    /// Waits up to `wait`; returns whether the notifier is stopping.
    fn wait(&self, wait: Duration) -> bool {
        let mut guard = self.lock.lock();
        if !self.flag.load(Ordering::SeqCst) {
            self.cv.wait_for(&mut guard, wait);
        }
        self.flag.load(Ordering::SeqCst)
    }
}

struct Inner {
    dispatcher: Mutex<Dispatcher>,
    dirty: AtomicBool,
    clock: Arc<dyn Clock>,
    stats: Stats,
    deliverer: RwLock<Deliverer>,
    jobs: Mutex<Option<Sender<Notification>>>,
    forwarder: RwLock<Forwarder>,
    store: Option<StateStore>,
    save_lock: Mutex<()>,
    stop: Arc<Stop>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    options: NotifierOptions,
    started_at: DateTime<Utc>,
}

/// The notifier. Cloning is cheap (one `Arc`); every clone drives the same state.
/// Methods lock the dispatcher briefly; deliveries happen on worker threads and never
/// hold that lock while talking to the network. Call [`shutdown`](Self::shutdown) to
/// stop cleanly and save the state; dropping the last handle without it stops the
/// threads too, but does not wait for them or save.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

impl Notifier {
    /// Builds a notifier: loads the saved state from the data directory (alerts,
    /// notification log, silences), starts the delivery workers and the forwarders.
    /// Timers only run when [`start`](Self::start) is called or [`tick`](Self::tick) is.
    pub fn new(config: Config, options: NotifierOptions) -> Result<Self, NotifierError> {
        let now = options.clock.now();
        let stats = Stats::default();
        let mut dispatcher = Dispatcher::new(config.clone(), options.external_url.clone());
        dispatcher.set_max_alerts(options.max_alerts);
        let store = match &options.data_dir {
            Some(dir) => {
                let store = StateStore::open(dir)?;
                store.load_into(&mut dispatcher, now)?;
                Some(store)
            }
            None => None,
        };
        let forwarder = Forwarder::start(
            &config.raw.alertmanagers,
            options.forward,
            options.retry,
            stats.clone(),
        );
        let (tx, rx) = mpsc::channel();
        let inner = Arc::new(Inner {
            dispatcher: Mutex::new(dispatcher),
            dirty: AtomicBool::new(false),
            clock: options.clock.clone(),
            stats: stats.clone(),
            deliverer: RwLock::new(Deliverer::new(config, stats, options.retry)),
            jobs: Mutex::new(Some(tx)),
            forwarder: RwLock::new(forwarder),
            store,
            save_lock: Mutex::new(()),
            stop: Arc::new(Stop {
                flag: AtomicBool::new(false),
                lock: Mutex::new(()),
                cv: Condvar::new(),
            }),
            threads: Mutex::new(Vec::new()),
            options,
            started_at: now,
        });
        let notifier = Self { inner };
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..notifier.inner.options.workers.max(1) {
            let (weak, rx) = (Arc::downgrade(&notifier.inner), rx.clone());
            notifier.spawn("tally-notify-deliver", move || work(&weak, &rx))?;
        }
        Ok(notifier)
    }

    fn spawn(&self, name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), NotifierError> {
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .map_err(NotifierError::Thread)?;
        self.inner.threads.lock().push(handle);
        Ok(())
    }

    /// Delivers one notification with retries, undoing its log entry on failure.
    fn deliver(&self, n: &Notification) -> Result<(), DeliverError> {
        let deliverer = self.inner.deliverer.read().clone();
        let result = deliverer.deliver(n, &|wait| self.inner.stop.wait(wait));
        if result.is_err() {
            let now = self.now();
            self.inner.dispatcher.lock().delivery_failed(n, now);
            self.inner.dirty.store(true, Ordering::SeqCst);
        }
        result
    }

    /// The current time of the notifier's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Takes alerts in (from the rule engine, or `POST /api/v2/alerts`): they are
    /// routed and grouped, and queued for every external Alertmanager. A batch whose new
    /// alerts would pass [`NotifierOptions::max_alerts`] is refused whole.
    pub fn put(&self, alerts: Vec<Alert>) -> Result<(), TooManyAlerts> {
        let now = self.now();
        {
            let mut d = self.inner.dispatcher.lock();
            d.check_room(&alerts)?;
            self.inner.forwarder.read().enqueue(&alerts);
            d.put(alerts, now);
        }
        self.inner.dirty.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Runs the timers due now: the notifications due are handed to the delivery
    /// workers, and the state is saved when it changed. Returns how many notifications
    /// were queued.
    pub fn tick(&self) -> Result<usize, NotifierError> {
        let due = self.flush()?;
        let count = due.len();
        if let Some(tx) = self.inner.jobs.lock().as_ref() {
            for n in due {
                let _ = tx.send(n);
            }
        }
        Ok(count)
    }

    /// Like [`tick`](Self::tick), but delivers in the calling thread and returns each
    /// outcome: for tests and tools that must know when delivery is done.
    pub fn tick_blocking(&self) -> Result<Vec<Delivery>, NotifierError> {
        let due = self.flush()?;
        let out = due
            .iter()
            .map(|n| (n.integration.clone(), self.deliver(n)))
            .collect();
        self.save_if_dirty()?;
        Ok(out)
    }

    fn flush(&self) -> Result<Vec<Notification>, NotifierError> {
        let now = self.now();
        let due = self.inner.dispatcher.lock().tick(now);
        if !due.is_empty() {
            self.inner.dirty.store(true, Ordering::SeqCst);
        }
        self.save_if_dirty()?;
        Ok(due)
    }

    /// Saves the state if anything changed since the last save.
    pub fn save_if_dirty(&self) -> Result<(), NotifierError> {
        if self.inner.dirty.swap(false, Ordering::SeqCst) {
            if let Err(e) = self.save() {
                self.inner.dirty.store(true, Ordering::SeqCst);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Saves the state. The snapshot is taken under the dispatcher's lock, the disk is
    /// written after it is released; `save_lock` keeps concurrent saves in order, so an
    /// older snapshot never replaces a newer one.
    fn save(&self) -> Result<(), NotifierError> {
        if let Some(store) = &self.inner.store {
            let _order = self.inner.save_lock.lock();
            let now = self.now();
            let bytes = store.snapshot(&self.inner.dispatcher.lock(), now)?;
            store.write(&bytes)?;
        }
        Ok(())
    }

    /// Starts a thread that calls [`tick`](Self::tick) every `period` (1 s is a good
    /// value: timers are then late by at most that), until [`shutdown`](Self::shutdown).
    pub fn start(&self, period: Duration) -> Result<(), NotifierError> {
        let (weak, stop) = (Arc::downgrade(&self.inner), self.inner.stop.clone());
        self.spawn("tally-notify-timer", move || {
            while !stop.wait(period) {
                let Some(inner) = weak.upgrade() else { return };
                if let Err(e) = (Notifier { inner }).tick() {
                    tracing::error!(error = %e, "notifier tick failed");
                }
            }
        })
    }

    /// Stops the timer thread, the workers (a delivery in progress gives up at its next
    /// retry) and the forwarders, waits for them, and saves the state.
    pub fn shutdown(&self) -> Result<(), NotifierError> {
        self.inner.stop.flag.store(true, Ordering::SeqCst);
        {
            let _guard = self.inner.stop.lock.lock();
            self.inner.stop.cv.notify_all();
        }
        self.inner.jobs.lock().take();
        self.inner.forwarder.read().shutdown();
        let threads: Vec<_> = self.inner.threads.lock().drain(..).collect();
        for handle in threads {
            let _ = handle.join();
        }
        self.inner.dirty.store(true, Ordering::SeqCst);
        self.save_if_dirty()
    }

    /// Replaces the configuration (routes, receivers, inhibition, forwarding targets);
    /// alerts, the notification log and silences are kept.
    pub fn reload(&self, config: Config) {
        let now = self.now();
        let stats = self.inner.stats.clone();
        *self.inner.deliverer.write() =
            Deliverer::new(config.clone(), stats.clone(), self.inner.options.retry);
        let forwarder = Forwarder::start(
            &config.raw.alertmanagers,
            self.inner.options.forward,
            self.inner.options.retry,
            stats,
        );
        let old = std::mem::replace(&mut *self.inner.forwarder.write(), forwarder);
        old.shutdown();
        self.inner.dispatcher.lock().set_config(config, now);
    }

    /// When this notifier was built.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.inner.started_at
    }

    /// The configuration in force.
    pub fn config(&self) -> Config {
        self.inner.dispatcher.lock().config().clone()
    }

    /// The alerts not resolved now, with their silences and inhibitions.
    pub fn alerts(&self) -> Vec<AlertView> {
        let now = self.now();
        self.inner.dispatcher.lock().alerts(now)
    }

    /// The aggregation groups with their unresolved alerts (`/api/v2/alerts/groups`).
    pub fn alert_groups(&self) -> Vec<crate::dispatch::AlertGroupView> {
        let now = self.now();
        self.inner.dispatcher.lock().alert_groups(now)
    }

    /// Every silence (expired ones for a while too).
    pub fn silences(&self) -> Vec<Silence> {
        self.inner
            .dispatcher
            .lock()
            .silences()
            .list()
            .cloned()
            .collect()
    }

    /// One silence.
    pub fn silence(&self, id: &str) -> Option<Silence> {
        self.inner.dispatcher.lock().silences().get(id).cloned()
    }

    /// Creates or updates a silence and saves the state before returning its id, so an
    /// acknowledged silence survives a crash.
    pub fn upsert_silence(&self, input: SilenceInput) -> Result<String, SilenceChangeError> {
        let now = self.now();
        let id = self
            .inner
            .dispatcher
            .lock()
            .silences_mut()
            .upsert(input, now)?;
        self.inner.dirty.store(true, Ordering::SeqCst);
        self.save_if_dirty()?;
        Ok(id)
    }

    /// Expires a silence now and saves the state.
    pub fn expire_silence(&self, id: &str) -> Result<(), SilenceChangeError> {
        let now = self.now();
        self.inner
            .dispatcher
            .lock()
            .silences_mut()
            .expire(id, now)?;
        self.inner.dirty.store(true, Ordering::SeqCst);
        self.save_if_dirty()?;
        Ok(())
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// Appends the notifier's metrics (counters, plus gauges of alerts, silences and
    /// groups) in the Prometheus text format.
    pub fn write_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        self.inner.stats.write_prometheus(out);
        let now = self.now();
        let (alerts, groups, states) = {
            let d = self.inner.dispatcher.lock();
            let mut states = [0usize; 3];
            for s in d.silences().list() {
                states[s.state(now) as usize] += 1;
            }
            (d.alerts(now), d.group_count(), states)
        };
        let suppressed = alerts
            .iter()
            .filter(|a| !a.silenced_by.is_empty() || !a.inhibited_by.is_empty())
            .count();
        let _ = writeln!(
            out,
            "# HELP tally_notify_alerts Alerts held, by state.\n# TYPE tally_notify_alerts gauge"
        );
        let _ = writeln!(
            out,
            "tally_notify_alerts{{state=\"active\"}} {}",
            alerts.len() - suppressed
        );
        let _ = writeln!(
            out,
            "tally_notify_alerts{{state=\"suppressed\"}} {suppressed}"
        );
        let _ = writeln!(
            out,
            "# HELP tally_notify_silences Silences, by state.\n# TYPE tally_notify_silences gauge"
        );
        for (i, name) in ["pending", "active", "expired"].iter().enumerate() {
            let _ = writeln!(
                out,
                "tally_notify_silences{{state=\"{name}\"}} {}",
                states[i]
            );
        }
        let _ = writeln!(
            out,
            "# HELP tally_notify_groups Aggregation groups.\n# TYPE tally_notify_groups gauge"
        );
        let _ = writeln!(out, "tally_notify_groups {groups}");
        let _ = writeln!(out, "# HELP tally_alerts_forward_queue_length Alerts waiting to be forwarded.\n# TYPE tally_alerts_forward_queue_length gauge");
        for (url, n) in self.inner.forwarder.read().queued() {
            let _ = writeln!(
                out,
                "tally_alerts_forward_queue_length{{alertmanager=\"{}\"}} {n}",
                url.replace('\\', "\\\\").replace('"', "\\\"")
            );
        }
    }
}

/// A delivery worker: takes notifications until the channel closes (shutdown, or the
/// last [`Notifier`] dropped). Holds the notifier weakly, so threads never keep it alive.
fn work(weak: &Weak<Inner>, rx: &Mutex<Receiver<Notification>>) {
    loop {
        let job = rx.lock().recv();
        let Ok(n) = job else { return };
        let Some(inner) = weak.upgrade() else { return };
        let _ = (Notifier { inner }).deliver(&n);
    }
}

impl Drop for Inner {
    /// The last handle is gone without [`Notifier::shutdown`]: tell the threads to stop
    /// (they hold the notifier only weakly, and the job channel closes with it).
    fn drop(&mut self) {
        self.stop.flag.store(true, Ordering::SeqCst);
        let _guard = self.stop.lock.lock();
        self.stop.cv.notify_all();
    }
}

/// Why a silence change was refused or not saved.
#[derive(Debug, thiserror::Error)]
pub enum SilenceChangeError {
    /// The change itself is invalid.
    #[error(transparent)]
    Silence(#[from] SilenceError),
    /// It was applied but could not be saved.
    #[error(transparent)]
    Save(#[from] NotifierError),
}
