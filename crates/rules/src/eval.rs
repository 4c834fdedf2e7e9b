//! Evaluating rule groups: recording rules written to storage, alerting rules through
//! their states to an [`AlertSender`], `ALERTS` / `ALERTS_FOR_STATE` written back, alert
//! state restored after a restart, and the JSON of `/api/v1/rules` and `/api/v1/alerts`.
//!
//! Semantics follow Prometheus' `rules` package (2.x/3.x); each file says which part.
//!
//! # Layout
//!
//! - [`Manager`], [`ManagerConfig`], [`GroupStats`] (`manager.rs`): the loaded groups,
//!   their schedule ([`Manager::next_due`] + [`Manager::tick`], with [`Manager::run`] a
//!   thin loop over them), reloads that keep state ([`Manager::update`]).
//! - `group.rs`: one group's evaluation, staleness markers, state carried over reloads.
//! - `recording.rs`, `alert.rs` ([`Alert`], [`AlertState`]): the two kinds of rule.
//! - `restore.rs`: `for` progress restored from `ALERTS_FOR_STATE` after a start.
//! - [`AlertSender`], [`OutgoingAlert`] (`send.rs`): what leaves for the notifier.
//! - [`load_rule_files`], [`LoadError`] (`load.rs`): rule-file globs read all or nothing,
//!   and [`Manager::reload`] over it.
//! - [`Clock`], [`SystemClock`], [`ManualClock`] (re-exported from
//!   `tally_model::clock`): injected time.
//! - [`RuleHealth`], [`RuleStatus`] (`rule.rs`): per-rule health and last evaluation.
//! - [`api`]: `/api/v1/rules` and `/api/v1/alerts` bodies.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use tally_model::{Labels, Sample};
//! use tally_rules::eval::{Manager, ManagerConfig, ManualClock, RecordingSender};
//! use tally_rules::file::{Rule, RuleFile, RuleGroup, RuleKind};
//! use tally_storage::{MemStorage, Storage};
//!
//! let storage = Arc::new(MemStorage::new());
//! let up = Labels::from_pairs([("__name__", "up"), ("job", "api")])?;
//! let mut app = storage.appender();
//! app.append(&up, Sample::new(0, 0.0))?;
//! app.commit()?;
//!
//! let clock = Arc::new(ManualClock::new(0));
//! let sender = Arc::new(RecordingSender::new());
//! let mut config = ManagerConfig::new(storage.clone(), clock.clone(), sender.clone());
//! config.restore_state = false;
//! let manager = Manager::new(config);
//! let rule = Rule {
//!     kind: RuleKind::Alerting { alert: "Down".into(), for_ms: 0, keep_firing_for_ms: 0 },
//!     expr: "up == 0".into(),
//!     labels: Default::default(),
//!     annotations: Default::default(),
//!     line: 1,
//! };
//! let group = RuleGroup { name: "g".into(), rules: vec![rule], ..Default::default() };
//! manager.update(vec![RuleFile { path: "r.yml".into(), groups: vec![group] }]);
//! manager.eval_all_at(60_000, &[]);
//! let sent = sender.take();
//! assert_eq!(sent[0][0].labels.get("alertname"), Some("Down"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod alert;
pub mod api;
mod group;
mod load;
mod manager;
mod recording;
mod restore;
mod rule;
mod send;

pub use alert::{Alert, AlertState, ALERTS_FOR_STATE_METRIC, ALERTS_METRIC, RESOLVED_RETENTION_MS};
pub use group::GroupCounters;
pub use load::{load_rule_files, LoadError};
pub use manager::{GroupStats, Manager, ManagerConfig};
pub use rule::{RuleHealth, RuleStatus};
pub use send::{generator_url, AlertSender, DiscardSender, OutgoingAlert, RecordingSender};
pub use tally_model::clock::{Clock, ManualClock, SystemClock};

/// Why one rule's evaluation failed. The rule is marked unhealthy with this message; the
/// group goes on with its other rules.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The query failed.
    #[error(transparent)]
    Query(Box<tally_promql::QueryError>),
    /// The expression does not parse (the file was not checked).
    #[error("{0}")]
    Parse(String),
    /// The expression returned a string or a range vector.
    #[error("rule result is not a vector or scalar")]
    NotAVector,
    /// Two results got the same labels once the rule's labels were applied.
    #[error("vector contains metrics with the same labelset after applying {what}")]
    DuplicateLabelset {
        /// `rule labels` or `alert labels`.
        what: &'static str,
    },
    /// More results than the group's `limit`; nothing was kept.
    #[error("exceeded limit of {limit} with {count} {what}")]
    Limit {
        /// The limit.
        limit: usize,
        /// How many there were.
        count: usize,
        /// `series` or `alerts`.
        what: &'static str,
    },
    /// A label set could not be built.
    #[error(transparent)]
    Labels(#[from] tally_model::LabelsError),
    /// Storage refused a result sample.
    #[error(transparent)]
    Append(Box<tally_storage::AppendError>),
    /// Storage failed to commit.
    #[error("{0}")]
    Storage(String),
}

#[cfg(test)]
mod tests;

impl From<tally_promql::QueryError> for EvalError {
    fn from(e: tally_promql::QueryError) -> Self {
        EvalError::Query(Box::new(e))
    }
}
