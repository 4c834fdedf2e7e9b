//! [`ReceiverConfig`] and its integrations: webhook, Slack and email settings as written
//! in YAML, with Alertmanager's field names and defaults.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{HttpConfig, TlsConfig};

fn yes() -> bool {
    true
}

/// A named receiver and its integrations.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    /// The name routes refer to.
    pub name: String,
    /// Webhooks (Alertmanager payload version 4).
    #[serde(default)]
    pub webhook_configs: Vec<WebhookConfig>,
    /// Slack-compatible incoming webhooks.
    #[serde(default)]
    pub slack_configs: Vec<SlackConfig>,
    /// Email over SMTP.
    #[serde(default)]
    pub email_configs: Vec<EmailConfig>,
}

/// A webhook: the v4 JSON payload POSTed to `url`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to POST.
    pub url: String,
    /// Also notify when alerts resolve (default true).
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// At most this many alerts per payload (0: all); the rest is counted in
    /// `truncatedAlerts`.
    #[serde(default)]
    pub max_alerts: u64,
    /// HTTP client settings.
    pub http_config: Option<HttpConfig>,
}

/// A Slack (or compatible) incoming webhook.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The incoming-webhook URL (default: `global.slack_api_url`).
    pub api_url: Option<String>,
    /// Channel override.
    pub channel: Option<String>,
    /// User name override (template).
    pub username: Option<String>,
    /// Attachment title (template).
    pub title: Option<String>,
    /// Attachment title link (template).
    pub title_link: Option<String>,
    /// Attachment text (template).
    pub text: Option<String>,
    /// Attachment colour (template; default `danger` when firing, `good` when resolved).
    pub color: Option<String>,
    /// Icon emoji.
    pub icon_emoji: Option<String>,
    /// Icon URL.
    pub icon_url: Option<String>,
    /// Also notify when alerts resolve (default false).
    #[serde(default)]
    pub send_resolved: bool,
    /// HTTP client settings.
    pub http_config: Option<HttpConfig>,
}

/// Email over SMTP.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Recipient address(es), comma-separated.
    pub to: String,
    /// Sender (default `global.smtp_from`).
    pub from: Option<String>,
    /// `host:port` of the SMTP server (default `global.smtp_smarthost`).
    pub smarthost: Option<String>,
    /// Name sent in HELO/EHLO (default `global.smtp_hello`, else `localhost`).
    pub hello: Option<String>,
    /// SMTP AUTH user name.
    pub auth_username: Option<String>,
    /// SMTP AUTH password.
    pub auth_password: Option<String>,
    /// Require STARTTLS (default `global.smtp_require_tls`, itself default true).
    pub require_tls: Option<bool>,
    /// Extra headers; `Subject`, `To` and `From` override the defaults (templates).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// HTML body (template; default tally's HTML summary). Rendered as text/template,
    /// not html/template: escape values with Go's `html` function (`{{ html .X }}`).
    pub html: Option<String>,
    /// Plain-text body (template; default tally's text summary).
    pub text: Option<String>,
    /// Also notify when alerts resolve (default false).
    #[serde(default)]
    pub send_resolved: bool,
    /// TLS settings for STARTTLS and SMTPS (port 465): authority, client certificate,
    /// `server_name`.
    pub tls_config: Option<TlsConfig>,
}
