//! `time_intervals` as written: named lists of periods (compiled by
//! [`crate::time_interval`]).

use serde::Deserialize;

/// A named time interval: `name` and its periods (active when any period is).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedTimeIntervalConfig {
    /// The name routes refer to.
    pub name: String,
    /// The periods.
    #[serde(default)]
    pub time_intervals: Vec<TimeIntervalConfig>,
}

/// One period. Every field is optional; a field left out matches every time.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeIntervalConfig {
    /// Times of day (`HH:MM`, end exclusive).
    pub times: Option<Vec<TimeRangeConfig>>,
    /// Weekdays or ranges of them (`monday:friday`).
    pub weekdays: Option<Vec<String>>,
    /// Days of the month or ranges (`1:5`, `-1` for the last day).
    pub days_of_month: Option<Vec<String>>,
    /// Months by name or number, or ranges (`january:march`).
    pub months: Option<Vec<String>>,
    /// Years or ranges (`2026:2027`).
    pub years: Option<Vec<String>>,
    /// IANA time zone the other fields are read in (default UTC).
    pub location: Option<String>,
}

/// A time of day range.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRangeConfig {
    /// Start, inclusive (`HH:MM`).
    pub start_time: Option<String>,
    /// End, exclusive (`HH:MM`, up to `24:00`).
    pub end_time: Option<String>,
}
