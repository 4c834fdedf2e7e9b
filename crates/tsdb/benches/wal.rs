//! Write-ahead log speed: encoding, logging, group commit and replay of sample batches.
//!
//! # What is measured
//!
//! - Before the timed benchmarks, untimed: bytes per sample of a 1,000-sample record,
//!   printed to stderr.
//! - `wal/encode_1000`: encoding a 1,000-sample `Samples` record (no I/O).
//! - `wal/log_1000`: `Wal::log` of that record without fsync (one `write(2)`).
//! - `wal/log_1000_fsync`: the same with fsync, one writer (one `fdatasync` per call).
//! - `wal/log_1000_fsync_8_threads`: eight writers logging 16 records each with fsync;
//!   group commit shares syncs, so this is far less than eight times the one-writer cost.
//! - `wal/replay`: `Wal::open` replaying 1,000 such records (about 11 MB), per sample.
//!
//! The data set: 1,000 series sampled at one timestamp, counter-like values, as the head
//! logs one scrape or one sample interval of the gateway's aggregated view.

// A benchmark that measured the wrong thing must stop loudly, and it reports its sizes on
// stderr (criterion owns stdout).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::print_stderr)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tally_tsdb::wal::{Record, RefSample, Wal, WalOptions};

const SERIES: u64 = 1_000;

fn batch(round: i64) -> Record {
    Record::Samples(
        (0..SERIES)
            .map(|id| RefSample {
                id: id + 1,
                t: 1_700_000_000_000 + round * 15_000,
                v: (id * 37 + round as u64 * 11) as f64,
            })
            .collect(),
    )
}

fn open(dir: &std::path::Path, fsync: bool) -> Wal {
    let options = WalOptions {
        fsync,
        ..WalOptions::default()
    };
    Wal::open(dir, options, 0, |_| {}).expect("open").0
}

/// Keeps the log from filling the disk during long runs: every so often a checkpoint.
fn trim(wal: &Wal, calls: &mut u64) {
    *calls += 1;
    if calls.is_multiple_of(1024) {
        let n = wal.cut().unwrap();
        wal.remove_before(n).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let record = batch(0);
    let mut buf = Vec::new();
    record.encode(&mut buf);
    eprintln!(
        "wal: {} bytes per sample in a {SERIES}-sample record",
        buf.len() as f64 / SERIES as f64
    );

    let mut g = c.benchmark_group("wal");
    g.throughput(Throughput::Elements(SERIES));

    g.bench_function("encode_1000", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&record).encode(&mut buf);
            black_box(buf.len())
        })
    });

    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path(), false);
    let mut calls = 0;
    g.bench_function("log_1000", |b| {
        b.iter(|| {
            wal.log(std::slice::from_ref(&record)).unwrap();
            trim(&wal, &mut calls);
        })
    });
    drop(wal);

    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path(), true);
    g.sample_size(20);
    g.bench_function("log_1000_fsync", |b| {
        b.iter(|| {
            wal.log(std::slice::from_ref(&record)).unwrap();
            trim(&wal, &mut calls);
        })
    });

    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 16;
    let wal = Arc::new(wal);
    g.throughput(Throughput::Elements(SERIES * THREADS * PER_THREAD));
    g.bench_function("log_1000_fsync_8_threads", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..THREADS {
                        s.spawn(|| {
                            for _ in 0..PER_THREAD {
                                wal.log(std::slice::from_ref(&record)).unwrap();
                            }
                        });
                    }
                });
                total += start.elapsed();
                let n = wal.cut().unwrap();
                wal.remove_before(n).unwrap();
            }
            total
        })
    });
    drop(wal);

    let dir = tempfile::tempdir().unwrap();
    let wal = open(dir.path(), false);
    const ROUNDS: i64 = 1_000;
    for round in 0..ROUNDS {
        wal.log(&[batch(round)]).unwrap();
    }
    drop(wal);
    g.throughput(Throughput::Elements(SERIES * ROUNDS as u64));
    g.sample_size(10);
    g.bench_function("replay", |b| {
        b.iter(|| {
            let mut samples = 0;
            let (_wal, replay) = Wal::open(dir.path(), WalOptions::default(), 0, |r| {
                if let Record::Samples(s) = r {
                    samples += s.len();
                }
            })
            .unwrap();
            assert!(replay.damage.is_none());
            assert_eq!(samples as u64, SERIES * ROUNDS as u64);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
