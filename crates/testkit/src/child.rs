//! [`ChildGuard`] for short-lived child processes (a tool run on some input, a batch of
//! client processes), and [`run_with_input`].

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::poll::poll_until;

/// A child process killed (by its PID) and reaped when dropped, so a test that fails
/// half-way leaves no process behind.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Waits (bounded by `deadline`) for the process to exit and returns its output.
    /// stdout and stderr are read on threads while it runs, so a full pipe cannot block
    /// it; when they were not piped, their output is empty.
    ///
    /// # Panics
    /// When waiting fails or `deadline` passes, naming `what`; the guard then kills the
    /// process as it drops.
    pub fn wait_output(&mut self, deadline: Instant, what: &str) -> Output {
        let stdout = read_on_thread(self.0.stdout.take().map(|p| Box::new(p) as _));
        let stderr = read_on_thread(self.0.stderr.take().map(|p| Box::new(p) as _));
        let child = &mut self.0;
        let status = poll_until(
            deadline,
            || {
                child
                    .try_wait()
                    .unwrap_or_else(|e| panic!("{what}: waiting: {e}"))
            },
            || format!("{what} did not finish in time"),
        );
        Output {
            status,
            stdout: stdout.join().expect("reading stdout"),
            stderr: stderr.join().expect("reading stderr"),
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // Signals exactly this PID; an ignored error once the child has been reaped.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

type Pipe = Box<dyn Read + Send>;

fn read_on_thread(pipe: Option<Pipe>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Runs `program` with `args` and `stdin` as its input, and returns its output; fails the
/// test when it runs longer than `timeout` (and kills it).
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
    // Written on a thread: a program that answers before reading all its input must not
    // block the writer, nor the writer the reading of its answer.
    let writer = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut input, &bytes);
    });
    let output = guard.wait_output(Instant::now() + timeout, &program.display().to_string());
    let _ = writer.join();
    output
}
