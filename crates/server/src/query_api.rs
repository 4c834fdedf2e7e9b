//! The Prometheus HTTP query API over the time-series database, as Grafana's Prometheus
//! data source and `promtool`/`curl` users expect it: `/api/v1/query`, `query_range`,
//! `series`, `labels`, `label/<name>/values`, `metadata`, `query_exemplars` and
//! `status/buildinfo`, by GET or by POST with a form body.
//!
//! Answers have Prometheus' shape: `{"status":"success","data":...}` (plus `warnings` and
//! `infos` when the query produced annotations), values as strings, timestamps as float
//! seconds; failures `{"status":"error","errorType":...,"error":...}` with Prometheus'
//! status codes (`400` bad_data, `422` execution, `503` timeout/canceled, `500`
//! internal). Queries run on the blocking pool, never on the runtime's threads.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value as Json_};
use tally_model::Labels;
use tally_promql::{Engine, EngineConfig, QueryError, QueryResult, Value};
use tally_storage::{Matcher, SelectHints, Storage};

use crate::app::App;
use crate::error::ApiError;

/// The request's parameters, from the URL and, for a form POST, the body; a name may
/// repeat (`match[]`).
struct Params(Vec<(String, String)>);

impl Params {
    fn new(query: Option<String>, headers: &HeaderMap, body: &Bytes) -> Self {
        let mut pairs: Vec<(String, String)> = query
            .as_deref()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if form {
            pairs.extend(form_urlencoded::parse(body).into_owned());
        }
        Self(pairs)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

pub(crate) fn bad_data(message: impl Into<String>) -> ApiError {
    ApiError::prometheus(StatusCode::BAD_REQUEST, "bad_data", message)
}

/// Parses a time as Prometheus does: RFC 3339, or (float) seconds since the epoch.
/// Returns milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(secs) = s.parse::<f64>() {
        return secs.is_finite().then(|| (secs * 1000.0).round() as i64);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Parses a duration as Prometheus does: float seconds, or `1h30m`-style units (`ms`,
/// `s`, `m`, `h`, `d`, `w`, `y`). Returns milliseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| (secs * 1000.0).round() as i64);
    }
    tally_model::duration::parse_duration(s).ok()
}

fn time_param(p: &Params, name: &str, default: i64) -> Result<i64, ApiError> {
    match p.get(name) {
        None | Some("") => Ok(default),
        Some(v) => parse_time(v).ok_or_else(|| {
            bad_data(format!(
                "invalid parameter \"{name}\": cannot parse \"{v}\" to a valid timestamp"
            ))
        }),
    }
}

fn metric(labels: &Labels) -> Json_ {
    Json_::Object(
        labels
            .iter()
            .map(|(n, v)| (n.to_owned(), Json_::String(v.to_owned())))
            .collect(),
    )
}

/// Writes `s` as a JSON string.
fn push_str(out: &mut String, s: &str) {
    use std::fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Below this many milliseconds (in magnitude) a timestamp's seconds have at most 15
/// significant digits, so the shortest decimal of `ms as f64 / 1000.0` (what Prometheus
/// prints) is exactly the integer seconds and the milliseconds without trailing zeros.
const EXACT_MS: u64 = 1_000_000_000_000_000;

/// Below this magnitude an integral float prints as its integer.
const EXACT_INTEGER: f64 = 9_007_199_254_740_992.0; // 2^53

/// Writes a timestamp as Prometheus does: seconds, with the milliseconds as a fraction
/// only when there are any (`1435781451.781`, `1435781451`). Integer arithmetic, not
/// `core::fmt`'s float formatting, for every timestamp below [`EXACT_MS`]: formatting
/// numbers was a tenth of a large range query's time.
fn push_time(out: &mut String, ms: i64) {
    use std::fmt::Write as _;
    let abs = ms.unsigned_abs();
    if abs >= EXACT_MS {
        if ms % 1000 == 0 {
            let _ = write!(out, "{}", ms / 1000);
        } else {
            let _ = write!(out, "{}", ms as f64 / 1000.0);
        }
        return;
    }
    if ms < 0 {
        out.push('-');
    }
    let mut digits = itoa::Buffer::new();
    out.push_str(digits.format(abs / 1000));
    let mut frac = abs % 1000;
    if frac != 0 {
        out.push('.');
        let mut width = 3;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        let text = digits.format(frac);
        for _ in text.len()..width {
            out.push('0');
        }
        out.push_str(text);
    }
}

/// Writes a sample value as Prometheus does: a JSON string (`"1.5"`, `"+Inf"`, `"NaN"`).
/// Integral values below 2^53 (counters, counts) are written as integers without
/// `core::fmt`; `-0` keeps its sign, as Go prints it.
fn push_value(out: &mut String, v: f64) {
    use std::fmt::Write as _;
    out.push('"');
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else if v.fract() == 0.0 && v.abs() < EXACT_INTEGER && (v != 0.0 || v.is_sign_positive()) {
        // Exact: the value is an integer of at most 53 bits.
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        let _ = write!(out, "{v}");
    }
    out.push('"');
}

fn push_point(out: &mut String, ms: i64, v: f64) {
    out.push('[');
    push_time(out, ms);
    out.push(',');
    push_value(out, v);
    out.push(']');
}

fn push_metric(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, (n, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, n);
        out.push(':');
        push_str(out, v);
    }
    out.push('}');
}

/// The success answer of a query, written straight into one buffer: a range query over
/// many series returns hundreds of thousands of points, and building a JSON tree of them
/// first cost more than evaluating the query (docs/benchmarks.md, PromQL queries).
fn result_body(result: &QueryResult) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"status\":\"success\",\"data\":{\"resultType\":");
    push_str(&mut out, result.value.type_name());
    out.push_str(",\"result\":");
    match &result.value {
        Value::Scalar {
            timestamp_ms,
            value,
        } => push_point(&mut out, *timestamp_ms, *value),
        Value::String {
            timestamp_ms,
            value,
        } => {
            out.push('[');
            push_time(&mut out, *timestamp_ms);
            out.push(',');
            push_str(&mut out, value);
            out.push(']');
        }
        Value::Vector(v) => {
            out.push('[');
            for (i, s) in v.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                push_metric(&mut out, &s.labels);
                out.push_str(",\"value\":");
                push_point(&mut out, s.timestamp_ms, s.value);
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(m) => {
            let points: usize = m.iter().map(|s| s.samples.len()).sum();
            out.reserve(points * 24 + m.len() * 128);
            out.push('[');
            for (i, s) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                push_metric(&mut out, &s.labels);
                out.push_str(",\"values\":[");
                for (j, x) in s.samples.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    push_point(&mut out, x.timestamp_ms, x.value);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push('}');
    for (key, list) in [
        ("warnings", result.annotations.warnings()),
        ("infos", result.annotations.infos()),
    ] {
        if !list.is_empty() {
            out.push_str(",\"");
            out.push_str(key);
            out.push_str("\":[");
            for (i, w) in list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_str(&mut out, w);
            }
            out.push(']');
        }
    }
    out.push('}');
    out
}

pub(crate) fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn query_error(e: QueryError) -> ApiError {
    let message = e.to_string();
    match e {
        QueryError::Parse { .. }
        | QueryError::Unsupported(_)
        | QueryError::InvalidRangeQueryType(_)
        | QueryError::InvalidRange(_) => bad_data(message),
        QueryError::Timeout(_) => {
            ApiError::prometheus(StatusCode::SERVICE_UNAVAILABLE, "timeout", message)
        }
        QueryError::Canceled(_) => {
            ApiError::prometheus(StatusCode::SERVICE_UNAVAILABLE, "canceled", message)
        }
        QueryError::Storage(_) => {
            ApiError::prometheus(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
        }
        _ => ApiError::prometheus(StatusCode::UNPROCESSABLE_ENTITY, "execution", message),
    }
}

/// The engine for one request: the server's limits, with the request's `timeout` (never
/// longer than the server's) and `lookback_delta`.
fn engine(app: &App, p: &Params) -> Result<Engine, ApiError> {
    let mut config: EngineConfig = app.config.query.clone();
    if let Some(t) = p.get("timeout").filter(|t| !t.is_empty()) {
        let ms = parse_duration(t).ok_or_else(|| {
            bad_data(format!(
                "invalid parameter \"timeout\": cannot parse \"{t}\" to a valid duration"
            ))
        })?;
        config.timeout =
            Some(Duration::from_millis(ms as u64).min(config.timeout.unwrap_or(Duration::MAX)));
    }
    if let Some(l) = p.get("lookback_delta").filter(|t| !t.is_empty()) {
        let ms = parse_duration(l).filter(|ms| *ms > 0).ok_or_else(|| {
            bad_data(format!(
                "invalid parameter \"lookback_delta\": cannot parse \"{l}\" to a valid duration"
            ))
        })?;
        config.lookback_delta = Duration::from_millis(ms as u64);
    }
    Ok(Engine::new(config))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(ApiError::prometheus(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("query did not complete: {e}"),
        ))
    })
}

fn success(data: Json_) -> Response {
    Json(json!({"status": "success", "data": data})).into_response()
}

/// The `query` parameter, which must not be empty.
fn query_param(p: &Params) -> Result<String, ApiError> {
    p.get("query")
        .filter(|q| !q.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| bad_data("invalid parameter \"query\": query must not be empty"))
}

/// `GET|POST /api/v1/query`.
pub async fn query(
    State(app): State<App>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::new(q, &headers, &body);
    let expr = query_param(&p)?;
    let time = time_param(&p, "time", app.clock.now_ms())?;
    let engine = engine(&app, &p)?;
    let db = app.tsdb.clone();
    let body = blocking(move || {
        engine
            .instant(&*db, &expr, time)
            .map(|r| result_body(&r))
            .map_err(query_error)
    })
    .await?;
    Ok(json_response(body))
}

/// `GET|POST /api/v1/query_range`.
pub async fn query_range(
    State(app): State<App>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::new(q, &headers, &body);
    let expr = query_param(&p)?;
    let need = |name: &str| {
        p.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| bad_data(format!("invalid parameter \"{name}\": missing")))
    };
    let start = time_param(&p, "start", 0).and_then(|t| need("start").map(|_| t))?;
    let end = time_param(&p, "end", 0).and_then(|t| need("end").map(|_| t))?;
    if end < start {
        return Err(bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    let step_text = need("step")?;
    let step = parse_duration(step_text).ok_or_else(|| {
        bad_data(format!(
            "invalid parameter \"step\": cannot parse \"{step_text}\" to a valid duration"
        ))
    })?;
    if step <= 0 {
        return Err(bad_data("invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer"));
    }
    if (end - start) / step > 11_000 {
        return Err(bad_data("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"));
    }
    let engine = engine(&app, &p)?;
    let db = app.tsdb.clone();
    let body = blocking(move || {
        engine
            .range(&*db, &expr, start, end, step)
            .map(|r| result_body(&r))
            .map_err(query_error)
    })
    .await?;
    Ok(json_response(body))
}

/// Parses every `match[]` selector into matcher lists.
fn selectors(p: &Params, required: bool) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let raw = p.all("match[]");
    if raw.is_empty() && required {
        return Err(bad_data("no match[] parameter provided"));
    }
    let mut sets = Vec::new();
    for s in raw {
        let alternatives = tally_promql::parse_selector(s)
            .map_err(|e| bad_data(format!("invalid parameter \"match[]\": {e}")))?;
        sets.extend(alternatives);
    }
    Ok(sets)
}

fn range(p: &Params) -> Result<(i64, i64), ApiError> {
    Ok((
        time_param(p, "start", i64::MIN / 2)?,
        time_param(p, "end", i64::MAX / 2)?,
    ))
}

fn storage_error(e: tally_storage::StorageError) -> ApiError {
    ApiError::prometheus(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
}

/// `GET|POST /api/v1/series`.
pub async fn series(
    State(app): State<App>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::new(q, &headers, &body);
    let sets = selectors(&p, true)?;
    let (start, end) = range(&p)?;
    let db = app.tsdb.clone();
    let found = blocking(move || {
        let q = db.querier(start, end).map_err(storage_error)?;
        let mut all = BTreeMap::new();
        let hints = SelectHints {
            labels_only: true,
            ..SelectHints::default()
        };
        for m in &sets {
            for s in q.select(m, &hints).map_err(storage_error)? {
                all.insert(s.labels.clone(), ());
            }
        }
        Ok(all.into_keys().collect::<Vec<Labels>>())
    })
    .await?;
    Ok(success(Json_::Array(found.iter().map(metric).collect())))
}

/// `GET|POST /api/v1/labels`.
pub async fn labels(
    State(app): State<App>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::new(q, &headers, &body);
    let sets = selectors(&p, false)?;
    let (start, end) = range(&p)?;
    let db = app.tsdb.clone();
    let names = blocking(move || {
        let q = db.querier(start, end).map_err(storage_error)?;
        let mut names = std::collections::BTreeSet::new();
        if sets.is_empty() {
            names.extend(q.label_names(&[]).map_err(storage_error)?);
        }
        for m in &sets {
            names.extend(q.label_names(m).map_err(storage_error)?);
        }
        Ok(names.into_iter().collect::<Vec<String>>())
    })
    .await?;
    Ok(success(json!(names)))
}

/// `GET /api/v1/label/<name>/values`.
pub async fn label_values(
    State(app): State<App>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p = Params::new(q, &headers, &Bytes::new());
    let sets = selectors(&p, false)?;
    let (start, end) = range(&p)?;
    // Prometheus 3 accepts UTF-8 names written as `U__` + escapes; plain names as they are.
    let db = app.tsdb.clone();
    let values = blocking(move || {
        let q = db.querier(start, end).map_err(storage_error)?;
        let mut values = std::collections::BTreeSet::new();
        if sets.is_empty() {
            values.extend(q.label_values(&name, &[]).map_err(storage_error)?);
        }
        for m in &sets {
            values.extend(q.label_values(&name, m).map_err(storage_error)?);
        }
        Ok(values.into_iter().collect::<Vec<String>>())
    })
    .await?;
    Ok(success(json!(values)))
}

/// `GET /api/v1/metadata`: type, help and unit per metric name, from remote_write
/// metadata and the gateway's families.
pub async fn metadata(State(app): State<App>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let p = Params::new(q, &HeaderMap::new(), &Bytes::new());
    let only = p.get("metric").map(str::to_owned);
    let limit = match p.get("limit") {
        Some(l) if !l.is_empty() => Some(
            l.parse::<usize>()
                .map_err(|_| bad_data(format!("invalid parameter \"limit\": {l}")))?,
        ),
        _ => None,
    };
    let mut out: BTreeMap<String, Json_> = BTreeMap::new();
    for (name, m) in app.remote_write.metadata().snapshot() {
        let entry = serde_json::to_value(&m).unwrap_or(Json_::Null);
        out.insert(name, json!([entry]));
    }
    let families = app.gateway.lock().view_source();
    for family in families
        .aggregated()
        .iter()
        .chain(app.metrics.registry.gather().iter())
    {
        out.entry(family.name.clone()).or_insert_with(|| {
            json!([{
                "type": family.metric_type.as_openmetrics_name(),
                "help": family.help.clone().unwrap_or_default(),
                "unit": family.unit.clone().unwrap_or_default(),
            }])
        });
    }
    let data: serde_json::Map<String, Json_> = out
        .into_iter()
        .filter(|(n, _)| only.as_ref().is_none_or(|o| o == n))
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    Ok(success(Json_::Object(data)))
}

/// `GET|POST /api/v1/query_exemplars`: tally keeps no exemplars yet; the answer is empty.
pub async fn query_exemplars() -> Response {
    success(json!([]))
}

/// `GET /api/v1/status/buildinfo`.
pub async fn buildinfo() -> Response {
    success(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": "",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_model::Sample;
    use tally_promql::{Annotations, VectorSample};
    use tally_storage::Series;

    fn parsed(value: Value) -> Json_ {
        let body = result_body(&QueryResult {
            value,
            annotations: Annotations::default(),
        });
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    proptest::proptest! {
        /// The integer paths write what `core::fmt` writes for the same numbers (the
        /// shortest decimal of the float Prometheus formats).
        #[test]
        fn numbers_are_written_as_the_float_formatting_would(
            ms in proptest::prop_oneof![
                proptest::num::i64::ANY,
                -2_000_000_000_000i64..2_000_000_000_000,
                -5_000i64..5_000,
            ],
            int in -9_007_199_254_740_993i64..9_007_199_254_740_993,
            bits in proptest::num::u64::ANY,
        ) {
            let mut fast = String::new();
            push_time(&mut fast, ms);
            let slow = if ms % 1000 == 0 {
                format!("{}", ms / 1000)
            } else {
                format!("{}", ms as f64 / 1000.0)
            };
            proptest::prop_assert_eq!(&fast, &slow, "{} ms", ms);
            for v in [int as f64, f64::from_bits(bits), -0.0, 0.0] {
                let mut fast = String::new();
                push_value(&mut fast, v);
                let slow = if v.is_nan() {
                    "\"NaN\"".to_owned()
                } else if v.is_infinite() {
                    format!("\"{}Inf\"", if v > 0.0 { "+" } else { "-" })
                } else {
                    format!("\"{v}\"")
                };
                proptest::prop_assert_eq!(&fast, &slow, "{:?}", v);
            }
        }
    }

    #[test]
    fn written_json_escapes_and_formats_as_prometheus() {
        let labels = Labels::from_pairs([("a", "q\"uo\\te\n\u{1}é")]).unwrap();
        let v = parsed(Value::Vector(vec![VectorSample {
            labels: labels.clone(),
            timestamp_ms: 1_500,
            value: f64::NEG_INFINITY,
        }]));
        assert_eq!(
            v,
            json!({"status": "success", "data": {"resultType": "vector", "result": [
                {"metric": {"a": "q\"uo\\te\n\u{1}é"}, "value": [1.5, "-Inf"]}]}})
        );
        let m = parsed(Value::Matrix(vec![Series {
            labels,
            samples: vec![Sample::new(2_000, 0.1), Sample::new(-1_250, f64::NAN)],
        }]));
        assert_eq!(
            m["data"]["result"][0]["values"],
            json!([[2, "0.1"], [-1.25, "NaN"]])
        );
        let s = parsed(Value::String {
            timestamp_ms: 0,
            value: "x\"y".into(),
        });
        assert_eq!(
            s["data"],
            json!({"resultType": "string", "result": [0, "x\"y"]})
        );
    }
}
