//! [`ApiError`]: every error the HTTP API answers with, and its status.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// An error answer: a status and a one-line message naming what is wrong and where.
/// Rate-limit answers carry `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The message (the response body, plain text).
    pub message: String,
    /// Seconds for `Retry-After`, on `429` and `503`.
    pub retry_after: Option<u64>,
    /// For the Prometheus query API: the `errorType` (`bad_data`, `execution`, ...);
    /// the body is then Prometheus' JSON error shape instead of plain text.
    pub error_type: Option<&'static str>,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
            error_type: None,
        }
    }

    /// An error of the Prometheus query API: `{"status":"error","errorType":..,"error":..}`.
    pub fn prometheus(
        status: StatusCode,
        error_type: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            error_type: Some(error_type),
            ..Self::new(status, message)
        }
    }

    /// `400 Bad Request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<tally_gateway::PushError> for ApiError {
    fn from(e: tally_gateway::PushError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        Self::new(status, e.to_string())
    }
}

impl From<crate::durable::LogFailed> for ApiError {
    fn from(e: crate::durable::LogFailed) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = match self.error_type {
            Some(kind) => (
                self.status,
                axum::Json(serde_json::json!({
                    "status": "error",
                    "errorType": kind,
                    "error": self.message,
                })),
            )
                .into_response(),
            None => (self.status, format!("{}\n", self.message)).into_response(),
        };
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
