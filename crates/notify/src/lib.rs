//! `tally-notify`: telling people about alerts, the way Alertmanager does.

#![warn(missing_docs)]

pub mod alert;
pub mod clock;
pub mod config;
pub mod deliver;
pub mod dispatch;
pub mod inhibit;
pub mod integration;
pub mod matcher;
pub mod payload;
pub mod route;
pub mod silence;
pub mod template;

pub use alert::Alert;
pub use dispatch::Dispatcher;
