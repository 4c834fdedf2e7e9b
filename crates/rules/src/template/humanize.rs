//! The number functions of Prometheus' templates: `humanize` (SI prefixes),
//! `humanize1024` (binary prefixes), `humanizeDuration`, `humanizePercentage`,
//! `humanizeTimestamp`, `toTime`, `toDuration`, `parseDuration`, and the conversion
//! of a template value to a float they all start with.

use gotmpl::Value;

use super::goformat::{format_g, format_go_duration, format_utc_time};

/// A template value as a float, as Prometheus' `convertToFloat` does: numbers as
/// they are, strings through Go's `strconv.ParseFloat`, anything else an error.
pub(crate) fn to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Uint(u) => Ok(*u as f64),
        Value::String(s) => parse_go_float(s)
            .ok_or_else(|| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax")),
        other => Err(format!("can't convert {} to float", other.type_name())),
    }
}

/// Go's `strconv.ParseFloat` on the forms that matter here: decimal and exponent
/// notation, `Inf`/`Infinity`/`NaN` in any case with an optional sign.
fn parse_go_float(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let word = unsigned.to_ascii_lowercase();
    if matches!(word.as_str(), "inf" | "infinity" | "nan") {
        return s.parse().ok();
    }
    // Rust accepts a few forms Go does not ("1.", ".5" are fine in both); refuse
    // spaces and the empty string explicitly.
    if unsigned.is_empty() || !unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    s.parse().ok()
}

const SI_UP: [&str; 8] = ["k", "M", "G", "T", "P", "E", "Z", "Y"];
const SI_DOWN: [&str; 8] = ["m", "u", "n", "p", "f", "a", "z", "y"];
const BINARY_UP: [&str; 8] = ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"];

/// `humanize`: four significant digits with an SI prefix (`1.235M`, `120m`).
pub(crate) fn humanize(mut v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format_g(v, 4);
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in SI_UP {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in SI_DOWN {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", format_g(v, 4))
}

/// `humanize1024`: four significant digits with a binary prefix (`1Mi`).
pub(crate) fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return format_g(v, 4);
    }
    let mut prefix = "";
    for p in BINARY_UP {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", format_g(v, 4))
}

/// `humanizeDuration`: seconds as `1d 2h 3m 4s`, `1m 30s`, `1.234s`, `100ms`.
pub(crate) fn humanize_duration(mut v: f64) -> String {
    if !v.is_finite() {
        return format_g(v, 4);
    }
    if v == 0.0 {
        return format!("{}s", format_g(v, 4));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        // Go converts with int64(v): saturating here, where Go's result is undefined.
        let whole = v as i64;
        let (seconds, minutes) = (whole % 60, whole / 60 % 60);
        let (hours, days) = (whole / 3600 % 24, whole / 86_400);
        return if days != 0 {
            format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes != 0 {
            format!("{sign}{minutes}m {seconds}s")
        } else {
            format!("{sign}{}s", format_g(v, 4))
        };
    }
    let mut prefix = "";
    for p in SI_DOWN {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", format_g(v, 4))
}

/// `humanizePercentage`: a ratio as a percentage (`0.1234567` is `12.35%`).
pub(crate) fn humanize_percentage(v: f64) -> String {
    format!("{}%", format_g(v * 100.0, 4))
}

/// Seconds since the epoch to milliseconds, as Prometheus' `floatToTime` does
/// (nanoseconds first, refusing what overflows them, then whole milliseconds).
pub(crate) fn seconds_to_ms(v: f64) -> Result<i64, String> {
    if !v.is_finite() {
        return Err("value is NaN or Inf".to_owned());
    }
    let nanos = v * 1e9;
    if nanos > i64::MAX as f64 || nanos < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            super::goformat::format_v(v)
        ));
    }
    Ok(nanos as i64 / 1_000_000)
}

/// `humanizeTimestamp`: seconds since the epoch as a UTC time
/// (`2015-06-23 13:19:44.128 +0000 UTC`).
pub(crate) fn humanize_timestamp(v: f64) -> Result<String, String> {
    if !v.is_finite() {
        return Ok(format_g(v, 4));
    }
    Ok(format_utc_time(seconds_to_ms(v)?))
}

/// `toTime`: like `humanizeTimestamp`, but NaN and Inf are errors. Prometheus
/// returns a Go `time.Time`; tally returns its text form, so `.Format` is not
/// available on the result.
pub(crate) fn to_time(v: f64) -> Result<String, String> {
    Ok(format_utc_time(seconds_to_ms(v)?))
}

/// `toDuration`: seconds as a Go duration (`1m30s`).
pub(crate) fn to_duration(v: f64) -> Result<String, String> {
    let nanos = v * 1e9;
    if !nanos.is_finite() || nanos > i64::MAX as f64 || nanos < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a duration",
            super::goformat::format_v(v)
        ));
    }
    Ok(format_go_duration(nanos.round() as i64))
}

/// `parseDuration`: a Prometheus duration (`1h2m10ms`) to seconds.
pub(crate) fn parse_duration_seconds(s: &str) -> Result<f64, String> {
    crate::file::parse_duration(s)
        .map(|ms| ms as f64 / 1000.0)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(f: fn(f64) -> String, inputs: &[f64]) -> String {
        inputs.iter().map(|v| f(*v) + ":").collect()
    }

    #[test]
    fn humanize_matches_prometheus() {
        assert_eq!(
            all(
                humanize,
                &[0.0, 1.0, 1234567.0, 0.12, -1.0, 9.223372036854776e18]
            ),
            "0:1:1.235M:120m:-1:9.223E:"
        );
        assert_eq!(humanize(1.8446744073709552e19), "18.45E");
        assert_eq!(humanize(1e30), "1e+06Y");
        assert_eq!(humanize(1e-30), "1e-06y");
        assert_eq!(humanize(-0.001), "-1m");
    }

    #[test]
    fn humanize1024_matches_prometheus() {
        assert_eq!(
            all(humanize1024, &[0.0, 1.0, 1048576.0, 0.12, -1.0, 1234567.0]),
            "0:1:1Mi:0.12:-1:1.177Mi:"
        );
        assert_eq!(humanize1024(9.223372036854776e18), "8Ei");
        assert_eq!(humanize1024(-2048.0), "-2ki");
    }

    #[test]
    fn humanize_duration_matches_prometheus() {
        assert_eq!(
            all(
                humanize_duration,
                &[0.0, 1.0, 60.0, 3600.0, 86400.0, 90000.0, -183845.0, 899.99, 90.0]
            ),
            "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:1m 30s:"
        );
        assert_eq!(
            all(
                humanize_duration,
                &[0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345]
            ),
            "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"
        );
        assert_eq!(humanize_duration(1234567.0), "14d 6h 56m 7s");
        assert_eq!(humanize_duration(-0.5), "-500ms");
    }

    #[test]
    fn non_finite_values() {
        for (v, out) in [
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(humanize(v), out);
            assert_eq!(humanize1024(v), out);
            assert_eq!(humanize_duration(v), out);
            assert_eq!(humanize_timestamp(v).unwrap(), out);
            assert!(to_time(v).is_err());
            assert!(to_duration(v).is_err());
        }
        assert_eq!(humanize_percentage(f64::NAN), "NaN%");
    }

    #[test]
    fn humanize_percentage_matches_prometheus() {
        let out: Vec<_> = [-0.22222, 0.0, 0.1234567, 1.23456, 1234567.0]
            .iter()
            .map(|v| humanize_percentage(*v))
            .collect();
        assert_eq!(out, ["-22.22%", "0%", "12.35%", "123.5%", "1.235e+08%"]);
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            humanize_timestamp(1435065584.128).unwrap(),
            "2015-06-23 13:19:44.128 +0000 UTC"
        );
        assert_eq!(
            humanize_timestamp(-1.0).unwrap(),
            "1969-12-31 23:59:59 +0000 UTC"
        );
        assert_eq!(
            humanize_timestamp(9223372036.0).unwrap(),
            "2262-04-11 23:47:16 +0000 UTC"
        );
        assert_eq!(
            humanize_timestamp(-9.223372036854776e18).unwrap_err(),
            "-9.223372036854776e+18 cannot be represented as a nanoseconds timestamp since it overflows int64"
        );
        assert!(humanize_timestamp(1.8446744073709552e19).is_err());
        assert_eq!(to_time(0.0).unwrap(), "1970-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn durations() {
        assert_eq!(to_duration(90.0).unwrap(), "1m30s");
        assert_eq!(to_duration(0.25).unwrap(), "250ms");
        assert!(to_duration(1e300).is_err());
        assert_eq!(parse_duration_seconds("1h2m10ms").unwrap(), 3720.01);
        assert!(parse_duration_seconds("1x").is_err());
        assert!(parse_duration_seconds("").is_err());
    }

    #[test]
    fn conversion_to_float() {
        assert_eq!(to_float(&Value::Int(-1)), Ok(-1.0));
        assert_eq!(to_float(&Value::Uint(u64::MAX)), Ok(1.8446744073709552e19));
        assert_eq!(to_float(&Value::String("1234567.0".into())), Ok(1234567.0));
        assert_eq!(to_float(&Value::String(".12".into())), Ok(0.12));
        assert_eq!(to_float(&Value::String("+Inf".into())), Ok(f64::INFINITY));
        assert!(to_float(&Value::String("NaN".into())).unwrap().is_nan());
        assert_eq!(
            to_float(&Value::String("one".into())),
            Err("strconv.ParseFloat: parsing \"one\": invalid syntax".to_owned())
        );
        for bad in ["", " 1", "1 ", "0x"] {
            assert!(to_float(&Value::String(bad.into())).is_err(), "{bad:?}");
        }
        assert!(to_float(&Value::Bool(true)).is_err());
        assert!(to_float(&Value::Nil).is_err());
    }
}
