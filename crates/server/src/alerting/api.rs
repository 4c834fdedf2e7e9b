//! `GET /api/v1/rules`, `GET /api/v1/alerts` (Prometheus' shapes, bodies from
//! [`tally_rules::eval::api`]) and `POST /-/reload`.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::app::App;
use crate::error::ApiError;
use crate::query_api::{bad_data, json_response};

/// Prometheus' envelope around a `data` already written as JSON.
fn success(data_json: &str) -> Response {
    json_response(format!("{{\"status\":\"success\",\"data\":{data_json}}}"))
}

/// `GET /api/v1/rules` with Prometheus' filters (`type`, `rule_name[]`, `rule_group[]`,
/// `file[]`, `exclude_alerts`).
pub async fn rules(State(app): State<App>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let pairs: Vec<(String, String)> = q
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let query = tally_rules::eval::api::RulesQuery::from_params(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .map_err(|e| bad_data(e.to_string()))?;
    let data = tally_rules::eval::api::rules(&app.alerting.rules, &query);
    Ok(success(&data.to_json()))
}

/// `GET /api/v1/alerts`: every pending and firing alert.
pub async fn alerts(State(app): State<App>) -> Response {
    success(&tally_rules::eval::api::alerts(&app.alerting.rules).to_json())
}

/// `POST /-/reload` (and `PUT`, as Prometheus allows): rule files and alerting
/// configuration read again; `500` with the reason when they are broken (the previous
/// ones keep running).
pub async fn reload(State(app): State<App>) -> Result<&'static str, ApiError> {
    let alerting = app.alerting.clone();
    let result = tokio::task::spawn_blocking(move || alerting.reload())
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reload did not complete: {e}"),
            )
        })?;
    result.map(|()| "OK\n").map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}"),
        )
    })
}
