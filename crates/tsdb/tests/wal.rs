//! The write-ahead log end to end, on real files: what is logged replays exactly, torn
//! and corrupt segments are repaired as `docs/format/tsdb-wal.md` says, group commit
//! loses nothing, and no bytes make replay panic.

// Helpers outside `#[test]` functions fail the test loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use tally_model::Labels;
use tally_tsdb::wal::{
    self, segment_name, DamageKind, Record, RefSample, RefSeries, Replay, SegmentReader, Wal,
    WalError, WalOptions, HEADER_LEN,
};

/// Asserts two record lists are equal, printing the first difference rather than two
/// walls of debug output.
fn assert_records(got: &[Record], want: &[Record]) {
    if let Some(i) = (0..got.len().min(want.len())).find(|&i| got[i] != want[i]) {
        panic!(
            "record {i} differs:\n  got:  {:?}\n  want: {:?}",
            got[i], want[i]
        );
    }
    assert_eq!(
        got.len(),
        want.len(),
        "same prefix, but got {} records and wanted {}",
        got.len(),
        want.len()
    );
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn series(id: u64, name: &str) -> RefSeries {
    RefSeries {
        id,
        labels: labels(&[("__name__", name), ("job", "api"), ("instance", "a:1")]),
    }
}

/// `n` samples of series `first_id..`, starting at `t`.
fn samples(first_id: u64, n: u64, t: i64) -> Record {
    Record::Samples(
        (0..n)
            .map(|i| RefSample {
                id: first_id + i,
                t: t + 15_000 * i as i64,
                v: (first_id * 1000 + i) as f64 / 7.0,
            })
            .collect(),
    )
}

/// A realistic log: series batches, then sample batches referring to them.
fn workload() -> Vec<Vec<Record>> {
    let mut batches = vec![vec![Record::Series(
        (1..=10).map(|id| series(id, &format!("m{id}"))).collect(),
    )]];
    for round in 0..6 {
        let t = 1_700_000_000_000 + round * 15_000;
        let mut batch = vec![samples(1, 10, t)];
        if round % 2 == 1 {
            let id = 11 + round as u64;
            batch.insert(0, Record::Series(vec![series(id, "late")]));
            batch.push(samples(id, 1, t));
        }
        batches.push(batch);
    }
    batches
}

fn frame_len(record: &Record) -> u64 {
    let mut buf = Vec::new();
    record.encode(&mut buf);
    (HEADER_LEN + buf.len()) as u64
}

fn open(dir: &Path, options: WalOptions, from: u64) -> (Wal, Vec<Record>, Replay) {
    let mut records = Vec::new();
    let (wal, replay) = Wal::open(dir, options, from, |r| records.push(r)).unwrap();
    (wal, records, replay)
}

fn reopen(dir: &Path) -> (Vec<Record>, Replay) {
    let (_, records, replay) = open(dir, WalOptions::default(), 0);
    (records, replay)
}

fn write_all(dir: &Path, options: WalOptions, batches: &[Vec<Record>]) -> Vec<Record> {
    let (wal, _, _) = open(dir, options, 0);
    for batch in batches {
        wal.log(batch).unwrap();
    }
    batches.concat()
}

fn seg(dir: &Path, n: u64) -> PathBuf {
    dir.join(segment_name(n))
}

fn segments(dir: &Path) -> Vec<u64> {
    let mut out: Vec<u64> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| wal::parse_segment_name(e.unwrap().file_name().to_str()?))
        .collect();
    out.sort_unstable();
    out
}

fn len(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

#[test]
fn what_is_logged_replays_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut batches = workload();
    batches.push(vec![Record::Samples(vec![
        RefSample {
            id: 1,
            t: i64::MIN,
            v: f64::from_bits(0x7ff0_0000_0000_0002),
        },
        RefSample {
            id: u64::MAX,
            t: i64::MAX,
            v: -0.0,
        },
        RefSample {
            id: 0,
            t: 0,
            v: f64::NEG_INFINITY,
        },
    ])]);
    batches.push(vec![
        Record::Series(Vec::new()),
        Record::Samples(Vec::new()),
    ]);
    let want = write_all(dir.path(), WalOptions::default(), &batches);

    let (got, replay) = reopen(dir.path());
    assert_records(&got, &want);
    assert_eq!(replay.records, want.len() as u64);
    assert_eq!((replay.segments, replay.first_segment), (1, Some(1)));
    assert_eq!(replay.bytes, len(&seg(dir.path(), 1)));
    assert_eq!(replay.bytes, want.iter().map(frame_len).sum::<u64>());
    assert_eq!(replay.damage, None);

    // The read-only reader agrees.
    let mut read = Vec::new();
    assert_eq!(wal::read(dir.path(), 0, |r| read.push(r)).unwrap(), replay);
    assert_records(&read, &want);
}

#[test]
fn records_replay_across_many_segments_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions {
        segment_size: 300,
        fsync: false,
    };
    let want = write_all(dir.path(), options, &workload());
    assert!(segments(dir.path()).len() > 3, "{:?}", segments(dir.path()));
    let (wal, got, replay) = open(dir.path(), options, 0);
    assert_records(&got, &want);
    assert_eq!(replay.segments, segments(dir.path()).len() as u64);
    assert_eq!(wal.stats().segment, *segments(dir.path()).last().unwrap());
}

/// Logs the workload one record per `log` call in two segments; returns the records and
/// the offsets in segment 2 where each of its records starts, plus its end.
fn two_segments(dir: &Path) -> (Vec<Record>, Vec<u64>) {
    let records: Vec<Record> = workload().concat();
    let (wal, _, _) = open(dir, WalOptions::default(), 0);
    let half = records.len() / 2;
    for r in &records[..half] {
        wal.log(std::slice::from_ref(r)).unwrap();
    }
    assert_eq!(wal.cut().unwrap(), 2);
    let mut bounds = vec![0];
    for r in &records[half..] {
        wal.log(std::slice::from_ref(r)).unwrap();
        bounds.push(bounds.last().unwrap() + frame_len(r));
    }
    assert_eq!(*bounds.last().unwrap(), len(&seg(dir, 2)));
    (records, bounds)
}

#[test]
fn a_torn_tail_at_every_offset_replays_the_records_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let (records, bounds) = two_segments(dir.path());
    let in_first = records.len() - (bounds.len() - 1);
    let original = fs::read(seg(dir.path(), 2)).unwrap();
    let end = original.len() as u64;
    // Every cut inside the last three records, and the clean boundaries between them.
    let from = bounds[bounds.len() - 4];
    for cut in from..=end {
        fs::write(seg(dir.path(), 2), &original[..cut as usize]).unwrap();
        let whole = bounds.iter().filter(|&&b| b <= cut).count() - 1;
        let good = *bounds.iter().rfind(|&&b| b <= cut).unwrap();

        let (got, replay) = reopen(dir.path());
        assert_records(&got, &records[..in_first + whole]);
        if cut == good {
            assert_eq!(replay.damage, None, "cut at {cut}");
        } else {
            let damage = replay
                .damage
                .unwrap_or_else(|| panic!("cut at {cut}: no damage"));
            assert_eq!(damage.corruption.segment, 2, "cut at {cut}");
            assert_eq!(damage.corruption.offset, good, "cut at {cut}");
            assert_eq!(damage.corruption.kind, DamageKind::TornTail, "cut at {cut}");
            assert_eq!(damage.dropped_bytes, cut - good, "cut at {cut}");
            assert!(damage.dropped_segments.is_empty());
        }
        // Repaired: the segment ends at the last good record, and a second open is clean.
        assert_eq!(len(&seg(dir.path(), 2)), good, "cut at {cut}");
        let (again, replay) = reopen(dir.path());
        assert_eq!(replay.damage, None);
        assert_eq!(again.len(), got.len());
    }
}

#[test]
fn appending_after_a_repaired_tail_replays_everything_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (records, bounds) = two_segments(dir.path());
    let cut = bounds[bounds.len() - 2] + 5;
    fs::OpenOptions::new()
        .write(true)
        .open(seg(dir.path(), 2))
        .unwrap()
        .set_len(cut)
        .unwrap();

    let (wal, got, replay) = open(dir.path(), WalOptions::default(), 0);
    let kept = &records[..records.len() - 1];
    assert_records(&got, kept);
    assert_eq!(replay.damage.unwrap().dropped_bytes, 5);
    let more = [
        samples(1, 3, 2_000_000_000_000),
        samples(2, 1, 2_000_000_000_001),
    ];
    wal.log(&more).unwrap();
    drop(wal);

    let (got, replay) = reopen(dir.path());
    assert_records(&got, &[kept, &more[..]].concat());
    assert_eq!(replay.damage, None);
    assert_eq!(segments(dir.path()), [1, 2]);
}

#[test]
fn a_flipped_byte_in_a_middle_record_drops_everything_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions::default();
    let (records, bounds) = two_segments(dir.path());
    let in_first = records.len() - (bounds.len() - 1);
    // A third segment after the damaged one.
    {
        let (wal, _, _) = open(dir.path(), options, 0);
        assert_eq!(wal.cut().unwrap(), 3);
        wal.log(&[samples(1, 2, 5)]).unwrap();
    }
    let seg2 = fs::read(seg(dir.path(), 2)).unwrap();
    let seg3 = fs::read(seg(dir.path(), 3)).unwrap();
    let victim = 2; // the third record of segment 2
    let start = bounds[victim];
    for at in start..bounds[victim + 1] {
        let mut damaged = seg2.clone();
        damaged[at as usize] ^= 0xff;
        fs::write(seg(dir.path(), 2), &damaged).unwrap();
        fs::write(seg(dir.path(), 3), &seg3).unwrap();

        // Read-only first: the same report, nothing changed.
        let mut read = Vec::new();
        let report = wal::read(dir.path(), 0, |r| read.push(r)).unwrap();
        assert_eq!(fs::read(seg(dir.path(), 2)).unwrap(), damaged);
        assert_eq!(segments(dir.path()), [1, 2, 3]);

        let (got, replay) = reopen(dir.path());
        assert_eq!(report, replay, "byte {at}");
        assert_records(&got, &records[..in_first + victim]);
        assert_records(&read, &got);
        let damage = replay.damage.unwrap();
        assert_eq!(
            (damage.corruption.segment, damage.corruption.offset),
            (2, start),
            "byte {at}"
        );
        if at >= start + HEADER_LEN as u64 {
            assert!(
                matches!(damage.corruption.kind, DamageKind::Checksum { .. }),
                "byte {at}: {}",
                damage.corruption
            );
        }
        assert_eq!(
            damage.dropped_bytes,
            seg2.len() as u64 - start + seg3.len() as u64
        );
        assert_eq!(damage.dropped_segments, [3]);
        assert_eq!(segments(dir.path()), [1, 2]);
        assert_eq!(len(&seg(dir.path(), 2)), start);
        let text = damage.to_string();
        assert!(text.contains("segment 00000002 offset"), "{text}");
    }
}

#[test]
fn damage_in_an_earlier_segment_removes_the_later_ones_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let (records, bounds) = two_segments(dir.path());
    let in_first = records.len() - (bounds.len() - 1);
    {
        let (wal, _, _) = open(dir.path(), WalOptions::default(), 0);
        for _ in 0..3 {
            wal.cut().unwrap();
        }
    }
    // Zeros over segment 1's last record, as a file system may leave after power loss.
    let seg1 = fs::read(seg(dir.path(), 1)).unwrap();
    let last = frame_len(&records[in_first - 1]) as usize;
    let mut zeroed = seg1.clone();
    zeroed[seg1.len() - last..].fill(0);
    fs::write(seg(dir.path(), 1), &zeroed).unwrap();

    let (wal, got, replay) = open(
        dir.path(),
        WalOptions {
            fsync: true,
            ..Default::default()
        },
        0,
    );
    assert_records(&got, &records[..in_first - 1]);
    let damage = replay.damage.unwrap();
    assert_eq!(damage.corruption.kind, DamageKind::BadLength(0));
    assert_eq!(damage.dropped_segments, [2, 3, 4, 5]);
    assert_eq!(segments(dir.path()), [1]);
    assert_eq!(wal.stats().segment, 1);
    wal.log(&[samples(7, 1, 7)]).unwrap();
    assert_eq!(wal.cut().unwrap(), 2);
    drop(wal);
    let (got, _) = reopen(dir.path());
    assert_eq!(got.len(), in_first);
}

#[test]
fn an_unknown_record_type_is_an_error_naming_segment_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let want = write_all(dir.path(), WalOptions::default(), &workload());
    let path = seg(dir.path(), 1);
    let good = len(&path);
    let payload = b"\x2anew kind of record";
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend((payload.len() as u32).to_le_bytes());
    bytes.extend(crc32fast::hash(payload).to_le_bytes());
    bytes.extend(payload);
    fs::write(&path, &bytes).unwrap();

    let mut got = Vec::new();
    match Wal::open(dir.path(), WalOptions::default(), 0, |r| got.push(r)) {
        Err(
            e @ WalError::UnknownRecordType {
                segment: 1,
                offset,
                kind: 42,
            },
        ) => {
            assert_eq!(offset, good);
            assert!(e.to_string().contains("segment 00000001 offset"), "{e}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened"),
    }
    // Not repaired: the newer version's data is still there.
    assert_eq!(fs::read(&path).unwrap(), bytes);
    assert_records(&got, &want);
}

#[test]
fn checkpoint_cut_then_remove_before() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions {
        segment_size: 200,
        fsync: true,
    };
    let batches = workload();
    let (wal, _, _) = open(dir.path(), options, 0);
    for b in &batches[..4] {
        wal.log(b).unwrap();
    }
    // Checkpoint: cut, "persist", remove what the checkpoint covers.
    let n = wal.cut().unwrap();
    for b in &batches[4..] {
        wal.log(b).unwrap();
    }
    let removed = wal.remove_before(n).unwrap();
    assert_eq!(removed as u64, n - 1);
    assert_eq!(segments(dir.path())[0], n);
    drop(wal);

    let (_, got, replay) = open(dir.path(), options, n);
    assert_records(&got, &batches[4..].concat());
    assert_eq!(replay.first_segment, Some(n));
    // From 0 replays the same: the older segments are gone.
    assert_records(&reopen(dir.path()).0, &got);
}

#[test]
fn a_crash_between_cut_and_remove_leaves_a_log_that_replays_from_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _, _) = open(dir.path(), WalOptions::default(), 0);
    wal.log(&[samples(1, 1, 1)]).unwrap();
    let n = wal.cut().unwrap();
    wal.log(&[samples(2, 1, 2)]).unwrap();
    drop(wal); // no remove_before: the "crash"
    let (wal, got, _) = open(dir.path(), WalOptions::default(), n);
    assert_records(&got, &[samples(2, 1, 2)]);
    assert_eq!(wal.remove_before(n).unwrap(), 1);
}

#[test]
fn concurrent_writers_with_fsync_all_replay() {
    const THREADS: u64 = 8;
    const BATCHES: u64 = 40;
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions {
        segment_size: 4 << 10,
        fsync: true,
    };
    let (wal, _, _) = open(dir.path(), options, 0);
    let wal = Arc::new(wal);
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let wal = wal.clone();
            std::thread::spawn(move || {
                for i in 0..BATCHES {
                    let id = thread * 1000;
                    let created = Record::Series(vec![series(id + i, "c")]);
                    wal.log(&[created, samples(id + i, 3, i as i64)]).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let stats = wal.stats();
    assert_eq!(stats.records, THREADS * BATCHES * 2);
    assert!(
        stats.syncs >= 1 && stats.syncs <= THREADS * BATCHES,
        "{stats:?}"
    );
    drop(wal);

    let (got, replay) = reopen(dir.path());
    assert_eq!(replay.damage, None);
    assert!(replay.segments > 1);
    assert_eq!(got.len() as u64, THREADS * BATCHES * 2);
    // Each batch stays whole and in order, and each thread's batches are in its order.
    let mut next = vec![0u64; THREADS as usize];
    for pair in got.chunks(2) {
        let [Record::Series(s), Record::Samples(x)] = pair else {
            panic!("batch split: {pair:?}");
        };
        let thread = s[0].id / 1000;
        assert_eq!(s[0].id % 1000, next[thread as usize]);
        assert_eq!(x[0].id, s[0].id);
        next[thread as usize] += 1;
    }
    assert!(next.iter().all(|&n| n == BATCHES));
}

#[test]
fn arbitrary_records_replay_exactly() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(cases()));
    let strategy = prop::collection::vec(record(), 0..8);
    runner
        .run(&strategy, |batch| {
            let dir = tempfile::tempdir().unwrap();
            write_all(
                dir.path(),
                WalOptions::default(),
                std::slice::from_ref(&batch),
            );
            let (got, replay) = reopen(dir.path());
            prop_assert_eq!(&got, &batch);
            prop_assert!(replay.damage.is_none());
            Ok(())
        })
        .unwrap();
}

fn cases() -> u32 {
    std::env::var("TALLY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn record() -> impl Strategy<Value = Record> {
    let name = "[a-zA-Z_][a-zA-Z0-9_]{0,8}";
    let value = "\\PC{1,12}";
    let labels =
        prop::collection::btree_map(name, value, 0..5).prop_map(|m| Labels::from_pairs(m).unwrap());
    let series = (any::<u64>(), labels).prop_map(|(id, labels)| RefSeries { id, labels });
    let sample = (any::<u64>(), any::<i64>(), any::<u64>()).prop_map(|(id, t, bits)| RefSample {
        id,
        t,
        v: f64::from_bits(bits),
    });
    prop_oneof![
        prop::collection::vec(series, 0..6).prop_map(Record::Series),
        prop::collection::vec(sample, 0..20).prop_map(Record::Samples),
    ]
}

/// Valid frames to start from, so mutations reach past the first header.
fn seed_segment() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    write_all(dir.path(), WalOptions::default(), &workload()[..3]);
    fs::read(seg(dir.path(), 1)).unwrap()
}

/// Arbitrary bytes, or the seed segment with a few bytes overwritten, cut short, or
/// extended.
fn segment_bytes() -> impl Strategy<Value = Vec<u8>> {
    let seed = seed_segment();
    let max = seed.len();
    let edits = prop::collection::vec((0..max, any::<u8>()), 0..4);
    let mutated = (edits, 0..=max, prop::collection::vec(any::<u8>(), 0..40)).prop_map(
        move |(edits, cut, tail)| {
            let mut bytes = seed.clone();
            for (at, b) in edits {
                bytes[at] = b;
            }
            bytes.truncate(cut);
            bytes.extend(tail);
            bytes
        },
    );
    prop_oneof![prop::collection::vec(any::<u8>(), 0..300), mutated]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// No bytes make replay panic; what a repair leaves replays the same records, cleanly.
    #[test]
    fn arbitrary_bytes_as_a_segment_never_panic(bytes in segment_bytes()) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(seg(dir.path(), 1), &bytes).unwrap();

        let mut in_memory = Vec::new();
        let mut reader = SegmentReader::new(&bytes[..], 1, bytes.len() as u64);
        let stop = loop {
            match reader.next_record() {
                Ok(Some(r)) => in_memory.push(r),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };

        let mut got = Vec::new();
        match Wal::open(dir.path(), WalOptions::default(), 0, |r| got.push(r)) {
            Ok((wal, replay)) => {
                prop_assert_eq!(&got, &in_memory);
                prop_assert_eq!(replay.damage.is_some(), stop.is_some());
                prop_assert_eq!(len(&seg(dir.path(), 1)), reader.offset());
                wal.log(&[samples(1, 1, 1)]).unwrap();
                drop(wal);
                let (again, replay) = reopen(dir.path());
                prop_assert!(replay.damage.is_none());
                prop_assert_eq!(&again[..got.len()], &got[..]);
                prop_assert_eq!(again.len(), got.len() + 1);
            }
            Err(WalError::UnknownRecordType { offset, .. }) => {
                let same = matches!(stop, Some(WalError::UnknownRecordType { .. }));
                prop_assert!(same, "the reader stopped with {:?}", stop);
                prop_assert_eq!(offset, reader.offset());
                prop_assert_eq!(fs::read(seg(dir.path(), 1)).unwrap(), bytes);
            }
            Err(e) => return Err(TestCaseError::fail(format!("unexpected error: {e}"))),
        }
    }
}
