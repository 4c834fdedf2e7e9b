//! Pusher behaviour on a virtual clock with a scripted transport: no sockets, no sleeps.
//! Each test advances the clock, lets the pusher's threads settle, then looks at what
//! was sent.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::Counter;

/// What the scripted transport answers.
#[derive(Debug, Clone)]
enum Reply {
    Status(u16, Option<&'static str>),
    Fail(TransportError),
}

/// A request as the transport saw it, with the virtual time it was sent at.
#[derive(Debug, Clone)]
struct Sent {
    url: String,
    headers: Vec<(String, String)>,
    body: String,
    at: Duration,
}

impl Sent {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    fn sequence(&self) -> u64 {
        self.header("Tally-Push-Sequence").parse().unwrap()
    }
}

#[derive(Debug, Default)]
struct Script {
    /// Replies per URL prefix, used in order; then `fallback`.
    replies: Vec<(String, VecDeque<Reply>)>,
    fallback: Vec<(String, Reply)>,
    sent: Vec<Sent>,
}

#[derive(Debug)]
struct FakeTransport {
    clock: VirtualClock,
    script: Mutex<Script>,
}

impl FakeTransport {
    fn new(clock: &VirtualClock) -> Arc<Self> {
        Arc::new(Self {
            clock: clock.clone(),
            script: Mutex::new(Script::default()),
        })
    }

    fn then(&self, prefix: &str, replies: impl IntoIterator<Item = Reply>) {
        let mut script = self.script.lock().unwrap();
        script
            .replies
            .push((prefix.into(), replies.into_iter().collect()));
    }

    fn otherwise(&self, prefix: &str, reply: Reply) {
        let mut script = self.script.lock().unwrap();
        script.fallback.retain(|(p, _)| p != prefix);
        script.fallback.push((prefix.into(), reply));
    }

    fn sent(&self) -> Vec<Sent> {
        self.script.lock().unwrap().sent.clone()
    }

    fn sent_to(&self, prefix: &str) -> Vec<Sent> {
        self.sent()
            .into_iter()
            .filter(|s| under(&s.url, prefix))
            .collect()
    }
}

/// Whether `url` is on gateway `base`.
fn under(url: &str, base: &str) -> bool {
    url.strip_prefix(base)
        .is_some_and(|rest| rest.starts_with('/'))
}

impl Transport for FakeTransport {
    fn put(
        &self,
        request: &PushRequest<'_>,
        _timeout: Duration,
    ) -> Result<PushResponse, TransportError> {
        let mut script = self.script.lock().unwrap();
        script.sent.push(Sent {
            url: request.url.into(),
            headers: request.headers.to_vec(),
            body: String::from_utf8_lossy(request.body).into_owned(),
            at: self.clock.elapsed(),
        });
        let scripted = script
            .replies
            .iter_mut()
            .find(|(p, r)| under(request.url, p) && !r.is_empty())
            .and_then(|(_, r)| r.pop_front());
        let reply = scripted
            .or_else(|| {
                script
                    .fallback
                    .iter()
                    .find(|(p, _)| under(request.url, p))
                    .map(|(_, r)| r.clone())
            })
            .unwrap_or(Reply::Status(200, None));
        match reply {
            Reply::Status(status, retry_after) => Ok(PushResponse {
                status,
                retry_after: retry_after.map(str::to_owned),
                body: String::new(),
            }),
            Reply::Fail(e) => Err(e),
        }
    }
}

const GW: &str = "http://gw";

/// How long [`Harness::settle`] waits, in real time, for the pusher threads to park.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

struct Harness {
    clock: VirtualClock,
    transport: Arc<FakeTransport>,
    registry: Registry,
    jobs: Counter,
    threads: usize,
}

impl Harness {
    fn new() -> Self {
        let clock = VirtualClock::new();
        let registry = Registry::new();
        let jobs = registry.counter("jobs", "Jobs.").unwrap();
        Self {
            transport: FakeTransport::new(&clock),
            clock,
            registry,
            jobs,
            threads: 0,
        }
    }

    fn builder(&self) -> PusherBuilder {
        Pusher::builder()
            .url(GW)
            .job("batch")
            .instance("box-1")
            .registry(self.registry.clone())
            .clock(Arc::new(self.clock.clone()))
            .transport(self.transport.clone())
            .jitter_seed(1)
    }

    fn start(&mut self, builder: PusherBuilder) -> Pusher {
        let pusher = builder.start().unwrap();
        self.threads += 1 + pusher.gateways().len();
        self.settle();
        pusher
    }

    fn settle(&self) {
        // Real time, returning as soon as the threads are parked: generous, because a
        // loaded machine can keep a thread off the CPU for seconds (a 5 s limit failed
        // once while a benchmark held both cores).
        assert!(
            self.clock.settle(self.threads, SETTLE_TIMEOUT),
            "pusher threads did not settle within {SETTLE_TIMEOUT:?}"
        );
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.settle();
    }

    /// Advances in steps of `step` for `total`, settling after each.
    fn run_for(&self, total: Duration, step: Duration) {
        let mut done = Duration::ZERO;
        while done < total {
            self.advance(step);
            done += step;
        }
    }

    fn stop(&mut self, pusher: Pusher) -> ShutdownReport {
        let gateways = pusher.gateways().len();
        let report = pusher.shutdown(Duration::from_secs(5));
        self.threads -= 1 + gateways;
        report
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn exported(registry: &Registry, series: &str) -> Option<f64> {
    registry.encode_text().lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
    })
}

#[test]
fn pushes_every_max_wait_with_headers_and_body() {
    let mut h = Harness::new();
    let pusher = h.start(h.builder().max_wait(secs(5)));
    h.jobs.inc_by(3);
    h.advance(ms(4900));
    assert!(h.transport.sent().is_empty(), "nothing before max_wait");
    h.advance(ms(100));
    let sent = h.transport.sent();
    assert_eq!(sent.len(), 1);
    let first = &sent[0];
    assert_eq!(first.url, "http://gw/metrics/job/batch/instance/box-1");
    assert_eq!(first.at, secs(5));
    assert_eq!(
        first.header("Content-Type"),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let start: f64 = first.header("Tally-Process-Start").parse().unwrap();
    assert_eq!(start, crate::process_start_time());
    assert!(first.body.contains("jobs_total 3\n"), "{}", first.body);
    assert!(
        first.body.contains("\nprocess_start_time_seconds "),
        "{}",
        first.body
    );

    h.advance(secs(5));
    let sent = h.transport.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].at, secs(10));
    assert!(sent[1].sequence() > sent[0].sequence());
    assert!(
        sent[1]
            .body
            .contains("tally_pusher_pushes_total{gateway=\"http://gw\",result=\"success\"} 1\n"),
        "the pusher's own metrics travel too:\n{}",
        sent[1].body
    );
    h.stop(pusher);
}

#[test]
fn pushes_early_once_max_items_updates_accumulated() {
    let mut h = Harness::new();
    let pusher = h.start(
        h.builder()
            .max_wait(secs(60))
            .max_items(10)
            .sample_interval(ms(100)),
    );
    h.jobs.inc_by(9);
    h.advance(ms(100));
    assert!(h.transport.sent().is_empty(), "9 of 10 updates");
    h.jobs.inc();
    h.advance(ms(100));
    let sent = h.transport.sent();
    assert_eq!(sent.len(), 1, "early push");
    assert_eq!(sent[0].at, ms(200));
    assert!(sent[0].body.contains("jobs_total 10\n"));

    // The pusher's own counters (pushes_total...) do not count as activity.
    h.run_for(secs(2), ms(100));
    assert_eq!(h.transport.sent().len(), 1, "no push triggered by pushing");

    h.jobs.inc_by(25);
    h.advance(ms(100));
    assert_eq!(h.transport.sent().len(), 2);
    h.stop(pusher);
}

#[test]
fn a_retry_resends_the_same_state_under_the_same_sequence() {
    let mut h = Harness::new();
    h.transport.then(
        GW,
        [
            Reply::Status(500, None),
            Reply::Status(503, None),
            Reply::Status(200, None),
        ],
    );
    let pusher = h.start(h.builder().backoff(ms(100), secs(1)));
    h.jobs.inc();
    h.advance(secs(5));
    assert_eq!(h.transport.sent().len(), 1);
    // Backoff with full jitter: at most 100 ms, then at most 200 ms.
    h.advance(ms(100));
    assert_eq!(h.transport.sent().len(), 2);
    h.advance(ms(200));
    let sent = h.transport.sent();
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|s| s.sequence() == sent[0].sequence()));
    assert!(sent.iter().all(|s| s.body == sent[0].body));
    assert_eq!(
        exported(
            &h.registry,
            "tally_pusher_failures_total{gateway=\"http://gw\",reason=\"http_5xx\"}"
        ),
        Some(2.0)
    );
    assert_eq!(
        exported(
            &h.registry,
            "tally_pusher_pushes_total{gateway=\"http://gw\",result=\"success\"}"
        ),
        Some(1.0)
    );
    h.advance(secs(5));
    let sent = h.transport.sent();
    assert_eq!(sent.len(), 4);
    assert!(
        sent[3].sequence() > sent[2].sequence(),
        "a new state, a new number"
    );
    h.stop(pusher);
}

#[test]
fn a_retry_sends_the_newest_state() {
    let mut h = Harness::new();
    h.transport.then(GW, [Reply::Status(503, Some("8"))]);
    let pusher = h.start(h.builder());
    h.jobs.inc();
    h.advance(secs(5));
    // The next snapshot (at 10 s) is taken while the retry waits until 13 s.
    h.jobs.inc();
    h.run_for(secs(8), secs(1));
    let sent = h.transport.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].at, secs(13));
    assert!(sent[1].sequence() > sent[0].sequence());
    assert!(sent[0].body.contains("jobs_total 1\n"));
    assert!(sent[1].body.contains("jobs_total 2\n"));
    h.stop(pusher);
}

#[test]
fn a_rejected_push_waits_for_the_next_interval() {
    let mut h = Harness::new();
    h.transport.then(GW, [Reply::Status(400, None)]);
    let pusher = h.start(h.builder());
    h.advance(secs(5));
    assert_eq!(h.transport.sent().len(), 1);
    h.run_for(ms(4900), ms(100));
    assert_eq!(h.transport.sent().len(), 1, "4xx is not retried");
    h.advance(ms(100));
    let sent = h.transport.sent();
    assert_eq!(sent.len(), 2);
    assert!(sent[1].sequence() > sent[0].sequence());
    assert_eq!(
        exported(
            &h.registry,
            "tally_pusher_failures_total{gateway=\"http://gw\",reason=\"http_4xx\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        exported(
            &h.registry,
            "tally_pusher_breaker_state{gateway=\"http://gw\"}"
        ),
        Some(0.0),
        "a gateway that answers is healthy"
    );
    h.stop(pusher);
}

#[test]
fn retry_after_seconds_and_dates_are_honoured() {
    let mut h = Harness::new();
    h.transport.then(
        GW,
        [
            Reply::Status(429, Some("3")),
            // The virtual wall clock starts at 2024-01-01T00:00:00Z.
            Reply::Status(503, Some("Mon, 01 Jan 2024 00:00:19 GMT")),
        ],
    );
    let pusher = h.start(h.builder().backoff(ms(10), ms(10)));
    h.advance(secs(5));
    assert_eq!(h.transport.sent().len(), 1);
    h.run_for(ms(2900), ms(100));
    assert_eq!(h.transport.sent().len(), 1, "not before Retry-After: 3");
    h.advance(ms(100));
    assert_eq!(h.transport.sent().len(), 2);
    assert_eq!(h.transport.sent()[1].at, secs(8));
    h.run_for(ms(10_900), ms(100));
    assert_eq!(
        h.transport.sent().len(),
        2,
        "not before the Retry-After date"
    );
    h.advance(ms(100));
    let sent = h.transport.sent();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2].at, secs(19));
    h.stop(pusher);
}

#[test]
fn the_breaker_opens_then_probes_and_closes() {
    let mut h = Harness::new();
    h.transport.otherwise(GW, Reply::Status(500, None));
    let pusher = h.start(h.builder().backoff(ms(100), ms(500)).breaker(3, secs(30)));
    let state = |h: &Harness| {
        exported(
            &h.registry,
            "tally_pusher_breaker_state{gateway=\"http://gw\"}",
        )
    };
    h.advance(secs(5));
    h.run_for(secs(2), ms(100));
    let failed = h.transport.sent();
    assert_eq!(failed.len(), 3, "open after 3 failures");
    assert_eq!(state(&h), Some(1.0));
    let probe_at = failed[2].at + secs(30);

    // Open: nothing is sent for the cool-down, though new snapshots keep coming.
    h.advance(probe_at - h.clock.elapsed() - ms(1));
    assert_eq!(h.transport.sent().len(), 3);
    // Half-open: one probe; it fails, so open again for another 30 s.
    h.advance(ms(1));
    let sent = h.transport.sent();
    assert_eq!(sent.len(), 4);
    assert_eq!(sent[3].at, probe_at);
    assert_eq!(state(&h), Some(1.0));
    h.advance(secs(30) - ms(1));
    assert_eq!(h.transport.sent().len(), 4);

    // The gateway comes back: the next probe succeeds and the breaker closes.
    h.transport.otherwise(GW, Reply::Status(200, None));
    h.advance(ms(1));
    let sent = h.transport.sent();
    assert_eq!(sent.len(), 5);
    assert_eq!(sent[4].at, probe_at + secs(30));
    assert_eq!(state(&h), Some(0.0));
    assert_eq!(
        exported(
            &h.registry,
            "tally_pusher_last_success_timestamp_seconds{gateway=\"http://gw\"}"
        ),
        Some(1_704_067_200.0 + sent[4].at.as_secs_f64())
    );
    // Closed: regular pushes again.
    h.advance(secs(5));
    assert_eq!(h.transport.sent().len(), 6);
    h.stop(pusher);
}

#[test]
fn a_failing_gateway_does_not_hold_back_another() {
    let mut h = Harness::new();
    h.transport.otherwise(
        "http://down",
        Reply::Fail(TransportError::Connect("refused".into())),
    );
    let pusher = h.start(h.builder().url("http://down").breaker(2, secs(60)));
    for round in 1..=4u32 {
        h.advance(secs(5));
        assert_eq!(
            h.transport.sent_to(GW).len(),
            round as usize,
            "round {round}"
        );
    }
    let down = h.transport.sent_to("http://down");
    assert!(
        down.len() <= 3,
        "the breaker limits the dead gateway: {}",
        down.len()
    );
    h.stop(pusher);
}

#[test]
fn shutdown_pushes_a_final_state_to_every_gateway() {
    let mut h = Harness::new();
    let pusher = h.start(h.builder().url("http://gw2"));
    h.jobs.inc_by(7);
    let report = h.stop(pusher);
    assert!(report.all_pushed(), "{report:?}");
    assert_eq!(report.gateways.len(), 2);
    for gw in [GW, "http://gw2"] {
        let sent = h.transport.sent_to(gw);
        assert_eq!(sent.len(), 1, "{gw}");
        assert!(sent[0].body.contains("jobs_total 7\n"));
    }
}

#[test]
fn a_failed_final_push_is_spooled_and_replayed_first_by_the_next_pusher() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new();
    h.transport
        .otherwise(GW, Reply::Fail(TransportError::Connect("refused".into())));
    let first = h.start(h.builder().spool_dir(dir.path()));
    h.jobs.inc_by(5);
    let report = h.stop(first);
    let [(gw, FinalOutcome::Spooled(path))] = &report.gateways[..] else {
        panic!("{report:?}");
    };
    assert_eq!(gw, GW);
    assert!(path.exists());
    let failed = h.transport.sent();
    assert_eq!(failed.len(), 1);

    // Another job's pusher leaves it alone.
    h.transport.otherwise(GW, Reply::Status(200, None));
    let other = h.start(h.builder().job("other").spool_dir(dir.path()));
    assert_eq!(h.transport.sent().len(), 1);
    h.stop(other);
    assert!(path.exists());

    let second = h.start(h.builder().spool_dir(dir.path()));
    let sent = h.transport.sent();
    assert_eq!(sent.len(), 3, "the other job's final push, then the replay");
    let replay = &sent[2];
    assert_eq!(replay.url, failed[0].url);
    assert_eq!(replay.headers, failed[0].headers);
    assert_eq!(replay.body, failed[0].body);
    assert!(!path.exists(), "deleted after the 2xx");
    h.advance(secs(5));
    let sent = h.transport.sent();
    assert_eq!(sent.len(), 4, "then the live state");
    assert!(sent[3].sequence() > replay.sequence());
    h.stop(second);
}

#[test]
fn a_final_push_under_retry_after_goes_to_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new();
    h.transport.then(GW, [Reply::Status(429, Some("60"))]);
    let pusher = h.start(h.builder().spool_dir(dir.path()));
    h.advance(secs(5));
    assert_eq!(h.transport.sent().len(), 1);
    let report = h.stop(pusher);
    assert!(
        matches!(report.gateways[0].1, FinalOutcome::Spooled(_)),
        "{report:?}"
    );
    assert_eq!(h.transport.sent().len(), 1, "no request while told to wait");
}

#[test]
fn without_a_spool_a_failed_final_state_is_reported_lost() {
    let mut h = Harness::new();
    h.transport.otherwise(GW, Reply::Status(500, None));
    let pusher = h.start(h.builder());
    let report = h.stop(pusher);
    assert!(
        matches!(&report.gateways[0].1, FinalOutcome::Lost { reason } if reason.contains("500")),
        "{report:?}"
    );
}

#[test]
fn the_guard_pushes_on_drop() {
    let mut h = Harness::new();
    let guard = h.start(h.builder()).into_guard(secs(5));
    guard.pusher().push_now();
    h.settle();
    assert_eq!(h.transport.sent().len(), 1, "push_now");
    h.jobs.inc();
    drop(guard);
    h.threads -= 2;
    let sent = h.transport.sent();
    assert_eq!(sent.len(), 2);
    assert!(sent[1].body.contains("jobs_total 1\n"));
}

#[test]
fn grouping_labels_reach_the_url() {
    let mut h = Harness::new();
    let pusher = h.start(
        h.builder()
            .instance("pod/7")
            .label("zone", "")
            .label("region", "eu west"),
    );
    pusher.push_now();
    h.settle();
    assert_eq!(
        h.transport.sent()[0].url,
        "http://gw/metrics/job/batch/instance@base64/cG9kLzc/zone@base64/=/region/eu%20west"
    );
    h.stop(pusher);
}
