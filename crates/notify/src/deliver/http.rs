//! The HTTP client the webhook, Slack and forwarding integrations share (`ureq`, blocking).

use std::time::Duration;

use crate::config::HttpConfig;
use crate::deliver::DeliverError;

/// An agent with a per-request time-out that returns HTTP errors as responses.
pub fn agent(timeout: Duration) -> ureq::Agent {
    // rustls, so building tally needs no system OpenSSL.
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .build();
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .tls_config(tls)
        .build()
        .into()
}

/// POSTs a JSON body; 2xx is success, 5xx and 429 retryable, other statuses permanent.
pub fn post_json(
    agent: &ureq::Agent,
    url: &str,
    body: &[u8],
    http: Option<&HttpConfig>,
) -> Result<(), DeliverError> {
    let mut request = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header(
            "User-Agent",
            concat!("tally-notify/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(auth) = http.and_then(HttpConfig::authorization_header) {
        request = request.header("Authorization", auth);
    }
    let mut response = request
        .send(body)
        .map_err(|e| DeliverError::Retryable(format!("POST {url}: {e}")))?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let text = response
        .body_mut()
        .with_config()
        .limit(1024)
        .read_to_string()
        .unwrap_or_default();
    let message = format!("POST {url}: HTTP {status}: {}", text.trim());
    if status >= 500 || status == 429 {
        Err(DeliverError::Retryable(message))
    } else {
        Err(DeliverError::Permanent(message))
    }
}
