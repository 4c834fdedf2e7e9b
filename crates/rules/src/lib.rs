//! `tally-rules`: Prometheus rule files, run by tally.
//!
//! (Map of the crate: filled in as the modules land.)
//!
//! - [`file`](mod@file): the rule-file model ([`file::RuleFile`] → [`file::RuleGroup`] →
//!   [`file::Rule`], each with its line), read by [`file::parse`] / [`file::load`]:
//!   the first YAML document as a tree with lines (`saphyr-parser`), decoded strictly
//!   and validated as Prometheus' `rulefmt` does, every problem a
//!   [`file::FileError`] with its line.
//! - [`template`]: Go-template expansion of alert labels and annotations over
//!   `gotmpl` ([`template::expand`], [`template::check`]): `$labels`, `$value`,
//!   `humanize` and the rest of Prometheus' functions, `query` through the caller's
//!   engine, values printed as Go prints them.
//! - [`check`]: `promtool check rules` over a file ([`check::check_path`]): errors
//!   from parsing, duplicate rules as warnings, in a [`check::Report`].
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
