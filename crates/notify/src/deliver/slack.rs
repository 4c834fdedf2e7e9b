//! The Slack integration: a message with one attachment for an incoming webhook.
//! Fields are templates; by default the title counts the firing alerts, the text lists
//! the alerts and the colour is `danger` while firing and `good` once resolved.

use serde::Serialize;

use crate::config::{GlobalConfig, SlackConfig};
use crate::deliver::{http, DeliverError};
use crate::payload::NotificationData;
use crate::template::Templates;

#[derive(Serialize)]
struct Message {
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<String>,
    username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    icon_emoji: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    icon_url: Option<String>,
    attachments: Vec<Attachment>,
}

#[derive(Serialize)]
struct Attachment {
    title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    title_link: String,
    text: String,
    color: String,
    fallback: String,
    mrkdwn_in: Vec<&'static str>,
}

/// The JSON message for `data`.
pub fn message(
    cfg: &SlackConfig,
    templates: &Templates,
    data: &NotificationData,
) -> Result<Vec<u8>, DeliverError> {
    let render = |what: &str, source: Option<&String>, default: &str| {
        let source = source.map_or(default, String::as_str);
        templates
            .render(what, source, data)
            .map_err(|e| DeliverError::Permanent(e.to_string()))
    };
    let title = render(
        "slack title",
        cfg.title.as_ref(),
        r#"{{ template "tally.default.title" . }}"#,
    )?;
    let message = Message {
        channel: cfg.channel.clone(),
        username: render(
            "slack username",
            cfg.username.as_ref(),
            r#"{{ template "tally.default.username" . }}"#,
        )?,
        icon_emoji: cfg.icon_emoji.clone(),
        icon_url: cfg.icon_url.clone(),
        attachments: vec![Attachment {
            title_link: render(
                "slack title_link",
                cfg.title_link.as_ref(),
                "{{ .ExternalURL }}",
            )?,
            text: render(
                "slack text",
                cfg.text.as_ref(),
                r#"{{ template "tally.default.text" . }}"#,
            )?,
            color: render(
                "slack color",
                cfg.color.as_ref(),
                r#"{{ template "tally.default.color" . }}"#,
            )?,
            fallback: title.clone(),
            title,
            mrkdwn_in: vec!["fallback", "pretext", "text"],
        }],
    };
    serde_json::to_vec(&message).map_err(|e| DeliverError::Permanent(e.to_string()))
}

/// POSTs the message to the incoming webhook.
pub fn send(
    agents: &http::Agents,
    global: &GlobalConfig,
    cfg: &SlackConfig,
    templates: &Templates,
    data: &NotificationData,
) -> Result<(), DeliverError> {
    let url = cfg
        .api_url
        .as_ref()
        .or(global.slack_api_url.as_ref())
        .ok_or_else(|| DeliverError::Permanent("no Slack api_url".into()))?;
    let body = message(cfg, templates, data)?;
    let http_config = cfg.http_config.as_ref().or(global.http_config.as_ref());
    http::post_json(agents.get(http_config)?, url, &body, http_config)
}
