//! DESIGN.md §4 rule 9 and issue 5 item 5 for the time-series database: a `2xx` answer
//! to a remote_write request means its samples survive `kill -9` of the server.
//!
//! - Real `tally serve` processes under remote_write and Pushgateway load, killed with
//!   `SIGKILL` mid-load (once at an arbitrary moment, then while a checkpoint is in
//!   progress), restarted on the same data directory; the database, opened read-only
//!   after each kill, holds every acknowledged sample, and the gateway every acknowledged
//!   push.
//! - A log with a torn or corrupt tail, recovered in-process (where
//!   [`tally_server::open`] keeps the database's `OpenReport`) and by the real binary
//!   (which logs a warning): everything before the damage is there, the damage is
//!   reported.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tally_server::remote_write::proto::{self, encode_body, Label, TimeSeries, WriteRequest};
use tally_server::App;
use tally_storage::{MatchOp, Matcher, SelectHints, Storage as _};
use tally_tsdb::wal::DamageKind;
use tally_tsdb::{Db, Options};
use tempfile::TempDir;

use crate::durability::{check_recovered, Load};
use crate::harness::{Harness, START_MS};
use crate::http::Http;
use crate::process::TallyProcess;

/// Pause between polls.
const POLL: Duration = Duration::from_millis(2);

/// How long one wait for the load may take before the test fails.
const WAIT: Duration = Duration::from_secs(60);

/// remote_write client threads.
const RW_THREADS: usize = 3;

/// Series each remote_write thread writes, one sample each per request.
const RW_SERIES: usize = 40;

/// Milliseconds between a thread's consecutive requests' timestamps.
const RW_STEP_MS: i64 = 10;

/// The request a remote_write thread sends `i`-th: one sample for each of its series, as
/// Prometheus sends them (one `TimeSeries` per sample).
fn rw_request(base_ms: i64, thread: usize, i: u64) -> WriteRequest {
    let timeseries = (0..RW_SERIES)
        .map(|s| TimeSeries {
            labels: [
                ("__name__", "crash_rw".to_owned()),
                ("series", s.to_string()),
                ("thread", thread.to_string()),
            ]
            .into_iter()
            .map(|(name, value)| Label {
                name: name.to_owned(),
                value,
            })
            .collect(),
            samples: vec![proto::Sample {
                value: rw_value(thread, s, i),
                timestamp: rw_time(base_ms, i),
            }],
            ..TimeSeries::default()
        })
        .collect();
    WriteRequest {
        timeseries,
        metadata: vec![],
    }
}

fn rw_time(base_ms: i64, i: u64) -> i64 {
    base_ms + i as i64 * RW_STEP_MS
}

/// Distinct per series and request, exact in binary floating point.
fn rw_value(thread: usize, series: usize, i: u64) -> f64 {
    (thread * 1_000_000 + series * 10_000) as f64 + i as f64 * 0.25
}

/// What the remote_write threads sent, by thread: the request numbers acknowledged
/// (`204`) and those sent without an answer (in flight at the kill). Kept across
/// restarts: each thread's numbers keep growing.
#[derive(Debug, Clone)]
struct RwLedger {
    base_ms: i64,
    acked: Vec<BTreeSet<u64>>,
    unanswered: Vec<BTreeSet<u64>>,
    next: Vec<u64>,
    refused: Vec<String>,
}

impl RwLedger {
    fn new(base_ms: i64) -> Self {
        Self {
            base_ms,
            acked: vec![BTreeSet::new(); RW_THREADS],
            unanswered: vec![BTreeSet::new(); RW_THREADS],
            next: vec![0; RW_THREADS],
            refused: Vec::new(),
        }
    }

    fn acked_total(&self) -> usize {
        self.acked.iter().map(BTreeSet::len).sum()
    }
}

/// remote_write client threads sending requests back to back until the server stops
/// answering (or [`RwLoad::stop`]).
struct RwLoad {
    threads: Vec<JoinHandle<()>>,
    acks: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl RwLoad {
    fn start(http: &Http, ledger: &Arc<Mutex<RwLedger>>) -> Self {
        let acks = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..RW_THREADS)
            .map(|t| {
                let (http, ledger) = (http.clone(), ledger.clone());
                let (acks, stop) = (acks.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let (i, base) = {
                            let mut l = ledger.lock().unwrap();
                            let i = l.next[t];
                            l.next[t] += 1;
                            l.unanswered[t].insert(i);
                            (i, l.base_ms)
                        };
                        let body = encode_body(&rw_request(base, t, i));
                        match http.remote_write(&body) {
                            Ok(r) if (200..300).contains(&r.status) => {
                                let mut l = ledger.lock().unwrap();
                                l.unanswered[t].remove(&i);
                                l.acked[t].insert(i);
                                acks.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok(r) => {
                                let why =
                                    format!("thread {t} request {i}: {} {}", r.status, r.body);
                                ledger.lock().unwrap().refused.push(why);
                                return;
                            }
                            // The server is gone.
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        Self {
            threads,
            acks,
            stop,
        }
    }

    fn acks(&self) -> usize {
        self.acks.load(Ordering::SeqCst)
    }

    fn join(self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            t.join().expect("a remote_write thread panicked");
        }
    }
}

/// Checks that `db` holds every acknowledged remote_write sample with its value and, when
/// `exact` (nothing was sent since `ledger` was taken), no sample that was never sent;
/// returns how many samples it holds.
fn check_rw_samples(db: &Db, ledger: &RwLedger, exact: bool, context: &str) -> usize {
    assert!(
        ledger.refused.is_empty(),
        "{context}: refused: {:?}",
        ledger.refused
    );
    let q = db.querier(ledger.base_ms, i64::MAX).unwrap();
    let stored = q
        .select(&[Matcher::metric_name("crash_rw")], &SelectHints::default())
        .unwrap();
    let mut by_series: BTreeMap<(usize, usize), BTreeMap<i64, f64>> = BTreeMap::new();
    let mut total = 0;
    for s in stored {
        let label = |n: &str| s.labels.get(n).unwrap().parse::<usize>().unwrap();
        let samples = by_series
            .entry((label("thread"), label("series")))
            .or_default();
        for x in &s.samples {
            samples.insert(x.timestamp_ms, x.value);
            total += 1;
        }
    }
    let mut lost = Vec::new();
    let mut unexpected = Vec::new();
    for t in 0..RW_THREADS {
        for s in 0..RW_SERIES {
            let empty = BTreeMap::new();
            let got = by_series.get(&(t, s)).unwrap_or(&empty);
            for &i in &ledger.acked[t] {
                let want = rw_value(t, s, i);
                match got.get(&rw_time(ledger.base_ms, i)) {
                    Some(v) if v.to_bits() == want.to_bits() => {}
                    other => lost.push(format!(
                        "thread {t} series {s} request {i}: want {want}, got {other:?}"
                    )),
                }
            }
            for (&ts, &v) in got {
                let i = ((ts - ledger.base_ms) / RW_STEP_MS) as u64;
                let sent = ledger.acked[t].contains(&i) || ledger.unanswered[t].contains(&i);
                let right = ts == rw_time(ledger.base_ms, i) && v == rw_value(t, s, i);
                if !right || (exact && !sent) {
                    unexpected.push(format!("thread {t} series {s}: {ts} {v}"));
                }
            }
        }
    }
    assert!(
        lost.is_empty() && unexpected.is_empty(),
        "{context}: {} acknowledged samples lost, {} never sent but stored; first lost: \
         {:?}; first unexpected: {:?}",
        lost.len(),
        unexpected.len(),
        lost.iter().take(5).collect::<Vec<_>>(),
        unexpected.iter().take(5).collect::<Vec<_>>()
    );
    total
}

/// The segment numbers in `<data_dir>/tsdb/wal/`, ascending.
fn wal_segments(data_dir: &Path) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("tsdb/wal")) else {
        return Vec::new();
    };
    let mut segments: Vec<u64> = entries
        .filter_map(|e| tally_tsdb::wal::parse_segment_name(e.ok()?.file_name().to_str()?))
        .collect();
    segments.sort_unstable();
    segments
}

/// Opens `<data_dir>/tsdb` read-only (nothing changes on disk).
fn open_read_only(data_dir: &Path) -> (Db, tally_tsdb::OpenReport) {
    Db::open_read_only(Options::new(data_dir.join("tsdb"))).expect("opening the tsdb read-only")
}

/// Waits (bounded) until `done` holds, polling.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        std::thread::sleep(POLL);
    }
}

#[test]
fn sigkill_under_remote_write_and_push_load_loses_no_acknowledged_sample() {
    let dir = TempDir::new().unwrap();
    let base_ms = (tally_tsdb::system_clock())() - 60_000;
    let ledger = Arc::new(Mutex::new(RwLedger::new(base_ms)));
    // Cycle 0 keeps the default checkpoint interval (a minute): the kill finds everything
    // in the log. Later cycles checkpoint every 20 ms and are killed while the log has
    // two segments: after a checkpoint's cut and before it removed the old segment.
    let fast_checkpoints = ["--checkpoint-interval", "20ms"];
    let mut previous_push = None;
    let mut mid_checkpoint_kills = 0;
    let mut cycle = 0;
    while cycle < 3 || (mid_checkpoint_kills == 0 && cycle < 8) {
        let flags: &[&str] = if cycle == 0 { &[] } else { &fast_checkpoints };
        let mut server = TallyProcess::start(dir.path(), flags);
        let http = server.http();
        if let Some(previous) = previous_push.take() {
            check_recovered(&previous, &http);
        }
        let acked_before = ledger.lock().unwrap().acked_total();
        let rw = RwLoad::start(&http, &ledger);
        let push = Load::start(&http, &format!("crash{cycle}"), 2, 3, 1_000_000);
        wait_until("sustained load", || rw.acks() >= 300 && push.acks() >= 100);
        if cycle > 0 {
            // Inspection beside the running server (`tally tsdb dump`): it sees at least
            // everything acknowledged before it opened, checkpoints notwithstanding.
            let acked = ledger.lock().unwrap().clone();
            let (db, _) = open_read_only(dir.path());
            check_rw_samples(
                &db,
                &acked,
                false,
                &format!("read-only beside server {cycle}"),
            );
        }
        if cycle > 0 {
            wait_until("a checkpoint in progress", || {
                wal_segments(dir.path()).len() >= 2
            });
        }
        server.sigkill();
        let segments_left = wal_segments(dir.path()).len();
        if cycle > 0 && segments_left >= 2 {
            mid_checkpoint_kills += 1;
        }
        rw.join();
        previous_push = Some(push.join());

        let l = ledger.lock().unwrap();
        assert!(
            l.acked_total() > acked_before,
            "cycle {cycle}: no remote_write request was acknowledged"
        );
        let (db, report) = open_read_only(dir.path());
        // A kill can cut a write(2) short (Linux stops a write between pages when a fatal
        // signal is pending): only an unacknowledged tail may be damaged.
        if let Some(damage) = &report.replay.damage {
            assert!(
                damage.corruption.kind == DamageKind::TornTail
                    && damage.dropped_segments.is_empty()
                    && Some(&damage.corruption.segment) == wal_segments(dir.path()).last(),
                "cycle {cycle}: a kill -9 can only tear the newest segment's tail: {damage}"
            );
        }
        check_rw_samples(
            &db,
            &l,
            true,
            &format!("after kill {cycle} ({segments_left} log segments left)"),
        );
        drop(l);
        cycle += 1;
    }
    assert!(
        mid_checkpoint_kills > 0,
        "no kill landed mid-checkpoint in {cycle} cycles"
    );

    // A last restart: the pushes are there, and a clean stop (final checkpoint) keeps
    // every sample, now read from the store.
    let mut server = TallyProcess::start(dir.path(), &[]);
    check_recovered(&previous_push.unwrap(), &server.http());
    let status = server.sigterm(Duration::from_secs(20));
    assert!(status.success(), "{status}; log:\n{}", server.log());
    let segments = wal_segments(dir.path());
    let newest = std::fs::metadata(newest_segment(dir.path())).unwrap().len();
    assert!(
        segments.len() == 1 && newest == 0,
        "after a clean stop everything is in the store: log segments {segments:?}, the \
         newest holding {newest} bytes"
    );
    let (db, _) = open_read_only(dir.path());
    let ledger = ledger.lock().unwrap();
    let n = check_rw_samples(&db, &ledger, true, "after a clean stop");
    assert!(n >= ledger.acked_total() * RW_SERIES);
}

// ---- A damaged log tail ------------------------------------------------------------

/// The newest segment of `<data_dir>/tsdb/wal/`.
fn newest_segment(data_dir: &Path) -> PathBuf {
    let n = *wal_segments(data_dir).last().expect("a log segment");
    data_dir
        .join("tsdb/wal")
        .join(tally_tsdb::wal::segment_name(n))
}

/// Request `n` of the damage tests: a new series `dmg_new{n}` and a sample of `dmg_all`,
/// both `n` at `n` seconds after [`START_MS`].
fn dmg_request(n: u64) -> Vec<u8> {
    let ts = |labels: &[(&str, &str)]| TimeSeries {
        labels: labels
            .iter()
            .map(|(name, value)| Label {
                name: (*name).to_owned(),
                value: (*value).to_owned(),
            })
            .collect(),
        samples: vec![proto::Sample {
            value: n as f64,
            timestamp: START_MS + n as i64 * 1000,
        }],
        ..TimeSeries::default()
    };
    let n_text = n.to_string();
    encode_body(&WriteRequest {
        timeseries: vec![
            ts(&[("__name__", "dmg_new"), ("n", &n_text)]),
            ts(&[("__name__", "dmg_all")]),
        ],
        metadata: vec![],
    })
}

async fn remote_write(h: &Harness, body: Vec<u8>) {
    h.request(
        "POST",
        "/api/v1/write",
        &[
            ("Content-Encoding", "snappy"),
            ("Content-Type", "application/x-protobuf"),
        ],
        body,
    )
    .await
    .expect(204);
}

/// Request 0, checkpointed into the store; then requests 1 to 10 in the log. Returns the
/// newest segment's length after each of requests 1..=10 (request `n` occupies
/// `ends[n-2]..ends[n-1]`; request 1 starts at 0, in the segment the checkpoint cut).
async fn checkpoint_then_ten_writes() -> (Harness, Vec<u64>) {
    let h = Harness::with_defaults();
    remote_write(&h, dmg_request(0)).await;
    h.app.tsdb.checkpoint().unwrap();
    let mut ends = Vec::new();
    for n in 1..=10 {
        remote_write(&h, dmg_request(n)).await;
        // Answered after the commit's write(2): the segment ends with this request.
        ends.push(
            std::fs::metadata(newest_segment(h.data_dir()))
                .unwrap()
                .len(),
        );
    }
    assert_eq!(
        wal_segments(h.data_dir()).len(),
        1,
        "the checkpoint removed the rest"
    );
    (h, ends)
}

/// Every `dmg_*` series and its samples (seconds after START_MS, value).
fn dmg_contents(db: &dyn tally_storage::Storage) -> BTreeMap<String, Vec<(i64, f64)>> {
    let q = db.querier(START_MS - 1, START_MS + 3_600_000).unwrap();
    let m = Matcher::new(MatchOp::Regex, "__name__", "dmg_.*").unwrap();
    q.select(&[m], &SelectHints::default())
        .unwrap()
        .into_iter()
        .map(|s| {
            let samples = s
                .samples
                .iter()
                .map(|x| ((x.timestamp_ms - START_MS) / 1000, x.value))
                .collect();
            (s.labels.to_string(), samples)
        })
        .collect()
}

/// What [`dmg_contents`] shows when requests `0..=k` survived.
fn dmg_expected(k: u64) -> BTreeMap<String, Vec<(i64, f64)>> {
    let mut out: BTreeMap<String, Vec<(i64, f64)>> = (0..=k)
        .map(|n| {
            (
                format!("{{__name__=\"dmg_new\", n=\"{n}\"}}"),
                vec![(n as i64, n as f64)],
            )
        })
        .collect();
    out.insert(
        "{__name__=\"dmg_all\"}".to_owned(),
        (0..=k).map(|n| (n as i64, n as f64)).collect(),
    );
    out
}

fn app_contents(app: &App) -> BTreeMap<String, Vec<(i64, f64)>> {
    dmg_contents(&*app.tsdb)
}

/// Closes `h`, damages its newest log segment with `damage`, copies the damaged data
/// directory (for a real process), and reopens `h`'s in-process.
async fn damage_and_reopen(h: Harness, damage: impl FnOnce(&Path)) -> (Harness, TempDir) {
    let segment = newest_segment(h.data_dir());
    let config = h.app.config.clone();
    let (dir, clock) = h.close().await;
    damage(&segment);
    let copy = TempDir::new().unwrap();
    copy_dir(dir.path(), copy.path());
    (Harness::open(config, dir, clock), copy)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn torn_log_tail_recovers_everything_before_it_and_reports_it() {
    let (h, ends) = checkpoint_then_ten_writes().await;
    assert_eq!(app_contents(&h.app), dmg_expected(10));
    // The tenth request's frames were torn 5 bytes in.
    let (reopened, copy) = damage_and_reopen(h, |segment| {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(segment)
            .unwrap();
        f.set_len(ends[8] + 5).unwrap();
    })
    .await;
    let report = reopened.app.tsdb_recovery.lock().clone().expect("a report");
    let damage = report.replay.damage.expect("the damage is reported");
    assert_eq!(damage.corruption.offset, ends[8], "{damage}");
    assert_eq!(damage.corruption.kind, DamageKind::TornTail, "{damage}");
    assert_eq!(damage.dropped_bytes, 5, "{damage}");
    assert_eq!(app_contents(&reopened.app), dmg_expected(9));

    // The repaired log is the new base: writes continue after it, and the next start
    // finds nothing damaged.
    remote_write(&reopened, dmg_request(11)).await;
    let (reopened, _) = damage_and_reopen(reopened, |_| {}).await;
    let report = reopened.app.tsdb_recovery.lock().clone().expect("a report");
    assert_eq!(report.replay.damage, None);
    let mut want = dmg_expected(9);
    want.insert(
        "{__name__=\"dmg_new\", n=\"11\"}".to_owned(),
        vec![(11, 11.0)],
    );
    want.get_mut("{__name__=\"dmg_all\"}")
        .unwrap()
        .push((11, 11.0));
    assert_eq!(app_contents(&reopened.app), want);

    // The real binary on the damaged copy says so in its log, and keeps the same.
    let mut server = TallyProcess::start(copy.path(), &[]);
    let status = server.sigterm(Duration::from_secs(20));
    let log = server.log();
    assert!(status.success(), "{status}; log:\n{log}");
    assert!(
        log.contains("WARN") && log.contains("time-series log was damaged"),
        "the start-up warning is missing:\n{log}"
    );
    assert!(
        log.contains(&format!("offset {}", ends[8])) && log.contains("dropped 5 bytes"),
        "the warning says where and how much:\n{log}"
    );
    let (db, report) = open_read_only(copy.path());
    assert_eq!(report.replay.damage, None, "repaired at the server's start");
    assert_eq!(dmg_contents(&db), dmg_expected(9));
}

#[tokio::test]
async fn corrupt_log_record_drops_it_and_everything_after() {
    for (what, in_record) in [("payload", None), ("length field", Some(0u64))] {
        let (h, ends) = checkpoint_then_ten_writes().await;
        // A flipped byte in the seventh request's first frame (its new series): in the
        // payload, or the length's low byte.
        let start = ends[5];
        let at = start + in_record.unwrap_or(tally_tsdb::wal::HEADER_LEN as u64 + 1);
        let (reopened, _) = damage_and_reopen(h, |segment| {
            let mut bytes = std::fs::read(segment).unwrap();
            bytes[at as usize] ^= 0x5a;
            std::fs::write(segment, bytes).unwrap();
        })
        .await;
        let report = reopened.app.tsdb_recovery.lock().clone().expect("a report");
        let damage = report
            .replay
            .damage
            .unwrap_or_else(|| panic!("{what}: damage not reported"));
        assert_eq!(damage.corruption.offset, start, "{what}: {damage}");
        if in_record.is_none() {
            assert!(
                matches!(damage.corruption.kind, DamageKind::Checksum { .. }),
                "{what}: {damage}"
            );
        }
        assert_eq!(damage.dropped_bytes, ends[9] - start, "{what}: {damage}");
        assert_eq!(
            app_contents(&reopened.app),
            dmg_expected(6),
            "{what}: requests 0 to 6 survive"
        );
    }
}
