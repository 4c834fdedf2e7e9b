//! Exposition parse and encode throughput, with peers measured in the same run.
//!
//! # What is measured
//!
//! - `parse`: tally's [`expfmt::parse`] (text 0.0.4) against `prometheus-parse`'s
//!   `Scrape::parse`, both on the same bytes. Throughput is in bytes.
//! - `encode`: tally's [`expfmt::encode`] in both formats against `prometheus-client`'s
//!   `encoding::text::encode`, which only writes OpenMetrics text, from a `Registry`
//!   holding the same families, label sets and (near enough) values. Throughput is in
//!   series.
//!
//! # The data set
//!
//! [`Corpus::generate`] writes one exposition the way a Go client would (help and type
//! lines per family, numbers in Go's `%g` spelling, histograms as `_bucket` lines then
//! `_sum` then `_count`), from a fixed seed, so every run measures the same bytes. A
//! "series" is one sample line: a histogram label set with 12 buckets counts as 14 series.
//! The exposition has exactly [`SERIES`] of them.
//!
//! Every benchmark first checks (untimed) that the code under test read or wrote the whole
//! data set, and panics otherwise, so a broken parser or encoder cannot report a number.
//!
//! Results and how to reproduce them: `docs/benchmarks.md`.

// A benchmark that measured the wrong thing must stop loudly, and it describes its data
// set on stderr (criterion owns stdout).
#![allow(clippy::expect_used, clippy::print_stderr)]

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, Bencher, BenchmarkGroup, Criterion, Throughput};
use prometheus_client::encoding::text as client_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use tally_model::expfmt::{self, Format};
use tally_model::{Labels, MetricFamily, MetricType, MetricValue};

/// Sample lines in the generated exposition.
const SERIES: usize = 10_000;

// ---------------------------------------------------------------------------------------
// The data set.

/// Marsaglia's xorshift64: deterministic and good enough to vary label sets and values.
struct XorShift(u64);

impl XorShift {
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

    /// Log-uniform in `[lo, hi)`: as many small values as large ones, like real counters.
    fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo * (hi / lo).powf(self.unit())
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// How a family's values look.
#[derive(Clone, Copy)]
enum Shape {
    /// An integer between `lo` and `hi`, log-uniform (request counts, lag, bytes).
    Integer { lo: f64, hi: f64 },
    /// CPU seconds: a float with two decimals.
    Seconds,
    /// A ratio in `[0, 1)` with all 17 digits (utilisation).
    Ratio,
    /// Histogram with these finite bucket bounds; counts up to 200k observations.
    Histogram(&'static [f64]),
}

/// One family of the generated exposition.
struct FamilySpec {
    name: &'static str,
    help: &'static str,
    metric_type: MetricType,
    shape: Shape,
    job: &'static str,
    /// Label names besides `instance` and `job`, which every series has; their values
    /// come from [`label_values`].
    labels: &'static [&'static str],
    /// Label sets to generate; `None` for the family that fills up to [`SERIES`].
    label_sets: Option<usize>,
}

const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const SIZE_BUCKETS: &[f64] = &[100.0, 1e3, 1e4, 1e5, 1e6, 1e7];
const DB_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];
const GRPC_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512,
];

/// The values a label takes across the exposition.
fn label_values(name: &str) -> Vec<String> {
    let values = match name {
        "instance" => {
            "10.42.0.17:8080 10.42.0.23:8080 10.42.1.5:8080 10.42.1.131:8080 \
                       10.42.2.9:8080 10.42.2.77:8080 10.42.3.14:8080 10.42.3.200:8080"
        }
        "method" => "GET POST PUT DELETE PATCH",
        "route" => {
            "/api/v1/users /api/v1/users/:id /api/v1/orders /api/v1/orders/:id \
                    /api/v1/orders/:id/items /api/v1/cart /api/v1/search /api/v2/products/:sku \
                    /api/v2/products/:sku/reviews /login /healthz /metrics"
        }
        "status" => "200 201 204 301 304 400 401 403 404 409 429 500 502 503",
        "grpc_service" => {
            "payments.v1.PaymentService inventory.v1.StockService \
                           users.v1.ProfileService shipping.v2.QuoteService"
        }
        "grpc_method" => "Authorize Capture Get List",
        "grpc_code" => "OK Canceled InvalidArgument NotFound DeadlineExceeded Unavailable Internal",
        "db" => "orders users inventory",
        "operation" => "select insert update delete",
        "table" => "orders order_items customers addresses products stock_levels",
        "topic" => {
            "orders.created orders.cancelled payments.authorized payments.settled \
                    inventory.reserved shipping.dispatched"
        }
        "partition" => "0 1 2 3 4 5 6 7 8 9 10 11",
        "consumer_group" => "billing-worker fulfilment analytics-sink",
        "service" => {
            "api-gateway checkout payments inventory users search shipping \
                      notifications billing-worker fulfilment"
        }
        "device" => "/dev/nvme0n1p1 /dev/nvme0n1p2 /dev/nvme1n1 /dev/sda1 tmpfs overlay",
        "fstype" => "ext4 xfs tmpfs",
        "mountpoint" => "/ /boot /var/lib/containerd /var/lib/kubelet /run /data",
        "cpu" => "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15",
        "pool" => "primary replica batch",
        "state" => "idle in_use waiting",
        "namespace" => "default kube-system monitoring checkout payments ingress-nginx",
        "container" => "app envoy istio-proxy fluent-bit migrate",
        "pod" => return pod_names(40),
        other => panic!("no values for label {other}"),
    };
    values.split_whitespace().map(str::to_owned).collect()
}

/// Kubernetes-style pod names: deployment, replica-set hash, random suffix.
fn pod_names(n: usize) -> Vec<String> {
    const DEPLOYMENTS: &[&str] = &[
        "checkout",
        "payments",
        "search",
        "users",
        "api-gateway",
        "coredns",
        "prometheus",
        "grafana",
    ];
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|i| {
            let hash = rng.next_u64() >> 28;
            let suffix: String = (0..5)
                .map(|_| char::from(ALPHABET[rng.below(ALPHABET.len() as u64) as usize]))
                .collect();
            format!("{}-{hash:09x}-{suffix}", DEPLOYMENTS[i % DEPLOYMENTS.len()])
        })
        .collect()
}

const fn count(hi: f64) -> Shape {
    Shape::Integer { lo: 1.0, hi }
}

/// The families, in exposition order. Label-set counts are chosen so that histograms
/// make about half the sample lines, as in a typical service exposition.
const FAMILIES: &[FamilySpec] = {
    use MetricType::{Counter as C, Gauge as G, Histogram as H};
    &[
        FamilySpec {
            name: "http_requests_total",
            help: "Total number of HTTP requests handled, by method, route and status code.",
            metric_type: C,
            shape: count(5e7),
            job: "api-gateway",
            labels: &["method", "route", "status"],
            label_sets: Some(1200),
        },
        FamilySpec {
            name: "http_request_duration_seconds",
            help: "Time spent handling HTTP requests, from first byte read to last byte written.",
            metric_type: H,
            shape: Shape::Histogram(DEFAULT_BUCKETS),
            job: "api-gateway",
            labels: &["method", "route", "status"],
            label_sets: Some(200),
        },
        FamilySpec {
            name: "http_response_size_bytes",
            help: "Size of HTTP response bodies.",
            metric_type: H,
            shape: Shape::Histogram(SIZE_BUCKETS),
            job: "api-gateway",
            labels: &["method", "route"],
            label_sets: Some(120),
        },
        FamilySpec {
            name: "grpc_client_handled_total",
            help: "Total number of RPCs completed by the client, regardless of success or failure.",
            metric_type: C,
            shape: count(2e7),
            job: "checkout",
            labels: &["grpc_service", "grpc_method", "grpc_code"],
            label_sets: Some(600),
        },
        FamilySpec {
            name: "grpc_client_handling_seconds",
            help: "Histogram of response latency of RPCs as seen by the client.",
            metric_type: H,
            shape: Shape::Histogram(GRPC_BUCKETS),
            job: "checkout",
            labels: &["grpc_service", "grpc_method"],
            label_sets: Some(40),
        },
        FamilySpec {
            name: "db_queries_total",
            help: "Database queries issued, by database, operation and table.",
            metric_type: C,
            shape: count(1e8),
            job: "checkout",
            labels: &["db", "operation", "table"],
            label_sets: Some(400),
        },
        FamilySpec {
            name: "db_query_duration_seconds",
            help: "Database query latency.",
            metric_type: H,
            shape: Shape::Histogram(DB_BUCKETS),
            job: "checkout",
            labels: &["db", "operation"],
            label_sets: Some(60),
        },
        FamilySpec {
            name: "db_connections",
            help: "Connections in the pool, by state.",
            metric_type: G,
            shape: count(64.0),
            job: "checkout",
            labels: &["db", "pool", "state"],
            label_sets: Some(200),
        },
        FamilySpec {
            name: "kafka_consumer_records_consumed_total",
            help: "Records consumed, by topic and partition.",
            metric_type: C,
            shape: count(1e9),
            job: "kafka-consumers",
            labels: &["topic", "partition"],
            label_sets: Some(400),
        },
        FamilySpec {
            name: "kafka_consumer_lag_records",
            help: "Records between the committed offset and the end of the partition.",
            metric_type: G,
            shape: count(1e6),
            job: "kafka-consumers",
            labels: &["topic", "partition", "consumer_group"],
            label_sets: Some(600),
        },
        FamilySpec {
            name: "process_cpu_seconds_total",
            help: "Total user and system CPU time spent in seconds.",
            metric_type: C,
            shape: Shape::Seconds,
            job: "kubernetes-pods",
            labels: &["service"],
            label_sets: Some(80),
        },
        FamilySpec {
            name: "process_resident_memory_bytes",
            help: "Resident memory size in bytes.",
            metric_type: G,
            shape: Shape::Integer { lo: 2e7, hi: 4e9 },
            job: "kubernetes-pods",
            labels: &["service"],
            label_sets: Some(80),
        },
        FamilySpec {
            name: "node_filesystem_avail_bytes",
            help: "Filesystem space available to non-root users in bytes.",
            metric_type: G,
            shape: Shape::Integer { lo: 1e8, hi: 4e12 },
            job: "node-exporter",
            labels: &["device", "fstype", "mountpoint"],
            label_sets: Some(300),
        },
        FamilySpec {
            name: "node_cpu_utilisation_ratio",
            help: "Share of the last interval each CPU spent not idle.",
            metric_type: G,
            shape: Shape::Ratio,
            job: "node-exporter",
            labels: &["cpu"],
            label_sets: Some(128),
        },
        FamilySpec {
            name: "container_memory_working_set_bytes",
            help: "Current working set of the container in bytes.",
            metric_type: G,
            shape: Shape::Integer { lo: 1e6, hi: 8e9 },
            job: "kubernetes-cadvisor",
            labels: &["namespace", "pod", "container"],
            label_sets: None,
        },
    ]
};

/// The generated exposition and what it contains.
struct Corpus {
    text: String,
    families: usize,
    /// Label sets of counters and gauges (one sample line each).
    scalar_label_sets: usize,
    /// Label sets of histograms (buckets + 2 sample lines each).
    histogram_label_sets: usize,
}

impl Corpus {
    fn generate() -> Self {
        let mut rng = XorShift(0x7a11_5eed_0000_0001);
        let specs = FAMILIES;
        let lines_per_label_set = |spec: &FamilySpec| match spec.shape {
            Shape::Histogram(bounds) => bounds.len() + 3,
            _ => 1,
        };
        let fixed_lines: usize = specs
            .iter()
            .filter_map(|s| s.label_sets.map(|n| n * lines_per_label_set(s)))
            .sum();
        let filler_sets = SERIES
            .checked_sub(fixed_lines)
            .expect("the fixed families already exceed SERIES");

        let mut corpus = Corpus {
            text: String::with_capacity(SERIES * 128),
            families: specs.len(),
            scalar_label_sets: 0,
            histogram_label_sets: 0,
        };
        for spec in specs {
            let label_sets = spec.label_sets.unwrap_or_else(|| {
                assert_eq!(lines_per_label_set(spec), 1, "the filler must be a scalar");
                filler_sets
            });
            corpus.write_family(spec, label_sets, &mut rng);
        }
        corpus
    }

    fn write_family(&mut self, spec: &FamilySpec, label_sets: usize, rng: &mut XorShift) {
        let out = &mut self.text;
        let type_name = spec
            .metric_type
            .as_text_name()
            .expect("only text-format types are generated");
        out.push_str(&format!("# HELP {} {}\n", spec.name, spec.help));
        out.push_str(&format!("# TYPE {} {type_name}\n", spec.name));

        // Every label set is a distinct point of the product of the label pools, picked by
        // multiplying the index by 7919 modulo the product (a permutation, as 7919 is a
        // prime that divides no product here), so that the first label sets do not all
        // share the last label's first values.
        let names: Vec<&str> = std::iter::once("instance")
            .chain(spec.labels.iter().copied())
            .collect();
        let pools: Vec<Vec<String>> = names.iter().map(|name| label_values(name)).collect();
        let product: usize = pools.iter().map(Vec::len).product();
        assert!(
            label_sets <= product,
            "{}: {label_sets} label sets wanted, only {product} exist",
            spec.name
        );
        let mut label_text = String::new();
        for i in 0..label_sets {
            let mut point = (i * 7919) % product;
            label_text.clear();
            for (j, (name, values)) in names.iter().zip(&pools).enumerate() {
                let value = &values[point % values.len()];
                point /= values.len();
                label_text.push_str(&format!("{name}=\"{value}\","));
                if j == 0 {
                    label_text.push_str(&format!("job=\"{}\",", spec.job));
                }
            }
            label_text.pop();
            match spec.shape {
                Shape::Histogram(bounds) => {
                    write_histogram(out, spec.name, &label_text, bounds, rng);
                    self.histogram_label_sets += 1;
                }
                shape => {
                    let value = match shape {
                        Shape::Integer { lo, hi } => rng.log_uniform(lo, hi).floor(),
                        Shape::Seconds => (rng.log_uniform(10.0, 5e5) * 100.0).round() / 100.0,
                        Shape::Ratio => rng.unit(),
                        Shape::Histogram(_) => unreachable!("handled above"),
                    };
                    out.push_str(&format!(
                        "{}{{{label_text}}} {}\n",
                        spec.name,
                        go_float(value)
                    ));
                    self.scalar_label_sets += 1;
                }
            }
        }
    }

    fn sample_lines(&self) -> usize {
        self.text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count()
    }
}

/// Writes one histogram label set: observations spread log-normally around a median
/// bucket, so counts rise like a latency distribution's.
fn write_histogram(out: &mut String, name: &str, labels: &str, bounds: &[f64], rng: &mut XorShift) {
    let total = rng.log_uniform(10.0, 2e5).floor();
    let median = rng.unit() * (bounds.len() as f64 - 1.0);
    let spread = 0.6 + rng.unit() * 1.2;
    let mut previous = 0.0;
    let mut sum = 0.0;
    for (i, bound) in bounds.iter().enumerate() {
        let share = 1.0 / (1.0 + (-(i as f64 - median) / spread).exp());
        let cumulative = f64::max(previous, (total * share).floor());
        let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
        sum += (cumulative - previous) * (lower + bound) / 2.0;
        previous = cumulative;
        out.push_str(&format!(
            "{name}_bucket{{{labels},le=\"{}\"}} {}\n",
            go_float(*bound),
            go_float(cumulative)
        ));
    }
    sum += (total - previous) * bounds[bounds.len() - 1] * 1.5;
    out.push_str(&format!(
        "{name}_bucket{{{labels},le=\"+Inf\"}} {}\n",
        go_float(total)
    ));
    out.push_str(&format!("{name}_sum{{{labels}}} {}\n", go_float(sum)));
    out.push_str(&format!("{name}_count{{{labels}}} {}\n", go_float(total)));
}

/// Formats like Go's `strconv.FormatFloat(v, 'g', -1, 64)`, which the Go client uses:
/// shortest digits, exponent form (`1.2345e+06`) from 1e6 up and below 1e-4.
fn go_float(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let scientific = format!("{v:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes an integer exponent");
    if (-4..6).contains(&exponent) {
        format!("{v}")
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

// ---------------------------------------------------------------------------------------
// Checks, run once before a benchmark is timed.

/// Sample lines the families stand for in the text format.
fn sample_lines(families: &[MetricFamily]) -> usize {
    families
        .iter()
        .flat_map(|f| &f.metrics)
        .map(|m| match &m.value {
            MetricValue::Counter(_) | MetricValue::Gauge(_) | MetricValue::Unknown(_) => 1,
            MetricValue::Histogram(h) => {
                h.buckets.len() + usize::from(h.sum.is_some()) + usize::from(h.count.is_some())
            }
            other => panic!("the corpus has no {other:?}"),
        })
        .sum()
}

fn check_tally_parse(corpus: &Corpus, families: &[MetricFamily]) {
    assert_eq!(families.len(), corpus.families, "tally parse: family count");
    assert_eq!(sample_lines(families), SERIES, "tally parse: sample lines");
}

fn check_prometheus_parse(corpus: &Corpus, scrape: &prometheus_parse::Scrape) {
    // prometheus-parse folds a histogram's buckets into one sample per label set, and
    // (not knowing `_sum` and `_count` belong to the histogram) reports those as untyped.
    use prometheus_parse::Value;
    let lines: usize = scrape
        .samples
        .iter()
        .map(|s| match &s.value {
            Value::Histogram(buckets) => buckets.len(),
            _ => 1,
        })
        .sum();
    let histograms = corpus.histogram_label_sets;
    assert_eq!(
        scrape.samples.len(),
        corpus.scalar_label_sets + 3 * histograms,
        "prometheus-parse: samples"
    );
    assert_eq!(lines, SERIES, "prometheus-parse: sample lines");
}

fn check_tally_encode(families: &[MetricFamily], format: Format) {
    let mut out = Vec::new();
    expfmt::encode(families, format, &mut out);
    let reparsed = expfmt::parse(&out, format)
        .unwrap_or_else(|e| panic!("tally encode ({format:?}) wrote what tally cannot parse: {e}"));
    assert!(
        reparsed == families,
        "tally encode ({format:?}) did not round-trip: {} families, {} sample lines back",
        reparsed.len(),
        sample_lines(&reparsed)
    );
}

fn check_client_encode(registry: &Registry) {
    let mut out = String::new();
    client_text::encode(&mut out, registry).expect("writing to a String cannot fail");
    let lines = out
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(lines, SERIES, "prometheus-client encode: sample lines");
}

// ---------------------------------------------------------------------------------------
// The same families in a prometheus-client registry.

type LabelSet = Vec<(String, String)>;

/// Builds histograms with one family's bucket bounds.
#[derive(Debug, Clone)]
struct BucketBounds(Vec<f64>);

impl MetricConstructor<Histogram> for BucketBounds {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

fn label_set(labels: &Labels) -> LabelSet {
    labels
        .iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

/// A registry with the families' names, help, label sets and values. Counters and gauges
/// whose values are all integers use the client's integer types (how Rust code usually
/// declares them); histograms get the same bounds and one observation per counted event,
/// at the bucket's upper bound, so bucket counts match and sums differ.
fn client_registry(families: &[MetricFamily]) -> Registry {
    let mut registry = Registry::default();
    for family in families {
        let help = family.help.clone().unwrap_or_default();
        let values = || {
            family.metrics.iter().map(|m| match &m.value {
                MetricValue::Counter(c) => (&m.labels, c.value),
                MetricValue::Gauge(v) => (&m.labels, *v),
                other => panic!("{}: unexpected {other:?}", family.name),
            })
        };
        let integral = || values().all(|(_, v)| v.fract() == 0.0);
        match family.metric_type {
            MetricType::Counter => {
                let name = family.openmetrics_name();
                if integral() {
                    let f = Family::<LabelSet, Counter>::default();
                    for (labels, v) in values() {
                        f.get_or_create(&label_set(labels)).inc_by(v as u64);
                    }
                    registry.register(name, help, f);
                } else {
                    let f = Family::<LabelSet, Counter<f64, AtomicU64>>::default();
                    for (labels, v) in values() {
                        f.get_or_create(&label_set(labels)).inc_by(v);
                    }
                    registry.register(name, help, f);
                }
            }
            MetricType::Gauge => {
                if integral() {
                    let f = Family::<LabelSet, Gauge>::default();
                    for (labels, v) in values() {
                        f.get_or_create(&label_set(labels)).set(v as i64);
                    }
                    registry.register(&family.name, help, f);
                } else {
                    let f = Family::<LabelSet, Gauge<f64, AtomicU64>>::default();
                    for (labels, v) in values() {
                        f.get_or_create(&label_set(labels)).set(v);
                    }
                    registry.register(&family.name, help, f);
                }
            }
            MetricType::Histogram => {
                register_histogram(&mut registry, family, help);
            }
            other => panic!("{}: the corpus has no {other:?}", family.name),
        }
    }
    registry
}

fn register_histogram(registry: &mut Registry, family: &MetricFamily, help: String) {
    let histogram = |m: &tally_model::Metric| match &m.value {
        MetricValue::Histogram(h) => h.clone(),
        other => panic!("{}: unexpected {other:?}", family.name),
    };
    let first = histogram(&family.metrics[0]);
    let bounds: Vec<f64> = first
        .buckets
        .iter()
        .map(|b| b.upper_bound)
        .filter(|b| b.is_finite())
        .collect();
    let beyond_last = bounds.last().copied().unwrap_or(1.0) * 2.0;
    let f = Family::<LabelSet, Histogram, _>::new_with_constructor(BucketBounds(bounds));
    for m in &family.metrics {
        let h = f.get_or_create(&label_set(&m.labels));
        let mut previous = 0.0;
        for bucket in &histogram(m).buckets {
            let at = if bucket.upper_bound.is_finite() {
                bucket.upper_bound
            } else {
                beyond_last
            };
            for _ in 0..(bucket.cumulative_count - previous) as u64 {
                h.observe(at);
            }
            previous = bucket.cumulative_count;
        }
    }
    registry.register(&family.name, help, f);
}

// ---------------------------------------------------------------------------------------
// The benchmarks.

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
}

/// Runs `check` the first time criterion calls the benchmark (not at all if a filter
/// skips it), then hands over to `bench`.
fn checked_once(
    check: impl FnOnce(),
    mut bench: impl FnMut(&mut Bencher<'_>),
) -> impl FnMut(&mut Bencher<'_>) {
    let mut check = Some(check);
    move |b| {
        if let Some(check) = check.take() {
            check();
        }
        bench(b);
    }
}

fn parse(c: &mut Criterion) {
    let corpus = Corpus::generate();
    assert_eq!(corpus.sample_lines(), SERIES, "generator: sample lines");
    eprintln!(
        "corpus: {} bytes, {} families, {} counter/gauge label sets, {} histogram label sets, \
         {SERIES} sample lines",
        corpus.text.len(),
        corpus.families,
        corpus.scalar_label_sets,
        corpus.histogram_label_sets,
    );
    let bytes = corpus.text.as_bytes();

    let mut group = c.benchmark_group("parse");
    configure(&mut group);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function(
        "tally",
        checked_once(
            || {
                let families = expfmt::parse(bytes, Format::Text)
                    .unwrap_or_else(|e| panic!("tally cannot parse the corpus: {e}"));
                check_tally_parse(&corpus, &families);
            },
            |b: &mut Bencher<'_>| {
                b.iter(|| expfmt::parse(black_box(bytes), Format::Text));
            },
        ),
    );
    let text = corpus.text.as_str();
    let scrape = || prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())));
    group.bench_function(
        "prometheus-parse",
        checked_once(
            || check_prometheus_parse(&corpus, &scrape().expect("reading a &str cannot fail")),
            |b: &mut Bencher<'_>| b.iter(&scrape),
        ),
    );
    group.finish();
}

fn encode(c: &mut Criterion) {
    let corpus = Corpus::generate();
    let families = expfmt::parse(corpus.text.as_bytes(), Format::Text)
        .unwrap_or_else(|e| panic!("tally cannot parse the corpus: {e}"));
    let registry = client_registry(&families);

    let mut group = c.benchmark_group("encode");
    configure(&mut group);
    group.throughput(Throughput::Elements(SERIES as u64));
    for (id, format) in [
        ("tally/text", Format::Text),
        ("tally/openmetrics", Format::OpenMetrics),
    ] {
        let mut out = Vec::with_capacity(corpus.text.len() * 2);
        group.bench_function(
            id,
            checked_once(
                || check_tally_encode(&families, format),
                |b: &mut Bencher<'_>| {
                    b.iter(|| {
                        out.clear();
                        expfmt::encode(black_box(&families), format, &mut out);
                        out.len()
                    });
                },
            ),
        );
    }
    let mut out = String::with_capacity(corpus.text.len() * 2);
    group.bench_function(
        "prometheus-client/openmetrics",
        checked_once(
            || check_client_encode(&registry),
            |b: &mut Bencher<'_>| {
                b.iter(|| {
                    out.clear();
                    client_text::encode(&mut out, black_box(&registry))
                        .expect("writing to a String cannot fail");
                    out.len()
                });
            },
        ),
    );
    group.finish();
}

criterion_group!(benches, parse, encode);
criterion_main!(benches);
