//! The Pusher on real sockets: against Debian's `prometheus-pushgateway`, and against a
//! fault-injecting server (`push/fault_server.rs`). Scheduling runs on a
//! [`VirtualClock`], so backoff, `Retry-After` and the breaker are checked without
//! sleeping; only HTTP itself is real, and every real wait is bounded by a few seconds.

// Test helpers panic on purpose, with a message.

mod fault_server;
mod pushgateway;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fault_server::{closed_port_url, Behaviour, FaultServer};
use pushgateway::Pushgateway;
use tally::{FinalOutcome, Pusher, PusherBuilder, Registry, ShutdownReport, VirtualClock};

const SETTLE: Duration = Duration::from_secs(5);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A registry, a virtual clock and the number of pusher threads on it.
struct Setup {
    registry: Registry,
    clock: VirtualClock,
    threads: usize,
}

impl Setup {
    fn new() -> Self {
        Self {
            registry: Registry::new(),
            clock: VirtualClock::new(),
            threads: 0,
        }
    }

    fn builder(&self, job: &str) -> PusherBuilder {
        Pusher::builder()
            .job(job)
            .instance("test-1")
            .registry(self.registry.clone())
            .clock(Arc::new(self.clock.clone()))
            .jitter_seed(3)
            .connect_timeout(secs(1))
            .request_timeout(secs(2))
    }

    fn start(&mut self, builder: PusherBuilder) -> Pusher {
        let pusher = builder.start().expect("pusher starts");
        self.threads += 1 + pusher.gateways().len();
        self.settle();
        pusher
    }

    /// Waits until every pusher thread is idle (requests included) at the current time.
    fn settle(&self) {
        assert!(
            self.clock.settle(self.threads, SETTLE),
            "pusher threads still busy after {SETTLE:?}"
        );
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.settle();
    }

    fn stop(&mut self, pusher: Pusher, deadline: Duration) -> ShutdownReport {
        let threads = 1 + pusher.gateways().len();
        let report = pusher.shutdown(deadline);
        self.threads -= threads;
        report
    }

    /// The value of one series of the registry's exposition.
    fn exported(&self, series: &str) -> Option<f64> {
        self.registry.encode_text().lines().find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|v| v.parse().ok())
        })
    }
}

/// Asserts that `text` has a line equal to `line`, showing the text if not.
#[track_caller]
fn assert_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "no line\n  {line}\nin:\n{text}"
    );
}

#[test]
fn pushgateway_receives_values_and_grouping_key() {
    let gateway = Pushgateway::start();
    let mut s = Setup::new();
    let jobs = s.registry.counter("jobs", "Jobs done.").unwrap();
    let temp = s.registry.gauge("temperature_celsius", "Heat.").unwrap();
    let latency = s
        .registry
        .histogram("latency_seconds", "Latency.", &[0.1, 1.0])
        .unwrap();
    jobs.inc_by(3);
    temp.set(21.5);
    latency.observe(0.05);
    latency.observe(0.5);
    // An instance with `/` and a label with a space: base64 and percent-encoding.
    let pusher = s.start(
        s.builder("tally-test")
            .url(gateway.url())
            .instance("pod/7")
            .label("zone", "eu west"),
    );
    s.advance(secs(5)); // the first regular push, sent before `settle` returns
    let text = gateway.metrics();
    let key = r#"instance="pod/7",job="tally-test",zone="eu west""#;
    assert_line(&text, &format!("jobs_total{{{key}}} 3"));
    assert_line(&text, &format!("temperature_celsius{{{key}}} 21.5"));
    assert_line(
        &text,
        &format!(r#"latency_seconds_bucket{{{key},le="0.1"}} 1"#),
    );
    assert_line(
        &text,
        &format!(r#"latency_seconds_bucket{{{key},le="+Inf"}} 2"#),
    );
    assert_line(&text, &format!("latency_seconds_count{{{key}}} 2"));
    assert!(
        text.contains(&format!("process_start_time_seconds{{{key}}} ")),
        "{text}"
    );
    assert_line(&text, &format!("push_failure_time_seconds{{{key}}} 0"));

    // The final push on shutdown replaces the group with the last state.
    jobs.inc();
    let report = s.stop(pusher, secs(5));
    assert!(report.all_pushed(), "{report:?}\n{}", gateway.log());
    let text = gateway.metrics();
    assert_line(&text, &format!("jobs_total{{{key}}} 4"));
    assert_line(
        &text,
        &format!(
            r#"tally_pusher_pushes_total{{gateway="{}",instance="pod/7",job="tally-test",result="success",zone="eu west"}} 1"#,
            gateway.url()
        ),
    );
}

#[test]
fn pushgateway_gets_the_final_state_from_the_guard() {
    let gateway = Pushgateway::start();
    let registry = Registry::new();
    let done = registry.counter("batch_items", "Items.").unwrap();
    {
        let _guard = Pusher::builder()
            .url(gateway.url())
            .job("nightly")
            .instance("")
            .registry(registry.clone())
            .max_wait(Duration::from_secs(3600))
            .start()
            .unwrap()
            .into_guard(secs(5));
        done.inc_by(42);
    }
    // An empty instance is sent as `instance@base64/=`; Pushgateway drops empty labels.
    let text = gateway.metrics();
    assert_line(&text, r#"batch_items_total{instance="",job="nightly"} 42"#);
}

#[test]
fn connection_refused_is_counted_and_opens_the_breaker() {
    let url = closed_port_url();
    let mut s = Setup::new();
    let pusher = s.start(
        s.builder("refused")
            .url(&url)
            .backoff(ms(100), ms(100))
            .breaker(3, secs(30)),
    );
    s.advance(secs(5));
    for _ in 0..5 {
        s.advance(ms(100));
    }
    let reason = format!(r#"tally_pusher_failures_total{{gateway="{url}",reason="connection"}}"#);
    assert_eq!(
        s.exported(&reason),
        Some(3.0),
        "{}",
        s.registry.encode_text()
    );
    assert_eq!(
        s.exported(&format!(r#"tally_pusher_breaker_state{{gateway="{url}"}}"#)),
        Some(1.0)
    );
    let report = s.stop(pusher, secs(2));
    assert!(
        matches!(&report.gateways[0].1, FinalOutcome::Lost { reason } if reason.contains("connect")),
        "{report:?}"
    );
}

#[test]
fn server_errors_are_retried_with_the_same_state_until_success() {
    let server = FaultServer::ok();
    server.script([
        Behaviour::Status(500, vec![]),
        Behaviour::Status(502, vec![]),
    ]);
    let mut s = Setup::new();
    let work = s.registry.counter("work", "").unwrap();
    work.inc_by(9);
    let pusher = s.start(
        s.builder("retry")
            .url(server.url())
            .backoff(ms(100), ms(100))
            .ttl(secs(90)),
    );
    s.advance(secs(5));
    s.advance(ms(100));
    s.advance(ms(100));
    let got = server.received();
    assert_eq!(got.len(), 3, "{got:#?}");
    for r in &got {
        assert_eq!(r.method, "PUT");
        assert_eq!(r.path, "/metrics/job/retry/instance/test-1");
        assert_eq!(
            r.header("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert_eq!(r.sequence(), got[0].sequence(), "a retry reuses the number");
        assert_eq!(r.body, got[0].body, "and the body");
        assert!(r.header("Tally-Process-Start").parse::<f64>().unwrap() > 1e9);
        assert_eq!(r.header("Tally-TTL"), "90000ms");
    }
    assert!(got[0].body.contains("work_total 9\n"));
    let url = server.url();
    assert_eq!(
        s.exported(&format!(
            r#"tally_pusher_failures_total{{gateway="{url}",reason="http_5xx"}}"#
        )),
        Some(2.0)
    );
    assert_eq!(
        s.exported(&format!(
            r#"tally_pusher_pushes_total{{gateway="{url}",result="success"}}"#
        )),
        Some(1.0)
    );
    s.advance(secs(5));
    let got = server.wait_for(4, SETTLE);
    assert!(
        got[3].sequence() > got[2].sequence(),
        "a new state, a new number"
    );
    s.stop(pusher, secs(2));
}

#[test]
fn a_slow_gateway_times_out_and_is_retried() {
    let server = FaultServer::ok();
    server.script([Behaviour::Slow(secs(10), 200)]);
    let mut s = Setup::new();
    let pusher = s.start(
        s.builder("slow")
            .url(server.url())
            .request_timeout(ms(300))
            .backoff(ms(100), ms(100)),
    );
    let started = Instant::now();
    s.advance(secs(5)); // settles once the request has timed out
    assert!(
        started.elapsed() < secs(5),
        "the request timeout bounds the wait"
    );
    let url = server.url();
    assert_eq!(
        s.exported(&format!(
            r#"tally_pusher_failures_total{{gateway="{url}",reason="timeout"}}"#
        )),
        Some(1.0)
    );
    s.advance(ms(100));
    assert_eq!(server.received().len(), 2);
    assert_eq!(
        s.exported(&format!(
            r#"tally_pusher_pushes_total{{gateway="{url}",result="success"}}"#
        )),
        Some(1.0)
    );
    s.stop(pusher, secs(2));
}

#[test]
fn retry_after_is_honoured() {
    let server = FaultServer::ok();
    server.script([Behaviour::Status(429, vec![("Retry-After", "2".into())])]);
    let mut s = Setup::new();
    let pusher = s.start(
        s.builder("throttled")
            .url(server.url())
            .backoff(ms(10), ms(10)),
    );
    s.advance(secs(5));
    assert_eq!(server.received().len(), 1);
    // Time moves in 100 ms steps: no request may come before the 2 s have passed.
    for _ in 0..19 {
        s.advance(ms(100));
        assert_eq!(server.received().len(), 1, "at {:?}", s.clock.elapsed());
    }
    s.advance(ms(100));
    let got = server.received();
    assert_eq!(got.len(), 2, "retried once Retry-After elapsed");
    assert_eq!(got[1].sequence(), got[0].sequence());
    s.stop(pusher, secs(2));
}

#[test]
fn the_breaker_closes_when_the_gateway_comes_back() {
    let server = FaultServer::start(Behaviour::Status(503, vec![]));
    let mut s = Setup::new();
    let pusher = s.start(
        s.builder("flaky")
            .url(server.url())
            .backoff(ms(100), ms(100))
            .breaker(3, secs(22)),
    );
    let url = server.url();
    let breaker = format!(r#"tally_pusher_breaker_state{{gateway="{url}"}}"#);
    s.advance(secs(5));
    for _ in 0..5 {
        s.advance(ms(100));
    }
    assert_eq!(server.received().len(), 3);
    assert_eq!(s.exported(&breaker), Some(1.0), "open");
    // While open (the 3rd failure was at 5.0-5.3 s, so until 27.0-27.3 s), nothing is
    // sent, however many snapshots are taken. Steps avoid the snapshot instants.
    for _ in 0..21 {
        s.advance(secs(1));
    }
    assert_eq!(server.received().len(), 3, "not hammered while open");

    server.set_fallback(Behaviour::Status(200, vec![]));
    s.advance(secs(1)); // 27.5 s
    assert_eq!(server.received().len(), 4, "the half-open probe");
    assert_eq!(s.exported(&breaker), Some(0.0), "closed again");
    assert!(s
        .exported(&format!(
            r#"tally_pusher_last_success_timestamp_seconds{{gateway="{url}"}}"#
        ))
        .is_some_and(|t| t > 1.7e9));
    s.advance(secs(5));
    assert_eq!(server.received().len(), 5, "back on schedule");
    s.stop(pusher, secs(2));
}

#[test]
fn a_failed_final_push_is_spooled_and_replayed_by_the_next_pusher() {
    let spool = tempfile::tempdir().unwrap();
    let server = FaultServer::start(Behaviour::Status(503, vec![]));
    let mut s = Setup::new();
    let runs = s.registry.counter("runs", "").unwrap();
    runs.inc_by(5);
    let first = s.start(
        s.builder("spooled")
            .url(server.url())
            .instance("first")
            .spool_dir(spool.path()),
    );
    let report = s.stop(first, secs(2));
    let FinalOutcome::Spooled(path) = &report.gateways[0].1 else {
        panic!("{report:?}");
    };
    assert!(path.starts_with(spool.path()) && path.exists());
    let failed = server.wait_for(1, SETTLE).remove(0);
    assert!(failed.body.contains("runs_total 5\n"));

    // The gateway is back; a later process (same job, same spool) delivers the state
    // first, exactly as it was, then pushes its own.
    server.set_fallback(Behaviour::Status(200, vec![]));
    let second = s.start(
        s.builder("spooled")
            .url(server.url())
            .instance("second")
            .spool_dir(spool.path()),
    );
    let got = server.wait_for(2, SETTLE);
    let replay = &got[1];
    assert_eq!(replay.path, "/metrics/job/spooled/instance/first");
    assert_eq!(replay.body, failed.body);
    assert_eq!(replay.sequence(), failed.sequence());
    assert_eq!(
        replay.header("Tally-Process-Start"),
        failed.header("Tally-Process-Start")
    );
    assert!(!path.exists(), "deleted after the 2xx");
    s.advance(secs(5));
    let got = server.wait_for(3, SETTLE);
    assert_eq!(got[2].path, "/metrics/job/spooled/instance/second");
    s.stop(second, secs(2));
}

#[test]
fn a_hanging_gateway_does_not_delay_the_healthy_one() {
    let healthy = FaultServer::ok();
    let hanging = FaultServer::start(Behaviour::Hang);
    let mut s = Setup::new();
    let pusher = s.start(
        s.builder("ha")
            .url(healthy.url())
            .url(hanging.url())
            .request_timeout(secs(20)),
    );
    // No `settle` here: the hanging gateway's thread is stuck in its request. The
    // healthy gateway must still get every push on schedule.
    for round in 1..=4 {
        s.clock.advance(secs(5));
        let got = healthy.wait_for(round, SETTLE);
        assert_eq!(got.len(), round);
    }
    let got = healthy.received();
    assert!(got.windows(2).all(|w| w[1].sequence() > w[0].sequence()));
    assert_eq!(
        hanging.wait_for(1, SETTLE).len(),
        1,
        "stuck in its first request"
    );

    // Shutdown keeps its deadline though one gateway never answers.
    let started = Instant::now();
    let report = pusher.shutdown(ms(500));
    assert!(started.elapsed() < secs(3), "{:?}", started.elapsed());
    assert!(
        matches!(report.gateways[0].1, FinalOutcome::Pushed),
        "{report:?}"
    );
    assert!(
        matches!(report.gateways[1].1, FinalOutcome::Lost { .. }),
        "{report:?}"
    );
    assert_eq!(healthy.received().len(), 5, "the final push");
}

#[test]
fn configuration_errors_are_typed() {
    let err = Pusher::builder().job("j").start().unwrap_err();
    assert!(matches!(err, tally::PushConfigError::NoGateway), "{err}");
    let err = Pusher::builder().url("http://gw").start().unwrap_err();
    assert!(matches!(err, tally::PushConfigError::MissingJob), "{err}");
    let err = Pusher::builder()
        .url("gw:9091")
        .job("j")
        .start()
        .unwrap_err();
    assert!(
        matches!(err, tally::PushConfigError::InvalidUrl { .. }),
        "{err}"
    );
}
