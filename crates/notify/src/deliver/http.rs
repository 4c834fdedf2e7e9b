//! The HTTP client the webhook, Slack and forwarding integrations share (`ureq`, blocking).

use std::collections::HashMap;
use std::time::Duration;

use crate::config::{Config, HttpConfig, TlsConfig};
use crate::deliver::DeliverError;

/// An agent with a per-request time-out that returns HTTP errors as responses, verifying
/// servers against Mozilla's roots.
pub fn agent(timeout: Duration) -> ureq::Agent {
    // rustls, so building tally needs no system OpenSSL.
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .build();
    agent_with_tls(timeout, tls)
}

fn agent_with_tls(timeout: Duration, tls: ureq::tls::TlsConfig) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .tls_config(tls)
        .build()
        .into()
}

/// One agent (connection pool) for the default TLS settings and one for each distinct
/// `tls_config` of a configuration. Cloning is shallow: agents share their pools.
#[derive(Debug, Clone)]
pub struct Agents {
    default: ureq::Agent,
    tls: HashMap<TlsConfig, ureq::Agent>,
}

impl Agents {
    /// The agents `config`'s integrations need, each with the time-out `timeout`.
    pub fn new(config: &Config, timeout: Duration) -> Self {
        // Settings that do not suit HTTP (refused when the configuration was validated,
        // unless only email uses them) get no agent.
        let tls = config
            .tls
            .iter()
            .filter_map(|(raw, loaded)| {
                let settings = loaded.for_http("tls_config").ok()?;
                Some((raw.clone(), agent_with_tls(timeout, settings)))
            })
            .collect();
        Self {
            default: agent(timeout),
            tls,
        }
    }

    /// The agent for requests made with `http` settings. A `tls_config` the
    /// configuration did not load is refused rather than sent with default settings.
    pub fn get(&self, http: Option<&HttpConfig>) -> Result<&ureq::Agent, DeliverError> {
        match http.and_then(|h| h.tls_config.as_ref()) {
            None => Ok(&self.default),
            Some(tls) => self.tls.get(tls).ok_or_else(|| {
                DeliverError::Permanent("tls_config was not loaded with the configuration".into())
            }),
        }
    }
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
