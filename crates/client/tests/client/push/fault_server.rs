//! A scripted HTTP/1.1 server on 127.0.0.1 for fault injection: each request gets the
//! next scripted [`Behaviour`] (then the fallback), and is recorded.
//!
//! One thread accepts; each connection has its own thread, so a hanging answer never
//! blocks other connections. Every wait in here is bounded and ends when the server is
//! dropped.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Answers with this status and headers, and an empty body.
    Status(u16, Vec<(&'static str, String)>),
    /// Answers after this long (real time).
    Slow(Duration, u16),
    /// Never answers (until the server is dropped, at most 30 s).
    Hang,
}

/// A request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    /// The value of header `name` (case-insensitive), or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }

    /// The `Tally-Push-Sequence` header as a number.
    pub fn sequence(&self) -> u64 {
        self.header("Tally-Push-Sequence")
            .parse()
            .unwrap_or_else(|_| panic!("no sequence header in {self:?}"))
    }
}

#[derive(Debug)]
struct State {
    script: VecDeque<Behaviour>,
    fallback: Behaviour,
    received: Vec<Received>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    changed: Condvar,
    stopping: AtomicBool,
    /// Every connection, shut down on drop so no handler outlives the server for long.
    connections: Mutex<Vec<TcpStream>>,
}

impl Inner {
    /// Waits up to `d` or until the server stops.
    fn pause(&self, d: Duration) {
        let deadline = Instant::now() + d;
        let mut state = self.state.lock().unwrap();
        while !self.stopping.load(Ordering::SeqCst) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            state = self.changed.wait_timeout(state, left).unwrap().0;
        }
    }
}

/// The server; stops (and unblocks every connection) on drop.
#[derive(Debug)]
pub struct FaultServer {
    addr: SocketAddr,
    inner: Arc<Inner>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl FaultServer {
    /// Starts a server answering `fallback` to every request not scripted.
    pub fn start(fallback: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                script: VecDeque::new(),
                fallback,
                received: Vec::new(),
            }),
            changed: Condvar::new(),
            stopping: AtomicBool::new(false),
            connections: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let inner = inner.clone();
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if inner.stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    if let Ok(clone) = stream.try_clone() {
                        inner.connections.lock().unwrap().push(clone);
                    }
                    let inner = inner.clone();
                    thread::spawn(move || serve(&inner, stream));
                }
            })
        };
        Self {
            addr,
            inner,
            acceptor: Some(acceptor),
        }
    }

    /// A server that answers 200 to everything.
    pub fn ok() -> Self {
        Self::start(Behaviour::Status(200, Vec::new()))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues behaviours for the next requests.
    pub fn script(&self, behaviours: impl IntoIterator<Item = Behaviour>) {
        self.inner.state.lock().unwrap().script.extend(behaviours);
    }

    /// Changes the answer to requests not scripted.
    pub fn set_fallback(&self, fallback: Behaviour) {
        self.inner.state.lock().unwrap().fallback = fallback;
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.state.lock().unwrap().received.clone()
    }

    /// Waits (at most `timeout`, real time) until `n` requests have been received; returns
    /// them all. Panics on timeout, naming what was received.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        let mut state = self.inner.state.lock().unwrap();
        while state.received.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "waited {timeout:?} for {n} requests, got {}: {:#?}",
                state.received.len(),
                state.received
            );
            state = self.inner.changed.wait_timeout(state, left).unwrap().0;
        }
        state.received.clone()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.changed.notify_all();
        // Unblock `accept`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for connection in self.inner.connections.lock().unwrap().drain(..) {
            let _ = connection.shutdown(Shutdown::Both);
        }
    }
}

/// Serves the requests of one keep-alive connection.
fn serve(inner: &Inner, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let behaviour = {
            let mut state = inner.state.lock().unwrap();
            state.received.push(request);
            let behaviour = state
                .script
                .pop_front()
                .unwrap_or_else(|| state.fallback.clone());
            inner.changed.notify_all();
            behaviour
        };
        let (status, headers) = match behaviour {
            Behaviour::Status(status, headers) => (status, headers),
            Behaviour::Slow(delay, status) => {
                inner.pause(delay);
                (status, Vec::new())
            }
            Behaviour::Hang => {
                inner.pause(Duration::from_secs(30));
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
        };
        let mut response = format!("HTTP/1.1 {status} Scripted\r\nContent-Length: 0\r\n");
        for (name, value) in headers {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
        response.push_str("\r\n");
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Received> {
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A 127.0.0.1 port nothing listens on (bound, then closed).
pub fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
