//! Calendar functions in UTC: `year`, `month`, `day_of_month`, `day_of_year`,
//! `day_of_week`, `days_in_month`, `hour`, `minute`. With no argument they read the
//! evaluation time; with one, each sample's value as seconds since the epoch.

use tally_model::Labels;

use crate::error::QueryError;
use crate::eval::{Evaluator, Mat, Point, Series};
use crate::plan::Node;

/// A UTC calendar date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub day_of_year: i64,
    pub weekday: i64,
    pub hour: i64,
    pub minute: i64,
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 31,
    }
}

/// The calendar date of `secs` seconds since the epoch (proleptic Gregorian, UTC).
pub(crate) fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Days to civil date, after Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy_march = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy_march + 2) / 153;
    let day = doy_march - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let day_of_year = (1..month).map(|m| days_in_month(year, m)).sum::<i64>() + day;
    Civil {
        year,
        month,
        day,
        day_of_year,
        weekday: (days + 4).rem_euclid(7),
        hour: sod / 3600,
        minute: sod % 3600 / 60,
    }
}

fn field(func: &str) -> Option<fn(&Civil) -> i64> {
    Some(match func {
        "year" => |c| c.year,
        "month" => |c| c.month,
        "day_of_month" => |c| c.day,
        "day_of_year" => |c| c.day_of_year,
        "day_of_week" => |c| c.weekday,
        "days_in_month" => |c| days_in_month(c.year, c.month),
        "hour" => |c| c.hour,
        "minute" => |c| c.minute,
        _ => return None,
    })
}

/// Go's `int64(f)` for the values these functions read: truncation, saturating.
fn to_secs(v: f64) -> i64 {
    if v.is_nan() {
        i64::MIN
    } else {
        v as i64
    }
}

impl Evaluator<'_> {
    /// Evaluates a calendar function; `None` if `func` is not one.
    pub(crate) fn eval_date_function(
        &mut self,
        func: &str,
        args: &[Node],
    ) -> Result<Option<Mat>, QueryError> {
        let Some(f) = field(func) else {
            return Ok(None);
        };
        let Some(arg) = args.first() else {
            let points = self
                .steps()
                .map(|t| Point {
                    t,
                    v: f(&civil(t / 1000)) as f64,
                })
                .collect();
            return Ok(Some(vec![Series {
                labels: Labels::new(),
                points,
                drop_name: false,
            }]));
        };
        let m = self.eval_mat(arg)?;
        Ok(Some(
            self.map_points(m, |v, _| Some(f(&civil(to_secs(v))) as f64)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_fields() {
        // 2006-01-02T22:04:05Z, a Monday.
        let c = civil(1_136_239_445);
        assert_eq!((c.year, c.month, c.day), (2006, 1, 2));
        assert_eq!((c.hour, c.minute, c.weekday, c.day_of_year), (22, 4, 1, 2));
        // 2016-02-29T23:59:59Z, leap day.
        let c = civil(1_456_790_399);
        assert_eq!(
            (c.month, c.day, days_in_month(c.year, c.month)),
            (2, 29, 29)
        );
        // 2022-12-31T13:37:00Z.
        assert_eq!(civil(1_672_493_820).day_of_year, 365);
        assert_eq!(civil(0).weekday, 4);
        assert_eq!(civil(-1).year, 1969);
    }
}
