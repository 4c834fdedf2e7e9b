//! The real `tally serve` process, for what only a process can show: `kill -9` and
//! `SIGTERM`.
//!
//! The binary belongs to the `tally-cli` package, which Cargo does not build for this
//! crate's tests, so [`tally_binary`] runs `cargo build -p tally-cli --bin tally` once per
//! test run (a no-op when it is fresh) into the same target directory as this test.
//! [`TallyProcess`] owns the child and kills it by its PID when dropped.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::http::Http;
use crate::peers::ChildGuard;

/// How long the server may take to start answering (it replays its log first).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long building the binary may take (it waits for other Cargo runs on the same
/// target directory first).
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);

/// Pause between polls while waiting for the process.
const POLL: Duration = Duration::from_millis(20);

/// The directory Cargo put this test binary's profile in (`target/debug`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // <target>/<profile>/deps/server-<hash>
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_owned()
}

/// The `tally` binary, built (or found fresh) on first use.
pub fn tally_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let profile = profile_dir();
        let target = profile.parent().expect("<target>/<profile>");
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(&cargo);
        build
            .current_dir(&workspace)
            .args(["build", "--quiet", "-p", "tally-cli", "--bin", "tally"])
            .arg("--target-dir")
            .arg(target);
        if profile.file_name().is_some_and(|p| p == "release") {
            build.arg("--release");
        }
        let child = build
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running {cargo:?} build -p tally-cli: {e}"));
        let output = ChildGuard(child).wait_output(
            Instant::now() + BUILD_TIMEOUT,
            "cargo build -p tally-cli --bin tally",
        );
        assert!(
            output.status.success(),
            "cargo build -p tally-cli --bin tally failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let binary = profile.join("tally");
        assert!(binary.is_file(), "{} was not built", binary.display());
        binary
    })
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// A running `tally serve`. Dropping it kills the process (by PID) and reaps it.
#[derive(Debug)]
pub struct TallyProcess {
    child: Child,
    port: u16,
    log: PathBuf,
    _log_dir: TempDir,
}

impl TallyProcess {
    /// Starts `tally serve` on `data_dir` and a free port, with `extra` flags, and waits
    /// until it answers `/-/ready`.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let binary = tally_binary();
        let mut last_log = String::new();
        for _ in 0..3 {
            let log_dir = TempDir::new().expect("creating a temporary directory");
            let log = log_dir.path().join("tally.log");
            let out = File::create(&log).expect("creating the log file");
            let err = out.try_clone().expect("cloning the log handle");
            let port = free_port();
            let child = Command::new(binary)
                .arg("serve")
                .arg(format!("--listen=127.0.0.1:{port}"))
                .arg("--data-dir")
                .arg(data_dir)
                .args(extra)
                .env_remove("TALLY_CONFIG")
                .env("TALLY_LOG", "info")
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
            let mut process = Self {
                child,
                port,
                log,
                _log_dir: log_dir,
            };
            if process.wait_ready() {
                return process;
            }
            last_log = process.log();
        }
        panic!("tally serve exited before it was ready, 3 times; last log:\n{last_log}");
    }

    /// Whether it became ready (false: it exited, e.g. the port was taken meanwhile).
    fn wait_ready(&mut self) -> bool {
        let http = self.http();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if http.get("/-/ready").is_ok_and(|r| r.status == 200) {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "tally serve did not answer /-/ready within {READY_TIMEOUT:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(POLL);
        }
    }

    /// A client of this server.
    pub fn http(&self) -> Http {
        Http::new(format!("127.0.0.1:{}", self.port))
    }

    /// What the process wrote to stdout and stderr.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9`, and reap it.
    pub fn sigkill(&mut self) {
        self.child.kill().expect("sending SIGKILL");
        self.child.wait().expect("reaping tally serve");
    }

    /// `kill -TERM <pid>`, then waits (bounded) for the process to exit.
    pub fn sigterm(&mut self, timeout: Duration) -> ExitStatus {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("running kill -TERM");
        assert!(status.success(), "kill -TERM {} failed", self.child.id());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for tally serve") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "tally serve did not exit within {timeout:?} of SIGTERM; log:\n{}",
                self.log()
            );
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for TallyProcess {
    fn drop(&mut self) {
        // `Child::kill` signals exactly this PID (a no-op error if it already exited).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
