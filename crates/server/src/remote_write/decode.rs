//! From a request body to validated series: snappy, the limits, protobuf, labels.
//!
//! Each step bounds the next one's memory: snappy's declared length is checked before
//! decompressing, and the element counts ([`scan`](super::scan)) before decoding.
//! Nothing here touches the store, so a request refused here changed nothing.

use prost::Message as _;
use tally_model::{Labels, LabelsError, Sample};

use super::error::WriteError;
use super::proto::{self, MetricMetadata, WriteRequest};
use super::scan::{scan, Shape};
use super::RemoteWriteConfig;

/// Characters of a label set quoted in an error message, at most.
const MAX_QUOTED_LABELS: usize = 200;

/// A decoded request whose every series has a valid label set.
#[derive(Debug, Default)]
pub(crate) struct Batch<'a> {
    /// Series in request order with their samples; a label set may come more than once.
    pub series: Vec<(SeriesLabels, Vec<Sample>)>,
    /// The label pairs of [`SeriesLabels::Pairs`] series, borrowed from the request.
    pub pairs: Vec<(&'a str, &'a str)>,
    /// Float samples in all.
    pub samples: usize,
    /// Exemplars, ignored.
    pub exemplars: usize,
    /// Metadata entries.
    pub metadata: Vec<MetricMetadata>,
}

/// A series' label set in a [`Batch`]: valid either way (names non-empty and unique,
/// `__name__` present, no empty values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SeriesLabels {
    /// Built by the general decoder.
    Built(Labels),
    /// Sorted pairs in [`Batch::pairs`], borrowed from the request by the plain-request
    /// decoder (`borrowed.rs`): the store builds a label set only for a new series.
    Pairs(std::ops::Range<usize>),
}

impl Batch<'_> {
    /// The label set of one of the batch's series, built (for tests and messages).
    #[cfg(test)]
    pub fn labels(&self, labels: &SeriesLabels) -> Labels {
        match labels {
            SeriesLabels::Built(l) => l.clone(),
            SeriesLabels::Pairs(range) => {
                Labels::from_pairs(self.pairs[range.clone()].iter().copied()).unwrap()
            }
        }
    }
}

/// Decompresses a request body, refusing one whose declared length is over the limit
/// before decompressing.
pub(crate) fn decompress(body: &[u8], config: &RemoteWriteConfig) -> Result<Vec<u8>, WriteError> {
    let declared =
        snap::raw::decompress_len(body).map_err(|e| WriteError::Snappy(e.to_string()))?;
    if declared > config.max_decompressed_bytes {
        return Err(WriteError::DecompressedTooLarge {
            declared,
            limit: config.max_decompressed_bytes,
        });
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| WriteError::Snappy(e.to_string()))
}

/// Checks and decodes a decompressed request; plain requests borrow their labels from
/// `raw`.
pub(crate) fn decode<'a>(
    raw: &'a [u8],
    config: &RemoteWriteConfig,
) -> Result<Batch<'a>, WriteError> {
    let shape = scan(raw).map_err(|e| WriteError::Protobuf(e.to_string()))?;
    check_shape(&shape, config)?;
    if let Some(batch) = super::borrowed::decode(raw, &shape, config) {
        return Ok(batch);
    }
    decode_checked(raw, shape, config)
}

/// [`decode`] without the borrowed fast path, for comparing the two in tests.
#[cfg(test)]
pub(crate) fn decode_general(
    raw: &[u8],
    config: &RemoteWriteConfig,
) -> Result<Batch<'static>, WriteError> {
    let shape = scan(raw).map_err(|e| WriteError::Protobuf(e.to_string()))?;
    check_shape(&shape, config)?;
    decode_checked(raw, shape, config)
}

/// Decodes with `prost` a request whose shape passed the limits, and validates it.
fn decode_checked(
    raw: &[u8],
    shape: Shape,
    config: &RemoteWriteConfig,
) -> Result<Batch<'static>, WriteError> {
    let request = WriteRequest::decode(raw).map_err(|e| WriteError::Protobuf(e.to_string()))?;
    if let (count @ 1.., Some(index)) = shape.histograms {
        return Err(WriteError::NativeHistograms {
            count,
            index,
            labels: quote(&request.timeseries[index].labels),
            samples: shape.samples,
        });
    }
    let mut batch = Batch {
        series: Vec::with_capacity(request.timeseries.len()),
        pairs: Vec::new(),
        samples: shape.samples,
        exemplars: shape.exemplars,
        metadata: request.metadata,
    };
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for (index, series) in request.timeseries.iter().enumerate() {
        let labels = series_labels(index, &series.labels, &mut pairs, config, &shape)?;
        let samples = series
            .samples
            .iter()
            .map(|s| Sample::new(s.timestamp, s.value))
            .collect();
        batch.series.push((SeriesLabels::Built(labels), samples));
    }
    Ok(batch)
}

fn check_shape(shape: &Shape, config: &RemoteWriteConfig) -> Result<(), WriteError> {
    let limit = |what: String, found: usize, limit: usize, name| {
        if found > limit {
            Err(WriteError::Limit {
                what,
                found,
                limit,
                name,
                samples: shape.samples,
            })
        } else {
            Ok(())
        }
    };
    limit(
        "series in the request".into(),
        shape.series,
        config.max_series_per_request,
        "max_series_per_request",
    )?;
    limit(
        "samples, exemplars and histogram samples in the request".into(),
        shape.samples + shape.exemplars + shape.histograms.0,
        config.max_samples_per_request,
        "max_samples_per_request",
    )?;
    limit(
        format!("labels of series {}", shape.max_labels.1),
        shape.max_labels.0,
        config.max_labels_per_series,
        "max_labels_per_series",
    )?;
    limit(
        "metadata entries in the request".into(),
        shape.metadata,
        config.max_metadata_per_request,
        "max_metadata_per_request",
    )
}

/// The label set of series `index`: lengths within limits, names non-empty and unique,
/// `__name__` present. Empty values are dropped (an empty label is an absent one).
fn series_labels<'a>(
    index: usize,
    labels: &'a [proto::Label],
    pairs: &mut Vec<(&'a str, &'a str)>,
    config: &RemoteWriteConfig,
    shape: &Shape,
) -> Result<Labels, WriteError> {
    let invalid = |reason: String| WriteError::InvalidLabels {
        index,
        labels: quote(labels),
        reason,
        samples: shape.samples,
    };
    for label in labels {
        let longest = label.name.len().max(label.value.len());
        if longest > config.max_label_length {
            return Err(WriteError::Limit {
                what: format!(
                    "length in bytes of label {:?} of series {index}",
                    shorten(&label.name)
                ),
                found: longest,
                limit: config.max_label_length,
                name: "max_label_length",
                samples: shape.samples,
            });
        }
    }
    // `pairs` is a scratch buffer reused across series; it only borrows `labels`.
    pairs.clear();
    pairs.extend(labels.iter().map(|l| (l.name.as_str(), l.value.as_str())));
    let set = Labels::from_unsorted(pairs).map_err(|e| match e {
        LabelsError::EmptyName => invalid("empty label name".into()),
        LabelsError::DuplicateName(name) => {
            invalid(format!("duplicate label name {:?}", shorten(&name)))
        }
        LabelsError::TooLarge => invalid("label set too large".into()),
    })?;
    if !set.contains("__name__") {
        return Err(invalid("no metric name (label __name__)".into()));
    }
    Ok(set)
}

/// A label set as sent, in Prometheus' notation, cut to a readable length.
fn quote(labels: &[proto::Label]) -> String {
    let mut s = String::from("{");
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&format!("{}={:?}", label.name, label.value));
        if s.len() > MAX_QUOTED_LABELS {
            return format!("{}...}}", shorten_to(&s, MAX_QUOTED_LABELS));
        }
    }
    s.push('}');
    s
}

fn shorten(s: &str) -> &str {
    shorten_to(s, 64)
}

/// The longest prefix of `s` of at most `max` bytes ending on a character boundary.
fn shorten_to(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_write::proto::{encode_body, test_series as ts, Label, TimeSeries};

    /// Decompresses and decodes, with every label set built.
    fn decode_body(
        body: &[u8],
        config: &RemoteWriteConfig,
    ) -> Result<Vec<(Labels, Vec<Sample>)>, WriteError> {
        let raw = decompress(body, config)?;
        let batch = decode(&raw, config)?;
        Ok(batch
            .series
            .iter()
            .map(|(l, s)| (batch.labels(l), s.clone()))
            .collect())
    }

    fn body(series: Vec<TimeSeries>) -> Vec<u8> {
        encode_body(&WriteRequest {
            timeseries: series,
            metadata: vec![],
        })
    }

    #[test]
    fn labels_are_sorted_and_empty_values_dropped() {
        let b = body(vec![ts(
            &[("job", "a"), ("__name__", "up"), ("zone", "")],
            &[(1, 1.0), (2, 0.0)],
        )]);
        let series = decode_body(&b, &RemoteWriteConfig::default()).unwrap();
        let (labels, samples) = &series[0];
        assert_eq!(labels.to_string(), r#"{__name__="up", job="a"}"#);
        assert_eq!(samples, &[Sample::new(1, 1.0), Sample::new(2, 0.0)]);
    }

    #[test]
    fn invalid_label_sets_name_the_series() {
        let config = RemoteWriteConfig::default();
        for (labels, reason) in [
            (&[("__name__", "up"), ("", "x")][..], "empty label name"),
            (&[("__name__", "up"), ("a", "1"), ("a", "2")], "duplicate"),
            (&[("job", "a")], "no metric name"),
            (&[("__name__", "")], "no metric name"),
        ] {
            let b = body(vec![
                ts(&[("__name__", "ok")], &[]),
                ts(labels, &[(1, 1.0)]),
            ]);
            let e = decode_body(&b, &config).unwrap_err();
            let message = e.to_string();
            assert!(
                matches!(e, WriteError::InvalidLabels { index: 1, .. }),
                "{message}"
            );
            assert!(message.contains(reason), "{message}");
            assert!(message.starts_with("series 1 {"), "{message}");
        }
    }

    #[test]
    fn long_labels_are_over_a_limit() {
        let config = RemoteWriteConfig {
            max_label_length: 8,
            ..RemoteWriteConfig::default()
        };
        let b = body(vec![ts(&[("__name__", "up"), ("a", "123456789")], &[])]);
        let e = decode_body(&b, &config).unwrap_err();
        assert_eq!(e.status(), 422);
        assert!(e.to_string().contains("max_label_length"), "{e}");
    }

    #[test]
    fn declared_length_is_checked_before_decompressing() {
        let config = RemoteWriteConfig {
            max_decompressed_bytes: 100,
            ..RemoteWriteConfig::default()
        };
        // A header declaring 4 GiB - 1 and no data: refused without allocating.
        let e = decode_body(&[0xff, 0xff, 0xff, 0xff, 0x0f], &config).unwrap_err();
        assert!(
            matches!(
                e,
                WriteError::DecompressedTooLarge {
                    declared: 0xffff_ffff,
                    limit: 100
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn quoted_labels_are_cut_on_a_character_boundary() {
        let long = "é".repeat(300);
        let q = quote(&[Label {
            name: "a".into(),
            value: long,
        }]);
        assert!(
            q.len() < MAX_QUOTED_LABELS + 10 && q.ends_with("...}"),
            "{q}"
        );
    }
}
