//! The Prometheus remote_write 1.0 receiver: `POST /api/v1/write`.
//!
//! A request body is a `prometheus.WriteRequest` ([`proto`]) in protobuf, compressed in
//! the snappy block format. [`RemoteWrite`] decodes it, checks it, and appends its
//! samples through the [`Storage`] trait in one [`Appender`](tally_storage::Appender)
//! batch; metric metadata goes to a [`MetadataStore`] for `/api/v1/metadata`.
//!
//! # Mounting
//!
//! [`router`] is a ready `Router` with the one route (state applied), to merge into the
//! server's: `app_router.merge(remote_write::router(rw))`. Or keep a [`RemoteWrite`] in
//! the server's state, implement `FromRef` for it, and route [`write`] directly:
//! `.route("/api/v1/write", post(remote_write::write))`. Either way the handler reads
//! the raw body itself with its own limit (`DefaultBodyLimit` does not apply to it), and
//! a layer that rewrites every `413` answer would hide the receiver's more precise ones.
//! [`RemoteWrite::new`] registers the receiver's counters ([`RemoteWriteMetrics`]) in the
//! registry it is given: pass tally's own (`ServerMetrics::registry`).
//!
//! # Answers
//!
//! Senders retry `5xx` (and `429`) and drop a batch on other `4xx`, so a `5xx` means
//! only "nothing went wrong with your data, try again".
//!
//! | status | when | applied |
//! |---|---|---|
//! | `204` | every sample stored (or identical to the stored one) | all |
//! | `400` | not snappy; not a `WriteRequest`; a series with an empty or repeated label name or no `__name__`; native histogram samples | nothing |
//! | `400` | samples refused by the store (out of order, same timestamp with another value, too old, series limit): the message names the count and the first refused series and reason | all the others |
//! | `413` | body over `max_body_bytes`, or snappy's declared length over `max_decompressed_bytes` (read from the header, before decompressing) | nothing |
//! | `415` | `Content-Encoding` not `snappy`, or a `Content-Type` other than `application/x-protobuf` (remote_write 2.0's `proto=io.prometheus.write.v2.Request` included) | nothing |
//! | `422` | over a count or length limit: series, samples or metadata per request, labels per series, label length; the message names the limit | nothing |
//! | `500` | the store failed (I/O): the sender retries | nothing acknowledged |
//!
//! Missing `Content-Encoding` and `Content-Type` headers are taken as remote_write 1.0
//! (as Prometheus does); `X-Prometheus-Remote-Write-Version` is not required.
//!
//! # What is kept
//!
//! - Label sets are sorted (senders need not sort them) and labels with empty values
//!   dropped (an empty label is an absent one). Names may be any UTF-8, as in
//!   Prometheus 3.
//! - Refused samples do not spoil the batch: the store's ordering rule
//!   ([`tally_storage::append`]) is applied per sample and the rest commits. Prometheus
//!   2.x rejects the whole batch instead; both answer `400`, so the sender moves on.
//! - Native histograms are not supported yet: a request holding any is refused whole
//!   with `400` saying so, rather than silently losing part of it (Prometheus only sends
//!   them with `send_native_histograms: true`).
//! - Exemplars are ignored (counted in `tally_remote_write_exemplars_ignored_total`).
//! - Metadata: the latest type, help and unit per metric name ([`MetadataStore`]).
//!
//! # Memory
//!
//! A request in flight holds at most its body, its decompressed bytes and its decoded
//! form, each bounded by the limits of [`RemoteWriteConfig`]: the element counts are
//! read from the wire before decoding (`scan.rs`), because decoding allocates many times
//! the wire size of an empty element. At most `max_in_flight` requests are read at
//! once; the others wait before their body is read. Of those, at most one per core is
//! decoded and applied at a time (on the blocking pool; see `apply_threads`).
//!
//! # Layout
//!
//! - [`proto`]: the wire messages (`prost` structs) and [`proto::encode_body`].
//! - `scan.rs`: element counts from the wire, without allocating.
//! - `decode.rs`: snappy, limits, protobuf, label validation.
//! - `error.rs`: [`WriteError`] and its status codes.
//! - `metadata.rs`: [`MetadataStore`].
//! - `metrics.rs`: [`RemoteWriteMetrics`].

pub mod proto;

mod borrowed;
mod decode;
mod error;
mod metadata;
mod metrics;
mod scan;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use tally_storage::{AppendStats, Storage};
use tokio::sync::Semaphore;

pub use error::WriteError;
pub use metadata::{Metadata, MetadataStore, MetadataUpdate};
pub use metrics::RemoteWriteMetrics;

use crate::error::ApiError;
use decode::{decode, decompress, Batch, SeriesLabels};

/// The receiver's limits. Every one bounds memory an attacker or a broken sender could
/// make a request use; going over answers `413` (sizes) or `422` (counts, lengths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteWriteConfig {
    /// Largest compressed body (`413`). Default 8 MiB; Prometheus' requests of 2,000
    /// samples are about 50 KiB.
    pub max_body_bytes: usize,
    /// Largest decompressed body, as snappy's header declares it (`413`). Default 32 MiB.
    pub max_decompressed_bytes: usize,
    /// Most `TimeSeries` entries in one request (`422`). Default 20,000 (Prometheus
    /// sends one entry per sample, 2,000 per request by default).
    pub max_series_per_request: usize,
    /// Most samples, exemplars and histogram samples in one request together (`422`).
    /// Default 100,000.
    pub max_samples_per_request: usize,
    /// Most labels in one series, `__name__` included (`422`). Default 64, as the gateway.
    pub max_labels_per_series: usize,
    /// Longest label name or value in bytes (`422`), also the longest metadata field
    /// kept. Default 4,096, as the gateway.
    pub max_label_length: usize,
    /// Most metadata entries in one request (`422`). Default 20,000.
    pub max_metadata_per_request: usize,
    /// Most metric names whose metadata is remembered. Default 20,000.
    pub max_metadata_names: usize,
    /// Requests read at once; others wait before their body is read. Default 8. (At
    /// most one per core of them is decoded and applied at a time.)
    pub max_in_flight: usize,
}

impl Default for RemoteWriteConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 8 << 20,
            max_decompressed_bytes: 32 << 20,
            max_series_per_request: 20_000,
            max_samples_per_request: 100_000,
            max_labels_per_series: 64,
            max_label_length: 4096,
            max_metadata_per_request: 20_000,
            max_metadata_names: 20_000,
            max_in_flight: 8,
        }
    }
}

/// What an applied request did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// `TimeSeries` entries in the request.
    pub series: usize,
    /// Float samples in the request.
    pub samples: usize,
    /// What the store did with them.
    pub append: AppendStats,
    /// Exemplars in the request, ignored.
    pub exemplars_ignored: usize,
    /// What happened to the metadata entries.
    pub metadata: MetadataUpdate,
}

/// The receiver: the store it writes to, its limits, the metadata it keeps and its
/// counters. Cloning is shallow (an atomic reference count).
#[derive(Clone)]
pub struct RemoteWrite(Arc<Inner>);

struct Inner {
    storage: Arc<dyn Storage>,
    config: RemoteWriteConfig,
    metadata: MetadataStore,
    metrics: RemoteWriteMetrics,
    in_flight: Semaphore,
    /// Requests decoded and applied at once, on the blocking pool: one per core.
    applying: Semaphore,
}

impl std::fmt::Debug for RemoteWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteWrite")
            .field("config", &self.0.config)
            .field("metadata_names", &self.0.metadata.len())
            .finish_non_exhaustive()
    }
}

impl RemoteWrite {
    /// A receiver writing to `storage`, counting itself in `registry`.
    pub fn new(
        storage: Arc<dyn Storage>,
        config: RemoteWriteConfig,
        registry: &tally::Registry,
    ) -> Result<Self, tally::RegistryError> {
        Ok(Self(Arc::new(Inner {
            metadata: MetadataStore::new(config.max_metadata_names, config.max_label_length),
            metrics: RemoteWriteMetrics::register(registry)?,
            in_flight: Semaphore::new(config.max_in_flight.max(1)),
            applying: Semaphore::new(apply_threads()),
            storage,
            config,
        })))
    }

    /// The metadata received so far (shared: updates show in it).
    pub fn metadata(&self) -> &MetadataStore {
        &self.0.metadata
    }

    /// The counters.
    pub fn metrics(&self) -> &RemoteWriteMetrics {
        &self.0.metrics
    }

    /// The limits.
    pub fn config(&self) -> &RemoteWriteConfig {
        &self.0.config
    }

    /// Handles one request: checks the headers, reads the body within its limit, then
    /// decodes and applies it on a blocking thread (a durable commit may wait for the
    /// disk). Counts the outcome in the receiver's metrics.
    pub async fn write(&self, headers: &HeaderMap, body: Body) -> Result<WriteStats, WriteError> {
        let result = self.write_uncounted(headers, body).await;
        self.0.metrics.record(&result);
        match &result {
            Err(e) if e.status().is_server_error() => {
                tracing::error!(error = %e, "remote_write failed");
            }
            Err(e) => tracing::debug!(error = %e, "remote_write refused"),
            Ok(_) => {}
        }
        result
    }

    async fn write_uncounted(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<WriteStats, WriteError> {
        check_headers(headers)?;
        let limit = self.0.config.max_body_bytes;
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(WriteError::BodyTooLarge { limit });
        }
        // The semaphore is never closed; waiting here holds no body in memory.
        let _permit = self
            .0
            .in_flight
            .acquire()
            .await
            .map_err(|e| WriteError::Internal(e.to_string()))?;
        let body = read_body(body, limit).await?;
        // Bodies are read concurrently, but decoded and applied on at most one blocking
        // thread per core (more would only wait for the head's write lock).
        let _applying = self
            .0
            .applying
            .acquire()
            .await
            .map_err(|e| WriteError::Internal(e.to_string()))?;
        let receiver = self.clone();
        tokio::task::spawn_blocking(move || receiver.apply_body(&body))
            .await
            .map_err(|e| WriteError::Internal(e.to_string()))?
    }

    /// Decodes a request body (snappy-compressed `WriteRequest`) and applies it, on the
    /// calling thread, without counting it in the metrics. [`write`](Self::write) is the
    /// full request path; this is its synchronous core.
    pub fn apply_body(&self, body: &[u8]) -> Result<WriteStats, WriteError> {
        let raw = decompress(body, &self.0.config)?;
        let batch = decode(&raw, &self.0.config)?;
        self.apply(batch)
    }

    fn apply(&self, batch: Batch<'_>) -> Result<WriteStats, WriteError> {
        let mut stats = WriteStats {
            series: batch.series.len(),
            samples: batch.samples,
            exemplars_ignored: batch.exemplars,
            metadata: self.0.metadata.update(&batch.metadata),
            append: AppendStats::default(),
        };
        if batch.samples == 0 {
            return Ok(stats);
        }
        let mut appender = self.0.storage.appender();
        let mut first = None;
        for (labels, samples) in &batch.series {
            for sample in samples {
                let appended = match labels {
                    SeriesLabels::Built(labels) => appender.append(labels, *sample),
                    SeriesLabels::Pairs(range) => {
                        appender.append_pairs(&batch.pairs[range.clone()], *sample)
                    }
                };
                if let Err(e) = appended {
                    first.get_or_insert(e);
                }
            }
        }
        stats.append = appender.commit()?;
        match first {
            Some(first) => Err(WriteError::Refused {
                first: Box::new(first),
                stats: Box::new(stats),
            }),
            None => Ok(stats),
        }
    }
}

/// How many requests are decoded and applied at once: one per core.
///
/// Why not `max_in_flight`: each thread that decodes requests keeps its own cache of
/// freed small blocks in glibc's allocator (the tcache, up to seven blocks of each size
/// up to 1 KiB), which stay resident and pin the pages around them, so fewer threads
/// doing the work leave less memory resident; more than one per core would mostly wait
/// for the head's write lock anyway. Measured with `tally bench remote-write` (10,000
/// series, 14.4 M samples, 2 cores, 5 alternating runs each): RSS during the load mean
/// 37.2–38.9 MB against 41.0–44.8, peak 43.4–45.0 against 47.9–57.2, after the load's
/// last checkpoint 27.3–29.0 against 30.1–32.1; samples/s within the machine's spread.
/// (With the tcache switched off altogether, `GLIBC_TUNABLES=glibc.malloc.tcache_count=0`,
/// the server ended the load at 25.1–25.9 MB against 29.4–29.6.)
fn apply_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// `POST /api/v1/write`: the handler, for a router whose state gives a [`RemoteWrite`].
/// Answers `204` with no body, or the error's status with a one-line message.
pub async fn write(
    State(receiver): State<RemoteWrite>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match receiver.write(&headers, body).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// A router with `POST /api/v1/write` and its state applied, to merge into the server's.
pub fn router(receiver: RemoteWrite) -> Router {
    Router::new()
        .route("/api/v1/write", post(write))
        .with_state(receiver)
}

fn check_headers(headers: &HeaderMap) -> Result<(), WriteError> {
    let text = |v: &header::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
    if let Some(v) = headers.get(header::CONTENT_ENCODING) {
        if !v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"snappy") {
            return Err(WriteError::Encoding(text(v)));
        }
    }
    if let Some(v) = headers.get(header::CONTENT_TYPE) {
        let value = text(v);
        let mut parts = value.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        let protobuf = media.eq_ignore_ascii_case("application/x-protobuf");
        // remote_write 2.0 names its message in a `proto` parameter; 1.0 may name its own.
        let v1 = parts.all(|p| match p.split_once('=') {
            Some((name, message)) if name.trim().eq_ignore_ascii_case("proto") => {
                message.trim().trim_matches('"') == "prometheus.WriteRequest"
            }
            _ => true,
        });
        if !(protobuf && v1) {
            return Err(WriteError::ContentType(value));
        }
    }
    Ok(())
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, WriteError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(WriteError::BodyTooLarge { limit })
        }
        Err(e) => Err(WriteError::Protobuf(format!("reading the body: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| (n.clone(), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn remote_write_1_headers_are_accepted() {
        for h in [
            headers(&[]),
            headers(&[
                (header::CONTENT_ENCODING, "snappy"),
                (header::CONTENT_TYPE, "application/x-protobuf"),
            ]),
            headers(&[(
                header::CONTENT_TYPE,
                "application/x-protobuf; proto=prometheus.WriteRequest",
            )]),
            headers(&[(header::CONTENT_ENCODING, "SNAPPY")]),
        ] {
            check_headers(&h).unwrap();
        }
    }

    #[test]
    fn other_encodings_and_types_are_415() {
        for h in [
            headers(&[(header::CONTENT_ENCODING, "gzip")]),
            headers(&[(header::CONTENT_TYPE, "text/plain")]),
            headers(&[(
                header::CONTENT_TYPE,
                "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            )]),
        ] {
            let e = check_headers(&h).unwrap_err();
            assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{e}");
        }
    }
}
