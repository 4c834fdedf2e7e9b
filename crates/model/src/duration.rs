//! Durations in Prometheus' syntax (`model.ParseDuration`): units `y`, `w`, `d`, `h`,
//! `m`, `s`, `ms`, each at most once and largest first (`1h30m`, `5m`, `90s`), or a
//! bare `0`. No fractions, no sign, no spaces. A year is 365 days.
//!
//! ```
//! use tally_model::duration::parse_duration;
//! assert_eq!(parse_duration("1m30s"), Ok(90_000));
//! assert!(parse_duration("30m1h").is_err());
//! ```

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The text does not follow the grammar.
    #[error("not a valid duration string: {0:?}")]
    Invalid(String),
    /// The duration does not fit Go's `time.Duration` (about 292 years).
    #[error("duration out of range: {0:?}")]
    OutOfRange(String),
}

/// The units, largest first, with their length in milliseconds.
const UNITS: [(&str, i64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// The largest duration Go's `time.Duration` holds, in whole milliseconds.
const MAX_MS: i64 = i64::MAX / 1_000_000;

/// Parses `text` into milliseconds.
pub fn parse_duration(text: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(text.to_owned());
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err(invalid());
    }
    let mut rest = text;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let (number, after) = rest.split_at(digits);
        // `ms` before `m`: a unit is the longest that matches.
        let unit = UNITS
            .iter()
            .enumerate()
            .skip(next_unit)
            .filter(|(_, (name, _))| after.starts_with(name))
            .max_by_key(|(_, (name, _))| name.len());
        let Some((index, (name, ms))) = unit else {
            return Err(invalid());
        };
        let value: i64 = number
            .parse()
            .map_err(|_| DurationError::OutOfRange(text.to_owned()))?;
        total = value
            .checked_mul(*ms)
            .and_then(|v| total.checked_add(v))
            .filter(|v| *v <= MAX_MS)
            .ok_or_else(|| DurationError::OutOfRange(text.to_owned()))?;
        next_unit = index + 1;
        rest = &after[name.len()..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_durations() {
        for (text, ms) in [
            ("0", 0),
            ("0s", 0),
            ("5m", 300_000),
            ("1m30s", 90_000),
            ("1h30m", 5_400_000),
            ("100ms", 100),
            ("1s500ms", 1_500),
            ("2d", 172_800_000),
            ("1w", 604_800_000),
            ("1y", 31_536_000_000),
            (
                "1y2w3d4h5m6s7ms",
                31_536_000_000 + 1_209_600_000 + 259_200_000 + 14_706_007,
            ),
        ] {
            assert_eq!(parse_duration(text), Ok(ms), "{text}");
        }
    }

    #[test]
    fn invalid_durations() {
        for text in [
            "", "5", "1x", "-5m", "1.5m", "m", "5 m", "30s1m", "1m1m", " 5m", "5m ", "1ms1s", "+5m",
        ] {
            assert_eq!(
                parse_duration(text),
                Err(DurationError::Invalid(text.to_owned())),
                "{text}"
            );
        }
    }

    #[test]
    fn out_of_range() {
        for text in ["300y", "99999999999999999999s", "106752d"] {
            assert!(
                matches!(parse_duration(text), Err(DurationError::OutOfRange(_))),
                "{text}"
            );
        }
        assert!(parse_duration("292y").is_ok());
    }
}
