//! [`IntegrationId`]: one integration of a receiver (`webhook_configs[0]` of `team`),
//! the unit notifications are deduplicated, delivered and counted by.

use std::fmt;

use crate::config::ReceiverConfig;

/// The kind of an integration, as the `integration` label of the metrics names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IntegrationKind {
    /// `webhook_configs`.
    Webhook,
    /// `slack_configs`.
    Slack,
    /// `email_configs`.
    Email,
}

impl IntegrationKind {
    /// `webhook`, `slack` or `email`.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Webhook => "webhook",
            IntegrationKind::Slack => "slack",
            IntegrationKind::Email => "email",
        }
    }
}

/// One integration of one receiver.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IntegrationId {
    /// The receiver's name.
    pub receiver: String,
    /// The kind.
    pub kind: IntegrationKind,
    /// Position in the receiver's list of that kind.
    pub index: usize,
}

impl fmt::Display for IntegrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}[{}]",
            self.receiver,
            self.kind.as_str(),
            self.index
        )
    }
}

/// An integration with the settings the dispatcher needs.
#[derive(Debug, Clone)]
pub(crate) struct IntegrationInfo {
    pub id: IntegrationId,
    pub send_resolved: bool,
    pub max_alerts: u64,
}

/// The integrations of a receiver, in configuration order.
pub(crate) fn integrations(receiver: &ReceiverConfig) -> Vec<IntegrationInfo> {
    let id = |kind, index| IntegrationId {
        receiver: receiver.name.clone(),
        kind,
        index,
    };
    let mut out = Vec::new();
    for (i, w) in receiver.webhook_configs.iter().enumerate() {
        out.push(IntegrationInfo {
            id: id(IntegrationKind::Webhook, i),
            send_resolved: w.send_resolved,
            max_alerts: w.max_alerts,
        });
    }
    for (i, s) in receiver.slack_configs.iter().enumerate() {
        out.push(IntegrationInfo {
            id: id(IntegrationKind::Slack, i),
            send_resolved: s.send_resolved,
            max_alerts: 0,
        });
    }
    for (i, e) in receiver.email_configs.iter().enumerate() {
        out.push(IntegrationInfo {
            id: id(IntegrationKind::Email, i),
            send_resolved: e.send_resolved,
            max_alerts: 0,
        });
    }
    out
}
