//! The HTTP client the webhook, Slack and forwarding integrations share (`ureq`, blocking).

use std::collections::HashMap;
use std::time::Duration;

use crate::config::{http_configs, Config, HttpConfig, ProxySettings, TlsConfig};
use crate::deliver::DeliverError;

/// The default TLS settings: rustls (building tally needs no system OpenSSL), servers
/// verified against Mozilla's roots.
fn default_tls() -> ureq::tls::TlsConfig {
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .build()
}

/// An agent with a per-request time-out that returns HTTP errors as responses, with the
/// default TLS settings and no proxy (the environment's is ignored, as in Prometheus).
pub fn agent(timeout: Duration) -> ureq::Agent {
    build_agent(timeout, default_tls(), None)
}

fn build_agent(
    timeout: Duration,
    tls: ureq::tls::TlsConfig,
    proxy: Option<ureq::Proxy>,
) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .tls_config(tls)
        .proxy(proxy)
        .build()
        .into()
}

/// What makes two `http_config`s need different agents.
type AgentKey = (Option<TlsConfig>, ProxySettings);

fn key(http: Option<&HttpConfig>) -> AgentKey {
    http.map_or_else(Default::default, |h| (h.tls_config.clone(), h.proxy()))
}

/// One agent (connection pool) for requests without settings and one for each distinct
/// combination of `tls_config` and proxy in a configuration. Cloning is shallow: agents
/// share their pools.
#[derive(Debug, Clone)]
pub struct Agents {
    default: ureq::Agent,
    by_settings: HashMap<AgentKey, ureq::Agent>,
}

impl Agents {
    /// The agents `config`'s integrations need, each with the time-out `timeout`.
    pub fn new(config: &Config, timeout: Duration) -> Self {
        let mut by_settings = HashMap::new();
        for (_, http) in http_configs(&config.raw) {
            let key = key(Some(http));
            if by_settings.contains_key(&key) {
                continue;
            }
            // Settings the configuration's validation refused never get here; should
            // one anyway, it gets no agent and its deliveries fail (see `get`).
            let tls = match &key.0 {
                None => Some(default_tls()),
                Some(raw) => config
                    .tls
                    .get(raw)
                    .and_then(|loaded| loaded.for_http("tls_config").ok()),
            };
            if let (Some(tls), Ok(proxy)) = (tls, key.1.build()) {
                by_settings.insert(key, build_agent(timeout, tls, proxy));
            }
        }
        Self {
            default: agent(timeout),
            by_settings,
        }
    }

    /// The agent for requests made with `http` settings. Settings the configuration
    /// did not load are refused rather than sent with the defaults.
    pub fn get(&self, http: Option<&HttpConfig>) -> Result<&ureq::Agent, DeliverError> {
        let key = key(http);
        if key == AgentKey::default() {
            return Ok(&self.default);
        }
        self.by_settings.get(&key).ok_or_else(|| {
            DeliverError::Permanent(
                "http_config (tls_config or proxy) was not loaded with the configuration".into(),
            )
        })
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
