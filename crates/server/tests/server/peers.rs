//! Real peers: programs found on `PATH` (a missing one fails the test with a pointer to
//! `scripts/test`, which installs them), child processes killed by PID when dropped, and
//! Debian's Prometheus scraping a tally server.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::http::Http;
use crate::process::free_port;

/// Pause between polls while waiting for a peer.
const POLL: Duration = Duration::from_millis(50);

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
                 prometheus (with promtool) and the Python prometheus-client before the tests."
            )
        })
}

/// `python3`, checked to have the `prometheus_client` module.
pub fn python_with_client() -> PathBuf {
    let python = find_program("python3");
    let check = Command::new(&python)
        .args(["-c", "import prometheus_client"])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(
        check.status.success(),
        "the Python module prometheus_client is missing ({}). Run scripts/test: it installs \
         prometheus-client from PyPI.\n{}",
        python.display(),
        String::from_utf8_lossy(&check.stderr)
    );
    python
}

/// A child process killed (by its PID) and reaped when dropped.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Waits (bounded) for the process to exit and returns its output (stdout and stderr
    /// must be piped); fails when the deadline passes (the guard then kills it).
    pub fn wait_output(&mut self, deadline: Instant, what: &str) -> Output {
        let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut bytes);
                }
                bytes
            })
        };
        let stdout = read(self.0.stdout.take().map(|p| Box::new(p) as _));
        let stderr = read(self.0.stderr.take().map(|p| Box::new(p) as _));
        let status = loop {
            match self.0.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(e) => panic!("{what}: waiting: {e}"),
            }
            assert!(Instant::now() < deadline, "{what} did not finish in time");
            std::thread::sleep(POLL);
        };
        Output {
            status,
            stdout: stdout.join().expect("reading stdout"),
            stderr: stderr.join().expect("reading stderr"),
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // Signals exactly this PID; a no-op once the child has been reaped.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Debian's Prometheus, scraping one target every second.
#[derive(Debug)]
pub struct Prometheus {
    child: ChildGuard,
    port: u16,
    log: PathBuf,
    // Dropped after the child (fields drop in order), so it never outlives its files.
    _dir: TempDir,
}

impl Prometheus {
    /// Starts Prometheus with one scrape job, `tally`, on `target` (`host:port`), with
    /// `honor_labels: true`, and waits until it is ready.
    pub fn scraping(target: &str) -> Self {
        Self::with_config(|_| {
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: tally\n    honor_labels: true\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            )
        })
    }

    /// Starts Prometheus with the `prometheus.yml` that `config` writes for the port it
    /// will listen on (so it can scrape itself), and waits until it is ready.
    pub fn with_config(config: impl Fn(u16) -> String) -> Self {
        let program = find_program("prometheus");
        let mut last_log = String::new();
        for _ in 0..3 {
            let dir = TempDir::new().expect("creating a temporary directory");
            let port = free_port();
            let config_file = dir.path().join("prometheus.yml");
            std::fs::write(&config_file, config(port)).expect("writing prometheus.yml");
            let log = dir.path().join("prometheus.log");
            let out = File::create(&log).expect("creating the log");
            let err = out.try_clone().expect("cloning the log handle");
            let child = Command::new(&program)
                .arg(format!("--config.file={}", config_file.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
            let mut prometheus = Self {
                child: ChildGuard(child),
                port,
                log,
                _dir: dir,
            };
            if prometheus.wait_ready() {
                return prometheus;
            }
            last_log = prometheus.log();
        }
        panic!("prometheus exited before it was ready, 3 times; last log:\n{last_log}");
    }

    fn wait_ready(&mut self) -> bool {
        let http = self.http();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(_)) = self.child.0.try_wait() {
                return false;
            }
            if http.get("/-/ready").is_ok_and(|r| r.status == 200) {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus was not ready within 30 s; log:\n{}",
                self.log()
            );
            std::thread::sleep(POLL);
        }
    }

    /// A client of Prometheus' HTTP API.
    pub fn http(&self) -> Http {
        Http::new(format!("127.0.0.1:{}", self.port))
    }

    /// What Prometheus logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Runs `program` with `args`, `stdin` as its input, bounded by `timeout`.
pub fn run_with_input(program: &Path, args: &[&str], stdin: &[u8], timeout: Duration) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    let mut input = child.stdin.take().expect("stdin is piped");
    let mut guard = ChildGuard(child);
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut input, &bytes);
    });
    let output = guard.wait_output(Instant::now() + timeout, &program.display().to_string());
    let _ = writer.join();
    output
}
