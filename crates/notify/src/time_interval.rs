//! Time intervals (Alertmanager's `time_intervals`): named sets of periods — times of
//! day, weekdays, days of the month, months, years, in a time zone — that routes name in
//! `mute_time_intervals` (no notifications while one is active) and
//! `active_time_intervals` (notifications only while one is active).
//!
//! [`TimeInterval::compile`] checks an interval as written ([`TimeIntervalConfig`]) with
//! Alertmanager's rules and messages; [`TimeInterval::contains`] says whether an instant
//! falls in it. A field left out matches every time; a period matches when every field
//! given has a range containing the instant (in the interval's `location`, UTC by
//! default).

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

use crate::config::{invalid, ConfigError, TimeIntervalConfig};

/// One period of a named time interval, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeInterval {
    /// Minutes of the day, start inclusive, end exclusive (`00:00`–`24:00`).
    times: Option<Vec<(u32, u32)>>,
    /// Inclusive ranges of weekdays, 0 = Sunday.
    weekdays: Option<Vec<(u32, u32)>>,
    /// Inclusive ranges of days of the month; negative counts from the month's end.
    days_of_month: Option<Vec<(i32, i32)>>,
    /// Inclusive ranges of months, 1 = January.
    months: Option<Vec<(u32, u32)>>,
    /// Inclusive ranges of years.
    years: Option<Vec<(i32, i32)>>,
    /// The zone the fields are read in.
    location: Tz,
}

/// Reads one range of a list field, or says what is wrong with it.
type RangeParser = fn(&str) -> Result<(i32, i32), String>;

/// The periods of one named interval: active when any of them is.
pub type NamedInterval = Arc<[TimeInterval]>;

/// Whether any period of `interval` contains `t`.
pub fn active(interval: &[TimeInterval], t: DateTime<Utc>) -> bool {
    interval.iter().any(|p| p.contains(t))
}

/// A route's `mute_time_intervals` and `active_time_intervals`, resolved. Cloning
/// shares the intervals.
#[derive(Debug, Clone, Default)]
pub struct TimeGate {
    /// Named intervals during which the route sends nothing.
    pub mute: Vec<(String, NamedInterval)>,
    /// Named intervals outside which the route sends nothing (none: always open).
    pub active: Vec<(String, NamedInterval)>,
}

impl TimeGate {
    /// Why the route sends nothing at `t`, if it does not: the muting interval's name,
    /// or that no active interval contains `t`.
    pub fn closed_at(&self, t: DateTime<Utc>) -> Option<String> {
        if let Some((name, _)) = self.mute.iter().find(|(_, i)| active(i, t)) {
            return Some(format!("muted by time interval {name:?}"));
        }
        if !self.active.is_empty() && !self.active.iter().any(|(_, i)| active(i, t)) {
            return Some("outside its active time intervals".to_owned());
        }
        None
    }
}

impl TimeInterval {
    /// Checks and compiles one period; `field` names it in errors.
    pub fn compile(cfg: &TimeIntervalConfig, field: &str) -> Result<Self, ConfigError> {
        let each = |name: &str, values: &Option<Vec<String>>, parse: RangeParser| {
            values
                .as_ref()
                .map(|values| {
                    values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            parse(v).map_err(|m| invalid(format!("{field}.{name}[{i}]"), m))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()
        };
        let unsigned = |v: Option<Vec<(i32, i32)>>| {
            v.map(|v| v.into_iter().map(|(a, b)| (a as u32, b as u32)).collect())
        };
        let times = cfg
            .times
            .as_ref()
            .map(|times| {
                times
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        time_range(r.start_time.as_deref(), r.end_time.as_deref())
                            .map_err(|m| invalid(format!("{field}.times[{i}]"), m))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let location = match cfg.location.as_deref() {
            None | Some("UTC") | Some("") => Tz::UTC,
            Some("Local") => {
                return Err(invalid(
                    format!("{field}.location"),
                    "\"Local\" is not supported by tally: name the zone (e.g. Europe/Berlin)",
                ))
            }
            Some(name) => name.parse::<Tz>().map_err(|_| {
                invalid(
                    format!("{field}.location"),
                    format!("unknown time zone {name:?}"),
                )
            })?,
        };
        Ok(Self {
            times,
            weekdays: unsigned(each("weekdays", &cfg.weekdays, weekday_range)?),
            days_of_month: each("days_of_month", &cfg.days_of_month, day_of_month_range)?,
            months: unsigned(each("months", &cfg.months, month_range)?),
            years: each("years", &cfg.years, year_range)?,
            location,
        })
    }

    /// Whether `t` falls in this period.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let t = t.with_timezone(&self.location);
        let within = |ranges: &Option<Vec<(u32, u32)>>, x: u32| {
            ranges
                .as_ref()
                .is_none_or(|r| r.iter().any(|&(a, b)| a <= x && x <= b))
        };
        let minute = t.hour() * 60 + t.minute();
        let in_times = self
            .times
            .as_ref()
            .is_none_or(|r| r.iter().any(|&(a, b)| a <= minute && minute < b));
        let in_days = self.days_of_month.as_ref().is_none_or(|ranges| {
            let days = days_in_month(t.year(), t.month()) as i32;
            let day = t.day() as i32;
            ranges.iter().any(|&(a, b)| {
                let begin = if a < 0 { days + a + 1 } else { a };
                let end = if b < 0 { days + b + 1 } else { b };
                // A start past this month's last day (31 in a 30-day month) never
                // matches; an end past it stops at the last day.
                begin <= days && begin.max(1) <= day && day <= end.min(days)
            })
        });
        let in_years = self
            .years
            .as_ref()
            .is_none_or(|r| r.iter().any(|&(a, b)| a <= t.year() && t.year() <= b));
        in_times
            && in_days
            && within(&self.months, t.month())
            && within(&self.weekdays, t.weekday().num_days_from_sunday())
            && in_years
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|next| next.pred_opt())
        .map_or(31, |last| last.day())
}

/// `HH:MM` (`00:00`–`23:59`, or `24:00`) as minutes of the day.
fn minute_of_day(text: &str) -> Result<u32, String> {
    let bad = || format!("couldn't parse timestamp {text}, invalid format");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if (h < 24 && m < 60) || (h == 24 && m == 0) {
        Ok(h * 60 + m)
    } else {
        Err(bad())
    }
}

fn time_range(start: Option<&str>, end: Option<&str>) -> Result<(u32, u32), String> {
    let (Some(start), Some(end)) = (
        start.filter(|s| !s.is_empty()),
        end.filter(|s| !s.is_empty()),
    ) else {
        return Err("both start and end times must be provided".into());
    };
    let (start, end) = (minute_of_day(start)?, minute_of_day(end)?);
    if start >= end {
        return Err("start time cannot be equal or greater than end time".into());
    }
    Ok((start, end))
}

/// `a` or `a:b`, each member read by `member`, lower-cased first.
fn range(text: &str, member: impl Fn(&str) -> Result<i32, String>) -> Result<(i32, i32), String> {
    let text = text.to_lowercase();
    match text.split_once(':') {
        None => member(&text).map(|v| (v, v)),
        Some((a, b)) if !b.contains(':') => Ok((member(a)?, member(b)?)),
        Some(_) => Err(format!("couldn't parse range {text}, invalid format")),
    }
}

fn integer(text: &str) -> Result<i32, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not an integer"))
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn weekday_range(text: &str) -> Result<(i32, i32), String> {
    let (a, b) = range(text, |m| {
        WEEKDAYS
            .iter()
            .position(|d| *d == m)
            .map(|i| i as i32)
            .ok_or_else(|| format!("{m} is not a valid weekday"))
    })?;
    if a > b {
        return Err(format!(
            "start day cannot be after end day ({text}: the week runs sunday to saturday)"
        ));
    }
    Ok((a, b))
}

fn day_of_month_range(text: &str) -> Result<(i32, i32), String> {
    let (a, b) = range(text, integer)?;
    for d in [a, b] {
        if d == 0 || !(-31..=31).contains(&d) {
            return Err(format!("{d} is not a valid day of the month: out of range"));
        }
    }
    if a < 0 && b > 0 {
        return Err("end day must be negative if start day is negative".into());
    }
    // With negative days the order depends on the month; measured in the shortest
    // month (28 days), a range that is always empty is refused.
    let in_short_month = |d: i32| if d < 0 { 28 + d } else { d };
    if in_short_month(a) > in_short_month(b) {
        return Err(format!("end day {b} is always before start day {a}"));
    }
    Ok((a, b))
}

fn month_range(text: &str) -> Result<(i32, i32), String> {
    let (a, b) = range(text, |m| match MONTHS.iter().position(|x| *x == m) {
        Some(i) => Ok(i as i32 + 1),
        None => integer(m)
            .ok()
            .filter(|n| (1..=12).contains(n))
            .ok_or_else(|| format!("{m} is not a valid month")),
    })?;
    if a > b {
        return Err(format!(
            "end month {} is before start month {}",
            MONTHS[b as usize - 1],
            MONTHS[a as usize - 1]
        ));
    }
    Ok((a, b))
}

fn year_range(text: &str) -> Result<(i32, i32), String> {
    let (a, b) = range(text, integer)?;
    if a > b {
        return Err(format!("end year {b} is before start year {a}"));
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TimeRangeConfig;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap_or_else(|| panic!("valid time {y}-{mo}-{d} {h}:{mi}"))
    }

    fn strings(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| (*s).to_owned()).collect())
    }

    fn compile(cfg: TimeIntervalConfig) -> TimeInterval {
        TimeInterval::compile(&cfg, "t").unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(cfg: TimeIntervalConfig) -> String {
        match TimeInterval::compile(&cfg, "t") {
            Ok(t) => panic!("accepted: {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn business_hours_in_a_time_zone() {
        let office = compile(TimeIntervalConfig {
            times: Some(vec![TimeRangeConfig {
                start_time: Some("09:00".into()),
                end_time: Some("17:00".into()),
            }]),
            weekdays: strings(&["Monday:Friday"]),
            location: Some("Europe/Berlin".into()),
            ..TimeIntervalConfig::default()
        });
        // 2026-03-02 is a Monday; Berlin is UTC+1 in March before the switch.
        assert!(!office.contains(utc(2026, 3, 2, 7, 59)));
        assert!(office.contains(utc(2026, 3, 2, 8, 0)));
        assert!(office.contains(utc(2026, 3, 2, 15, 59)));
        assert!(!office.contains(utc(2026, 3, 2, 16, 0)), "end is exclusive");
        // Summer time: UTC+2.
        assert!(office.contains(utc(2026, 7, 6, 7, 0)));
        assert!(!office.contains(utc(2026, 7, 6, 15, 0)));
        // Saturday.
        assert!(!office.contains(utc(2026, 3, 7, 10, 0)));
        // Friday 23:30 UTC is Saturday in Berlin.
        let weekend = compile(TimeIntervalConfig {
            weekdays: strings(&["saturday", "sunday"]),
            location: Some("Europe/Berlin".into()),
            ..TimeIntervalConfig::default()
        });
        assert!(weekend.contains(utc(2026, 3, 6, 23, 30)));
        assert!(!weekend.contains(utc(2026, 3, 6, 22, 30)));
    }

    #[test]
    fn days_of_month_count_from_either_end_and_clamp() {
        let last_three = compile(TimeIntervalConfig {
            days_of_month: strings(&["-3:-1"]),
            ..TimeIntervalConfig::default()
        });
        assert!(
            last_three.contains(utc(2026, 2, 26, 0, 0)),
            "Feb has 28 days"
        );
        assert!(!last_three.contains(utc(2026, 2, 25, 23, 59)));
        assert!(last_three.contains(utc(2026, 1, 29, 0, 0)));
        assert!(!last_three.contains(utc(2026, 1, 28, 0, 0)));
        let late = compile(TimeIntervalConfig {
            days_of_month: strings(&["30:31"]),
            ..TimeIntervalConfig::default()
        });
        assert!(
            late.contains(utc(2026, 4, 30, 12, 0)),
            "April: the end is clamped"
        );
        assert!(
            !late.contains(utc(2026, 2, 28, 12, 0)),
            "February: starts past its end"
        );
        let first_to_last = compile(TimeIntervalConfig {
            days_of_month: strings(&["1:-1"]),
            months: strings(&["february", "12"]),
            years: strings(&["2026:2027"]),
            ..TimeIntervalConfig::default()
        });
        assert!(first_to_last.contains(utc(2026, 2, 28, 12, 0)));
        assert!(first_to_last.contains(utc(2027, 12, 31, 23, 59)));
        assert!(!first_to_last.contains(utc(2026, 3, 1, 0, 0)));
        assert!(!first_to_last.contains(utc(2028, 2, 1, 0, 0)));
        // A leap year's February.
        assert_eq!(days_in_month(2028, 2), 29);
        assert_eq!(days_in_month(2026, 12), 31);
    }

    #[test]
    fn bad_values_are_named() {
        let times = |start: &str, end: &str| TimeIntervalConfig {
            times: Some(vec![TimeRangeConfig {
                start_time: Some(start.into()),
                end_time: Some(end.into()),
            }]),
            ..TimeIntervalConfig::default()
        };
        let list = |f: fn(&mut TimeIntervalConfig, Option<Vec<String>>), v: &str| {
            let mut cfg = TimeIntervalConfig::default();
            f(&mut cfg, strings(&[v]));
            cfg
        };
        let cases = [
            (
                times("17:00", "09:00"),
                "t.times[0]: start time cannot be equal or greater",
            ),
            (
                times("9:00", "17:00"),
                "t.times[0]: couldn't parse timestamp 9:00",
            ),
            (times("00:00", "24:01"), "couldn't parse timestamp 24:01"),
            (
                times("", "10:00"),
                "both start and end times must be provided",
            ),
            (
                list(|c, v| c.weekdays = v, "friday:monday"),
                "t.weekdays[0]: start day cannot be after end day",
            ),
            (
                list(|c, v| c.weekdays = v, "funday"),
                "funday is not a valid weekday",
            ),
            (
                list(|c, v| c.days_of_month = v, "0"),
                "0 is not a valid day of the month",
            ),
            (
                list(|c, v| c.days_of_month = v, "-5:5"),
                "end day must be negative",
            ),
            (
                list(|c, v| c.days_of_month = v, "-1:-5"),
                "end day -5 is always before start day -1",
            ),
            (list(|c, v| c.months = v, "13"), "13 is not a valid month"),
            (
                list(|c, v| c.months = v, "march:january"),
                "end month january is before start month march",
            ),
            (
                list(|c, v| c.years = v, "2030:2020"),
                "end year 2020 is before start year 2030",
            ),
            (list(|c, v| c.years = v, "1:2:3"), "invalid format"),
            (
                TimeIntervalConfig {
                    location: Some("Mars/Olympus".into()),
                    ..TimeIntervalConfig::default()
                },
                "t.location: unknown time zone \"Mars/Olympus\"",
            ),
        ];
        for (cfg, needle) in cases {
            let e = error(cfg);
            assert!(e.contains(needle), "{e}\nshould contain {needle}");
        }
        // A whole day is 00:00 to 24:00.
        let all_day = compile(times("00:00", "24:00"));
        assert!(all_day.contains(utc(2026, 1, 1, 23, 59)));
        assert!(all_day.contains(utc(2026, 1, 1, 0, 0)));
    }
}
