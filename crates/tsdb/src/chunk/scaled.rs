//! Which values the integer code can carry: decimals `m / 10^k` with `|m| <= 2^53` and a
//! scale `k` of 0 to [`MAX_SCALE`], defined with IEEE-754 double operations so that every
//! implementation of `docs/format/chunk.md` agrees bit for bit.

/// The largest decimal scale: values with up to six decimals take the integer code.
pub(super) const MAX_SCALE: u8 = 6;
/// Scaled integers are at most this large (all exact in an f64).
pub(super) const MAX_INTEGER: i64 = 1 << 53;
/// `10^k` for each scale, exact in an f64.
const POW10: [f64; MAX_SCALE as usize + 1] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6];
/// The bits of -0.0, the one integer-valued float that is not an integer here.
const NEGATIVE_ZERO: u64 = 1 << 63;

/// The value as an `i64` when it is an integer of magnitude at most 2^53 other than -0.0:
/// exactly the values that convert to an `i64` and back bit for bit. (Scale 0.)
#[inline]
pub(super) fn integral(bits: u64) -> Option<i64> {
    let v = f64::from_bits(bits);
    // `as` truncates; NaN fails the range test, -0.0 the bit test.
    let m = v as i64;
    (v.abs() <= MAX_INTEGER as f64 && m as f64 == v && bits != NEGATIVE_ZERO).then_some(m)
}

/// The float a scaled integer stands for: `m` at scale 0, else `m / 10^k` rounded to the
/// nearest double (one correctly rounded division).
#[inline]
pub(super) fn to_float(m: i64, scale: u8) -> f64 {
    match scale {
        0 => m as f64,
        k => m as f64 / POW10[usize::from(k.min(MAX_SCALE))],
    }
}

/// The scaled integer `m` of the value at `scale`, if there is one: `m` is
/// `roundTiesToEven(v × 10^k)` (the product rounded to a double first), it must be at
/// most 2^53 in magnitude, and [`to_float`] must give `v` back bit for bit.
#[inline]
pub(super) fn scaled(bits: u64, scale: u8) -> Option<i64> {
    if scale == 0 {
        return integral(bits);
    }
    let y = f64::from_bits(bits) * POW10[usize::from(scale.min(MAX_SCALE))];
    if y.is_nan() || y.abs() > MAX_INTEGER as f64 {
        return None;
    }
    let m = round_ties_even(y) as i64;
    (to_float(m, scale).to_bits() == bits).then_some(m)
}

/// `y.round_ties_even()` without a call into libm: below 2^52 in magnitude, adding and
/// subtracting 2^52 rounds to an integer in the default IEEE rounding mode (to nearest,
/// ties to even); from 2^52 on every double is an integer.
#[inline]
fn round_ties_even(y: f64) -> f64 {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    // Also NaN and infinities, which it leaves alone.
    if y.is_nan() || y.abs() >= TWO_52 {
        return y;
    }
    let c = TWO_52.copysign(y);
    (y + c) - c
}

/// The scale and scaled integer a value that was XOR-coded leaves for the next value: 0
/// for an integer; else, if the value has a scaled integer at [`MAX_SCALE`], the smallest
/// scale at which it has one; else none.
#[inline]
pub(super) fn classify(bits: u64) -> Option<(u8, i64)> {
    if let Some(m) = integral(bits) {
        return Some((0, m));
    }
    scaled(bits, MAX_SCALE)?;
    (1..=MAX_SCALE).find_map(|k| scaled(bits, k).map(|m| (k, m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(v: f64) -> Option<(u8, i64)> {
        classify(v.to_bits())
    }

    #[test]
    fn rounding_matches_std() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut values = vec![
            0.5,
            1.5,
            2.5,
            -0.5,
            -1.5,
            -2.5,
            0.49999999999999994,
            4503599627370495.5,
        ];
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            values.extend([
                v,
                v * 1e-300,
                (x >> 11) as f64 / 8.0,
                -((x >> 20) as f64) / 4.0,
            ]);
        }
        for v in values {
            let (ours, std) = (round_ties_even(v), v.round_ties_even());
            assert!(
                ours == std || (ours.is_nan() && std.is_nan()),
                "{v}: {ours} vs {std}"
            );
        }
    }

    #[test]
    fn integers_are_scale_zero() {
        assert_eq!(class(0.0), Some((0, 0)));
        assert_eq!(class(-3.0), Some((0, -3)));
        assert_eq!(class(9_007_199_254_740_992.0), Some((0, 1 << 53)));
        assert_eq!(class(-9_007_199_254_740_992.0), Some((0, -(1 << 53))));
        assert_eq!(class(9_007_199_254_740_994.0), None);
        assert_eq!(class(-0.0), None);
        assert_eq!(class(f64::NAN), None);
        assert_eq!(class(f64::INFINITY), None);
        assert_eq!(class(f64::from_bits(tally_model::STALE_NAN_BITS)), None);
    }

    #[test]
    fn decimals_take_their_smallest_scale() {
        assert_eq!(class(0.5), Some((1, 5)));
        assert_eq!(class(21.53), Some((2, 2153)));
        assert_eq!(class(-21.53), Some((2, -2153)));
        assert_eq!(class(0.1), Some((1, 1)));
        assert_eq!(class(12_345.67), Some((2, 1_234_567)));
        assert_eq!(class(0.000_001), Some((6, 1)));
        assert_eq!(class(1e-7), None);
        assert_eq!(class(0.1 + 0.2), None);
        assert_eq!(class(1.0 / 3.0), None);
        // The largest magnitude with six decimals: |m| <= 2^53 at scale 6.
        assert_eq!(class(9_007_199_254.5), Some((1, 90_071_992_545)));
        assert_eq!(class(9_007_199_255.5), None);
        // Scaled integers give their value back exactly.
        for (k, m) in [(1, 5), (2, 2153), (2, -2153), (6, 1), (2, 1_234_567)] {
            let bits = to_float(m, k).to_bits();
            assert_eq!(scaled(bits, k), Some(m));
        }
        assert_eq!(scaled(0.25f64.to_bits(), 1), None);
        assert_eq!(scaled(0.25f64.to_bits(), 2), Some(25));
        assert_eq!(scaled(2.0f64.to_bits(), 3), Some(2_000));
        assert_eq!(scaled((-0.0f64).to_bits(), 3), None);
    }
}
