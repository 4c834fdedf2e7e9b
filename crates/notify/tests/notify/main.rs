//! Integration tests of tally-notify: the dispatcher's timelines on a clock driven by
//! hand, and deliveries to real peers (HTTP servers, Debian's Alertmanager, an SMTP
//! sink).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

mod amtool;
mod api;
mod config;
mod dispatch;
mod email;
mod forward;
mod fuzz;
mod prometheus;
mod proxy;
mod slack;
mod time_intervals;
mod tls;
mod webhook;
