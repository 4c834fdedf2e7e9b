//! `tally-rules`: Prometheus rule files, run by tally.
//!
//! (Map of the crate: filled in as the modules land.)
//!
//! - `file`: the rule-file YAML model, parsed with positions, and its validation.
//! - `template`: Go-template expansion of labels and annotations (`{{ $labels.x }}`,
//!   `{{ $value }}`, `humanize`, ...).
//! - `check`: `promtool check rules` semantics over files.
//! - [`eval`]: running rules: [`eval::Manager`] evaluates each group on its interval
//!   (schedule driven by an injected [`eval::Clock`]: `next_due` + `tick`, `run` a thin
//!   loop), recording rules into storage with staleness markers, alerts through
//!   inactive → pending → firing → resolved (`for`, `keep_firing_for`) to an
//!   [`eval::AlertSender`], `ALERTS` / `ALERTS_FOR_STATE` written back, `for` state
//!   restored after a restart, reloads that keep state ([`eval::Manager::reload`]), and
//!   the bodies of `/api/v1/rules` and `/api/v1/alerts` ([`eval::api`]).
//! - [`unittest`]: `promtool test rules` files run on a manual clock
//!   ([`unittest::run_file`]), with promtool's messages.

#![warn(missing_docs)]

pub mod check;
pub mod eval;
pub mod file;
pub mod template;
pub mod unittest;
