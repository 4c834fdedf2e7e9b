//! [`serve`]: a minimal `GET /metrics` endpoint, for pull mode (Prometheus scrapes the
//! process) instead of, or beside, the [`Pusher`](crate::Pusher). Feature `pull`.
//!
//! # Behaviour
//!
//! - `GET /metrics` (any query string) answers `200` with the registry gathered at that
//!   moment, in the format [`negotiate`] picks from the `Accept` header (text 0.0.4 or
//!   OpenMetrics 1.0) and the matching `Content-Type`. `HEAD /metrics` answers the same
//!   head without the body.
//! - Another method on `/metrics` answers `405` with `Allow: GET, HEAD`; any other path
//!   `404`; a request that is not HTTP/1.x `400`, or `505` for another version; a request
//!   head over [`MAX_REQUEST_HEAD`] bytes `431`.
//! - [`scrape`] is the same answer for an application's own HTTP server.
//! - One request per connection: every answer carries `Connection: close`. Scrapers
//!   open a connection per scrape at most every few seconds, so keep-alive buys nothing
//!   here and costs a parser for request bodies and pipelining.
//!
//! # Limits
//!
//! The server is one accept thread plus one thread per connection, at most
//! [`MAX_CONNECTIONS`] at a time (more are answered `503` and closed). Each connection
//! has [`READ_TIMEOUT`] to send its request head and [`WRITE_TIMEOUT`] to take the answer,
//! so a client that stalls holds a thread for a bounded time. Bad input gets an error
//! status, never a panic.
//!
//! # Why not an HTTP crate
//!
//! hyper would bring an async runtime into applications that may have none; tiny_http
//! has no read timeout or connection limit, so a few stalled clients pin its threads.
//! What is needed here — one request line, one header, four statuses — is ~100 lines
//! over `std::net`.
//!
//! # Example
//!
//! ```
//! let registry = tally::Registry::new();
//! registry.counter("jobs", "Jobs run.")?.inc();
//! let server = tally::pull::serve("127.0.0.1:0", &registry)?;
//! let url = format!("http://{}/metrics", server.local_addr()); // give this to Prometheus
//! server.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`negotiate`]: tally_model::expfmt::negotiate

use std::io::{self, Read, Write};
use std::net::ToSocketAddrs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tally_model::expfmt::{self, Encoder};

use crate::Registry;

/// Largest request head (request line and headers) read, in bytes.
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 16;
/// How long a client has to send its request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client has to take the answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The address could not be resolved or bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address as given.
        addr: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The accept thread could not be started.
    #[error("cannot start the metrics endpoint thread: {0}")]
    Spawn(io::Error),
}

/// A running endpoint. [`shutdown`](Self::shutdown) (or dropping it) stops accepting;
/// requests already accepted finish on their own threads, within the timeouts.
#[derive(Debug)]
pub struct PullServer {
    local_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Listens on `addr` (port `0` picks a free port; see [`PullServer::local_addr`]) and
/// serves `registry` at `/metrics` from a background thread. The registry is shared, not
/// copied: each scrape sees its metrics as they are then.
pub fn serve(
    addr: impl ToSocketAddrs + std::fmt::Debug,
    registry: &Registry,
) -> Result<PullServer, PullError> {
    let bind_error = |source| PullError::Bind {
        addr: format!("{addr:?}"),
        source,
    };
    let listener = TcpListener::bind(&addr).map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = stop.clone();
        let registry = registry.clone();
        thread::Builder::new()
            .name("tally-pull".into())
            .spawn(move || accept_loop(&listener, &registry, &stop))
            .map_err(PullError::Spawn)?
    };
    Ok(PullServer {
        local_addr,
        stop,
        thread: Some(thread),
    })
}

impl PullServer {
    /// The address listened on, with the port the system picked for port `0`.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections and waits for the accept thread to end.
    ///
    /// The accept thread is woken by a connection to its own address; if that connection
    /// cannot be made (within a second), the thread is left to end on the next connection
    /// it accepts rather than blocking here.
    pub fn shutdown(mut self) {
        self.stop_accepting();
    }

    fn stop_accepting(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let Some(thread) = self.thread.take() else {
            return;
        };
        let wake = SocketAddr::new(loopback_for(self.local_addr.ip()), self.local_addr.port());
        if TcpStream::connect_timeout(&wake, Duration::from_secs(1)).is_ok() {
            // The thread only returns; a panic in it has nothing to report here.
            let _ = thread.join();
        }
    }
}

impl Drop for PullServer {
    fn drop(&mut self) {
        self.stop_accepting();
    }
}

/// Where to connect to reach a listener bound to `ip`.
fn loopback_for(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

/// Decrements the active-connection count when a connection thread ends, even by panic.
struct Active(Arc<AtomicUsize>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn accept_loop(listener: &TcpListener, registry: &Registry, stop: &AtomicBool) {
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors and the like: back off instead of spinning.
            thread::sleep(Duration::from_millis(50));
            continue;
        };
        // Timeouts first, so that even the 503 below cannot block this thread for long.
        if stream.set_read_timeout(Some(READ_TIMEOUT)).is_err()
            || stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
        {
            continue;
        }
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
            respond(&stream, &simple(503, "Service Unavailable"), false);
            continue;
        }
        let guard = Active(active.clone());
        let registry = registry.clone();
        // A failed spawn drops the closure, the stream with it (closing the connection)
        // and the guard.
        let _ = thread::Builder::new()
            .name("tally-pull-conn".into())
            .spawn(move || {
                let _guard = guard;
                handle(stream, &registry);
            });
    }
}

/// An answer: status, extra headers, body.
struct Answer {
    status: u16,
    reason: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn simple(status: u16, reason: &'static str) -> Answer {
    Answer {
        status,
        reason,
        headers: vec![("Content-Type", "text/plain; charset=utf-8".into())],
        body: format!("{status} {reason}\n").into_bytes(),
    }
}

fn handle(mut stream: TcpStream, registry: &Registry) {
    let (answer, head_only) = match read_head(&mut stream) {
        Ok(head) => route(&head, registry),
        Err(HeadError::TooLarge) => (simple(431, "Request Header Fields Too Large"), false),
        Err(HeadError::Io) => return,
    };
    respond(&stream, &answer, head_only);
}

enum HeadError {
    TooLarge,
    Io,
}

/// Reads up to the blank line that ends the request head.
fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, HeadError> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(HeadError::Io),
            Ok(n) => n,
        };
        // Only the bytes just read and the three before them can complete the end marker.
        let from = head.len().saturating_sub(3);
        head.extend_from_slice(&chunk[..n]);
        if let Some(end) = find_head_end(&head[from..]) {
            head.truncate(from + end);
            return Ok(head);
        }
        if head.len() > MAX_REQUEST_HEAD {
            return Err(HeadError::TooLarge);
        }
    }
}

/// The offset just past the first `\r\n\r\n` (or a bare `\n\n`, which HTTP tolerates).
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The answer to a request head, and whether it is for `HEAD` (no body sent).
fn route(head: &[u8], registry: &Registry) -> (Answer, bool) {
    let Ok(head) = std::str::from_utf8(head) else {
        return (simple(400, "Bad Request"), false);
    };
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return (simple(400, "Bad Request"), false);
    };
    if !version.starts_with("HTTP/") {
        return (simple(400, "Bad Request"), false);
    }
    if !version.starts_with("HTTP/1.") {
        return (simple(505, "HTTP Version Not Supported"), false);
    }
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    if path != "/metrics" {
        return (simple(404, "Not Found"), false);
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let mut answer = simple(405, "Method Not Allowed");
            answer.headers.push(("Allow", "GET, HEAD".into()));
            return (answer, false);
        }
    };
    // Repeated Accept headers are one comma-separated list (RFC 9110 §5.3).
    let accept: Vec<&str> = lines
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("accept"))
        .map(|(_, value)| value.trim())
        .collect();
    let accept = (!accept.is_empty()).then(|| accept.join(","));
    let Scrape { content_type, body } = scrape(registry, accept.as_deref());
    let answer = Answer {
        status: 200,
        reason: "OK",
        headers: vec![("Content-Type", content_type)],
        body,
    };
    (answer, head_only)
}

/// The answer to a scrape: what [`scrape`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scrape {
    /// The `Content-Type` header value for `body`.
    pub content_type: String,
    /// The exposition.
    pub body: Vec<u8>,
}

/// Gathers `registry` and encodes it in the format negotiated from an `Accept` header
/// value (`None` when the request had none): the body and `Content-Type` of a `200`
/// answer to `GET /metrics`. For serving `/metrics` from an application's own HTTP
/// server (an axum handler, ...) instead of [`serve`]. Never fails.
pub fn scrape(registry: &Registry, accept: Option<&str>) -> Scrape {
    let negotiated = expfmt::negotiate(accept);
    let encoder = Encoder::new(negotiated.format).with_escaping(negotiated.escaping);
    let mut body = Vec::with_capacity(4096);
    expfmt::encode_with(&registry.gather(), &encoder, &mut body);
    Scrape {
        content_type: negotiated.content_type(),
        body,
    }
}

/// Writes the answer and closes the connection; write errors (the client left) are
/// ignored, there is no one to tell.
fn respond(mut stream: &TcpStream, answer: &Answer, head_only: bool) {
    let mut out = format!("HTTP/1.1 {} {}\r\n", answer.status, answer.reason);
    for (name, value) in &answer.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        answer.body.len()
    ));
    let mut bytes = out.into_bytes();
    if !head_only {
        bytes.extend_from_slice(&answer.body);
    }
    let _ = stream.write_all(&bytes);
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
    // Closing with unread input makes the kernel send a reset, which can destroy the
    // answer before the client reads it (a 431 to a client still sending its headers).
    // So read what is left, within bounds, before closing.
    let _ = stream.set_read_timeout(Some(LINGER));
    let _ = io::copy(&mut stream.take(MAX_LINGER_BYTES), &mut io::sink());
}

/// How long to wait for a client's unread input after answering.
const LINGER: Duration = Duration::from_millis(500);
/// How much unread input to discard after answering.
const MAX_LINGER_BYTES: u64 = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn route_text(head: &str) -> (u16, String, bool) {
        let registry = Registry::new();
        registry.counter("jobs", "Jobs.").unwrap().inc();
        let (answer, head_only) = route(head.as_bytes(), &registry);
        let content_type = answer
            .headers
            .iter()
            .find(|(n, _)| *n == "Content-Type")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        (answer.status, content_type, head_only)
    }

    #[test]
    fn routes_and_statuses() {
        let (status, ct, head_only) = route_text("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!((status, head_only), (200, false));
        assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
        let (status, ct, _) =
            route_text("GET /metrics?x=1 HTTP/1.0\r\nACCEPT: application/openmetrics-text\r\n\r\n");
        assert_eq!(status, 200);
        assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
        assert!(route_text("HEAD /metrics HTTP/1.1\r\n\r\n").2);
        assert_eq!(route_text("POST /metrics HTTP/1.1\r\n\r\n").0, 405);
        assert_eq!(route_text("GET / HTTP/1.1\r\n\r\n").0, 404);
        assert_eq!(route_text("GET /metrics/x HTTP/1.1\r\n\r\n").0, 404);
        assert_eq!(route_text("GET /metrics HTTP/2\r\n\r\n").0, 505);
        for bad in [
            "",
            "GET",
            "GET /metrics",
            "GET  /metrics HTTP/1.1",
            "\u{0} x y",
        ] {
            assert_eq!(route_text(bad).0, 400, "{bad:?}");
        }
        let (answer, _) = route(b"GET /metrics \xff\xfe\r\n\r\n", &Registry::new());
        assert_eq!(answer.status, 400);
    }

    #[test]
    fn repeated_accept_headers_are_joined() {
        let (_, ct, _) = route_text(
            "GET /metrics HTTP/1.1\r\nAccept: application/json\r\naccept: application/openmetrics-text;q=0.5\r\n\r\n",
        );
        assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    }

    #[test]
    fn scrape_negotiates_the_format() {
        let registry = Registry::new();
        registry.gauge("g", "").unwrap().set(2.0);
        let text = scrape(&registry, None);
        assert!(text.content_type.starts_with("text/plain; version=0.0.4"));
        assert_eq!(text.body, b"# TYPE g gauge\ng 2\n");
        let om = scrape(&registry, Some("application/openmetrics-text"));
        assert!(om.content_type.starts_with("application/openmetrics-text"));
        assert!(om.body.ends_with(b"# EOF\n"));
    }

    #[test]
    fn head_end_is_found_with_crlf_or_lf() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\n\nbody"), Some(16));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n"), None);
    }

    #[test]
    fn unspecified_addresses_are_woken_on_loopback() {
        assert_eq!(
            loopback_for(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            loopback_for(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        );
    }
}
