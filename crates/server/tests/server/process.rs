//! The real `tally serve` process, for what only a process can show: `kill -9` and
//! `SIGTERM`.
//!
//! The binary belongs to the `tally-cli` package, which Cargo does not build for this
//! crate's tests, so [`tally_binary`] runs `cargo build -p tally-cli --bin tally` once per
//! test run (a no-op when it is fresh) into the same target directory as this test.
//! [`TallyProcess`] is a testkit [`Peer`]: started on a free port (again on another when
//! that one was taken), ready when `/-/ready` answers 200, killed by its PID when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tally_testkit::{ChildGuard, Peer, Ready};

use crate::http::Http;

/// How long building the binary may take (it waits for other Cargo runs on the same
/// target directory first).
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);

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

/// A running `tally serve` (its log in the peer's temporary directory, its data where
/// the test says). Dropping it kills the process (by PID) and reaps it.
#[derive(Debug)]
pub struct TallyProcess {
    peer: Peer,
}

impl TallyProcess {
    /// Starts `tally serve` on `data_dir` and a free port, with `extra` flags, and waits
    /// until it answers `/-/ready` (it replays its log first).
    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let peer = Peer::start(
            tally_binary(),
            Ready::Http("/-/ready"),
            |command, _dir, port| {
                command
                    .arg("serve")
                    .arg(format!("--listen=127.0.0.1:{port}"))
                    .arg("--data-dir")
                    .arg(data_dir)
                    .args(extra)
                    .env_remove("TALLY_CONFIG")
                    .env("TALLY_LOG", "info");
            },
        );
        Self { peer }
    }

    /// A client of this server.
    pub fn http(&self) -> Http {
        Http::new(self.peer.addr())
    }

    /// What the process wrote to stdout and stderr.
    pub fn log(&self) -> String {
        self.peer.log()
    }

    /// `kill -9`, and reap it.
    pub fn sigkill(&mut self) {
        self.peer.sigkill();
    }

    /// `kill -TERM <pid>`, then waits (bounded) for the process to exit.
    pub fn sigterm(&mut self, timeout: Duration) -> ExitStatus {
        self.peer.sigterm(timeout)
    }
}
