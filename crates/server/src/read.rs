//! The read side: `GET /metrics` (aggregated view and tally's own metrics),
//! `GET /metrics/groups` (the per-group view, as Pushgateway serves it) and
//! `GET /api/v1/groups` (groups as JSON).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tally_model::expfmt::{self, Encoder};
use tally_model::MetricFamily;

use crate::app::App;

fn exposition(headers: &HeaderMap, families: &[MetricFamily]) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let negotiated = expfmt::negotiate(accept);
    let encoder = Encoder::new(negotiated.format).with_escaping(negotiated.escaping);
    let mut body = Vec::with_capacity(16 << 10);
    expfmt::encode_with(families, &encoder, &mut body);
    let content_type = HeaderValue::from_str(&negotiated.content_type()).unwrap_or(
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `GET /metrics`: the aggregated view, then tally's own metrics.
pub async fn aggregated(State(app): State<App>, headers: HeaderMap) -> Response {
    // Only the copy is made under the lock; pushes go on while the view is built.
    let source = app.gateway.lock().view_source();
    let mut families = source.aggregated();
    families.extend(app.own_metrics(&source));
    exposition(&headers, &families)
}

/// `GET /metrics/groups`: every group's last push, with `push_time_seconds`.
pub async fn groups_exposition(State(app): State<App>, headers: HeaderMap) -> Response {
    let source = app.gateway.lock().view_source();
    let families = source.group_view();
    exposition(&headers, &families)
}

/// One group in `GET /api/v1/groups`.
#[derive(Debug, Serialize)]
pub struct GroupJson {
    /// The grouping key.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Last successful push, seconds since the epoch.
    pub last_push_seconds: f64,
    /// Last failed push, seconds since the epoch.
    pub last_failure_seconds: Option<f64>,
    /// Seconds until the group expires (0 when due).
    pub ttl_left_seconds: f64,
    /// Series in the group.
    pub series: usize,
    /// Metric family names.
    pub families: Vec<String>,
}

/// `GET /api/v1/groups`: `{"status":"success","data":[...]}`, sorted by labels.
pub async fn groups_json(State(app): State<App>) -> Json<serde_json::Value> {
    let now = app.clock.now_ms();
    let mut groups: Vec<GroupJson> = {
        let gw = app.gateway.lock();
        gw.groups()
            .map(|g| GroupJson {
                labels: g
                    .key
                    .iter()
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect(),
                last_push_seconds: g.last_push_ms as f64 / 1000.0,
                last_failure_seconds: g.last_failure_ms.map(|t| t as f64 / 1000.0),
                ttl_left_seconds: ((g.expires_at_ms() - now).max(0)) as f64 / 1000.0,
                series: g.series(),
                families: g.families.iter().map(|f| f.name.to_string()).collect(),
            })
            .collect()
    };
    groups.sort_by(|a, b| a.labels.cmp(&b.labels));
    Json(serde_json::json!({ "status": "success", "data": groups }))
}
