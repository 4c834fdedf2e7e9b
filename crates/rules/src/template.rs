//! Go-template expansion for alert labels and annotations, as Prometheus does it.
//!
//! The text is a Go `text/template` (run by the `gotmpl` crate) with Prometheus'
//! definitions in front of it, so `$labels`, `$value`, `$externalLabels` and
//! `$externalURL` work, as do `.Labels`, `.Value`, `.ExternalLabels`, `.ExternalURL`.
//! Missing map keys give nothing (`missingkey=zero`): `{{ $labels.nope }}` is empty.
//!
//! - `template/funcs.rs`: Prometheus' functions (`humanize`, `query`, `first`, ...).
//! - `template/humanize.rs`: the number formatting functions.
//! - `template/text.rs`: the string functions (`title`, `stripPort`, links, ...).
//! - `template/goformat.rs`: Go's text forms of floats, times and durations.
//! - `template/tree.rs`: what Go checks at parse time and `gotmpl` does not
//!   (undefined functions and variables), and printing values the way Go does.
//! - `template/printf.rs`: `printf` writing infinities as Go does (`+Inf`).
//! - `template/compare.rs`: Go's `lt`/`le`/`gt`/`ge`, false on NaN as in Go.
//! - `template/lenient.rs`: a trailing `|` in an action, which Go accepts.
//! - `template/balance.rs`: the nesting of `{{if}}`...`{{end}}`, which `gotmpl` does
//!   not fully check either.
//!
//! Differences from Prometheus: `toTime` returns the time's text, not a Go
//! `time.Time` (no `.Format`); a query result is a list of `{Labels, Value}` maps, so
//! it prints as `map[...]`, not as Go's `&{...}`.

mod balance;
mod compare;
mod funcs;
mod goformat;
mod humanize;
mod lenient;
mod printf;
mod text;
mod tree;

use std::collections::BTreeMap;
use std::sync::{mpsc, Arc};

use gotmpl::{MissingKey, Template, Value};
use tally_model::Labels;
use tally_promql::VectorSample;

use funcs::{FuncContext, QueryRequest};

/// Runs a PromQL query for the `query` template function.
pub type QueryFn<'a> = &'a dyn Fn(&str) -> Result<Vec<VectorSample>, String>;

/// What a rule template sees: `$labels`, `$value`, `$externalLabels`, `$externalURL`.
#[derive(Clone, Copy)]
pub struct TemplateData<'a> {
    /// `$labels` / `.Labels`: the result sample's labels as the expression produced
    /// them (`__name__` included when the expression keeps it, as in Prometheus;
    /// not the rule's own labels).
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

/// Prometheus' definitions, put in front of every template. No newline, so lines in
/// messages are the template's own.
const PRELUDE: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}\
{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// The most `{{range}}` iterations one expansion may run: an alert template that
/// loops more is an error rather than a stalled rule evaluation. (Prometheus has no
/// limit; a million is far beyond any useful annotation.)
pub const MAX_RANGE_ITERATIONS: u64 = 1_000_000;

/// Expands `text` with `data`. Never panics; a failing function (`first` of an
/// empty result, a bad regular expression, a failed query) is an error.
pub fn expand(name: &str, text: &str, data: &TemplateData<'_>) -> Result<String, TemplateError> {
    let parsed = parse(name, text)?;
    let uses_query = parsed
        .templates()
        .iter()
        .filter_map(|t| parsed.lookup(t))
        .any(|list| tree::calls(list, "query"));
    let dot = data_value(data);
    let error = |message: String| TemplateError {
        name: name.to_owned(),
        message,
    };
    match data.query {
        Some(query) if uses_query => {
            let (requests, incoming) = mpsc::channel::<QueryRequest>();
            let runnable = runnable(name, &parsed, data, Some(requests));
            std::thread::scope(|scope| {
                // The template runs on its own thread; this one answers its queries
                // until the template (holding the only sender) is done.
                let worker = scope.spawn(move || runnable.execute_template_to_string(name, &dot));
                for request in incoming {
                    let _ = request.reply.send(query(&request.query));
                }
                match worker.join() {
                    Ok(result) => result.map_err(|e| error(e.to_string())),
                    Err(_) => Err(error("template execution panicked".to_owned())),
                }
            })
        }
        _ => runnable(name, &parsed, data, None)
            .execute_template_to_string(name, &dot)
            .map_err(|e| error(e.to_string())),
    }
}

/// Parses `text` without running it (what `rules check` does): syntax, and every
/// function and variable defined, as Go's parser checks.
pub fn check(name: &str, text: &str) -> Result<(), TemplateError> {
    parse(name, text).map(|_| ())
}

/// Parses the prelude and `text`, then checks names in every template defined.
fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
    let error = |message: String| TemplateError {
        name: name.to_owned(),
        message,
    };
    let full = format!("{PRELUDE}{}", lenient::blank_trailing_pipes(text));
    let parsed = Template::new(name).parse(&full).map_err(|e| match e {
        gotmpl::TemplateError::Parse {
            line, col, message, ..
        }
        | gotmpl::TemplateError::Lex {
            line, col, message, ..
        } => {
            // Columns on the first line count the prelude; take it off.
            let col = if line == 1 {
                col.saturating_sub(PRELUDE.chars().count())
            } else {
                col
            };
            error(format!("{line}:{col}: {message}"))
        }
        other => error(other.to_string()),
    })?;
    if let Some(problem) = balance::check_balance(text) {
        return Err(error(format!("{}: {}", problem.line, problem.message)));
    }
    for template in parsed.templates() {
        if let Some(list) = parsed.lookup(template) {
            if let Some(undefined) = tree::check_names(list, &funcs::is_defined) {
                return Err(error(format!("{}: {}", undefined.line, undefined.message)));
            }
        }
    }
    Ok(parsed)
}

/// A template ready to run: every definition of `parsed`, with printing actions
/// rewritten to print as Go does, and the functions for this expansion.
fn runnable(
    name: &str,
    parsed: &Template,
    data: &TemplateData<'_>,
    queries: Option<mpsc::Sender<QueryRequest>>,
) -> Template {
    let functions = funcs::functions(FuncContext {
        external_url: data.external_url.to_owned(),
        time_ms: data.time_ms,
        queries,
    });
    let mut runnable = Template::new(name)
        .funcs(functions)
        .missing_key(MissingKey::ZeroValue)
        .max_range_iters(MAX_RANGE_ITERATIONS);
    for template in parsed.templates() {
        if let Some(list) = parsed.lookup(template) {
            let mut list = list.clone();
            tree::wrap_prints(&mut list);
            runnable = runnable.add_parse_tree(template, list);
        }
    }
    runnable
}

/// The dot of a template: `{Labels, ExternalLabels, ExternalURL, Value}`.
fn data_value(data: &TemplateData<'_>) -> Value {
    let map = |labels: &Labels| {
        let entries: BTreeMap<Arc<str>, Value> = labels
            .iter()
            .map(|(k, v)| (Arc::from(k), Value::from(v)))
            .collect();
        Value::Map(Arc::new(entries))
    };
    let entries: BTreeMap<Arc<str>, Value> = [
        (Arc::from("Labels"), map(data.labels)),
        (Arc::from("ExternalLabels"), map(data.external_labels)),
        (Arc::from("ExternalURL"), Value::from(data.external_url)),
        (Arc::from("Value"), Value::Float(data.value)),
    ]
    .into_iter()
    .collect();
    Value::Map(Arc::new(entries))
}

#[cfg(test)]
mod tests;
