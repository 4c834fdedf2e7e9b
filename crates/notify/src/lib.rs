//! `tally-notify`: telling people about alerts, the way Alertmanager does.
//!
//! (Map of the crate: filled in as the modules land.)

#![warn(missing_docs)]
