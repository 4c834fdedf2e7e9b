//! [`Peer`]: a long-running child process on a loopback port, started with another try
//! when the port it was given is taken, waited for until it is ready, killed on drop.

use std::ffi::OsString;
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::poll::poll_until;

/// How long a peer may take to become ready. Generous: this waits for a process to start
/// (Prometheus opens its TSDB first, `tally serve` replays its log), it times nothing
/// under test.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Attempts at starting a peer: another attempt is made when the port picked turned out
/// to be taken by the time the peer bound it (the peer exits before it is ready).
const START_ATTEMPTS: usize = 3;

/// How to tell that a peer is ready to be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// `GET http://127.0.0.1:<port><path>` answers 200.
    Http(&'static str),
    /// The port accepts TCP connections.
    Tcp,
}

/// A running peer process: its child, a temporary directory (its working directory, for
/// configuration, data and the log), the loopback port it listens on and the log file
/// that receives its stdout and stderr.
///
/// Dropping it kills the process by its PID (`Child::kill`, SIGKILL on Unix), reaps it,
/// and only then removes the directory, so a process never outlives its files.
#[derive(Debug)]
pub struct Peer {
    name: String,
    child: Child,
    port: u16,
    log: PathBuf,
    // Dropped after `Drop::drop` has killed the child.
    dir: TempDir,
}

impl Peer {
    /// Starts `program` on a free port and waits until it is [`Ready`].
    ///
    /// `configure` gets the command (working directory: a fresh temporary directory;
    /// stdin: null; stdout and stderr: the log file), that directory and the port, and
    /// adds what the program needs: arguments, environment, files it writes into the
    /// directory. It runs once per attempt, each with a new directory and port.
    ///
    /// # Panics
    /// When the program cannot be spawned, is not ready within [`READY_TIMEOUT`] (with its
    /// log), or exits before it is ready three times in a row (with the last log and a
    /// pointer to `scripts/test`).
    pub fn start(
        program: &Path,
        ready: Ready,
        mut configure: impl FnMut(&mut Command, &Path, u16),
    ) -> Self {
        let name = program
            .file_name()
            .unwrap_or(program.as_os_str())
            .to_string_lossy()
            .into_owned();
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = TempDir::new().expect("creating a temporary directory");
            let port = free_port();
            let log = dir.path().join("peer.log");
            let out = File::create(&log).expect("creating the peer log");
            let err = out.try_clone().expect("cloning the peer log handle");
            let mut command = Command::new(program);
            command
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err);
            configure(&mut command, dir.path(), port);
            let child = command
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
            let mut peer = Self {
                name: name.clone(),
                child,
                port,
                log,
                dir,
            };
            if peer.wait_ready(ready) {
                return peer;
            }
            last_log = peer.log();
        }
        panic!(
            "{name} exited before it was ready, {START_ATTEMPTS} times; last log:\n{last_log}\n\
             (if a program, module or file is missing, run scripts/test, which installs the \
             peers)"
        );
    }

    /// Polls until ready (true) or the process exited (false, e.g. the port was taken
    /// meanwhile); panics past [`READY_TIMEOUT`].
    fn wait_ready(&mut self, ready: Ready) -> bool {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .http_status_as_error(false)
            .build()
            .into();
        let (url, addr) = (self.url(""), self.addr());
        let (name, log) = (&self.name, &self.log);
        let child = &mut self.child;
        poll_until(
            Instant::now() + READY_TIMEOUT,
            || {
                if let Ok(Some(_)) = child.try_wait() {
                    return Some(false);
                }
                let up = match ready {
                    Ready::Http(path) => agent
                        .get(&format!("{url}{path}"))
                        .call()
                        .is_ok_and(|r| r.status() == 200),
                    Ready::Tcp => TcpStream::connect(addr).is_ok(),
                };
                up.then_some(true)
            },
            || {
                format!(
                    "{name} was not ready ({ready:?}) within {READY_TIMEOUT:?}; log:\n{}",
                    read_log(log)
                )
            },
        )
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its temporary directory (also its working directory).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What it wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        read_log(&self.log)
    }

    /// `kill -9`, and reap it. Panics if either fails (e.g. it was reaped already).
    pub fn sigkill(&mut self) {
        self.child
            .kill()
            .unwrap_or_else(|e| panic!("sending SIGKILL to {}: {e}", self.name));
        self.child
            .wait()
            .unwrap_or_else(|e| panic!("reaping {}: {e}", self.name));
    }

    /// `kill -TERM <pid>`, then waits (bounded by `timeout`) for the process to exit.
    ///
    /// # Panics
    /// When `kill` fails or the process is still running after `timeout` (with its log).
    pub fn sigterm(&mut self, timeout: Duration) -> ExitStatus {
        let pid = self.pid();
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .expect("running kill -TERM");
        assert!(status.success(), "kill -TERM {pid} failed");
        let (name, log) = (&self.name, &self.log);
        let child = &mut self.child;
        poll_until(
            Instant::now() + timeout,
            || {
                child
                    .try_wait()
                    .unwrap_or_else(|e| panic!("waiting for {name}: {e}"))
            },
            || {
                format!(
                    "{name} did not exit within {timeout:?} of SIGTERM; log:\n{}",
                    read_log(log)
                )
            },
        )
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // `Child::kill` signals exactly this PID (an ignored error once it has exited);
        // `wait` reaps it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The log so far; empty when it cannot be read.
fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A loopback port that was free a moment ago (bind port 0, read it, release it). Another
/// process may take it before it is used: [`Peer::start`] tries again when that happens.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// `flag` followed by `path`, as one argument: `--config.file=/tmp/…/prometheus.yml`.
pub(crate) fn flag_path(flag: &str, path: &Path) -> OsString {
    let mut arg = OsString::from(flag);
    arg.push(path);
    arg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::find_program;

    /// `python3 -m http.server` on the peer's port: a small real program to start.
    fn http_server() -> Peer {
        Peer::start(
            &find_program("python3"),
            Ready::Http("/"),
            |command, _dir, port| {
                command
                    .args(["-m", "http.server", "--bind", "127.0.0.1"])
                    .arg(port.to_string());
            },
        )
    }

    #[test]
    fn a_started_peer_answers_and_is_killed_and_reaped_on_drop() {
        let peer = http_server();
        assert!(TcpStream::connect(peer.addr()).is_ok());
        let (pid, dir) = (peer.pid(), peer.dir().to_owned());
        assert!(dir.join("peer.log").is_file());
        drop(peer);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{pid} is left"
        );
        assert!(!dir.exists(), "{} is left", dir.display());
    }

    #[test]
    fn ready_by_tcp_accept() {
        let peer = Peer::start(&find_program("python3"), Ready::Tcp, |command, _, port| {
            command.args(["-m", "http.server", "--bind", "127.0.0.1"]);
            command.arg(port.to_string());
        });
        assert!(peer.url("/x").ends_with(&format!(":{}/x", peer.port())));
    }

    #[test]
    fn sigterm_returns_the_exit_status() {
        let mut peer = http_server();
        let status = peer.sigterm(Duration::from_secs(10));
        assert!(!status.success(), "{status}");
    }

    #[test]
    #[should_panic(expected = "exited before it was ready, 3 times")]
    fn a_program_that_exits_fails_after_three_attempts() {
        let _ = Peer::start(&find_program("false"), Ready::Tcp, |_, _, _| {});
    }
}
