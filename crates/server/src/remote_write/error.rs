//! [`WriteError`]: why a remote_write request was not (wholly) applied, and its status.

use axum::http::StatusCode;
use tally_storage::{AppendError, StorageError};

use super::WriteStats;
use crate::error::ApiError;

/// Why a remote_write request failed. Each variant knows its status code
/// ([`WriteError::status`]); senders retry `5xx` answers and drop the batch on `4xx`.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// `Content-Encoding` is not `snappy` (`415`).
    #[error("unsupported Content-Encoding {0:?}: remote_write 1.0 bodies are snappy-compressed (Content-Encoding: snappy)")]
    Encoding(String),
    /// `Content-Type` is not remote_write 1.0's protobuf (`415`).
    #[error("unsupported Content-Type {0:?}: this receiver speaks remote_write 1.0 (application/x-protobuf, prometheus.WriteRequest)")]
    ContentType(String),
    /// The compressed body is larger than allowed (`413`).
    #[error("request body over the limit of {limit} bytes (max_body_bytes)")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// Snappy's header declares a decompressed size larger than allowed (`413`). Checked
    /// before decompressing.
    #[error("decompressed body of {declared} bytes over the limit of {limit} bytes (max_decompressed_bytes)")]
    DecompressedTooLarge {
        /// The size the snappy header declares.
        declared: usize,
        /// The limit.
        limit: usize,
    },
    /// The body is not a snappy block (`400`).
    #[error("body is not snappy block-compressed data: {0}")]
    Snappy(String),
    /// The decompressed body is not a `WriteRequest` (`400`).
    #[error("body is not a protobuf prometheus.WriteRequest: {0}")]
    Protobuf(String),
    /// The request is over a count limit (`422`); nothing was applied.
    #[error("{what}: {found} is over the limit of {limit} ({name})")]
    Limit {
        /// What was counted, in words (`series in the request`).
        what: String,
        /// How many there were.
        found: usize,
        /// The limit.
        limit: usize,
        /// The configuration field that sets the limit.
        name: &'static str,
        /// Samples the request held (refused with it).
        samples: usize,
    },
    /// A series' labels cannot name a series (`400`); nothing was applied.
    #[error("series {index} {labels}: {reason}")]
    InvalidLabels {
        /// Position of the series in the request.
        index: usize,
        /// The labels as sent (shortened).
        labels: String,
        /// What is wrong.
        reason: String,
        /// Samples the request held (refused with it).
        samples: usize,
    },
    /// The request holds native histogram samples, which are not supported yet (`400`);
    /// nothing was applied.
    #[error("native histograms are not supported yet: {count} histogram samples, the first in series {index} {labels}; send float samples only (send_native_histograms: false)")]
    NativeHistograms {
        /// Histogram samples in the request.
        count: usize,
        /// Position of the first series holding one.
        index: usize,
        /// Its labels (shortened).
        labels: String,
        /// Float samples the request held (refused with it).
        samples: usize,
    },
    /// Some samples were refused by the store (out of order, ...); the others were
    /// committed (`400`, so the sender does not resend the batch).
    #[error("{} of {} samples refused, the rest stored; first: {first}", stats.append.rejected_total(), stats.samples)]
    Refused {
        /// The first refusal.
        first: Box<AppendError>,
        /// What the request did (the committed part).
        stats: Box<WriteStats>,
    },
    /// The store failed (`500`: the sender retries).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The request could not be handled (a bug: the worker panicked) (`500`).
    #[error("internal error: {0}")]
    Internal(String),
}

impl WriteError {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            WriteError::Encoding(_) | WriteError::ContentType(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            WriteError::BodyTooLarge { .. } | WriteError::DecompressedTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            WriteError::Snappy(_)
            | WriteError::Protobuf(_)
            | WriteError::InvalidLabels { .. }
            | WriteError::NativeHistograms { .. }
            | WriteError::Refused { .. } => StatusCode::BAD_REQUEST,
            WriteError::Limit { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            WriteError::Storage(_) | WriteError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Samples refused as a whole with the request, and the reason (a metric label),
    /// for requests refused after their samples were counted. `Refused` is counted by
    /// its own reasons.
    pub fn refused_samples(&self) -> Option<(&'static str, usize)> {
        match self {
            WriteError::Limit { samples, .. } => Some(("request_limit", *samples)),
            WriteError::InvalidLabels { samples, .. } => Some(("invalid_labels", *samples)),
            WriteError::NativeHistograms { samples, count, .. } => {
                Some(("native_histogram", samples + count))
            }
            _ => None,
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        ApiError::new(e.status(), e.to_string())
    }
}
