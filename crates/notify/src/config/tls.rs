//! `tls_config` (inside an `http_config`, or of an email receiver): Prometheus' field
//! names for the certificate authority, the client certificate and verification, loaded
//! into the settings of the HTTP client (`ureq`) or the SMTP client (`lettre`).
//!
//! PEM is read when the configuration is loaded (and again on every reload), so a
//! missing or unreadable file is a configuration error naming the field, not a failed
//! notification later. Relative file names are relative to the configuration file's
//! directory, as in Alertmanager.

use std::path::{Path, PathBuf};

use lettre::transport::smtp::client::{
    Certificate as SmtpCertificate, CertificateStore, Identity, TlsParameters,
};
use serde::Deserialize;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts};

use super::{invalid, ConfigError};

/// TLS settings for HTTPS requests, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate authorities that replace the built-in roots (Mozilla's).
    pub ca: Option<String>,
    /// A file holding `ca`.
    pub ca_file: Option<String>,
    /// PEM client certificate (chain), sent when the server asks for one.
    pub cert: Option<String>,
    /// A file holding `cert`.
    pub cert_file: Option<String>,
    /// PEM private key of the client certificate.
    pub key: Option<String>,
    /// A file holding `key`.
    pub key_file: Option<String>,
    /// The name the server's certificate is checked against (default: the host
    /// connected to). Email only: for HTTP it is refused, the URL's host is checked.
    pub server_name: Option<String>,
    /// Skip verifying the server's certificate (and its name). For tests only.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Lowest TLS version: `TLS10`, `TLS11` and `TLS12` are accepted (the client speaks
    /// TLS 1.2 and 1.3 only, so all three mean 1.2); `TLS13` is refused.
    pub min_version: Option<String>,
    /// Highest TLS version: only `TLS13`, the client's own ceiling, is accepted.
    pub max_version: Option<String>,
}

/// A `tls_config` with its PEM read and parsed, ready to make the settings of the HTTP
/// client ([`LoadedTls::for_http`]) or of the SMTP client ([`LoadedTls::for_smtp`]).
#[derive(Debug, Clone)]
pub struct LoadedTls {
    roots: Option<Vec<Certificate<'static>>>,
    client: Option<ClientPem>,
    insecure_skip_verify: bool,
    server_name: Option<String>,
}

/// A client certificate chain and key, parsed (for `ureq`) and as PEM (for `lettre`).
#[derive(Debug, Clone)]
struct ClientPem {
    parsed: ClientCert,
    chain_pem: Vec<u8>,
    key_pem: Vec<u8>,
}

impl TlsConfig {
    /// Checks the settings and reads their PEM, `field` naming this `tls_config` in
    /// errors and `base` the directory relative file names start from.
    pub(crate) fn load(&self, field: &str, base: Option<&Path>) -> Result<LoadedTls, ConfigError> {
        let at = |f: &str| format!("{field}.{f}");
        match self.min_version.as_deref() {
            None | Some("TLS10" | "TLS11" | "TLS12") => {}
            Some("TLS13") => {
                return Err(invalid(
                    at("min_version"),
                    "TLS13 is not supported by tally (it negotiates TLS 1.2 or 1.3)",
                ))
            }
            Some(v) => return Err(invalid(at("min_version"), unknown_version(v))),
        }
        match self.max_version.as_deref() {
            None | Some("TLS13") => {}
            Some(v @ ("TLS10" | "TLS11" | "TLS12")) => {
                return Err(invalid(
                    at("max_version"),
                    format!("{v} is not supported by tally (it negotiates TLS 1.2 or 1.3)"),
                ))
            }
            Some(v) => return Err(invalid(at("max_version"), unknown_version(v))),
        }
        let read = |name: &str, inline: &Option<String>, file: &Option<String>| {
            pem_source(field, name, inline, file, base)
        };
        let roots = match read("ca", &self.ca, &self.ca_file)? {
            Some((what, pem)) => Some(certificates(&what, &pem)?),
            None => None,
        };
        let cert = read("cert", &self.cert, &self.cert_file)?;
        let key = read("key", &self.key, &self.key_file)?;
        let client = match (cert, key) {
            (None, None) => None,
            (Some((what, chain_pem)), Some((key_what, key_pem))) => Some(ClientPem {
                parsed: ClientCert::new_with_certs(
                    &certificates(&what, &chain_pem)?,
                    private_key(&key_what, &key_pem)?,
                ),
                chain_pem,
                key_pem,
            }),
            (Some(_), None) => {
                return Err(invalid(
                    at("key"),
                    "a client certificate needs its key (key or key_file)",
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    at("cert"),
                    "a client key needs its certificate (cert or cert_file)",
                ))
            }
        };
        Ok(LoadedTls {
            roots,
            client,
            insecure_skip_verify: self.insecure_skip_verify,
            server_name: self.server_name.clone().filter(|s| !s.is_empty()),
        })
    }
}

impl LoadedTls {
    /// The HTTP client's settings; `field` names the `tls_config` in errors. The HTTP
    /// client always checks the URL's host name, so `server_name` is refused.
    pub(crate) fn for_http(&self, field: &str) -> Result<ureq::tls::TlsConfig, ConfigError> {
        if self.server_name.is_some() {
            return Err(invalid(
                format!("{field}.server_name"),
                "not supported by tally for HTTP: the certificate is checked against the URL's host name",
            ));
        }
        let mut builder = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .disable_verification(self.insecure_skip_verify);
        if let Some(roots) = &self.roots {
            builder = builder.root_certs(RootCerts::new_with_certs(roots));
        }
        if let Some(c) = &self.client {
            builder = builder.client_cert(Some(c.parsed.clone()));
        }
        Ok(builder.build())
    }

    /// The SMTP client's settings for a server reached as `host` (checked against
    /// `server_name` when set). The authority given replaces the built-in roots.
    pub(crate) fn for_smtp(
        &self,
        host: &str,
    ) -> Result<TlsParameters, lettre::transport::smtp::Error> {
        let name = self.server_name.clone().unwrap_or_else(|| host.to_owned());
        let mut builder =
            TlsParameters::builder(name).dangerous_accept_invalid_certs(self.insecure_skip_verify);
        if let Some(roots) = &self.roots {
            builder = builder.certificate_store(CertificateStore::None);
            for root in roots {
                builder =
                    builder.add_root_certificate(SmtpCertificate::from_der(root.der().to_vec())?);
            }
        }
        if let Some(c) = &self.client {
            builder = builder.identify_with(Identity::from_pem(&c.chain_pem, &c.key_pem)?);
        }
        builder.build()
    }
}

fn unknown_version(v: &str) -> String {
    format!("unknown TLS version {v:?} (expected TLS10, TLS11, TLS12 or TLS13)")
}

/// The PEM text of `name` (given inline) or `name_file`, with the field it came from;
/// both set is an error.
fn pem_source(
    field: &str,
    name: &str,
    inline: &Option<String>,
    file: &Option<String>,
    base: Option<&Path>,
) -> Result<Option<(String, Vec<u8>)>, ConfigError> {
    match (inline, file) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(invalid(
            format!("{field}.{name}"),
            format!("at most one of {name} and {name}_file may be set"),
        )),
        (Some(text), None) => Ok(Some((format!("{field}.{name}"), text.as_bytes().to_vec()))),
        (None, Some(path)) => {
            let what = format!("{field}.{name}_file");
            let full = match base {
                Some(dir) if Path::new(path).is_relative() => dir.join(path),
                _ => PathBuf::from(path),
            };
            let bytes = std::fs::read(&full)
                .map_err(|e| invalid(&what, format!("reading {}: {e}", full.display())))?;
            Ok(Some((what, bytes)))
        }
    }
}

/// Every certificate in `pem`; none is an error.
fn certificates(what: &str, pem: &[u8]) -> Result<Vec<Certificate<'static>>, ConfigError> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(invalid(what, format!("bad PEM: {e}"))),
        }
    }
    if certs.is_empty() {
        return Err(invalid(what, "no PEM certificate found"));
    }
    Ok(certs)
}

/// The first private key in `pem`.
fn private_key(what: &str, pem: &[u8]) -> Result<PrivateKey<'static>, ConfigError> {
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(PemItem::PrivateKey(k)) => return Ok(k),
            Ok(_) => {}
            Err(e) => return Err(invalid(what, format!("bad PEM: {e}"))),
        }
    }
    Err(invalid(what, "no PEM private key found"))
}
