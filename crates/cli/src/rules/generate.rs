//! `tally rules generate`: a ready-made rule file for the functions measured with
//! `#[tally::measured]` (or any autometrics library).
//!
//! The functions are the `(function, module)` pairs seen in `function_calls_total` and
//! `function_calls_duration_seconds` of an exposition: a server's `/metrics` (tally's
//! aggregated view, or an application's own endpoint) or a file. The output is one
//! group, printed as Prometheus rule-file YAML:
//!
//! - three recording rules over all functions at once: calls per second, error ratio
//!   and p95 latency over the window, each by `function` and `module`;
//! - per function, an alert on the error ratio (when its calls counter was seen) and one
//!   on the p95 latency (when its duration histogram was seen), reading the recorded
//!   series. Rules in a group run in order at the same timestamp, so the alerts see the
//!   values recorded just before them.
//!
//! Each alert carries the function's labels as rule labels too, so no two rules are
//! duplicates in `promtool check rules`' sense, and an operator can tune one function's
//! threshold in the printed file without touching the others.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Args;
use tally_model::expfmt::{self, Format};

use crate::check_metrics::Outcome;
use crate::functions::{self, Totals};

/// `tally rules generate ...`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The server (or application) whose `/metrics` lists the functions.
    #[arg(long, default_value = "http://127.0.0.1:9091", conflicts_with = "file")]
    url: String,
    /// Read the exposition (text format) from this file instead of a server.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Alert when a function's error ratio over the window is above this (0 to 1).
    #[arg(long, default_value_t = 0.05, value_name = "RATIO")]
    error_ratio: f64,
    /// Alert when a function's p95 latency over the window is above this many seconds.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    p95_seconds: f64,
    /// The window rates and quantiles are computed over (Prometheus duration).
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    window: String,
    /// How long a threshold must be crossed before the alert fires (`for:`).
    #[arg(long = "for", default_value = "5m", value_name = "DURATION")]
    for_duration: String,
    /// The `severity` label of the alerts.
    #[arg(long, default_value = "warning")]
    severity: String,
    /// The name of the rule group printed.
    #[arg(long, default_value = "tally-functions")]
    group: String,
}

/// What the generated rules are made of.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Error ratio above which the error alert fires.
    pub error_ratio: f64,
    /// p95 latency in seconds above which the latency alert fires.
    pub p95_seconds: f64,
    /// Rate and quantile window.
    pub window: String,
    /// `for:` of the alerts.
    pub for_duration: String,
    /// `severity` label.
    pub severity: String,
    /// Group name.
    pub group: String,
}

/// Prints the rule file.
pub fn run(args: &GenerateArgs, out: &mut impl Write) -> anyhow::Result<Outcome> {
    let thresholds = Thresholds {
        error_ratio: args.error_ratio,
        p95_seconds: args.p95_seconds,
        window: args.window.clone(),
        for_duration: args.for_duration.clone(),
        severity: args.severity.clone(),
        group: args.group.clone(),
    };
    thresholds.validate()?;
    let (source, families) = match &args.file {
        Some(path) => {
            let body =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let families = expfmt::parse(&body, Format::Text).map_err(|e| {
                anyhow::anyhow!("{} is not a valid exposition: {e}", path.display())
            })?;
            (path.display().to_string(), families)
        }
        None => {
            let url = functions::metrics_url(&args.url);
            let agent = ureq::Agent::config_builder()
                .timeout_global(Some(functions::FETCH_TIMEOUT))
                .http_status_as_error(false)
                .build()
                .new_agent();
            let families = functions::fetch_families(&agent, &url)?;
            (url, families)
        }
    };
    let totals = functions::totals(&families);
    if totals.is_empty() {
        bail!(
            "{source} has no {} or {} series: no functions to write rules for",
            functions::CALLS,
            functions::DURATION
        );
    }
    out.write_all(render(&thresholds, &source, &totals).as_bytes())?;
    Ok(Outcome::Parsed { problems: 0 })
}

impl Thresholds {
    /// Refuses thresholds that would make rules that never or always fire, and
    /// durations Prometheus would not parse.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.error_ratio > 0.0 && self.error_ratio < 1.0) {
            bail!(
                "--error-ratio {}: must be above 0 and below 1",
                self.error_ratio
            );
        }
        if !(self.p95_seconds > 0.0 && self.p95_seconds.is_finite()) {
            bail!(
                "--p95-seconds {}: must be a positive number of seconds",
                self.p95_seconds
            );
        }
        for (flag, value) in [("--window", &self.window), ("--for", &self.for_duration)] {
            if !is_duration(value) {
                bail!("{flag} {value:?}: not a Prometheus duration such as 30s, 5m or 1h30m");
            }
        }
        if self.severity.is_empty() || self.group.is_empty() {
            bail!("--severity and --group must not be empty");
        }
        Ok(())
    }
}

/// Whether `s` is a Prometheus duration ([`tally_model::duration`]).
fn is_duration(s: &str) -> bool {
    tally_model::duration::parse_duration(s).is_ok()
}

/// A YAML single-quoted scalar: no escapes but `''` for a quote.
fn yaml(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A PromQL double-quoted string literal.
fn promql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A metric-name-safe form of the window for recording rule names (`5m` stays `5m`).
fn window_suffix(window: &str) -> String {
    window.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// The rule file for `totals`' functions.
pub fn render(t: &Thresholds, source: &str, totals: &Totals) -> String {
    let w = &t.window;
    let suffix = window_suffix(w);
    let rate = format!("function:function_calls:rate{suffix}");
    let ratio = format!("function:function_calls_errors:ratio_rate{suffix}");
    let p95 = format!("function:function_calls_duration_seconds:p95_{suffix}");
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Generated by `tally rules generate` from {source}: {} function(s).",
        totals.len()
    );
    let _ = writeln!(
        y,
        "# Alerts: error ratio above {} or p95 latency above {}s over {w}, for {}.",
        t.error_ratio, t.p95_seconds, t.for_duration
    );
    y.push_str("groups:\n");
    let _ = writeln!(y, "  - name: {}", yaml(&t.group));
    y.push_str("    rules:\n");
    let recording = [
        (
            &rate,
            format!(
                "sum by (function, module) (rate({}[{w}]))",
                functions::CALLS
            ),
        ),
        (
            &ratio,
            format!(
                "sum by (function, module) (rate({calls}{{result=\"error\"}}[{w}])) / \
                 sum by (function, module) (rate({calls}[{w}]))",
                calls = functions::CALLS
            ),
        ),
        (
            &p95,
            format!(
                "histogram_quantile(0.95, sum by (function, module, le) \
                 (rate({}_bucket[{w}])))",
                functions::DURATION
            ),
        ),
    ];
    for (record, expr) in recording {
        let _ = writeln!(y, "      - record: {}", yaml(record));
        let _ = writeln!(y, "        expr: {}", yaml(&expr));
    }
    for ((function, module), f) in totals {
        let selector = format!(
            "{{function={},module={}}}",
            promql_string(function),
            promql_string(module)
        );
        let mut alert = |name: &str, expr: String, summary: String, description: String| {
            let _ = writeln!(y, "      - alert: {name}");
            let _ = writeln!(y, "        expr: {}", yaml(&expr));
            let _ = writeln!(y, "        for: {}", t.for_duration);
            y.push_str("        labels:\n");
            let _ = writeln!(y, "          severity: {}", yaml(&t.severity));
            let _ = writeln!(y, "          function: {}", yaml(function));
            let _ = writeln!(y, "          module: {}", yaml(module));
            y.push_str("        annotations:\n");
            let _ = writeln!(y, "          summary: {}", yaml(&summary));
            let _ = writeln!(y, "          description: {}", yaml(&description));
        };
        let name = if module.is_empty() {
            function.clone()
        } else {
            format!("{module}::{function}")
        };
        if f.has_calls_counter {
            alert(
                "FunctionErrorRatioHigh",
                format!("{ratio}{selector} > {}", t.error_ratio),
                format!("{name} fails too often"),
                format!(
                    "{{{{ $value | humanizePercentage }}}} of the calls of {name} failed \
                     over the last {w} (threshold {}).",
                    t.error_ratio
                ),
            );
        }
        if f.duration.is_some() {
            alert(
                "FunctionLatencyHigh",
                format!("{p95}{selector} > {}", t.p95_seconds),
                format!("{name} is slow"),
                format!(
                    "The p95 latency of {name} over the last {w} is \
                     {{{{ $value | humanizeDuration }}}} (threshold {}s).",
                    t.p95_seconds
                ),
            );
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::{Buckets, FunctionTotals};

    fn thresholds() -> Thresholds {
        Thresholds {
            error_ratio: 0.05,
            p95_seconds: 0.5,
            window: "5m".into(),
            for_duration: "10m".into(),
            severity: "page".into(),
            group: "fns".into(),
        }
    }

    #[test]
    fn durations() {
        for ok in ["5m", "1h30m", "30s", "1d", "500ms", "1m500ms", "2w"] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["", "5", "m", "5x", "30m1h", "1m1m", "-5m", "1.5m", "5m "] {
            assert!(!is_duration(bad), "{bad}");
        }
    }

    #[test]
    fn thresholds_are_validated() {
        assert!(thresholds().validate().is_ok());
        for change in [
            |t: &mut Thresholds| t.error_ratio = 0.0,
            |t: &mut Thresholds| t.error_ratio = 1.0,
            |t: &mut Thresholds| t.error_ratio = f64::NAN,
            |t: &mut Thresholds| t.p95_seconds = -1.0,
            |t: &mut Thresholds| t.p95_seconds = f64::INFINITY,
            |t: &mut Thresholds| t.window = "five minutes".into(),
            |t: &mut Thresholds| t.for_duration = "10".into(),
            |t: &mut Thresholds| t.group = String::new(),
        ] {
            let mut t = thresholds();
            change(&mut t);
            assert!(t.validate().is_err(), "{t:?}");
        }
    }

    #[test]
    fn one_alert_per_kind_of_data_seen() {
        let mut totals = Totals::new();
        totals.insert(
            ("handle".into(), "app::api".into()),
            FunctionTotals {
                ok: 3.0,
                errors: 1.0,
                has_calls_counter: true,
                duration: Some(Buckets::default()),
            },
        );
        // Only a histogram: no error-ratio alert for it.
        totals.insert(
            ("it's".into(), "q\"uote".into()),
            FunctionTotals {
                duration: Some(Buckets::default()),
                ..FunctionTotals::default()
            },
        );
        let y = render(&thresholds(), "test", &totals);
        assert_eq!(y.matches("- record:").count(), 3, "{y}");
        assert_eq!(y.matches("alert: FunctionErrorRatioHigh").count(), 1, "{y}");
        assert_eq!(y.matches("alert: FunctionLatencyHigh").count(), 2, "{y}");
        assert!(y.contains(
            "expr: 'function:function_calls_errors:ratio_rate5m\
             {function=\"handle\",module=\"app::api\"} > 0.05'"
        ));
        // Quotes escaped for PromQL inside, and for YAML around.
        assert!(
            y.contains(r#"{function="it''s",module="q\"uote"} > 0.5'"#),
            "{y}"
        );
        assert!(y.contains("for: 10m"));
        assert!(y.contains("severity: 'page'"));
    }
}
