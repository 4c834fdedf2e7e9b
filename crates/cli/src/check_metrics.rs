//! `tally check-metrics`: validate an exposition the way `promtool check metrics` does.
//!
//! The input is parsed with [`tally_model::expfmt::parse`]; a format error is printed as
//! `LINE:COL: reason`. When the input parses, every family is linted ([`crate::lint`]) and
//! each problem is printed as `LINE:COL: family: problem`, where the position is the
//! family's first line (found by `locate.rs`). Results go to standard output, one per
//! line; notes about how the input was read go to standard error.
//!
//! Exit status (set by `main`): 0 when the input parses, whether or not there are lint
//! problems; 1 on a format error; 2 when the input cannot be read or the arguments are
//! wrong.

mod locate;
mod source;

use std::io::{self, Write};

use tally_model::expfmt::{self, Format};

use crate::lint;
pub use source::FormatChoice;

/// Arguments of `tally check-metrics`.
#[derive(Debug, clap::Args)]
pub struct CheckMetricsArgs {
    /// The exposition to check: a file, `-` for standard input, or an `http://` URL.
    #[arg(value_name = "FILE|URL|-", default_value = "-")]
    source: String,

    /// The exposition format. For URLs, `openmetrics` asks the server for OpenMetrics;
    /// the answer's `Content-Type` decides how it is checked.
    #[arg(long, value_enum, default_value_t = FormatChoice::Auto)]
    format: FormatChoice,
}

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The input parsed; there may have been lint problems.
    Parsed {
        /// How many lint problems were printed.
        problems: usize,
    },
    /// The input is not a valid exposition.
    FormatError,
}

/// Reads the input named by `args`, checks it, and writes the findings to `out` and notes
/// to `notes`. Returns an error only when the input cannot be read or output cannot be
/// written.
pub fn run(
    args: &CheckMetricsArgs,
    out: &mut impl Write,
    notes: &mut impl Write,
) -> anyhow::Result<Outcome> {
    let input = source::read(&source::Source::from_arg(&args.source), args.format)?;
    if let Some(note) = &input.note {
        writeln!(notes, "{note}")?;
    }
    Ok(check(&input.bytes, input.format, out)?)
}

/// Checks one exposition in `format` and writes the findings to `out`, one per line.
/// Never panics, whatever the bytes.
pub fn check(input: &[u8], format: Format, out: &mut impl Write) -> io::Result<Outcome> {
    let families = match expfmt::parse(input, format) {
        Ok(families) => families,
        Err(e) => {
            writeln!(out, "{}:{}: {}", e.line, e.column, e.kind)?;
            return Ok(Outcome::FormatError);
        }
    };
    let lines = locate::first_lines(input, format, &families);
    let mut problems = lint::lint(&families);
    // Sort by position; the sort is stable, so rule order is kept within a family.
    problems.sort_by_key(|p| lines.get(p.family).copied().flatten().unwrap_or(usize::MAX));
    for p in &problems {
        match lines.get(p.family).copied().flatten() {
            Some(line) => writeln!(out, "{line}:1: {}: {}", p.metric, p.text)?,
            // Only if the parser returned a family no line names; still report it.
            None => writeln!(out, "{}: {}", p.metric, p.text)?,
        }
    }
    Ok(Outcome::Parsed {
        problems: problems.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_check(input: &str, format: Format) -> (Outcome, String) {
        let mut out = Vec::new();
        let outcome = check(input.as_bytes(), format, &mut out).unwrap();
        (outcome, String::from_utf8(out).unwrap())
    }

    #[test]
    fn clean_input_prints_nothing() {
        let (outcome, out) = run_check(
            "# HELP a_total Things.\n# TYPE a_total counter\na_total 1\n",
            Format::Text,
        );
        assert_eq!(outcome, Outcome::Parsed { problems: 0 });
        assert_eq!(out, "");
    }

    #[test]
    fn format_errors_name_line_and_column() {
        let (outcome, out) = run_check("# HELP a A.\na 1\nb{x=\"1\" y=\"2\"} 1\n", Format::Text);
        assert_eq!(outcome, Outcome::FormatError);
        assert!(out.starts_with("3:9: "), "{out}");
        assert_eq!(out.lines().count(), 1);
    }

    #[test]
    fn lint_problems_are_placed_at_the_family_and_sorted() {
        let input = "# HELP z_total Z.\n\
                     # TYPE z_total gauge\n\
                     z_total 1\n\
                     # TYPE a counter\n\
                     a 1\n";
        let (outcome, out) = run_check(input, Format::Text);
        assert_eq!(outcome, Outcome::Parsed { problems: 3 });
        assert_eq!(
            out,
            "1:1: z_total: non-counter metrics should not have \"_total\" suffix\n\
             4:1: a: no help text\n\
             4:1: a: counter metrics should have \"_total\" suffix\n"
        );
    }

    #[test]
    fn arbitrary_bytes_do_not_panic() {
        for input in [
            &b"\xff\xfe"[..],
            b"{",
            b"# TYPE",
            b"a{} 1\n# EOF\n",
            b"\n\n\n",
            b"",
        ] {
            for format in [Format::Text, Format::OpenMetrics] {
                let _ = check(input, format, &mut Vec::new()).unwrap();
            }
        }
    }
}
