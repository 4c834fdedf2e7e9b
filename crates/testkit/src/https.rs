//! An HTTPS sink that demands a client certificate ([`TestPki`]'s).
//!
//! [`https_sink`] is Python's standard `http.server` behind OpenSSL (Python's `ssl`):
//! it completes a handshake only with a client certificate the authority signed, and
//! appends each POST it accepts as a JSON line to `<dir>/requests.jsonl`.

use crate::peer::{Peer, Ready};
use crate::pki::TestPki;
use crate::program::find_program;

const SINK: &str = r#"
import http.server, json, ssl, sys
port, cert, key, ca, out = sys.argv[1:]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        subject = dict(pair[0] for pair in self.connection.getpeercert()["subject"])
        with open(out, "a") as f:
            f.write(json.dumps({"path": self.path, "client": subject.get("commonName"),
                                "body": body.decode()}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
context.load_verify_locations(ca)
context.verify_mode = ssl.CERT_REQUIRED
server = http.server.HTTPServer(("127.0.0.1", int(port)), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"#;

/// An HTTPS server on `https://127.0.0.1:<port>` using `pki`'s server certificate and
/// accepting only clients with a certificate `pki`'s authority signed (a failed
/// handshake is dropped, the server goes on); ready when the port accepts connections.
/// [`https_requests`] reads what it accepted.
pub fn https_sink(pki: &TestPki) -> Peer {
    let python = find_program("python3");
    Peer::start(&python, Ready::Tcp, |command, dir, port| {
        command
            .args(["-c", SINK, &port.to_string()])
            .args([&pki.server_cert, &pki.server_key, &pki.ca])
            .arg(dir.join("requests.jsonl"));
    })
}

/// The requests an [`https_sink`] accepted so far, in order: one JSON line each, with
/// `path`, `client` (the client certificate's common name) and `body`.
pub fn https_requests(sink: &Peer) -> Vec<String> {
    std::fs::read_to_string(sink.dir().join("requests.jsonl"))
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}
