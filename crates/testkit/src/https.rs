//! An HTTPS sink that demands a client certificate, and the test certificates for it.
//!
//! [`TestPki`] writes a certificate authority, a server certificate for `127.0.0.1` and
//! `localhost`, and a client certificate, all signed by that authority (`rcgen`).
//! [`https_sink`] is Python's standard `http.server` behind OpenSSL (Python's `ssl`):
//! it completes a handshake only with a client certificate the authority signed, and
//! appends each POST it accepts as a JSON line to `<dir>/requests.jsonl`.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

use crate::peer::{Peer, Ready};
use crate::program::find_program;

/// PEM files of a throw-away certificate authority and two certificates it signed.
#[derive(Debug)]
pub struct TestPki {
    /// The authority's certificate.
    pub ca: PathBuf,
    /// The server's certificate (for `127.0.0.1` and `localhost`).
    pub server_cert: PathBuf,
    /// The server's private key.
    pub server_key: PathBuf,
    /// The client's certificate (common name `tally-test-client`).
    pub client_cert: PathBuf,
    /// The client's private key.
    pub client_key: PathBuf,
}

impl TestPki {
    /// Generates fresh keys and certificates into `dir` (`ca.pem`, `server.pem`,
    /// `server-key.pem`, `client.pem`, `client-key.pem`).
    pub fn generate(dir: &Path) -> Self {
        let key = || KeyPair::generate().expect("generating a key pair");
        let ca_key = key();
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "tally test CA");
        let ca = ca.self_signed(&ca_key).expect("self-signing the CA");
        let issue = |names: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
            let key = key();
            let mut params = CertificateParams::new(names).expect("certificate parameters");
            params.distinguished_name.push(DnType::CommonName, cn);
            params.extended_key_usages = vec![usage];
            let cert = params
                .signed_by(&key, &ca, &ca_key)
                .expect("signing a certificate");
            (cert.pem(), key.serialize_pem())
        };
        let server = issue(
            vec!["127.0.0.1".into(), "localhost".into()],
            "127.0.0.1",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let client = issue(
            Vec::new(),
            "tally-test-client",
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let write = |name: &str, pem: &str| {
            let path = dir.join(name);
            std::fs::write(&path, pem).expect("writing a PEM file");
            path
        };
        Self {
            ca: write("ca.pem", &ca.pem()),
            server_cert: write("server.pem", &server.0),
            server_key: write("server-key.pem", &server.1),
            client_cert: write("client.pem", &client.0),
            client_key: write("client-key.pem", &client.1),
        }
    }
}

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
