//! Where each parsed family starts in its exposition.
//!
//! The model keeps no positions, so this re-lexes the input (cheap: the lexer borrows and
//! allocates almost nothing) and maps each line back to the family it belongs to by name:
//! metadata lines by the family name (either spelling: `foo` or `foo_total` for an
//! OpenMetrics counter), sample lines by the sample names the family's type produces
//! (`foo_bucket`, `foo_sum`, ...). The parser has already rejected inputs where two
//! families claim the same sample name, so the mapping is unambiguous for valid input.

use std::collections::HashMap;

use tally_model::expfmt::{Entry, Format, Lexer};
use tally_model::{MetricFamily, MetricType};

/// The 1-based line of the first `# HELP`, `# TYPE`, `# UNIT` or sample line of each family,
/// by family index; `None` for a family no line could be matched to (which a correct parser
/// never produces). Lexing stops quietly at the first error: only input that parsed is
/// expected here.
pub(crate) fn first_lines(
    input: &[u8],
    format: Format,
    families: &[MetricFamily],
) -> Vec<Option<usize>> {
    let mut by_metadata: HashMap<&str, usize> = HashMap::new();
    let mut by_sample: HashMap<String, usize> = HashMap::new();
    for (index, family) in families.iter().enumerate() {
        by_metadata.entry(family.name.as_str()).or_insert(index);
        by_metadata
            .entry(family.openmetrics_name())
            .or_insert(index);
        for sample in sample_names(family) {
            by_sample.entry(sample).or_insert(index);
        }
    }

    let mut lines = vec![None; families.len()];
    let Ok(mut lexer) = Lexer::from_bytes(input, format) else {
        return lines;
    };
    while let Ok(Some(entry)) = lexer.next_entry() {
        let index = match &entry {
            Entry::Help { name, .. } | Entry::Type { name, .. } | Entry::Unit { name, .. } => {
                by_metadata.get(name.as_ref()).copied()
            }
            Entry::Sample(sample) => by_sample.get(sample.name.as_ref()).copied(),
            Entry::Comment | Entry::Eof => None,
        };
        if let Some(slot) = index.and_then(|i| lines.get_mut(i)) {
            slot.get_or_insert(lexer.line());
        }
    }
    lines
}

/// Every sample name a family of this type may write, in either format.
fn sample_names(family: &MetricFamily) -> Vec<String> {
    let name = family.name.as_str();
    let base = family.openmetrics_name();
    let with = |suffix: &str| format!("{base}{suffix}");
    match family.metric_type {
        MetricType::Counter => vec![name.to_owned(), with("_created")],
        MetricType::Gauge | MetricType::Unknown | MetricType::StateSet | MetricType::Info => {
            vec![name.to_owned()]
        }
        MetricType::Histogram => {
            vec![
                with("_bucket"),
                with("_sum"),
                with("_count"),
                with("_created"),
            ]
        }
        MetricType::GaugeHistogram => vec![with("_bucket"), with("_gsum"), with("_gcount")],
        MetricType::Summary => {
            vec![
                name.to_owned(),
                with("_sum"),
                with("_count"),
                with("_created"),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fam(name: &str, t: MetricType) -> MetricFamily {
        MetricFamily::new(name, t)
    }

    #[test]
    fn text_families_start_at_their_first_line() {
        let input = b"# a comment\n\
                      # HELP a_total Requests.\n\
                      # TYPE a_total counter\n\
                      a_total 1\n\
                      \n\
                      h_bucket{le=\"+Inf\"} 1\n\
                      h_count 1\n\
                      # TYPE g gauge\n\
                      g 2\n";
        let families = [
            fam("a_total", MetricType::Counter),
            fam("h", MetricType::Histogram),
            fam("g", MetricType::Gauge),
            fam("missing", MetricType::Gauge),
        ];
        assert_eq!(
            first_lines(input, Format::Text, &families),
            [Some(2), Some(6), Some(8), None]
        );
    }

    #[test]
    fn openmetrics_counter_and_info_metadata_use_the_short_name() {
        let input = b"# TYPE c counter\nc_total 1\n# TYPE i info\ni_info{v=\"1\"} 1\n# EOF\n";
        let families = [
            fam("c_total", MetricType::Counter),
            fam("i_info", MetricType::Info),
        ];
        assert_eq!(
            first_lines(input, Format::OpenMetrics, &families),
            [Some(1), Some(3)]
        );
    }

    #[test]
    fn lexing_errors_leave_lines_unknown() {
        let families = [fam("a", MetricType::Gauge)];
        assert_eq!(first_lines(b"a{ 1\na 2\n", Format::Text, &families), [None]);
        assert_eq!(first_lines(b"\xff\n", Format::Text, &families), [None]);
    }
}
