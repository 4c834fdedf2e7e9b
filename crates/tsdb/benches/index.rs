//! The inverted index on its own: selecting series by matchers (postings lookups,
//! intersections, unions for regular expressions, subtraction for negative matchers),
//! building label sets back from pair numbers, and adding series.
//!
//! 10,000 series shaped like the remote_write bench's: 100 targets of 100 series, each
//! with `__name__`, `job`, `instance` and up to three more labels.
//!
//! `cargo bench -p tally-tsdb --bench index`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use tally_model::Labels;
use tally_storage::{MatchOp, Matcher};
use tally_tsdb::index::{intersect, Index, SeriesLabels};

const TARGETS: usize = 100;
const PER_TARGET: usize = 100;

fn series() -> Vec<Labels> {
    let mut out = Vec::with_capacity(TARGETS * PER_TARGET);
    for t in 0..TARGETS {
        let instance = format!("10.1.{}.{}:9100", t / 50, t % 50);
        for s in 0..PER_TARGET {
            let mut pairs = vec![
                ("__name__", format!("http_requests_{}_total", s / 20)),
                ("job", "api".to_owned()),
                ("instance", instance.clone()),
                ("handler", format!("/api/v1/h{}", s % 5)),
            ];
            if s % 20 < 12 {
                pairs.push(("code", ["200", "404", "500", "503"][s % 4].to_owned()));
                pairs.push(("method", ["GET", "POST", "PUT"][s % 3].to_owned()));
            }
            out.push(Labels::from_pairs(pairs).unwrap());
        }
    }
    out
}

fn m(op: MatchOp, name: &str, value: &str) -> Matcher {
    Matcher::new(op, name, value).unwrap()
}

fn bench(c: &mut Criterion) {
    let sets = series();
    let mut index = Index::new();
    let held: Vec<SeriesLabels> = sets
        .iter()
        .enumerate()
        .map(|(i, l)| index.add(i as u64 + 1, l))
        .collect();
    let mut g = c.benchmark_group("index");
    let selects = [
        (
            "select name and instance (100 of 10000)",
            vec![
                m(MatchOp::Equal, "__name__", "http_requests_0_total"),
                m(MatchOp::Equal, "instance", "10.1.0.7:9100"),
            ],
        ),
        (
            "select name, code=~\"5..\" (1200 of 10000)",
            vec![
                m(MatchOp::Equal, "__name__", "http_requests_0_total"),
                m(MatchOp::Regex, "code", "5.."),
            ],
        ),
        (
            "select job, handler!=\"/api/v1/h0\" (8000 of 10000)",
            vec![
                m(MatchOp::Equal, "job", "api"),
                m(MatchOp::NotEqual, "handler", "/api/v1/h0"),
            ],
        ),
    ];
    for (name, matchers) in &selects {
        assert!(!index.select(matchers).is_empty(), "{name}");
        g.bench_function(*name, |b| b.iter(|| index.select(matchers)));
    }
    let a: Vec<u64> = (1..=10_000).step_by(2).collect();
    let b: Vec<u64> = (1..=10_000).step_by(3).collect();
    g.bench_function("intersect 5000 and 3334 ids", |bch| {
        bch.iter(|| intersect(&a, &b))
    });
    g.bench_function("labels of 10000 series from pair numbers", |b| {
        b.iter(|| held.iter().map(|h| index.labels(h).len()).sum::<usize>())
    });
    g.sample_size(20);
    g.bench_function("add 10000 series", |b| {
        b.iter_batched(
            Index::new,
            |mut fresh| {
                for (i, l) in sets.iter().enumerate() {
                    fresh.add(i as u64 + 1, l);
                }
                fresh
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
