//! A runner for Prometheus' PromQL test scripts (the `.test` files of
//! `promql/promqltest/testdata`), as described in `../shared/promql-tests/FORMAT.md`.
//!
//! A script loads series into an empty [`MemStorage`](tally_storage::MemStorage) and
//! evaluates expressions against expected results. Like Prometheus' runner, every
//! instant eval is also checked with `@` pinned to its time and evaluated at other times
//! (unless it calls a time-dependent function), and as a range query around its time.
//! Native histogram samples (`{{...}}`) are parsed and skipped, `load_with_nhcb` loads
//! only the float series (no native histograms are made from the buckets), and
//! start-timestamp lines (`@st`) are skipped.
//!
//! # Layout
//!
//! - `promqltest/series.rs`: series notation and durations.
//! - `promqltest/script.rs`: commands and expectations.
//! - `promqltest/compare.rs`: result comparison with Prometheus' float tolerance.
//! - `promqltest/run.rs`: running the commands.
//! - [`ExpectedFailures`]: the checked-in list of evals known to fail, with reasons.
//!
//! # Example
//!
//! ```
//! use tally_promql::promqltest::Runner;
//!
//! let script = "load 1m\n  up{job=\"a\"} 1 0 1\n\neval instant at 2m sum(up)\n  {} 1\n";
//! let report = Runner::new().run("example.test", script)?;
//! assert_eq!((report.passed(), report.failed()), (1, 0));
//! # Ok::<(), tally_promql::promqltest::ScriptError>(())
//! ```

mod compare;
mod run;
mod script;
mod series;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::engine::{Engine, EngineConfig};

/// A script that cannot be read as the test language.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ScriptError {
    /// The 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The outcome of one `eval` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalOutcome {
    /// The 1-based line of the `eval` header.
    pub line: usize,
    /// The header as written.
    pub header: String,
    /// The expression.
    pub expr: String,
    /// Why it failed, with expected and actual results; `None` if it passed.
    pub failure: Option<String>,
}

/// The outcomes of one script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptReport {
    /// The script's name (its file name).
    pub name: String,
    /// One outcome per eval, in order.
    pub evals: Vec<EvalOutcome>,
}

impl ScriptReport {
    /// Evals that passed.
    pub fn passed(&self) -> usize {
        self.evals.iter().filter(|e| e.failure.is_none()).count()
    }

    /// Evals that failed.
    pub fn failed(&self) -> usize {
        self.evals.len() - self.passed()
    }
}

/// Runs scripts with an engine configured as Prometheus' test engine: 5 m lookback,
/// 1 m default subquery step, at most 10000 samples per query, 100 s timeout, delayed
/// `__name__` removal.
#[derive(Debug, Clone)]
pub struct Runner {
    engine: Engine,
}

impl Default for Runner {
    fn default() -> Self {
        Self::new()
    }
}

impl Runner {
    /// A runner with the test engine's settings.
    pub fn new() -> Self {
        Self {
            engine: Engine::new(EngineConfig {
                lookback_delta: Duration::from_secs(300),
                max_samples: 10_000,
                timeout: Some(Duration::from_secs(100)),
                default_subquery_step: Duration::from_secs(60),
                delayed_name_removal: true,
            }),
        }
    }

    /// A runner with another engine configuration (the expectations of Prometheus'
    /// scripts assume [`Runner::new`]'s).
    pub fn with_config(config: EngineConfig) -> Self {
        Self {
            engine: Engine::new(config),
        }
    }

    /// Runs a script given as text.
    pub fn run(&self, name: &str, text: &str) -> Result<ScriptReport, ScriptError> {
        let cmds = script::parse_script(text)?;
        Ok(ScriptReport {
            name: name.to_owned(),
            evals: run::run_commands(&self.engine, &cmds),
        })
    }

    /// Runs the script in a file; the report is named after the file name.
    pub fn run_file(&self, path: &Path) -> Result<ScriptReport, ScriptError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScriptError {
            line: 0,
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        self.run(&name, &text)
    }
}

/// The samples of a series written in the load notation, for other test formats
/// (`promtool test rules`' `input_series`): `series` is the identifier
/// (`up{job="a"}`), `values` the values (`1+1x10 _ stale`), the n-th value at
/// `n * interval_ms`. `_` leaves a gap, `stale` is a staleness marker; native histogram
/// values are an error.
///
/// ```
/// use tally_promql::promqltest::series_samples;
///
/// let (labels, samples) = series_samples("up{job=\"a\"}", "1+1x2 _ stale", 60_000)?;
/// assert_eq!(labels.get("job"), Some("a"));
/// assert_eq!(samples.len(), 4);
/// assert_eq!(samples[2].value, 3.0);
/// assert!(samples[3].is_stale() && samples[3].timestamp_ms == 240_000);
/// # Ok::<(), String>(())
/// ```
pub fn series_samples(
    series: &str,
    values: &str,
    interval_ms: i64,
) -> Result<(tally_model::Labels, Vec<tally_model::Sample>), String> {
    let (labels, items) = series::parse_series(&format!("{series} {values}"))?;
    let mut samples = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let t = i as i64 * interval_ms;
        match item {
            series::Item::Float(v) => samples.push(tally_model::Sample::new(t, v)),
            series::Item::Stale => samples.push(tally_model::Sample::stale(t)),
            series::Item::Missing => {}
            series::Item::Histogram => {
                return Err(format!(
                    "native histogram values are not supported in {values:?}"
                ))
            }
        }
    }
    Ok((labels, samples))
}

/// Parses a series identifier on its own (`metric{a="b"}`, `{a="b"}`), nothing after it.
pub fn parse_metric(text: &str) -> Result<tally_model::Labels, String> {
    let (labels, rest) = series::parse_identifier(text)?;
    if !rest.trim().is_empty() {
        return Err(format!("unexpected {:?} after the series", rest.trim()));
    }
    Ok(labels)
}

/// Parses a Prometheus duration (`0`, `90s`, `1h30m`, `10s53ms`) into milliseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    series::parse_duration(text)
}

/// One known failure: why the eval is allowed to fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedFailure {
    /// The expression, for readers of the list.
    pub expr: String,
    /// Why.
    pub reason: String,
}

/// The list of evals allowed to fail, keyed by script file name and eval line.
///
/// The file format: one entry per line, `FILE:LINE<TAB>REASON<TAB>EXPR`; blank lines
/// and lines starting with `#` are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedFailures {
    entries: BTreeMap<(String, usize), ExpectedFailure>,
}

/// The list checked in with this crate (`tests/expected-failures.txt`).
pub const BUILTIN_EXPECTED_FAILURES: &str = include_str!("../tests/expected-failures.txt");

impl ExpectedFailures {
    /// Parses a list.
    pub fn parse(text: &str) -> Result<Self, ScriptError> {
        let mut entries = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let err = |m: &str| ScriptError {
                line: i + 1,
                message: m.to_owned(),
            };
            let mut parts = line.splitn(3, '\t');
            let key = parts.next().unwrap_or("");
            let reason = parts.next().unwrap_or("").trim();
            let expr = parts.next().unwrap_or("").trim();
            let (file, eval_line) = key
                .rsplit_once(':')
                .ok_or_else(|| err("expected FILE:LINE"))?;
            let eval_line: usize = eval_line.parse().map_err(|_| err("bad line number"))?;
            if reason.is_empty() {
                return Err(err("every entry needs a reason"));
            }
            entries.insert(
                (file.to_owned(), eval_line),
                ExpectedFailure {
                    expr: expr.to_owned(),
                    reason: reason.to_owned(),
                },
            );
        }
        Ok(Self { entries })
    }

    /// The checked-in list.
    pub fn builtin() -> Self {
        Self::parse(BUILTIN_EXPECTED_FAILURES).unwrap_or_default()
    }

    /// The entry for an eval, if it is allowed to fail.
    pub fn get(&self, file: &str, line: usize) -> Option<&ExpectedFailure> {
        self.entries.get(&(file.to_owned(), line))
    }

    /// All entries for one script file, by line.
    pub fn for_file<'a>(
        &'a self,
        file: &'a str,
    ) -> impl Iterator<Item = (usize, &'a ExpectedFailure)> + 'a {
        self.entries
            .iter()
            .filter(move |((f, _), _)| f == file)
            .map(|((_, l), e)| (*l, e))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_failures_format() {
        let list = ExpectedFailures::parse(
            "# comment\nfoo.test:12\tparser: no first_over_time\tfirst_over_time(x[1m])\n",
        )
        .unwrap_or_default();
        assert_eq!(list.len(), 1);
        assert_eq!(
            list.get("foo.test", 12).map(|e| e.reason.as_str()),
            Some("parser: no first_over_time")
        );
        assert!(ExpectedFailures::parse("foo.test:1\t\tx").is_err());
    }

    #[test]
    fn runs_a_script() {
        let script = "load 1m\n  m{a=\"1\"} 0+1x10\n  m{a=\"2\"} 0+2x10\n\neval instant at 10m sum(m)\n  {} 30\n\neval instant at 10m m\n  m{a=\"1\"} 10\n\neval range from 0 to 2m step 1m m * 2\n  {a=\"1\"} 0 2 4\n  {a=\"2\"} 0 4 8\n";
        let r = Runner::new()
            .run("t", script)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.evals.len(), 3);
        assert!(r.evals[0].failure.is_none(), "{:?}", r.evals[0].failure);
        assert!(r.evals[1].failure.is_some());
        assert!(r.evals[2].failure.is_none(), "{:?}", r.evals[2].failure);
    }
}
