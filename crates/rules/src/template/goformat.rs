//! Go's text forms of numbers, times and durations, as Prometheus' templates print
//! them: `%.4g` (what every `humanize*` function ends with), `%v` of a float64
//! (`{{ $value }}` prints `1e+06`, `+Inf`, `NaN`), `time.Time.String()` in UTC and
//! `time.Duration.String()`.

/// Go's `%.{prec}g`: `prec` significant digits, exponent form when the exponent is
/// below -4 or at least `prec`, trailing zeros removed; `+Inf`, `-Inf`, `NaN`.
pub(crate) fn format_g(v: f64, prec: usize) -> String {
    if let Some(special) = special(v) {
        return special.to_owned();
    }
    let prec = prec.max(1);
    // Round to `prec` significant digits first: the exponent is the rounded one.
    let sci = format!("{:.*e}", prec - 1, v);
    let (mantissa, exp) = split_exponent(&sci);
    if exp < -4 || exp >= prec as i32 {
        format!("{}e{}", trim_zeros(mantissa), go_exponent(exp))
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_owned()
    }
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(v, 'g', -1, 64)`): the shortest
/// digits that read back as `v`, exponent form when the exponent is below -4 or at
/// least 6 (`fmt.Println(1e6)` prints `1e+06`, `123456.7` stays as it is).
pub(crate) fn format_v(v: f64) -> String {
    if let Some(special) = special(v) {
        return special.to_owned();
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = split_exponent(&sci);
    if !(-4..6).contains(&exp) {
        format!("{mantissa}e{}", go_exponent(exp))
    } else {
        format!("{v}")
    }
}

fn special(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("+Inf")
    } else if v == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// Splits Rust's `1.5e-7` into `("1.5", -7)`.
fn split_exponent(sci: &str) -> (&str, i32) {
    match sci.split_once('e') {
        Some((m, e)) => (m, e.parse().unwrap_or(0)),
        None => (sci, 0),
    }
}

/// Go writes exponents with a sign and at least two digits: `e+06`, `e-10`.
fn go_exponent(exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{sign}{:02}", exp.unsigned_abs())
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Go's `time.Time.String()` of a UTC time given in milliseconds since the epoch:
/// `2015-06-23 13:19:44.128 +0000 UTC` (the fraction only when not zero).
pub(crate) fn format_utc_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    );
    if millis != 0 {
        let fraction = format!("{millis:03}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Go's `time.Duration.String()` of `nanos`: `1h0m0s`, `1m30s`, `1.5s`, `100ms`,
/// `100µs`, `0s`.
pub(crate) fn format_go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    if n < 1_000_000_000 {
        let (unit, scale) = if n < 1_000 {
            ("ns", 1)
        } else if n < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", fraction(n, scale));
    }
    let secs = n / 1_000_000_000;
    let seconds = format!("{}s", fraction(n % 60_000_000_000, 1_000_000_000));
    let (hours, minutes) = (secs / 3600, secs / 60 % 60);
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{seconds}")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{seconds}")
    } else {
        format!("{sign}{seconds}")
    }
}

/// `n / scale` with the remainder as decimals, trailing zeros dropped.
fn fraction(n: u64, scale: u64) -> String {
    let whole = n / scale;
    let rest = n % scale;
    if rest == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_g_like_go() {
        for (v, out) in [
            (0.0, "0"),
            (1.0, "1"),
            (1.2345678, "1.235"),
            (1234.5, "1234"),
            (12345.0, "1.234e+04"),
            (123_500_000.0, "1.235e+08"),
            (0.00012345, "0.0001234"),
            (0.000012345, "1.234e-05"),
            (-22.222, "-22.22"),
            (9.9999, "10"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(format_g(v, 4), out, "{v}");
        }
    }

    #[test]
    fn percent_v_like_go() {
        for (v, out) in [
            (1.0, "1"),
            (0.5, "0.5"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (123456.0, "123456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(format_v(v), out, "{v}");
        }
    }

    #[test]
    fn utc_times() {
        assert_eq!(format_utc_time(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(format_utc_time(-1000), "1969-12-31 23:59:59 +0000 UTC");
        assert_eq!(
            format_utc_time(1_435_065_584_128),
            "2015-06-23 13:19:44.128 +0000 UTC"
        );
        assert_eq!(
            format_utc_time(1_234_567_000),
            "1970-01-15 06:56:07 +0000 UTC"
        );
        assert_eq!(
            format_utc_time(9_223_372_036_000),
            "2262-04-11 23:47:16 +0000 UTC"
        );
        assert_eq!(
            format_utc_time(951_782_400_500),
            "2000-02-29 00:00:00.5 +0000 UTC"
        );
    }

    #[test]
    fn go_durations() {
        for (nanos, out) in [
            (0, "0s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (1_500_000_000, "1.5s"),
            (100_000_000, "100ms"),
            (100_000, "100µs"),
            (15, "15ns"),
            (-61_000_000_000, "-1m1s"),
            (3_723_010_000_000, "1h2m3.01s"),
        ] {
            assert_eq!(format_go_duration(nanos), out, "{nanos}");
        }
    }
}
