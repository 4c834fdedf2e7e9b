//! The evaluator: walks a [`plan`](crate::plan) over the steps of a query.
//!
//! Like Prometheus, every expression is evaluated over all steps at once: a node
//! returns a [`Mat`], one series per output label set with a point at each step it has a
//! value for. An instant query is a range query with one step. Scalars are a single
//! series without labels with a point at every step.
//!
//! # Layout
//!
//! - `eval/selector.rs`: instant and range selectors, `offset` and `@`.
//! - `eval/range.rs`: functions over range vectors (windows per step) and subqueries.
//! - `eval/step.rs`: per-step gathering and assembling for operations that are not
//!   series-wise.
//! - [`crate::functions`], [`crate::aggregate`], [`crate::binary`]: the operations.
//!
//! `__name__` is removed late, as Prometheus 3 does with delayed name removal: an
//! operation that would drop it sets [`Series::drop_name`], and the label goes at the
//! end of the query (or where a subquery materialises its result).

pub(crate) mod range;
pub(crate) mod selector;
pub(crate) mod step;

use std::collections::HashMap;
use std::time::Instant;

use promql_parser::parser::value::ValueType;
use tally_model::Labels;
use tally_storage::Storage;

use crate::annotations::{Annotation, AnnotationKind, Annotations};
use crate::engine::CancelToken;
use crate::error::{Position, QueryError};
use crate::plan::{At, Node};

/// Where the sample limit and cancellation are reported, as Prometheus names it.
pub(crate) const ENV: &str = "query execution";
/// Where timeouts during evaluation are reported.
pub(crate) const EVAL_ENV: &str = "expression evaluation";

/// One value of a series at a step (or at a raw sample time in a range vector).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub t: i64,
    pub v: f64,
}

/// A series during evaluation.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub labels: Labels,
    pub points: Vec<Point>,
    /// `__name__` (and `__type__`, `__unit__`) go at the end of the query.
    pub drop_name: bool,
}

/// An evaluated expression: series with points on the step grid.
pub(crate) type Mat = Vec<Series>;

/// The value of a node.
#[derive(Debug)]
pub(crate) enum Val {
    Mat(Mat),
    Str(String),
}

/// What stays fixed for a whole query.
pub(crate) struct Context<'a> {
    pub storage: &'a dyn Storage,
    pub text: &'a str,
    pub lookback_ms: i64,
    pub max_samples: usize,
    pub deadline: Option<Instant>,
    pub cancel: Option<CancelToken>,
    pub query_start: i64,
    pub query_end: i64,
    pub range_query: bool,
    pub subquery_step_ms: i64,
    /// Keep `__name__` until the end of the query (Prometheus' feature flag
    /// `promql-delayed-name-removal`) instead of dropping it where an operation
    /// changes the metric's meaning.
    pub delayed_name_removal: bool,
}

/// Evaluates plan nodes over `[start, end]` in steps of `interval` (ms). Subqueries
/// change the three for the time they evaluate their inner expression.
pub(crate) struct Evaluator<'a> {
    pub ctx: &'a Context<'a>,
    pub start: i64,
    pub end: i64,
    pub interval: i64,
    /// Samples held in memory, the quantity Prometheus' limit is about.
    pub samples: usize,
    pub annotations: Annotations,
}

/// Labels that go with `__name__` when a result stops being "the same metric".
pub(crate) const METADATA_LABELS: [&str; 3] = ["__name__", "__type__", "__unit__"];

/// `labels` without `__name__`, `__type__` and `__unit__`.
pub(crate) fn drop_metric_name(labels: &Labels) -> Labels {
    if labels.iter().any(|(n, _)| METADATA_LABELS.contains(&n)) {
        labels.without(&METADATA_LABELS)
    } else {
        labels.clone()
    }
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(ctx: &'a Context<'a>, start: i64, end: i64, interval: i64) -> Self {
        Self {
            ctx,
            start,
            end,
            interval: interval.max(1),
            samples: 0,
            annotations: Annotations::default(),
        }
    }

    /// Number of steps.
    pub(crate) fn num_steps(&self) -> usize {
        if self.end < self.start {
            return 0;
        }
        usize::try_from((self.end - self.start) / self.interval + 1).unwrap_or(0)
    }

    /// The step timestamps.
    pub(crate) fn steps(&self) -> impl Iterator<Item = i64> {
        let (start, interval) = (self.start, self.interval);
        (0..self.num_steps()).map(move |i| start + i as i64 * interval)
    }

    /// The index of step `t`.
    pub(crate) fn step_index(&self, t: i64) -> usize {
        usize::try_from((t - self.start) / self.interval).unwrap_or(0)
    }

    /// Whether this is a single step (an instant evaluation).
    pub(crate) fn is_instant(&self) -> bool {
        self.start == self.end
    }

    /// Fails when the query was canceled or ran out of time.
    pub(crate) fn check_time(&self) -> Result<(), QueryError> {
        if let Some(c) = &self.ctx.cancel {
            if c.is_canceled() {
                return Err(QueryError::Canceled(EVAL_ENV));
            }
        }
        if let Some(d) = self.ctx.deadline {
            if Instant::now() >= d {
                return Err(QueryError::Timeout(EVAL_ENV));
            }
        }
        Ok(())
    }

    /// Counts `n` more samples in memory; fails past the limit.
    pub(crate) fn charge(&mut self, n: usize) -> Result<(), QueryError> {
        self.samples += n;
        self.check_samples(0)
    }

    /// Fails if `extra` samples on top of those held would pass the limit.
    pub(crate) fn check_samples(&self, extra: usize) -> Result<(), QueryError> {
        if self.samples + extra > self.ctx.max_samples {
            return Err(QueryError::TooManySamples(ENV));
        }
        Ok(())
    }

    /// Resolves an `@` modifier to milliseconds.
    pub(crate) fn at_time(&self, at: At) -> i64 {
        match at {
            At::Time(t) => t,
            At::Start => self.ctx.query_start,
            At::End => self.ctx.query_end,
        }
    }

    /// Raises an annotation about the expression starting at byte `offset` of the query.
    pub(crate) fn annotate(&mut self, kind: AnnotationKind, message: String, offset: usize) {
        self.annotations.add(Annotation {
            kind,
            message,
            position: Some(Position::at_offset(self.ctx.text, offset)),
        });
    }

    /// Fails if one point per step would pass the sample limit: guards allocations
    /// sized by the number of steps.
    pub(crate) fn check_steps(&self) -> Result<(), QueryError> {
        self.check_samples(self.num_steps())
    }

    /// A scalar as a series: no labels, `v` at every step.
    pub(crate) fn constant(&self, v: f64) -> Result<Mat, QueryError> {
        self.check_steps()?;
        Ok(vec![Series {
            labels: Labels::new(),
            points: self.steps().map(|t| Point { t, v }).collect(),
            drop_name: false,
        }])
    }

    /// The value of a scalar expression at every step (NaN where it has none).
    pub(crate) fn scalar_steps(&self, mat: &Mat) -> Vec<f64> {
        let mut out = vec![f64::NAN; self.num_steps()];
        if let Some(s) = mat.first() {
            for p in &s.points {
                if let Some(slot) = out.get_mut(self.step_index(p.t)) {
                    *slot = p.v;
                }
            }
        }
        out
    }

    /// Evaluates a node that must not be a string.
    pub(crate) fn eval_mat(&mut self, node: &Node) -> Result<Mat, QueryError> {
        match self.eval(node)? {
            Val::Mat(m) => Ok(m),
            Val::Str(_) => Err(QueryError::Unsupported(
                "a string is not allowed here".to_owned(),
            )),
        }
    }

    /// Evaluates a scalar-typed node into its value per step.
    pub(crate) fn eval_scalar(&mut self, node: &Node) -> Result<Vec<f64>, QueryError> {
        let m = self.eval_mat(node)?;
        Ok(self.scalar_steps(&m))
    }

    /// Evaluates any node.
    pub(crate) fn eval(&mut self, node: &Node) -> Result<Val, QueryError> {
        self.check_time()?;
        if self.end < self.start {
            return Ok(Val::Mat(Vec::new()));
        }
        let before = self.samples;
        let out = match node {
            Node::Number(v) => self.constant(*v)?,
            Node::String(s) => return Ok(Val::Str(s.text())),
            Node::Selector(sel) => self.eval_selector(sel)?,
            Node::Matrix { sel, range_ms } => {
                if !self.is_instant() {
                    return Err(QueryError::Unsupported(
                        "cannot do range evaluation of matrix selector".to_owned(),
                    ));
                }
                self.eval_matrix_selector(sel, *range_ms)?
            }
            Node::Subquery {
                expr,
                range_ms,
                step_ms,
                offset_ms,
                at,
            } => self.eval_subquery(expr, *range_ms, *step_ms, *offset_ms, *at)?,
            Node::Neg(e) => {
                let mut m = self.eval_mat(e)?;
                for s in &mut m {
                    s.drop_name = true;
                    for p in &mut s.points {
                        p.v = -p.v;
                    }
                }
                m
            }
            Node::Binary {
                op,
                lhs,
                rhs,
                matching,
                return_bool,
            } => self.eval_binary(*op, lhs, rhs, matching, *return_bool)?,
            Node::Aggregate {
                op,
                expr,
                param,
                grouping,
                param_pos,
            } => self.eval_aggregate(*op, expr, param.as_deref(), grouping, *param_pos)?,
            Node::Call {
                func,
                args,
                pos,
                arg_pos,
                ..
            } => self.eval_call(func, args, *pos, arg_pos)?,
        };
        let out = if self.ctx.delayed_name_removal {
            out
        } else {
            drop_names_now(node, out)?
        };
        self.samples = before;
        self.charge(out.iter().map(|s| s.points.len()).sum())?;
        Ok(Val::Mat(out))
    }

    /// Evaluates the whole query and applies delayed name removal.
    pub(crate) fn eval_root(&mut self, node: &Node) -> Result<Val, QueryError> {
        let val = self.eval(node)?;
        let Val::Mat(mat) = val else { return Ok(val) };
        let mat = finish_names(mat)?;
        if node.value_type() == ValueType::Vector && self.is_instant() {
            let mut seen = std::collections::HashSet::new();
            for s in &mat {
                if !seen.insert(&s.labels) {
                    return Err(QueryError::DuplicateLabelset);
                }
            }
        }
        Ok(Val::Mat(mat))
    }
}

/// Without delayed name removal: drops `__name__` right away where an operation marked
/// it, then, as Prometheus does at that point, fails if a function over a range vector
/// now has two series with the same labels, and otherwise merges such series (failing
/// if they have a point at the same time).
fn drop_names_now(node: &Node, mat: Mat) -> Result<Mat, QueryError> {
    if !mat.iter().any(|s| s.drop_name) {
        return Ok(mat);
    }
    let range_function = matches!(node, Node::Call { args, .. }
        if args.iter().any(|a| a.value_type() == ValueType::Matrix));
    let mat: Mat = mat
        .into_iter()
        .map(|mut s| {
            if s.drop_name {
                s.labels = drop_metric_name(&s.labels);
                s.drop_name = false;
            }
            s
        })
        .collect();
    if range_function {
        let mut seen = std::collections::HashSet::new();
        if !mat.iter().all(|s| seen.insert(&s.labels)) {
            return Err(QueryError::DuplicateLabelset);
        }
        return Ok(mat);
    }
    merge_same_labels(mat)
}

/// Drops `__name__` from series marked for it and merges series that end up with the
/// same labels, failing if they overlap in time.
pub(crate) fn finish_names(mat: Mat) -> Result<Mat, QueryError> {
    let mat: Mat = mat
        .into_iter()
        .map(|mut s| {
            if s.drop_name {
                s.labels = drop_metric_name(&s.labels);
                s.drop_name = false;
            }
            s
        })
        .collect();
    merge_same_labels(mat)
}

/// Merges series with equal labels whose points do not collide; fails if two of them
/// have a point at the same time. Order of first appearance is kept.
pub(crate) fn merge_same_labels(mat: Mat) -> Result<Mat, QueryError> {
    if mat.len() < 2 {
        return Ok(mat);
    }
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(mat.len());
    let mut out: Mat = Vec::with_capacity(mat.len());
    let mut merged = false;
    for s in mat {
        match index.get(&s.labels) {
            Some(&i) => {
                out[i].points.extend(s.points);
                merged = true;
            }
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    if merged {
        for s in &mut out {
            s.points.sort_by_key(|p| p.t);
            if s.points.windows(2).any(|w| w[0].t == w[1].t) {
                return Err(QueryError::DuplicateLabelset);
            }
        }
    }
    Ok(out)
}

/// Helpers for the evaluator's unit tests: a store from literal series and a query.
#[cfg(test)]
pub(crate) mod test_support {
    use tally_model::{Labels, Sample};
    use tally_storage::{MemStorage, Storage};

    use crate::engine::{Engine, EngineConfig};
    use crate::error::QueryError;
    use crate::value::Value;

    /// A literal series: label pairs and `(timestamp, value)` samples.
    pub(crate) type LiteralSeries<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

    /// A store holding the given series.
    pub(crate) fn store(series: &[LiteralSeries<'_>]) -> MemStorage {
        let db = MemStorage::new();
        let mut app = db.appender();
        for (labels, samples) in series {
            let labels = Labels::from_pairs(labels.iter().copied()).unwrap();
            for &(t, v) in *samples {
                app.append(&labels, Sample::new(t, v)).unwrap();
            }
        }
        app.commit().unwrap();
        db
    }

    /// Runs `q` at `t` with delayed name removal (the conformance engine's setting).
    pub(crate) fn instant(db: &MemStorage, q: &str, t: i64) -> Result<Value, QueryError> {
        let engine = Engine::new(EngineConfig {
            delayed_name_removal: true,
            ..EngineConfig::default()
        });
        engine.instant(db, q, t).map(|r| r.value)
    }

    /// The values of an instant vector result, in result order.
    pub(crate) fn values(v: &Value) -> Vec<f64> {
        match v {
            Value::Vector(v) => v.iter().map(|s| s.value).collect(),
            Value::Scalar { value, .. } => vec![*value],
            other => panic!("not a vector: {other:?}"),
        }
    }
}
