//! Reads and writes against the in-memory reference store.

use proptest::prelude::*;
use tally_model::Sample;
use tally_storage::{MatchOp, Matcher, MemStorage, Rejection, SelectHints, Storage};

use super::*;

#[test]
fn append_query_checkpoint_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at(1_500_000);
    let mut o = options(dir.path(), &clock);
    o.chunk_max_samples = 10;
    let a = labels(&[("__name__", "req_total"), ("code", "200")]);
    let b = labels(&[("__name__", "req_total"), ("code", "500")]);
    let expected: Vec<Sample> = (0..95).map(|i| Sample::new(i * 15_000, i as f64)).collect();
    {
        let db = open(&o);
        for s in &expected {
            write(
                &db,
                &[(&a, s.timestamp_ms, s.value), (&b, s.timestamp_ms, 1.0)],
            );
        }
        db.checkpoint().unwrap();
        let got = all(&db, 0, i64::MAX);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].samples, expected);
        // Samples after the checkpoint live only in the log.
        write(&db, &[(&a, 95 * 15_000, 95.0)]);
    }
    let (db, report) = Db::open(o.clone()).unwrap();
    assert_eq!(report.series_loaded, 2);
    assert_eq!(report.chunks_reopened, 2);
    assert_eq!(report.samples_replayed, 1);
    assert!(report.replay.damage.is_none());
    let got = all(&db, 0, i64::MAX);
    assert_eq!(got[0].samples.len(), 96);
    assert_eq!(&got[0].samples[..95], &expected[..]);
    // A range inside: only the samples in it, from the store and from memory.
    let q = db.querier(30_000, 60_000).unwrap();
    let re = Matcher::new(MatchOp::Regex, "code", "2.*").unwrap();
    let s = q.select(&[re], &SelectHints::default()).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].samples, expected[2..=4].to_vec());
    assert_eq!(q.label_values("code", &[]).unwrap(), ["200", "500"]);
    assert_eq!(q.label_names(&[]).unwrap(), ["__name__", "code"]);
    // After the restart the ordering rule still knows each series' newest sample.
    let mut app = db.appender();
    let e = app.append(&b, Sample::new(15_000, 2.0)).unwrap_err();
    assert_eq!(e.reason, Rejection::OutOfOrder);
    app.append(&b, Sample::new(94 * 15_000, 1.0)).unwrap(); // a repeat
    let stats = app.commit().unwrap();
    assert_eq!((stats.appended, stats.repeats), (0, 1));
}

#[test]
fn replay_twice_changes_nothing() {
    // A crash between the store's commit and the log's deletion replays segments the
    // store already has: the ordering rule skips every sample.
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at(0);
    let o = options(dir.path(), &clock);
    let a = labels(&[("__name__", "up")]);
    {
        let db = open(&o);
        for i in 0..50 {
            write(&db, &[(&a, i * 1000, i as f64)]);
        }
    }
    // Keep a copy of the log, checkpoint (which deletes it), put it back.
    let wal = dir.path().join("wal");
    let saved: Vec<(std::path::PathBuf, Vec<u8>)> = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    {
        let db = open(&o);
        db.checkpoint().unwrap();
    }
    for (p, b) in &saved {
        std::fs::write(p, b).unwrap();
    }
    let (db, report) = Db::open(o.clone()).unwrap();
    assert_eq!(report.samples_replayed, 0);
    let got = all(&db, 0, i64::MAX);
    assert_eq!(got[0].samples.len(), 50);
}

#[test]
fn retention_by_age_with_injected_clock() {
    let dir = tempfile::tempdir().unwrap();
    let day = 86_400_000;
    let clock = FakeClock::at(day);
    let mut o = options(dir.path(), &clock);
    o.retention_ms = Some(day);
    // Retention keeps the 1 minute buckets of the raw data it deletes for this long.
    o.rollup_retention_ms = Some(day);
    o.chunk_max_samples = 4;
    let old = labels(&[("__name__", "old")]);
    let new = labels(&[("__name__", "new")]);
    let db = open(&o);
    for i in 0..8 {
        write(&db, &[(&old, day / 2 + i * 1000, 1.0)]);
    }
    // Too old already: refused.
    let mut app = db.appender();
    let e = app.append(&new, Sample::new(-1, 1.0)).unwrap_err();
    assert_eq!(e.reason, Rejection::TooOld);
    drop(app);
    clock.set(2 * day);
    for i in 0..8 {
        write(&db, &[(&new, 2 * day - 10_000 + i * 1000, 1.0)]);
    }
    db.checkpoint().unwrap(); // `old` is idle: its open chunk is sealed and written
    clock.set(day / 2 + day + 5_000);
    let r = db.apply_retention().unwrap();
    assert_eq!(
        r.series_removed, 0,
        "old's last chunk is still inside the horizon"
    );
    clock.set(2 * day);
    let r = db.apply_retention().unwrap();
    assert_eq!(r.series_removed, 1);
    let got = all(&db, 0, i64::MAX);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].labels, new);
    drop(db);
    let db = open(&o);
    assert_eq!(db.series_count(), 1);
}

#[test]
fn rollups_follow_the_samples_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at(0);
    let o = options(dir.path(), &clock);
    let a = labels(&[("__name__", "g")]);
    {
        let db = open(&o);
        for i in 0..6 {
            // Two buckets of a minute: 0..45 s and 60..75 s ... written in two halves.
            write(&db, &[(&a, i * 15_000, i as f64)]);
            if i == 2 {
                db.checkpoint().unwrap();
            }
        }
    }
    let db = open(&o);
    let r = db
        .select_rollups(&[Matcher::metric_name("g")], 60_000, 0, 3_600_000)
        .unwrap();
    assert_eq!(r.len(), 1);
    let points = &r[0].1;
    assert_eq!(points.len(), 2);
    assert_eq!(
        (points[0].count, points[0].sum, points[0].max),
        (4, 6.0, 3.0)
    );
    assert_eq!((points[1].count, points[1].last), (2, 5.0));
    let hour = db
        .select_rollups(&[Matcher::metric_name("g")], 3_600_000, 0, 0)
        .unwrap();
    assert_eq!((hour[0].1[0].count, hour[0].1[0].min), (6, 0.0));
}

#[test]
fn series_limit_refuses_new_series_only() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at(0);
    let mut o = options(dir.path(), &clock);
    o.max_series = 1;
    let db = open(&o);
    let a = labels(&[("__name__", "a")]);
    let b = labels(&[("__name__", "b")]);
    let mut app = db.appender();
    app.append(&a, Sample::new(1, 1.0)).unwrap();
    app.append(&b, Sample::new(1, 1.0)).unwrap();
    let stats = app.commit().unwrap();
    assert_eq!(stats.appended, 1);
    assert_eq!(stats.rejected[4], 1);
    assert_eq!(db.series_count(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("TALLY_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256) / 40 + 8
    ))]

    /// Whatever is written, interleaved with checkpoints and restarts, the database
    /// answers every range query as the reference store does.
    #[test]
    fn same_answers_as_memory(
        ops in proptest::collection::vec((0usize..3, 0i64..40, -5.0f64..5.0, 0u8..20), 1..120),
        ranges in proptest::collection::vec((0i64..40, 0i64..40), 1..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let clock = FakeClock::at(0);
        let mut o = options(dir.path(), &clock);
        o.chunk_max_samples = 5;
        o.chunk_range_ms = 17_000;
        let names = [labels(&[("__name__", "a")]), labels(&[("__name__", "b"), ("x", "1")]),
                     labels(&[("__name__", "b"), ("x", "2")])];
        let mem = MemStorage::new();
        let mut db = open(&o);
        for (series, t, v, action) in ops {
            for store in [&db as &dyn Storage, &mem] {
                let mut app = store.appender();
                let _ = app.append(&names[series], Sample::new(t * 1000, v));
                app.commit().unwrap();
            }
            match action {
                0 | 1 => { db.checkpoint().unwrap(); }
                2 => { drop(db); db = open(&o); }
                _ => {}
            }
        }
        for (a, b) in ranges {
            let (lo, hi) = (a.min(b) * 1000, a.max(b) * 1000);
            prop_assert_eq!(all(&db, lo, hi), all(&mem, lo, hi));
        }
    }
}

#[test]
fn one_writer_and_read_only_inspection() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at(0);
    let o = options(dir.path(), &clock);
    let db = open(&o);
    let a = labels(&[("__name__", "up")]);
    write(&db, &[(&a, 1000, 1.0)]);
    db.checkpoint().unwrap();
    write(&db, &[(&a, 2000, 2.0)]);
    let err = Db::open(o.clone()).unwrap_err();
    assert!(matches!(err, tally_tsdb::DbError::Locked { .. }), "{err}");
    // A reader sees the store and the log, and changes nothing.
    let (ro, _) = Db::open_read_only(o.clone()).unwrap();
    assert_eq!(all(&ro, 0, 10_000)[0].samples.len(), 2);
    let mut app = ro.appender();
    app.append(&a, Sample::new(3000, 3.0)).unwrap();
    assert!(app.commit().is_err());
    assert!(ro.checkpoint().is_err());
    drop(ro);
    drop(db);
    assert_eq!(all(&open(&o), 0, 10_000)[0].samples.len(), 2);
}

#[test]
fn read_only_open_beside_a_checkpointing_writer_sees_every_committed_sample() {
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at(0);
    let o = options(dir.path(), &clock);
    let db = Arc::new(open(&o));
    let series: Vec<Labels> = (0..10)
        .map(|s| labels(&[("__name__", "x"), ("s", &s.to_string())]))
        .collect();
    // The writer commits one sample per series at t = i, and checkpoints every 5 commits
    // (log segments deleted after the store commit), until the reader is done.
    let committed = Arc::new(AtomicI64::new(-1));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, committed, stop) = (db.clone(), committed.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let batch: Vec<(&Labels, i64, f64)> =
                    series.iter().map(|l| (l, i, i as f64)).collect();
                write(&*db, &batch);
                committed.store(i, Ordering::SeqCst);
                if i % 5 == 4 {
                    db.checkpoint().unwrap();
                }
                i += 1;
            }
        })
    };
    let mut failures = Vec::new();
    for attempt in 0..100 {
        let before = committed.load(Ordering::SeqCst);
        match Db::open_read_only(o.clone()) {
            Ok((ro, _)) => {
                let got = all(&ro, 0, i64::MAX);
                let short: Vec<String> = got
                    .iter()
                    .filter(|s| {
                        s.samples
                            .iter()
                            .filter(|x| x.timestamp_ms <= before)
                            .count() as i64
                            != before + 1
                    })
                    .map(|s| s.labels.to_string())
                    .collect();
                if (before >= 0 && got.len() != 10) || !short.is_empty() {
                    failures.push(format!(
                        "open {attempt}: {} series, committed up to {before}, short: {short:?}",
                        got.len()
                    ));
                }
            }
            Err(e) => failures.push(format!("open {attempt}: {e}")),
        }
    }
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} of 100 read-only opens failed or missed committed samples:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn backfilled_series_are_idle_only_relative_to_newer_data() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at(10 * 86_400_000);
    let o = options(dir.path(), &clock);
    let db = open(&o);
    let a = labels(&[("__name__", "a")]);
    let b = labels(&[("__name__", "b")]);
    for i in 0..3 {
        write(&db, &[(&a, i * 15_000, 1.0)]);
    }
    db.checkpoint().unwrap();
    // Days older than the clock, but the newest data there is: the open chunk stays open.
    assert_eq!(db.samples_in_memory(), 3);
    write(&db, &[(&b, 3 * 3_600_000, 1.0)]);
    db.checkpoint().unwrap();
    // Now `a` has been idle for a chunk window: sealed, written and released.
    assert_eq!(db.samples_in_memory(), 1);
    assert_eq!(all(&db, 0, i64::MAX)[0].samples.len(), 3);
}

#[test]
fn minute_buckets_outlive_the_raw_samples_retention_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at(0);
    let mut o = options(dir.path(), &clock);
    o.retention_ms = Some(1_000_000);
    o.chunk_max_samples = 2;
    let db = open(&o);
    let g = labels(&[("__name__", "g")]);
    for i in 0..4 {
        write(&db, &[(&g, i * 15_000, i as f64)]);
    }
    db.checkpoint().unwrap();
    // The chunk of 0 s and 15 s goes; 30 s and 45 s stay: one minute bucket, split.
    clock.set(1_020_000);
    db.apply_retention().unwrap();
    assert_eq!(all(&db, 0, i64::MAX)[0].samples.len(), 2);
    let minute = |db: &tally_tsdb::Db| {
        db.select_rollups(&[Matcher::metric_name("g")], 60_000, 0, 0)
            .unwrap()[0]
            .1
            .clone()
    };
    let p = minute(&db)[0];
    assert_eq!(
        (p.count, p.sum, p.min, p.max, p.last),
        (4, 6.0, 0.0, 3.0, 3.0)
    );
    // And after the rest goes too, from the store alone.
    write(&db, &[(&g, 1_000_000, 9.0)]);
    db.checkpoint().unwrap();
    clock.set(1_999_000);
    db.apply_retention().unwrap();
    let p = minute(&db)[0];
    assert_eq!((p.count, p.sum, p.last), (4, 6.0, 3.0));
}
