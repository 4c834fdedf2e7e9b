//! [`TestPki`]: a throw-away certificate authority and certificates it signed (`rcgen`),
//! for the TLS peers ([`https_sink`](crate::https_sink),
//! [`smtp_sink_starttls`](crate::smtp_sink_starttls)).

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

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
