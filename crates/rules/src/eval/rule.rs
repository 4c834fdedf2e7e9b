//! What every rule shares at run time: its health and last evaluation, and the
//! environment an evaluation runs in (storage, engine, external labels).

use std::time::Duration;

use tally_model::Labels;
use tally_promql::{Engine, Query, QueryOptions, Value, VectorSample};
use tally_storage::Storage;

use super::EvalError;

/// A rule's health, as `/api/v1/rules` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleHealth {
    /// Not evaluated yet.
    #[default]
    Unknown,
    /// The last evaluation succeeded.
    Ok,
    /// The last evaluation failed; see [`RuleStatus::last_error`].
    Err,
}

impl RuleHealth {
    /// `unknown`, `ok` or `err`, as Prometheus spells them.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleHealth::Unknown => "unknown",
            RuleHealth::Ok => "ok",
            RuleHealth::Err => "err",
        }
    }
}

/// How a rule's last evaluation went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleStatus {
    /// Health after the last evaluation.
    pub health: RuleHealth,
    /// The last evaluation's error, if it failed.
    pub last_error: Option<String>,
    /// When the last evaluation started (clock time, ms); `None` before the first.
    pub last_evaluation_ms: Option<i64>,
    /// How long the last evaluation took (wall time, measured).
    pub evaluation_duration: Duration,
}

impl RuleStatus {
    /// Records a failure.
    pub(crate) fn fail(&mut self, e: &EvalError) {
        self.health = RuleHealth::Err;
        self.last_error = Some(e.to_string());
    }

    /// Records a success.
    pub(crate) fn succeed(&mut self) {
        self.health = RuleHealth::Ok;
        self.last_error = None;
    }
}

/// Everything an evaluation reads besides the rule itself. Borrowed for one group
/// evaluation.
#[derive(Clone, Copy)]
pub(crate) struct EvalEnv<'a> {
    pub storage: &'a dyn Storage,
    pub engine: &'a Engine,
    pub external_labels: &'a Labels,
    pub external_url: &'a str,
}

impl std::fmt::Debug for EvalEnv<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalEnv")
            .field("external_labels", self.external_labels)
            .field("external_url", &self.external_url)
            .finish_non_exhaustive()
    }
}

impl EvalEnv<'_> {
    /// Runs a rule's compiled expression at `time_ms`; a rule whose expression did not
    /// parse fails with that parse error.
    pub fn run(
        &self,
        query: &Result<Query, String>,
        time_ms: i64,
    ) -> Result<Vec<VectorSample>, EvalError> {
        let query = query.as_ref().map_err(|e| EvalError::Parse(e.clone()))?;
        self.query(query, time_ms)
    }

    /// Runs `query` at `time_ms` as a rule does: a vector as it is, a scalar as one
    /// sample without labels, anything else an error.
    pub fn query(&self, query: &Query, time_ms: i64) -> Result<Vec<VectorSample>, EvalError> {
        let result =
            self.engine
                .exec_instant(self.storage, query, time_ms, &QueryOptions::default())?;
        match result.value {
            Value::Vector(v) => Ok(v),
            Value::Scalar {
                timestamp_ms,
                value,
            } => Ok(vec![VectorSample {
                labels: Labels::new(),
                timestamp_ms,
                value,
            }]),
            _ => Err(EvalError::NotAVector),
        }
    }

    /// Parses and runs `text` at `time_ms`, for the templates' `query` function.
    pub fn query_text(&self, text: &str, time_ms: i64) -> Result<Vec<VectorSample>, String> {
        let query = Query::parse(text).map_err(|e| e.to_string())?;
        self.query(&query, time_ms).map_err(|e| e.to_string())
    }
}
