//! `tally push`: send an exposition from a file or standard input to a push gateway
//! (tally or Prometheus Pushgateway), or delete a group.
//!
//! The grouping key becomes the URL path `/metrics/job/<job>{/<label>/<value>}` the way
//! Pushgateway's clients write it: a value that is empty or contains `/` is sent as
//! `<label>@base64/<URL-safe base64>` (an empty value as `=`), any other value is
//! percent-encoded. The body is parsed locally with [`tally_model::expfmt::parse`] before
//! anything is sent, so a malformed file is reported as `LINE:COL: reason` and nothing
//! reaches the gateway.
//!
//! Exit status (set by `main`): 0 when the gateway accepted the push; 1 when the body is
//! invalid or the gateway refused it with a `4xx`; 2 when the input cannot be read, the
//! gateway cannot be reached or answers with a `5xx`.

use std::fmt::Write as _;
use std::io::{Read as _, Write};
use std::time::Duration;

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use tally_model::expfmt::{self, Format};
use tally_model::name::is_legacy_label_name;

use crate::check_metrics::Outcome;

/// How long a whole push (connect, send, answer) may take.
const PUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest TTL a push may ask for (the server's limit too): 30 days.
const MAX_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// The HTTP method of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// Replace the whole group.
    Put,
    /// Replace only the metric families present in the body.
    Post,
}

/// Arguments of `tally push`.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The gateway's base URL (`/metrics/job/...` is appended).
    #[arg(long, default_value = "http://127.0.0.1:9091")]
    url: String,

    /// The `job` label of the grouping key.
    #[arg(long)]
    job: String,

    /// Another grouping-key label, as NAME=VALUE (repeatable; e.g. instance=host-1).
    #[arg(long = "label", value_name = "NAME=VALUE")]
    labels: Vec<String>,

    /// PUT replaces the group, POST replaces only the families in the body.
    #[arg(long, value_enum, default_value_t = Method::Put)]
    method: Method,

    /// Delete the group instead of pushing (its counters retire into tally's totals).
    #[arg(long, conflicts_with_all = ["method", "ttl", "source"])]
    delete: bool,

    /// How long the group lives without a push on a tally server (e.g. 90s, 10m, 2h);
    /// sent as the `Tally-TTL` header, which Pushgateway ignores.
    #[arg(long)]
    ttl: Option<String>,

    /// The exposition to push: a file or `-` for standard input. Text format 0.0.4, or
    /// OpenMetrics when its last line is `# EOF`.
    #[arg(value_name = "FILE|-", default_value = "-")]
    source: String,
}

/// The grouping key, validated: `job` first, then the other labels in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupingKey {
    pairs: Vec<(String, String)>,
}

impl GroupingKey {
    /// Checks the job and `NAME=VALUE` labels the way the gateway will.
    pub fn new(job: &str, labels: &[String]) -> anyhow::Result<Self> {
        if job.is_empty() {
            bail!("--job must not be empty");
        }
        let mut pairs = vec![("job".to_owned(), job.to_owned())];
        for label in labels {
            let Some((name, value)) = label.split_once('=') else {
                bail!("--label {label:?} is not NAME=VALUE");
            };
            if !is_legacy_label_name(name) || name.starts_with("__") {
                bail!("--label {label:?}: {name:?} is not a valid label name");
            }
            if name == "job" {
                bail!("--label {label:?}: give the job with --job");
            }
            if pairs.iter().any(|(n, _)| n == name) {
                bail!("--label {label:?}: label {name:?} is given twice");
            }
            pairs.push((name.to_owned(), value.to_owned()));
        }
        Ok(Self { pairs })
    }

    /// The URL path after the base URL: `/metrics/job/<job>{/<label>/<value>}`.
    pub fn path(&self) -> String {
        let mut path = String::from("/metrics");
        for (name, value) in &self.pairs {
            // `.` and `..` would be path navigation to some URL handling; base64 avoids it.
            if value.is_empty() || value.contains('/') || value == "." || value == ".." {
                let encoded = if value.is_empty() {
                    "=".to_owned()
                } else {
                    URL_SAFE.encode(value)
                };
                let _ = write!(path, "/{name}@base64/{encoded}");
            } else {
                let _ = write!(path, "/{name}/");
                percent_encode(value, &mut path);
            }
        }
        path
    }
}

/// Appends `value` to `out` with every byte outside RFC 3986's unreserved set as `%XX`.
fn percent_encode(value: &str, out: &mut String) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// The full push URL: `base` without trailing slashes, then the grouping key's path.
pub fn push_url(base: &str, key: &GroupingKey) -> String {
    format!("{}{}", base.trim_end_matches('/'), key.path())
}

/// Parses `body` in `format`; on a format error returns the `LINE:COL: reason` line.
pub fn validate(body: &[u8], format: Format) -> Result<usize, String> {
    match expfmt::parse(body, format) {
        Ok(families) => Ok(families.iter().map(|f| f.metrics.len()).sum()),
        Err(e) => Err(format!("{}:{}: {}", e.line, e.column, e.kind)),
    }
}

/// OpenMetrics when the last non-blank line is `# EOF`, text otherwise (as
/// `check-metrics` decides for files).
fn detect_format(body: &[u8]) -> Format {
    let last = body
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .rfind(|line| !line.is_empty());
    if last == Some(b"# EOF".as_slice()) {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

fn read_source(source: &str) -> anyhow::Result<Vec<u8>> {
    if source == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
        Ok(bytes)
    } else {
        std::fs::read(source).with_context(|| format!("reading {source}"))
    }
}

/// Pushes (or deletes) as `args` say; writes the findings to `notes` (standard error).
pub fn run(args: &PushArgs, notes: &mut impl Write) -> anyhow::Result<Outcome> {
    let key = GroupingKey::new(&args.job, &args.labels)?;
    let url = push_url(&args.url, &key);
    let ttl = match &args.ttl {
        Some(ttl) => {
            tally_server::parse_duration_ms(ttl)
                .filter(|ms| *ms > 0 && *ms <= MAX_TTL_MS)
                .with_context(|| {
                    format!("--ttl {ttl:?} is not a duration between 1ms and 30d (like 90s, 10m)")
                })?;
            Some(ttl.trim())
        }
        None => None,
    };
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(PUSH_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let sent = if args.delete {
        agent.delete(&url).call()
    } else {
        let body = read_source(&args.source)?;
        let format = detect_format(&body);
        if let Err(position) = validate(&body, format) {
            writeln!(notes, "{position}")?;
            writeln!(
                notes,
                "tally: nothing pushed: {} is not a valid exposition",
                if args.source == "-" {
                    "standard input"
                } else {
                    &args.source
                }
            )?;
            return Ok(Outcome::FormatError);
        }
        let content_type = match format {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        };
        let request = match args.method {
            Method::Put => agent.put(&url),
            Method::Post => agent.post(&url),
        };
        let request = request.header("Content-Type", content_type);
        match ttl {
            Some(ttl) => request.header("Tally-TTL", ttl).send(&body[..]),
            None => request.send(&body[..]),
        }
    };
    let mut response = sent.with_context(|| format!("sending to {url}"))?;
    let status = response.status();
    if status.is_success() {
        return Ok(Outcome::Parsed { problems: 0 });
    }
    let message = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default();
    let message = message.trim();
    let what = if args.delete { "delete" } else { "push" };
    if status.is_client_error() {
        writeln!(notes, "tally: {what} refused by {url}: {status}: {message}")?;
        return Ok(Outcome::FormatError);
    }
    bail!("{what} to {url} failed: {status}: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(job: &str, labels: &[&str]) -> anyhow::Result<GroupingKey> {
        let labels: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
        GroupingKey::new(job, &labels)
    }

    #[test]
    fn plain_values_are_percent_encoded() {
        let k = key("batch", &["instance=host-1", "zone=eu west?#"]).unwrap();
        assert_eq!(
            k.path(),
            "/metrics/job/batch/instance/host-1/zone/eu%20west%3F%23"
        );
        assert_eq!(
            push_url("http://127.0.0.1:9091/", &k),
            "http://127.0.0.1:9091/metrics/job/batch/instance/host-1/zone/eu%20west%3F%23"
        );
    }

    #[test]
    fn slashes_and_empty_values_use_base64() {
        // The values tally-gateway's own parser tests decode: "a/b" and "foo/bar".
        let k = key("foo/bar", &["path=a/b", "instance="]).unwrap();
        assert_eq!(
            k.path(),
            "/metrics/job@base64/Zm9vL2Jhcg==/path@base64/YS9i/instance@base64/="
        );
        let decoded = tally_gateway::parse_grouping_path(
            k.path().strip_prefix("/metrics/").unwrap_or_default(),
        )
        .unwrap();
        assert_eq!(decoded.get("job"), Some("foo/bar"));
        assert_eq!(decoded.get("path"), Some("a/b"));
        assert_eq!(decoded.get("instance"), None);
        assert_eq!(
            key("j", &["x=.."]).unwrap().path(),
            "/metrics/job/j/x@base64/Li4="
        );
    }

    #[test]
    fn bad_keys_are_named() {
        for (job, labels, expect) in [
            ("", &[][..], "--job"),
            ("j", &["novalue"][..], "NAME=VALUE"),
            ("j", &["1x=a"][..], "not a valid label name"),
            ("j", &["__x=a"][..], "not a valid label name"),
            ("j", &["job=a"][..], "--job"),
            ("j", &["a=1", "a=2"][..], "twice"),
        ] {
            let err = key(job, labels).unwrap_err().to_string();
            assert!(err.contains(expect), "{job} {labels:?}: {err}");
        }
    }

    #[test]
    fn validation_reports_line_and_column() {
        assert_eq!(
            validate(b"# TYPE a counter\na 1\nb 2\n", Format::Text),
            Ok(2)
        );
        let err = validate(b"a 1\nb{x=\"1\" y=\"2\"} 1\n", Format::Text).unwrap_err();
        assert!(err.starts_with("2:9: "), "{err}");
    }
}
