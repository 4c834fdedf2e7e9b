//! Go-template expansion for alert labels and annotations, as Prometheus does it.
//!
//! (Placeholder: `expand` returns the text unchanged until the real engine lands. The
//! signatures are the contract the evaluator uses.)

use tally_model::Labels;
use tally_promql::VectorSample;

/// Runs a PromQL query for the `query` template function.
pub type QueryFn<'a> = &'a dyn Fn(&str) -> Result<Vec<VectorSample>, String>;

/// What a rule template sees: `$labels`, `$value`, `$externalLabels`, `$externalURL`.
#[derive(Clone, Copy)]
pub struct TemplateData<'a> {
    /// `$labels` / `.Labels`: the alert's labels (without `__name__`).
    pub labels: &'a Labels,
    /// `$value` / `.Value`: the sample value.
    pub value: f64,
    /// `$externalLabels`.
    pub external_labels: &'a Labels,
    /// `$externalURL`.
    pub external_url: &'a str,
    /// Evaluation time in milliseconds (the time `query` runs at).
    pub time_ms: i64,
    /// Runs queries for the `query` function; `None` makes `query` an error.
    pub query: Option<QueryFn<'a>>,
}

impl std::fmt::Debug for TemplateData<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateData")
            .field("labels", self.labels)
            .field("value", &self.value)
            .finish_non_exhaustive()
    }
}

/// A template that failed to parse or to run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("template {name}: {message}")]
pub struct TemplateError {
    /// The template's name (e.g. `__alert_HighLatency` or the annotation key).
    pub name: String,
    /// What went wrong, with the position in the template where known.
    pub message: String,
}

/// Expands `text` with `data`.
pub fn expand(_name: &str, text: &str, _data: &TemplateData<'_>) -> Result<String, TemplateError> {
    Ok(text.to_owned())
}

/// Parses `text` without running it (what `rules check` does).
pub fn check(_name: &str, _text: &str) -> Result<(), TemplateError> {
    Ok(())
}
