//! The scheduler thread: decides *when* to push and takes the [`Snapshot`]s every gateway
//! thread then sends, so all gateways get the same body under the same sequence number.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tally_model::expfmt::{self, Format};
use tally_model::{Labels, Metric, MetricFamily, MetricType, MetricValue};

use crate::Registry;

use super::{Phase, Shared};

/// The `Content-Type` of every push.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The header with the pushing process' start time.
pub(crate) const PROCESS_START_HEADER: &str = "Tally-Process-Start";
/// The header with the push sequence number.
pub(crate) const SEQUENCE_HEADER: &str = "Tally-Push-Sequence";
/// The header with the group's time to live, when configured.
pub(crate) const TTL_HEADER: &str = "Tally-TTL";

/// One state of the registry, ready to send: what a push carries.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// The push sequence number.
    pub(crate) sequence: u64,
    /// `Content-Type`, `Tally-Process-Start`, `Tally-Push-Sequence`, and `Tally-TTL` when
    /// configured.
    pub(crate) headers: Vec<(String, String)>,
    /// The text-format body.
    pub(crate) body: Vec<u8>,
}

/// The last sequence number handed out in this process. Shared by every pusher, so a
/// pusher started again in the same process continues above its predecessor: the gateway
/// orders pushes of one process start by this number.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

fn next_sequence() -> u64 {
    SEQUENCE.fetch_add(1, Ordering::Relaxed) + 1
}

impl Snapshot {
    /// Gathers `registry` now. Adds `process_start_time_seconds` (= `process_start`) when
    /// the registry does not export it, so every body says which process it comes from.
    pub(crate) fn take(registry: &Registry, process_start: f64, ttl: Option<Duration>) -> Self {
        let mut families = registry.gather();
        if !families
            .iter()
            .any(|f| f.name == "process_start_time_seconds")
        {
            families.push(
                MetricFamily::new("process_start_time_seconds", MetricType::Gauge)
                    .with_help("Start time of the process since unix epoch in seconds.")
                    .with_metric(Metric::new(
                        Labels::new(),
                        MetricValue::Gauge(process_start),
                    )),
            );
            families.sort_by(|a, b| a.name.cmp(&b.name));
        }
        let mut body = Vec::with_capacity(4096);
        expfmt::encode(&families, Format::Text, &mut body);
        let sequence = next_sequence();
        let mut headers = vec![
            ("Content-Type".to_owned(), CONTENT_TYPE.to_owned()),
            (PROCESS_START_HEADER.to_owned(), process_start.to_string()),
            (SEQUENCE_HEADER.to_owned(), sequence.to_string()),
        ];
        if let Some(ttl) = ttl {
            headers.push((TTL_HEADER.to_owned(), format!("{}ms", ttl.as_millis())));
        }
        Self {
            sequence,
            headers,
            body,
        }
    }
}

/// The scheduler thread's loop: a snapshot every `max_wait`, earlier when `max_items`
/// updates have happened (sampled every `sample_interval`) or when asked
/// ([`Pusher::push_now`](crate::Pusher::push_now)). Exits when the pusher stops.
pub(crate) fn run(shared: &Shared) {
    let config = &shared.config;
    let clock = &*shared.clock;
    let user_activity = || {
        // Read before the pusher's own count, so an increment of its own in between
        // makes the difference smaller, never larger.
        let all = shared.registry.activity();
        all.wrapping_sub(shared.metrics.own_updates())
    };
    let mut next_push = clock.now() + config.max_wait;
    let mut baseline = user_activity();
    loop {
        let seen = shared.wakeup.generation();
        let asked = {
            let mut state = shared.state.lock();
            if !matches!(state.phase, Phase::Running) {
                return;
            }
            std::mem::take(&mut state.push_now)
        };
        let now = clock.now();
        let activity = user_activity();
        let busy = match (config.max_items, activity.checked_sub(baseline)) {
            (Some(max), Some(done)) => done >= max,
            // Metrics were removed: count from here.
            (_, None) => {
                baseline = activity;
                false
            }
            (None, _) => false,
        };
        if asked || busy || now >= next_push {
            let snapshot = Arc::new(Snapshot::take(
                &shared.registry,
                shared.process_start,
                config.ttl,
            ));
            baseline = activity;
            next_push = now + config.max_wait;
            let mut state = shared.state.lock();
            if matches!(state.phase, Phase::Running) {
                state.latest = Some(snapshot);
            }
            drop(state);
            shared.wakeup.wake();
            continue;
        }
        let until = match config.max_items {
            Some(_) => next_push.min(now + config.sample_interval),
            None => next_push,
        };
        clock.wait_until(&shared.wakeup, seen, Some(until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_carry_process_start_and_increasing_sequences() {
        let registry = Registry::new();
        registry.counter("jobs", "Jobs.").unwrap().inc_by(3);
        let a = Snapshot::take(&registry, 1_700_000_000.5, None);
        let b = Snapshot::take(&registry, 1_700_000_000.5, Some(Duration::from_secs(90)));
        assert!(b.sequence > a.sequence);
        let text = String::from_utf8(a.body.clone()).unwrap();
        assert_eq!(
            text,
            "# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total 3\n\
             # HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n\
             # TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 1700000000.5\n"
        );
        assert_eq!(
            a.headers,
            [
                ("Content-Type".to_owned(), CONTENT_TYPE.to_owned()),
                ("Tally-Process-Start".to_owned(), "1700000000.5".to_owned()),
                ("Tally-Push-Sequence".to_owned(), a.sequence.to_string()),
            ]
        );
        assert_eq!(
            b.headers.last(),
            Some(&("Tally-TTL".to_owned(), "90000ms".to_owned()))
        );
    }

    #[test]
    fn an_exported_process_start_is_not_added_twice() {
        let registry = Registry::new();
        registry
            .gauge("process_start_time_seconds", "")
            .unwrap()
            .set(42.0);
        let s = Snapshot::take(&registry, 1.0, None);
        let text = String::from_utf8(s.body).unwrap();
        let samples = text
            .lines()
            .filter(|l| l.starts_with("process_start_time_seconds "));
        assert_eq!(samples.count(), 1, "{text}");
        assert!(text.contains("process_start_time_seconds 42\n"), "{text}");
    }
}
