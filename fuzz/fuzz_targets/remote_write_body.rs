//! Fuzz target: the remote_write 1.0 receiver's body decoder (`RemoteWrite::apply_body`,
//! `crates/server/src/remote_write.rs`) never panics on any body, and what it answers
//! agrees with `prost` decoding the same bytes:
//!
//! - an error other than `Refused` stores nothing (no series, no metadata);
//! - `Ok` and `Refused` only for bytes that `prost` decodes as a `WriteRequest` whose
//!   every limit and label set is valid; then the counts in the stats (series, samples,
//!   exemplars, metadata) are the request's, and the store holds exactly what appending
//!   the `prost`-decoded series one sample at a time to another `MemStorage` stores, with
//!   the same `AppendStats` (every sample appended, repeated or refused; `Ok` exactly when
//!   none was refused);
//! - `Limit`, `InvalidLabels` and `NativeHistograms` answer a request that `prost`
//!   decodes only when it breaks that rule (checked in the receiver's order);
//! - a body that `snap` decompresses is not refused as `Snappy`, and a `Protobuf` refusal
//!   of bytes that `prost` decodes is not refused again once re-encoded canonically.
//!
//! That compares the borrowed fast path (`borrowed.rs`) and the element counts
//! (`scan.rs`) with `prost` and the general validation (`decode.rs`).
//!
//! The first input byte is a mode. When odd, the rest is raw protobuf and is
//! snappy-compressed first, so the fuzzer reaches the protobuf and label code instead of
//! dying in snappy; when even, the rest is the body as sent. Bit 2 overrides both: the
//! rest describes a request (series of labels from a small alphabet with `__name__`,
//! empty and repeated names, samples with small timestamps, exemplars, histograms,
//! metadata), which is encoded with `prost` and compressed, so valid label sets, appends
//! and refusals by the store are reached at once. Bit 1 selects tight limits (a few
//! series, samples, labels, short labels), so that every limit is reachable with small
//! inputs. Each input gets a fresh receiver over an empty `MemStorage`.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use tally_model::{Labels, Sample};
use tally_server::remote_write::proto::{
    self, Exemplar, Histogram, Label, MetricMetadata, TimeSeries, WriteRequest,
};
use tally_server::remote_write::{RemoteWrite, RemoteWriteConfig, WriteError, WriteStats};
use tally_storage::{AppendStats, MatchOp, Matcher, MemStorage, SelectHints, Storage};

/// Limits small enough for a fuzzer's inputs to go over each one.
fn tight() -> RemoteWriteConfig {
    RemoteWriteConfig {
        max_body_bytes: 4096,
        max_decompressed_bytes: 2048,
        max_series_per_request: 8,
        max_samples_per_request: 16,
        max_labels_per_series: 4,
        max_label_length: 16,
        max_metadata_per_request: 4,
        max_metadata_names: 2,
        max_in_flight: 1,
    }
}

/// A request described by `bytes`: each series starts with a byte holding its label
/// count (low 3 bits, mod 5) and sample count (bits 3-4), then one byte per label (name
/// and value from small alphabets) and per sample (timestamp 0-15, a value of four, and
/// bits 6-7: an exemplar with it, or a histogram instead); a first byte with both top bits
/// set is a metadata entry instead of a series.
fn structured(bytes: &[u8]) -> WriteRequest {
    const NAMES: [&str; 4] = ["__name__", "a", "b", ""];
    const VALUES: [&str; 4] = ["up", "x", "", "é"];
    const FLOATS: [f64; 4] = [0.0, 1.0, f64::NAN, -0.0];
    let mut bytes = bytes.iter().copied();
    let mut request = WriteRequest::default();
    while let Some(b) = bytes.next() {
        if b & 0xc0 == 0xc0 {
            request.metadata.push(MetricMetadata {
                r#type: i32::from((b >> 2) & 7),
                metric_family_name: VALUES[usize::from(b & 3)].to_owned(),
                help: "h".repeat(usize::from(b >> 5 & 1) * 20),
                unit: String::new(),
            });
            continue;
        }
        let mut series = TimeSeries::default();
        for _ in 0..(b & 7) % 5 {
            let l = usize::from(bytes.next().unwrap_or(0));
            series.labels.push(Label {
                name: NAMES[l & 3].to_owned(),
                value: VALUES[(l >> 2) & 3].repeat(1 + (l >> 4) * 3),
            });
        }
        for _ in 0..(b >> 3) & 3 {
            let s = bytes.next().unwrap_or(0);
            let timestamp = i64::from(s & 0x0f);
            let value = FLOATS[usize::from((s >> 4) & 3)];
            match s >> 6 {
                3 => series.histograms.push(Histogram { timestamp }),
                2 => {
                    series.exemplars.push(Exemplar { value, timestamp });
                    series.samples.push(proto::Sample { value, timestamp });
                }
                _ => series.samples.push(proto::Sample { value, timestamp }),
            }
        }
        request.timeseries.push(series);
    }
    request
}

/// What the receiver must answer for a request `prost` decoded.
#[derive(Debug)]
enum Want {
    Limit,
    InvalidLabels,
    NativeHistograms,
    /// Valid: append these series, in request order.
    Apply(Vec<(Labels, Vec<Sample>)>),
}

/// The receiver's rules applied to the `prost`-decoded request, in its order: the
/// counts, native histograms, then each series' label lengths and label set.
fn want(request: &WriteRequest, config: &RemoteWriteConfig) -> Want {
    let series = &request.timeseries;
    let samples: usize = series.iter().map(|s| s.samples.len()).sum();
    let exemplars: usize = series.iter().map(|s| s.exemplars.len()).sum();
    let histograms: usize = series.iter().map(|s| s.histograms.len()).sum();
    let most_labels = series.iter().map(|s| s.labels.len()).max().unwrap_or(0);
    if series.len() > config.max_series_per_request
        || samples + exemplars + histograms > config.max_samples_per_request
        || most_labels > config.max_labels_per_series
        || request.metadata.len() > config.max_metadata_per_request
    {
        return Want::Limit;
    }
    if histograms > 0 {
        return Want::NativeHistograms;
    }
    let mut out = Vec::with_capacity(series.len());
    for s in series {
        let too_long = s
            .labels
            .iter()
            .any(|l| l.name.len().max(l.value.len()) > config.max_label_length);
        if too_long {
            return Want::Limit;
        }
        let pairs = s.labels.iter().map(|l| (&l.name, &l.value));
        let Ok(labels) = Labels::from_pairs(pairs) else {
            return Want::InvalidLabels;
        };
        if !labels.contains("__name__") {
            return Want::InvalidLabels;
        }
        let samples = s
            .samples
            .iter()
            .map(|x| Sample::new(x.timestamp, x.value))
            .collect();
        out.push((labels, samples));
    }
    Want::Apply(out)
}

/// Every series of `db` and its samples, values as bits (so NaNs compare).
fn dump(db: &MemStorage) -> Vec<(Labels, Vec<(i64, u64)>)> {
    let q = db.querier(i64::MIN, i64::MAX).expect("querier");
    let named = Matcher::new(MatchOp::NotEqual, "__name__", "").expect("matcher");
    q.select(&[named], &SelectHints::default())
        .expect("select")
        .into_iter()
        .map(|s| {
            let samples = s
                .samples
                .iter()
                .map(|x| (x.timestamp_ms, x.value.to_bits()))
                .collect();
            (s.labels, samples)
        })
        .collect()
}

/// Applies `body` to a fresh receiver and checks its answer against `prost`.
fn check(body: &[u8], config: &RemoteWriteConfig, again: bool) {
    let db = MemStorage::new();
    let registry = tally::Registry::new();
    let rw = RemoteWrite::new(Arc::new(db.clone()), config.clone(), &registry)
        .expect("metrics register");
    let result = rw.apply_body(body);

    // An error that is not a partial apply leaves everything as it was.
    if let Err(e) = &result {
        if !matches!(e, WriteError::Refused { .. }) {
            assert_eq!(db.series_count(), 0, "{e} stored series");
            assert_eq!(rw.metadata().len(), 0, "{e} stored metadata");
        }
        assert!(
            !matches!(e, WriteError::Storage(_) | WriteError::Internal(_)),
            "{e}"
        );
    }

    // Snappy, as the receiver reads it: the declared length is checked before
    // decompressing (a 6-byte body may declare 4 GiB).
    let raw = match snap::raw::decompress_len(body) {
        Ok(declared) if declared > config.max_decompressed_bytes => {
            assert!(
                matches!(result, Err(WriteError::DecompressedTooLarge { .. })),
                "declared {declared} bytes: {result:?}"
            );
            return;
        }
        Ok(_) => snap::raw::Decoder::new().decompress_vec(body),
        Err(e) => Err(e),
    };
    let Ok(raw) = raw else {
        assert!(
            matches!(result, Err(WriteError::Snappy(_))),
            "not snappy: {result:?}"
        );
        return;
    };
    assert!(
        !matches!(
            result,
            Err(WriteError::Snappy(_) | WriteError::DecompressedTooLarge { .. })
        ),
        "snap decompresses it: {result:?}"
    );

    let Ok(request) = WriteRequest::decode(&raw[..]) else {
        // Not a WriteRequest to prost: refused (the counts may go over a limit first).
        assert!(
            matches!(
                result,
                Err(WriteError::Protobuf(_) | WriteError::Limit { .. })
            ),
            "prost refuses it: {result:?}"
        );
        return;
    };

    let stats: &WriteStats = match (&result, want(&request, config)) {
        (Err(WriteError::Protobuf(e)), _) => {
            // The element counts refuse a few encodings prost skips (groups in unknown
            // fields); prost's own encoding of what it read must pass them.
            let canonical = request.encode_to_vec();
            assert!(
                again && canonical != raw,
                "prost's encoding refused as not protobuf: {e}"
            );
            check(&proto::compress(&canonical), config, false);
            return;
        }
        (Err(WriteError::Limit { .. }), Want::Limit)
        | (Err(WriteError::InvalidLabels { .. }), Want::InvalidLabels)
        | (Err(WriteError::NativeHistograms { .. }), Want::NativeHistograms) => return,
        (Ok(_) | Err(WriteError::Refused { .. }), Want::Apply(series)) => {
            let stats = match &result {
                Ok(stats) => stats,
                Err(WriteError::Refused { stats, .. }) => &**stats,
                Err(_) => unreachable!(),
            };
            // The same series appended directly, one sample at a time.
            let oracle = MemStorage::new();
            let mut appender = oracle.appender();
            let mut refused = 0;
            for (labels, samples) in &series {
                for sample in samples {
                    refused += usize::from(appender.append(labels, *sample).is_err());
                }
            }
            let want_append: AppendStats = appender.commit().expect("commit");
            assert_eq!(stats.append, want_append);
            assert_eq!(refused as u64, want_append.rejected_total());
            assert_eq!(result.is_ok(), refused == 0, "{result:?}");
            assert_eq!(dump(&db), dump(&oracle));
            assert_eq!(db.series_count() as u64, stats.append.new_series);
            let samples = series.iter().map(|(_, s)| s.len()).sum::<usize>();
            assert_eq!(stats.samples, samples);
            let a = &stats.append;
            assert_eq!(a.appended + a.repeats + a.rejected_total(), samples as u64);
            stats
        }
        (result, want) => panic!("answered {result:?} where prost's request wants {want:?}"),
    };
    assert_eq!(stats.series, request.timeseries.len());
    let exemplars: usize = request.timeseries.iter().map(|s| s.exemplars.len()).sum();
    assert_eq!(stats.exemplars_ignored, exemplars);
    let m = stats.metadata;
    assert_eq!(m.applied + m.dropped, request.metadata.len());
    assert!(rw.metadata().len() <= m.applied.min(config.max_metadata_names));
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let config = if mode & 2 == 2 {
        tight()
    } else {
        RemoteWriteConfig::default()
    };
    if mode & 4 == 4 {
        check(&proto::encode_body(&structured(rest)), &config, true);
    } else if mode & 1 == 1 {
        check(&proto::compress(rest), &config, true);
    } else {
        check(rest, &config, true);
    }
});
