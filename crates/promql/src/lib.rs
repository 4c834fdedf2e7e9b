//! `tally-promql`: the PromQL engine. Expressions are parsed by the `promql-parser`
//! crate and evaluated here, over the [`tally_storage::Storage`] traits only, so the
//! engine runs the same against the TSDB and against [`tally_storage::MemStorage`].
//!
//! The target is current Prometheus (3.x) semantics on float samples, measured by
//! Prometheus' own PromQL test scripts ([`promqltest`]).
//!
//! # Layout
//!
//! - [`Engine`], [`EngineConfig`], [`Query`], [`QueryOptions`], [`CancelToken`]
//!   (`engine.rs`): running instant and range queries with their limits (samples in
//!   memory, timeout, cancellation).
//! - [`Value`] (`value.rs`): results as Prometheus' types: scalar, string, vector,
//!   matrix.
//! - [`QueryError`] (`error.rs`), [`Annotation`]s (`annotations.rs`): failures and the
//!   warnings/infos a successful query can carry, with Prometheus' wording.
//! - `plan.rs`: the parser's syntax tree turned into an evaluation plan (matchers
//!   compiled, strings unescaped, positions found in the text).
//! - `eval.rs` and `eval/`: the evaluator: selectors, lookback and staleness, `offset`
//!   and `@`, range vectors and subqueries, step-by-step machinery, delayed `__name__`
//!   removal.
//! - `functions.rs` and `functions/`, `aggregate.rs`, `binary.rs`: the operations.
//! - [`promqltest`]: a runner for Prometheus' `.test` script language.
//!
//! # Example
//!
//! ```
//! use tally_model::{Labels, Sample};
//! use tally_promql::{Engine, Value};
//! use tally_storage::{MemStorage, Storage};
//!
//! let db = MemStorage::new();
//! let mut app = db.appender();
//! for (instance, per_minute) in [("a", 60.0), ("b", 120.0)] {
//!     let labels = Labels::from_pairs([
//!         ("__name__", "requests_total"),
//!         ("instance", instance),
//!     ])?;
//!     for minute in 0..=10 {
//!         app.append(&labels, Sample::new(minute * 60_000, minute as f64 * per_minute))?;
//!     }
//! }
//! app.commit()?;
//!
//! let engine = Engine::default();
//! let result = engine.instant(&db, "sum(rate(requests_total[5m]))", 600_000)?;
//! let Value::Vector(v) = result.value else { unreachable!() };
//! assert_eq!(v.len(), 1);
//! assert!((v[0].value - 3.0).abs() < 1e-9); // 1 + 2 per second
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod aggregate;
mod annotations;
mod binary;
mod engine;
mod error;
mod eval;
mod functions;
mod numeric;
mod plan;
pub mod promqltest;
mod value;

pub use annotations::{Annotation, AnnotationKind, Annotations};
pub use engine::{
    parse_expr, parse_selector, CancelToken, Engine, EngineConfig, Query, QueryOptions, QueryResult,
};
pub use error::{Position, QueryError, Side};
pub use value::{format_float, Value, VectorSample};
