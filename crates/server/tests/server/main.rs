#![allow(clippy::unwrap_used, clippy::expect_used)]

//! tally-server's integration tests: the HTTP API as DESIGN.md §4 and §8 specify it,
//! in-process and against real peers.
//!
//! # Layout
//!
//! Tests:
//! - `api.rs`: the API in-process (`Router::oneshot`): push, read, delete, PUT vs POST,
//!   `@base64`, `Tally-TTL` and expiry on a manual clock, `Tally-Process-Start` +
//!   `Tally-Push-Sequence`, OpenMetrics negotiation, both views, `/api/v1/groups`, health.
//! - `bad_input.rs`: a corpus of malformed and hostile requests, each refused with its
//!   status and a message naming the problem, changing nothing; and the rate limit.
//! - `durability.rs`: `kill -9` under load and `SIGTERM` of a real `tally serve`; logs with
//!   a torn or corrupt tail.
//! - `crash_tsdb.rs`: `kill -9` of a real `tally serve` under remote_write and push load
//!   (at an arbitrary moment and mid-checkpoint), every acknowledged sample found in the
//!   TSDB opened read-only; a torn or corrupt TSDB log tail recovered and reported.
//! - `crosscheck.rs`: identical remote_write data in tally and Debian's Prometheus 2.42;
//!   66 queries, instant and range, answered alike through both query APIs.
//! - `python_clients.rs` (+ `clients.py`): 20 processes of the Python `prometheus_client`;
//!   the aggregated totals must be exact.
//! - `prometheus.rs`: Debian's `prometheus` scrapes tally; `promtool check metrics`.
//! - `prometheus_remote_write.rs`: Debian's `prometheus` scrapes itself and remote_writes
//!   to tally; tally's TSDB holds exactly its samples, and its metadata.
//! - `pusher.rs`: tally's own `Pusher` end to end.
//! - `history.rs`: the aggregated view written to the TSDB every round on a manual clock:
//!   values over time, staleness markers for vanished series, per-group series.
//! - `remote_write.rs`: the remote_write receiver in-process over `MemStorage`: golden
//!   answers per error class, a hostile corpus, encode → store round trips.
//!
//! - `rules.rs`: rule files evaluated over pushed metrics on a manual clock: recorded
//!   series, alert states, `ALERTS`, `/api/v1/rules`, `/api/v1/alerts`, alerts in the
//!   notifier; reloads with a broken file; a firing alert across a restart.
//!
//! Helpers:
//! - `harness.rs`: the app in-process with a manual clock.
//! - `live.rs`: the server in-process on a loopback socket.
//! - `process.rs`: the `tally` binary as a child process.
//! - `http.rs`: a blocking HTTP client.
//! - `samples.rs`: expositions as `name{labels}` → value maps, compared with a diff.
//! - from `tally-testkit`: real peers (programs on `PATH`, Debian's Prometheus, the
//!   Python client), child-process guards.
//!
//! Every test is bounded in time: waits for processes and ports poll with deadlines, and
//! nothing sleeps to test timing logic. Peers run on loopback ports picked by binding port
//! 0, and are killed by PID when their guard drops. A missing peer fails the test and says
//! to run `scripts/test`, which installs them.

mod api;
mod bad_input;
mod crash_tsdb;
mod crosscheck;
mod durability;
mod harness;
mod history;
mod http;
mod live;
mod mutated_requests;
mod process;
mod prometheus;
mod prometheus_remote_write;
mod pusher;
mod python_clients;
mod query_api;
mod remote_write;
mod rules;
mod samples;
