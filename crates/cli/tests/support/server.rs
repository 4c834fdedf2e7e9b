//! A `tally serve` child process on a loopback port, for end-to-end tests.

use std::time::Duration;

use tally_testkit::{Peer, Ready};

/// A `tally serve` child with its data in its temporary directory; killed by its PID and
/// reaped on drop (a [`Peer`]).
pub struct Server {
    peer: Peer,
    /// The port it listens on.
    pub port: u16,
}

impl Server {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts `tally serve` with `extra` arguments after the listen address and data
    /// directory, and waits until it answers `/-/ready`.
    pub fn start_with(extra: &[&str]) -> Self {
        let binary = std::path::Path::new(env!("CARGO_BIN_EXE_tally"));
        let peer = Peer::start(binary, Ready::Http("/-/ready"), |command, dir, port| {
            command
                .args([
                    "serve",
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--data-dir",
                ])
                .arg(dir.join("data"))
                .args(extra)
                .env_remove("TALLY_CONFIG");
        });
        let port = peer.port();
        Server { peer, port }
    }

    /// The server's process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.peer.pid()
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        self.peer.url(path)
    }

    /// The body of a `GET` (any status).
    pub fn get(&self, path: &str) -> String {
        agent()
            .get(self.url(path))
            .call()
            .expect("GET from tally serve")
            .body_mut()
            .read_to_string()
            .expect("reading the answer")
    }

    /// The grouping keys of `GET /api/v1/groups`, each as sorted `name=value` pairs.
    pub fn groups(&self) -> Vec<Vec<String>> {
        let json: serde_json::Value =
            serde_json::from_str(&self.get("/api/v1/groups")).expect("groups JSON");
        json["data"]
            .as_array()
            .expect("data is an array")
            .iter()
            .map(|g| {
                g["labels"]
                    .as_object()
                    .expect("labels are an object")
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("?")))
                    .collect()
            })
            .collect()
    }
}

/// An HTTP agent with a timeout that reads non-2xx answers as answers.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .new_agent()
}
