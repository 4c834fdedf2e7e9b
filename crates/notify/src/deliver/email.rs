//! The email integration: SMTP with `lettre`, STARTTLS when required (the default, as in
//! Alertmanager), implicit TLS on port 465, plain text and HTML bodies in one
//! `multipart/alternative` message. Subject, bodies and extra headers are templates; the
//! default subject is like `[FIRING:2] HighLatency api`.

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Message, SmtpTransport, Transport};

use crate::config::{EmailConfig, GlobalConfig, LoadedTls};
use crate::deliver::DeliverError;
use crate::payload::NotificationData;
use crate::template::Templates;

/// Splits `host:port` (`[v6]:port` too); `None` when there is no valid port.
pub fn split_host_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = text.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| (host.to_owned(), port))
}

fn permanent(what: &str, e: impl std::fmt::Display) -> DeliverError {
    DeliverError::Permanent(format!("{what}: {e}"))
}

/// Builds the message for `data`.
pub fn message(
    global: &GlobalConfig,
    cfg: &EmailConfig,
    templates: &Templates,
    data: &NotificationData,
) -> Result<Message, DeliverError> {
    let render = |what: &str, source: &str| {
        templates
            .render(what, source, data)
            .map_err(|e| DeliverError::Permanent(e.to_string()))
    };
    let header = |name: &str| {
        cfg.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let from = match header("From") {
        Some(t) => render("email From", t)?,
        None => cfg
            .from
            .clone()
            .or_else(|| global.smtp_from.clone())
            .unwrap_or_default(),
    };
    let to = render("email to", header("To").unwrap_or(&cfg.to))?;
    let subject = render(
        "email Subject",
        header("Subject").unwrap_or(r#"{{ template "tally.default.subject" . }}"#),
    )?;
    let text = render(
        "email text",
        cfg.text
            .as_deref()
            .unwrap_or(r#"{{ template "tally.default.text" . }}"#),
    )?;
    let html = render(
        "email html",
        cfg.html
            .as_deref()
            .unwrap_or(r#"{{ template "tally.default.html" . }}"#),
    )?;
    let mut builder = Message::builder()
        .from(
            from.parse::<Mailbox>()
                .map_err(|e| permanent("email from", e))?,
        )
        .subject(subject);
    for addr in to.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        builder = builder.to(addr
            .parse::<Mailbox>()
            .map_err(|e| permanent("email to", e))?);
    }
    for (name, value) in &cfg.headers {
        if ["from", "to", "subject"].contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        let header_name =
            HeaderName::new_from_ascii(name.clone()).map_err(|e| permanent("email header", e))?;
        let value = render(&format!("email header {name}"), value)?;
        builder = builder.raw_header(HeaderValue::new(header_name, value));
    }
    let body = if html.trim().is_empty() {
        MultiPart::alternative().singlepart(lettre::message::SinglePart::plain(text))
    } else if text.trim().is_empty() {
        MultiPart::alternative().singlepart(lettre::message::SinglePart::html(html))
    } else {
        MultiPart::alternative_plain_html(text, html)
    };
    builder.multipart(body).map_err(|e| permanent("email", e))
}

/// Sends the message over SMTP.
pub fn send(
    global: &GlobalConfig,
    cfg: &EmailConfig,
    tls: Option<&LoadedTls>,
    templates: &Templates,
    data: &NotificationData,
    timeout: Duration,
) -> Result<(), DeliverError> {
    let message = message(global, cfg, templates, data)?;
    let smarthost = cfg
        .smarthost
        .as_ref()
        .or(global.smtp_smarthost.as_ref())
        .ok_or_else(|| DeliverError::Permanent("no smarthost".into()))?;
    let (host, port) = split_host_port(smarthost).ok_or_else(|| {
        DeliverError::Permanent(format!("smarthost {smarthost:?} is not host:port"))
    })?;
    let require_tls = cfg.require_tls.unwrap_or(global.smtp_require_tls);
    let mut builder = SmtpTransport::builder_dangerous(host.clone());
    if port == 465 || require_tls {
        let params = match tls {
            Some(tls) => tls.for_smtp(&host),
            None => TlsParameters::new(host.clone()),
        }
        .map_err(|e| permanent("smtp tls_config", e))?;
        // Implicit TLS on the SMTPS port, else STARTTLS, required.
        builder = builder.tls(if port == 465 {
            Tls::Wrapper(params)
        } else {
            Tls::Required(params)
        });
    }
    builder = builder.port(port).timeout(Some(timeout));
    let hello = cfg.hello.as_ref().or(global.smtp_hello.as_ref());
    builder = builder.hello_name(ClientId::Domain(
        hello.cloned().unwrap_or_else(|| "localhost".into()),
    ));
    let user = cfg
        .auth_username
        .as_ref()
        .or(global.smtp_auth_username.as_ref());
    if let Some(user) = user {
        let password = cfg
            .auth_password
            .as_ref()
            .or(global.smtp_auth_password.as_ref())
            .cloned()
            .unwrap_or_default();
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    let transport = builder.build();
    match transport.send(&message) {
        Ok(_) => Ok(()),
        // A 5xx answer, or a problem on our side (e.g. STARTTLS required but not offered):
        // trying again will not help.
        Err(e) if e.is_permanent() || e.is_client() => {
            Err(permanent(&format!("smtp {smarthost}"), e))
        }
        Err(e) => Err(DeliverError::Retryable(format!("smtp {smarthost}: {e}"))),
    }
}
