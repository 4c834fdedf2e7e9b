//! Debian's `prometheus` server, in the set-ups the tests use. Each runs with its TSDB
//! and `prometheus.yml` in the peer's temporary directory, listens on `127.0.0.1:<port>`
//! and is ready when `/-/ready` answers 200.

use std::path::Path;

use crate::peer::{flag_path, Peer, Ready};
use crate::program::find_program;

/// A configuration with no scrape jobs: the TSDB holds only what is written to it.
const NO_SCRAPES: &str = "global:\n  scrape_interval: 15s\nscrape_configs: []\n";

/// Prometheus with no scrape jobs (for its own `/metrics` and API).
pub fn prometheus() -> Peer {
    start(|_| NO_SCRAPES.to_owned(), &[], &[])
}

/// Prometheus as a remote_write receiver (`--web.enable-remote-write-receiver`, so
/// `POST /api/v1/write` is open): no scrape jobs, so its TSDB holds only what is written
/// to it.
pub fn prometheus_receiver() -> Peer {
    start(
        |_| NO_SCRAPES.to_owned(),
        &[],
        &["--web.enable-remote-write-receiver"],
    )
}

/// Prometheus scraping `target` (`host:port`) every second (time-out one second) as the
/// job `tally`, with `honor_labels: true` so series keep the labels the target exposes.
pub fn prometheus_scraping(target: &str) -> Peer {
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: tally\n    honor_labels: true\n    \
         static_configs:\n      - targets: ['{target}']\n"
    );
    start(|_| config.clone(), &[], &[])
}

/// Prometheus scraping `target` (`host:port`) as the job `tally` with `honor_labels:
/// true`, and evaluating the rule file `rules`, both every second.
pub fn prometheus_with_rules(target: &str, rules: &Path) -> Peer {
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files: [{rules:?}]\n\
         scrape_configs:\n  - job_name: tally\n    honor_labels: true\n    \
         static_configs: [{{targets: [{target:?}]}}]\n"
    );
    start(|_| config.clone(), &[], &[])
}

/// The alerting rule [`prometheus_sending_alerts`] evaluates: always firing, with a label
/// and an annotation.
const ALWAYS_FIRING: &str = "groups:\n  - name: always\n    rules:\n      \
    - alert: AlwaysFiring\n        expr: vector(1)\n        labels: { severity: page }\n        \
    annotations: { summary: 'always firing' }\n";

/// Prometheus evaluating one always-firing alerting rule (`AlwaysFiring`, label
/// `severity="page"`, annotation `summary="always firing"`) every second and sending its
/// alerts, re-sent every second, to the Alertmanager v2 API at
/// `127.0.0.1:<alertmanager_port>`.
pub fn prometheus_sending_alerts(alertmanager_port: u16) -> Peer {
    let config = format!(
        "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nalerting:\n  \
         alertmanagers:\n    - api_version: v2\n      static_configs:\n        \
         - targets: ['127.0.0.1:{alertmanager_port}']\n"
    );
    // Alerts evaluated before the Alertmanager list is known are dropped; resend every
    // second instead of every minute so the next evaluation sends them.
    start(
        |_| config.clone(),
        &[("rules.yml", ALWAYS_FIRING)],
        &["--rules.alert.resend-delay=1s"],
    )
}

/// Prometheus with the `prometheus.yml` that `config` returns for the port it will
/// listen on (so it can scrape itself).
pub fn prometheus_with_config(config: impl Fn(u16) -> String) -> Peer {
    start(config, &[], &[])
}

/// Starts `prometheus` with `config(port)` as `prometheus.yml`, `files` (name, contents)
/// beside it, and `flags` after the usual ones.
fn start(config: impl Fn(u16) -> String, files: &[(&str, &str)], flags: &[&str]) -> Peer {
    let program = find_program("prometheus");
    Peer::start(&program, Ready::Http("/-/ready"), |command, dir, port| {
        let file = dir.join("prometheus.yml");
        std::fs::write(&file, config(port)).expect("writing prometheus.yml");
        for (name, contents) in files {
            std::fs::write(dir.join(name), contents)
                .unwrap_or_else(|e| panic!("writing {name}: {e}"));
        }
        command
            .arg(flag_path("--config.file=", &file))
            .arg(flag_path("--storage.tsdb.path=", &dir.join("data")))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(flags);
    })
}
