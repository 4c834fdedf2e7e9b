//! The Pushgateway write API: `PUT`/`POST`/`DELETE /metrics/job/<job>{/<label>/<value>}`.
//!
//! Besides Pushgateway's API, three optional request headers (see
//! `docs/format/push-protocol.md`): `Tally-Process-Start` (the client process' start time,
//! seconds since the epoch), `Tally-Push-Sequence` (the client's push counter) and
//! `Tally-TTL` (this group's time to live: `90`, `90s`, `15m`, `2h`, `500ms`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use tally_gateway::{parse_grouping_path, Push, PushMethod, PushOutcome};
use tally_model::expfmt::{self, Format};
use tally_model::Labels;

use crate::app::{App, Client};
use crate::durable::{PushFields, Record};
use crate::error::ApiError;

/// The longest TTL a push may ask for: 30 days.
const MAX_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// Parses a duration such as `90`, `90s`, `500ms`, `15m`, `2h`, `1d` into milliseconds.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: f64 = number.parse().ok()?;
    let scale = match unit {
        "" | "s" => 1000.0,
        "ms" => 1.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    let ms = n * scale;
    (0.0..9e18).contains(&ms).then_some(ms as i64)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("header {name} is not valid text"))),
    }
}

/// The parts of a push request besides the body.
struct PushHeaders {
    format: Format,
    start_time: Option<f64>,
    sequence: Option<u64>,
    ttl_ms: Option<i64>,
}

fn push_headers(headers: &HeaderMap) -> Result<PushHeaders, ApiError> {
    let content_type = header_str(headers, header::CONTENT_TYPE.as_str())?.unwrap_or("");
    let format = if content_type.starts_with("application/vnd.google.protobuf") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "protobuf pushes are not supported; push the text format (text/plain; version=0.0.4)",
        ));
    } else if content_type.starts_with("application/openmetrics-text") {
        Format::OpenMetrics
    } else {
        Format::Text
    };
    let start_time = header_str(headers, "tally-process-start")?
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite())
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "header Tally-Process-Start: {v:?} is not a time in seconds"
                    ))
                })
        })
        .transpose()?;
    let sequence = header_str(headers, "tally-push-sequence")?
        .map(|v| {
            v.trim().parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "header Tally-Push-Sequence: {v:?} is not an unsigned integer"
                ))
            })
        })
        .transpose()?;
    let ttl_ms = header_str(headers, "tally-ttl")?
        .map(|v| {
            parse_duration_ms(v)
                .filter(|ms| *ms > 0 && *ms <= MAX_TTL_MS)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "header Tally-TTL: {v:?} is not a duration between 1ms and 30d \
                         (like 90s, 15m, 2h)"
                    ))
                })
        })
        .transpose()?;
    Ok(PushHeaders {
        format,
        start_time,
        sequence,
        ttl_ms,
    })
}

fn grouping_key(app: &App, path: &str) -> Result<Labels, ApiError> {
    parse_grouping_path(path).map_err(|e| {
        app.metrics.rejections.with(&["key"]).inc();
        ApiError::bad_request(format!("invalid grouping key /metrics/{path}: {e}"))
    })
}

/// Records a failed push on its group (if it exists) and in the log.
async fn fail(app: &App, key: &Labels, reason: &str, error: ApiError) -> ApiError {
    app.metrics.rejections.with(&[reason]).inc();
    app.metrics.pushes.with(&["rejected"]).inc();
    let now = app.clock.now_ms();
    let lsn = {
        let mut gw = app.gateway.lock();
        if gw.group(key).is_none() {
            return error;
        }
        gw.record_failure(key, now);
        app.store.append(&Record::Failure {
            time_ms: now,
            key: key.clone(),
        })
    };
    // The failure time is informational; the request fails either way.
    let _ = app.store.wait(lsn).await;
    error
}

async fn handle_push(
    app: App,
    method: PushMethod,
    client: Client,
    path: String,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    app.check_rate(&client.0)?;
    let key = grouping_key(&app, &path)?;
    let h = match push_headers(&headers) {
        Ok(h) => h,
        Err(e) => return Err(fail(&app, &key, "content", e).await),
    };
    let families = match expfmt::parse(&body, h.format) {
        Ok(f) => f,
        Err(e) => {
            let error = ApiError::bad_request(format!("invalid push body: {e}"));
            return Err(fail(&app, &key, "parse", error).await);
        }
    };
    let samples: usize = families.iter().map(|f| f.metrics.len()).sum();
    let now = app.clock.now_ms();
    // The log record is framed (body copied, checksummed) before the gateway is locked;
    // under the lock it is only appended to the log's buffer.
    let mut frame = Vec::with_capacity(body.len() + 128);
    Record::encode_push(
        &mut frame,
        &PushFields {
            time_ms: now,
            method,
            key: &key,
            ttl_ms: h.ttl_ms,
            start_time: h.start_time,
            sequence: h.sequence,
            openmetrics: h.format == Format::OpenMetrics,
        },
        &body,
    );
    let push = Push {
        method,
        key: key.clone(),
        families,
        ttl_ms: h.ttl_ms,
        start_time: h.start_time,
        sequence: h.sequence,
    };
    let applied = {
        let mut gw = app.gateway.lock();
        match gw.push(push, now) {
            Ok(PushOutcome::Stale) => Ok(None),
            Ok(PushOutcome::Applied { .. }) => Ok(Some(app.store.append_encoded(&frame))),
            Err(e) => Err(e),
        }
    };
    drop(frame);
    let lsn = match applied {
        Ok(lsn) => lsn,
        Err(e) => {
            let reason = if e.status() == 422 {
                "limit"
            } else {
                "content"
            };
            return Err(fail(&app, &key, reason, e.into()).await);
        }
    };
    match lsn {
        Some(lsn) => {
            app.store.wait(lsn).await?;
            app.metrics.pushes.with(&["applied"]).inc();
            app.metrics.samples.inc_by(samples as u64);
            app.maybe_compact();
        }
        None => app.metrics.pushes.with(&["stale"]).inc(),
    }
    Ok(StatusCode::OK)
}

/// `PUT`: replace the group.
pub async fn put(
    State(app): State<App>,
    client: Client,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    handle_push(app, PushMethod::Put, client, path, headers, body).await
}

/// `POST`: replace the pushed families of the group.
pub async fn post(
    State(app): State<App>,
    client: Client,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    handle_push(app, PushMethod::Post, client, path, headers, body).await
}

/// `DELETE`: remove the group (its counters retire into the aggregated view).
pub async fn delete(
    State(app): State<App>,
    client: Client,
    Path(path): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.check_rate(&client.0)?;
    let key = grouping_key(&app, &path)?;
    let now = app.clock.now_ms();
    let lsn = {
        let mut gw = app.gateway.lock();
        gw.delete(&key).then(|| {
            app.store.append(&Record::Delete {
                time_ms: now,
                key: key.clone(),
            })
        })
    };
    if let Some(lsn) = lsn {
        app.store.wait(lsn).await?;
        app.metrics.deletes.inc();
    }
    Ok(StatusCode::ACCEPTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("90"), Some(90_000));
        assert_eq!(parse_duration_ms("90s"), Some(90_000));
        assert_eq!(parse_duration_ms("500ms"), Some(500));
        assert_eq!(parse_duration_ms("1.5m"), Some(90_000));
        assert_eq!(parse_duration_ms("2h"), Some(7_200_000));
        assert_eq!(parse_duration_ms("1d"), Some(86_400_000));
        assert_eq!(parse_duration_ms("soon"), None);
        assert_eq!(parse_duration_ms("5y"), None);
        assert_eq!(parse_duration_ms(""), None);
    }
}
