//! Client hot paths, tally against its peers in the same run: the `prometheus` crate (0.14),
//! `prometheus-client` (0.23) and `metrics` (0.24, recording into
//! `metrics-exporter-prometheus`' recorder, installed globally), plus the per-call cost of
//! `#[tally::measured]` against `#[autometrics]` (3.x, `prometheus-client` backend).
//!
//! `cargo bench -p tally --bench metrics`; results in `docs/benchmarks.md`.
//!
//! Groups (each library is one benchmark id inside a group):
//! - `counter_inc`: an unlabelled counter, through a handle resolved once;
//! - `labelled_resolved`: a child of a `{method, code}` family resolved once, then `inc`;
//! - `labelled_per_call`: the child looked up by its label values on every call (for
//!   `metrics`, with compile-time and with run-time label values, see the group);
//! - `histogram_observe`: default buckets (Prometheus' 11), values cycling over 8 buckets
//!   (for `metrics`, with and without the exporter's bucketing, see the group);
//! - `contended/*`: the same four with 2 threads updating the same metric, see
//!   [`contended`] for what the reported time means; each prints on stderr how much of
//!   the time its threads actually ran at the same time;
//! - `measured`: an empty `#[inline(never)]` function, plain, `#[tally::measured]`,
//!   `#[autometrics]`, and `#[autometrics(track_concurrency)]` (tally always keeps the
//!   in-flight gauge).
//!
//! Every benchmark counts the operations it ran (`iter_custom` hands it the iteration
//! count), and after it the library's own reading of the metric must equal that count:
//! none of them measures a no-op.

// The overlap report of the contended groups goes to stderr, beside criterion's output.
#![allow(clippy::print_stderr)]

use std::hint::black_box;
use std::sync::{Barrier, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, Bencher, BenchmarkGroup, Criterion};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use prometheus_client::encoding::EncodeLabelSet;

/// Observed values: one in each of 8 of the 12 default buckets, cycled.
const VALUES: [f64; 8] = [0.003, 0.02, 0.07, 0.2, 0.7, 3.0, 7.0, 42.0];

/// Number of threads in the `contended/*` groups.
const THREADS: u64 = 2;

const METHOD: &str = "GET";
const CODE: &str = "200";

/// Runs `op` `iters` times and returns the elapsed time (what `Bencher::iter` does; here
/// the caller also learns the count).
fn timed(iters: u64, mut op: impl FnMut(u64)) -> Duration {
    let start = Instant::now();
    for i in 0..iters {
        op(i);
    }
    start.elapsed()
}

/// [`THREADS`] threads each run `op` `iters` times, started together by a barrier; returns
/// the wall time from the first start to the last finish. Criterion divides it by `iters`,
/// so the reported time is the time per operation *per thread* while both threads hammer
/// the same metric: equal to the uncontended time if updates scale perfectly, and
/// `THREADS` times it if they fully serialize.
fn contended(iters: u64, op: impl Fn(u64) + Sync) -> Duration {
    let barrier = Barrier::new(THREADS as usize);
    let spans: Vec<(Instant, Instant, Option<Duration>)> = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let cpu = on_cpu();
                    let start = Instant::now();
                    for i in 0..iters {
                        op(i);
                    }
                    let end = Instant::now();
                    let cpu = on_cpu().zip(cpu).map(|(after, before)| after - before);
                    (start, end, cpu)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let first = spans.iter().map(|s| s.0).min();
    let last = spans.iter().map(|s| s.1).max();
    let (Some(first), Some(last)) = (first, last) else {
        return Duration::ZERO;
    };
    let span = last - first;
    // On a busy machine the threads share the cores with other processes and take turns,
    // which measures little contention. With 2 threads, the time both were on a CPU is at
    // least the sum of their CPU times minus the span: record that share of the span.
    // `schedstat` is updated at scheduler ticks (a few ms apart), so only runs much longer
    // than a tick are counted.
    let cpu: Option<Duration> = spans.iter().map(|s| s.2).sum();
    if let (Some(cpu), true) = (cpu, span >= MIN_OVERLAP_SPAN) {
        let together = (cpu.as_secs_f64() / span.as_secs_f64() - (THREADS - 1) as f64).max(0.0);
        OVERLAP
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(together.min(1.0));
    }
    span
}

/// This thread's time on a CPU so far, from `/proc/thread-self/schedstat` (Linux); `None`
/// where that cannot be read.
fn on_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Shortest contended run whose overlap is recorded.
const MIN_OVERLAP_SPAN: Duration = Duration::from_millis(20);

/// Per contended run, the share of its wall time during which both threads were on a CPU
/// (a lower bound, from their CPU times).
static OVERLAP: Mutex<Vec<f64>> = Mutex::new(Vec::new());

/// Runs one benchmark of a group; in contended mode, then prints how much the threads
/// overlapped over its runs (to stderr, beside criterion's report).
fn bench(
    g: &mut BenchmarkGroup<'_, WallTime>,
    group: &str,
    mode: Mode,
    id: &str,
    f: impl FnMut(&mut Bencher<'_, WallTime>),
) {
    OVERLAP.lock().unwrap_or_else(|e| e.into_inner()).clear();
    g.bench_function(id, f);
    let mut runs = std::mem::take(&mut *OVERLAP.lock().unwrap_or_else(|e| e.into_inner()));
    if mode == Mode::Contended && !runs.is_empty() {
        runs.sort_by(f64::total_cmp);
        let full = runs.iter().filter(|&&r| r >= 0.9).count();
        eprintln!(
            "overlap {group}/{id}: in the {} runs of {} ms or more, both threads were on a CPU at least {:.0}% of the time (median; min {:.0}%; {full} runs at 90% or more)",
            runs.len(),
            MIN_OVERLAP_SPAN.as_millis(),
            runs[runs.len() / 2] * 100.0,
            runs[0] * 100.0
        );
    }
}

/// The `metrics` crate's recorder: `metrics-exporter-prometheus`, installed globally once
/// (so the contended benchmarks' threads record into it too), with Prometheus' default
/// buckets so histograms render as histograms.
fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&tally::DEFAULT_BUCKETS)
            .unwrap_or_else(|e| panic!("default buckets refused: {e}"))
            .build_recorder();
        let handle = recorder.handle();
        if let Err(e) = metrics::set_global_recorder(recorder) {
            panic!("a global metrics recorder is already set: {e}");
        }
        handle
    })
}

/// The value of the first sample line of `text` that starts with `prefix` and contains
/// every one of `contains`; 0 when there is none (a series a filtered-out benchmark never
/// created). Callers compare it with the operations they ran, so a series missing after
/// real work still fails the check.
fn sample(text: &str, prefix: &str, contains: &[&str]) -> f64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix) && contains.iter().all(|c| l.contains(c)));
    match line {
        None => 0.0,
        Some(l) => l
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("unreadable sample line {l:?}")),
    }
}

fn metrics_sample(prefix: &str, contains: &[&str]) -> u64 {
    sample(&metrics_handle().render(), prefix, contains) as u64
}

fn prometheus_client_sample(registry: &prometheus_client::registry::Registry, prefix: &str) -> u64 {
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, registry) {
        panic!("prometheus-client encoding failed: {e}");
    }
    sample(&text, prefix, &[]) as u64
}

/// prometheus-client's label set: a derived struct of `&'static str`, built on the stack
/// per call (no allocation). It hashes the same strings the other libraries get; a
/// `Vec<(String, String)>` would hash the names as well and compare heap strings.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    code: &'static str,
}

const HTTP_LABELS: HttpLabels = HttpLabels {
    method: METHOD,
    code: CODE,
};

fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    c.benchmark_group(name)
}

/// How a benchmark runs its operation: on the bench thread, or on [`THREADS`] threads at
/// once.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Alone,
    Contended,
}

impl Mode {
    /// Generic, not `&dyn Fn`, so the operation inlines into the loop as it would in
    /// application code.
    fn run(self, iters: u64, op: impl Fn(u64) + Sync) -> Duration {
        match self {
            Mode::Alone => timed(iters, op),
            Mode::Contended => contended(iters, op),
        }
    }

    /// How many operations a run of `iters` iterations made.
    fn ops(self, iters: u64) -> u64 {
        match self {
            Mode::Alone => iters,
            Mode::Contended => iters * THREADS,
        }
    }
}

fn counter_inc(c: &mut Criterion, name: &str, mode: Mode) {
    let mut g = group(c, name);

    let tally = tally::Counter::new();
    let mut n = 0;
    bench(&mut g, name, mode, "tally", |b| {
        b.iter_custom(|iters| {
            n += mode.ops(iters);
            mode.run(iters, |_| black_box(&tally).inc())
        })
    });
    assert_eq!(tally.get_u64(), n, "tally");

    let prom = prometheus::IntCounter::new("c_total", "c").unwrap_or_else(|e| panic!("{e}"));
    let mut n = 0;
    bench(&mut g, name, mode, "prometheus", |b| {
        b.iter_custom(|iters| {
            n += mode.ops(iters);
            mode.run(iters, |_| black_box(&prom).inc())
        })
    });
    assert_eq!(prom.get(), n, "prometheus");

    let client: prometheus_client::metrics::counter::Counter = Default::default();
    let mut n = 0;
    bench(&mut g, name, mode, "prometheus-client", |b| {
        b.iter_custom(|iters| {
            n += mode.ops(iters);
            mode.run(iters, |_| {
                black_box(&client).inc();
            })
        })
    });
    assert_eq!(client.get(), n, "prometheus-client");

    metrics_handle();
    let metric = format!("{}_counter_total", name.replace('/', "_"));
    let m = metrics::counter!(metric.clone());
    let mut n = 0;
    bench(&mut g, name, mode, "metrics", |b| {
        b.iter_custom(|iters| {
            n += mode.ops(iters);
            mode.run(iters, |_| black_box(&m).increment(1))
        })
    });
    assert_eq!(metrics_sample(&format!("{metric} "), &[]), n, "metrics");
    g.finish();
}

fn labelled_resolved(c: &mut Criterion, name: &str, mode: Mode) {
    let mut g = group(c, name);

    let family: tally::Family<tally::Counter, 2> =
        tally::Family::new(["method", "code"], tally::Counter::new);
    let tally = family.get(&[METHOD, CODE]);
    let mut n = 0;
    bench(&mut g, name, mode, "tally", |b| {
        b.iter_custom(|iters| {
            n += mode.ops(iters);
            mode.run(iters, |_| black_box(&tally).inc())
        })
    });
    assert_eq!(family.with(&[METHOD, CODE]).get_u64(), n, "tally");

    let vec =
        prometheus::IntCounterVec::new(prometheus::Opts::new("c_total", "c"), &["method", "code"])
            .unwrap_or_else(|e| panic!("{e}"));
    let prom = vec.with_label_values(&[METHOD, CODE]);
    let mut n = 0;
    bench(&mut g, name, mode, "prometheus", |b| {
        b.iter_custom(|iters| {
            n += mode.ops(iters);
            mode.run(iters, |_| black_box(&prom).inc())
        })
    });
    assert_eq!(
        vec.with_label_values(&[METHOD, CODE]).get(),
        n,
        "prometheus"
    );

    let client_family: prometheus_client::metrics::family::Family<
        HttpLabels,
        prometheus_client::metrics::counter::Counter,
    > = Default::default();
    let client = client_family.get_or_create(&HTTP_LABELS).clone();
    let mut n = 0;
    bench(&mut g, name, mode, "prometheus-client", |b| {
        b.iter_custom(|iters| {
            n += mode.ops(iters);
            mode.run(iters, |_| {
                black_box(&client).inc();
            })
        })
    });
    assert_eq!(
        client_family.get_or_create(&HTTP_LABELS).get(),
        n,
        "prometheus-client"
    );

    metrics_handle();
    let metric = format!("{}_total", name.replace('/', "_"));
    let m = metrics::counter!(metric.clone(), "method" => "GET", "code" => "200");
    let mut n = 0;
    bench(&mut g, name, mode, "metrics", |b| {
        b.iter_custom(|iters| {
            n += mode.ops(iters);
            mode.run(iters, |_| black_box(&m).increment(1))
        })
    });
    assert_eq!(metrics_sample(&format!("{metric}{{"), &[]), n, "metrics");
    g.finish();
}

fn labelled_per_call(c: &mut Criterion, name: &str, mode: Mode) {
    let mut g = group(c, name);

    let family: tally::Family<tally::Counter, 2> =
        tally::Family::new(["method", "code"], tally::Counter::new);
    let mut n = 0;
    bench(&mut g, name, mode, "tally", |b| {
        b.iter_custom(|iters| {
            n += mode.ops(iters);
            mode.run(iters, |_| {
                black_box(&family).with(black_box(&[METHOD, CODE])).inc()
            })
        })
    });
    assert_eq!(family.with(&[METHOD, CODE]).get_u64(), n, "tally");

    let vec =
        prometheus::IntCounterVec::new(prometheus::Opts::new("c_total", "c"), &["method", "code"])
            .unwrap_or_else(|e| panic!("{e}"));
    let mut n = 0;
    bench(&mut g, name, mode, "prometheus", |b| {
        b.iter_custom(|iters| {
            n += mode.ops(iters);
            mode.run(iters, |_| {
                black_box(&vec)
                    .with_label_values(black_box(&[METHOD, CODE]))
                    .inc()
            })
        })
    });
    assert_eq!(
        vec.with_label_values(&[METHOD, CODE]).get(),
        n,
        "prometheus"
    );

    let client: prometheus_client::metrics::family::Family<
        HttpLabels,
        prometheus_client::metrics::counter::Counter,
    > = Default::default();
    let mut n = 0;
    bench(&mut g, name, mode, "prometheus-client", |b| {
        b.iter_custom(|iters| {
            n += mode.ops(iters);
            mode.run(iters, |_| {
                black_box(&client)
                    .get_or_create(black_box(&HTTP_LABELS))
                    .inc();
            })
        })
    });
    assert_eq!(
        client.get_or_create(&HTTP_LABELS).get(),
        n,
        "prometheus-client"
    );

    // `metrics` has two by-label-values paths, and both are measured:
    // - `metrics/static`: a literal name and literal label pairs, which `counter!` turns
    //   into a `static Key` whose hash is computed at compile time; each call still looks
    //   the key up in the recorder. Only possible when the values are known at compile
    //   time, which the other libraries here are not told.
    // - `metrics/dynamic`: label values only known at run time (here `&'static str`s
    //   behind `black_box`, like the others get), which builds a `Key` (a `Vec` of labels)
    //   and hashes it on every call: `metrics`' equivalent of the others' lookups.
    metrics_handle();
    let contended = mode == Mode::Contended;
    let prefix = if contended { "contended_" } else { "" };
    let mut n = 0;
    bench(&mut g, name, mode, "metrics/static", |b| {
        b.iter_custom(|iters| {
            n += mode.ops(iters);
            if contended {
                mode.run(iters, |_| {
                    metrics::counter!("contended_labelled_per_call_total", "method" => "GET", "code" => "200")
                        .increment(1)
                })
            } else {
                mode.run(iters, |_| {
                    metrics::counter!("labelled_per_call_total", "method" => "GET", "code" => "200")
                        .increment(1)
                })
            }
        })
    });
    let metric = format!("{prefix}labelled_per_call_total");
    assert_eq!(
        metrics_sample(&format!("{metric}{{"), &[]),
        n,
        "metrics/static"
    );

    let metric = format!("{prefix}labelled_per_call_dynamic_total");
    let mut n = 0;
    bench(&mut g, name, mode, "metrics/dynamic", |b| {
        b.iter_custom(|iters| {
            n += mode.ops(iters);
            if contended {
                mode.run(iters, |_| {
                    metrics::counter!("contended_labelled_per_call_dynamic_total", "method" => black_box(METHOD), "code" => black_box(CODE))
                        .increment(1)
                })
            } else {
                mode.run(iters, |_| {
                    metrics::counter!("labelled_per_call_dynamic_total", "method" => black_box(METHOD), "code" => black_box(CODE))
                        .increment(1)
                })
            }
        })
    });
    assert_eq!(
        metrics_sample(&format!("{metric}{{"), &[]),
        n,
        "metrics/dynamic"
    );
    g.finish();
}

fn histogram_observe(c: &mut Criterion, name: &str, mode: Mode) {
    let mut g = group(c, name);
    let value = |i: u64| VALUES[(i & 7) as usize];

    let tally = tally::Histogram::new();
    let mut n = 0;
    bench(&mut g, name, mode, "tally", |b| {
        b.iter_custom(|iters| {
            n += mode.ops(iters);
            mode.run(iters, |i| black_box(&tally).observe(value(i)))
        })
    });
    assert_eq!(tally.count(), n, "tally");

    let prom = prometheus::Histogram::with_opts(prometheus::HistogramOpts::new("h", "h"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut n = 0;
    bench(&mut g, name, mode, "prometheus", |b| {
        b.iter_custom(|iters| {
            n += mode.ops(iters);
            mode.run(iters, |i| black_box(&prom).observe(value(i)))
        })
    });
    assert_eq!(prom.get_sample_count(), n, "prometheus");

    let mut registry = prometheus_client::registry::Registry::default();
    let client = prometheus_client::metrics::histogram::Histogram::new(tally::DEFAULT_BUCKETS);
    registry.register("h", "h", client.clone());
    let mut n = 0;
    bench(&mut g, name, mode, "prometheus-client", |b| {
        b.iter_custom(|iters| {
            n += mode.ops(iters);
            mode.run(iters, |i| black_box(&client).observe(value(i)))
        })
    });
    assert_eq!(
        prometheus_client_sample(&registry, "h_count "),
        n,
        "prometheus-client"
    );

    // metrics-exporter-prometheus appends each observation to a lock-free list and sorts
    // them into buckets at upkeep or render: `metrics` times the append alone (upkeep
    // after each sample, untimed, keeps memory bounded), `metrics+upkeep` times both.
    let handle = metrics_handle();
    let prefix = name.replace('/', "_");
    for (id, with_upkeep) in [("metrics", false), ("metrics+upkeep", true)] {
        let metric = format!("{prefix}_{}_seconds", id.replace('+', "_"));
        let m = metrics::histogram!(metric.clone());
        let mut n = 0;
        bench(&mut g, name, mode, id, |b| {
            b.iter_custom(|iters| {
                n += mode.ops(iters);
                let elapsed = mode.run(iters, |i| black_box(&m).record(value(i)));
                let upkeep = Instant::now();
                handle.run_upkeep();
                if with_upkeep {
                    elapsed + upkeep.elapsed()
                } else {
                    elapsed
                }
            })
        });
        assert_eq!(metrics_sample(&format!("{metric}_count "), &[]), n, "{id}");
    }
    g.finish();
}

fn uncontended(c: &mut Criterion) {
    counter_inc(c, "counter_inc", Mode::Alone);
    labelled_resolved(c, "labelled_resolved", Mode::Alone);
    labelled_per_call(c, "labelled_per_call", Mode::Alone);
    histogram_observe(c, "histogram_observe", Mode::Alone);
}

fn contended_groups(c: &mut Criterion) {
    counter_inc(c, "contended/counter_inc", Mode::Contended);
    labelled_resolved(c, "contended/labelled_resolved", Mode::Contended);
    labelled_per_call(c, "contended/labelled_per_call", Mode::Contended);
    histogram_observe(c, "contended/histogram_observe", Mode::Contended);
}

#[inline(never)]
fn plain_empty() {
    black_box(());
}

#[tally::measured]
#[inline(never)]
fn tally_empty() {
    black_box(());
}

#[autometrics::autometrics]
#[inline(never)]
fn autometrics_empty() {
    black_box(());
}

/// `#[tally::measured]` always keeps the in-flight gauge; autometrics only when asked.
#[autometrics::autometrics(track_concurrency)]
#[inline(never)]
fn autometrics_concurrency_empty() {
    black_box(());
}

fn measured(c: &mut Criterion) {
    let autometrics = autometrics::settings::AutometricsSettings::builder()
        .prometheus_client_registry(Default::default())
        .try_init()
        .unwrap_or_else(|e| panic!("autometrics settings: {e}"));
    let mut g = group(c, "measured");
    g.bench_function("plain", |b| {
        b.iter_custom(|iters| timed(iters, |_| plain_empty()))
    });

    let mut n = 0;
    g.bench_function("tally::measured", |b| {
        b.iter_custom(|iters| {
            n += iters;
            timed(iters, |_| tally_empty())
        })
    });
    let text = tally::default_registry().encode_text();
    let ok = sample(
        &text,
        "function_calls_total{",
        &["function=\"tally_empty\"", "result=\"ok\""],
    );
    assert_eq!(ok as u64, n, "tally::measured, in:\n{text}");

    let autometrics_calls = |function: &str| {
        let mut text = String::new();
        if let Err(e) = prometheus_client_022::encoding::text::encode(
            &mut text,
            autometrics.prometheus_client_registry(),
        ) {
            panic!("autometrics encoding failed: {e}");
        }
        // A function that returns no `Result` gets `result=""` from autometrics.
        let label = format!("function=\"{function}\"");
        sample(&text, "function_calls_total{", &[&label]) as u64
    };
    let mut n = 0;
    g.bench_function("autometrics", |b| {
        b.iter_custom(|iters| {
            n += iters;
            timed(iters, |_| autometrics_empty())
        })
    });
    assert_eq!(autometrics_calls("autometrics_empty"), n, "autometrics");

    let mut n = 0;
    g.bench_function("autometrics+concurrency", |b| {
        b.iter_custom(|iters| {
            n += iters;
            timed(iters, |_| autometrics_concurrency_empty())
        })
    });
    assert_eq!(
        autometrics_calls("autometrics_concurrency_empty"),
        n,
        "autometrics+concurrency"
    );
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = uncontended, contended_groups, measured
}
criterion_main!(benches);
