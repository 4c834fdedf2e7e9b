//! Where `check-metrics` reads its exposition from (a file, stdin or an `http://` URL) and
//! which format the bytes are in.

use std::io::Read as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use tally_model::expfmt::Format;

/// The largest body fetched from a URL. Prometheus' own `/metrics` is well under 1 MiB; a
/// target serving more than this is almost certainly a mistake, and this bounds memory.
const MAX_BODY_BYTES: u64 = 256 * 1024 * 1024;

/// How long a whole fetch (connect, request, body) may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The `Accept` header asking for the text format 0.0.4.
pub(crate) const ACCEPT_TEXT: &str = "text/plain;version=0.0.4";

/// The `Accept` header asking for OpenMetrics 1.0, falling back to text 0.0.4.
pub(crate) const ACCEPT_OPENMETRICS: &str =
    "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";

/// The format the user asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatChoice {
    /// Files and stdin: OpenMetrics when the last non-empty line is `# EOF`, else text.
    /// URLs: ask for text, check what the `Content-Type` of the answer says.
    Auto,
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0 (for URLs: ask for it, and check what the answer says it is).
    #[value(name = "openmetrics")]
    OpenMetrics,
}

/// Where the exposition comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Stdin,
    File(PathBuf),
    Url(String),
}

impl Source {
    /// `-` is stdin, `http://` and `https://` prefixes make a URL, anything else a path.
    pub(crate) fn from_arg(arg: &str) -> Self {
        let lower = arg.get(..8).unwrap_or(arg).to_ascii_lowercase();
        if arg == "-" {
            Self::Stdin
        } else if lower.starts_with("http://") || lower.starts_with("https://") {
            Self::Url(arg.to_owned())
        } else {
            Self::File(PathBuf::from(arg))
        }
    }
}

/// An exposition read into memory, with the format to check it as.
#[derive(Debug)]
pub(crate) struct Input {
    pub(crate) bytes: Vec<u8>,
    pub(crate) format: Format,
    /// Something the user should know about how the format was chosen (printed to stderr).
    pub(crate) note: Option<String>,
}

/// Reads the whole exposition. Errors (missing file, unreachable URL, HTTP error status)
/// carry a message naming the source.
pub(crate) fn read(source: &Source, choice: FormatChoice) -> anyhow::Result<Input> {
    match source {
        Source::Stdin => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .context("reading standard input")?;
            Ok(local_input(bytes, choice))
        }
        Source::File(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Ok(local_input(bytes, choice))
        }
        Source::Url(url) => fetch(url, choice),
    }
}

fn local_input(bytes: Vec<u8>, choice: FormatChoice) -> Input {
    let format = match choice {
        FormatChoice::Auto => detect_format(&bytes),
        FormatChoice::Text => Format::Text,
        FormatChoice::OpenMetrics => Format::OpenMetrics,
    };
    Input {
        bytes,
        format,
        note: None,
    }
}

/// OpenMetrics when the last non-blank line is `# EOF`, text otherwise.
pub(crate) fn detect_format(bytes: &[u8]) -> Format {
    let last = bytes
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .rfind(|line| !line.is_empty());
    if last == Some(b"# EOF".as_slice()) {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// The format a `Content-Type` header names, if it names one of the two.
pub(crate) fn format_of_content_type(content_type: &str) -> Option<Format> {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/openmetrics-text" => Some(Format::OpenMetrics),
        "text/plain" => Some(Format::Text),
        _ => None,
    }
}

fn fetch(url: &str, choice: FormatChoice) -> anyhow::Result<Input> {
    if url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    {
        bail!(
            "cannot fetch {url}: https is not supported (tally is built without TLS); use http://"
        );
    }
    let accept = match choice {
        FormatChoice::OpenMetrics => ACCEPT_OPENMETRICS,
        FormatChoice::Auto | FormatChoice::Text => ACCEPT_TEXT,
    };
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(FETCH_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut response = agent
        .get(url)
        .header("Accept", accept)
        .call()
        .with_context(|| format!("fetching {url}"))?;
    let status = response.status();
    if !status.is_success() {
        bail!("fetching {url}: the server answered HTTP {status}");
    }
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY_BYTES)
        .read_to_vec()
        .with_context(|| format!("reading the body of {url}"))?;

    let served = content_type.as_deref().and_then(format_of_content_type);
    let format = served.unwrap_or_else(|| detect_format(&bytes));
    let asked = match choice {
        FormatChoice::Auto => None,
        FormatChoice::Text => Some(Format::Text),
        FormatChoice::OpenMetrics => Some(Format::OpenMetrics),
    };
    let note = match (asked, served) {
        (Some(asked), Some(served)) if asked != served => Some(format!(
            "note: asked for {}, the server answered {}; checking it as {}",
            format_name(asked),
            content_type.as_deref().unwrap_or_default(),
            format_name(served),
        )),
        (_, None) => Some(format!(
            "note: the server's Content-Type ({}) names no exposition format; checking it as {}",
            content_type.as_deref().unwrap_or("none"),
            format_name(format),
        )),
        _ => None,
    };
    Ok(Input {
        bytes,
        format,
        note,
    })
}

/// A human name for a format, for messages.
pub(crate) fn format_name(format: Format) -> &'static str {
    match format {
        Format::Text => "text format 0.0.4",
        Format::OpenMetrics => "OpenMetrics 1.0",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        assert_eq!(Source::from_arg("-"), Source::Stdin);
        assert_eq!(
            Source::from_arg("HTTP://h:1/metrics"),
            Source::Url("HTTP://h:1/metrics".into())
        );
        assert_eq!(
            Source::from_arg("https://h/"),
            Source::Url("https://h/".into())
        );
        assert_eq!(Source::from_arg("m.prom"), Source::File("m.prom".into()));
        assert_eq!(Source::from_arg("é"), Source::File("é".into()));
    }

    #[test]
    fn detects_openmetrics_by_final_eof() {
        assert_eq!(detect_format(b"a 1\n# EOF\n"), Format::OpenMetrics);
        assert_eq!(detect_format(b"a 1\n# EOF\n\n  \r\n"), Format::OpenMetrics);
        assert_eq!(detect_format(b"# EOF"), Format::OpenMetrics);
        assert_eq!(detect_format(b"# EOF\na 1\n"), Format::Text);
        assert_eq!(detect_format(b"a 1\n"), Format::Text);
        assert_eq!(detect_format(b""), Format::Text);
    }

    #[test]
    fn content_types() {
        assert_eq!(
            format_of_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Some(Format::OpenMetrics)
        );
        assert_eq!(
            format_of_content_type("text/plain; version=0.0.4; charset=utf-8"),
            Some(Format::Text)
        );
        assert_eq!(format_of_content_type("Text/Plain"), Some(Format::Text));
        assert_eq!(format_of_content_type("application/json"), None);
        assert_eq!(format_of_content_type(""), None);
    }

    #[test]
    fn https_is_refused_clearly() {
        let err = read(
            &Source::Url("https://127.0.0.1:1/".into()),
            FormatChoice::Auto,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("https is not supported"), "{err}");
    }
}
