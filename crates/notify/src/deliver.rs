//! Delivering notifications: the integrations ([`webhook`], [`slack`], [`email`]), the
//! HTTP client they share ([`http`]) and the retry policy around them ([`retry`]).
//!
//! [`Deliverer`] renders and sends one [`Notification`], retrying with exponential
//! backoff and jitter until a deadline. It blocks: the [`Notifier`](crate::Notifier) runs
//! it on worker threads, off the dispatch path.

pub mod email;
pub mod http;
pub mod retry;
pub mod slack;
pub mod webhook;

use std::time::{Duration, Instant};

use crate::config::{Config, ReceiverConfig};
use crate::dispatch::Notification;
use crate::integration::IntegrationKind;
use crate::stats::Stats;

pub use retry::RetryPolicy;

/// Why one attempt to deliver failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliverError {
    /// Worth trying again: connection refused, time-out, HTTP 5xx or 429, SMTP 4xx.
    #[error("{0} (will retry)")]
    Retryable(String),
    /// Trying again will not help: HTTP 4xx, a bad template, a bad address.
    #[error("{0}")]
    Permanent(String),
}

impl DeliverError {
    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, DeliverError::Retryable(_))
    }
}

/// Sends notifications to the integrations of a configuration. Cloning shares the HTTP
/// agents (connection pools) and the statistics.
#[derive(Debug, Clone)]
pub struct Deliverer {
    config: Config,
    agents: http::Agents,
    stats: Stats,
    retry: RetryPolicy,
}

impl Deliverer {
    /// A deliverer for `config`, counting into `stats`.
    pub fn new(config: Config, stats: Stats, retry: RetryPolicy) -> Self {
        Self {
            agents: http::Agents::new(&config, retry.attempt_timeout),
            config,
            stats,
            retry,
        }
    }

    /// One attempt to deliver `n`, without retrying.
    pub fn attempt(&self, n: &Notification) -> Result<(), DeliverError> {
        let receiver = self.receiver(&n.integration.receiver).ok_or_else(|| {
            DeliverError::Permanent(format!(
                "receiver {} not configured",
                n.integration.receiver
            ))
        })?;
        let global = &self.config.raw.global;
        let templates = self.config.templates();
        let index = n.integration.index;
        let missing =
            || DeliverError::Permanent(format!("integration {} not configured", n.integration));
        match n.integration.kind {
            IntegrationKind::Webhook => {
                let cfg = receiver.webhook_configs.get(index).ok_or_else(missing)?;
                webhook::send(&self.agents, global, cfg, &n.data)
            }
            IntegrationKind::Slack => {
                let cfg = receiver.slack_configs.get(index).ok_or_else(missing)?;
                slack::send(&self.agents, global, cfg, templates, &n.data)
            }
            IntegrationKind::Email => {
                let cfg = receiver.email_configs.get(index).ok_or_else(missing)?;
                let tls = match &cfg.tls_config {
                    Some(raw) => Some(self.config.tls.get(raw).ok_or_else(|| {
                        DeliverError::Permanent(
                            "tls_config was not loaded with the configuration".into(),
                        )
                    })?),
                    None => None,
                };
                email::send(
                    global,
                    cfg,
                    tls,
                    templates,
                    &n.data,
                    self.retry.attempt_timeout,
                )
            }
        }
    }

    /// Delivers `n`, retrying retryable failures with backoff until the policy's
    /// deadline or until `stop` says to give up (shutdown). Counts the outcome.
    pub fn deliver(
        &self,
        n: &Notification,
        stop: &dyn Fn(Duration) -> bool,
    ) -> Result<(), DeliverError> {
        let started = Instant::now();
        let deadline = started + self.retry.deadline;
        let mut attempt = 0u32;
        loop {
            let result = self.attempt(n);
            match result {
                Ok(()) => {
                    self.stats
                        .notification_sent(&n.integration, started.elapsed());
                    return Ok(());
                }
                Err(e) => {
                    let wait = self.retry.backoff(attempt);
                    let give_up =
                        !e.is_retryable() || Instant::now() + wait >= deadline || stop(wait);
                    if give_up {
                        tracing::warn!(integration = %n.integration, error = %e, "notification failed");
                        self.stats
                            .notification_failed(&n.integration, started.elapsed());
                        return Err(e);
                    }
                    self.stats.notification_retried(&n.integration);
                    attempt += 1;
                }
            }
        }
    }

    fn receiver(&self, name: &str) -> Option<&ReceiverConfig> {
        self.config.raw.receivers.iter().find(|r| r.name == name)
    }
}
