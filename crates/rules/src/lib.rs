//! `tally-rules`: Prometheus rule files, run by tally.
//!
//! (Map of the crate: filled in as the modules land.)
//!
//! - `file`: the rule-file YAML model, parsed with positions, and its validation.
//! - `template`: Go-template expansion of labels and annotations (`{{ $labels.x }}`,
//!   `{{ $value }}`, `humanize`, ...).
//! - `check`: `promtool check rules` semantics over files.
//! - `eval`: evaluating groups on their interval: recording rules into storage, alert
//!   states, `ALERTS` / `ALERTS_FOR_STATE`, restoring state after a restart.
//! - `unittest`: `promtool test rules` files.

#![warn(missing_docs)]

pub mod check;
pub mod eval;
pub mod file;
pub mod template;
pub mod unittest;
