//! The notifier's durable state: alerts held, the notification log and silences, in one
//! JSON file (`notify-state.json`) in the data directory, replaced atomically (written to
//! a temporary file, synced, renamed over the old one, directory synced). The layout is
//! drawn in `docs/format/notify-state.md`.
//!
//! After a restart the alerts are regrouped and the log says what each receiver was last
//! told, so nobody is notified again before `repeat_interval`, and silences keep muting.
//! Alerts firing when the state was saved stay firing for `resolve_timeout` after the
//! restart (time for the rule engine to re-send them, so nothing flaps); one that
//! resolved while tally was down is then reported resolved.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tally_model::Labels;

use crate::alert::Alert;
use crate::dispatch::{Dispatcher, NflogEntry, StoredAlert};
use crate::matcher::{MatchType, Matcher, Matchers};
use crate::payload::map;
use crate::silence::Silence;

/// The file name inside the data directory.
pub const STATE_FILE: &str = "notify-state.json";
/// The format version written.
pub const STATE_VERSION: u32 = 1;

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a state file this version understands.
    #[error("{path}: corrupt notifier state at line {line}, column {column}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Line of the problem.
        line: usize,
        /// Column of the problem.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StateFile {
    version: u32,
    saved_at: DateTime<Utc>,
    alerts: Vec<AlertRecord>,
    nflog: Vec<NflogRecord>,
    silences: Vec<SilenceRecord>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AlertRecord {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    #[serde(rename = "generatorURL")]
    generator_url: String,
    timeout: bool,
    updated_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NflogRecord {
    key: String,
    firing: BTreeSet<u64>,
    resolved: BTreeSet<u64>,
    timestamp: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MatcherRecord {
    name: String,
    value: String,
    is_regex: bool,
    is_equal: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SilenceRecord {
    id: String,
    matchers: Vec<MatcherRecord>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    created_by: String,
    comment: String,
}

/// Converts matchers to the API's `{name, value, isRegex, isEqual}` form.
pub(crate) fn matcher_parts(m: &Matcher) -> (bool, bool) {
    match m.kind {
        MatchType::Equal => (false, true),
        MatchType::NotEqual => (false, false),
        MatchType::Regex => (true, true),
        MatchType::NotRegex => (true, false),
    }
}

/// The match type of the API's `isRegex` / `isEqual` flags.
pub(crate) fn match_type(is_regex: bool, is_equal: bool) -> MatchType {
    match (is_regex, is_equal) {
        (false, true) => MatchType::Equal,
        (false, false) => MatchType::NotEqual,
        (true, true) => MatchType::Regex,
        (true, false) => MatchType::NotRegex,
    }
}

fn labels(m: &BTreeMap<String, String>) -> Labels {
    Labels::from_pairs(m.iter()).unwrap_or_default()
}

/// The state file of a data directory.
#[derive(Debug, Clone)]
pub struct StateStore {
    path: PathBuf,
}

impl StateStore {
    /// The state file in `dir`, creating the directory if needed.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
            path: dir.to_owned(),
            source,
        })?;
        Ok(Self {
            path: dir.join(STATE_FILE),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the dispatcher's state, atomically: [`snapshot`](Self::snapshot) then
    /// [`write`](Self::write).
    pub fn save(&self, d: &Dispatcher, now: DateTime<Utc>) -> Result<(), StateError> {
        let bytes = self.snapshot(d, now)?;
        self.write(&bytes)
    }

    /// The dispatcher's state as the file's bytes: quick, so it can be taken under the
    /// dispatcher's lock and written after the lock is released.
    pub fn snapshot(&self, d: &Dispatcher, now: DateTime<Utc>) -> Result<Vec<u8>, StateError> {
        let file = StateFile {
            version: STATE_VERSION,
            saved_at: now,
            alerts: d
                .alerts
                .values()
                .map(|a| AlertRecord {
                    labels: map(&a.alert.labels),
                    annotations: map(&a.alert.annotations),
                    starts_at: a.alert.starts_at,
                    ends_at: a.alert.ends_at,
                    generator_url: a.alert.generator_url.clone(),
                    timeout: a.timeout,
                    updated_at: a.updated_at,
                })
                .collect(),
            nflog: d
                .nflog
                .entries
                .iter()
                .map(|(key, e)| NflogRecord {
                    key: key.clone(),
                    firing: e.firing.clone(),
                    resolved: e.resolved.clone(),
                    timestamp: e.timestamp,
                })
                .collect(),
            silences: d
                .silences
                .list()
                .map(|s| SilenceRecord {
                    id: s.id.clone(),
                    matchers: s
                        .matchers
                        .0
                        .iter()
                        .map(|m| {
                            let (is_regex, is_equal) = matcher_parts(m);
                            MatcherRecord {
                                name: m.name.clone(),
                                value: m.value.clone(),
                                is_regex,
                                is_equal,
                            }
                        })
                        .collect(),
                    starts_at: s.starts_at,
                    ends_at: s.ends_at,
                    updated_at: s.updated_at,
                    created_by: s.created_by.clone(),
                    comment: s.comment.clone(),
                })
                .collect(),
        };
        let io = |source| StateError::Io {
            path: self.path.clone(),
            source,
        };
        serde_json::to_vec(&file).map_err(|e| io(std::io::Error::other(e)))
    }

    /// Replaces the file with `bytes`: temporary file, `fsync`, rename, directory `fsync`.
    pub fn write(&self, bytes: &[u8]) -> Result<(), StateError> {
        let io = |source| StateError::Io {
            path: self.path.clone(),
            source,
        };
        let tmp = self.path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Loads the saved state into `d` (nothing when there is no file yet) and regroups
    /// its alerts as of `now`.
    pub fn load_into(&self, d: &mut Dispatcher, now: DateTime<Utc>) -> Result<(), StateError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(StateError::Io {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        let corrupt = |line, column, message: String| StateError::Corrupt {
            path: self.path.clone(),
            line,
            column,
            message,
        };
        let file: StateFile = serde_json::from_slice(&bytes)
            .map_err(|e| corrupt(e.line(), e.column(), e.to_string()))?;
        if file.version != STATE_VERSION {
            return Err(corrupt(0, 0, format!("unknown version {}", file.version)));
        }
        // An alert that was firing when the state was saved stays firing for at least
        // `resolve_timeout` after the restart, so the rule engine can re-send it before it
        // is taken for resolved: a restart never makes an alert flap. One that really
        // resolved meanwhile is then reported resolved, late but not lost.
        let grace = crate::clock::later(now, d.config().raw.global.resolve_timeout.to_chrono());
        for a in file.alerts {
            let ends_at = match a.ends_at {
                Some(end) if end > file.saved_at => Some(end.max(grace)),
                other => other,
            };
            let alert = Alert {
                labels: labels(&a.labels),
                annotations: labels(&a.annotations),
                starts_at: a.starts_at,
                ends_at,
                generator_url: a.generator_url,
            };
            let stored = StoredAlert {
                alert,
                timeout: a.timeout,
                updated_at: a.updated_at,
            };
            d.alerts.insert(stored.alert.fingerprint(), stored);
        }
        for n in file.nflog {
            d.nflog.log(
                n.key,
                NflogEntry {
                    firing: n.firing,
                    resolved: n.resolved,
                    timestamp: n.timestamp,
                },
            );
        }
        for s in file.silences {
            let matchers = s
                .matchers
                .into_iter()
                .map(|m| Matcher::new(m.name, match_type(m.is_regex, m.is_equal), m.value))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| corrupt(0, 0, format!("silence {}: {e}", s.id)))?;
            d.silences.restore(Silence {
                id: s.id,
                matchers: Matchers(matchers),
                starts_at: s.starts_at,
                ends_at: s.ends_at,
                updated_at: s.updated_at,
                created_by: s.created_by,
                comment: s.comment,
            });
        }
        d.regroup(now);
        Ok(())
    }
}
