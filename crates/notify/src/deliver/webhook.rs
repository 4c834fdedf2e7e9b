//! The webhook integration: Alertmanager's payload version 4, POSTed as JSON.

use crate::config::{GlobalConfig, WebhookConfig};
use crate::deliver::{http, DeliverError};
use crate::payload::NotificationData;

/// POSTs the v4 payload of `data` to the webhook's URL.
pub fn send(
    agents: &http::Agents,
    global: &GlobalConfig,
    cfg: &WebhookConfig,
    data: &NotificationData,
) -> Result<(), DeliverError> {
    let http_config = cfg.http_config.as_ref().or(global.http_config.as_ref());
    let agent = agents.get(http_config)?;
    http::post_json(agent, &cfg.url, &data.webhook_json(), http_config)
}
