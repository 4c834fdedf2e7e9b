//! Recording rules at run time: the expression's result renamed and relabelled, to be
//! written back to storage.

use std::collections::{BTreeMap, BTreeSet};

use tally_model::{Labels, Sample};
use tally_promql::Query;

use super::rule::EvalEnv;
use super::EvalError;

/// A recording rule, compiled.
#[derive(Debug, Clone)]
pub(crate) struct RecordingRule {
    pub name: String,
    pub query: Result<Query, String>,
    /// Group labels with the rule's own set over them.
    pub labels: BTreeMap<String, String>,
}

impl RecordingRule {
    /// Evaluates the rule at `ts - query_offset` and returns the samples to write:
    /// `__name__` set to the record name, the rule's labels set (an empty value removes
    /// the label). Two results with the same labels after that, or more than `limit`
    /// (when not 0), is an error and nothing is written.
    pub fn eval(
        &self,
        env: &EvalEnv<'_>,
        ts: i64,
        query_offset_ms: i64,
        limit: usize,
    ) -> Result<Vec<(Labels, Sample)>, EvalError> {
        let result = env.run(&self.query, ts - query_offset_ms)?;
        let mut out = Vec::with_capacity(result.len());
        let mut seen = BTreeSet::new();
        for s in result {
            let mut labels = s.labels.with("__name__", &self.name)?;
            for (n, v) in &self.labels {
                labels = labels.with(n, v)?;
            }
            if !seen.insert(labels.clone()) {
                return Err(EvalError::DuplicateLabelset {
                    what: "rule labels",
                });
            }
            out.push((labels, Sample::new(s.timestamp_ms, s.value)));
        }
        if limit > 0 && out.len() > limit {
            return Err(EvalError::Limit {
                limit,
                count: out.len(),
                what: "series",
            });
        }
        Ok(out)
    }
}
