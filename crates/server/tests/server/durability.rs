//! DESIGN.md §4 rule 9: a `2xx` answer means the change survives `kill -9`. Real
//! `tally serve` processes killed under load and stopped with `SIGTERM`, and logs with a
//! torn or corrupt tail recovered in-process (where [`tally_server::open`]'s `Recovery`
//! report is visible).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::harness::Harness;
use crate::http::Http;
use crate::process::TallyProcess;
use crate::samples::{assert_samples_eq, series, value, with_prefix, Samples};

/// Pause between polls while waiting for acknowledgements.
const POLL: Duration = Duration::from_millis(5);

/// Cumulative state of one load group after `v` rounds: a counter at `v`, a histogram
/// with `v` observations of 0.5.
fn load_body(v: u64) -> String {
    format!(
        "# TYPE load_ops_total counter\nload_ops_total {v}\n\
         # TYPE load_seconds histogram\nload_seconds_bucket{{le=\"1\"}} {v}\n\
         load_seconds_bucket{{le=\"+Inf\"}} {v}\nload_seconds_sum {}\nload_seconds_count {v}\n",
        v as f64 * 0.5
    )
}

/// What the load threads sent and what was acknowledged, by instance.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// The job label of every load group.
    job: String,
    /// The last value each group's push was acknowledged (2xx) with.
    acked: BTreeMap<String, u64>,
    /// The last value sent to each group, acknowledged or not.
    attempted: BTreeMap<String, u64>,
    /// Answers other than 2xx (there should be none).
    refused: Vec<String>,
}

/// Client threads, each pushing its own groups with counters that grow every round,
/// until the rounds are done or the server stops answering.
pub(crate) struct Load {
    threads: Vec<JoinHandle<()>>,
    ledger: Arc<Mutex<Ledger>>,
    acks: Arc<AtomicUsize>,
}

impl Load {
    /// Starts `threads` threads pushing `groups` groups each (`job/<job>/instance/t<t>-g<g>`)
    /// for `rounds` rounds.
    pub(crate) fn start(
        http: &Http,
        job: &str,
        threads: usize,
        groups: usize,
        rounds: u64,
    ) -> Self {
        let ledger = Arc::new(Mutex::new(Ledger {
            job: job.to_owned(),
            ..Ledger::default()
        }));
        let acks = Arc::new(AtomicUsize::new(0));
        let threads = (0..threads)
            .map(|t| {
                let (http, ledger, acks) = (http.clone(), ledger.clone(), acks.clone());
                let job = job.to_owned();
                std::thread::spawn(move || {
                    for round in 1..=rounds {
                        for g in 0..groups {
                            let instance = format!("t{t}-g{g}");
                            ledger
                                .lock()
                                .unwrap()
                                .attempted
                                .insert(instance.clone(), round);
                            let key = format!("job/{job}/instance/{instance}");
                            match http.push("PUT", &key, &load_body(round)) {
                                Ok(r) if (200..300).contains(&r.status) => {
                                    ledger.lock().unwrap().acked.insert(instance, round);
                                    acks.fetch_add(1, Ordering::SeqCst);
                                }
                                Ok(r) => {
                                    let why = format!("{key}: {} {}", r.status, r.body);
                                    ledger.lock().unwrap().refused.push(why);
                                    return;
                                }
                                // The server is gone: stop, as a client would give up.
                                Err(_) => return,
                            }
                        }
                    }
                })
            })
            .collect();
        Self {
            threads,
            ledger,
            acks,
        }
    }

    /// Pushes acknowledged so far.
    pub(crate) fn acks(&self) -> usize {
        self.acks.load(Ordering::SeqCst)
    }

    /// Waits (bounded) until `n` pushes were acknowledged.
    fn wait_for_acks(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.acks.load(Ordering::SeqCst) < n {
            assert!(
                Instant::now() < deadline,
                "only {} pushes acknowledged in 60 s",
                self.acks.load(Ordering::SeqCst)
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits for the threads (they stop when the rounds are done or the server is gone).
    pub(crate) fn join(self) -> Ledger {
        for t in self.threads {
            t.join().expect("a load thread panicked");
        }
        Arc::try_unwrap(self.ledger)
            .expect("the threads are done")
            .into_inner()
            .unwrap()
    }
}

/// Every acknowledged push is in the recovered state (its value or a later one), and
/// nothing was counted that was never sent.
pub(crate) fn check_recovered(ledger: &Ledger, http: &Http) {
    assert!(ledger.refused.is_empty(), "refused: {:?}", ledger.refused);
    let groups = http.groups();
    let mut lost = Vec::new();
    for (instance, acked) in &ledger.acked {
        let labels = [
            ("instance", instance.as_str()),
            ("job", ledger.job.as_str()),
        ];
        let attempted = ledger.attempted[instance] as f64;
        let got = groups.get(&series("load_ops_total", &labels)).copied();
        let count = groups.get(&series("load_seconds_count", &labels)).copied();
        let ok = |v: Option<f64>| v.is_some_and(|v| v >= *acked as f64 && v <= attempted);
        if !ok(got) || !ok(count) {
            lost.push(format!(
                "{instance}: acknowledged {acked}, sent up to {attempted}, recovered {got:?} / {count:?}"
            ));
        }
    }
    assert!(
        lost.is_empty(),
        "acknowledged pushes lost ({} groups):\n{}",
        lost.len(),
        lost.join("\n")
    );
    let agg = http.aggregated();
    let job = [("job", ledger.job.as_str())];
    let total = value(&agg, &series("load_ops_total", &job));
    let acked: u64 = ledger.acked.values().sum();
    let attempted: u64 = ledger.attempted.values().sum();
    assert!(
        total >= acked as f64 && total <= attempted as f64,
        "aggregated total {total}, acknowledged {acked}, sent {attempted}"
    );
    let hist = value(&agg, &series("load_seconds_count", &job));
    assert_eq!(hist, total, "histogram count and counter move together");
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_push() {
    let dir = TempDir::new().unwrap();
    let mut server = TallyProcess::start(dir.path(), &[]);
    let load = Load::start(&server.http(), "load", 6, 4, 150);
    load.wait_for_acks(600);
    server.sigkill();
    let ledger = load.join();
    let acked: u64 = ledger.acked.values().sum();
    let complete = 6 * 4 * 150 * 151 / 2;
    assert!(
        acked < complete,
        "the kill came after the load finished; it must land mid-way"
    );
    let restarted = TallyProcess::start(dir.path(), &[]);
    check_recovered(&ledger, &restarted.http());
}

#[test]
fn sigterm_finishes_requests_and_leaves_everything() {
    let dir = TempDir::new().unwrap();
    let mut server = TallyProcess::start(dir.path(), &["--ttl", "1h"]);
    let http = server.http();
    // A fixed state next to the load: PUT, POST, a TTL header, a delete, a retry.
    let fixed = [
        (
            "PUT",
            "job/fixed/instance/a",
            "# TYPE f_total counter\nf_total 5\n# TYPE f_gauge gauge\nf_gauge 1\n",
        ),
        (
            "PUT",
            "job/fixed/instance/b",
            "# TYPE f_total counter\nf_total 7\n",
        ),
        (
            "POST",
            "job/fixed/instance/a",
            "# TYPE f_other_total counter\nf_other_total 2\n",
        ),
        (
            "PUT",
            "job/fixed/instance/c",
            "# TYPE f_total counter\nf_total 11\n",
        ),
        (
            "PUT",
            "job/fixed/instance/b",
            "# TYPE f_total counter\nf_total 7\n",
        ),
    ];
    for (method, key, body) in fixed {
        assert_eq!(http.push(method, key, body).unwrap().status, 200);
    }
    assert_eq!(http.delete("job/fixed/instance/c").unwrap().status, 202);
    let fixed_groups = with_prefix(&http.groups(), "f_");
    let fixed_agg = with_prefix(&http.aggregated(), "f_");
    let fixed_times: Samples = with_prefix(&http.groups(), "push_time_seconds")
        .into_iter()
        .filter(|(k, _)| k.contains("job=\"fixed\""))
        .collect();
    assert_eq!(
        value(&fixed_agg, &series("f_total", &[("job", "fixed")])),
        23.0
    );

    let load = Load::start(&http, "load", 4, 3, 150);
    load.wait_for_acks(300);
    let status = server.sigterm(Duration::from_secs(20));
    let ledger = load.join();
    assert!(
        status.success(),
        "tally serve exited with {status} after SIGTERM; log:\n{}",
        server.log()
    );
    assert!(
        server.log().contains("shutting down"),
        "the log says why it stopped:\n{}",
        server.log()
    );

    let restarted = TallyProcess::start(dir.path(), &["--ttl", "1h"]);
    let http = restarted.http();
    check_recovered(&ledger, &http);
    assert_samples_eq(
        &fixed_groups,
        &with_prefix(&http.groups(), "f_"),
        "fixed groups",
    );
    assert_samples_eq(
        &fixed_agg,
        &with_prefix(&http.aggregated(), "f_"),
        "fixed totals",
    );
    let times: Samples = with_prefix(&http.groups(), "push_time_seconds")
        .into_iter()
        .filter(|(k, _)| k.contains("job=\"fixed\""))
        .collect();
    assert_samples_eq(&fixed_times, &times, "push times survive");
}

/// The newest `log-*.bin` under `<data_dir>/gateway/`.
fn newest_log(data_dir: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(data_dir.join("gateway"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("log-") && n.ends_with(".bin"))
        })
        .collect();
    logs.sort();
    logs.pop().expect("a gateway log")
}

/// Ten pushes (`job/tail/instance/i<n>`, counter `n`); returns the closed data
/// directory and the log's length after each acknowledged push (so record `n` occupies
/// `ends[n-2]..ends[n-1]`).
async fn ten_pushes() -> (Harness, Vec<u64>) {
    let h = Harness::with_defaults();
    let mut ends = Vec::new();
    for n in 1..=10 {
        h.put(
            &format!("job/tail/instance/i{n}"),
            &format!("# TYPE tail_total counter\ntail_total {n}\n"),
        )
        .await
        .expect(200);
        // The answer came after the record was written: the file ends with it.
        ends.push(std::fs::metadata(newest_log(h.data_dir())).unwrap().len());
    }
    (h, ends)
}

/// The instances `1..=n` with their counters, as the per-group view shows them.
fn first_groups(n: u64) -> Samples {
    (1..=n)
        .map(|i| {
            let instance = format!("i{i}");
            let key = series("tail_total", &[("instance", &instance), ("job", "tail")]);
            (key, i as f64)
        })
        .collect()
}

/// Closes `h`, damages its newest log with `damage`, reopens; returns the reopened app.
async fn damage_and_reopen(h: Harness, damage: impl FnOnce(&Path)) -> Harness {
    let log = newest_log(h.data_dir());
    let config = h.app.config.clone();
    let (dir, clock) = h.close().await;
    damage(&log);
    Harness::open(config, dir, clock)
}

#[tokio::test]
async fn torn_log_tail_is_cut_and_reported() {
    let (h, ends) = ten_pushes().await;
    // The tenth record was torn 5 bytes in.
    let reopened = damage_and_reopen(h, |log| {
        let f = std::fs::OpenOptions::new().write(true).open(log).unwrap();
        f.set_len(ends[8] + 5).unwrap();
    })
    .await;
    let (bytes, reason) = reopened.recovery.dropped.clone().expect("damage reported");
    assert_eq!(bytes, 5, "{reason}");
    assert!(
        reason.contains("truncated") && reason.contains(&format!("byte {}", ends[8])),
        "{reason}"
    );
    assert_eq!(reopened.recovery.records, 9);
    assert_samples_eq(
        &first_groups(9),
        &with_prefix(&reopened.groups().await, "tail_total"),
        "after a torn tail",
    );
    // The recovered state is the new base: the next start finds nothing damaged.
    let reopened = damage_and_reopen(reopened, |_| {}).await;
    assert_eq!(reopened.recovery.dropped, None);
    assert_samples_eq(
        &first_groups(9),
        &with_prefix(&reopened.groups().await, "tail_total"),
        "after another restart",
    );
}

#[tokio::test]
async fn log_cut_at_a_record_boundary_loses_nothing_before_it() {
    let (h, ends) = ten_pushes().await;
    let reopened = damage_and_reopen(h, |log| {
        let f = std::fs::OpenOptions::new().write(true).open(log).unwrap();
        f.set_len(ends[6]).unwrap();
    })
    .await;
    assert_eq!(reopened.recovery.dropped, None, "a clean end is not damage");
    assert_samples_eq(
        &first_groups(7),
        &with_prefix(&reopened.groups().await, "tail_total"),
        "after a cut at a boundary",
    );
}

#[tokio::test]
async fn corrupt_record_drops_it_and_everything_after() {
    for (what, offset_in_record) in [("payload", None), ("length field", Some(0u64))] {
        let (h, ends) = ten_pushes().await;
        // Flip a byte of the seventh record: in its payload, or its length's low byte.
        let (start, end) = (ends[5], ends[6]);
        let at = offset_in_record.map_or((start + end) / 2, |o| start + o);
        let reopened = damage_and_reopen(h, |log| {
            let mut bytes = std::fs::read(log).unwrap();
            bytes[at as usize] ^= 0x5a;
            std::fs::write(log, bytes).unwrap();
        })
        .await;
        let (bytes, reason) = reopened
            .recovery
            .dropped
            .clone()
            .unwrap_or_else(|| panic!("{what}: damage not reported"));
        assert_eq!(bytes, ends[9] - start, "{what}: {reason}");
        assert!(
            reason.contains(&format!("byte {start}")),
            "{what}: the reason names where: {reason}"
        );
        assert_samples_eq(
            &first_groups(6),
            &with_prefix(&reopened.groups().await, "tail_total"),
            &format!("after a corrupt {what}"),
        );
        assert_eq!(
            value(
                &reopened.aggregated().await,
                &series("tail_total", &[("job", "tail")])
            ),
            21.0,
            "{what}"
        );
    }
}
