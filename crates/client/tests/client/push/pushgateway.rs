//! Debian's `prometheus-pushgateway`, started on a free 127.0.0.1 port for one test and
//! killed (by PID) when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = "/usr/bin/prometheus-pushgateway";

/// A running pushgateway.
#[derive(Debug)]
pub struct Pushgateway {
    child: Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Pushgateway {
    /// Starts one and waits (at most 10 s) until `/-/ready` answers 200. Panics with a
    /// pointer to `scripts/test` when the binary is missing: this test never skips.
    pub fn start() -> Self {
        let binary = Path::new(BINARY);
        assert!(
            binary.exists(),
            "{BINARY} is missing: run scripts/test, which installs Debian's \
             prometheus-pushgateway (apt-get install prometheus-pushgateway)"
        );
        let mut last_log = String::new();
        // A port picked by binding :0 may be taken by the time the gateway binds it: try
        // a few.
        for _ in 0..3 {
            let port = {
                let l = TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap().port()
            };
            let dir = tempfile::tempdir().unwrap();
            let log = dir.path().join("pushgateway.log");
            let child = Command::new(binary)
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                // No persistence: Debian's default points at /var/lib.
                .arg("--persistence.file=")
                .arg("--log.level=warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {BINARY}: {e}"));
            let mut gateway = Pushgateway {
                child,
                url: format!("http://127.0.0.1:{port}"),
                log,
                _dir: dir,
            };
            if gateway.wait_ready(Duration::from_secs(10)) {
                return gateway;
            }
            last_log = gateway.log();
        }
        panic!("{BINARY} did not become ready; its log:\n{last_log}");
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let agent = agent();
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false; // exited: the port was taken, or a bad flag
            }
            let ready = agent
                .get(format!("{}/-/ready", self.url))
                .call()
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return true;
            }
            // Polling a child process' readiness: nothing to wait on but time.
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `GET /metrics` of the gateway: every group's metrics with their grouping labels.
    pub fn metrics(&self) -> String {
        agent()
            .get(format!("{}/metrics", self.url))
            .call()
            .unwrap_or_else(|e| panic!("GET /metrics: {e}\nlog:\n{}", self.log()))
            .into_body()
            .read_to_string()
            .unwrap()
    }

    /// The gateway's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        // `Child::kill` signals the child's own PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(2)))
            .build(),
    )
}
