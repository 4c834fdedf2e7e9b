//! A `tally serve` child process on a loopback port, for end-to-end tests.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long the server may take to answer `/-/ready`. Generous: this waits for a process
/// to start, it times nothing under test.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A `tally serve` child with its data in a temporary directory; killed by its PID and
/// reaped on drop.
pub struct Server {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    _dir: TempDir,
}

impl Server {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts `tally serve` with `extra` arguments after the listen address and data
    /// directory.
    pub fn start_with(extra: &[&str]) -> Self {
        let mut last_log = String::new();
        // Another attempt when the port picked was taken by the time the server bound it.
        for _ in 0..3 {
            let dir = TempDir::new().expect("creating a temporary directory");
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("binding 127.0.0.1:0")
                .port();
            let log = std::fs::File::create(dir.path().join("serve.log")).expect("creating log");
            let child = Command::new(env!("CARGO_BIN_EXE_tally"))
                .args([
                    "serve",
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--data-dir",
                ])
                .arg(dir.path().join("data"))
                .args(extra)
                .env_remove("TALLY_CONFIG")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("cloning the log handle"))
                .stderr(log)
                .spawn()
                .expect("starting tally serve");
            let mut server = Server {
                child,
                port,
                _dir: dir,
            };
            if server.wait_ready() {
                return server;
            }
            last_log =
                std::fs::read_to_string(server._dir.path().join("serve.log")).unwrap_or_default();
        }
        panic!("tally serve exited before it was ready, 3 times; last log:\n{last_log}");
    }

    /// Polls `/-/ready` until 200; `false` if the process exited first.
    fn wait_ready(&mut self) -> bool {
        let agent = agent();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if agent
                .get(self.url("/-/ready"))
                .call()
                .is_ok_and(|r| r.status() == 200)
            {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "tally serve did not get ready within {READY_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
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

impl Drop for Server {
    fn drop(&mut self) {
        // `Child::kill` signals exactly this PID; wait reaps it.
        let _ = self.child.kill();
        let _ = self.child.wait();
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
