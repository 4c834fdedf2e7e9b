//! An HTTP server of the Python `prometheus_client` package.

use crate::peer::{Peer, Ready};
use crate::program::python_with_modules;

/// The Python client's own HTTP server (`prometheus_client.start_http_server`) on
/// `127.0.0.1:<port>`, with one metric of each kind it has, exemplars included, and an
/// info label value with a quote, a backslash and a newline. It serves OpenMetrics when
/// asked. Ready when `/metrics` answers 200.
pub fn python_client() -> Peer {
    let python = python_with_modules(&["prometheus_client"]);
    Peer::start(&python, Ready::Http("/metrics"), |command, dir, port| {
        let script = dir.join("serve.py");
        std::fs::write(&script, PYTHON_SERVER).expect("writing serve.py");
        command.arg(script).arg(port.to_string());
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
