//! The remote_write 1.0 wire messages: `prometheus.WriteRequest` and what it holds, from
//! Prometheus' `prompb/remote.proto` and `prompb/types.proto`, as `prost` structs written
//! by hand (no `protoc`, no build script).
//!
//! A body on the wire is one `WriteRequest` in the snappy *block* format (not the framed
//! stream format): see [`encode_body`].
//!
//! Some messages declare fewer fields than the `.proto` files: prost skips undeclared
//! fields without allocating, and the receiver does not read them. [`Exemplar`] leaves out
//! its labels (exemplars are counted and ignored) and [`Histogram`] everything but its
//! timestamp (native histograms are refused; the timestamp names the first one).

/// `prometheus.WriteRequest`: what one remote_write request carries. Field 2 is
/// reserved in the `.proto` file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series and their samples. Prometheus sends one entry per sample, repeating
    /// the labels.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Metric metadata (type, help, unit), sent by Prometheus in requests of their own.
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.TimeSeries`: a label set and samples of it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// The labels, `__name__` included; senders sort them by name, receivers must not
    /// rely on it.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Float samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Exemplars (labels not declared, see the module documentation).
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    /// Native histogram samples (only the timestamp is declared).
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// `prometheus.Label`: one name/value pair.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message)]
pub struct Label {
    /// The label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`: a float value at a time.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value (NaN, ±Inf and the staleness marker included).
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.Exemplar`, without its labels (field 1).
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Exemplar {
    /// The exemplar's value.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `prometheus.Histogram` (a native histogram sample), only its timestamp (field 15).
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Histogram {
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
}

/// `prometheus.MetricMetadata`: what a metric family is.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    /// A [`MetricType`] as its number (unknown numbers read as `Unknown`).
    #[prost(enumeration = "MetricType", tag = "1")]
    pub r#type: i32,
    /// The family name (for a histogram, without `_bucket`, `_sum`, `_count`).
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// The `# HELP` text.
    #[prost(string, tag = "4")]
    pub help: String,
    /// The unit (`seconds`, `bytes`), often empty.
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// `prometheus.MetricMetadata.MetricType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    /// `UNKNOWN = 0`.
    Unknown = 0,
    /// `COUNTER = 1`.
    Counter = 1,
    /// `GAUGE = 2`.
    Gauge = 2,
    /// `HISTOGRAM = 3`.
    Histogram = 3,
    /// `GAUGEHISTOGRAM = 4`.
    Gaugehistogram = 4,
    /// `SUMMARY = 5`.
    Summary = 5,
    /// `INFO = 6`.
    Info = 6,
    /// `STATESET = 7`.
    Stateset = 7,
}

impl MetricType {
    /// The name Prometheus' `/api/v1/metadata` uses: `counter`, `gauge`, `histogram`,
    /// `gaugehistogram`, `summary`, `info`, `stateset`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Unknown => "unknown",
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Gaugehistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::Stateset => "stateset",
        }
    }
}

/// A request body as senders send it: the protobuf encoding of `request`, compressed in
/// the snappy block format.
pub fn encode_body(request: &WriteRequest) -> Vec<u8> {
    compress(&prost::Message::encode_to_vec(request))
}

/// Compresses an encoded `WriteRequest` in the snappy block format.
pub fn compress(protobuf: &[u8]) -> Vec<u8> {
    // Compressing into a vector cannot fail below snappy's 4 GiB input limit, which no
    // request approaches (bodies are bounded long before).
    snap::raw::Encoder::new()
        .compress_vec(protobuf)
        .unwrap_or_default()
}

/// A series from label pairs and `(timestamp, value)` samples, for tests.
#[cfg(test)]
pub(crate) fn test_series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect(),
        samples: samples
            .iter()
            .map(|(t, v)| Sample {
                value: *v,
                timestamp: *t,
            })
            .collect(),
        ..TimeSeries::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    #[test]
    fn field_numbers_match_the_proto_files() {
        // Bytes as Prometheus' Go code encodes them (gogo-protobuf, proto3).
        let request = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: "a".into(),
                    value: "b".into(),
                }],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 2,
                }],
                ..TimeSeries::default()
            }],
            metadata: vec![MetricMetadata {
                r#type: MetricType::Counter as i32,
                metric_family_name: "c".into(),
                help: "h".into(),
                unit: String::new(),
            }],
        };
        let mut expected = vec![0x0a, 21, 0x0a, 6, 0x0a, 1, b'a', 0x12, 1, b'b'];
        expected.extend([0x12, 11, 0x09]);
        expected.extend(1.0f64.to_le_bytes());
        expected.extend([0x10, 2]);
        expected.extend([0x1a, 8, 0x08, 1, 0x12, 1, b'c', 0x22, 1, b'h']);
        assert_eq!(request.encode_to_vec(), expected);
        assert_eq!(WriteRequest::decode(&expected[..]).unwrap(), request);
    }

    #[test]
    fn bodies_are_snappy_blocks() {
        let request = WriteRequest::default();
        let body = encode_body(&request);
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        assert_eq!(WriteRequest::decode(&raw[..]).unwrap(), request);
    }
}
