//! The database's write and read paths: committing remote_write-sized batches (2,000
//! samples of 2,000 series, as Prometheus' queue manager sends them) into a head of
//! 10,000 series, a checkpoint, and selecting series over an hour.
//!
//! `cargo bench -p tally-tsdb --bench db`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tally_model::{Labels, Sample};
use tally_storage::{MatchOp, Matcher, SelectHints, Storage};
use tally_tsdb::{Db, Options};

const SERIES: usize = 10_000;
const BATCH: usize = 2_000;

fn series() -> Vec<Labels> {
    (0..SERIES)
        .map(|i| {
            Labels::from_pairs([
                ("__name__", format!("app_metric_{}_total", i % 50)),
                ("instance", format!("10.0.{}.{}:9100", i / 250, i % 250)),
                ("job", "node".to_owned()),
                ("method", ["GET", "POST", "PUT"][i % 3].to_owned()),
                ("status", ["200", "404", "500", "503"][i % 4].to_owned()),
            ])
            .unwrap()
        })
        .collect()
}

fn open(dir: &std::path::Path, now: i64) -> Db {
    let mut o = Options::new(dir);
    o.clock = std::sync::Arc::new(move || now);
    Db::open(o).unwrap().0
}

fn bench(c: &mut Criterion) {
    let labels = series();
    let now = 1_800_000_000_000i64;
    let mut group = c.benchmark_group("db");
    group.sample_size(20);
    group.throughput(Throughput::Elements(BATCH as u64));
    // Appending to existing series: the steady state.
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), now);
    let mut round = 0i64;
    let write_round = |db: &Db, round: i64| {
        for chunk in labels.chunks(BATCH) {
            let mut app = db.appender();
            for (i, l) in chunk.iter().enumerate() {
                app.append(
                    l,
                    Sample::new(
                        now - 3_600_000 + round * 15_000,
                        (round * 7 + i as i64) as f64,
                    ),
                )
                .unwrap();
            }
            app.commit().unwrap();
        }
    };
    write_round(&db, round);
    group.bench_function("commit 2000 samples, existing series", |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            for _ in 0..iters {
                round += 1;
                // One batch: the first 2,000 series.
                let mut app = db.appender();
                for (i, l) in labels[..BATCH].iter().enumerate() {
                    app.append(
                        l,
                        Sample::new(
                            now - 3_600_000 + round * 15_000,
                            (round * 7 + i as i64) as f64,
                        ),
                    )
                    .unwrap();
                }
                app.commit().unwrap();
            }
            start.elapsed()
        })
    });
    group.bench_function("commit 2000 samples, new series", |b| {
        b.iter_batched(
            || {
                let d = tempfile::tempdir().unwrap();
                let db = open(d.path(), now);
                (d, db)
            },
            |(d, db)| {
                let mut app = db.appender();
                for (i, l) in labels[..BATCH].iter().enumerate() {
                    app.append(l, Sample::new(now, i as f64)).unwrap();
                }
                app.commit().unwrap();
                (d, db)
            },
            BatchSize::PerIteration,
        )
    });
    drop(db);
    // Reads over an hour of 10,000 series, half of it checkpointed.
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), now);
    for r in 0..240 {
        write_round(&db, r);
        if r == 120 {
            db.checkpoint().unwrap();
        }
    }
    group.throughput(Throughput::Elements(1));
    group.bench_function("select 1 metric (200 series) over 1 h", |b| {
        let m = [Matcher::metric_name("app_metric_7_total")];
        b.iter(|| {
            let q = db.querier(now - 3_600_000, now).unwrap();
            let s = q.select(&m, &SelectHints::default()).unwrap();
            assert_eq!(s.len(), 200);
        })
    });
    group.bench_function("select status=~\"5..\" (5000 series) over 1 h", |b| {
        let m = [Matcher::new(MatchOp::Regex, "status", "5..").unwrap()];
        b.iter(|| {
            let q = db.querier(now - 3_600_000, now).unwrap();
            let s = q.select(&m, &SelectHints::default()).unwrap();
            assert_eq!(s.len(), 5000);
        })
    });
    group.bench_function("checkpoint 10000 series", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                round += 1;
                write_round(&db, 240 + round);
                let start = std::time::Instant::now();
                db.checkpoint().unwrap();
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
