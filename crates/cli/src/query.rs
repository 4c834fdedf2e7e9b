//! `tally query EXPR`: runs a PromQL query against a server's Prometheus API (tally's or
//! Prometheus' own) and prints the result as a table or as the API's JSON.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::Value;

/// `tally query` flags.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The PromQL expression.
    expr: String,
    /// The server.
    #[arg(long, env = "TALLY_URL", default_value = "http://127.0.0.1:9091")]
    url: String,
    /// A range query (`/api/v1/query_range`) instead of an instant one.
    #[arg(long)]
    range: bool,
    /// Evaluation time (instant) or start (range): RFC 3339 or Unix seconds. Default:
    /// now (instant), now minus 1h (range).
    #[arg(long)]
    start: Option<String>,
    /// End of a range query: RFC 3339 or Unix seconds. Default: now.
    #[arg(long)]
    end: Option<String>,
    /// Step of a range query (e.g. 15s, 1m).
    #[arg(long, default_value = "1m")]
    step: String,
    /// Print the API's JSON answer instead of a table.
    #[arg(long)]
    json: bool,
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Runs the query and prints its answer.
pub fn run(args: &QueryArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let base = args.url.trim_end_matches('/');
    let now = now_secs();
    let mut params: Vec<(&str, String)> = vec![("query", args.expr.clone())];
    let path = if args.range {
        params.push((
            "start",
            args.start
                .clone()
                .unwrap_or_else(|| (now - 3600.0).to_string()),
        ));
        params.push(("end", args.end.clone().unwrap_or_else(|| now.to_string())));
        params.push(("step", args.step.clone()));
        "/api/v1/query_range"
    } else {
        params.push((
            "time",
            args.start.clone().unwrap_or_else(|| now.to_string()),
        ));
        "/api/v1/query"
    };
    let url = format!("{base}{path}");
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(130)))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let form: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut response = agent
        .post(&url)
        .send_form(form)
        .with_context(|| format!("querying {url}"))?;
    let status = response.status();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .with_context(|| format!("reading the answer of {url}"))?;
    let answer: Value = serde_json::from_str(&body)
        .with_context(|| format!("{url} answered {status} with something that is not JSON"))?;
    if answer["status"] != "success" {
        bail!(
            "{url} answered {status}: {} ({})",
            answer["error"].as_str().unwrap_or("no message"),
            answer["errorType"].as_str().unwrap_or("unknown")
        );
    }
    if args.json {
        writeln!(out, "{answer:#}")?;
        return Ok(());
    }
    render(&answer["data"], out)?;
    for w in answer["warnings"].as_array().into_iter().flatten() {
        writeln!(out, "warning: {}", w.as_str().unwrap_or_default())?;
    }
    Ok(())
}

fn labels(metric: &Value) -> String {
    let Some(map) = metric.as_object() else {
        return "{}".into();
    };
    let name = map.get("__name__").and_then(Value::as_str).unwrap_or("");
    let rest: Vec<String> = map
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| format!("{k}={:?}", v.as_str().unwrap_or_default()))
        .collect();
    format!("{name}{{{}}}", rest.join(", "))
}

/// Prints a result: one line per series (`labels value` or `labels` then `time value`
/// lines), or the scalar/string.
fn render(data: &Value, out: &mut dyn Write) -> anyhow::Result<()> {
    let result = &data["result"];
    match data["resultType"].as_str() {
        Some("vector") => {
            for s in result.as_array().into_iter().flatten() {
                writeln!(
                    out,
                    "{} {}",
                    labels(&s["metric"]),
                    s["value"][1].as_str().unwrap_or("")
                )?;
            }
        }
        Some("matrix") => {
            for s in result.as_array().into_iter().flatten() {
                writeln!(out, "{}", labels(&s["metric"]))?;
                for v in s["values"].as_array().into_iter().flatten() {
                    writeln!(out, "  {} {}", v[0], v[1].as_str().unwrap_or(""))?;
                }
            }
        }
        Some("scalar") | Some("string") => {
            writeln!(out, "{}", result[1].as_str().unwrap_or(""))?;
        }
        other => bail!("unknown result type {other:?}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables() {
        let mut out = Vec::new();
        render(
            &json!({"resultType": "vector", "result": [
                {"metric": {"__name__": "up", "job": "a"}, "value": [1.5, "1"]}]}),
            &mut out,
        )
        .unwrap();
        render(
            &json!({"resultType": "scalar", "result": [1.5, "2"]}),
            &mut out,
        )
        .unwrap();
        render(
            &json!({"resultType": "matrix", "result": [
                {"metric": {"job": "a"}, "values": [[1, "1"], [2, "3"]]}]}),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "up{job=\"a\"} 1\n2\n{job=\"a\"}\n  1 1\n  2 3\n"
        );
    }
}
