#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The database through the storage traits: append, query, checkpoint, restart, replay,
//! retention and rollups, each against an in-memory oracle where one applies.

mod crash;
mod rw;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use tally_model::{Labels, Sample};
use tally_storage::{Matcher, SelectHints, Series, Storage};
use tally_tsdb::{Db, Options};

/// A fake clock tests move by hand.
#[derive(Debug, Clone, Default)]
pub struct FakeClock(Arc<AtomicI64>);

impl FakeClock {
    pub fn at(ms: i64) -> Self {
        Self(Arc::new(AtomicI64::new(ms)))
    }
    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
    pub fn clock(&self) -> tally_tsdb::Clock {
        let c = self.0.clone();
        Arc::new(move || c.load(Ordering::SeqCst))
    }
}

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

pub fn options(dir: &std::path::Path, clock: &FakeClock) -> Options {
    let mut o = Options::new(dir);
    o.clock = clock.clock();
    o
}

pub fn open(o: &Options) -> Db {
    Db::open(o.clone()).unwrap().0
}

pub fn all(db: &dyn Storage, mint: i64, maxt: i64) -> Vec<Series> {
    db.querier(mint, maxt)
        .unwrap()
        .select(
            &[Matcher::not_equal("__name__", "")],
            &SelectHints::default(),
        )
        .unwrap()
}

pub fn write(db: &dyn Storage, samples: &[(&Labels, i64, f64)]) {
    let mut app = db.appender();
    for (l, t, v) in samples {
        app.append(l, Sample::new(*t, *v)).unwrap();
    }
    app.commit().unwrap();
}
