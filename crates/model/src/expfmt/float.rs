//! Numbers as the exposition formats spell them.
//!
//! Values are written the shortest way that reads back to the same `f64`: integers
//! without a fraction (`42`), otherwise the shortest round-trip form (`0.25`, `1e-7`),
//! and `NaN`, `+Inf`, `-Inf`. 0.0.4 timestamps are integer milliseconds; OpenMetrics
//! timestamps are seconds, written exactly from milliseconds (`1700000000.123`).

/// Largest magnitude written through the integer path: every integer below 2^53 is an
/// exact `f64`, and below 1e15 the integer form is never longer than the float form.
const MAX_INTEGER_FORM: f64 = 1e15;

/// Appends `value` in its shortest exact form.
pub(crate) fn write_float(out: &mut Vec<u8>, value: f64) {
    if value.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"+Inf" } else { b"-Inf" });
    } else if value.fract() == 0.0 && value.abs() < MAX_INTEGER_FORM {
        if value == 0.0 && value.is_sign_negative() {
            out.push(b'-');
        }
        let mut buf = itoa::Buffer::new();
        out.extend_from_slice(buf.format(value as i64).as_bytes());
    } else if !write_short_decimal(out, value) {
        let mut buf = ryu::Buffer::new();
        out.extend_from_slice(buf.format_finite(value).as_bytes());
    }
}

/// Writes `value` with one to three decimals when that spelling reads back to exactly
/// `value` (bucket bounds like `0.005` or `2.5`, prices, ratios): cheaper than the
/// general shortest-representation algorithm. `k / 10^d` is correctly rounded, so when it
/// equals `value`, parsing the decimal `k·10^-d` gives `value` back.
fn write_short_decimal(out: &mut Vec<u8>, value: f64) -> bool {
    for (digits, scale) in [(1usize, 10.0f64), (2, 100.0), (3, 1000.0)] {
        let k = (value * scale).round();
        if k.abs() >= MAX_INTEGER_FORM || k / scale != value {
            continue;
        }
        let k = k as i64;
        if value < 0.0 {
            out.push(b'-');
        }
        let abs = k.unsigned_abs();
        let pow = 10u64.pow(digits as u32);
        let mut buf = itoa::Buffer::new();
        out.extend_from_slice(buf.format(abs / pow).as_bytes());
        out.push(b'.');
        let frac = abs % pow;
        let text = buf.format(frac);
        for _ in text.len()..digits {
            out.push(b'0');
        }
        out.extend_from_slice(text.as_bytes());
        return true;
    }
    false
}

/// Appends an integer.
pub(crate) fn write_int(out: &mut Vec<u8>, value: i64) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(value).as_bytes());
}

/// Appends a millisecond timestamp as exact decimal seconds (OpenMetrics).
pub(crate) fn write_seconds_from_ms(out: &mut Vec<u8>, ms: i64) {
    if ms < 0 {
        out.push(b'-');
    }
    let abs = ms.unsigned_abs();
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(abs / 1000).as_bytes());
    let frac = abs % 1000;
    if frac != 0 {
        let digits = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let len = if frac.is_multiple_of(100) {
            1
        } else if frac.is_multiple_of(10) {
            2
        } else {
            3
        };
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
}

/// Parses a sample value: a decimal float, or `NaN` / `Inf` / `+Inf` / `-Inf` /
/// `Infinity` in any case. Hexadecimal and digit separators are refused.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    let bytes = s.as_bytes();
    let first = *bytes.first()?;
    // Fast path: most values (counters, bucket counts) are small non-negative integers,
    // exact in an f64 below 10^15.
    if bytes.len() <= 15 && bytes.iter().all(u8::is_ascii_digit) {
        let n = bytes
            .iter()
            .fold(0u64, |n, &b| n * 10 + u64::from(b - b'0'));
        return Some(n as f64);
    }
    // Rust's parser accepts what we want and nothing odd, except that it takes "inf" and
    // "nan" with a sign in front; Prometheus does too, so that is fine.
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.' | b'i' | b'I' | b'n' | b'N'))
    {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Parses a 0.0.4 timestamp: integer milliseconds.
pub(crate) fn parse_ms(s: &str) -> Option<i64> {
    s.parse::<i64>().ok()
}

/// Parses an OpenMetrics timestamp (decimal seconds) into milliseconds, exactly for plain
/// decimals and by rounding for exponent forms. Sub-millisecond digits are truncated.
pub(crate) fn parse_seconds_to_ms(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    if plain {
        let secs: i64 = int.parse().ok()?;
        let mut ms = secs.checked_mul(1000)?;
        let mut scale = 100;
        for b in frac.bytes().take(3) {
            ms = ms.checked_add(i64::from(b - b'0') * scale)?;
            scale /= 10;
        }
        return Some(if neg { -ms } else { ms });
    }
    let secs = parse_float(s)?;
    let ms = (secs * 1000.0).round();
    (ms.is_finite() && ms.abs() < 9.2e18).then_some(ms as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(v: f64) -> String {
        let mut out = Vec::new();
        write_float(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn secs(ms: i64) -> String {
        let mut out = Vec::new();
        write_seconds_from_ms(&mut out, ms);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_floats_shortest() {
        assert_eq!(float(42.0), "42");
        assert_eq!(float(-3.0), "-3");
        assert_eq!(float(-0.0), "-0");
        assert_eq!(float(0.25), "0.25");
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(float(1e21), "1e21");
        for v in [
            1e-7,
            123.456,
            1e300,
            f64::MIN_POSITIVE,
            9.007199254740993e15,
            0.1 + 0.2,
        ] {
            assert_eq!(parse_float(&float(v)), Some(v), "{v}");
        }
    }

    #[test]
    fn reads_floats_like_prometheus() {
        assert_eq!(parse_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("Infinity"), Some(f64::INFINITY));
        assert!(parse_float("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float(".5"), Some(0.5));
        assert_eq!(parse_float(""), None);
        assert_eq!(parse_float("0x10"), None);
        assert_eq!(parse_float("1_000"), None);
        assert_eq!(parse_float("one"), None);
    }

    #[test]
    fn seconds_timestamps_are_exact() {
        assert_eq!(secs(1_700_000_000_123), "1700000000.123");
        assert_eq!(secs(1_700_000_000_100), "1700000000.1");
        assert_eq!(secs(1_700_000_000_000), "1700000000");
        assert_eq!(secs(-1500), "-1.5");
        assert_eq!(
            parse_seconds_to_ms("1700000000.123"),
            Some(1_700_000_000_123)
        );
        assert_eq!(
            parse_seconds_to_ms("1700000000.1239"),
            Some(1_700_000_000_123)
        );
        assert_eq!(parse_seconds_to_ms("-1.5"), Some(-1500));
        assert_eq!(parse_seconds_to_ms("1.7e9"), Some(1_700_000_000_000));
        assert_eq!(parse_seconds_to_ms("x"), None);
        assert_eq!(parse_seconds_to_ms("1e300"), None);
        for ms in [0, 1, -1, 999, 1_234_567_890_123, -98_765] {
            assert_eq!(parse_seconds_to_ms(&secs(ms)), Some(ms));
        }
    }
}
