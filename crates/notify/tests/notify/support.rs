//! Helpers shared by the tests: a recording HTTP server ([`sink`]), label and time
//! shorthands. Real peers come from `tally-testkit`.

pub mod sink;

use chrono::{DateTime, TimeZone, Utc};
use tally_model::Labels;
use tally_notify::{router, Config, Notifier, NotifierOptions};

/// Puts one alert (`alertname="Down"`) into a notifier for `config`, runs the timers
/// once and returns the one delivery's outcome. Failed attempts are retried for at most
/// half a second.
pub fn deliver_one(config: Config) -> Result<(), tally_notify::deliver::DeliverError> {
    use std::sync::Arc;
    use std::time::Duration;
    let clock = tally_notify::clock::ManualClock::new(t0());
    let options = NotifierOptions {
        clock: Arc::new(clock.clone()),
        retry: tally_notify::deliver::RetryPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            deadline: Duration::from_millis(500),
            attempt_timeout: Duration::from_secs(5),
        },
        workers: 1,
        ..NotifierOptions::default()
    };
    let n = Notifier::new(config, options).expect("notifier starts");
    n.put(vec![tally_notify::Alert::firing(
        labels(&[("alertname", "Down")]),
        at(0),
    )])
    .expect("room for the alert");
    clock.set(at(1));
    let mut outcomes = n.tick_blocking().expect("tick");
    n.shutdown().expect("shutdown");
    assert_eq!(outcomes.len(), 1, "one group, one delivery");
    outcomes.remove(0).1
}

/// Asserts that Alertmanager's `amtool check-config` accepts the file at `path`.
pub fn assert_amtool_accepts(path: &std::path::Path) {
    let out = tally_testkit::run_with_input(
        &tally_testkit::find_program("amtool"),
        &["check-config", &path.to_string_lossy()],
        b"",
        std::time::Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "amtool check-config {}: {}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fixed start time for clock-driven tests.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .expect("valid time")
}

/// Seconds after [`t0`].
pub fn at(secs: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(secs)
}

/// A label set from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).expect("valid labels")
}

/// Asserts equality, printing both sides line by line on failure.
#[macro_export]
macro_rules! eqnice {
    ($expected:expr, $got:expr) => {{
        let (expected, got) = (&$expected, &$got);
        if expected != got {
            panic!("\n--- expected\n{:#?}\n--- got\n{:#?}\n", expected, got);
        }
    }};
}

/// tally's API served on `127.0.0.1:0` for as long as it lives.
pub struct Served {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The port.
    pub port: u16,
    _runtime: tokio::runtime::Runtime,
}

pub fn serve(n: &Notifier) -> Served {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binding 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    let app = router(n.clone());
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Served {
        url: format!("http://127.0.0.1:{port}"),
        port,
        _runtime: runtime,
    }
}

/// A notifier on the wall clock whose one route sends everything to receiver `team`
/// (which has no integrations), with one delivery worker.
pub fn team_notifier() -> Notifier {
    let config =
        Config::parse("route: { receiver: team }\nreceivers: [{ name: team }]\n").expect("config");
    Notifier::new(
        config,
        NotifierOptions {
            clock: std::sync::Arc::new(tally_notify::clock::SystemClock),
            workers: 1,
            ..NotifierOptions::default()
        },
    )
    .expect("notifier")
}
