//! Writing families as Prometheus text 0.0.4 or OpenMetrics 1.0.
//!
//! The exact output, line by line, is specified in `docs/format/exposition.md`. In short:
//!
//! - **Text 0.0.4**: `# HELP` (when there is help), `# TYPE`, then one line per sample,
//!   `name{labels} value [timestamp_ms]`. `le` and `quantile` come after the metric's own
//!   labels, as client_golang writes them. `_created` and exemplars are not part of the
//!   format and are left out. The OpenMetrics-only types are written the way the Python
//!   client's `generate_latest` writes them: an info becomes a gauge `foo_info` with value
//!   1, a state set a gauge with one sample per state (`foo{foo="state"} 1` or `0`), and a
//!   gauge histogram a `histogram` holding only its `_bucket` lines, followed by two gauge
//!   families `foo_gcount` and `foo_gsum` (so each series keeps the name OpenMetrics
//!   gives it, and nothing that can go down is passed off as a histogram's `_count`).
//! - **OpenMetrics 1.0**: `# TYPE`, `# UNIT` (when there is a unit), `# HELP` (when there
//!   is help), samples with OpenMetrics' suffixes, `_created` lines, exemplars on counter
//!   `_total` and `_bucket` lines, timestamps in seconds, and `# EOF` from
//!   [`Encoder::finish`].
//!
//! Names that are not legacy-valid are quoted (`{"my.metric",a="1"}`) under
//! [`EscapingScheme::AllowUtf8`] and rewritten by the scheme otherwise. A family's name is
//! prepared once and every sample name is that name plus a fixed suffix, so the encoder
//! does no per-sample name work beyond copying bytes.
//!
//! A metric whose [`MetricValue`] variant does not match its family's type is written by
//! the shape of its value under the family's names; the encoder never panics, but such
//! output may not read back as the same type.
//!
//! Writing is infallible: everything goes straight into the caller's `Vec<u8>`, with no
//! intermediate strings on the per-sample path.

mod line;
#[cfg(test)]
mod tests;

use super::float::{write_float, write_int, write_seconds_from_ms};
use super::Format;
use crate::name::EscapingScheme;
use crate::{
    Exemplar, HistogramValue, Metric, MetricFamily, MetricType, MetricValue, State, SummaryValue,
};
use line::{
    open_extra, write_escaped, write_label_set, write_series, write_series_head, write_text_help,
    Extra, Name,
};
use std::cell::Cell;

/// Writes families in one format with one name escaping.
///
/// Cheap to copy; holds no buffers. Call [`Encoder::family`] for each family, then
/// [`Encoder::finish`] once.
#[derive(Debug, Clone, Copy)]
pub struct Encoder {
    format: Format,
    escaping: EscapingScheme,
}

impl Encoder {
    /// An encoder for `format` that writes UTF-8 names quoted (no escaping).
    pub fn new(format: Format) -> Self {
        Self {
            format,
            escaping: EscapingScheme::AllowUtf8,
        }
    }

    /// Escape names that are not legacy-valid with `escaping`.
    pub fn with_escaping(mut self, escaping: EscapingScheme) -> Self {
        self.escaping = escaping;
        self
    }

    /// Appends one family.
    pub fn family(&self, family: &MetricFamily, out: &mut Vec<u8>) {
        match self.format {
            Format::Text => self.text_family(family, out),
            Format::OpenMetrics => self.openmetrics_family(family, out),
        }
    }

    /// Appends what ends an exposition (`# EOF` for OpenMetrics, nothing for text).
    pub fn finish(&self, out: &mut Vec<u8>) {
        if self.format == Format::OpenMetrics {
            out.extend_from_slice(b"# EOF\n");
        }
    }

    fn text_family(&self, family: &MetricFamily, out: &mut Vec<u8>) {
        let (base, suffix) = split_name(family);
        let name = Name::new(base, self.escaping);
        let type_name = match family.metric_type {
            MetricType::Counter => "counter",
            MetricType::Gauge | MetricType::Info | MetricType::StateSet => "gauge",
            MetricType::Histogram | MetricType::GaugeHistogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Unknown => "untyped",
        };
        text_header(out, &name, suffix, family.help.as_deref(), type_name);
        let gauge_histogram = family.metric_type == MetricType::GaugeHistogram;
        for metric in &family.metrics {
            let line = Line {
                encoder: self,
                name: &name,
                metric,
                labels_at: Cell::new(None),
            };
            match &metric.value {
                MetricValue::Counter(c) => line.sample(out, suffix, Extra::None, c.value, None),
                MetricValue::Gauge(v) | MetricValue::Unknown(v) => {
                    line.sample(out, suffix, Extra::None, *v, None);
                }
                MetricValue::Info => line.sample(out, suffix, Extra::None, 1.0, None),
                MetricValue::StateSet(states) => line.states(out, base, states),
                MetricValue::Histogram(h) => {
                    line.buckets(out, h);
                    if !gauge_histogram {
                        line.optional(out, "_sum", h.sum);
                        line.optional(out, "_count", h.count);
                    }
                }
                MetricValue::Summary(s) => {
                    line.quantiles(out, s);
                    line.optional(out, "_sum", s.sum);
                    line.optional(out, "_count", s.count);
                }
            }
        }
        if gauge_histogram {
            self.text_gauge_histogram_totals(family, &name, out);
        }
    }

    /// Writes a gauge histogram's `_gcount` and `_gsum` as two gauge families after the
    /// histogram itself, as the Python client does.
    fn text_gauge_histogram_totals(
        &self,
        family: &MetricFamily,
        name: &Name<'_>,
        out: &mut Vec<u8>,
    ) {
        type Pick = fn(&HistogramValue) -> Option<f64>;
        let parts: [(&str, Pick); 2] = [("_gcount", |h| h.count), ("_gsum", |h| h.sum)];
        for (suffix, pick) in parts {
            let values = family.metrics.iter().filter_map(|m| match &m.value {
                MetricValue::Histogram(h) => pick(h).map(|v| (m, v)),
                _ => None,
            });
            let mut values = values.peekable();
            if values.peek().is_none() {
                continue;
            }
            text_header(out, name, suffix, family.help.as_deref(), "gauge");
            for (metric, value) in values {
                let line = Line {
                    encoder: self,
                    name,
                    metric,
                    labels_at: Cell::new(None),
                };
                line.sample(out, suffix, Extra::None, value, None);
            }
        }
    }

    fn openmetrics_family(&self, family: &MetricFamily, out: &mut Vec<u8>) {
        let (base, _) = split_name(family);
        let name = Name::new(base, self.escaping);
        out.extend_from_slice(b"# TYPE ");
        name.write_metadata(out, "");
        out.push(b' ');
        out.extend_from_slice(family.metric_type.as_openmetrics_name().as_bytes());
        out.push(b'\n');
        if let Some(unit) = &family.unit {
            out.extend_from_slice(b"# UNIT ");
            name.write_metadata(out, "");
            out.push(b' ');
            out.extend_from_slice(unit.as_bytes());
            out.push(b'\n');
        }
        if let Some(help) = &family.help {
            out.extend_from_slice(b"# HELP ");
            name.write_metadata(out, "");
            out.push(b' ');
            write_escaped(out, help.as_bytes());
            out.push(b'\n');
        }
        let main = match family.metric_type {
            MetricType::Counter => "_total",
            MetricType::Info => "_info",
            _ => "",
        };
        let is_counter = family.metric_type == MetricType::Counter;
        let gauge_histogram = family.metric_type == MetricType::GaugeHistogram;
        for metric in &family.metrics {
            let line = Line {
                encoder: self,
                name: &name,
                metric,
                labels_at: Cell::new(None),
            };
            match &metric.value {
                MetricValue::Counter(c) => {
                    line.sample(out, main, Extra::None, c.value, c.exemplar.as_deref());
                    if is_counter {
                        line.optional(out, "_created", c.created);
                    }
                }
                MetricValue::Gauge(v) | MetricValue::Unknown(v) => {
                    line.sample(out, main, Extra::None, *v, None);
                }
                MetricValue::Info => line.sample(out, main, Extra::None, 1.0, None),
                MetricValue::StateSet(states) => line.states(out, base, states),
                MetricValue::Histogram(h) => {
                    line.buckets(out, h);
                    if gauge_histogram {
                        line.optional(out, "_gcount", h.count);
                        line.optional(out, "_gsum", h.sum);
                    } else {
                        line.optional(out, "_count", h.count);
                        line.optional(out, "_sum", h.sum);
                        line.optional(out, "_created", h.created);
                    }
                }
                MetricValue::Summary(s) => {
                    line.quantiles(out, s);
                    line.optional(out, "_count", s.count);
                    line.optional(out, "_sum", s.sum);
                    line.optional(out, "_created", s.created);
                }
            }
        }
    }
}

/// Splits a family's name into the part that is escaped or quoted and the suffix its
/// 0.0.4 name carries: `foo_total` → (`foo`, `_total`) for counters; `foo_info` and `foo`
/// → (`foo`, `_info`) for infos, whose samples always end in `_info`; the whole name and
/// no suffix otherwise (also for a counter without `_total`, which 0.0.4 writes as it is).
/// The first part is also the OpenMetrics family name.
fn split_name(family: &MetricFamily) -> (&str, &'static str) {
    let name = family.name.as_str();
    let split = |suffix: &'static str| match name.strip_suffix(suffix) {
        Some(stem) if !stem.is_empty() => Some((stem, suffix)),
        _ => None,
    };
    match family.metric_type {
        MetricType::Counter => split("_total").unwrap_or((name, "")),
        MetricType::Info => split("_info").unwrap_or((name, "_info")),
        _ => (name, ""),
    }
}

/// Appends a 0.0.4 family header: `# HELP` (if any help) and `# TYPE`.
fn text_header(out: &mut Vec<u8>, name: &Name<'_>, suffix: &str, help: Option<&str>, ty: &str) {
    if let Some(help) = help {
        out.extend_from_slice(b"# HELP ");
        name.write_metadata(out, suffix);
        out.push(b' ');
        write_text_help(out, help.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"# TYPE ");
    name.write_metadata(out, suffix);
    out.push(b' ');
    out.extend_from_slice(ty.as_bytes());
    out.push(b'\n');
}

/// Writes the sample lines of one metric.
struct Line<'a> {
    encoder: &'a Encoder,
    name: &'a Name<'a>,
    metric: &'a Metric,
    /// Where in the output the metric's label section was first written: the lines of a
    /// histogram or summary copy it from there instead of escaping it again.
    labels_at: Cell<Option<(usize, usize)>>,
}

impl Line<'_> {
    /// One full line: series, value, timestamp, exemplar (OpenMetrics only), newline.
    fn sample(
        &self,
        out: &mut Vec<u8>,
        suffix: &str,
        extra: Extra<'_>,
        value: f64,
        exemplar: Option<&Exemplar>,
    ) {
        write_series(
            out,
            self.name,
            suffix,
            (&self.metric.labels, &self.labels_at),
            extra,
            self.encoder.escaping,
        );
        self.rest(out, value, exemplar);
    }

    /// What follows the series: value, timestamp, exemplar (OpenMetrics only), newline.
    fn rest(&self, out: &mut Vec<u8>, value: f64, exemplar: Option<&Exemplar>) {
        let Encoder { format, escaping } = *self.encoder;
        out.push(b' ');
        write_float(out, value);
        if let Some(ms) = self.metric.timestamp_ms {
            out.push(b' ');
            match format {
                Format::Text => write_int(out, ms),
                Format::OpenMetrics => write_seconds_from_ms(out, ms),
            }
        }
        if let (Format::OpenMetrics, Some(exemplar)) = (format, exemplar) {
            write_exemplar(out, exemplar, escaping);
        }
        out.push(b'\n');
    }

    /// Lines that differ only in a number label after the metric's own (`le`, `quantile`):
    /// `(number, value, exemplar)` each. The first line is written in full; the others
    /// copy its text up to the number (`foo_bucket{a="1",le="`).
    fn numbered<'e>(
        &self,
        out: &mut Vec<u8>,
        suffix: &str,
        label: &'static str,
        lines: impl Iterator<Item = (f64, f64, Option<&'e Exemplar>)>,
    ) {
        let mut prefix = None;
        for (number, value, exemplar) in lines {
            match prefix {
                Some((start, end)) => out.extend_from_within(start..end),
                None => {
                    let start = out.len();
                    let labels = (&self.metric.labels, &self.labels_at);
                    let escaping = self.encoder.escaping;
                    let open = write_series_head(out, self.name, suffix, labels, escaping);
                    open_extra(out, open, label.as_bytes());
                    prefix = Some((start, out.len()));
                }
            }
            write_float(out, number);
            out.extend_from_slice(b"\"}");
            self.rest(out, value, exemplar);
        }
    }

    /// A line for an optional part (`_sum`, `_count`, `_created`, ...), if present.
    fn optional(&self, out: &mut Vec<u8>, suffix: &str, value: Option<f64>) {
        if let Some(value) = value {
            self.sample(out, suffix, Extra::None, value, None);
        }
    }

    /// `_bucket` lines, with a `+Inf` bucket added from `count` when the buckets do not
    /// end in one (as client_golang does), so that the output is a valid histogram.
    fn buckets(&self, out: &mut Vec<u8>, h: &HistogramValue) {
        let ends_at_inf = h
            .buckets
            .last()
            .is_some_and(|b| b.upper_bound == f64::INFINITY);
        let added = match (ends_at_inf, h.count) {
            (false, Some(count)) => Some((f64::INFINITY, count, None)),
            _ => None,
        };
        let lines = h
            .buckets
            .iter()
            .map(|b| (b.upper_bound, b.cumulative_count, b.exemplar.as_deref()))
            .chain(added);
        self.numbered(out, "_bucket", "le", lines);
    }

    /// One line per quantile, `quantile` after the metric's labels.
    fn quantiles(&self, out: &mut Vec<u8>, s: &SummaryValue) {
        let lines = s.quantiles.iter().map(|q| (q.quantile, q.value, None));
        self.numbered(out, "", "quantile", lines);
    }

    /// One line per state: the family's name as label name, the state as value, 1 or 0.
    fn states(&self, out: &mut Vec<u8>, label: &str, states: &[State]) {
        for state in states {
            let value = if state.enabled { 1.0 } else { 0.0 };
            self.sample(out, "", Extra::Text(label, &state.name), value, None);
        }
    }
}

/// Appends ` # {labels} value [timestamp]`.
fn write_exemplar(out: &mut Vec<u8>, exemplar: &Exemplar, escaping: EscapingScheme) {
    out.extend_from_slice(b" # ");
    write_label_set(out, &exemplar.labels, escaping);
    out.push(b' ');
    write_float(out, exemplar.value);
    if let Some(ts) = exemplar.timestamp {
        out.push(b' ');
        write_float(out, ts);
    }
}

/// Appends a whole exposition of `families` in `format`, names quoted when needed
/// ([`EscapingScheme::AllowUtf8`]).
pub fn encode(families: &[MetricFamily], format: Format, out: &mut Vec<u8>) {
    encode_with(families, &Encoder::new(format), out);
}

/// Appends a whole exposition of `families` with `encoder`.
pub fn encode_with(families: &[MetricFamily], encoder: &Encoder, out: &mut Vec<u8>) {
    for family in families {
        encoder.family(family, out);
    }
    encoder.finish(out);
}
