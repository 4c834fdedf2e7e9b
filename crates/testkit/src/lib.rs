//! `tally-testkit`: the real peers tally's integration tests run against (DESIGN.md §3
//! and §8), started on loopback ports the harness picks, waited for until ready, and
//! killed by PID when dropped. A dev-dependency of `tally-cli`, `tally-server` and
//! `tally-notify`; never published.
//!
//! The peers are Debian's `prometheus` (with `promtool`), `prometheus-pushgateway`,
//! `prometheus-alertmanager` (with `amtool`) and `tinyproxy`, and Python 3 with the
//! `prometheus_client` and `aiosmtpd` packages. `scripts/test` installs them; a missing one fails the test
//! with a message saying to run it. Nothing is skipped.
//!
//! # Layout
//!
//! - [`Peer`], [`Ready`], [`free_port`] (`peer.rs`): one long-running child process with a
//!   temporary directory (working directory, configuration, data), a port and a log file
//!   (stdout and stderr). [`Peer::start`] is the generic part: it picks a free port, runs
//!   the program, retries with a new port when the program exits before it is ready (the
//!   port was taken in between), and polls until an HTTP path answers 200 or the port
//!   accepts connections. Dropping a `Peer` kills and reaps the process, then removes its
//!   directory. `tally serve` in the CLI and server suites is started the same way.
//! - [`find_program`], [`python_with_modules`] (`program.rs`): a program on `PATH`, and
//!   `python3` checked to import some modules.
//! - [`ChildGuard`], [`run_with_input`] (`child.rs`): short-lived processes (a tool fed
//!   some input, a batch of client processes): output collected with a deadline, killed
//!   on drop.
//! - The peers the suites use (each a constructor returning a ready [`Peer`]):
//!   - `prometheus.rs`: [`prometheus`] (no scrape jobs), [`prometheus_receiver`]
//!     (remote_write receiver), [`prometheus_scraping`] (one target, every second),
//!     [`prometheus_with_rules`] (a target and a rule file), [`prometheus_sending_alerts`]
//!     (an always-firing rule sent to an Alertmanager API), [`prometheus_with_config`]
//!     (any `prometheus.yml`).
//!   - `pushgateway.rs`: [`pushgateway`]; `alertmanager.rs`: [`alertmanager`].
//!   - `python_client.rs`: [`python_client`], the Python client's HTTP server with one
//!     metric of each kind.
//!   - `smtp.rs`: [`smtp_sink`] (`aiosmtpd` into a Maildir), [`smtp_sink_starttls`] (the
//!     same behind STARTTLS) and [`mails`], what they got.
//!   - `https.rs`: [`https_sink`] (Python's `http.server` behind OpenSSL, demanding a
//!     client certificate) and [`https_requests`], what it accepted.
//!   - `pki.rs`: [`TestPki`], certificates for the TLS peers.
//!   - `proxy.rs`: [`http_proxy`], Debian's `tinyproxy`.
//!
//! Every wait is bounded ([`READY_TIMEOUT`] for readiness) and polls an external process
//! (`poll.rs`, the one place that sleeps); nothing here sleeps to time the code under
//! test.
//!
//! # Example
//!
//! ```
//! use tally_testkit::{find_program, run_with_input, Peer, Ready};
//! use std::time::Duration;
//!
//! // A ready-made peer: Debian's Prometheus on a free port, killed when `prometheus` drops.
//! let prometheus = tally_testkit::prometheus();
//! let metrics = ureq::get(&prometheus.url("/metrics")).call()?.body_mut().read_to_string()?;
//! assert!(metrics.contains("prometheus_build_info"), "{}", prometheus.log());
//!
//! // `promtool` as an oracle, bounded in time.
//! let output = run_with_input(
//!     &find_program("promtool"),
//!     &["check", "metrics"],
//!     b"# HELP up Whether the target is up.\n# TYPE up gauge\nup 1\n",
//!     Duration::from_secs(30),
//! );
//! assert!(output.status.success());
//!
//! // Any other program: say how to start it on `port` and how to tell it is ready.
//! let python = find_program("python3");
//! let server = Peer::start(&python, Ready::Http("/"), |command, _dir, port| {
//!     command.args(["-m", "http.server", "--bind", "127.0.0.1"]).arg(port.to_string());
//! });
//! assert_eq!(ureq::get(&server.url("/")).call()?.status(), 200);
//! # Ok::<(), ureq::Error>(())
//! ```

#![warn(missing_docs)]
// Test support: failing is panicking (the test fails with the message given).
#![allow(clippy::expect_used)]

mod alertmanager;
mod child;
mod https;
mod peer;
mod pki;
mod poll;
mod program;
mod prometheus;
mod proxy;
mod pushgateway;
mod python_client;
mod smtp;

pub use alertmanager::alertmanager;
pub use child::{run_with_input, ChildGuard};
pub use https::{https_requests, https_sink};
pub use peer::{free_port, Peer, Ready, READY_TIMEOUT};
pub use pki::TestPki;
pub use program::{find_program, python_with_modules};
pub use prometheus::{
    prometheus, prometheus_receiver, prometheus_scraping, prometheus_sending_alerts,
    prometheus_with_config, prometheus_with_rules,
};
pub use proxy::http_proxy;
pub use pushgateway::pushgateway;
pub use python_client::python_client;
pub use smtp::{mails, smtp_sink, smtp_sink_starttls};
