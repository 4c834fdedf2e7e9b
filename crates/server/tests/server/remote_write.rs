//! The remote_write receiver in-process (`oneshot` on its router over [`MemStorage`]):
//! golden status and body for each class of answer, a hostile corpus that must change
//! nothing, and a property test that what is encoded is what the store holds.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt as _;
use proptest::prelude::*;
use prost::Message as _;
use tally_model::{Labels, Sample};
use tally_server::remote_write::proto::{
    self, encode_body, Exemplar, Histogram, Label, MetricMetadata, MetricType, TimeSeries,
    WriteRequest,
};
use tally_server::remote_write::{self, RemoteWrite, RemoteWriteConfig, WriteError};
use tally_storage::{
    AppendError, AppendStats, Appender, MatchOp, Matcher, MemStorage, Querier, SelectHints,
    Storage, StorageError,
};
use tower::ServiceExt as _;

/// A receiver over a [`MemStorage`], with its own metrics registry.
struct Receiver {
    db: MemStorage,
    rw: RemoteWrite,
    registry: tally::Registry,
}

impl Receiver {
    fn new(config: RemoteWriteConfig) -> Self {
        let db = MemStorage::new();
        let registry = tally::Registry::new();
        let rw = RemoteWrite::new(Arc::new(db.clone()), config, &registry).unwrap();
        Self { db, rw, registry }
    }

    fn with_defaults() -> Self {
        Self::new(RemoteWriteConfig::default())
    }

    /// POSTs `body` to `/api/v1/write` with remote_write 1.0's headers, plus `extra`.
    async fn post(&self, body: impl Into<Body>, extra: &[(&str, &str)]) -> (u16, String) {
        let mut request = Request::post("/api/v1/write")
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0");
        for (n, v) in extra {
            request = request.header(*n, *v);
        }
        let response = remote_write::router(self.rw.clone())
            .oneshot(request.body(body.into()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn write(&self, request: &WriteRequest) -> (u16, String) {
        self.post(encode_body(request), &[]).await
    }

    /// Every series and its samples, values as bits (so NaNs compare).
    fn dump(&self) -> Vec<(String, Vec<(i64, u64)>)> {
        dump(&self.db)
    }

    /// One line of the metrics exposition, by its start.
    fn metric(&self, prefix: &str) -> Option<String> {
        let text = self.registry.encode_text();
        text.lines()
            .find(|l| l.starts_with(prefix))
            .map(str::to_owned)
    }
}

fn dump(db: &MemStorage) -> Vec<(String, Vec<(i64, u64)>)> {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let all = Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap();
    q.select(&[all], &SelectHints::default())
        .unwrap()
        .into_iter()
        .map(|s| {
            let samples = s
                .samples
                .iter()
                .map(|x| (x.timestamp_ms, x.value.to_bits()))
                .collect();
            (s.labels.to_string(), samples)
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    pairs
        .iter()
        .map(|(n, v)| Label {
            name: (*n).to_owned(),
            value: (*v).to_owned(),
        })
        .collect()
}

fn ts(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels(pairs),
        samples: samples
            .iter()
            .map(|(t, v)| proto::Sample {
                value: *v,
                timestamp: *t,
            })
            .collect(),
        ..TimeSeries::default()
    }
}

fn request(timeseries: Vec<TimeSeries>) -> WriteRequest {
    WriteRequest {
        timeseries,
        metadata: vec![],
    }
}

/// A valid request of two series, one sample each at `t`.
fn two_series(t: i64) -> WriteRequest {
    request(vec![
        ts(&[("__name__", "up"), ("job", "api")], &[(t, 1.0)]),
        ts(&[("__name__", "up"), ("job", "db")], &[(t, 0.0)]),
    ])
}

#[tokio::test]
async fn a_valid_request_is_stored_and_answered_204() {
    let r = Receiver::with_defaults();
    let mut req = request(vec![
        // Unsorted labels and an empty value: sorted, and the empty label dropped.
        ts(
            &[
                ("job", "api"),
                ("__name__", "http_requests_total"),
                ("x", ""),
            ],
            &[(1000, 1.0), (16_000, 5.0)],
        ),
        ts(
            &[("__name__", "http_requests_total"), ("job", "db")],
            &[(1000, 2.0)],
        ),
    ]);
    req.timeseries[1].exemplars = vec![Exemplar {
        value: 0.5,
        timestamp: 1000,
    }];
    req.metadata = vec![MetricMetadata {
        r#type: MetricType::Counter as i32,
        metric_family_name: "http_requests_total".into(),
        help: "Requests.".into(),
        unit: String::new(),
    }];
    assert_eq!(r.write(&req).await, (204, String::new()));
    assert_eq!(
        r.dump(),
        [
            (
                r#"{__name__="http_requests_total", job="api"}"#.to_owned(),
                vec![(1000, 1f64.to_bits()), (16_000, 5f64.to_bits())]
            ),
            (
                r#"{__name__="http_requests_total", job="db"}"#.to_owned(),
                vec![(1000, 2f64.to_bits())]
            ),
        ]
    );
    let meta = r.rw.metadata().get("http_requests_total").unwrap();
    assert_eq!(
        (meta.kind, meta.help.as_str()),
        (MetricType::Counter, "Requests.")
    );

    // A resent request (a sender's retry) changes nothing and is still a success, as
    // long as it repeats the newest sample of each series (the store's ordering rule).
    let newest = request(vec![ts(
        &[("__name__", "http_requests_total"), ("job", "api")],
        &[(16_000, 5.0)],
    )]);
    assert_eq!(r.write(&newest).await, (204, String::new()));
    assert_eq!(r.dump().len(), 2);

    for (prefix, value) in [
        ("tally_remote_write_requests_total{code=\"204\"}", "2"),
        ("tally_remote_write_samples_received_total", "4"),
        ("tally_remote_write_samples_appended_total", "3"),
        ("tally_remote_write_samples_repeated_total", "1"),
        ("tally_remote_write_series_created_total", "2"),
        ("tally_remote_write_exemplars_ignored_total", "1"),
        ("tally_remote_write_metadata_applied_total", "1"),
    ] {
        let line = r.metric(prefix).unwrap_or_default();
        assert_eq!(line, format!("{prefix} {value}"), "{prefix}");
    }
}

#[tokio::test]
async fn missing_headers_are_remote_write_1() {
    let r = Receiver::with_defaults();
    let response = remote_write::router(r.rw.clone())
        .oneshot(
            Request::post("/api/v1/write")
                .body(Body::from(encode_body(&two_series(1))))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(r.dump().len(), 2);
}

/// One request that must be refused, and the exact answer.
struct Golden {
    what: &'static str,
    config: RemoteWriteConfig,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
    status: u16,
    message: String,
}

fn golden(what: &'static str, body: Vec<u8>, status: u16, message: &str) -> Golden {
    Golden {
        what,
        config: RemoteWriteConfig::default(),
        headers: vec![],
        body,
        status,
        message: format!("{message}\n"),
    }
}

fn series_body(n: usize) -> Vec<u8> {
    let series = (0..n)
        .map(|i| ts(&[("__name__", "m"), ("i", &i.to_string())], &[(1, 1.0)]))
        .collect();
    encode_body(&request(series))
}

fn golden_corpus() -> Vec<Golden> {
    let tiny_body = RemoteWriteConfig {
        max_body_bytes: 64,
        max_decompressed_bytes: 256,
        ..RemoteWriteConfig::default()
    };
    let small = RemoteWriteConfig {
        max_series_per_request: 3,
        max_samples_per_request: 4,
        max_labels_per_series: 3,
        max_label_length: 10,
        max_metadata_per_request: 2,
        ..RemoteWriteConfig::default()
    };
    let mut with_histogram = two_series(1);
    with_histogram.timeseries[1].histograms = vec![Histogram { timestamp: 1 }; 2];
    let metadata = WriteRequest {
        timeseries: vec![],
        metadata: vec![MetricMetadata::default(); 3],
    };
    vec![
        golden(
            "not snappy",
            b"hello, world".to_vec(),
            400,
            "body is not snappy block-compressed data: snappy: corrupt input (expected valid offset but got offset 876; dst position: 0)",
        ),
        golden(
            "snappy of something else than protobuf",
            proto::compress(b"\xff\xff\xff"),
            400,
            "body is not a protobuf prometheus.WriteRequest: malformed varint at byte 0",
        ),
        golden(
            "a label that is not UTF-8",
            proto::compress(b"\x0a\x05\x0a\x03\x0a\x01\xff"),
            400,
            "body is not a protobuf prometheus.WriteRequest: failed to decode Protobuf message: Label.name: TimeSeries.labels: WriteRequest.timeseries: invalid string value: data is not UTF-8 encoded",
        ),
        golden(
            "no metric name",
            encode_body(&request(vec![ts(&[("job", "x")], &[(1, 1.0)])])),
            400,
            r#"series 0 {job="x"}: no metric name (label __name__)"#,
        ),
        golden(
            "duplicate label name",
            encode_body(&request(vec![
                ts(&[("__name__", "a")], &[(1, 1.0)]),
                ts(&[("__name__", "a"), ("x", "1"), ("x", "2")], &[(1, 1.0)]),
            ])),
            400,
            r#"series 1 {__name__="a", x="1", x="2"}: duplicate label name "x""#,
        ),
        golden(
            "empty label name",
            encode_body(&request(vec![ts(&[("__name__", "a"), ("", "1")], &[(1, 1.0)])])),
            400,
            r#"series 0 {__name__="a", ="1"}: empty label name"#,
        ),
        golden(
            "native histograms",
            encode_body(&with_histogram),
            400,
            r#"native histograms are not supported yet: 2 histogram samples, the first in series 1 {__name__="up", job="db"}; send float samples only (send_native_histograms: false)"#,
        ),
        Golden {
            headers: vec![("Content-Length", "65")],
            config: tiny_body.clone(),
            ..golden(
                "declared body over the limit",
                vec![0; 65],
                413,
                "request body over the limit of 64 bytes (max_body_bytes)",
            )
        },
        Golden {
            config: tiny_body.clone(),
            ..golden(
                "streamed body over the limit",
                vec![0; 65],
                413,
                "request body over the limit of 64 bytes (max_body_bytes)",
            )
        },
        Golden {
            config: tiny_body,
            ..golden(
                "decompressed length over the limit",
                proto::compress(&[0; 257]),
                413,
                "decompressed body of 257 bytes over the limit of 256 bytes (max_decompressed_bytes)",
            )
        },
        golden(
            "a huge declared decompressed length",
            vec![0xff, 0xff, 0xff, 0xff, 0x0f, 0x00],
            413,
            "decompressed body of 4294967295 bytes over the limit of 33554432 bytes (max_decompressed_bytes)",
        ),
        Golden {
            config: small.clone(),
            ..golden(
                "too many series",
                series_body(4),
                422,
                "series in the request: 4 is over the limit of 3 (max_series_per_request)",
            )
        },
        Golden {
            config: small.clone(),
            ..golden(
                "too many samples",
                encode_body(&request(vec![ts(
                    &[("__name__", "m")],
                    &[(1, 1.0), (2, 1.0), (3, 1.0), (4, 1.0), (5, 1.0)],
                )])),
                422,
                "samples, exemplars and histogram samples in the request: 5 is over the limit of 4 (max_samples_per_request)",
            )
        },
        Golden {
            config: small.clone(),
            ..golden(
                "too many labels",
                encode_body(&request(vec![
                    ts(&[("__name__", "m")], &[]),
                    ts(&[("__name__", "m"), ("a", "1"), ("b", "1"), ("c", "1")], &[]),
                ])),
                422,
                "labels of series 1: 4 is over the limit of 3 (max_labels_per_series)",
            )
        },
        Golden {
            config: small.clone(),
            ..golden(
                "a label too long",
                encode_body(&request(vec![ts(&[("__name__", "m"), ("a", "12345678901")], &[])])),
                422,
                r#"length in bytes of label "a" of series 0: 11 is over the limit of 10 (max_label_length)"#,
            )
        },
        Golden {
            config: small.clone(),
            ..golden(
                "too many metadata entries",
                encode_body(&metadata),
                422,
                "metadata entries in the request: 3 is over the limit of 2 (max_metadata_per_request)",
            )
        },
        Golden {
            headers: vec![("Content-Encoding", "gzip")],
            ..golden(
                "gzip",
                encode_body(&two_series(1)),
                415,
                r#"unsupported Content-Encoding "gzip": remote_write 1.0 bodies are snappy-compressed (Content-Encoding: snappy)"#,
            )
        },
        Golden {
            headers: vec![(
                "Content-Type",
                "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            )],
            ..golden(
                "remote_write 2.0",
                encode_body(&two_series(1)),
                415,
                r#"unsupported Content-Type "application/x-protobuf;proto=io.prometheus.write.v2.Request": this receiver speaks remote_write 1.0 (application/x-protobuf, prometheus.WriteRequest)"#,
            )
        },
    ]
}

#[tokio::test]
async fn each_error_class_has_its_status_and_message_and_changes_nothing() {
    let mut failures = Vec::new();
    for case in golden_corpus() {
        let r = Receiver::new(case.config.clone());
        assert_eq!(r.write(&two_series(0)).await.0, 204);
        let before = r.dump();
        // Later headers of the same name win in `post`'s builder: append the case's.
        let mut request = Request::post("/api/v1/write");
        let mut headers = vec![
            ("Content-Encoding", "snappy"),
            ("Content-Type", "application/x-protobuf"),
        ];
        for (n, v) in &case.headers {
            headers.retain(|(m, _)| !m.eq_ignore_ascii_case(n));
            headers.push((n, v));
        }
        for (n, v) in headers {
            request = request.header(n, v);
        }
        let response = remote_write::router(r.rw.clone())
            .oneshot(request.body(Body::from(case.body.clone())).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let message = String::from_utf8_lossy(&bytes).into_owned();
        if (status, &message) != (case.status, &case.message) {
            failures.push(format!(
                "{}:\n  expected {} {:?}\n  got      {status} {message:?}",
                case.what, case.status, case.message
            ));
        }
        if r.dump() != before {
            failures.push(format!("{}: the store changed", case.what));
        }
        let counted = r.metric(&format!(
            "tally_remote_write_requests_total{{code=\"{}\"}}",
            case.status
        ));
        if counted.is_none() {
            failures.push(format!("{}: not counted by status", case.what));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn refused_samples_commit_the_rest_and_answer_400() {
    let r = Receiver::with_defaults();
    assert_eq!(r.write(&two_series(10)).await.0, 204);
    let req = request(vec![
        // t=5 is out of order, t=10 with another value a duplicate timestamp, t=20 fine.
        ts(
            &[("__name__", "up"), ("job", "api")],
            &[(5, 1.0), (10, 7.0), (20, 1.0)],
        ),
        ts(&[("__name__", "up"), ("job", "new")], &[(1, 1.0)]),
    ]);
    let (status, message) = r.write(&req).await;
    assert_eq!(
        (status, message.as_str()),
        (
            400,
            "2 of 4 samples refused, the rest stored; first: out of order sample for series \
             {__name__=\"up\", job=\"api\"} at 5 (newest sample at 10)\n"
        )
    );
    let dump = r.dump();
    let api = dump.iter().find(|(l, _)| l.contains("api")).unwrap();
    assert_eq!(api.1, vec![(10, 1f64.to_bits()), (20, 1f64.to_bits())]);
    assert!(dump.iter().any(|(l, _)| l.contains("new")));
    for (prefix, value) in [
        ("tally_remote_write_requests_total{code=\"400\"}", "1"),
        (
            "tally_remote_write_samples_rejected_total{reason=\"out_of_order\"}",
            "1",
        ),
        (
            "tally_remote_write_samples_rejected_total{reason=\"duplicate_timestamp\"}",
            "1",
        ),
        ("tally_remote_write_samples_appended_total", "4"),
    ] {
        assert_eq!(r.metric(prefix), Some(format!("{prefix} {value}")));
    }
}

#[tokio::test]
async fn whole_requests_refused_count_their_samples_by_reason() {
    let r = Receiver::with_defaults();
    let req = request(vec![ts(&[("job", "x")], &[(1, 1.0), (2, 1.0)])]);
    assert_eq!(r.write(&req).await.0, 400);
    let prefix = "tally_remote_write_samples_rejected_total{reason=\"invalid_labels\"}";
    assert_eq!(r.metric(prefix), Some(format!("{prefix} 2")));
}

/// A store whose commits fail, as a full disk would make them.
struct FailingStorage;

struct FailingAppender;

impl Appender for FailingAppender {
    fn append(&mut self, _: &Labels, _: Sample) -> Result<(), AppendError> {
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<AppendStats, StorageError> {
        Err(StorageError::Io(std::io::Error::other(
            "no space left on device",
        )))
    }
}

impl Storage for FailingStorage {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(FailingAppender)
    }

    fn querier(&self, _: i64, _: i64) -> Result<Box<dyn Querier + '_>, StorageError> {
        Err(StorageError::Other("unused".into()))
    }
}

#[tokio::test]
async fn a_failing_store_answers_500_so_the_sender_retries() {
    let registry = tally::Registry::new();
    let rw = RemoteWrite::new(
        Arc::new(FailingStorage),
        RemoteWriteConfig::default(),
        &registry,
    )
    .unwrap();
    let response = remote_write::router(rw)
        .oneshot(
            Request::post("/api/v1/write")
                .body(Body::from(encode_body(&two_series(1))))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&bytes[..], b"storage I/O: no space left on device\n");
}

/// Bodies a broken or hostile sender could send. Each must be refused with a `4xx`,
/// except the cuts of a valid request that end on a field boundary (and the empty
/// request), which are valid requests repeating stored samples.
fn hostile_corpus() -> Vec<(String, Vec<u8>)> {
    let good = encode_body(&two_series(100));
    let raw = two_series(100).encode_to_vec();
    let mut corpus: Vec<(String, Vec<u8>)> = vec![
        ("empty body, not even a snappy header".into(), vec![]),
        ("one zero byte: an empty request".into(), vec![0]),
        ("text".into(), b"up{job=\"api\"} 1\n".to_vec()),
        (
            "the snappy framing format instead of blocks".into(),
            b"\xff\x06\x00\x00sNaPpY".to_vec(),
        ),
        ("uncompressed protobuf".into(), raw.clone()),
        (
            "a declared length of 4 GiB".into(),
            vec![0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x01, 0x02],
        ),
        ("a declared length past 64 bits".into(), vec![0xff; 12]),
        (
            "a copy reaching before the start".into(),
            vec![0x10, 0x0a, 0xff, 0xff],
        ),
    ];
    for cut in (1..good.len()).step_by(3) {
        corpus.push((format!("snappy cut at {cut}"), good[..cut].to_vec()));
    }
    for cut in 1..raw.len() {
        corpus.push((
            format!("protobuf cut at {cut}"),
            proto::compress(&raw[..cut]),
        ));
    }
    // Groups nested a hundred thousand deep (prost's recursion limit is 100).
    corpus.push(("deep groups".into(), proto::compress(&[0x0b; 100_000])));
    // Length-delimited fields nested deep inside a series' label.
    let mut deep = vec![0x0a, 0x01, 0x00];
    for _ in 0..2000 {
        let mut outer = vec![0x0a];
        let mut len = deep.len();
        while len >= 0x80 {
            outer.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        outer.push(len as u8);
        outer.extend(&deep);
        deep = outer;
    }
    corpus.push(("deeply nested messages".into(), proto::compress(&deep)));
    // Wrong wire types for known fields.
    corpus.push(("series as a varint".into(), proto::compress(&[0x08, 0x01])));
    corpus.push((
        "sample value as a varint".into(),
        proto::compress(&[0x0a, 0x04, 0x12, 0x02, 0x08, 0x01]),
    ));
    corpus.push((
        "many empty labels with no name".into(),
        proto::compress(&[0x0a, 0x04, 0x0a, 0x00, 0x0a, 0x00]),
    ));
    corpus
}

#[tokio::test]
async fn hostile_bodies_are_refused_without_panics_and_change_nothing() {
    let r = Receiver::with_defaults();
    assert_eq!(r.write(&two_series(100)).await.0, 204);
    let before = r.dump();
    let mut failures = Vec::new();
    let mut accepted = Vec::new();
    for (what, body) in hostile_corpus() {
        let (status, message) = r.post(body, &[]).await;
        if status == 204 {
            accepted.push(what);
        } else if !(400..500).contains(&status) || message.len() > 1024 || !message.ends_with('\n')
        {
            failures.push(format!("{what}: {status} {message:?}"));
        }
    }
    // The valid ones: the empty request, and cuts after the first series (43 bytes) and
    // after both (the whole request minus nothing: not in the corpus).
    assert_eq!(
        accepted,
        ["one zero byte: an empty request", "protobuf cut at 43"]
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(r.dump(), before);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary bytes, raw or snappy-compressed, never panic the decoder, and a body
    /// refused before its samples reach the store stores nothing. (`Refused` is the one
    /// error after them: the store turned some samples down and kept the others.)
    #[test]
    fn arbitrary_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512),
                                    compress in any::<bool>()) {
        let r = Receiver::with_defaults();
        let body = if compress { proto::compress(&bytes) } else { bytes };
        let result = r.rw.apply_body(&body);
        if matches!(result, Err(ref e) if !matches!(e, WriteError::Refused { .. })) {
            prop_assert_eq!(r.db.series_count(), 0);
        }
    }

    /// Encoded series, sent through the router, are exactly what the store holds.
    #[test]
    fn encode_request_store_round_trips(
        series in proptest::collection::btree_map(
            proptest::collection::btree_map("[a-c]{1,2}", "[a-z0-9 é\"]{0,4}", 0..4),
            (0i64..1_000_000, proptest::collection::vec((1i64..10_000, any::<f64>()), 1..5)),
            1..6,
        ),
        shuffle in any::<bool>(),
    ) {
        let mut timeseries = Vec::new();
        let mut expected = Vec::new();
        for (i, (pairs, (start, steps))) in series.iter().enumerate() {
            let name = format!("metric_{i}");
            let mut labels: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            labels.push(("__name__", &name));
            if shuffle {
                labels.reverse();
            }
            let mut t = *start;
            let samples: Vec<(i64, f64)> = steps.iter().map(|(dt, v)| { t += dt; (t, *v) }).collect();
            timeseries.push(ts(&labels, &samples));
            let set = Labels::from_pairs(labels.iter().copied()).unwrap();
            // proto3 leaves a zero out of the encoding, and -0.0 == 0.0: a -0.0 arrives as
            // 0.0 (Prometheus' Go encoder does the same).
            let bits = |v: f64| if v == 0.0 { 0 } else { v.to_bits() };
            expected.push((set.to_string(), samples.iter().map(|(t, v)| (*t, bits(*v))).collect::<Vec<_>>()));
        }
        expected.sort();
        let r = Receiver::with_defaults();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (status, message) = runtime.block_on(r.write(&request(timeseries)));
        prop_assert_eq!(status, 204, "{}", message);
        let mut got = r.dump();
        got.sort();
        prop_assert_eq!(got, expected);
    }
}
