//! [`Forwarder`]: every alert received, sent on to external Alertmanagers as their
//! `POST /api/v2/alerts` expects it (`[{labels, annotations, startsAt, endsAt,
//! generatorURL}]`), in batches, one sender thread and one bounded queue per
//! Alertmanager. When a queue is full the oldest alerts are dropped (and counted): the
//! rule engine re-sends firing alerts on its own cadence, so the newest state matters
//! most.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde::Serialize;

use crate::alert::Alert;
use crate::deliver::{http, RetryPolicy};
use crate::payload::{go_time, map};
use crate::stats::Stats;

/// Forwarding settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardOptions {
    /// Alerts held per Alertmanager before the oldest are dropped.
    pub queue_capacity: usize,
    /// Alerts per request.
    pub batch_size: usize,
}

impl Default for ForwardOptions {
    /// 10,000 alerts queued, 64 per request (Prometheus' defaults).
    fn default() -> Self {
        Self {
            queue_capacity: 10_000,
            batch_size: 64,
        }
    }
}

/// One alert in Alertmanager's v2 API shape.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlert {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    starts_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ends_at: Option<String>,
    #[serde(rename = "generatorURL", skip_serializing_if = "String::is_empty")]
    generator_url: String,
}

impl From<&Alert> for PostableAlert {
    fn from(a: &Alert) -> Self {
        Self {
            labels: map(&a.labels),
            annotations: map(&a.annotations),
            starts_at: go_time(Some(a.starts_at)),
            ends_at: a.ends_at.map(|t| go_time(Some(t))),
            generator_url: a.generator_url.clone(),
        }
    }
}

#[derive(Debug)]
struct Queue {
    url: String,
    alerts: Mutex<VecDeque<PostableAlert>>,
    ready: Condvar,
}

#[derive(Debug)]
struct Shared {
    stop: AtomicBool,
    stop_lock: Mutex<()>,
    stop_cv: Condvar,
}

/// Sends alerts to external Alertmanagers. Not cloneable: the [`Notifier`](crate::Notifier)
/// owns it; [`shutdown`](Self::shutdown) stops its threads.
#[derive(Debug)]
pub struct Forwarder {
    queues: Vec<Arc<Queue>>,
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    options: ForwardOptions,
    stats: Stats,
}

impl Forwarder {
    /// Starts one sender thread per base URL (`http://host:9093`; `/api/v2/alerts` is
    /// appended).
    pub fn start(
        urls: &[String],
        options: ForwardOptions,
        retry: RetryPolicy,
        stats: Stats,
    ) -> Self {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            stop_lock: Mutex::new(()),
            stop_cv: Condvar::new(),
        });
        let mut queues = Vec::new();
        let mut threads = Vec::new();
        for url in urls {
            let queue = Arc::new(Queue {
                url: url.clone(),
                alerts: Mutex::new(VecDeque::new()),
                ready: Condvar::new(),
            });
            queues.push(queue.clone());
            let (shared, stats) = (shared.clone(), stats.clone());
            let spawned = std::thread::Builder::new()
                .name("tally-forward".into())
                .spawn(move || run(&queue, &shared, options, retry, &stats));
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(e) => tracing::error!(error = %e, "cannot start alert forwarder thread"),
            }
        }
        Self {
            queues,
            shared,
            threads: Mutex::new(threads),
            options,
            stats,
        }
    }

    /// Queues alerts for every Alertmanager, dropping the oldest past the capacity.
    pub fn enqueue(&self, alerts: &[Alert]) {
        if alerts.is_empty() {
            return;
        }
        for queue in &self.queues {
            let mut q = queue.alerts.lock();
            q.extend(alerts.iter().map(PostableAlert::from));
            let excess = q.len().saturating_sub(self.options.queue_capacity);
            if excess > 0 {
                q.drain(..excess);
                self.stats
                    .forward(&queue.url, |s| s.dropped += excess as u64);
            }
            queue.ready.notify_one();
        }
    }

    /// Alerts waiting per Alertmanager URL.
    pub fn queued(&self) -> Vec<(String, usize)> {
        self.queues
            .iter()
            .map(|q| (q.url.clone(), q.alerts.lock().len()))
            .collect()
    }

    /// Stops the sender threads (alerts still queued are dropped) and waits for them.
    pub fn shutdown(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let _guard = self.shared.stop_lock.lock();
            self.shared.stop_cv.notify_all();
        }
        for queue in &self.queues {
            let _guard = queue.alerts.lock();
            queue.ready.notify_all();
        }
        for handle in self.threads.lock().drain(..) {
            let _ = handle.join();
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run(queue: &Queue, shared: &Shared, options: ForwardOptions, retry: RetryPolicy, stats: &Stats) {
    let agent = http::agent(retry.attempt_timeout);
    let endpoint = format!("{}/api/v2/alerts", queue.url.trim_end_matches('/'));
    loop {
        let batch: Vec<PostableAlert> = {
            let mut q = queue.alerts.lock();
            while q.is_empty() && !shared.stop.load(Ordering::SeqCst) {
                queue.ready.wait(&mut q);
            }
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            let n = q.len().min(options.batch_size.max(1));
            q.drain(..n).collect()
        };
        let body = serde_json::to_vec(&batch).unwrap_or_default();
        let deadline = Instant::now() + retry.deadline;
        let mut attempt = 0;
        loop {
            match http::post_json(&agent, &endpoint, &body, None) {
                Ok(()) => {
                    stats.forward(&queue.url, |s| s.forwarded += batch.len() as u64);
                    break;
                }
                Err(e) => {
                    stats.forward(&queue.url, |s| s.failed_batches += 1);
                    let wait = retry.backoff(attempt);
                    attempt += 1;
                    if !e.is_retryable()
                        || Instant::now() + wait >= deadline
                        || wait_stop(shared, wait)
                    {
                        tracing::warn!(alertmanager = %queue.url, error = %e, "alerts dropped");
                        stats.forward(&queue.url, |s| s.dropped += batch.len() as u64);
                        break;
                    }
                }
            }
        }
    }
}

/// Waits `wait` unless stopped first; returns whether to stop.
fn wait_stop(shared_stop: &Shared, wait: Duration) -> bool {
    let mut guard = shared_stop.stop_lock.lock();
    if !shared_stop.stop.load(Ordering::SeqCst) {
        shared_stop.stop_cv.wait_for(&mut guard, wait);
    }
    shared_stop.stop.load(Ordering::SeqCst)
}
