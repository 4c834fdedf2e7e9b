//! Real peers started on loopback ports: Debian's `prometheus`, `prometheus-pushgateway`
//! and `prometheus-alertmanager`, and an HTTP server of the Python `prometheus_client`.
//!
//! Each [`Peer`] owns its child process and a temporary directory (configuration, data,
//! log); dropping it kills the process by its PID, waits for it and removes the directory.
//! A missing program is a test failure that says to run `scripts/test`, which installs
//! them; nothing is skipped.

use std::ffi::OsString;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a peer may take to become ready. Generous: this waits for a process to start
/// (Prometheus opens its TSDB first), it does not time anything under test.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Pause between readiness polls.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Attempts at starting a peer; another attempt is made when the port picked turned out
/// to be taken by the time the peer bound it.
const START_ATTEMPTS: usize = 3;

/// A running peer process. See the module documentation.
#[derive(Debug)]
pub struct Peer {
    name: &'static str,
    child: Child,
    port: u16,
    log: PathBuf,
    // Dropped after `Drop::drop` has killed the child, so the process never outlives its files.
    _dir: TempDir,
}

impl Peer {
    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// What the peer wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // `Child::kill` signals exactly this PID; wait reaps it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Debian's Prometheus server with no scrape jobs and its TSDB in a temporary directory.
pub fn prometheus() -> Peer {
    start("prometheus", "/-/ready", |dir, port| {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            "global:\n  scrape_interval: 15s\nscrape_configs: []\n",
        )
        .expect("writing prometheus.yml");
        vec![
            arg("--config.file=", &config),
            arg("--storage.tsdb.path=", &dir.join("data")),
            format!("--web.listen-address=127.0.0.1:{port}").into(),
        ]
    })
}

/// Debian's Prometheus scraping `target` (`host:port`, labels as the target exposes
/// them) and evaluating the rule file `rules`, both every second.
pub fn prometheus_with_rules(target: &str, rules: &Path) -> Peer {
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files: [{rules:?}]\n\
         scrape_configs:\n  - job_name: tally\n    honor_labels: true\n    \
         static_configs: [{{targets: [{target:?}]}}]\n"
    );
    start("prometheus", "/-/ready", |dir, port| {
        let file = dir.join("prometheus.yml");
        std::fs::write(&file, &config).expect("writing prometheus.yml");
        vec![
            arg("--config.file=", &file),
            arg("--storage.tsdb.path=", &dir.join("data")),
            format!("--web.listen-address=127.0.0.1:{port}").into(),
        ]
    })
}

/// Debian's Prometheus as a remote_write receiver (`--web.enable-remote-write-receiver`):
/// no scrape jobs, so its TSDB holds only what is written to it.
pub fn prometheus_receiver() -> Peer {
    start("prometheus", "/-/ready", |dir, port| {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            "global:\n  scrape_interval: 15s\nscrape_configs: []\n",
        )
        .expect("writing prometheus.yml");
        vec![
            arg("--config.file=", &config),
            arg("--storage.tsdb.path=", &dir.join("data")),
            format!("--web.listen-address=127.0.0.1:{port}").into(),
            "--web.enable-remote-write-receiver".into(),
        ]
    })
}

/// Debian's Pushgateway, persisting to a file in its temporary directory.
pub fn pushgateway() -> Peer {
    start("prometheus-pushgateway", "/-/ready", |dir, port| {
        vec![
            format!("--web.listen-address=127.0.0.1:{port}").into(),
            arg("--persistence.file=", &dir.join("pushgateway.data")),
        ]
    })
}

/// Debian's Alertmanager with one receiver that sends nothing, and clustering off.
pub fn alertmanager() -> Peer {
    start("prometheus-alertmanager", "/-/ready", |dir, port| {
        let config = dir.join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: \"blackhole\"\nreceivers:\n  - name: \"blackhole\"\n",
        )
        .expect("writing alertmanager.yml");
        vec![
            arg("--config.file=", &config),
            arg("--storage.path=", &dir.join("data")),
            format!("--web.listen-address=127.0.0.1:{port}").into(),
            "--cluster.listen-address=".into(),
        ]
    })
}

/// The Python client's own HTTP server (`prometheus_client.start_http_server`) with one
/// metric of each kind it has, exemplars included. It serves OpenMetrics when asked.
pub fn python_client() -> Peer {
    start("python3", "/metrics", |dir, port| {
        let script = dir.join("serve.py");
        std::fs::write(&script, PYTHON_SERVER).expect("writing serve.py");
        vec![script.into_os_string(), port.to_string().into()]
    })
}

const PYTHON_SERVER: &str = r#"
import sys, threading
from prometheus_client import Counter, Enum, Gauge, Histogram, Info, Summary, start_http_server

requests = Counter("app_requests", "Requests handled.", ["method", "code"])
requests.labels("GET", "200").inc(7, exemplar={"trace_id": "abc123"})
requests.labels("POST", "500").inc()
Gauge("app_in_flight_requests", "Requests in flight.").set(3)
latency = Histogram("app_request_duration_seconds", "Request latency.", ["method"])
for v in (0.003, 0.02, 0.2, 1.5, 12.0):
    latency.labels("GET").observe(v)
latency.labels("GET").observe(0.07, exemplar={"trace_id": "def456"})
Summary("app_payload_bytes", "Payload sizes.").observe(512)
Info("app_build", "Build information.").info({"version": "1.2.3", "revision": "a\"b\\c\nd"})
Enum("app_state", "Current state.", states=["starting", "running", "stopped"]).state("running")

start_http_server(int(sys.argv[1]), addr="127.0.0.1")
threading.Event().wait()
"#;

fn arg(flag: &str, path: &Path) -> OsString {
    let mut s = OsString::from(flag);
    s.push(path);
    s
}

/// Starts `program` with the arguments `args(dir, port)` builds, and waits until
/// `GET <ready_path>` answers 200.
fn start(name: &'static str, ready_path: &str, args: impl Fn(&Path, u16) -> Vec<OsString>) -> Peer {
    let program = find_program(name);
    let mut last_log = String::new();
    for _ in 0..START_ATTEMPTS {
        let dir = TempDir::new().expect("creating a temporary directory");
        let port = free_port();
        let log = dir.path().join("peer.log");
        let out = File::create(&log).expect("creating the peer log");
        let err = out.try_clone().expect("cloning the peer log handle");
        let child = Command::new(&program)
            .args(args(dir.path(), port))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let mut peer = Peer {
            name,
            child,
            port,
            log,
            _dir: dir,
        };
        match wait_ready(&mut peer, ready_path) {
            Ok(()) => return peer,
            Err(Exited) => last_log = peer.log(),
        }
    }
    panic!(
        "{name} exited before it was ready, {START_ATTEMPTS} times; last log:\n{last_log}\n\
         (if a module or file is missing, run scripts/test, which installs the peers)"
    );
}

/// The peer process ended before it became ready (for example, its port was taken).
struct Exited;

fn wait_ready(peer: &mut Peer, path: &str) -> Result<(), Exited> {
    let url = peer.url(path);
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(_)) = peer.child.try_wait() {
            return Err(Exited);
        }
        if let Ok(response) = agent.get(&url).call() {
            if response.status() == 200 {
                return Ok(());
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} did not answer 200 on {url} within {READY_TIMEOUT:?}; log:\n{}",
            peer.name,
            peer.log()
        );
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// A port that was free a moment ago (bind port 0, read it, release it).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// The full path of `name` on `PATH`; a missing program fails the test with a pointer to
/// the script that installs it.
pub fn find_program(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed (not found on PATH). Run scripts/test: it installs \
                 prometheus, prometheus-pushgateway, prometheus-alertmanager and the Python \
                 prometheus-client before running the tests."
            )
        })
}
