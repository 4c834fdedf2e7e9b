//! Unit tests of packed chunks: sizes of the shapes the code is for, each value code,
//! patches, and every header error.

use super::*;

const T0: i64 = 1_700_000_000_000;

fn samples(values: impl IntoIterator<Item = f64>) -> Vec<Sample> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| Sample::new(T0 + i as i64 * 15_000, v))
        .collect()
}

fn bits(s: &[Sample]) -> Vec<u64> {
    s.iter().map(|x| x.value.to_bits()).collect()
}

fn round_trip(s: &[Sample]) -> Vec<u8> {
    let bytes = encode(s).expect("encodes");
    let mut it = PackedIter::new(&bytes);
    let got: Vec<(i64, u64)> = it
        .by_ref()
        .map(|x| (x.timestamp_ms, x.value.to_bits()))
        .collect();
    let want: Vec<(i64, u64)> = s
        .iter()
        .map(|x| (x.timestamp_ms, x.value.to_bits()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(it.error(), None);
    bytes
}

#[test]
fn a_constant_regular_series_costs_a_few_bytes_whatever_its_length() {
    // Count (14 bits), first time (48), the time sequence (order, factor 15000, base 1,
    // width 0: 39), the value code (4), no patches (7) and the value sequence (26): no bits
    // per sample at all.
    let short = round_trip(&samples([1.0; 120]));
    let long = round_trip(&samples([1.0; 4000]));
    assert!(short.len() <= 18, "{} bytes", short.len());
    assert!(long.len() <= short.len() + 2, "{} bytes", long.len());
}

#[test]
fn a_counter_with_jitter_costs_the_width_of_its_jitter() {
    // Increments 1000 to 1255: order 1, base 1000, 8 bits each.
    let mut v = 5e6;
    let values: Vec<f64> = (0..120u64)
        .map(|i| {
            v += 1000.0 + ((i * 37) % 256) as f64;
            v
        })
        .collect();
    let bytes = round_trip(&samples(values));
    assert!(bytes.len() <= 119 + 24, "{} bytes", bytes.len());
}

#[test]
fn common_factors_and_decimal_scales_are_found() {
    // Memory in 4 KiB pages moving by a few pages: the factor 4096 is divided out.
    let pages: Vec<f64> = (0..120)
        .map(|i| (1_000_000 + (i * 7919) % 13) as f64 * 4096.0)
        .collect();
    let bytes = round_trip(&samples(pages));
    assert!(bytes.len() <= 60 + 24, "{} bytes", bytes.len());
    // Centiseconds as node_exporter divides them: scale 2, so small integers.
    let cpu: Vec<f64> = (0..120)
        .map(|i| (123_456_700 + i * 1_050 + (i * 31) % 7) as f64 / 100.0)
        .collect();
    let s = samples(cpu);
    assert_eq!(ValuePlan::choose(&bits(&s)).code, ValueCode::Decimal(2));
    let bytes = round_trip(&s);
    assert!(bytes.len() <= 45 + 24, "{} bytes", bytes.len());
}

#[test]
fn full_precision_floats_take_the_binary_code() {
    // A histogram's _sum: a running float total.
    let mut sum = 0.0;
    let values: Vec<f64> = (0..120)
        .map(|i| {
            sum += 0.37 + f64::from(i % 11) * 0.013_7;
            sum
        })
        .collect();
    let s = samples(values);
    assert!(matches!(
        ValuePlan::choose(&bits(&s)).code,
        ValueCode::Binary(_)
    ));
    round_trip(&s);
    // Subnormals, the largest doubles and mixed signs.
    round_trip(&samples([5e-324, 1e-310, -2.5e-320, 0.0, 1e-300]));
    round_trip(&samples([f64::MAX, -f64::MAX, 1e308, 0.0]));
    round_trip(&samples([1e300, 1e-300, 3.0]));
}

#[test]
fn values_no_code_carries_are_patched() {
    let s = samples([
        1.0,
        2.0,
        f64::from_bits(tally_model::STALE_NAN_BITS),
        -0.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        6.0,
    ]);
    let plan = ValuePlan::choose(&bits(&s));
    assert_eq!(plan.code, ValueCode::Decimal(0));
    assert_eq!(plan.patches, vec![2, 3, 4, 5, 6]);
    round_trip(&s);
    // Nothing but patches.
    round_trip(&samples([f64::NAN, -0.0, f64::INFINITY]));
    round_trip(&samples([-0.0]));
}

#[test]
fn irregular_times_escape_instead_of_widening() {
    // Regular but for one missed scrape: deltas of one factor, 1 bit each and one
    // escape, instead of 2 bits each.
    let mut s = samples([3.0; 120]);
    for x in &mut s[60..] {
        x.timestamp_ms += 15_000;
    }
    let bytes = round_trip(&s);
    assert!(
        bytes.len() <= 18 + (119 + 64) / 8 + 1,
        "{} bytes",
        bytes.len()
    );
    // Extreme times.
    round_trip(&[
        Sample::new(i64::MIN, 1.0),
        Sample::new(0, 2.0),
        Sample::new(i64::MAX, 3.0),
    ]);
    round_trip(&[Sample::new(-5, 1.0)]);
}

#[test]
fn gcd_agrees_with_euclid() {
    fn euclid(mut a: u64, mut b: u64) -> u64 {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    }
    let values = [
        0,
        1,
        2,
        3,
        4096,
        12_288,
        15_000,
        1 << 63,
        u64::MAX,
        999_999_937,
    ];
    for a in values {
        for b in values {
            assert_eq!(gcd(a, b), euclid(a, b), "{a} {b}");
        }
    }
}

#[test]
fn columns_share_one_time_sequence() {
    let times: Vec<i64> = (0..6).map(|i| T0 + i * 3_600_000).collect();
    let count: Vec<u64> = vec![240f64.to_bits(); 6];
    let sum: Vec<u64> = (0..6)
        .map(|i| (1234.5 + f64::from(i) / 3.0).to_bits())
        .collect();
    let special: Vec<u64> = vec![
        f64::NAN.to_bits(),
        (-0.0f64).to_bits(),
        1.5f64.to_bits(),
        tally_model::STALE_NAN_BITS,
        2.5f64.to_bits(),
        f64::INFINITY.to_bits(),
    ];
    let columns: [&[u64]; 3] = [&count, &sum, &special];
    let bytes = encode_columns(&times, &columns).unwrap();
    let (t, c) = decode_columns(&bytes, 3, 120).unwrap();
    assert_eq!(t, times);
    assert_eq!(c, vec![count.clone(), sum.clone(), special.clone()]);
    // One header and time sequence instead of three.
    let apart: usize = columns
        .iter()
        .map(|c| {
            let s: Vec<Sample> = times
                .iter()
                .zip(c.iter())
                .map(|(&t, &v)| Sample::new(t, f64::from_bits(v)))
                .collect();
            encode(&s).unwrap().len()
        })
        .sum();
    assert!(
        bytes.len() + 2 * 10 <= apart,
        "{} against {apart}",
        bytes.len()
    );
    // Too many times for the caller's bound, a wrong column count, trailing bytes,
    // truncation: errors, never panics.
    assert!(decode_columns(&bytes, 3, 5).is_err());
    assert!(decode_columns(&bytes, 4, 120).is_err());
    assert!(decode_columns(&bytes, 2, 120).is_err());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(decode_columns(&longer, 3, 120).is_err());
    for len in 0..bytes.len() {
        assert!(decode_columns(&bytes[..len], 3, 120).is_err());
    }
    assert_eq!(encode_columns(&times, &[&count[..5]]), None);
    assert_eq!(encode_columns(&[], &[]), None);
}

#[test]
fn widths_count_escapes() {
    assert_eq!(choose_width(&[0, 0, 0]), (0, 0));
    // 1 escapes at width 1 (all ones): 2 bits + 64 against 2 bits each at width 2.
    assert_eq!(choose_width(&[0, 1]), (2, 4));
    let mut many = vec![3u64; 100];
    many.push(u64::MAX);
    assert_eq!(choose_width(&many), (3, 101 * 3 + 64));
}

#[test]
fn refuses_what_it_cannot_encode() {
    assert_eq!(encode(&[]), None);
    assert_eq!(
        encode(&[Sample::new(5, 1.0), Sample::new(5, 2.0)]),
        None,
        "equal times"
    );
    let too_many = samples((0..=MAX_SAMPLES).map(|i| i as f64));
    assert_eq!(encode(&too_many), None);
}

/// Bits for hand-built chunks.
fn build(fields: &[(u64, u32)]) -> Vec<u8> {
    let mut w = Writer::default();
    for &(v, n) in fields {
        w.bits(v, n);
    }
    w.buf
}

fn error_of(bytes: &[u8]) -> Option<ChunkError> {
    let mut it = PackedIter::new(bytes);
    it.by_ref().for_each(drop);
    it.error().cloned()
}

#[test]
fn header_errors_name_the_field() {
    let bad_at = |bytes: &[u8], bit: u64| {
        let e = error_of(bytes);
        assert!(
            matches!(e, Some(ChunkError::BadField { bit: b, .. }) if b == bit),
            "{e:?}"
        );
    };
    // count 0
    bad_at(&build(&[(0, 7)]), 0);
    // count with a length prefix of 65 bits
    bad_at(&build(&[(65, 7), (0, 64), (0, 1)]), 0);
    // count 1, t0 0, decimal scale 7
    bad_at(&build(&[(1, 7), (1, 1), (0, 7), (0, 1), (7, 3)]), 15);
    // count 1, t0 0, binary exponent 2000 (zigzag 4000, 12 bits)
    bad_at(
        &build(&[(1, 7), (1, 1), (0, 7), (1, 1), (12, 7), (4000, 12)]),
        15,
    );
    // count 1, t0 0, decimal 0, 2 patches
    bad_at(
        &build(&[(1, 7), (1, 1), (0, 7), (0, 1), (0, 3), (2, 7), (2, 2)]),
        19,
    );
    // count 1, t0 0, decimal 0, one patch at index 1
    bad_at(
        &build(&[
            (1, 7),
            (1, 1),
            (0, 7),
            (0, 1),
            (0, 3),
            (1, 7),
            (1, 1),
            (1, 7),
            (1, 1),
        ]),
        27,
    );
    // count 1, ..., no patches, value sequence of order 3
    bad_at(
        &build(&[(1, 7), (1, 1), (0, 7), (0, 1), (0, 3), (0, 7), (3, 2)]),
        26,
    );
    // ..., order 0, factor 0
    bad_at(
        &build(&[
            (1, 7),
            (1, 1),
            (0, 7),
            (0, 1),
            (0, 3),
            (0, 7),
            (0, 2),
            (0, 7),
        ]),
        28,
    );
    // ..., order 0, factor 1, base 0, width 65
    bad_at(
        &build(&[
            (1, 7),
            (1, 1),
            (0, 7),
            (0, 1),
            (0, 3),
            (0, 7),
            (0, 2),
            (1, 7),
            (1, 1),
            (0, 7),
            (65, 7),
        ]),
        43,
    );
}

#[test]
fn body_errors_say_which_sample() {
    // Two samples whose second time does not increase: count 2, t0 0, times order 0,
    // factor 1, base 0, width 0 (a delta of 0), then a constant value.
    let mut fields = vec![
        (2, 7),
        (2, 2),
        (0, 7),
        (0, 2),
        (1, 7),
        (1, 1),
        (0, 7),
        (0, 7),
    ];
    fields.extend([
        (0, 1),
        (0, 3),
        (0, 7),
        (0, 2),
        (1, 7),
        (1, 1),
        (0, 7),
        (0, 7),
    ]);
    let bytes = build(&fields);
    let mut it = PackedIter::new(&bytes);
    assert_eq!(it.next().map(|s| s.timestamp_ms), Some(0));
    assert_eq!(it.next(), None);
    assert!(matches!(
        it.error(),
        Some(ChunkError::TimeNotIncreasing { sample: 1, .. })
    ));
    // A decimal integer beyond 2^53: count 1, t0 0, decimal 0, no patches, order 0,
    // factor 1, base 2^54 (zigzag 2^55, 56 bits), width 0.
    let bytes = build(&[
        (1, 7),
        (1, 1),
        (0, 7),
        (0, 1),
        (0, 3),
        (0, 7),
        (0, 2),
        (1, 7),
        (1, 1),
        (56, 7),
        (1 << 55, 56),
        (0, 7),
    ]);
    assert!(matches!(
        error_of(&bytes),
        Some(ChunkError::IntegerOutOfRange { sample: 0, .. })
    ));
    // Trailing bytes after a valid chunk.
    let mut bytes = encode(&samples([1.0, 2.0])).unwrap();
    bytes.push(0);
    assert!(matches!(
        error_of(&bytes),
        Some(ChunkError::TrailingData { .. })
    ));
}
