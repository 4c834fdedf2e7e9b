//! The time-series database's own metrics, read from its counters whenever tally's
//! registry is gathered (a [`Collector`], so the hot write path only bumps atomics).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use tally::{Collector, Registry};
use tally_model::{Labels, Metric, MetricFamily, MetricType, MetricValue};
use tally_storage::Rejection;
use tally_tsdb::Db;

struct TsdbCollector {
    // Weak: the registry must not keep the database open after the server stops.
    db: Weak<Db>,
}

fn family(name: &str, help: &str, t: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    MetricFamily {
        metrics,
        ..MetricFamily::new(name, t).with_help(help)
    }
}

fn counter(v: u64) -> MetricValue {
    MetricValue::Counter(tally_model::CounterValue {
        value: v as f64,
        created: None,
        exemplar: None,
    })
}

impl Collector for TsdbCollector {
    fn collect(&self, out: &mut Vec<MetricFamily>) {
        let Some(db) = self.db.upgrade() else {
            return;
        };
        let c = db.counters();
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let one = |v| vec![Metric::new(Labels::new(), v)];
        out.push(family(
            "tally_tsdb_samples_appended_total",
            "Samples stored.",
            MetricType::Counter,
            one(counter(load(&c.samples_appended))),
        ));
        out.push(family(
            "tally_tsdb_samples_repeated_total",
            "Samples identical to the newest of their series, accepted without change.",
            MetricType::Counter,
            one(counter(load(&c.samples_repeated))),
        ));
        let rejected = Rejection::ALL
            .iter()
            .zip(&c.samples_rejected)
            .filter_map(|(r, n)| {
                let labels = Labels::from_pairs([("reason", r.as_str())]).ok()?;
                Some(Metric::new(labels, counter(load(n))))
            })
            .collect();
        out.push(family(
            "tally_tsdb_samples_rejected_total",
            "Samples refused, by reason (out_of_order, duplicate_timestamp, too_old, ...).",
            MetricType::Counter,
            rejected,
        ));
        out.push(family(
            "tally_tsdb_series_created_total",
            "Series created.",
            MetricType::Counter,
            one(counter(load(&c.series_created))),
        ));
        out.push(family(
            "tally_tsdb_corrupt_rollup_blocks_total",
            "Stored rollup blocks that did not decode and were rewritten without their older buckets.",
            MetricType::Counter,
            one(counter(load(&c.corrupt_rollup_blocks))),
        ));
        out.push(family(
            "tally_tsdb_head_series",
            "Series held by the database.",
            MetricType::Gauge,
            one(MetricValue::Gauge(db.series_count() as f64)),
        ));
    }
}

/// Registers the database's metrics in `registry`.
pub fn register(registry: &Registry, db: &Arc<Db>) -> Result<(), tally::RegistryError> {
    registry.register_collector(TsdbCollector {
        db: Arc::downgrade(db),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_exposed_with_its_value() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = Db::open(tally_tsdb::Options::new(dir.path())).unwrap();
        let db = Arc::new(db);
        let registry = Registry::new();
        register(&registry, &db).unwrap();
        db.counters().series_created.store(3, Ordering::Relaxed);
        db.counters()
            .corrupt_rollup_blocks
            .store(2, Ordering::Relaxed);
        let text = registry.encode_text();
        for line in [
            "tally_tsdb_samples_appended_total 0",
            "tally_tsdb_samples_repeated_total 0",
            "tally_tsdb_samples_rejected_total{reason=\"out_of_order\"} 0",
            "tally_tsdb_series_created_total 3",
            "tally_tsdb_corrupt_rollup_blocks_total 2",
            "tally_tsdb_head_series 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
        }
        // Once the database is gone the collector adds nothing.
        drop(db);
        assert!(!registry.encode_text().contains("tally_tsdb_"));
    }
}
