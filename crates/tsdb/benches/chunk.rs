//! XOR chunk speed (append, decode, seek, reopen) and compression on realistic series.
//!
//! # What is measured
//!
//! - Before the timed benchmarks, untimed: bytes per sample of 120-sample chunks for each
//!   [`Kind`] of series, with timestamps every 15 s exactly and with ±2 ms of jitter, printed
//!   to stderr as a table. Bytes are the whole chunk (header included) over its samples.
//! - `chunk/append_120/{counter,decimal,float}`: appending 120 samples of a
//!   [`Kind::Counter`], [`Kind::GaugeDecimal`] or [`Kind::GaugeFloat`] series (±2 ms
//!   timestamps) to a new chunk.
//! - `chunk/decode_120/…`: iterating those chunks.
//! - `chunk/decode_range_120/counter`: `decode_range` over the second half of the counter
//!   chunk.
//! - `chunk/from_bytes_120/counter`: reopening that chunk for appends.
//! - `chunk/seal_120/…`: turning each XOR chunk into its stored form (`seal`: decode,
//!   packed encode, the encoder's check by decoding, the choice of the smaller).
//! - `chunk/decode_stored_120/…`: iterating the stored form (packed for all three).
//!
//! Every benchmark first checks (untimed) that the code round-trips its data, and panics
//! otherwise, so a broken codec cannot report a number.
//!
//! # The data set
//!
//! Generated from fixed seeds, so every run measures the same samples. Each kind is 200
//! series of 1,200 samples cut into chunks of 120 (so most chunks start mid-series, with a
//! large first value, as in the head).

// A benchmark that measured the wrong thing must stop loudly, and it reports its sizes on
// stderr (criterion owns stdout).
#![allow(clippy::expect_used, clippy::print_stderr)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tally_model::Sample;
use tally_tsdb::chunk::{decode_range, seal, ChunkIter, StoredIter, XorChunk};

/// Samples per chunk, as the head cuts them.
const CHUNK: usize = 120;
/// Series per kind in the size table.
const SERIES: usize = 200;
/// Samples per series in the size table.
const SAMPLES: usize = 1_200;
/// Scrape interval.
const STEP_MS: i64 = 15_000;

/// Marsaglia's xorshift64: deterministic and good enough for synthetic series.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi]`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    /// Log-uniform in `[lo, hi)`: as many small values as large ones, like real series.
    fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo * (hi / lo).powf(self.unit())
    }
}

/// How a series' values move.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `up`-like: always 1.
    Constant,
    /// A request counter: Poisson increments at a rate of 0.1 to 1,000 per second that
    /// drifts slowly (±1 % a scrape).
    Counter,
    /// An error counter: +1 to +3 on one scrape in ten.
    SlowCounter,
    /// CPU seconds as node_exporter reports them: a counter with two decimals, busy 1 to
    /// 100 % of the time.
    CounterDecimal,
    /// A small integer gauge (connections, goroutines, queue length) stepping by about
    /// its square root.
    GaugeSmallInt,
    /// A memory gauge in bytes, a random walk of ±0.5 % steps.
    GaugeBytes,
    /// A gauge with two decimals (load average, temperature, a percentage).
    GaugeDecimal,
    /// A gauge of arbitrary floats (a ratio, a mean): the incompressible case.
    GaugeFloat,
    /// The 12 cumulative `_bucket` counters of a latency histogram whose request rate
    /// moves like [`Kind::Counter`]'s, at 0.05 to 200 requests per second.
    HistogramBuckets,
}

const KINDS: [Kind; 9] = [
    Kind::Constant,
    Kind::Counter,
    Kind::SlowCounter,
    Kind::CounterDecimal,
    Kind::GaugeSmallInt,
    Kind::GaugeBytes,
    Kind::GaugeDecimal,
    Kind::GaugeFloat,
    Kind::HistogramBuckets,
];

/// `n` scrape times from a random start, every 15 s, each off its slot by up to
/// `jitter_ms` either way.
fn timestamps(rng: &mut XorShift, n: usize, jitter_ms: i64) -> Vec<i64> {
    let start = 1_700_000_000_000 + rng.range(0, 86_400_000);
    (0..n as i64)
        .map(|i| start + i * STEP_MS + rng.range(-jitter_ms, jitter_ms))
        .collect()
}

/// A standard normal deviate (Box-Muller).
fn gauss(rng: &mut XorShift) -> f64 {
    let u = 1.0 - rng.unit();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * rng.unit()).cos()
}

/// A Poisson deviate with mean `mean` (normal approximation above 30).
fn poisson(rng: &mut XorShift, mean: f64) -> f64 {
    if mean > 30.0 {
        return (mean + mean.sqrt() * gauss(rng)).round().max(0.0);
    }
    let limit = (-mean).exp();
    let (mut k, mut p) = (0.0, rng.unit());
    while p > limit {
        k += 1.0;
        p *= rng.unit();
    }
    k
}

/// Events per scrape of a rate that drifts by up to ±1 % a scrape around `mean`.
fn drifting_rate(rng: &mut XorShift, n: usize, mean: f64) -> Vec<f64> {
    let mut factor = 1.0f64;
    (0..n)
        .map(|_| {
            factor = (factor * (1.0 + 0.02 * (rng.unit() - 0.5))).clamp(0.5, 2.0);
            mean * factor
        })
        .collect()
}

/// The value series of one generated target of `kind` (a histogram gives 12).
fn values(rng: &mut XorShift, kind: Kind, n: usize) -> Vec<Vec<f64>> {
    match kind {
        Kind::Constant => vec![vec![1.0; n]],
        Kind::Counter => {
            let mean = rng.log_uniform(0.1, 1_000.0) * 15.0;
            let rates = drifting_rate(rng, n, mean);
            let mut v = rng.log_uniform(1e3, 1e8).round();
            vec![rates
                .into_iter()
                .map(|rate| {
                    let out = v;
                    v += poisson(rng, rate);
                    out
                })
                .collect()]
        }
        Kind::SlowCounter => {
            let start = rng.log_uniform(1.0, 1e4).round();
            vec![walk(rng, n, start, |r, v| {
                if r.unit() < 0.1 {
                    v + r.range(1, 3) as f64
                } else {
                    v
                }
            })]
        }
        Kind::CounterDecimal => {
            let busy = rng.log_uniform(0.01, 1.0);
            let start = (rng.log_uniform(1e3, 1e7) * 100.0).round() / 100.0;
            vec![walk(rng, n, start, |r, v| {
                let ticks = (1_500.0 * busy * (0.8 + 0.4 * r.unit())).round();
                ((v * 100.0).round() + ticks) / 100.0
            })]
        }
        Kind::GaugeSmallInt => {
            let start = rng.log_uniform(1.0, 1e4).round();
            vec![walk(rng, n, start, |r, v| {
                (v + (v.sqrt() * gauss(r)).round()).max(0.0)
            })]
        }
        Kind::GaugeBytes => {
            let start = rng.log_uniform(1e6, 1e10).round();
            vec![walk(rng, n, start, |r, v| {
                (v * (1.0 + 0.01 * (r.unit() - 0.5))).round()
            })]
        }
        Kind::GaugeDecimal => {
            let start = rng.log_uniform(0.1, 100.0);
            vec![walk(rng, n, start, |r, v| {
                let next = v + v * 0.02 * (r.unit() - 0.5);
                (next * 100.0).round() / 100.0
            })]
        }
        Kind::GaugeFloat => {
            let start = rng.unit();
            vec![walk(rng, n, start, |r, v| {
                (v + 0.01 * (r.unit() - 0.5)).clamp(0.0, 1.0)
            })]
        }
        Kind::HistogramBuckets => histogram(rng, n),
    }
}

/// `n` values from `start`, each the `step` of the one before.
fn walk(
    rng: &mut XorShift,
    n: usize,
    start: f64,
    mut step: impl FnMut(&mut XorShift, f64) -> f64,
) -> Vec<f64> {
    let mut v = start;
    (0..n)
        .map(|_| {
            let out = v;
            v = step(rng, v);
            out
        })
        .collect()
}

/// Cumulative bucket counters of a latency histogram with Prometheus' default buckets.
fn histogram(rng: &mut XorShift, n: usize) -> Vec<Vec<f64>> {
    // Share of requests in each bucket (not cumulative); the last is +Inf.
    const SHARE: [f64; 12] = [
        0.02, 0.03, 0.10, 0.20, 0.25, 0.25, 0.10, 0.03, 0.015, 0.004, 0.0008, 0.0002,
    ];
    let mean = rng.log_uniform(0.05, 200.0) * 15.0;
    let rates = drifting_rate(rng, n, mean);
    let start = rng.log_uniform(1e2, 1e7);
    let mut cumulative = [0.0f64; 12];
    let mut acc = 0.0;
    for (c, share) in cumulative.iter_mut().zip(SHARE) {
        acc += (start * share).round();
        *c = acc;
    }
    let mut series: Vec<Vec<f64>> = (0..12).map(|_| Vec::with_capacity(n)).collect();
    for rate in rates {
        for (s, c) in series.iter_mut().zip(cumulative) {
            s.push(c);
        }
        let mut acc = 0.0;
        for (c, share) in cumulative.iter_mut().zip(SHARE) {
            acc += poisson(rng, rate * share);
            *c += acc;
        }
    }
    series
}

/// Encodes `samples` into chunks of [`CHUNK`], checks they decode to the same bits, and
/// returns the total encoded bytes.
fn encoded_bytes(ts: &[i64], vs: &[f64]) -> usize {
    let mut total = 0;
    for (tc, vc) in ts.chunks(CHUNK).zip(vs.chunks(CHUNK)) {
        let mut chunk = XorChunk::new();
        for (&t, &v) in tc.iter().zip(vc) {
            chunk.append(t, v);
        }
        let back: Vec<(i64, u64)> = chunk
            .iter()
            .map(|s| (s.timestamp_ms, s.value.to_bits()))
            .collect();
        let want: Vec<(i64, u64)> = tc.iter().zip(vc).map(|(&t, v)| (t, v.to_bits())).collect();
        assert_eq!(back, want, "chunk does not round-trip");
        total += chunk.bytes().len();
    }
    total
}

/// Prints bytes per sample for every kind, with exact and jittered timestamps.
fn report_sizes() {
    eprintln!("XOR chunk size, {CHUNK}-sample chunks, bytes per sample (header included):");
    eprintln!("{:<18} {:>10} {:>10}", "series", "15 s", "15 s ±2 ms");
    for (k, kind) in KINDS.into_iter().enumerate() {
        let mut cells = Vec::new();
        for jitter in [0, 2] {
            let mut rng = XorShift::new(k as u64 + 1);
            let (mut bytes, mut samples) = (0, 0);
            for _ in 0..SERIES {
                let ts = timestamps(&mut rng, SAMPLES, jitter);
                for vs in values(&mut rng, kind, SAMPLES) {
                    bytes += encoded_bytes(&ts, &vs);
                    samples += vs.len();
                }
            }
            cells.push(bytes as f64 / samples as f64);
        }
        eprintln!(
            "{:<18} {:>10.3} {:>10.3}",
            format!("{kind:?}"),
            cells[0],
            cells[1]
        );
    }
}

/// One 120-sample chunk's samples of `kind`, jittered timestamps.
fn chunk_samples(kind: Kind) -> Vec<Sample> {
    let mut rng = XorShift::new(42);
    let ts = timestamps(&mut rng, CHUNK, 2);
    let vs = values(&mut rng, kind, CHUNK).remove(0);
    ts.into_iter()
        .zip(vs)
        .map(|(t, v)| Sample::new(t, v))
        .collect()
}

fn build(samples: &[Sample]) -> XorChunk {
    let mut chunk = XorChunk::new();
    for s in samples {
        chunk.append(s.timestamp_ms, s.value);
    }
    chunk
}

fn bench(c: &mut Criterion) {
    report_sizes();

    let mut g = c.benchmark_group("chunk");
    g.throughput(Throughput::Elements(CHUNK as u64));
    for (name, kind) in [
        ("counter", Kind::Counter),
        ("decimal", Kind::GaugeDecimal),
        ("float", Kind::GaugeFloat),
    ] {
        let samples = chunk_samples(kind);
        let chunk = build(&samples);
        let bytes = chunk.bytes().to_vec();
        let bits = |s: &[Sample]| -> Vec<(i64, u64)> {
            s.iter()
                .map(|s| (s.timestamp_ms, s.value.to_bits()))
                .collect()
        };
        assert_eq!(
            bits(&ChunkIter::new(&bytes).collect::<Vec<_>>()),
            bits(&samples)
        );
        let half = samples[CHUNK / 2].timestamp_ms;
        let mut ranged = Vec::new();
        decode_range(&bytes, half, i64::MAX, &mut ranged).expect("decode_range");
        assert_eq!(bits(&ranged), bits(&samples[CHUNK / 2..]));
        assert_eq!(XorChunk::from_bytes(&bytes).expect("from_bytes"), chunk);

        g.bench_function(format!("append_120/{name}"), |b| {
            b.iter(|| build(black_box(&samples)))
        });
        g.bench_function(format!("decode_120/{name}"), |b| {
            b.iter(|| {
                let mut sum = 0.0;
                let mut it = ChunkIter::new(black_box(&bytes));
                for s in it.by_ref() {
                    sum += s.value;
                }
                assert!(it.error().is_none());
                sum
            })
        });
        let stored = seal(&chunk);
        assert_eq!(
            bits(&StoredIter::new(&stored).collect::<Vec<_>>()),
            bits(&samples)
        );
        eprintln!(
            "{name}: XOR {} bytes, stored {} bytes (tag {})",
            bytes.len(),
            stored.len(),
            stored[0]
        );
        g.bench_function(format!("seal_120/{name}"), |b| {
            b.iter(|| seal(black_box(&chunk)))
        });
        g.bench_function(format!("decode_stored_120/{name}"), |b| {
            b.iter(|| {
                let mut sum = 0.0;
                let mut it = StoredIter::new(black_box(&stored));
                for s in it.by_ref() {
                    sum += s.value;
                }
                assert!(it.error().is_none());
                sum
            })
        });
        if name == "counter" {
            g.bench_function("decode_range_120/counter", |b| {
                let mut out = Vec::with_capacity(CHUNK);
                b.iter(|| {
                    out.clear();
                    decode_range(black_box(&bytes), half, i64::MAX, &mut out)
                        .expect("decode_range");
                    out.len()
                })
            });
            g.bench_function("from_bytes_120/counter", |b| {
                b.iter(|| XorChunk::from_bytes(black_box(&bytes)).expect("from_bytes"))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
