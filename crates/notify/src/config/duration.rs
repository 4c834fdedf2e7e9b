//! [`Duration`]: Prometheus' duration syntax (`30s`, `5m`, `1h30m`, `4h`, `1d`, `1w`,
//! `500ms`), as Alertmanager's configuration writes timers.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A non-negative duration written the Prometheus way: one or more `<number><unit>` pairs
/// in decreasing unit order, units `y w d h m s ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    /// `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// The duration for chrono arithmetic (saturating at chrono's range).
    pub fn to_chrono(self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
    }

    /// Parses `1h30m` ([`tally_model::duration`]); `None` when the text is not a
    /// duration.
    pub fn parse(text: &str) -> Option<Self> {
        let ms = tally_model::duration::parse_duration(text).ok()?;
        Some(Self(std::time::Duration::from_millis(
            u64::try_from(ms).ok()?,
        )))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
            ("ms", 1),
        ] {
            if ms >= size {
                write!(f, "{}{unit}", ms / size)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid duration {text:?} (expected e.g. 30s, 5m, 1h30m)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        let secs = |t: &str| Duration::parse(t).map(|d| d.0.as_millis());
        assert_eq!(secs("30s"), Some(30_000));
        assert_eq!(secs("1h30m"), Some(5_400_000));
        assert_eq!(secs("500ms"), Some(500));
        assert_eq!(secs("1d"), Some(86_400_000));
        assert_eq!(secs("0"), Some(0));
        assert_eq!(secs("5"), None);
        assert_eq!(secs("m"), None);
        assert_eq!(secs("30m1h"), None);
        assert_eq!(secs("1x"), None);
        assert_eq!(Duration::from_secs(5400).to_string(), "1h30m");
    }
}
