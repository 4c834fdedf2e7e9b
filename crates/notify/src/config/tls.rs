//! `tls_config` inside an `http_config`: Prometheus' field names for the certificate
//! authority, the client certificate and verification, loaded into the settings of the
//! HTTP client ([`ureq::tls::TlsConfig`]).
//!
//! PEM is read when the configuration is loaded (and again on every reload), so a
//! missing or unreadable file is a configuration error naming the field, not a failed
//! notification later. Relative file names are relative to the configuration file's
//! directory, as in Alertmanager.

use std::path::{Path, PathBuf};

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
    /// Overriding the name the server's certificate is checked against is not
    /// supported; set, it is refused (the URL's host name is checked).
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

impl TlsConfig {
    /// Checks the settings and reads their PEM, `field` naming this `tls_config` in
    /// errors and `base` the directory relative file names start from.
    pub(crate) fn load(
        &self,
        field: &str,
        base: Option<&Path>,
    ) -> Result<ureq::tls::TlsConfig, ConfigError> {
        let at = |f: &str| format!("{field}.{f}");
        if self.server_name.is_some() {
            return Err(invalid(
                at("server_name"),
                "not supported by tally: the certificate is checked against the URL's host name",
            ));
        }
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
        let mut builder = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .disable_verification(self.insecure_skip_verify);
        if let Some((what, pem)) = read("ca", &self.ca, &self.ca_file)? {
            let certs = certificates(&what, &pem)?;
            builder = builder.root_certs(RootCerts::new_with_certs(&certs));
        }
        let cert = read("cert", &self.cert, &self.cert_file)?;
        let key = read("key", &self.key, &self.key_file)?;
        match (cert, key) {
            (None, None) => {}
            (Some((what, pem)), Some((key_what, key_pem))) => {
                let chain = certificates(&what, &pem)?;
                let key = private_key(&key_what, &key_pem)?;
                builder = builder.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
            }
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
        }
        Ok(builder.build())
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
