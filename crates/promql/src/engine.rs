//! [`Engine`]: runs instant and range queries over a [`Storage`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use promql_parser::parser::value::ValueType;
use tally_model::Sample;
use tally_storage::{Series, Storage};

use crate::annotations::Annotations;
use crate::error::QueryError;
use crate::eval::{Context, Evaluator, Mat, Val};
use crate::plan::{plan, Node, MAX_TIME_MS};
use crate::value::{Value, VectorSample};

/// How an [`Engine`] evaluates queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// How far back an instant selector looks for a sample (Prometheus: 5 minutes).
    pub lookback_delta: Duration,
    /// The most samples a query may hold in memory at once; past it, the query fails
    /// with [`QueryError::TooManySamples`] (Prometheus' default: 50 million).
    pub max_samples: usize,
    /// How long a query may run (Prometheus' default: 2 minutes). `None`: no limit.
    pub timeout: Option<Duration>,
    /// The step of a subquery written without one (`[5m:]`).
    pub default_subquery_step: Duration,
    /// Remove `__name__` at the end of the query instead of at each operation that
    /// changes a metric's meaning (Prometheus' `promql-delayed-name-removal` feature,
    /// off by default there and here). Queries like `sum by (__name__) (rate(x[5m]))` or
    /// `label_replace(rate(x[5m]), "n", "$1", "__name__", "(.+)")` see the name.
    pub delayed_name_removal: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            lookback_delta: Duration::from_secs(300),
            max_samples: 50_000_000,
            timeout: Some(Duration::from_secs(120)),
            default_subquery_step: Duration::from_secs(60),
            delayed_name_removal: false,
        }
    }
}

/// A handle to cancel a running query from another thread. Cloning shares the flag.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not canceled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels every query holding a clone of this token; they fail with
    /// [`QueryError::Canceled`] at their next check.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_canceled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Per-query settings that override the engine's.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// Lookback delta for this query.
    pub lookback_delta: Option<Duration>,
    /// Cancels the query when triggered.
    pub cancel: Option<CancelToken>,
}

/// A parsed query, ready to run any number of times.
#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    node: Node,
}

/// Parses a series selector (an API's `match[]`, `tally tsdb dump --match`) into its
/// matcher sets: one per `or` alternative of the braces, each with the metric name's
/// matcher first. Anything but a bare selector (a function, `[5m]`, `offset`) is an error.
pub fn parse_selector(text: &str) -> Result<Vec<Vec<tally_storage::Matcher>>, QueryError> {
    let query = Query::parse(text)?;
    match query.node {
        crate::plan::Node::Selector(sel) if sel.offset_ms == 0 && sel.at.is_none() => {
            Ok(sel.alternatives)
        }
        _ => Err(QueryError::Parse {
            message: format!("{text:?} is not a series selector"),
            position: None,
        }),
    }
}

/// Parses `text` with the `promql-parser` crate, turning a panic inside it into an error.
/// It panics on some input (a range of `[1e30800]` overflows `Duration`); what a user
/// typed must never take a thread down. Every caller of that parser goes through here.
pub fn parse_expr(text: &str) -> Result<promql_parser::parser::Expr, String> {
    std::panic::catch_unwind(|| promql_parser::parser::parse(text)).unwrap_or_else(|_| {
        Err(
            "the expression could not be parsed (a number or duration in it is out of range)"
                .to_owned(),
        )
    })
}

/// Refuses an evaluation time past [`MAX_TIME_MS`] from the epoch (about 285,000 years),
/// so that no time computed from it can overflow.
fn check_time(what: &str, ms: i64) -> Result<(), QueryError> {
    if ms.checked_abs().is_some_and(|a| a <= MAX_TIME_MS) {
        Ok(())
    } else {
        Err(QueryError::InvalidRange(format!(
            "{what} {}s is out of range",
            ms / 1000
        )))
    }
}

impl Query {
    /// Parses `text` as a PromQL expression.
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        let expr = parse_expr(text).map_err(|message| QueryError::Parse {
            message,
            position: None,
        })?;
        Ok(Self {
            text: text.to_owned(),
            node: plan(text, &expr)?,
        })
    }

    /// The query text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The type the expression evaluates to, as Prometheus documents it: `scalar`,
    /// `string`, `instant vector` or `range vector`.
    pub fn value_type(&self) -> &'static str {
        match self.node.value_type() {
            ValueType::Scalar => "scalar",
            ValueType::String => "string",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
        }
    }

    /// Whether the expression calls any of the functions `names`.
    pub fn calls_any(&self, names: &[&str]) -> bool {
        self.node.calls_any(names)
    }

    /// The same query with `@ at_ms` added to every selector and subquery that has no
    /// `@` (not inside subqueries): the conformance runner checks, as Prometheus' does,
    /// that such a query gives the same result at other evaluation times.
    pub(crate) fn pinned_at(&self, at_ms: i64) -> Query {
        Query {
            text: self.text.clone(),
            node: self.node.pinned_at(at_ms),
        }
    }
}

/// What a query returned: the value and the annotations raised on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The result.
    pub value: Value,
    /// Warnings and infos.
    pub annotations: Annotations,
}

/// Evaluates PromQL over any [`Storage`]. Cheap to clone; holds only configuration, so
/// one engine serves any number of concurrent queries.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    config: EngineConfig,
}

impl Engine {
    /// An engine with the given configuration.
    pub fn new(config: EngineConfig) -> Self {
        Self { config }
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Parses and evaluates `query` at `time_ms`.
    pub fn instant(
        &self,
        storage: &dyn Storage,
        query: &str,
        time_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        self.exec_instant(
            storage,
            &Query::parse(query)?,
            time_ms,
            &QueryOptions::default(),
        )
    }

    /// Parses and evaluates `query` from `start_ms` to `end_ms` every `step_ms`.
    pub fn range(
        &self,
        storage: &dyn Storage,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        self.exec_range(
            storage,
            &Query::parse(query)?,
            start_ms,
            end_ms,
            step_ms,
            &QueryOptions::default(),
        )
    }

    /// Evaluates a parsed query at `time_ms`. The value has the expression's own type.
    pub fn exec_instant(
        &self,
        storage: &dyn Storage,
        query: &Query,
        time_ms: i64,
        opts: &QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        check_time("time", time_ms)?;
        let ctx = self.context(storage, query, time_ms, time_ms, false, opts);
        let mut ev = Evaluator::new(&ctx, time_ms, time_ms, 1);
        let val = ev.eval_root(&query.node)?;
        let value = match val {
            Val::Str(s) => Value::String {
                timestamp_ms: time_ms,
                value: s,
            },
            Val::Mat(m) => match query.node.value_type() {
                ValueType::Scalar => Value::Scalar {
                    timestamp_ms: time_ms,
                    value: m
                        .first()
                        .and_then(|s| s.points.first())
                        .map_or(f64::NAN, |p| p.v),
                },
                ValueType::Matrix => Value::Matrix(to_matrix(m)),
                _ => Value::Vector(
                    m.into_iter()
                        .filter_map(|s| {
                            s.points.first().map(|p| VectorSample {
                                labels: s.labels,
                                timestamp_ms: time_ms,
                                value: p.v,
                            })
                        })
                        .collect(),
                ),
            },
        };
        Ok(QueryResult {
            value,
            annotations: ev.annotations,
        })
    }

    /// Evaluates a parsed query over a range. The value is always a matrix sorted by
    /// label set; the expression must be a scalar or an instant vector.
    pub fn exec_range(
        &self,
        storage: &dyn Storage,
        query: &Query,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        opts: &QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        if step_ms <= 0 {
            return Err(QueryError::InvalidRange(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".to_owned(),
            ));
        }
        check_time("start", start_ms)?;
        check_time("end", end_ms)?;
        if end_ms < start_ms {
            return Err(QueryError::InvalidRange(
                "end timestamp must not be before start time".to_owned(),
            ));
        }
        let t = query.value_type();
        if t != "scalar" && t != "instant vector" {
            return Err(QueryError::InvalidRangeQueryType(t));
        }
        let ctx = self.context(storage, query, start_ms, end_ms, true, opts);
        let mut ev = Evaluator::new(&ctx, start_ms, end_ms, step_ms);
        let value = match ev.eval_root(&query.node)? {
            Val::Mat(m) => Value::Matrix(to_matrix(m)),
            Val::Str(s) => Value::String {
                timestamp_ms: start_ms,
                value: s,
            },
        };
        Ok(QueryResult {
            value,
            annotations: ev.annotations,
        })
    }

    fn context<'a>(
        &self,
        storage: &'a dyn Storage,
        query: &'a Query,
        start: i64,
        end: i64,
        range_query: bool,
        opts: &QueryOptions,
    ) -> Context<'a> {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Context {
            storage,
            text: &query.text,
            lookback_ms: ms(opts
                .lookback_delta
                .filter(|d| !d.is_zero())
                .unwrap_or(self.config.lookback_delta)),
            max_samples: self.config.max_samples,
            deadline: self.config.timeout.map(|t| Instant::now() + t),
            cancel: opts.cancel.clone(),
            query_start: start,
            query_end: end,
            range_query,
            subquery_step_ms: ms(self.config.default_subquery_step).max(1),
            delayed_name_removal: self.config.delayed_name_removal,
        }
    }
}

/// The result matrix: series sorted by label set.
fn to_matrix(m: Mat) -> Vec<Series> {
    let mut out: Vec<Series> = m
        .into_iter()
        .map(|s| Series {
            labels: s.labels,
            samples: s
                .points
                .into_iter()
                .map(|p| Sample::new(p.t, p.v))
                .collect(),
        })
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

#[cfg(test)]
mod tests;
