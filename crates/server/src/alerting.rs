//! Rules and notifications inside `tally serve`: the rule [`Manager`] evaluating the
//! configured rule files over the time-series database, the [`Notifier`] its alerts go
//! to (routing tree, receivers, external Alertmanagers), reloads, and their HTTP API:
//! `GET /api/v1/rules`, `GET /api/v1/alerts`, `POST /-/reload`, and the notifier's
//! Alertmanager v2 API (`/api/v2/alerts`, `/api/v2/silences`, ...).
//!
//! A reload (SIGHUP or `POST /-/reload`) reads every rule file and the alerting
//! configuration again; when anything is broken, nothing changes: the previous rules and
//! configuration keep running, the error is logged, answered, and kept for
//! `tally_rules_config_last_reload_successful`.

pub mod api;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use parking_lot::Mutex;
use tally_model::Labels;
use tally_notify::config::NotifyConfig;
use tally_notify::{Config as NotifyConfigValidated, Notifier, NotifierOptions};
use tally_rules::eval::{AlertSender, Manager, ManagerConfig, OutgoingAlert};

use crate::app::Clock;
use crate::config::ServerConfig;

/// How often the notifier's timers are checked.
const NOTIFIER_TICK: Duration = Duration::from_secs(1);

/// Why rules or alerting could not start or reload.
#[derive(Debug, thiserror::Error)]
pub enum AlertingError {
    /// A rule file is missing or invalid (every problem, one per line).
    #[error("rule files: {0}")]
    Rules(String),
    /// The alerting configuration is invalid.
    #[error("alerting configuration {path}: {message}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The notifier could not start (its state file, a thread).
    #[error("notifier: {0}")]
    Notifier(#[from] tally_notify::NotifierError),
}

/// The outcome of the last reload, for the server's own metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadStatus {
    /// Whether the last reload (or the start) succeeded.
    pub successful: bool,
    /// When the last successful reload (or the start) happened, ms since the epoch.
    pub last_success_ms: i64,
}

/// The rules and notifications of a running server. Cheap to share behind an `Arc`.
pub struct Alerting {
    /// The rule manager.
    pub rules: Arc<Manager>,
    /// The notifier the rules send to.
    pub notifier: Notifier,
    patterns: Vec<String>,
    config_file: Option<std::path::PathBuf>,
    alertmanager_urls: Vec<String>,
    clock: Arc<dyn Clock>,
    status: Mutex<ReloadStatus>,
    reload_lock: Mutex<()>,
    runner: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Alerting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerting")
            .field("patterns", &self.patterns)
            .field("config_file", &self.config_file)
            .finish_non_exhaustive()
    }
}

/// The server's clock (milliseconds) as the notifier's (`DateTime`).
#[derive(Debug, Clone)]
struct NotifyClock(Arc<dyn Clock>);

impl tally_notify::clock::Clock for NotifyClock {
    fn now(&self) -> DateTime<Utc> {
        to_time(self.0.now_ms())
    }
}

fn to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Hands the rule engine's alerts to the notifier.
struct ToNotifier(Notifier);

impl AlertSender for ToNotifier {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        let alerts: Vec<tally_notify::Alert> = alerts
            .into_iter()
            .map(|a| tally_notify::Alert {
                labels: a.labels,
                // Annotation names come from rule files, which the parser checked.
                annotations: Labels::from_pairs(a.annotations).unwrap_or_default(),
                starts_at: to_time(a.starts_at_ms),
                ends_at: a.ends_at_ms.map(to_time),
                generator_url: a.generator_url,
            })
            .collect();
        if let Err(e) = self.0.put(alerts) {
            tracing::error!(error = %e, "alerts refused by the notifier");
        }
    }
}

impl Alerting {
    /// Loads the rule files and the alerting configuration (failing on any error, as a
    /// start with broken files should), and builds the notifier over `data_dir/notify`.
    /// Nothing runs until [`start`](Self::start).
    pub fn open(
        config: &ServerConfig,
        storage: Arc<dyn tally_storage::Storage>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AlertingError> {
        let r = &config.rules;
        let external_url = r
            .external_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.listen));
        let notify_config = notify_config(r.alerting_config.as_deref(), &r.alertmanager_urls)?;
        let options = NotifierOptions {
            data_dir: Some(config.data_dir.join("notify")),
            external_url: external_url.clone(),
            clock: Arc::new(NotifyClock(clock.clone())),
            ..NotifierOptions::default()
        };
        let notifier = Notifier::new(notify_config, options)?;
        let mut mc = ManagerConfig::new(
            storage,
            clock.clone(),
            Arc::new(ToNotifier(notifier.clone())),
        );
        mc.engine = tally_promql::Engine::new(config.query.clone());
        mc.external_url = external_url;
        mc.evaluation_interval_ms = r.evaluation_interval.as_millis() as i64;
        let rules = Arc::new(Manager::new(mc));
        rules
            .reload(&r.files)
            .map_err(|errors| AlertingError::Rules(join_errors(&errors)))?;
        let now = clock.now_ms();
        Ok(Self {
            rules,
            notifier,
            patterns: r.files.clone(),
            config_file: r.alerting_config.clone(),
            alertmanager_urls: r.alertmanager_urls.clone(),
            clock,
            status: Mutex::new(ReloadStatus {
                successful: true,
                last_success_ms: now,
            }),
            reload_lock: Mutex::new(()),
            runner: Mutex::new(None),
        })
    }

    /// Starts rule evaluation (its own thread) and the notifier's timers.
    pub fn start(&self) -> Result<(), AlertingError> {
        self.notifier.start(NOTIFIER_TICK)?;
        let rules = self.rules.clone();
        let handle = std::thread::Builder::new()
            .name("tally-rules".into())
            .spawn(move || rules.run())
            .map_err(|e| AlertingError::Notifier(tally_notify::NotifierError::Thread(e)))?;
        *self.runner.lock() = Some(handle);
        Ok(())
    }

    /// Stops evaluation and the notifier (which saves its state).
    pub fn stop(&self) {
        self.rules.stop();
        if let Some(handle) = self.runner.lock().take() {
            let _ = handle.join();
        }
        if let Err(e) = self.notifier.shutdown() {
            tracing::error!(error = %e, "notifier shutdown failed");
        }
    }

    /// Reads the rule files and the alerting configuration again. All or nothing: on
    /// any error the running rules and configuration stay as they were.
    pub fn reload(&self) -> Result<(), AlertingError> {
        let _one_at_a_time = self.reload_lock.lock();
        let result = self.try_reload();
        let mut status = self.status.lock();
        status.successful = result.is_ok();
        match &result {
            Ok(()) => {
                status.last_success_ms = self.clock.now_ms();
                tracing::info!(files = ?self.patterns, "rules and alerting configuration reloaded");
            }
            Err(e) => {
                tracing::error!(error = %e, "reload failed; the previous configuration keeps running")
            }
        }
        result
    }

    fn try_reload(&self) -> Result<(), AlertingError> {
        // Parse both before applying either, so a broken alerting file leaves the rules
        // untouched too.
        let notify_config = notify_config(self.config_file.as_deref(), &self.alertmanager_urls)?;
        let files = tally_rules::eval::load_rule_files(&self.patterns)
            .map_err(|errors| AlertingError::Rules(join_errors(&errors)))?;
        self.rules.update(files);
        self.notifier.reload(notify_config);
        Ok(())
    }

    /// The outcome of the last reload.
    pub fn reload_status(&self) -> ReloadStatus {
        *self.status.lock()
    }

    /// Rule and notifier metrics in the Prometheus text format.
    pub fn write_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let status = self.reload_status();
        let _ = writeln!(
            out,
            "# HELP tally_rules_config_last_reload_successful Whether the last reload of rule files and alerting configuration succeeded.\n\
             # TYPE tally_rules_config_last_reload_successful gauge\n\
             tally_rules_config_last_reload_successful {}\n\
             # HELP tally_rules_config_last_reload_success_timestamp_seconds When rule files and alerting configuration were last loaded successfully.\n\
             # TYPE tally_rules_config_last_reload_success_timestamp_seconds gauge\n\
             tally_rules_config_last_reload_success_timestamp_seconds {}",
            u8::from(status.successful),
            status.last_success_ms as f64 / 1000.0
        );
        let stats = self.rules.stats();
        let families: [GroupFamily; 7] = [
            (
                "tally_rule_evaluations_total",
                "counter",
                "Rule evaluations.",
                |g| g.counters.evaluations as f64,
            ),
            (
                "tally_rule_evaluation_failures_total",
                "counter",
                "Rule evaluations that failed.",
                |g| g.counters.evaluation_failures as f64,
            ),
            (
                "tally_rule_group_iterations_total",
                "counter",
                "Scheduled evaluations of the group.",
                |g| g.counters.iterations as f64,
            ),
            (
                "tally_rule_group_iterations_missed_total",
                "counter",
                "Evaluations of the group skipped because the previous one ran late.",
                |g| g.counters.iterations_missed as f64,
            ),
            (
                "tally_rule_group_last_duration_seconds",
                "gauge",
                "How long the group's last evaluation took.",
                |g| g.last_duration.as_secs_f64(),
            ),
            (
                "tally_rule_group_last_evaluation_timestamp_seconds",
                "gauge",
                "When the group was last evaluated.",
                |g| g.last_evaluation_ms.map_or(0.0, |t| t as f64 / 1000.0),
            ),
            (
                "tally_rule_group_rules",
                "gauge",
                "Rules in the group.",
                |g| g.rules as f64,
            ),
        ];
        for (name, kind, help, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for g in &stats {
                let _ = writeln!(
                    out,
                    "{name}{{rule_group=\"{}\"}} {}",
                    escape(&format!("{};{}", g.file, g.name)),
                    tally_promql::format_float(value(g))
                );
            }
        }
        self.notifier.write_metrics(out);
    }
}

/// A per-group metric: name, type, help, and how to read it from a group's stats.
type GroupFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&tally_rules::eval::GroupStats) -> f64,
);

/// A label value escaped for the text format.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn join_errors(errors: &[tally_rules::eval::LoadError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The notifier's configuration: the file when there is one (else nothing to route),
/// with the `--alertmanager-url`s added to its `alertmanagers`.
fn notify_config(
    file: Option<&std::path::Path>,
    alertmanager_urls: &[String],
) -> Result<NotifyConfigValidated, AlertingError> {
    let invalid = |path: String, message: String| AlertingError::Config { path, message };
    let (mut raw, base, source) = match file {
        Some(path) => {
            let c = NotifyConfigValidated::load(path)
                .map_err(|e| invalid(path.display().to_string(), e.to_string()))?;
            (c.raw, path.parent().map(ToOwned::to_owned), c.source)
        }
        None => (NotifyConfig::default(), None, String::new()),
    };
    for url in alertmanager_urls {
        if !raw.alertmanagers.contains(url) {
            raw.alertmanagers.push(url.clone());
        }
    }
    let mut config = NotifyConfigValidated::validate(raw, base.as_deref()).map_err(|e| {
        invalid(
            file.map_or_else(|| "(flags)".to_owned(), |p| p.display().to_string()),
            e.to_string(),
        )
    })?;
    config.source = source;
    Ok(config)
}
