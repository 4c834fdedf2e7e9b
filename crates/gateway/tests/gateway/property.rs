//! Property: for any interleaving of increments, pushes, retries (immediate and late),
//! restarts, deletes and expiries across several instances, every aggregated counter
//! equals the true total of the work the instances reported, and never decreases.
//!
//! The instances behave like tally's client: every push carries the process start time
//! and a sequence number. Each has two series, either of which the client may remove
//! and, after at least one push without it, create again from zero. (A series removed and
//! re-created between two pushes that climbs back to its old value before the next push
//! is indistinguishable from one that never reset; no gateway can see that.) "The true total" is, over every lifetime of every
//! series of every instance, the largest cumulative value pushed.

use proptest::prelude::*;
use tally_gateway::{parse_grouping_path, Gateway, GatewayConfig, Push, PushMethod};
use tally_model::{CounterValue, Labels, Metric, MetricFamily, MetricType, MetricValue};

use super::value;

const INSTANCES: usize = 3;
const TTL: i64 = 10_000;
const SERIES: usize = 2;

#[derive(Debug, Clone)]
enum Op {
    Inc(usize, usize, u32),
    Remove(usize, usize),
    Push(usize, bool),
    Retry(usize),
    LateRetry(usize, usize),
    Restart(usize),
    Delete(usize),
    Tick(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let i = 0..INSTANCES;
    prop_oneof![
        4 => (i.clone(), 0..SERIES, 1u32..50).prop_map(|(i, k, n)| Op::Inc(i, k, n)),
        1 => (i.clone(), 0..SERIES).prop_map(|(i, k)| Op::Remove(i, k)),
        4 => (i.clone(), any::<bool>()).prop_map(|(i, post)| Op::Push(i, post)),
        2 => i.clone().prop_map(Op::Retry),
        2 => (i.clone(), any::<usize>()).prop_map(|(i, k)| Op::LateRetry(i, k)),
        1 => i.clone().prop_map(Op::Restart),
        1 => i.clone().prop_map(Op::Delete),
        1 => (1i64..TTL * 2).prop_map(Op::Tick),
    ]
}

#[derive(Debug, Default, Clone)]
struct Instance {
    lifetime: u32,
    /// Current cumulative value per series; `None` when the client removed it.
    values: [Option<u64>; SERIES],
    seq: u64,
    /// (sequence, values) of every push of the current lifetime.
    pushed: Vec<(u64, [Option<u64>; SERIES])>,
    /// Largest value pushed per series since it was last created.
    series_max: [u64; SERIES],
    /// Per series, totals of its lifetimes that ended (removed, or process restarted).
    finished: [u64; SERIES],
    /// Series removed since the last push: not created again until a push omits them.
    removed: [bool; SERIES],
}

impl Instance {
    fn truth(&self, k: usize) -> u64 {
        self.finished[k] + self.series_max[k]
    }

    fn end_series(&mut self, k: usize) {
        self.finished[k] += self.series_max[k];
        self.series_max[k] = 0;
        self.values[k] = None;
        self.removed[k] = true;
    }
}

fn key(i: usize) -> Labels {
    parse_grouping_path(&format!("job/prop/instance/i{i}")).unwrap()
}

fn push_of(i: usize, lifetime: u32, seq: u64, values: [Option<u64>; SERIES], post: bool) -> Push {
    let mut family = MetricFamily::new("work_total", MetricType::Counter);
    for (k, v) in values.iter().enumerate() {
        if let Some(v) = v {
            let labels = Labels::from_pairs([("kind", format!("k{k}"))]).unwrap();
            family.metrics.push(Metric::new(
                labels,
                MetricValue::Counter(CounterValue {
                    value: *v as f64,
                    ..CounterValue::default()
                }),
            ));
        }
    }
    Push {
        method: if post {
            PushMethod::Post
        } else {
            PushMethod::Put
        },
        key: key(i),
        families: vec![family],
        ttl_ms: None,
        start_time: Some(f64::from(lifetime)),
        sequence: Some(seq),
    }
}

/// The aggregated value of series `k`, if a live group feeds it (rule 4: series no live
/// group feeds leave the view; their retired amounts return when one feeds them again).
fn aggregated(gw: &Gateway, k: usize) -> Option<f64> {
    let kind = format!("k{k}");
    value(
        &gw.aggregated(),
        "work_total",
        &[("job", "prop"), ("kind", &kind)],
    )
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let config = GatewayConfig {
        default_ttl_ms: TTL,
        ..GatewayConfig::default()
    };
    let mut gw = Gateway::new(config);
    let mut instances = vec![Instance::default(); INSTANCES];
    let mut now = 0i64;
    let mut last_seen = [0.0f64; SERIES];
    for op in ops {
        match *op {
            Op::Inc(i, k, n) => {
                if !instances[i].removed[k] {
                    let v = &mut instances[i].values[k];
                    *v = Some(v.unwrap_or(0) + u64::from(n));
                }
            }
            Op::Remove(i, k) => instances[i].end_series(k),
            Op::Push(i, post) => {
                let inst = &mut instances[i];
                inst.seq += 1;
                inst.pushed.push((inst.seq, inst.values));
                inst.removed = [false; SERIES];
                for (k, v) in inst.values.iter().enumerate() {
                    if let Some(v) = v {
                        inst.series_max[k] = inst.series_max[k].max(*v);
                    }
                }
                let p = push_of(i, inst.lifetime, inst.seq, inst.values, post);
                gw.push(p, now)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            Op::Retry(i) => {
                let inst = &instances[i];
                if let Some(&(seq, v)) = inst.pushed.last() {
                    gw.push(push_of(i, inst.lifetime, seq, v, false), now)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                }
            }
            Op::LateRetry(i, k) => {
                let inst = &instances[i];
                if !inst.pushed.is_empty() {
                    let (seq, v) = inst.pushed[k % inst.pushed.len()];
                    gw.push(push_of(i, inst.lifetime, seq, v, false), now)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                }
            }
            Op::Restart(i) => {
                let inst = &mut instances[i];
                for k in 0..SERIES {
                    inst.end_series(k);
                }
                inst.removed = [false; SERIES];
                inst.lifetime += 1;
                inst.seq = 0;
                inst.pushed.clear();
            }
            Op::Delete(i) => {
                gw.delete(&key(i));
            }
            Op::Tick(ms) => {
                now += ms;
                gw.expire(now);
            }
        }
        for (k, seen) in last_seen.iter_mut().enumerate() {
            let truth: u64 = instances.iter().map(|inst| inst.truth(k)).sum();
            if let Some(total) = aggregated(&gw, k) {
                prop_assert_eq!(total, truth as f64, "series k{} after {:?}", k, op);
                prop_assert!(
                    total >= *seen,
                    "k{} went down from {} to {}",
                    k,
                    seen,
                    total
                );
                *seen = total;
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("TALLY_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
    ))]

    #[test]
    fn aggregated_counters_equal_the_true_total(ops in prop::collection::vec(op(), 1..60)) {
        run(&ops)?;
    }
}
