//! [`Silences`]: time-bounded mutes created through the API (`createdBy`, `comment`,
//! matchers, `startsAt`..`endsAt`), in Alertmanager's states pending, active and expired.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use tally_model::Labels;

use crate::matcher::Matchers;

/// How long an expired silence is kept (listed) before it is forgotten, as
/// Alertmanager's default data retention.
pub const SILENCE_RETENTION: Duration = Duration::hours(120);

/// The most silences kept (expired ones included, until their retention ends).
pub const MAX_SILENCES: usize = 10_000;

/// A silence's state at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SilenceState {
    /// Starts in the future.
    Pending,
    /// Mutes matching alerts now.
    Active,
    /// Ended.
    Expired,
}

impl SilenceState {
    /// `pending`, `active` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

/// A silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    /// Identifier (a random UUID).
    pub id: String,
    /// Alerts matching all of these are muted.
    pub matchers: Matchers,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Who made it.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

impl Silence {
    /// The state at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now >= self.ends_at {
            SilenceState::Expired
        } else {
            SilenceState::Active
        }
    }
}

/// A silence as submitted: `id` set to update an existing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceInput {
    /// The silence to update, or `None` to create one.
    pub id: Option<String>,
    /// Matchers; at least one, and not all matching the empty value.
    pub matchers: Matchers,
    /// Start (a time in the past means now).
    pub starts_at: DateTime<Utc>,
    /// End, after the start and not in the past.
    pub ends_at: DateTime<Utc>,
    /// Who makes it (required).
    pub created_by: String,
    /// Why (required).
    pub comment: String,
}

/// Why a silence operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    /// No silence has this id.
    #[error("silence {0} not found")]
    NotFound(String),
    /// The silence has already expired.
    #[error("silence {0} already expired")]
    AlreadyExpired(String),
    /// [`MAX_SILENCES`] are kept already.
    #[error("too many silences: {0} kept, expire or wait for old ones to be forgotten")]
    TooMany(usize),
    /// The input is not a valid silence.
    #[error("{field}: {message}")]
    Invalid {
        /// The offending field (`matchers`, `endsAt`, ...).
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

fn invalid(field: &'static str, message: impl Into<String>) -> SilenceError {
    SilenceError::Invalid {
        field,
        message: message.into(),
    }
}

/// Every silence known, by id. Not synchronised: the [`Dispatcher`](crate::Dispatcher)
/// owns it behind the notifier's lock.
#[derive(Debug, Clone, Default)]
pub struct Silences {
    by_id: BTreeMap<String, Silence>,
}

impl Silences {
    /// Creates or updates a silence, returning its id. An update that changes the
    /// matchers, or moves the start of an active silence, expires the old one and
    /// creates a new one with a new id, as Alertmanager does.
    pub fn upsert(
        &mut self,
        input: SilenceInput,
        now: DateTime<Utc>,
    ) -> Result<String, SilenceError> {
        validate(&input, now)?;
        if let Some(id) = &input.id {
            let existing = self
                .by_id
                .get_mut(id)
                .ok_or_else(|| SilenceError::NotFound(id.clone()))?;
            let state = existing.state(now);
            let in_place = state != SilenceState::Expired
                && existing.matchers == input.matchers
                && (state == SilenceState::Pending || existing.starts_at == input.starts_at);
            if in_place {
                if state == SilenceState::Pending {
                    existing.starts_at = input.starts_at.max(now);
                }
                existing.ends_at = input.ends_at;
                existing.created_by = input.created_by;
                existing.comment = input.comment;
                existing.updated_at = now;
                return Ok(id.clone());
            }
            if state != SilenceState::Expired {
                expire(existing, now);
            }
        }
        if self.by_id.len() >= MAX_SILENCES {
            return Err(SilenceError::TooMany(self.by_id.len()));
        }
        let id = new_id();
        let silence = Silence {
            id: id.clone(),
            matchers: input.matchers,
            starts_at: input.starts_at.max(now),
            ends_at: input.ends_at,
            updated_at: now,
            created_by: input.created_by,
            comment: input.comment,
        };
        self.by_id.insert(id.clone(), silence);
        Ok(id)
    }

    /// Ends a silence now (a pending one never starts).
    pub fn expire(&mut self, id: &str, now: DateTime<Utc>) -> Result<(), SilenceError> {
        let silence = self
            .by_id
            .get_mut(id)
            .ok_or_else(|| SilenceError::NotFound(id.to_owned()))?;
        if silence.state(now) == SilenceState::Expired {
            return Err(SilenceError::AlreadyExpired(id.to_owned()));
        }
        expire(silence, now);
        Ok(())
    }

    /// One silence.
    pub fn get(&self, id: &str) -> Option<&Silence> {
        self.by_id.get(id)
    }

    /// Every silence, by id.
    pub fn list(&self) -> impl Iterator<Item = &Silence> {
        self.by_id.values()
    }

    /// The ids of the active silences muting these labels.
    pub fn muting(&self, labels: &Labels, now: DateTime<Utc>) -> Vec<String> {
        self.by_id
            .values()
            .filter(|s| s.state(now) == SilenceState::Active && s.matchers.matches(labels))
            .map(|s| s.id.clone())
            .collect()
    }

    /// Forgets silences expired for longer than [`SILENCE_RETENTION`]; returns how many.
    pub fn gc(&mut self, now: DateTime<Utc>) -> usize {
        let before = self.by_id.len();
        self.by_id
            .retain(|_, s| crate::clock::later(s.ends_at, SILENCE_RETENTION) > now);
        before - self.by_id.len()
    }

    /// Puts back a silence as it was (read from the state file), keeping its id.
    pub fn restore(&mut self, silence: Silence) {
        self.by_id.insert(silence.id.clone(), silence);
    }
}

fn expire(silence: &mut Silence, now: DateTime<Utc>) {
    if silence.starts_at > now {
        silence.starts_at = now;
    }
    silence.ends_at = now;
    silence.updated_at = now;
}

fn validate(input: &SilenceInput, now: DateTime<Utc>) -> Result<(), SilenceError> {
    if input.matchers.0.is_empty() {
        return Err(invalid("matchers", "at least one matcher is required"));
    }
    if input.matchers.0.iter().all(|m| m.matches_value("")) {
        return Err(invalid(
            "matchers",
            "at least one matcher must not match the empty string",
        ));
    }
    if input.ends_at <= input.starts_at {
        return Err(invalid("endsAt", "must be after startsAt"));
    }
    if input.ends_at <= now {
        return Err(invalid("endsAt", "must be in the future"));
    }
    if input.created_by.trim().is_empty() {
        return Err(invalid("createdBy", "must not be empty"));
    }
    if input.comment.trim().is_empty() {
        return Err(invalid("comment", "must not be empty"));
    }
    Ok(())
}

/// A random version-4 UUID.
fn new_id() -> String {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0)
            .single()
            .unwrap_or_default()
    }

    fn input(m: &str, from: i64, to: i64) -> SilenceInput {
        SilenceInput {
            id: None,
            matchers: Matchers::parse_list(&[m]).unwrap_or_default(),
            starts_at: t(from),
            ends_at: t(to),
            created_by: "ops".into(),
            comment: "maintenance".into(),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap_or_default()
    }

    #[test]
    fn states_follow_the_clock_and_expire_ends_now() -> Result<(), SilenceError> {
        let mut s = Silences::default();
        let id = s.upsert(input(r#"job="api""#, 100, 200), t(0))?;
        let api = labels(&[("job", "api")]);
        assert_eq!(
            s.get(&id).map(|x| x.state(t(50))),
            Some(SilenceState::Pending)
        );
        assert!(s.muting(&api, t(50)).is_empty());
        assert_eq!(s.muting(&api, t(150)), vec![id.clone()]);
        assert!(s.muting(&labels(&[("job", "db")]), t(150)).is_empty());
        s.expire(&id, t(160))?;
        assert!(s.muting(&api, t(170)).is_empty());
        assert_eq!(
            s.expire(&id, t(170)),
            Err(SilenceError::AlreadyExpired(id.clone()))
        );
        assert_eq!(s.gc(t(160) + SILENCE_RETENTION), 1);
        Ok(())
    }

    #[test]
    fn updates_in_place_or_replace() -> Result<(), SilenceError> {
        let mut s = Silences::default();
        let id = s.upsert(input(r#"job="api""#, 0, 200), t(0))?;
        let mut longer = input(r#"job="api""#, 0, 400);
        longer.id = Some(id.clone());
        assert_eq!(s.upsert(longer, t(10))?, id);
        let mut other = input(r#"job="db""#, 0, 400);
        other.id = Some(id.clone());
        let new_id = s.upsert(other, t(20))?;
        assert_ne!(new_id, id);
        assert_eq!(
            s.get(&id).map(|x| x.state(t(20))),
            Some(SilenceState::Expired)
        );
        Ok(())
    }

    #[test]
    fn rejects_bad_silences() {
        let mut s = Silences::default();
        let err = |i: SilenceInput| s.clone().upsert(i, t(0)).err();
        assert!(matches!(
            err(input(r#"job=~".*""#, 0, 10)),
            Some(SilenceError::Invalid {
                field: "matchers",
                ..
            })
        ));
        assert!(matches!(
            err(input(r#"job="a""#, 10, 5)),
            Some(SilenceError::Invalid {
                field: "endsAt",
                ..
            })
        ));
        let mut no_author = input(r#"job="a""#, 0, 10);
        no_author.created_by.clear();
        assert!(matches!(
            err(no_author),
            Some(SilenceError::Invalid {
                field: "createdBy",
                ..
            })
        ));
        let mut ghost = input(r#"job="a""#, 0, 10);
        ghost.id = Some("nope".into());
        assert_eq!(
            s.upsert(ghost, t(0)),
            Err(SilenceError::NotFound("nope".into()))
        );
    }
}
