//! An SMTP sink: the Python `aiosmtpd` package's server storing what it receives.

use crate::peer::{Peer, Ready};
use crate::pki::TestPki;
use crate::program::python_with_modules;

/// An SMTP server (`python3 -m aiosmtpd`, no TLS, no authentication) on
/// `127.0.0.1:<port>` that stores every message in the Maildir `<dir>/mail`; ready when
/// the port accepts connections. [`mails`] reads what it stored.
pub fn smtp_sink() -> Peer {
    let python = python_with_modules(&["aiosmtpd"]);
    Peer::start(&python, Ready::Tcp, |command, dir, port| {
        command
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.join("mail"));
    })
}

/// Like [`smtp_sink`], but offering STARTTLS with `pki`'s server certificate and
/// refusing mail before it (`aiosmtpd --tlscert --tlskey`).
pub fn smtp_sink_starttls(pki: &TestPki) -> Peer {
    let python = python_with_modules(&["aiosmtpd"]);
    Peer::start(&python, Ready::Tcp, |command, dir, port| {
        command
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--tlscert")
            .arg(&pki.server_cert)
            .arg("--tlskey")
            .arg(&pki.server_key)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.join("mail"));
    })
}

/// The messages an [`smtp_sink`] (or [`smtp_sink_starttls`]) has stored so far, as raw RFC 5322 text, in no
/// particular order.
pub fn mails(sink: &Peer) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(sink.dir().join("mail").join(sub)) {
            for entry in entries.flatten() {
                out.push(std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
    }
    out
}
