//! `tally-model`: the vocabulary every part of tally speaks.
//!
//! # Layout
//!
//! - [`Labels`] (`labels.rs`): an immutable, sorted label set in two allocations.
//! - [`name`]: metric and label name grammars (legacy and UTF-8) and escaping schemes.
//! - [`clock`]: [`Clock`](clock::Clock), the injected time source, with a system and a
//!   manual clock.
//! - [`duration`]: Prometheus' duration syntax (`1h30m`, `5m`, `500ms`), the one parser
//!   every crate uses for rule files, configuration, flags and query parameters.
//! - [`Sample`] (`sample.rs`): a timestamped value, and the staleness NaN.
//! - [`MetricFamily`], [`Metric`], [`MetricValue`] (`family.rs`): typed families as
//!   expositions carry them (counter, gauge, histogram, summary, unknown, and
//!   OpenMetrics' info, stateset and gaugehistogram), with [`Exemplar`]s.
//! - [`expfmt`]: the Prometheus text format 0.0.4 and OpenMetrics 1.0: a zero-copy
//!   [lexer](expfmt::Lexer), a [parser](expfmt::parse) that groups lines into families and
//!   reports errors by line and column, an [encoder](expfmt::encode), and `Accept`-header
//!   [negotiation](expfmt::negotiate).
//!
//! # Example
//!
//! ```
//! use tally_model::expfmt::{self, Format};
//!
//! let input = b"# TYPE http_requests_total counter\n\
//!               http_requests_total{method=\"GET\"} 7\n";
//! let families = expfmt::parse(input, Format::Text)?;
//! assert_eq!(families[0].name, "http_requests_total");
//! assert_eq!(families[0].metrics[0].labels.get("method"), Some("GET"));
//!
//! let mut out = Vec::new();
//! expfmt::encode(&families, Format::OpenMetrics, &mut out);
//! assert!(String::from_utf8(out)?.ends_with("# EOF\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod clock;
pub mod duration;
mod exemplar;
pub mod expfmt;
mod family;
mod labels;
pub mod name;
mod sample;

pub use exemplar::{Exemplar, EXEMPLAR_MAX_LABEL_CHARS};
pub use family::{
    Bucket, CounterValue, HistogramValue, Metric, MetricFamily, MetricType, MetricValue, Quantile,
    State, SummaryValue,
};
pub use labels::{Labels, LabelsError, LabelsIter};
pub use sample::{is_stale_nan, stale_nan, Sample, STALE_NAN_BITS};
