//! [`PusherBuilder`]: the pusher's settings, from code or from `TALLY_*` environment
//! variables, checked into a [`PushConfig`] before any thread starts.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tally_model::name::is_legacy_label_name;

use crate::{Registry, RegistryError};

use super::clock::{Clock, SystemClock};
use super::grouping::GroupingKey;
use super::retry::Backoff;
use super::transport::{HttpTransport, Transport};
use super::Pusher;

/// Why a pusher could not be configured or started.
#[derive(Debug, thiserror::Error)]
pub enum PushConfigError {
    /// No gateway URL was given.
    #[error("no gateway URL: call .url(..) or set TALLY_PUSH_URL")]
    NoGateway,
    /// A gateway URL is unusable.
    #[error("invalid gateway URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No job was given.
    #[error("no job: call .job(..) or set TALLY_JOB")]
    MissingJob,
    /// A grouping-key label is unusable.
    #[error("invalid grouping label {name:?}: {reason}")]
    InvalidLabel {
        /// The label name.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A setting is out of range.
    #[error("invalid {setting}: {reason}")]
    InvalidSetting {
        /// The builder method.
        setting: &'static str,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An environment variable could not be parsed.
    #[error("invalid {var}={value:?}: {reason}")]
    InvalidEnv {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The pusher's own metrics clash with metrics already in the registry.
    #[error("cannot register the pusher's metrics: {0}")]
    Metrics(#[from] RegistryError),
    /// A pusher thread could not be started.
    #[error("cannot start a pusher thread: {0}")]
    Spawn(#[source] std::io::Error),
}

/// Settings for a [`Pusher`]; [`start`](Self::start) checks them and starts its threads.
///
/// Defaults: push every 5 s, early after 10 000 updates, 2 s connect and 5 s request
/// timeouts, backoff from 200 ms doubling up to 30 s with full jitter, breaker open after
/// 5 consecutive failures for a 30 s cool-down, activity sampled every 100 ms, instance
/// `<host name>-<pid>`, the [default registry](crate::default_registry), no spool.
pub struct PusherBuilder {
    urls: Vec<String>,
    job: Option<String>,
    instance: Option<String>,
    labels: Vec<(String, String)>,
    pub(crate) max_wait: Duration,
    pub(crate) max_items: Option<u64>,
    spool_dir: Option<PathBuf>,
    registry: Option<Registry>,
    clock: Option<Arc<dyn Clock>>,
    transport: Option<Arc<dyn Transport>>,
    connect_timeout: Duration,
    request_timeout: Duration,
    backoff: Backoff,
    breaker_threshold: u32,
    breaker_cool_down: Duration,
    sample_interval: Duration,
    seed: Option<u64>,
    ttl: Option<Duration>,
}

/// The longest `Tally-TTL` a tally gateway accepts.
const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

impl fmt::Debug for PusherBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PusherBuilder")
            .field("urls", &self.urls)
            .field("job", &self.job)
            .field("instance", &self.instance)
            .field("labels", &self.labels)
            .field("max_wait", &self.max_wait)
            .field("max_items", &self.max_items)
            .field("spool_dir", &self.spool_dir)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Default for PusherBuilder {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            job: None,
            instance: None,
            labels: Vec::new(),
            max_wait: Duration::from_secs(5),
            max_items: Some(10_000),
            spool_dir: None,
            registry: None,
            clock: None,
            transport: None,
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            backoff: Backoff {
                base: Duration::from_millis(200),
                cap: Duration::from_secs(30),
            },
            breaker_threshold: 5,
            breaker_cool_down: Duration::from_secs(30),
            sample_interval: Duration::from_millis(100),
            seed: None,
            ttl: None,
        }
    }
}

/// Checked settings, shared by the pusher's threads.
#[derive(Debug)]
pub(crate) struct PushConfig {
    /// Gateway base URLs, without a trailing `/`.
    pub(crate) gateways: Vec<String>,
    pub(crate) key: GroupingKey,
    pub(crate) max_wait: Duration,
    pub(crate) max_items: Option<u64>,
    pub(crate) spool_dir: Option<PathBuf>,
    pub(crate) request_timeout: Duration,
    pub(crate) backoff: Backoff,
    pub(crate) breaker_threshold: u32,
    pub(crate) breaker_cool_down: Duration,
    pub(crate) sample_interval: Duration,
    pub(crate) seed: Option<u64>,
    pub(crate) ttl: Option<Duration>,
}

/// What [`PusherBuilder::start`] hands to the pusher.
pub(crate) struct Parts {
    pub(crate) config: PushConfig,
    pub(crate) registry: Registry,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) transport: Arc<dyn Transport>,
}

impl PusherBuilder {
    /// Settings from the environment, as [`Pusher::from_env`] documents; further builder
    /// calls override them.
    pub fn from_env() -> Result<Self, PushConfigError> {
        Self::from_vars(|var| std::env::var(var).ok())
    }

    /// Settings from `lookup` (an environment).
    pub(crate) fn from_vars(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, PushConfigError> {
        let mut b = Self::default();
        let get = |var: &'static str| lookup(var).filter(|v| !v.trim().is_empty());
        let invalid =
            |var: &'static str, value: &str, reason: String| PushConfigError::InvalidEnv {
                var,
                value: value.to_owned(),
                reason,
            };
        if let Some(urls) = get("TALLY_PUSH_URL") {
            b.urls = urls
                .split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
                .collect();
        }
        b.job = get("TALLY_JOB");
        b.instance = get("TALLY_INSTANCE");
        if let Some(v) = get("TALLY_PUSH_INTERVAL") {
            b.max_wait =
                parse_duration(&v).map_err(|r| invalid("TALLY_PUSH_INTERVAL", &v, r.into()))?;
        }
        if let Some(v) = get("TALLY_PUSH_MAX_ITEMS") {
            let n: u64 = v
                .trim()
                .parse()
                .map_err(|e| invalid("TALLY_PUSH_MAX_ITEMS", &v, format!("{e}")))?;
            b.max_items = (n > 0).then_some(n);
        }
        b.spool_dir = get("TALLY_SPOOL_DIR").map(PathBuf::from);
        if let Some(v) = get("TALLY_PUSH_TTL") {
            b.ttl = Some(parse_duration(&v).map_err(|r| invalid("TALLY_PUSH_TTL", &v, r.into()))?);
        }
        Ok(b)
    }

    /// Adds a gateway base URL (`http://host:port`, optionally with a path prefix). Every
    /// push goes to every gateway.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.urls.push(url.into());
        self
    }

    /// The `job` label of the grouping key (required).
    pub fn job(mut self, job: impl Into<String>) -> Self {
        self.job = Some(job.into());
        self
    }

    /// The `instance` label of the grouping key (default `<host name>-<pid>`). May be
    /// empty or contain `/`: it is then sent base64-encoded.
    pub fn instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// Adds another grouping-key label after `job` and `instance`.
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((name.into(), value.into()));
        self
    }

    /// The longest time between pushes (default 5 s).
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Push early once this many counter increments and histogram observations have
    /// happened since the last push (default 10 000; 0 turns early pushes off).
    pub fn max_items(mut self, max_items: u64) -> Self {
        self.max_items = (max_items > 0).then_some(max_items);
        self
    }

    /// Where final states that could not be pushed at shutdown are kept, and read back
    /// from at start (default: nowhere).
    pub fn spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool_dir = Some(dir.into());
        self
    }

    /// The registry to push (default: [`default_registry`](crate::default_registry)).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The clock scheduling runs on (default [`SystemClock`]); tests pass a
    /// [`VirtualClock`](super::VirtualClock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// How pushes are sent (default [`HttpTransport`]).
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The TCP connect timeout of the default transport (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The timeout of a whole request, connect included (default 5 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The backoff after failures: from `base`, doubling per consecutive failure, never
    /// above `cap`, with full jitter (defaults 200 ms and 30 s).
    pub fn backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.backoff = Backoff { base, cap };
        self
    }

    /// The circuit breaker: open after `failures` consecutive failures, probe again after
    /// `cool_down` (defaults 5 and 30 s).
    pub fn breaker(mut self, failures: u32, cool_down: Duration) -> Self {
        self.breaker_threshold = failures;
        self.breaker_cool_down = cool_down;
        self
    }

    /// How often the registry's activity is sampled for early pushes (default 100 ms).
    pub fn sample_interval(mut self, interval: Duration) -> Self {
        self.sample_interval = interval;
        self
    }

    /// Asks a tally gateway to expire this group when it has not been pushed for `ttl`
    /// (the `Tally-TTL` header, 1 ms to 30 days; default: the gateway's own TTL).
    /// Pushgateway ignores it.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Seeds the backoff jitter, for reproducible tests (default: random).
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Checks the settings and starts the pusher's threads.
    pub fn start(self) -> Result<Pusher, PushConfigError> {
        Pusher::start(self.build()?)
    }

    pub(crate) fn build(self) -> Result<Parts, PushConfigError> {
        if self.urls.is_empty() {
            return Err(PushConfigError::NoGateway);
        }
        let mut gateways = Vec::with_capacity(self.urls.len());
        for url in &self.urls {
            let url = check_url(url)?;
            if !gateways.contains(&url) {
                gateways.push(url);
            }
        }
        let job = self.job.ok_or(PushConfigError::MissingJob)?;
        if job.is_empty() {
            return Err(PushConfigError::MissingJob);
        }
        let mut labels = vec![(
            "instance".to_owned(),
            self.instance.unwrap_or_else(default_instance),
        )];
        for (name, value) in self.labels {
            let reason = if !is_legacy_label_name(&name) {
                Some("not a valid label name")
            } else if name.starts_with("__") {
                Some("names starting with __ are reserved")
            } else if name == "job" || labels.iter().any(|(n, _)| *n == name) {
                Some("repeated (job and instance have their own methods)")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(PushConfigError::InvalidLabel { name, reason });
            }
            labels.push((name, value));
        }
        let positive = |setting: &'static str, d: Duration| {
            if d.is_zero() {
                Err(PushConfigError::InvalidSetting {
                    setting,
                    reason: "must be more than zero",
                })
            } else {
                Ok(())
            }
        };
        positive("max_wait", self.max_wait)?;
        positive("connect_timeout", self.connect_timeout)?;
        positive("request_timeout", self.request_timeout)?;
        positive("backoff base", self.backoff.base)?;
        positive("sample_interval", self.sample_interval)?;
        if self.backoff.cap < self.backoff.base {
            return Err(PushConfigError::InvalidSetting {
                setting: "backoff cap",
                reason: "must not be below the base",
            });
        }
        if let Some(ttl) = self.ttl {
            if ttl < Duration::from_millis(1) || ttl > MAX_TTL {
                return Err(PushConfigError::InvalidSetting {
                    setting: "ttl",
                    reason: "must be between 1 ms and 30 days",
                });
            }
        }
        if self.breaker_threshold == 0 {
            return Err(PushConfigError::InvalidSetting {
                setting: "breaker failures",
                reason: "must be at least 1",
            });
        }
        let transport = match self.transport {
            Some(t) => t,
            None => Arc::new(HttpTransport::new(self.connect_timeout)),
        };
        Ok(Parts {
            config: PushConfig {
                gateways,
                key: GroupingKey { job, labels },
                max_wait: self.max_wait,
                max_items: self.max_items,
                spool_dir: self.spool_dir,
                request_timeout: self.request_timeout,
                backoff: self.backoff,
                breaker_threshold: self.breaker_threshold,
                breaker_cool_down: self.breaker_cool_down,
                sample_interval: self.sample_interval,
                seed: self.seed,
                ttl: self.ttl,
            },
            registry: self
                .registry
                .unwrap_or_else(|| crate::default_registry().clone()),
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            transport,
        })
    }
}

/// Checks a gateway URL; returns it without trailing `/`.
fn check_url(url: &str) -> Result<String, PushConfigError> {
    let invalid = |reason: &str| PushConfigError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = url.trim().trim_end_matches('/');
    let uri: ureq::http::Uri = trimmed
        .parse()
        .map_err(|e: ureq::http::uri::InvalidUri| invalid(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(invalid(
                "https is not supported: put a TLS-terminating proxy in front, or use http",
            ))
        }
        Some(_) => return Err(invalid("the scheme must be http")),
        None => return Err(invalid("no scheme: write http://host:port")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if uri.query().is_some() || trimmed.contains('#') {
        return Err(invalid(
            "a query or fragment cannot be combined with a push path",
        ));
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(invalid("credentials in the URL are not supported"));
    }
    Ok(trimmed.to_owned())
}

/// `<host name>-<pid>`: the host name from `/proc/sys/kernel/hostname`, else `$HOSTNAME`,
/// else `unknown`.
pub(crate) fn default_instance() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    format!("{host}-{}", std::process::id())
}

/// Parses `500ms`, `5s`, `1.5s`, `2m`, `1h` or plain seconds (`5`, `0.25`). Must be more
/// than zero and finite.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, &'static str> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err("unknown unit (use ms, s, m or h)"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| "not a number followed by ms, s, m or h")?;
    let seconds = value * scale;
    if seconds.is_nan() || seconds <= 0.0 {
        return Err("must be more than zero");
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| "too long")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn durations() {
        let ms = |s| parse_duration(s).map(|d| d.as_millis());
        assert_eq!(ms("5s"), Ok(5000));
        assert_eq!(ms("500ms"), Ok(500));
        assert_eq!(ms("1.5s"), Ok(1500));
        assert_eq!(ms("2"), Ok(2000));
        assert_eq!(ms("0.25"), Ok(250));
        assert_eq!(ms(" 2m "), Ok(120_000));
        assert_eq!(ms("1h"), Ok(3_600_000));
        for bad in ["", "0", "0s", "-1s", "5x", "s", "1..2s", "1e3", "NaN"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(parse_duration("99999999999999999999999h").is_err());
    }

    #[test]
    fn environment_sets_everything() {
        let b = PusherBuilder::from_vars(env(&[
            ("TALLY_PUSH_URL", "http://a:9091, http://b:9091/,"),
            ("TALLY_JOB", "batch"),
            ("TALLY_INSTANCE", "box-1"),
            ("TALLY_PUSH_INTERVAL", "500ms"),
            ("TALLY_PUSH_MAX_ITEMS", "0"),
            ("TALLY_SPOOL_DIR", "/var/spool/tally"),
            ("TALLY_PUSH_TTL", "10m"),
        ]))
        .unwrap();
        assert_eq!(b.max_wait, Duration::from_millis(500));
        assert_eq!(b.max_items, None);
        let parts = b.registry(Registry::new()).build().unwrap();
        assert_eq!(parts.config.gateways, ["http://a:9091", "http://b:9091"]);
        assert_eq!(parts.config.key.path(), "/metrics/job/batch/instance/box-1");
        assert_eq!(
            parts.config.spool_dir,
            Some(PathBuf::from("/var/spool/tally"))
        );
        assert_eq!(parts.config.ttl, Some(Duration::from_secs(600)));
    }

    #[test]
    fn environment_errors_name_the_variable() {
        let err = PusherBuilder::from_vars(env(&[("TALLY_PUSH_INTERVAL", "soon")])).unwrap_err();
        assert!(
            matches!(
                err,
                PushConfigError::InvalidEnv {
                    var: "TALLY_PUSH_INTERVAL",
                    ..
                }
            ),
            "{err}"
        );
        let err = PusherBuilder::from_vars(env(&[("TALLY_PUSH_MAX_ITEMS", "-3")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid TALLY_PUSH_MAX_ITEMS=\"-3\": invalid digit found in string"
        );
        let empty = PusherBuilder::from_vars(env(&[])).unwrap();
        assert!(matches!(empty.build(), Err(PushConfigError::NoGateway)));
        let no_job = PusherBuilder::from_vars(env(&[("TALLY_PUSH_URL", "http://a")])).unwrap();
        assert!(matches!(no_job.build(), Err(PushConfigError::MissingJob)));
    }

    #[test]
    fn default_instance_is_host_and_pid() {
        let instance = default_instance();
        assert!(
            instance.ends_with(&format!("-{}", std::process::id())),
            "{instance}"
        );
        assert!(instance.len() > 2);
    }

    fn build(b: PusherBuilder) -> Result<Parts, PushConfigError> {
        b.job("j").registry(Registry::new()).build()
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        let url_reason = |url: &str| match build(PusherBuilder::default().url(url)) {
            Err(PushConfigError::InvalidUrl { reason, .. }) => reason,
            Err(e) => format!("other error: {e}"),
            Ok(_) => "accepted".into(),
        };
        assert!(url_reason("https://gw").starts_with("https is not supported"));
        assert!(url_reason("ftp://gw").contains("scheme"));
        assert!(
            url_reason("gw:9091").contains("scheme"),
            "{}",
            url_reason("gw:9091")
        );
        assert!(url_reason("http://gw/x?y=1").contains("query"));
        assert!(url_reason("http://u:p@gw").contains("credentials"));
        assert!(url_reason("http://g w").len() > 3);
        assert_eq!(url_reason("http://gw:9091/prefix/"), "accepted");

        let label = |name: &str| build(PusherBuilder::default().url("http://gw").label(name, "v"));
        for bad in ["job", "instance", "__x", "1a", "a-b"] {
            assert!(
                matches!(label(bad), Err(PushConfigError::InvalidLabel { .. })),
                "{bad}"
            );
        }
        assert!(label("zone").is_ok());

        let setting = |b: PusherBuilder| match build(b.url("http://gw")) {
            Err(PushConfigError::InvalidSetting { setting, .. }) => setting,
            _ => "none",
        };
        let b = PusherBuilder::default;
        assert_eq!(setting(b().max_wait(Duration::ZERO)), "max_wait");
        assert_eq!(
            setting(b().request_timeout(Duration::ZERO)),
            "request_timeout"
        );
        assert_eq!(
            setting(b().backoff(Duration::from_secs(2), Duration::from_secs(1))),
            "backoff cap"
        );
        assert_eq!(
            setting(b().breaker(0, Duration::from_secs(1))),
            "breaker failures"
        );
        assert_eq!(setting(b().ttl(Duration::from_micros(10))), "ttl");
        assert_eq!(setting(b().ttl(MAX_TTL + Duration::from_secs(1))), "ttl");
        assert_eq!(setting(b().ttl(MAX_TTL)), "none");
        assert!(matches!(
            b().url("http://gw").job("").build(),
            Err(PushConfigError::MissingJob)
        ));
    }
}
