//! [`Transport`]: how a push reaches a gateway. [`HttpTransport`] is the real one (a
//! blocking [`ureq`] agent); tests inject failures with their own implementation.

use std::fmt;
use std::io::Read as _;
use std::time::Duration;

/// One `PUT` of a push: full URL, headers, body.
#[derive(Debug, Clone, Copy)]
pub struct PushRequest<'a> {
    /// The full URL: gateway base URL plus the grouping-key path.
    pub url: &'a str,
    /// Header names and values, sent as given.
    pub headers: &'a [(String, String)],
    /// The text-format body.
    pub body: &'a [u8],
}

/// What the gateway answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The raw `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// The start of the response body (at most 512 bytes), for messages.
    pub body: String,
}

/// How much of a response body is kept for error messages.
pub(crate) const MAX_ERROR_BODY: usize = 512;

/// Why a request got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The connection could not be made (refused, unreachable, name not resolved).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connect or the whole request took longer than its timeout.
    #[error("timed out")]
    Timeout,
    /// The connection broke or the answer was not valid HTTP.
    #[error("{0}")]
    Io(String),
}

/// Sends a push and reports the answer. Called from the pusher's own threads only, one
/// request at a time per gateway; implementations may block up to `timeout`.
pub trait Transport: Send + Sync + fmt::Debug + 'static {
    /// Sends `request` as an HTTP `PUT`, giving up after `timeout` in total.
    fn put(
        &self,
        request: &PushRequest<'_>,
        timeout: Duration,
    ) -> Result<PushResponse, TransportError>;
}

/// HTTP/1.1 over plain TCP with a [`ureq::Agent`]: connections are pooled and reused
/// between pushes; every request has a connect timeout and a total timeout. Redirects are
/// not followed (a push is a `PUT`). Proxies are taken from `ALL_PROXY`, `HTTP_PROXY` and
/// `NO_PROXY` (and their lower-case forms), as curl does.
#[derive(Debug)]
pub struct HttpTransport {
    agent: ureq::Agent,
}

impl HttpTransport {
    /// A transport whose connections time out after `connect_timeout`.
    pub fn new(connect_timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(connect_timeout))
            .user_agent(concat!("tally-pusher/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            agent: ureq::Agent::new_with_config(config),
        }
    }
}

impl Transport for HttpTransport {
    fn put(
        &self,
        request: &PushRequest<'_>,
        timeout: Duration,
    ) -> Result<PushResponse, TransportError> {
        let mut builder = self
            .agent
            .put(request.url)
            .config()
            .timeout_global(Some(timeout))
            .build();
        for (name, value) in request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let response = builder.send(request.body).map_err(map_error)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        // Read (a bounded part of) the answer so the connection can be reused; a broken
        // body does not change what the status said.
        let _ = response
            .into_body()
            .into_reader()
            .take(MAX_ERROR_BODY as u64)
            .read_to_end(&mut body);
        Ok(PushResponse {
            status,
            retry_after,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

fn map_error(e: ureq::Error) -> TransportError {
    match e {
        ureq::Error::Timeout(_) => TransportError::Timeout,
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                TransportError::Timeout
            }
            std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::AddrNotAvailable
            | std::io::ErrorKind::HostUnreachable
            | std::io::ErrorKind::NetworkUnreachable => TransportError::Connect(io.to_string()),
            _ => TransportError::Io(io.to_string()),
        },
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
            TransportError::Connect(e.to_string())
        }
        other => TransportError::Io(other.to_string()),
    }
}
