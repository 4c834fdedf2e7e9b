//! What `tally bench remote-write` sends: the series of simulated scrape targets, their
//! values round after round, and the remote_write encoding of each sample.
//!
//! # The series
//!
//! Series come from scrape targets (`job`, `instance="host-00042:9100"`) of 100 series
//! each, like a small application with a node exporter beside it:
//!
//! | metric | series | kind | values |
//! |---|---|---|---|
//! | `up`, `app_build_info`, `process_start_time_seconds`, `node_boot_time_seconds` | 4 | gauge | constant |
//! | `process_resident_memory_bytes`, `node_memory_MemAvailable_bytes`, `node_filesystem_avail_bytes{mountpoint}` ×2 | 4 | gauge | random walks in 4 KiB pages |
//! | `go_goroutines`, `app_queue_length` | 2 | gauge | integer random walks |
//! | `node_hwmon_temp_celsius`, `node_load1` | 2 | gauge | mean-reverting walks, 1 and 2 decimals |
//! | `process_cpu_seconds_total`, `node_cpu_seconds_total{cpu,mode}` ×16 | 17 | counter | centiseconds, mostly idle |
//! | `node_network_{receive,transmit}_bytes_total`, `node_context_switches_total` | 3 | counter | integer, noisy rates |
//! | `http_requests_total{method,handler,code}` ×12 | 12 | counter | requests by code (95 % 200, 4 % 404, 1 % 500) |
//! | `http_request_duration_seconds{method,handler}` ×4 | 56 | histogram | 11 buckets, `+Inf`, `_sum`, `_count` of the same requests |
//!
//! The last target is cut so the total is exactly `--series`.
//!
//! # The values
//!
//! A *unit* is what must be computed together: one counter or gauge, or one endpoint
//! (its three request counters and its histogram, which count the same requests, so
//! buckets stay cumulative and `+Inf` equals `_count` in every round). Each unit has its
//! own random generator seeded from the run's seed and the unit's position, so the data
//! depend on the seed and the series count only, not on the shards or batch size.
//!
//! # The encoding
//!
//! Prometheus' queue manager sends one `TimeSeries` per sample, repeating the labels, and
//! so does this. Each series' labels are encoded once ([`Series::labels`]); a sample is
//! appended to a request with [`push_sample`] (a `TimeSeries` field of
//! `prometheus.WriteRequest`: the label bytes, then the sample), so building a request
//! costs a copy per sample, not an allocation per label.

use prost::Message as _;
use rand_core::{RngCore as _, SeedableRng as _};
use rand_pcg::Pcg32;
use tally_server::remote_write::proto;

/// Series per simulated target.
pub const SERIES_PER_TARGET: usize = 100;

/// Upper bounds of the request-duration histogram (seconds), `+Inf` excluded.
const BOUNDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const METHODS: [&str; 2] = ["GET", "POST"];
const HANDLERS: [&str; 2] = ["/api/items", "/api/users"];
const CODES: [&str; 3] = ["200", "404", "500"];
const CPU_MODES: [(&str, f64); 4] = [
    ("idle", 0.70),
    ("user", 0.20),
    ("system", 0.08),
    ("iowait", 0.02),
];

/// One series: its labels, encoded once as `TimeSeries.labels` fields.
#[derive(Debug, Clone)]
pub struct Series {
    /// `Label` fields (tag 1) of a `TimeSeries`, sorted by name.
    pub labels: Vec<u8>,
}

/// How a unit's values move.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Always the same value.
    Constant(f64),
    /// A walk around `mean` with `step` standard deviation, pulled back by `pull` per
    /// round, rounded to `quantum`, never below zero.
    Walk {
        mean: f64,
        step: f64,
        pull: f64,
        quantum: f64,
    },
    /// A counter growing by `rate` per second on average, ±`jitter` (a fraction),
    /// rounded to `quantum`.
    Counter {
        rate: f64,
        jitter: f64,
        quantum: f64,
    },
    /// An HTTP endpoint: `rate` requests per second, durations log-normal around
    /// `median` seconds. Series: three counters by code, then the histogram's buckets,
    /// `+Inf`, `_sum`, `_count`.
    Endpoint { rate: f64, median: f64 },
}

/// Series an endpoint unit has.
const ENDPOINT_SERIES: usize = CODES.len() + BOUNDS.len() + 3;

/// Something computed together, and the series it emits.
#[derive(Debug, Clone)]
pub struct Unit {
    kind: Kind,
    /// Its series, in emission order; fewer than its kind has when the last target is cut.
    pub series: Vec<Series>,
    /// Milliseconds after each round's start when this unit's target is scraped.
    pub offset_ms: i64,
}

/// A unit's values as of its last round, and its generator.
#[derive(Debug, Clone)]
pub struct UnitState {
    rng: Pcg32,
    /// One value per series of the unit's kind (all of them, even those cut).
    values: Vec<f64>,
}

/// Every unit of a run, in order.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The units.
    pub units: Vec<Unit>,
    seed: u64,
}

/// Builds label bytes from sorted pairs.
fn encode_labels(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut sorted = pairs.to_vec();
    sorted.sort_unstable();
    let mut out = Vec::new();
    for (name, value) in sorted {
        out.push(0x0a); // field 1 (labels), length-delimited
        let label = proto::Label {
            name: name.to_owned(),
            value: value.to_owned(),
        };
        // Encoding into a `Vec` only fails for lack of capacity, which a `Vec` grows.
        let _ = label.encode_length_delimited(&mut out);
    }
    out
}

/// A 64-bit mix of `x` (SplitMix64's finaliser): seeds per unit and scrape offsets.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Uniform in `[0, 1)`.
fn uniform(rng: &mut Pcg32) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Roughly standard normal (a sum of four uniforms, rescaled): cheap, bounded by ±3.5.
fn normal(rng: &mut Pcg32) -> f64 {
    let sum: f64 = (0..4).map(|_| uniform(rng)).sum();
    (sum - 2.0) * 3f64.sqrt()
}

/// `v` rounded to a multiple of `quantum`. A decimal quantum (0.1, 0.01) gives the double
/// nearest the decimal, as real exporters produce: they divide an integer count by a
/// power of ten (node_exporter's CPU ticks by `USER_HZ`, hwmon's millidegrees by 1000) or
/// parse decimal text. Multiplying by the quantum instead gives values such as
/// 12345.670000000002, one bit off the decimal, which no exporter sends.
fn round_to(v: f64, quantum: f64) -> f64 {
    if quantum <= 0.0 {
        return v;
    }
    let steps = (v / quantum).round();
    if quantum < 1.0 {
        steps / (1.0 / quantum).round()
    } else {
        steps * quantum
    }
}

impl Workload {
    /// Exactly `series` series of `job`, scraped every `interval_ms`, values from `seed`.
    pub fn new(series: usize, job: &str, interval_ms: i64, seed: u64) -> Self {
        let mut units = Vec::new();
        let mut left = series;
        let mut target = 0u64;
        while left > 0 {
            let instance = format!("host-{target:05}:9100");
            let offset_ms = (mix(seed ^ mix(target)) % interval_ms.max(1) as u64) as i64;
            let mut target_rng = Pcg32::seed_from_u64(mix(seed.wrapping_add(target)));
            for (kind, series) in target_units(job, &instance, &mut target_rng) {
                if left == 0 {
                    break;
                }
                let take = series.len().min(left);
                left -= take;
                let mut series = series;
                series.truncate(take);
                units.push(Unit {
                    kind,
                    series,
                    offset_ms,
                });
            }
            target += 1;
        }
        Self { units, seed }
    }

    /// Series in all.
    pub fn series(&self) -> usize {
        self.units.iter().map(|u| u.series.len()).sum()
    }

    /// The starting state of unit `index` (its values before round 0).
    pub fn state(&self, index: usize) -> UnitState {
        let unit = &self.units[index];
        let mut rng = Pcg32::seed_from_u64(mix(self.seed ^ mix(index as u64 ^ 0x5eed)));
        let values = match unit.kind {
            Kind::Constant(v) => vec![v],
            Kind::Walk { mean, .. } => vec![mean],
            // Counters start where a process that ran a while would be.
            Kind::Counter { rate, quantum, .. } => {
                vec![round_to(rate * 3600.0 * (1.0 + uniform(&mut rng)), quantum)]
            }
            Kind::Endpoint { .. } => vec![0.0; ENDPOINT_SERIES],
        };
        UnitState { rng, values }
    }

    /// Advances unit `index` by one scrape of `interval_s` seconds; its series' values
    /// are then `state.values()` (the first `unit.series.len()` of them are emitted).
    pub fn advance(&self, index: usize, state: &mut UnitState, interval_s: f64) {
        let rng = &mut state.rng;
        match self.units[index].kind {
            Kind::Constant(_) => {}
            Kind::Walk {
                mean,
                step,
                pull,
                quantum,
            } => {
                let v = state.values[0];
                let next = v + pull * (mean - v) + step * normal(rng);
                state.values[0] = round_to(next.max(0.0), quantum);
            }
            Kind::Counter {
                rate,
                jitter,
                quantum,
            } => {
                let factor = 1.0 + jitter * (2.0 * uniform(rng) - 1.0);
                let inc = round_to(rate * interval_s * factor, quantum).max(0.0);
                state.values[0] = round_to(state.values[0] + inc, quantum);
            }
            Kind::Endpoint { rate, median } => {
                let mean = rate * interval_s;
                let n = (mean * (0.7 + 0.6 * uniform(rng))).round() as u64;
                let v = &mut state.values;
                let (codes, rest) = v.split_at_mut(CODES.len());
                let (buckets, tail) = rest.split_at_mut(BOUNDS.len() + 1);
                let mu = median.ln();
                for _ in 0..n {
                    let u = uniform(rng);
                    codes[usize::from(u >= 0.95) + usize::from(u >= 0.99)] += 1.0;
                    let seconds = (mu + 0.9 * normal(rng)).exp();
                    let first = BOUNDS.partition_point(|b| *b < seconds);
                    for b in &mut buckets[first..] {
                        *b += 1.0;
                    }
                    tail[0] += seconds;
                    tail[1] += 1.0;
                }
            }
        }
    }
}

impl UnitState {
    /// The unit's values after its last [`Workload::advance`].
    pub fn values(&self) -> &[f64] {
        &self.values
    }
}

/// The units of one target, each with its series' labels.
fn target_units(job: &str, instance: &str, rng: &mut Pcg32) -> Vec<(Kind, Vec<Series>)> {
    let series = |name: &str, extra: &[(&str, &str)]| {
        let mut pairs = vec![("__name__", name), ("job", job), ("instance", instance)];
        pairs.extend_from_slice(extra);
        Series {
            labels: encode_labels(&pairs),
        }
    };
    let one = |kind, name: &str, extra: &[(&str, &str)]| (kind, vec![series(name, extra)]);
    let gib = 1024.0 * 1024.0 * 1024.0;
    let page = 4096.0;
    let walk = |mean: f64, step: f64, quantum: f64| Kind::Walk {
        mean,
        step,
        pull: 0.05,
        quantum,
    };
    let start = 1.7e9 + (uniform(rng) * 1e6).round();
    let mut units = vec![
        one(Kind::Constant(1.0), "up", &[]),
        one(
            Kind::Constant(1.0),
            "app_build_info",
            &[("version", "1.4.2"), ("revision", "9f1c2ab")],
        ),
        one(Kind::Constant(start), "process_start_time_seconds", &[]),
        one(
            Kind::Constant(start - 86_400.0),
            "node_boot_time_seconds",
            &[],
        ),
        one(
            walk(2e8 * (1.0 + uniform(rng)), 2e6, page),
            "process_resident_memory_bytes",
            &[],
        ),
        one(
            walk(8.0 * gib * (0.5 + uniform(rng)), 2e7, page),
            "node_memory_MemAvailable_bytes",
            &[],
        ),
        one(
            walk(40.0 * gib, 1e6, page),
            "node_filesystem_avail_bytes",
            &[("mountpoint", "/")],
        ),
        one(
            walk(400.0 * gib, 1e7, page),
            "node_filesystem_avail_bytes",
            &[("mountpoint", "/data")],
        ),
        one(walk(120.0, 4.0, 1.0), "go_goroutines", &[]),
        one(walk(5.0, 2.0, 1.0), "app_queue_length", &[]),
        one(
            walk(45.0 + 10.0 * uniform(rng), 0.3, 0.1),
            "node_hwmon_temp_celsius",
            &[],
        ),
        one(walk(1.5, 0.1, 0.01), "node_load1", &[]),
        one(
            Kind::Counter {
                rate: 0.05 + 0.3 * uniform(rng),
                jitter: 0.5,
                quantum: 0.01,
            },
            "process_cpu_seconds_total",
            &[],
        ),
    ];
    for cpu in ["0", "1", "2", "3"] {
        for (mode, share) in CPU_MODES {
            units.push(one(
                Kind::Counter {
                    rate: share,
                    jitter: 0.2,
                    quantum: 0.01,
                },
                "node_cpu_seconds_total",
                &[("cpu", cpu), ("mode", mode)],
            ));
        }
    }
    for (name, rate) in [
        ("node_network_receive_bytes_total", 2e5),
        ("node_network_transmit_bytes_total", 8e4),
    ] {
        units.push(one(
            Kind::Counter {
                rate: rate * (0.5 + uniform(rng)),
                jitter: 0.6,
                quantum: 1.0,
            },
            name,
            &[("device", "eth0")],
        ));
    }
    units.push(one(
        Kind::Counter {
            rate: 3000.0,
            jitter: 0.3,
            quantum: 1.0,
        },
        "node_context_switches_total",
        &[],
    ));
    for method in METHODS {
        for handler in HANDLERS {
            let rate = (1.0 * normal(rng)).exp() * if method == "GET" { 2.0 } else { 0.5 };
            let median = 0.02 * (0.5 * normal(rng)).exp();
            let mut endpoint = Vec::with_capacity(ENDPOINT_SERIES);
            let labels = [("method", method), ("handler", handler)];
            for code in CODES {
                endpoint.push(series(
                    "http_requests_total",
                    &[labels[0], labels[1], ("code", code)],
                ));
            }
            let les: Vec<String> = BOUNDS
                .iter()
                .map(|b| b.to_string())
                .chain(["+Inf".to_owned()])
                .collect();
            for le in &les {
                endpoint.push(series(
                    "http_request_duration_seconds_bucket",
                    &[labels[0], labels[1], ("le", le)],
                ));
            }
            endpoint.push(series("http_request_duration_seconds_sum", &labels));
            endpoint.push(series("http_request_duration_seconds_count", &labels));
            units.push((Kind::Endpoint { rate, median }, endpoint));
        }
    }
    debug_assert_eq!(
        units.iter().map(|(_, s)| s.len()).sum::<usize>(),
        SERIES_PER_TARGET
    );
    units
}

/// Appends one sample of a series to an encoded `WriteRequest`: a `timeseries` field
/// (tag 1) holding the series' label fields and one `samples` field (tag 2).
pub fn push_sample(request: &mut Vec<u8>, labels: &[u8], timestamp_ms: i64, value: f64) {
    let sample = proto::Sample {
        value,
        timestamp: timestamp_ms,
    };
    let sample_len = sample.encoded_len();
    let series_len = labels.len() + 1 + prost::length_delimiter_len(sample_len) + sample_len;
    request.push(0x0a);
    // Encoding into a `Vec` only fails for lack of capacity, which a `Vec` grows.
    let _ = prost::encode_length_delimiter(series_len, request);
    request.extend_from_slice(labels);
    request.push(0x12);
    let _ = sample.encode_length_delimited(request);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::WriteRequest;

    /// A series' label pairs as decoded, in wire order.
    type Pairs = Vec<(String, String)>;
    /// One decoded sample: its series, timestamp and value.
    type Point = (Pairs, i64, f64);

    /// Every sample of `rounds` rounds as (labels, timestamp, value), in emission order.
    fn run(workload: &Workload, rounds: i64) -> Vec<Point> {
        let mut out = Vec::new();
        let mut states: Vec<UnitState> = (0..workload.units.len())
            .map(|i| workload.state(i))
            .collect();
        for round in 0..rounds {
            let mut request = Vec::new();
            for (i, unit) in workload.units.iter().enumerate() {
                workload.advance(i, &mut states[i], 15.0);
                for (series, value) in unit.series.iter().zip(states[i].values()) {
                    push_sample(
                        &mut request,
                        &series.labels,
                        round * 15_000 + unit.offset_ms,
                        *value,
                    );
                }
            }
            let decoded = WriteRequest::decode(request.as_slice()).unwrap();
            for ts in decoded.timeseries {
                assert_eq!(ts.samples.len(), 1);
                let labels = ts.labels.into_iter().map(|l| (l.name, l.value)).collect();
                out.push((labels, ts.samples[0].timestamp, ts.samples[0].value));
            }
        }
        out
    }

    #[test]
    fn decimal_quanta_give_the_doubles_decimal_text_parses_to() {
        let mut rng = Pcg32::seed_from_u64(7);
        for _ in 0..10_000 {
            let v = uniform(&mut rng) * 1e6;
            for (quantum, places) in [(0.01, 2), (0.1, 1)] {
                let r = round_to(v, quantum);
                let text = format!("{r:.places$}");
                assert_eq!(
                    text.parse::<f64>().unwrap().to_bits(),
                    r.to_bits(),
                    "{v} {quantum}"
                );
            }
            assert_eq!(round_to(v, 4096.0) % 4096.0, 0.0);
        }
    }

    #[test]
    fn exactly_the_series_asked_for_with_unique_sorted_labels() {
        for n in [1, 13, 99, 100, 101, 250] {
            let w = Workload::new(n, "bench", 15_000, 1);
            assert_eq!(w.series(), n);
            let samples = run(&w, 1);
            assert_eq!(samples.len(), n);
            let mut seen = std::collections::BTreeSet::new();
            for (labels, _, _) in &samples {
                let names: Vec<&String> = labels.iter().map(|(n, _)| n).collect();
                assert!(names.windows(2).all(|w| w[0] < w[1]), "{labels:?}");
                assert!(seen.insert(labels.clone()), "repeated series {labels:?}");
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_data_and_another_seed_other_data() {
        let a = run(&Workload::new(300, "bench", 15_000, 7), 3);
        let b = run(&Workload::new(300, "bench", 15_000, 7), 3);
        let c = run(&Workload::new(300, "bench", 15_000, 8), 3);
        let bits = |s: &[Point]| -> Vec<(i64, u64)> {
            s.iter().map(|(_, t, v)| (*t, v.to_bits())).collect()
        };
        assert_eq!(bits(&a), bits(&b));
        assert_ne!(bits(&a), bits(&c));
    }

    #[test]
    fn counters_grow_histograms_stay_consistent_timestamps_advance() {
        let w = Workload::new(200, "bench", 15_000, 3);
        let rounds = 20;
        let samples = run(&w, rounds);
        let mut by_series: std::collections::BTreeMap<Pairs, Vec<(i64, f64)>> = Default::default();
        for (labels, t, v) in samples {
            by_series.entry(labels).or_default().push((t, v));
        }
        assert_eq!(by_series.len(), 200);
        let name = |l: &[(String, String)]| l[0].1.clone();
        let mut moved = 0;
        for (labels, points) in &by_series {
            assert_eq!(points.len(), rounds as usize);
            for w in points.windows(2) {
                assert_eq!(w[1].0 - w[0].0, 15_000, "{labels:?}");
                let n = name(labels);
                if n.ends_with("_total")
                    || n.contains("_bucket")
                    || n.ends_with("_count")
                    || n.ends_with("_sum")
                {
                    assert!(w[1].1 >= w[0].1, "{labels:?} went down: {w:?}");
                }
                assert!(w[1].1 >= 0.0 && w[1].1.is_finite(), "{labels:?}: {w:?}");
            }
            moved += usize::from(points.first() != points.last());
        }
        assert!(moved > 100, "only {moved} series changed");
        // In each round, buckets are cumulative and +Inf equals _count.
        let get = |instance: &str, name: &str, le: Option<&str>, round: usize| -> f64 {
            by_series
                .iter()
                .find(|(l, _)| {
                    l.iter().any(|(n, v)| n == "instance" && v == instance)
                        && name_is(l, name)
                        && l.iter().any(|(n, v)| n == "method" && v == "GET")
                        && l.iter().any(|(n, v)| n == "handler" && v == "/api/items")
                        && le.is_none_or(|le| l.iter().any(|(n, v)| n == "le" && v == le))
                })
                .map(|(_, p)| p[round].1)
                .unwrap()
        };
        for round in [0, 19] {
            let inf = get(
                "host-00000:9100",
                "http_request_duration_seconds_bucket",
                Some("+Inf"),
                round,
            );
            let count = get(
                "host-00000:9100",
                "http_request_duration_seconds_count",
                None,
                round,
            );
            let low = get(
                "host-00000:9100",
                "http_request_duration_seconds_bucket",
                Some("0.005"),
                round,
            );
            assert_eq!(inf, count);
            assert!(low <= inf && count > 0.0, "{low} {inf}");
        }
    }

    fn name_is(labels: &[(String, String)], name: &str) -> bool {
        labels.iter().any(|(n, v)| n == "__name__" && v == name)
    }
}

/// Bytes per sample of this workload's data in the head's XOR chunks and in the store's
/// stored chunks, by metric: the figures `docs/format/chunk.md` quotes. Print them with
/// `cargo test --release -p tally-cli --bin tally chunk_sizes -- --nocapture`.
#[cfg(test)]
mod chunk_sizes {
    use std::collections::BTreeMap;

    use tally_tsdb::chunk::{seal, XorChunk};

    use super::*;

    /// Per metric (buckets by position): series, XOR bytes, stored bytes.
    type Sizes = BTreeMap<String, (usize, usize, usize)>;

    /// Encodes `rounds` 15 s rounds of `series` series in 120-sample chunks.
    fn sizes(series: usize, rounds: i64) -> Sizes {
        let w = Workload::new(series, "bench", 15_000, 1);
        let mut sizes = Sizes::new();
        for (i, unit) in w.units.iter().enumerate() {
            let mut state = w.state(i);
            let n = unit.series.len();
            let mut chunks: Vec<XorChunk> = (0..n).map(|_| XorChunk::new()).collect();
            let mut bytes = vec![(0, 0); n];
            let close = |c: &mut XorChunk, b: &mut (usize, usize)| {
                b.0 += c.bytes().len();
                b.1 += seal(c).len();
                *c = XorChunk::new();
            };
            for round in 0..rounds {
                w.advance(i, &mut state, 15.0);
                for s in 0..n {
                    let t = 1_700_000_000_000 + round * 15_000 + unit.offset_ms;
                    chunks[s].append(t, state.values()[s]);
                    if chunks[s].len() == 120 {
                        close(&mut chunks[s], &mut bytes[s]);
                    }
                }
            }
            for s in 0..n {
                close(&mut chunks[s], &mut bytes[s]);
                // The metric name is the first label's value (`__name__` sorts first).
                let labels = &unit.series[s].labels;
                let len = usize::from(labels[13]);
                let mut name = String::from_utf8_lossy(&labels[14..14 + len]).into_owned();
                if name.ends_with("_bucket") {
                    name.push_str(&format!("[{}]", s - CODES.len()));
                }
                let e = sizes.entry(name).or_default();
                e.0 += 1;
                e.1 += bytes[s].0;
                e.2 += bytes[s].1;
            }
        }
        sizes
    }

    #[test]
    fn stored_chunks_are_30_percent_smaller_than_xor_on_the_bench_mix() {
        let rounds = 1440;
        let sizes = sizes(2_000, rounds);
        let per_sample =
            |bytes: usize, series: usize| bytes as f64 / (series as f64 * rounds as f64);
        println!(
            "{:45} {:>6} {:>6} {:>6}",
            "metric", "series", "XOR", "stored"
        );
        for (name, (series, xor, stored)) in &sizes {
            println!(
                "{name:45} {series:6} {:6.3} {:6.3}",
                per_sample(*xor, *series),
                per_sample(*stored, *series)
            );
        }
        let (series, xor, stored) = sizes
            .values()
            .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
        println!(
            "{:45} {series:6} {:6.3} {:6.3}",
            "all",
            per_sample(xor, series),
            per_sample(stored, series)
        );
        assert_eq!(series, 2_000);
        assert!(stored * 10 <= xor * 7, "stored {stored} bytes, XOR {xor}");
    }
}
