//! The HTTP API, in Alertmanager's v2 shapes so `amtool` and Prometheus can talk to
//! tally: `GET/POST /api/v2/silences`, `GET/DELETE /api/v2/silence/{id}`,
//! `GET/POST /api/v2/alerts`, `GET /api/v2/status` (secrets in the configuration shown as
//! `<secret>`), `GET /api/v2/receivers`. [`router`] returns an axum router the server
//! merges.
//! Bad input is answered `400` with a message naming the field; handlers never panic on
//! input. Silence changes save the state file before answering (on tokio's blocking pool:
//! the write is synced to disk).

mod alerts;
mod silences;
mod status;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::Notifier;

/// The API's routes over `notifier`.
pub fn router(notifier: Notifier) -> Router {
    Router::new()
        .route("/api/v2/alerts", get(alerts::list).post(alerts::post))
        .route("/api/v2/alerts/groups", get(alerts::groups))
        .route("/api/v2/silences", get(silences::list).post(silences::post))
        .route("/api/v2/status", get(status::status))
        .route("/api/v2/receivers", get(status::receivers))
        .route(
            "/api/v2/silence/{id}",
            get(silences::get_one).delete(silences::delete),
        )
        .with_state(notifier)
}

/// An API error: a status and a plain-text message, as Alertmanager answers errors.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, format!("{}\n", self.message)).into_response()
    }
}

/// Parses a JSON body, naming the path of the offending field in the error.
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}
