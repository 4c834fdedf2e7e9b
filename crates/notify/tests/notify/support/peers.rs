//! Real peers started on loopback ports: Debian's `prometheus-alertmanager` and an SMTP
//! sink from the Python `aiosmtpd` package (the approach of `crates/cli/tests/support/
//! peers.rs`). Each [`Peer`] owns its child process and a temporary directory; dropping
//! it kills the process by its PID and waits for it. A missing program fails the test
//! with a pointer to `scripts/test`, which installs them.

use std::ffi::OsString;
use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a peer may take to become ready: waits for a process to start, times
/// nothing under test.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between readiness polls.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Attempts at starting a peer (the port picked may be taken by then).
const START_ATTEMPTS: usize = 3;

/// A running peer process.
#[derive(Debug)]
pub struct Peer {
    name: &'static str,
    child: Child,
    port: u16,
    log: PathBuf,
    dir: TempDir,
}

impl Peer {
    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The peer's temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the peer wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to tell that a peer is ready.
enum Ready {
    /// `GET <path>` answers 200.
    Http(&'static str),
    /// The port accepts TCP connections.
    Tcp,
}

/// Debian's Alertmanager with a receiver that sends nothing, clustering off.
pub fn alertmanager() -> Peer {
    start(
        "prometheus-alertmanager",
        Ready::Http("/-/ready"),
        |dir, port| {
            let config = dir.join("alertmanager.yml");
            std::fs::write(
                &config,
                "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
            )
            .expect("writing alertmanager.yml");
            vec![
                arg("--config.file=", &config),
                arg("--storage.path=", &dir.join("data")),
                format!("--web.listen-address=127.0.0.1:{port}").into(),
                "--cluster.listen-address=".into(),
            ]
        },
    )
}

/// Debian's Prometheus evaluating one always-firing alerting rule every second and
/// sending its alerts (re-sent every second) to the Alertmanager API at
/// `127.0.0.1:<alertmanager_port>`.
pub fn prometheus_sending_alerts(alertmanager_port: u16) -> Peer {
    start("prometheus", Ready::Http("/-/ready"), move |dir, port| {
        let config = dir.join("prometheus.yml");
        let rules = dir.join("rules.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nalerting:\n  \
                 alertmanagers:\n    - api_version: v2\n      static_configs:\n        \
                 - targets: ['127.0.0.1:{alertmanager_port}']\n"
            ),
        )
        .expect("writing prometheus.yml");
        std::fs::write(
            &rules,
            "groups:\n  - name: always\n    rules:\n      - alert: AlwaysFiring\n        \
             expr: vector(1)\n        labels: { severity: page }\n        \
             annotations: { summary: 'always firing' }\n",
        )
        .expect("writing rules.yml");
        vec![
            arg("--config.file=", &config),
            arg("--storage.tsdb.path=", &dir.join("data")),
            format!("--web.listen-address=127.0.0.1:{port}").into(),
            // Alerts evaluated before the Alertmanager list is known are dropped; resend
            // every second instead of every minute so the next evaluation sends them.
            "--rules.alert.resend-delay=1s".into(),
        ]
    })
}

/// An SMTP server (`aiosmtpd`, no TLS, no authentication) that stores every message in
/// the Maildir `<dir>/mail`.
pub fn smtp_sink() -> Peer {
    start("python3", Ready::Tcp, |dir, port| {
        vec![
            "-m".into(),
            "aiosmtpd".into(),
            "-n".into(),
            "-l".into(),
            format!("127.0.0.1:{port}").into(),
            "-c".into(),
            "aiosmtpd.handlers.Mailbox".into(),
            dir.join("mail").into_os_string(),
        ]
    })
}

/// The messages an [`smtp_sink`] has stored, as raw RFC 5322 text.
pub fn mails(peer: &Peer) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(peer.dir().join("mail").join(sub)) {
            for e in entries.flatten() {
                out.push(std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
    }
    out
}

fn arg(flag: &str, path: &Path) -> OsString {
    let mut s = OsString::from(flag);
    s.push(path);
    s
}

fn start(name: &'static str, ready: Ready, args: impl Fn(&Path, u16) -> Vec<OsString>) -> Peer {
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
            dir,
        };
        if wait_ready(&mut peer, &ready) {
            return peer;
        }
        last_log = peer.log();
    }
    panic!(
        "{name} exited before it was ready, {START_ATTEMPTS} times; last log:\n{last_log}\n\
         (if a module or program is missing, run scripts/test, which installs the peers)"
    );
}

/// Polls until ready (true) or the process exited (false); panics past the time-out.
fn wait_ready(peer: &mut Peer, ready: &Ready) -> bool {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .http_status_as_error(false)
        .build()
        .into();
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(_)) = peer.child.try_wait() {
            return false;
        }
        let up = match ready {
            Ready::Http(path) => agent
                .get(&peer.url(path))
                .call()
                .is_ok_and(|r| r.status() == 200),
            Ready::Tcp => TcpStream::connect(("127.0.0.1", peer.port)).is_ok(),
        };
        if up {
            return true;
        }
        assert!(
            Instant::now() < deadline,
            "{} not ready within {READY_TIMEOUT:?}; log:\n{}",
            peer.name,
            peer.log()
        );
        std::thread::sleep(POLL_INTERVAL);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// The full path of `name` on `PATH`.
pub fn find_program(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed (not found on PATH). Run scripts/test: it installs \
                 prometheus-alertmanager and the Python packages the tests use."
            )
        })
}
