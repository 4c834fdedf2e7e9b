//! The evaluator over in-memory storage: range queries of the shapes dashboards run
//! (a plain selector, `rate`, an aggregation of `rate`) over an hour of 15 s samples,
//! and one instant query. Storage is `MemStorage`, so what is measured is the engine.
//!
//! `cargo bench -p tally-promql --bench eval`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use tally_model::{Labels, Sample};
use tally_promql::Engine;
use tally_storage::{MemStorage, Storage};

const SERIES: usize = 1_000;
const SAMPLES: i64 = 240;
const INTERVAL_MS: i64 = 15_000;

fn storage() -> MemStorage {
    let db = MemStorage::new();
    let mut app = db.appender();
    for i in 0..SERIES {
        let labels = Labels::from_pairs([
            ("__name__", "http_requests_total".to_owned()),
            ("instance", format!("host-{:03}:9100", i / 10)),
            ("code", ["200", "404", "500", "503"][i % 4].to_owned()),
            ("handler", format!("/api/h{}", i % 10 / 4)),
        ])
        .unwrap();
        let mut v = 0.0;
        for k in 0..SAMPLES {
            v += ((i as i64 * 7 + k * 13) % 17) as f64;
            app.append(&labels, Sample::new(k * INTERVAL_MS, v))
                .unwrap();
        }
    }
    app.commit().unwrap();
    db
}

fn bench(c: &mut Criterion) {
    let db = storage();
    let engine = Engine::default();
    let end = (SAMPLES - 1) * INTERVAL_MS;
    let mut g = c.benchmark_group("eval");
    g.sample_size(30);
    for (name, query) in [
        ("range selector", "http_requests_total"),
        ("range rate", "rate(http_requests_total[5m])"),
        (
            "range sum by code of rate",
            "sum by (code) (rate(http_requests_total[5m]))",
        ),
    ] {
        g.bench_function(format!("{name} ({SERIES} series, 1 h, step 60 s)"), |b| {
            b.iter(|| engine.range(&db, query, 0, end, 60_000).unwrap())
        });
    }
    g.bench_function(format!("instant rate ({SERIES} series)"), |b| {
        b.iter(|| {
            engine
                .instant(&db, "rate(http_requests_total[5m])", end)
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
