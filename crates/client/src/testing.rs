//! Test support: compare a registry's exposition (or any exposition text) with the text a
//! test expects, ignoring order, and show a line diff when they differ.
//!
//! # Comparison rules
//!
//! Both sides are parsed with [`tally_model::expfmt::parse`] (OpenMetrics when a line
//! reads `# EOF`, text 0.0.4 otherwise), so what is compared is the metrics, not the
//! bytes:
//!
//! - families are compared sorted by name and series sorted by labels, so neither the
//!   order of families nor of series matters (nor the order of labels in a series);
//! - leading and trailing whitespace of each line and blank lines are ignored, so the
//!   expected text can be an indented raw string;
//! - numbers compare by value (`1` equals `1.0` and `1e0`);
//! - `# HELP` is compared only when the expected family has one, so a test can leave
//!   help texts out; `# TYPE` always counts (without it the samples are `untyped`);
//! - with [`ExpectMode::Subset`], only the families named in the expected text are
//!   compared (a registry also holds process metrics, `build_info`, ...); within each of
//!   them every series counts, so an extra series is still a difference. With
//!   [`ExpectMode::Exact`] every family counts.
//!
//! The diff shows both sides re-encoded canonically (text 0.0.4, sorted), `-` for lines
//! only expected and `+` for lines only present, with two lines of context.
//!
//! # Example
//!
//! ```
//! use tally::testing::ExpectMode;
//!
//! let registry = tally::Registry::new();
//! let jobs = registry.counter_family("jobs", "Jobs run.", ["outcome"])?;
//! jobs.with(&["ok"]).inc_by(2);
//! jobs.with(&["failed"]).inc();
//!
//! tally::assert_exposition!(
//!     &registry,
//!     r#"
//!     ## TYPE jobs_total counter
//!     jobs_total{outcome="ok"} 2
//!     jobs_total{outcome="failed"} 1
//!     "#
//! );
//!
//! let diff = tally::testing::diff_exposition(
//!     &registry.encode_text(),
//!     "# TYPE jobs_total counter\njobs_total{outcome=\"ok\"} 3\n",
//!     ExpectMode::Subset,
//! );
//! assert!(diff.unwrap().contains("-jobs_total{outcome=\"ok\"} 3"));
//! # Ok::<(), tally::RegistryError>(())
//! ```

use std::borrow::Cow;
use std::collections::BTreeSet;

use tally_model::expfmt::{self, Encoder, Format};
use tally_model::MetricFamily;

use crate::Registry;

/// Which families of the actual exposition take part in the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpectMode {
    /// Every family: one the expected text does not name is a difference.
    #[default]
    Exact,
    /// Only the families the expected text names; the others are ignored.
    Subset,
}

/// Something with an exposition to compare: a [`Registry`] (encoded as text 0.0.4) or
/// exposition text.
pub trait Exposition {
    /// The exposition, in either format.
    fn exposition(&self) -> Cow<'_, str>;
}

impl Exposition for Registry {
    fn exposition(&self) -> Cow<'_, str> {
        Cow::Owned(self.encode_text())
    }
}

impl Exposition for str {
    fn exposition(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl Exposition for String {
    fn exposition(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl<T: Exposition + ?Sized> Exposition for &T {
    fn exposition(&self) -> Cow<'_, str> {
        (**self).exposition()
    }
}

/// Compares `actual` with `expected` (see the [module documentation](self)); `None` when
/// they match, otherwise a readable explanation: the line diff, or which side does not
/// parse and why.
pub fn diff_exposition(actual: &str, expected: &str, mode: ExpectMode) -> Option<String> {
    let expected = match canonical_families(expected) {
        Ok(families) => families,
        Err(e) => return Some(format!("the expected exposition does not parse: {e}")),
    };
    let mut actual = match canonical_families(actual) {
        Ok(families) => families,
        Err(e) => return Some(format!("the actual exposition does not parse: {e}")),
    };
    if mode == ExpectMode::Subset {
        let names: BTreeSet<&str> = expected.iter().map(|f| f.name.as_str()).collect();
        actual.retain(|f| names.contains(f.name.as_str()));
    }
    for family in &mut actual {
        let expected_help = expected.iter().find(|e| e.name == family.name);
        if expected_help.is_some_and(|e| e.help.is_none()) {
            family.help = None;
        }
    }
    let (expected, actual) = (encode(&expected), encode(&actual));
    if expected == actual {
        return None;
    }
    let mode = match mode {
        ExpectMode::Exact => "exact",
        ExpectMode::Subset => "subset",
    };
    Some(format!(
        "expositions differ ({mode} comparison; -expected +actual):\n{}",
        line_diff(&expected, &actual)
    ))
}

/// Panics with a diff unless `actual`'s exposition matches `expected` exactly (every
/// family; see the [module documentation](self)). For test code: panicking is how a test
/// fails.
#[track_caller]
pub fn assert_exposition(actual: &(impl Exposition + ?Sized), expected: &str) {
    assert_exposition_with(actual, expected, ExpectMode::Exact);
}

/// Like [`assert_exposition`], with the [`ExpectMode`] to use.
#[track_caller]
pub fn assert_exposition_with(
    actual: &(impl Exposition + ?Sized),
    expected: &str,
    mode: ExpectMode,
) {
    if let Some(diff) = diff_exposition(&actual.exposition(), expected, mode) {
        panic!("{diff}");
    }
}

/// Asserts that an exposition matches the expected text, ignoring order; panics with a
/// line diff otherwise. The first argument is anything implementing
/// [`testing::Exposition`](crate::testing::Exposition) (`&Registry`, `&str`, `&String`);
/// an optional third argument is an [`ExpectMode`](crate::testing::ExpectMode) (default
/// `Exact`). See [`tally::testing`](crate::testing) for the rules.
#[macro_export]
macro_rules! assert_exposition {
    ($actual:expr, $expected:expr $(,)?) => {
        $crate::testing::assert_exposition_with(
            $actual,
            $expected,
            $crate::testing::ExpectMode::Exact,
        )
    };
    ($actual:expr, $expected:expr, $mode:expr $(,)?) => {
        $crate::testing::assert_exposition_with($actual, $expected, $mode)
    };
}

/// Parses an exposition and sorts its families by name and their series by labels.
fn canonical_families(text: &str) -> Result<Vec<MetricFamily>, expfmt::ParseError> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let format = if lines.contains(&"# EOF") {
        Format::OpenMetrics
    } else {
        Format::Text
    };
    let mut normalized = lines.join("\n");
    normalized.push('\n');
    let mut families = expfmt::parse(normalized.as_bytes(), format)?;
    families.sort_by(|a, b| a.name.cmp(&b.name));
    for family in &mut families {
        family.metrics.sort_by(|a, b| a.labels.cmp(&b.labels));
    }
    Ok(families)
}

fn encode(families: &[MetricFamily]) -> Vec<String> {
    let mut out = Vec::new();
    expfmt::encode_with(families, &Encoder::new(Format::Text), &mut out);
    String::from_utf8_lossy(&out)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Lines of context shown around each change.
const CONTEXT: usize = 2;
/// Beyond this many cells the diff table is not built and both sides are shown whole.
const MAX_DIFF_CELLS: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Same,
    Removed,
    Added,
}

/// A line diff by longest common subsequence: lines only in `expected` marked `-`, only
/// in `actual` `+`, and up to [`CONTEXT`] unchanged lines around each change.
fn line_diff(expected: &[String], actual: &[String]) -> String {
    let (n, m) = (expected.len(), actual.len());
    if (n + 1).saturating_mul(m + 1) > MAX_DIFF_CELLS {
        let side = |lines: &[String]| lines.join("\n");
        return format!(
            "(too large to diff)\n--- expected\n{}\n+++ actual\n{}",
            side(expected),
            side(actual)
        );
    }
    // lcs[i * (m + 1) + j]: length of the longest common subsequence of expected[i..]
    // and actual[j..].
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * (m + 1) + j] = if expected[i] == actual[j] {
                lcs[(i + 1) * (m + 1) + j + 1] + 1
            } else {
                lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
            };
        }
    }
    let mut ops: Vec<(Op, &str)> = Vec::with_capacity(n + m);
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && expected[i] == actual[j] {
            ops.push((Op::Same, &expected[i]));
            i += 1;
            j += 1;
        } else if j == m || (i < n && lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
            ops.push((Op::Removed, &expected[i]));
            i += 1;
        } else {
            ops.push((Op::Added, &actual[j]));
            j += 1;
        }
    }
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != Op::Same).collect();
    let near_change = |k: usize| {
        let first_at_or_after = changed.partition_point(|&c| c < k.saturating_sub(CONTEXT));
        changed
            .get(first_at_or_after)
            .is_some_and(|&c| c <= k + CONTEXT)
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (op, line)) in ops.iter().enumerate() {
        if *op == Op::Same && !near_change(k) {
            skipped = true;
            continue;
        }
        if skipped {
            out.push_str(" ...\n");
            skipped = false;
        }
        let mark = match op {
            Op::Same => ' ',
            Op::Removed => '-',
            Op::Added => '+',
        };
        out.push(mark);
        out.push_str(line);
        out.push('\n');
    }
    if skipped {
        out.push_str(" ...\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTUAL: &str = "\
# HELP a_total A.
# TYPE a_total counter
a_total{x=\"2\",y=\"b\"} 2
a_total{x=\"1\",y=\"a\"} 1
# TYPE g gauge
g 1.5
# TYPE h histogram
h_bucket{le=\"1\"} 1
h_bucket{le=\"+Inf\"} 2
h_sum 3
h_count 2
";

    #[test]
    fn order_whitespace_help_and_number_spelling_do_not_matter() {
        let expected = r#"
            # TYPE h histogram
            h_bucket{le="1.0"} 1
            h_bucket{le="+Inf"} 2
            h_count 2
            h_sum 3e0
            # TYPE g gauge
            g 1.50
            # TYPE a_total counter
            a_total{y="a",x="1"} 1
            a_total{x="2",y="b"} 2
        "#;
        assert_eq!(diff_exposition(ACTUAL, expected, ExpectMode::Exact), None);
        assert_exposition(ACTUAL, expected);
    }

    #[test]
    fn subset_ignores_unnamed_families_but_not_extra_series() {
        let expected = "# TYPE g gauge\ng 1.5\n";
        assert_eq!(diff_exposition(ACTUAL, expected, ExpectMode::Subset), None);
        let diff = diff_exposition(ACTUAL, expected, ExpectMode::Exact).unwrap();
        assert!(diff.contains("+a_total{x=\"1\",y=\"a\"} 1"), "{diff}");
        let expected = "# TYPE a_total counter\na_total{x=\"1\",y=\"a\"} 1\n";
        let diff = diff_exposition(ACTUAL, expected, ExpectMode::Subset).unwrap();
        assert!(diff.contains("+a_total{x=\"2\",y=\"b\"} 2"), "{diff}");
    }

    #[test]
    fn mismatches_show_a_line_diff() {
        let expected = "# TYPE g gauge\ng 2\n# TYPE missing gauge\nmissing 1\n";
        let diff = diff_exposition(ACTUAL, expected, ExpectMode::Subset).unwrap();
        assert_eq!(
            diff,
            "expositions differ (subset comparison; -expected +actual):\n\
             \x20# TYPE g gauge\n\
             -g 2\n\
             -# TYPE missing gauge\n\
             -missing 1\n\
             +g 1.5\n"
        );
    }

    #[test]
    fn help_counts_when_expected() {
        let expected = "# HELP a_total Other.\n# TYPE a_total counter\n\
                        a_total{x=\"1\",y=\"a\"} 1\na_total{x=\"2\",y=\"b\"} 2\n";
        let diff = diff_exposition(ACTUAL, expected, ExpectMode::Subset).unwrap();
        assert!(
            diff.contains("-# HELP a_total Other.\n+# HELP a_total A."),
            "{diff}"
        );
    }

    #[test]
    fn parse_errors_are_reported_not_panicked() {
        let diff = diff_exposition(ACTUAL, "g{", ExpectMode::Exact).unwrap();
        assert!(
            diff.starts_with("the expected exposition does not parse"),
            "{diff}"
        );
        let diff = diff_exposition("x y z", "", ExpectMode::Exact).unwrap();
        assert!(
            diff.starts_with("the actual exposition does not parse"),
            "{diff}"
        );
    }

    #[test]
    fn openmetrics_compares_with_text() {
        let om = "# TYPE g gauge\ng 1.5\n# EOF\n";
        assert_eq!(
            diff_exposition(om, "# TYPE g gauge\ng 1.5", ExpectMode::Exact),
            None
        );
    }

    #[test]
    fn registry_and_macro() {
        let registry = Registry::new();
        registry.gauge("temp", "").unwrap().set(3.0);
        crate::assert_exposition!(&registry, "# TYPE temp gauge\ntemp 3");
        crate::assert_exposition!(&registry, "", ExpectMode::Subset);
        let text = registry.encode_text();
        let result = std::panic::catch_unwind(|| {
            crate::assert_exposition!(&text, "# TYPE temp gauge\ntemp 4");
        });
        let message = result.unwrap_err();
        let message = message.downcast_ref::<String>().unwrap();
        assert!(message.contains("-temp 4\n+temp 3"), "{message}");
    }

    #[test]
    fn long_unchanged_runs_are_elided() {
        let expected: Vec<String> = (0..20).map(|i| format!("l{i}")).collect();
        let mut actual = expected.clone();
        actual[10] = "changed".into();
        let diff = line_diff(&expected, &actual);
        assert_eq!(diff, " ...\n l8\n l9\n-l10\n+changed\n l11\n l12\n ...\n");
    }
}
