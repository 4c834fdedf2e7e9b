//! `/api/v2/silences` and `/api/v2/silence/{id}`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{parse_json, ApiError};
use crate::matcher::{Matcher, Matchers};
use crate::notifier::SilenceChangeError;
use crate::silence::{Silence, SilenceError, SilenceInput};
use crate::state::{match_type, matcher_parts};
use crate::Notifier;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MatcherJson {
    name: String,
    value: String,
    is_regex: bool,
    #[serde(default = "yes")]
    is_equal: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PostableSilence {
    id: Option<String>,
    matchers: Vec<MatcherJson>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    created_by: String,
    comment: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SilenceStatus {
    state: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GettableSilence {
    id: String,
    status: SilenceStatus,
    updated_at: String,
    matchers: Vec<MatcherJson>,
    starts_at: String,
    ends_at: String,
    created_by: String,
    comment: String,
}

fn gettable(s: &Silence, now: DateTime<Utc>) -> GettableSilence {
    let time = |t| crate::payload::go_time(Some(t));
    GettableSilence {
        id: s.id.clone(),
        status: SilenceStatus {
            state: s.state(now).as_str(),
        },
        updated_at: time(s.updated_at),
        matchers: s
            .matchers
            .0
            .iter()
            .map(|m| {
                let (is_regex, is_equal) = matcher_parts(m);
                MatcherJson {
                    name: m.name.clone(),
                    value: m.value.clone(),
                    is_regex,
                    is_equal,
                }
            })
            .collect(),
        starts_at: time(s.starts_at),
        ends_at: time(s.ends_at),
        created_by: s.created_by.clone(),
        comment: s.comment.clone(),
    }
}

fn change_error(e: SilenceChangeError) -> ApiError {
    match e {
        SilenceChangeError::Silence(SilenceError::NotFound(id)) => {
            ApiError::not_found(format!("silence {id} not found"))
        }
        SilenceChangeError::Silence(e @ SilenceError::TooMany(_)) => ApiError {
            status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            message: e.to_string(),
        },
        SilenceChangeError::Silence(e) => ApiError::bad_request(e.to_string()),
        SilenceChangeError::Save(e) => ApiError::internal(format!("silence not saved: {e}")),
    }
}

/// `GET /api/v2/silences`.
pub(crate) async fn list(State(n): State<Notifier>) -> Json<Vec<GettableSilence>> {
    let now = n.now();
    Json(n.silences().iter().map(|s| gettable(s, now)).collect())
}

/// `GET /api/v2/silence/{id}`.
pub(crate) async fn get_one(
    State(n): State<Notifier>,
    Path(id): Path<String>,
) -> Result<Json<GettableSilence>, ApiError> {
    let silence = n
        .silence(&id)
        .ok_or_else(|| ApiError::not_found(format!("silence {id} not found")))?;
    Ok(Json(gettable(&silence, n.now())))
}

/// `POST /api/v2/silences`: creates, or updates when `id` is given; answers
/// `{"silenceID": id}`.
pub(crate) async fn post(
    State(n): State<Notifier>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let posted: PostableSilence = parse_json(&body)?;
    let mut matchers = Vec::new();
    for (i, m) in posted.matchers.into_iter().enumerate() {
        let matcher = Matcher::new(m.name, match_type(m.is_regex, m.is_equal), m.value)
            .map_err(|e| ApiError::bad_request(format!("matchers[{i}]: {e}")))?;
        if matcher.name.is_empty() {
            return Err(ApiError::bad_request(format!(
                "matchers[{i}].name: must not be empty"
            )));
        }
        matchers.push(matcher);
    }
    let input = SilenceInput {
        id: posted.id.filter(|id| !id.is_empty()),
        matchers: Matchers(matchers),
        starts_at: posted.starts_at,
        ends_at: posted.ends_at,
        created_by: posted.created_by,
        comment: posted.comment,
    };
    // Saving fsyncs: off the async workers.
    let id = tokio::task::spawn_blocking(move || n.upsert_silence(input))
        .await
        .map_err(|e| ApiError::internal(format!("silence not saved: {e}")))?
        .map_err(change_error)?;
    Ok(Json(serde_json::json!({ "silenceID": id })))
}

/// `DELETE /api/v2/silence/{id}`: expires it.
pub(crate) async fn delete(
    State(n): State<Notifier>,
    Path(id): Path<String>,
) -> Result<(), ApiError> {
    tokio::task::spawn_blocking(move || n.expire_silence(&id))
        .await
        .map_err(|e| ApiError::internal(format!("silence not saved: {e}")))?
        .map_err(change_error)
}
