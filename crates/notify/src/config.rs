//! The notifier's configuration: Alertmanager's YAML with the same field names
//! ([`NotifyConfig`]), plus `alertmanagers:`, the external Alertmanagers every alert is
//! forwarded to. [`Config`] is a parsed and validated configuration with its routing tree
//! and inhibition rules compiled.
//!
//! Unknown fields are rejected with the field's name, line and column; references are
//! checked (every receiver a route names exists, the root route has a receiver, every
//! matcher and template parses).

mod duration;
mod receiver;
mod route;
mod time_interval;
mod tls;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use duration::Duration;
pub use receiver::{EmailConfig, ReceiverConfig, SlackConfig, WebhookConfig};
pub use route::RouteConfig;
pub use time_interval::{NamedTimeIntervalConfig, TimeIntervalConfig, TimeRangeConfig};
pub use tls::{LoadedTls, TlsConfig};

use crate::inhibit::InhibitRule;
use crate::matcher::MatcherError;
use crate::route::Route;
use crate::template::Templates;
use crate::time_interval::{NamedInterval, TimeInterval};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed, has an unknown field or a value of the wrong type.
    #[error("line {line}, column {column}: {message}")]
    Yaml {
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What serde said, naming the field.
        message: String,
    },
    /// A field holds a value that does not make sense.
    #[error("{field}: {message}")]
    Invalid {
        /// Path of the field, e.g. `route.routes[1].receiver`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A matcher does not parse.
    #[error("{field}: {source}")]
    Matcher {
        /// Path of the field.
        field: String,
        /// The matcher error.
        source: MatcherError,
    },
}

/// Settings shared by all receivers, and defaults for them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    /// How long after its last update an alert without `ends_at` resolves (default 5m).
    #[serde(default = "default_resolve_timeout")]
    pub resolve_timeout: Duration,
    /// Default sender of emails.
    pub smtp_from: Option<String>,
    /// Default SMTP server, `host:port`.
    pub smtp_smarthost: Option<String>,
    /// Default HELO name.
    pub smtp_hello: Option<String>,
    /// Default SMTP AUTH user.
    pub smtp_auth_username: Option<String>,
    /// Default SMTP AUTH password.
    pub smtp_auth_password: Option<String>,
    /// Require STARTTLS by default (default true, as in Alertmanager).
    #[serde(default = "yes")]
    pub smtp_require_tls: bool,
    /// Default Slack incoming-webhook URL.
    pub slack_api_url: Option<String>,
    /// Default HTTP client settings.
    pub http_config: Option<HttpConfig>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        Self {
            resolve_timeout: default_resolve_timeout(),
            smtp_from: None,
            smtp_smarthost: None,
            smtp_hello: None,
            smtp_auth_username: None,
            smtp_auth_password: None,
            smtp_require_tls: true,
            slack_api_url: None,
            http_config: None,
        }
    }
}

fn default_resolve_timeout() -> Duration {
    Duration::from_secs(300)
}

fn yes() -> bool {
    true
}

/// HTTP client settings: Prometheus' `http_config` for authentication, TLS and proxies.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// TLS settings for `https` URLs: certificate authority, client certificate.
    pub tls_config: Option<TlsConfig>,
    /// Send requests through this HTTP proxy (`http://[user:password@]host:port`).
    pub proxy_url: Option<String>,
    /// With `proxy_url`: comma-separated hosts reached directly (`host`, `.domain` for
    /// its subdomains, `*` for all).
    pub no_proxy: Option<String>,
    /// Use the proxy the environment names (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`).
    /// Off by default, as in Prometheus: without it the environment is ignored.
    #[serde(default)]
    pub proxy_from_environment: bool,
    /// HTTP basic authentication.
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization: <type> <credentials>`.
    pub authorization: Option<Authorization>,
    /// Deprecated: `Authorization: Bearer <token>`.
    pub bearer_token: Option<String>,
}

/// HTTP basic authentication.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: String,
}

/// An `Authorization` header.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// Scheme (default `Bearer`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Credentials.
    #[serde(default)]
    pub credentials: String,
}

/// The proxy settings of an `http_config`, as a key for the agents that apply them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProxySettings {
    /// `proxy_url`.
    pub url: Option<String>,
    /// `no_proxy`.
    pub no_proxy: Option<String>,
    /// `proxy_from_environment`.
    pub from_environment: bool,
}

impl ProxySettings {
    /// The proxy to use, if any, or what is wrong with the settings.
    pub fn build(&self) -> Result<Option<ureq::Proxy>, String> {
        let Some(url) = &self.url else {
            if self.no_proxy.is_some() {
                return Err("no_proxy needs proxy_url".into());
            }
            return Ok(if self.from_environment {
                ureq::Proxy::try_from_env()
            } else {
                None
            });
        };
        if self.from_environment {
            return Err("proxy_url and proxy_from_environment cannot both be set".into());
        }
        let parsed = ureq::Proxy::new(url)
            .map_err(|e| format!("proxy_url {url:?} is not a proxy URL: {e}"))?;
        let mut builder = ureq::Proxy::builder(parsed.protocol())
            .host(parsed.host())
            .port(parsed.port());
        if let Some(user) = parsed.username() {
            builder = builder.username(user);
        }
        if let Some(password) = parsed.password() {
            builder = builder.password(password);
        }
        let entries = self.no_proxy.as_deref().unwrap_or("").split(',');
        for entry in entries.map(str::trim).filter(|e| !e.is_empty()) {
            if entry.contains('/') {
                return Err(format!(
                    "no_proxy entry {entry:?}: address ranges are not supported by tally, list hosts or .domains"
                ));
            }
            builder = builder.no_proxy(entry);
        }
        builder
            .build()
            .map(Some)
            .map_err(|e| format!("proxy_url {url:?}: {e}"))
    }
}

impl HttpConfig {
    /// Its proxy settings.
    pub fn proxy(&self) -> ProxySettings {
        ProxySettings {
            url: self.proxy_url.clone(),
            no_proxy: self.no_proxy.clone(),
            from_environment: self.proxy_from_environment,
        }
    }

    /// The `Authorization` header value these settings call for, if any.
    pub fn authorization_header(&self) -> Option<String> {
        if let Some(auth) = &self.authorization {
            let kind = auth.kind.as_deref().unwrap_or("Bearer");
            return Some(format!("{kind} {}", auth.credentials));
        }
        if let Some(token) = &self.bearer_token {
            return Some(format!("Bearer {token}"));
        }
        self.basic_auth.as_ref().map(|b| {
            let raw = format!("{}:{}", b.username, b.password);
            format!("Basic {}", base64(raw.as_bytes()))
        })
    }
}

/// Standard base64 with padding (for basic authentication only).
fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An inhibition rule as written: alerts matching the target side are muted while an
/// alert matching the source side fires with the same values of the `equal` labels.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRuleConfig {
    /// Source matchers (string syntax).
    #[serde(default)]
    pub source_matchers: Vec<String>,
    /// Target matchers (string syntax).
    #[serde(default)]
    pub target_matchers: Vec<String>,
    /// Deprecated: source equality conditions.
    #[serde(default)]
    pub source_match: BTreeMap<String, String>,
    /// Deprecated: source regex conditions.
    #[serde(default)]
    pub source_match_re: BTreeMap<String, String>,
    /// Deprecated: target equality conditions.
    #[serde(default)]
    pub target_match: BTreeMap<String, String>,
    /// Deprecated: target regex conditions.
    #[serde(default)]
    pub target_match_re: BTreeMap<String, String>,
    /// Labels whose values must be equal in source and target.
    #[serde(default)]
    pub equal: Vec<String>,
}

/// The whole file: Alertmanager's top-level fields plus `alertmanagers`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Global settings and defaults.
    #[serde(default)]
    pub global: GlobalConfig,
    /// The routing tree; absent when alerts are only forwarded.
    pub route: Option<RouteConfig>,
    /// Receivers.
    #[serde(default)]
    pub receivers: Vec<ReceiverConfig>,
    /// Inhibition rules.
    #[serde(default)]
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    /// Template files (globs, relative to the configuration file) with `define` blocks.
    #[serde(default)]
    pub templates: Vec<String>,
    /// Named time intervals routes mute or activate themselves by.
    #[serde(default)]
    pub time_intervals: Vec<NamedTimeIntervalConfig>,
    /// Deprecated name of `time_intervals` (both may be used; names are shared).
    #[serde(default)]
    pub mute_time_intervals: Vec<NamedTimeIntervalConfig>,
    /// Base URLs of external Alertmanagers every alert is forwarded to
    /// (`<url>/api/v2/alerts`).
    #[serde(default)]
    pub alertmanagers: Vec<String>,
}

/// A validated configuration, ready for a [`Notifier`](crate::Notifier). Cloning copies
/// the tree (configurations are small and cloned only on reload).
#[derive(Debug, Clone)]
pub struct Config {
    /// The configuration as written.
    pub raw: NotifyConfig,
    /// The YAML text it was parsed from (empty when built in code), served by
    /// `GET /api/v2/status` as Alertmanager serves its file.
    pub source: String,
    /// The compiled routing tree, if there is one.
    pub(crate) route: Option<Route>,
    /// The compiled inhibition rules.
    pub(crate) inhibit_rules: Vec<InhibitRule>,
    /// The default templates plus the user's.
    pub(crate) templates: Templates,
    /// Every `tls_config` of the file, loaded (PEM read and parsed).
    pub(crate) tls: HashMap<TlsConfig, LoadedTls>,
}

impl Config {
    /// Reads, parses and validates a configuration file. Template globs are resolved
    /// relative to the file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse_in(&text, path.parent())
    }

    /// Parses and validates a configuration from YAML text; template globs are resolved
    /// against the current directory.
    pub fn parse(yaml: &str) -> Result<Self, ConfigError> {
        Self::parse_in(yaml, None)
    }

    fn parse_in(yaml: &str, base: Option<&Path>) -> Result<Self, ConfigError> {
        let raw: NotifyConfig = if yaml.trim().is_empty() {
            NotifyConfig::default()
        } else {
            serde_yaml_ng::from_str(yaml).map_err(|e| {
                let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
                // The message ends with the position, which the error shows first.
                let mut message = e.to_string();
                let suffix = format!(" at line {line} column {column}");
                if message.ends_with(&suffix) {
                    message.truncate(message.len() - suffix.len());
                }
                ConfigError::Yaml {
                    line,
                    column,
                    message,
                }
            })?
        };
        let mut config = Self::validate(raw, base)?;
        config.source = yaml.to_owned();
        Ok(config)
    }

    /// The templates: tally's defaults plus the files named in `templates:`.
    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    /// Validates a configuration built in code (or parsed), compiling its routes,
    /// inhibition rules and templates.
    pub fn validate(raw: NotifyConfig, base: Option<&Path>) -> Result<Self, ConfigError> {
        let mut names = HashSet::new();
        for (i, receiver) in raw.receivers.iter().enumerate() {
            if receiver.name.is_empty() {
                return Err(invalid(format!("receivers[{i}].name"), "must not be empty"));
            }
            if !names.insert(receiver.name.as_str()) {
                return Err(invalid(
                    format!("receivers[{i}].name"),
                    format!("receiver {:?} is defined twice", receiver.name),
                ));
            }
            check_receiver(&raw.global, receiver, i)?;
        }
        for (i, url) in raw.alertmanagers.iter().enumerate() {
            check_url(&format!("alertmanagers[{i}]"), url)?;
        }
        let intervals = compile_time_intervals(&raw)?;
        let route = match &raw.route {
            Some(root) => Some(Route::compile(root, &names, &intervals)?),
            None => None,
        };
        let inhibit_rules = raw
            .inhibit_rules
            .iter()
            .enumerate()
            .map(|(i, r)| InhibitRule::compile(r, i))
            .collect::<Result<Vec<_>, _>>()?;
        let templates = Templates::load(&raw.templates, base)?;
        check_templates(&raw, &templates)?;
        for (field, http) in http_configs(&raw) {
            http.proxy().build().map_err(|m| invalid(field, m))?;
        }
        let tls = load_tls(&raw, base)?;
        Ok(Self {
            source: String::new(),
            raw,
            route,
            inhibit_rules,
            templates,
            tls,
        })
    }
}

pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn check_url(field: &str, url: &str) -> Result<(), ConfigError> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() > "https://".len()
        && !url.contains(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(invalid(field, format!("{url:?} is not an http(s) URL")))
    }
}

/// Compiles `time_intervals` and the deprecated top-level `mute_time_intervals`, by
/// name; a name defined twice is an error.
fn compile_time_intervals(
    raw: &NotifyConfig,
) -> Result<HashMap<String, NamedInterval>, ConfigError> {
    let mut out = HashMap::new();
    let lists = [
        ("time_intervals", &raw.time_intervals),
        ("mute_time_intervals", &raw.mute_time_intervals),
    ];
    for (list, named) in lists {
        for (i, interval) in named.iter().enumerate() {
            let field = format!("{list}[{i}]");
            if interval.name.is_empty() {
                return Err(invalid(format!("{field}.name"), "must not be empty"));
            }
            if out.contains_key(&interval.name) {
                return Err(invalid(
                    format!("{field}.name"),
                    format!("time interval {:?} is defined twice", interval.name),
                ));
            }
            let periods = interval
                .time_intervals
                .iter()
                .enumerate()
                .map(|(j, p)| TimeInterval::compile(p, &format!("{field}.time_intervals[{j}]")))
                .collect::<Result<Vec<_>, _>>()?;
            out.insert(interval.name.clone(), NamedInterval::from(periods));
        }
    }
    Ok(out)
}

/// Every `http_config` of the file with its field path: the global one, then each
/// webhook's and Slack integration's.
pub(crate) fn http_configs(raw: &NotifyConfig) -> Vec<(String, &HttpConfig)> {
    let mut out = Vec::new();
    if let Some(h) = &raw.global.http_config {
        out.push(("global.http_config".to_owned(), h));
    }
    for (i, r) in raw.receivers.iter().enumerate() {
        for (j, w) in r.webhook_configs.iter().enumerate() {
            if let Some(h) = &w.http_config {
                out.push((
                    format!("receivers[{i}].webhook_configs[{j}].http_config"),
                    h,
                ));
            }
        }
        for (j, s) in r.slack_configs.iter().enumerate() {
            if let Some(h) = &s.http_config {
                out.push((format!("receivers[{i}].slack_configs[{j}].http_config"), h));
            }
        }
    }
    out
}

/// Loads every `tls_config`: of each `http_config` (global and per receiver; checked to
/// suit the HTTP client) and of each email receiver.
fn load_tls(
    raw: &NotifyConfig,
    base: Option<&Path>,
) -> Result<HashMap<TlsConfig, LoadedTls>, ConfigError> {
    // (field, settings, used over HTTP)
    let mut all: Vec<(String, Option<TlsConfig>, bool)> = http_configs(raw)
        .into_iter()
        .map(|(field, h)| (format!("{field}.tls_config"), h.tls_config.clone(), true))
        .collect();
    for (i, r) in raw.receivers.iter().enumerate() {
        for (j, e) in r.email_configs.iter().enumerate() {
            let field = format!("receivers[{i}].email_configs[{j}].tls_config");
            all.push((field, e.tls_config.clone(), false));
        }
    }
    let mut loaded: HashMap<TlsConfig, LoadedTls> = HashMap::new();
    for (field, tls, http) in all {
        let Some(tls) = tls else { continue };
        let settings = match loaded.get(&tls) {
            Some(settings) => settings.clone(),
            None => tls.load(&field, base)?,
        };
        if http {
            settings.for_http(&field)?;
        }
        loaded.insert(tls, settings);
    }
    Ok(loaded)
}

/// Parses every templated field of every receiver, so a syntax error is a configuration
/// error rather than a failed notification.
fn check_templates(raw: &NotifyConfig, templates: &Templates) -> Result<(), ConfigError> {
    for (i, r) in raw.receivers.iter().enumerate() {
        for (j, s) in r.slack_configs.iter().enumerate() {
            let fields = [
                ("username", &s.username),
                ("title", &s.title),
                ("title_link", &s.title_link),
                ("text", &s.text),
                ("color", &s.color),
            ];
            for (name, value) in fields {
                if let Some(source) = value {
                    let field = format!("receivers[{i}].slack_configs[{j}].{name}");
                    templates
                        .check(&field, source)
                        .map_err(|e| invalid(&field, e.message))?;
                }
            }
        }
        for (j, e) in r.email_configs.iter().enumerate() {
            let mut fields: Vec<(String, &String)> = vec![("to".to_owned(), &e.to)];
            fields.extend(e.html.iter().map(|v| ("html".to_owned(), v)));
            fields.extend(e.text.iter().map(|v| ("text".to_owned(), v)));
            fields.extend(e.headers.iter().map(|(k, v)| (format!("headers.{k}"), v)));
            for (name, source) in fields {
                let field = format!("receivers[{i}].email_configs[{j}].{name}");
                templates
                    .check(&field, source)
                    .map_err(|e| invalid(&field, e.message))?;
            }
        }
    }
    Ok(())
}

fn check_receiver(
    global: &GlobalConfig,
    receiver: &ReceiverConfig,
    i: usize,
) -> Result<(), ConfigError> {
    for (j, w) in receiver.webhook_configs.iter().enumerate() {
        check_url(&format!("receivers[{i}].webhook_configs[{j}].url"), &w.url)?;
    }
    for (j, s) in receiver.slack_configs.iter().enumerate() {
        let field = format!("receivers[{i}].slack_configs[{j}].api_url");
        match s.api_url.as_ref().or(global.slack_api_url.as_ref()) {
            Some(url) => check_url(&field, url)?,
            None => return Err(invalid(field, "no api_url and no global.slack_api_url")),
        }
    }
    for (j, e) in receiver.email_configs.iter().enumerate() {
        let field = |f: &str| format!("receivers[{i}].email_configs[{j}].{f}");
        if e.to.trim().is_empty() {
            return Err(invalid(field("to"), "must not be empty"));
        }
        match e.smarthost.as_ref().or(global.smtp_smarthost.as_ref()) {
            Some(host) if crate::deliver::email::split_host_port(host).is_some() => {}
            Some(host) => {
                return Err(invalid(
                    field("smarthost"),
                    format!("{host:?} is not host:port"),
                ))
            }
            None => {
                return Err(invalid(
                    field("smarthost"),
                    "no smarthost and no global.smtp_smarthost",
                ))
            }
        }
        if e.from.is_none() && global.smtp_from.is_none() {
            return Err(invalid(field("from"), "no from and no global.smtp_from"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_header_is_base64() {
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
    }
}
