//! Float arithmetic shared by functions and aggregations, done the way Prometheus does
//! it so results match to the last bit where the scripts compare exactly: Kahan-Neumaier
//! summation, the quantile of a set of values, and Go's `%g` rendering of floats.

use std::cmp::Ordering;

/// One step of Kahan-Neumaier summation: adds `inc` to `sum` with compensation `c`.
/// The result is `sum + c` at the end.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Orders floats with NaN before everything (Prometheus' `vectorByValueHeap` order).
pub(crate) fn cmp_nan_first(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// The `q` quantile of `values` (sorted in place), interpolating between neighbours:
/// NaN for no values or a NaN `q`, -Inf below 0, +Inf above 1.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| cmp_nan_first(*a, *b));
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Go's `%g` with the shortest precision: `NaN`, `+Inf`, `-Inf`, plain decimals for
/// decimal exponents from -4 to 5, `1e+06` style beyond.
pub(crate) fn go_fmt_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{v}")
    }
}

/// Go's sort of a small slice: insertion sort, which is what `sort.Sort` does for up to
/// 12 elements, so ties come out in the same order as in Prometheus; a stable sort
/// beyond that.
pub(crate) fn go_sort<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    if v.len() <= 12 {
        for i in 1..v.len() {
            let mut j = i;
            while j > 0 && less(&v[j], &v[j - 1]) {
                v.swap(j, j - 1);
                j -= 1;
            }
        }
    } else {
        // A total order from `less`, which may be reflexive for NaN (Go's is).
        v.sort_by(|a, b| match (less(a, b), less(b, a)) {
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => Ordering::Equal,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kahan_recovers_lost_bits() {
        let (mut s, mut c) = (0.0, 0.0);
        for v in [1.0, 1e100, 1.0, -1e100] {
            (s, c) = kahan_inc(v, s, c);
        }
        assert_eq!(s + c, 2.0);
    }

    #[test]
    fn quantile_interpolates_and_puts_nan_first() {
        assert_eq!(quantile(0.2, &mut [0.0, 1.0, 2.0]), 0.4);
        assert!(quantile(0.2, &mut [0.0, 1.0, f64::NAN]).is_nan());
        assert!((quantile(0.8, &mut [0.0, 1.0, f64::NAN]) - 0.6).abs() < 1e-12);
        assert_eq!(quantile(-1.0, &mut [1.0]), f64::NEG_INFINITY);
    }

    #[test]
    fn go_g_format() {
        assert_eq!(go_fmt_g(1.01), "1.01");
        assert_eq!(go_fmt_g(-0.1), "-0.1");
        assert_eq!(go_fmt_g(2.0), "2");
        assert_eq!(go_fmt_g(f64::NAN), "NaN");
        assert_eq!(go_fmt_g(1e21), "1e+21");
        assert_eq!(go_fmt_g(1e-5), "1e-05");
        assert_eq!(go_fmt_g(123456789.0), "1.23456789e+08");
        assert_eq!(go_fmt_g(123456.0), "123456");
    }
}
