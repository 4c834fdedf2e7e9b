//! `tally-notify`: telling people about alerts, the way Alertmanager does.
//!
//! Alerts come in from tally's rule engine (or any Prometheus, through `POST
//! /api/v2/alerts`). They are routed down an Alertmanager-style tree, grouped, muted by
//! inhibition rules and silences, deduplicated against a notification log, and delivered
//! to webhooks (payload version 4), Slack-compatible incoming webhooks and email; every
//! alert can also be forwarded to external Alertmanagers. The configuration is
//! Alertmanager's YAML, with the same field names.
//!
//! # Layout
//!
//! - [`config`]: [`Config`] (parsed, validated), [`NotifyConfig`](config::NotifyConfig)
//!   and the YAML types; [`matcher`]: label matchers; [`route`]: the routing tree;
//!   [`inhibit`]: inhibition rules; [`silence`]: silences; [`time_interval`]: the
//!   periods routes are muted or active in.
//! - [`dispatch`]: [`Dispatcher`], the core without threads or I/O: `put` alerts, `tick`
//!   with a time, get the [`Notification`](dispatch::Notification)s due. Grouping timers,
//!   muting and the notification log live here.
//! - [`payload`] and [`template`]: what a notification says (the v4 webhook JSON, Go
//!   templates over Alertmanager's notification data).
//! - [`deliver`]: webhook, Slack and email integrations, retries with backoff;
//!   [`forward`]: batching alerts to external Alertmanagers.
//! - [`Notifier`] ([`notifier`]): the handle the server keeps: worker threads, timer
//!   thread, forwarding, the state file ([`state`]) and metrics ([`stats`]).
//! - [`api`]: the Alertmanager v2 HTTP API for alerts and silences (axum).
//! - [`clock`]: the injected clock.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use chrono::{TimeZone, Utc};
//! use tally_model::Labels;
//! use tally_notify::{clock::ManualClock, Alert, Config, Notifier, NotifierOptions};
//!
//! let config = Config::parse(r#"
//! route:
//!   receiver: team
//!   group_by: [alertname]
//!   group_wait: 30s
//! receivers:
//!   - name: team
//! "#)?;
//! let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().ok_or("time")?;
//! let clock = ManualClock::new(start);
//! let options = NotifierOptions { clock: Arc::new(clock.clone()), ..NotifierOptions::default() };
//! let notifier = Notifier::new(config, options)?;
//! notifier.put(vec![Alert::firing(Labels::from_pairs([("alertname", "Down")])?, start)])?;
//! assert_eq!(notifier.alerts().len(), 1);
//! clock.advance(chrono::Duration::seconds(30));
//! // The receiver has no integrations, so nothing is delivered, but the group flushed.
//! assert!(notifier.tick_blocking()?.is_empty());
//! notifier.shutdown()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod alert;
pub mod api;
pub mod clock;
pub mod config;
pub mod deliver;
pub mod dispatch;
pub mod forward;
pub mod inhibit;
pub mod integration;
pub mod matcher;
pub mod notifier;
pub mod payload;
pub mod route;
pub mod silence;
pub mod state;
pub mod stats;
pub mod template;
pub mod time_interval;

pub use alert::Alert;
pub use api::router;
pub use config::Config;
pub use dispatch::Dispatcher;
pub use notifier::{Notifier, NotifierError, NotifierOptions};
