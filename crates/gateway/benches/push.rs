//! Gateway hot paths: applying a push to a live group, and building the aggregated view.
//!
//! `cargo bench -p tally-gateway --bench push`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tally_gateway::{parse_grouping_path, Gateway, GatewayConfig, Push, PushMethod};
use tally_model::expfmt::{parse, Format};
use tally_model::MetricFamily;

const GROUPS: usize = 1000;

/// A push of 32 sample lines: 12 counters (4 methods × 3 codes), two 7-bucket histograms
/// (9 lines each) and two gauges: 16 series as the gateway counts them.
fn body(round: u64) -> String {
    let mut s = String::from("# TYPE http_requests_total counter\n");
    for method in ["GET", "POST", "PUT", "DELETE"] {
        for code in ["200", "404", "500"] {
            s += &format!(
                "http_requests_total{{method=\"{method}\",code=\"{code}\",route=\"/api/items\"}} {}\n",
                round * 3 + 1
            );
        }
    }
    s += "# TYPE request_seconds histogram\n";
    for route in ["/api/items", "/api/users"] {
        let mut c = 0;
        for le in ["0.005", "0.01", "0.05", "0.1", "0.5", "1", "+Inf"] {
            c += round;
            s += &format!("request_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {c}\n");
        }
        s += &format!(
            "request_seconds_sum{{route=\"{route}\"}} {}\n",
            round as f64 * 0.3
        );
        s += &format!("request_seconds_count{{route=\"{route}\"}} {c}\n");
    }
    s += "# TYPE queue_depth gauge\nqueue_depth 3\n# TYPE inflight gauge\ninflight 1\n";
    s
}

fn families(round: u64) -> Vec<MetricFamily> {
    parse(body(round).as_bytes(), Format::Text).unwrap_or_default()
}

fn push(i: usize, families: Vec<MetricFamily>) -> Push {
    Push {
        method: PushMethod::Put,
        key: parse_grouping_path(&format!("job/bench/instance/i{i}")).unwrap_or_default(),
        families,
        ttl_ms: None,
        start_time: Some(1.0),
        sequence: None,
    }
}

fn populated() -> Gateway {
    let mut gw = Gateway::new(GatewayConfig::default());
    for i in 0..GROUPS {
        let _ = gw.push(push(i, families(1)), 0);
    }
    gw
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("gateway");
    group.throughput(Throughput::Elements(1));
    let mut gw = populated();
    let next = families(2);
    let mut i = 0usize;
    group.bench_function("apply a 32-line push to a live group (1000 groups)", |b| {
        b.iter_batched(
            || next.clone(),
            |fams| {
                i = (i + 1) % GROUPS;
                gw.push(push(i, fams), 1)
            },
            BatchSize::SmallInput,
        )
    });
    let gw = populated();
    group.bench_function("aggregated view over 1000 groups", |b| {
        b.iter(|| gw.aggregated())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
