//! Grouping keys from Pushgateway URL paths: `job/<job>{/<label>/<value>}`.
//!
//! A segment name ending in `@base64` carries its value in URL-safe base64 (padding
//! optional), which is how clients send values containing `/` or empty values; an empty
//! base64 value (`=` alone, or nothing) is the empty string. Percent-encoding is decoded
//! by the HTTP layer before this runs.

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use tally_model::name::is_legacy_label_name;
use tally_model::Labels;

/// Why a grouping-key path was refused (answered with `400`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupingError {
    /// The path does not start with `job/<name>`.
    #[error("grouping key must start with job/<name>")]
    MissingJob,
    /// The job name is empty.
    #[error("job name must not be empty")]
    EmptyJob,
    /// A label name without a value segment.
    #[error("label {0:?} in the grouping key has no value")]
    MissingValue(String),
    /// A label name that is not valid (or reserved).
    #[error("invalid label name {0:?} in the grouping key")]
    InvalidName(String),
    /// A `@base64` value that does not decode to UTF-8.
    #[error("invalid base64 value for label {0:?} in the grouping key")]
    InvalidBase64(String),
    /// The same label twice.
    #[error("label {0:?} appears twice in the grouping key")]
    Duplicate(String),
}

fn decode(name: &str, raw: &str) -> Result<String, GroupingError> {
    if raw.is_empty() || raw == "=" {
        return Ok(String::new());
    }
    let bytes = URL_SAFE
        .decode(raw)
        .or_else(|_| URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')))
        .map_err(|_| GroupingError::InvalidBase64(name.to_owned()))?;
    String::from_utf8(bytes).map_err(|_| GroupingError::InvalidBase64(name.to_owned()))
}

/// Parses the part of a push URL after `/metrics/` into the grouping-key labels.
/// Empty values are kept out of the label set (an empty label is an absent label) except
/// that the job must not be empty.
pub fn parse_grouping_path(path: &str) -> Result<Labels, GroupingError> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(segments.len() / 2);
    let mut it = segments.into_iter();
    while let Some(raw_name) = it.next() {
        let (name, b64) = match raw_name.strip_suffix("@base64") {
            Some(n) => (n, true),
            None => (raw_name, false),
        };
        let Some(raw_value) = it.next() else {
            return Err(if pairs.is_empty() {
                GroupingError::MissingJob
            } else {
                GroupingError::MissingValue(name.to_owned())
            });
        };
        if pairs.is_empty() && name != "job" {
            return Err(GroupingError::MissingJob);
        }
        if !is_legacy_label_name(name) || name.starts_with("__") {
            return Err(GroupingError::InvalidName(name.to_owned()));
        }
        if pairs.iter().any(|(n, _)| n == name) {
            return Err(GroupingError::Duplicate(name.to_owned()));
        }
        let value = if b64 {
            decode(name, raw_value)?
        } else {
            raw_value.to_owned()
        };
        if name == "job" && value.is_empty() {
            return Err(GroupingError::EmptyJob);
        }
        pairs.push((name.to_owned(), value));
    }
    if pairs.is_empty() {
        return Err(GroupingError::MissingJob);
    }
    Labels::from_pairs(pairs).map_err(|e| GroupingError::InvalidName(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_base64_segments() {
        let l = parse_grouping_path("job/batch/instance/host-1").unwrap();
        assert_eq!(l.get("job"), Some("batch"));
        assert_eq!(l.get("instance"), Some("host-1"));
        // "a/b" in URL-safe base64, with and without padding.
        let l = parse_grouping_path("job/x/path@base64/YS9i").unwrap();
        assert_eq!(l.get("path"), Some("a/b"));
        let l = parse_grouping_path("job@base64/Zm9vL2Jhcg==").unwrap();
        assert_eq!(l.get("job"), Some("foo/bar"));
        let l = parse_grouping_path("job/x/instance@base64/=").unwrap();
        assert_eq!(l.get("instance"), None);
    }

    #[test]
    fn rejects_bad_paths() {
        assert_eq!(parse_grouping_path(""), Err(GroupingError::MissingJob));
        assert_eq!(parse_grouping_path("job"), Err(GroupingError::MissingJob));
        assert_eq!(
            parse_grouping_path("instance/x/job/y"),
            Err(GroupingError::MissingJob)
        );
        assert_eq!(parse_grouping_path("job/"), Err(GroupingError::MissingJob));
        assert_eq!(
            parse_grouping_path("job@base64/="),
            Err(GroupingError::EmptyJob)
        );
        assert_eq!(
            parse_grouping_path("job/x/a"),
            Err(GroupingError::MissingValue("a".into()))
        );
        assert_eq!(
            parse_grouping_path("job/x/a-b/1"),
            Err(GroupingError::InvalidName("a-b".into()))
        );
        assert_eq!(
            parse_grouping_path("job/x/a/1/a/2"),
            Err(GroupingError::Duplicate("a".into()))
        );
        assert_eq!(
            parse_grouping_path("job/x/a@base64/!!!"),
            Err(GroupingError::InvalidBase64("a".into()))
        );
    }
}
