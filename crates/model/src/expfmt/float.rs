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
    } else if value.abs() < MAX_INTEGER_FORM && (value as i64) as f64 == value {
        // An integer (the cast truncates; below 1e15 it is exact, and it is no call to
        // `trunc`, which `fract` is without SSE4.1).
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
        let scaled = value * scale;
        if scaled.abs() >= MAX_INTEGER_FORM {
            continue;
        }
        let k = round_half_away(scaled);
        if k as f64 / scale != value {
            continue;
        }
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

/// `x.round() as i64` for `|x| < 1e15`, without a call to `round` (which it is without
/// SSE4.1): below 2^52, `x - trunc(x)` is exact, so comparing it with ±0.5 rounds half
/// away from zero exactly as `round` does.
fn round_half_away(x: f64) -> i64 {
    let truncated = x as i64;
    let rest = x - truncated as f64;
    if rest >= 0.5 {
        truncated + 1
    } else if rest <= -0.5 {
        truncated - 1
    } else {
        truncated
    }
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
    if let Some(v) = parse_short_decimal(bytes) {
        return Some(v);
    }
    s.parse::<f64>().ok()
}

/// Exact powers of ten up to 10^22, the largest one an `f64` holds exactly.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses `[+-]digits[.digits][(e|E)[+-]digits]` when its digits, read as an integer `m`,
/// are below 2^53 and its decimal exponent `e` is within ±22 (Clinger's fast path): then
/// `m` and `10^|e|` are exact doubles and one multiplication or division rounds
/// correctly, giving what `str::parse` gives. `None` for anything else (longer digit
/// strings, other spellings, invalid input), which is left to `str::parse`.
fn parse_short_decimal(bytes: &[u8]) -> Option<f64> {
    let (negative, rest) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let mut m: u64 = 0;
    let mut digits = 0usize;
    let mut i = 0;
    while let Some(&b) = rest.get(i).filter(|b| b.is_ascii_digit()) {
        m = m.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
        digits += 1;
        i += 1;
    }
    let int_digits = digits;
    let mut frac_digits = 0i32;
    if rest.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&b) = rest.get(i).filter(|b| b.is_ascii_digit()) {
            m = m.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
            digits += 1;
            frac_digits += 1;
            i += 1;
        }
    }
    // At least one digit on either side of the point; at most 15, so `m` did not wrap
    // and is below 2^53.
    if digits == 0 || digits > 15 || (int_digits == 0 && frac_digits == 0) {
        return None;
    }
    let mut exponent = 0i32;
    if matches!(rest.get(i), Some(b'e' | b'E')) {
        i += 1;
        let negative_exponent = match rest.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while let Some(&b) = rest.get(i).filter(|b| b.is_ascii_digit()) {
            exponent = exponent.checked_mul(10)?.checked_add(i32::from(b - b'0'))?;
            i += 1;
        }
        if i == start || i - start > 4 {
            return None;
        }
        if negative_exponent {
            exponent = -exponent;
        }
    }
    if i != rest.len() {
        return None;
    }
    let e = exponent - frac_digits;
    let power = *POWERS_OF_TEN.get(e.unsigned_abs() as usize)?;
    let v = if e >= 0 {
        m as f64 * power
    } else {
        m as f64 / power
    };
    Some(if negative { -v } else { v })
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
    fn rounds_like_round() {
        for x in [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            0.49999999999999994,
            -0.49999999999999994,
            123456.7,
            -98765.4321,
            4503599627370495.5,
            999999999999999.0,
            1e-300,
        ] {
            assert_eq!(round_half_away(x), x.round() as i64, "{x}");
        }
    }

    proptest::proptest! {
        #[test]
        fn writes_what_it_wrote_before(bits in proptest::num::u64::ANY, small in -1e7f64..1e7) {
            // The former spelling: `fract` and `round` instead of casts.
            fn before(value: f64) -> String {
                if !value.is_finite() {
                    return float(value);
                }
                if value.fract() == 0.0 && value.abs() < MAX_INTEGER_FORM {
                    return float(value);
                }
                for (digits, scale) in [(1usize, 10.0f64), (2, 100.0), (3, 1000.0)] {
                    let k = (value * scale).round();
                    if k.abs() >= MAX_INTEGER_FORM || k / scale != value {
                        continue;
                    }
                    let sign = if value < 0.0 { "-" } else { "" };
                    let abs = (k as i64).unsigned_abs();
                    let pow = 10u64.pow(digits as u32);
                    return format!("{sign}{}.{:0digits$}", abs / pow, abs % pow);
                }
                ryu::Buffer::new().format_finite(value).to_owned()
            }
            for v in [f64::from_bits(bits), small, (small * 1000.0).round() / 1000.0] {
                proptest::prop_assert_eq!(float(v), before(v), "{:e}", v);
            }
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
    fn short_decimals_read_like_the_standard_parser() {
        let cases = [
            "0",
            "-0",
            "+0",
            "1.",
            ".5",
            "-.5",
            "0.005",
            "2.5",
            "1234.56",
            "8.47242e+06",
            "3.400582e+06",
            "1e-7",
            "1E22",
            "1e23",
            "1e-22",
            "1e-23",
            "123456789012345",
            "1234567890123456",
            "9007199254740993",
            "0.27551106271942893",
            "1.5e300",
            "4.9e-324",
            "1e",
            "1e+",
            ".",
            "-",
            "1.2.3",
            "1e5x",
            "00012",
            "0.1",
            "0.2",
            "0.30000000000000004",
            "999999999999999e22",
            "1e00022",
            "12e-00001",
        ];
        for case in cases {
            let want = case.parse::<f64>().ok();
            let got = parse_short_decimal(case.as_bytes());
            if let Some(got) = got {
                assert_eq!(Some(got.to_bits()), want.map(f64::to_bits), "{case}");
            }
            assert_eq!(
                parse_float(case).map(f64::to_bits),
                want.map(f64::to_bits),
                "{case}"
            );
        }
        assert_eq!(parse_short_decimal(b"8.47242e+06"), Some(8.47242e6));
        assert_eq!(parse_short_decimal(b"0.27551106271942893"), None);
    }

    proptest::proptest! {
        #[test]
        fn short_decimals_agree_with_the_standard_parser(
            sign in proptest::sample::select(vec!["", "-", "+"]),
            int in "[0-9]{0,10}",
            frac in proptest::option::of("[0-9]{0,9}"),
            exp in proptest::option::of((proptest::sample::select(vec!["e", "E"]), -40i32..40)),
        ) {
            let mut text = format!("{sign}{int}");
            if let Some(frac) = frac {
                text.push('.');
                text.push_str(&frac);
            }
            if let Some((e, n)) = exp {
                text.push_str(&format!("{e}{n:+}"));
            }
            let want = text.parse::<f64>().ok().map(f64::to_bits);
            if let Some(got) = parse_short_decimal(text.as_bytes()) {
                proptest::prop_assert_eq!(Some(got.to_bits()), want, "{}", text);
            }
        }
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
