//! Unit tests of the XOR chunk: the worked example of `docs/format/chunk.md` byte for byte,
//! every code path, edge values, and every error.

use super::bits::{write_bits, zigzag};
use super::*;

const T0: i64 = 1_700_000_000_000;

fn chunk_of(samples: &[(i64, f64)]) -> XorChunk {
    let mut c = XorChunk::new();
    for &(t, v) in samples {
        c.append(t, v);
    }
    c
}

/// Samples as (time, value bits), so NaNs compare.
fn bits_of(it: impl Iterator<Item = Sample>) -> Vec<(i64, u64)> {
    it.map(|s| (s.timestamp_ms, s.value.to_bits())).collect()
}

fn want_bits(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
    samples.iter().map(|&(t, v)| (t, v.to_bits())).collect()
}

/// Encodes, decodes with every entry point, reopens, and checks all agree.
fn round_trip(samples: &[(i64, f64)]) -> XorChunk {
    let c = chunk_of(samples);
    assert_eq!(c.len(), samples.len());
    let mut it = c.iter();
    assert_eq!(bits_of(it.by_ref()), want_bits(samples));
    assert_eq!(it.error(), None);
    assert_eq!(XorChunk::from_bytes(c.bytes()), Ok(c.clone()));
    let mut out = Vec::new();
    decode_range(c.bytes(), i64::MIN, i64::MAX, &mut out).unwrap();
    assert_eq!(bits_of(out.into_iter()), want_bits(samples));
    c
}

/// Hand-built chunk bytes: a varint count and first time, then bit fields.
fn hand_built(count: u64, t0: i64, fields: &[(u64, u32)]) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut tmp = [0; 10];
    let n = bits::put_uvarint(&mut tmp, count);
    buf.extend_from_slice(&tmp[..n]);
    let n = bits::put_uvarint(&mut tmp, zigzag(t0));
    buf.extend_from_slice(&tmp[..n]);
    let mut free = 0;
    for &(v, n) in fields {
        write_bits(&mut buf, &mut free, v, n);
    }
    buf
}

fn error_of(bytes: &[u8]) -> ChunkError {
    let mut it = ChunkIter::new(bytes);
    it.by_ref().for_each(drop);
    let e = it.error().cloned().expect("an error");
    assert_eq!(XorChunk::from_bytes(bytes), Err(e.clone()));
    e
}

#[test]
fn worked_example_of_the_format_doc() {
    let samples = [
        (T0, 1.0),
        (T0 + 15_000, 1.0),
        (T0 + 30_000, 2.0),
        (T0 + 45_003, 2.5),
        (T0 + 60_000, 3.5),
    ];
    let c = round_trip(&samples);
    #[rustfmt::skip]
    let want = [
        0x05,                               // 5 samples
        0x80, 0xa0, 0xab, 0xfe, 0xf9, 0x62, // zigzag(T0)
        0xc0, 0xdc, 0x07, 0x53, 0x05, 0x47, 0xed, 0x07, 0x56, 0x12, 0x80, // 83 bits, 5 padding
    ];
    assert_eq!(c.bytes(), want);
    assert_eq!(
        (c.enc.state.scale, c.enc.state.int_value, c.enc.state.width),
        (1, 35, 5)
    );
}

#[test]
fn empty_chunk() {
    let c = XorChunk::new();
    assert_eq!(c.bytes(), [0]);
    assert!(c.is_empty());
    assert_eq!((c.min_time(), c.max_time(), c.last()), (None, None, None));
    assert_eq!(c.heap_size(), 0);
    assert_eq!(c.iter().next(), None);
    assert_eq!(c.iter().error(), None);
    assert_eq!(XorChunk::from_bytes(&[0]), Ok(XorChunk::new()));
    let mut out = vec![];
    assert_eq!(decode_range(&[0], i64::MIN, i64::MAX, &mut out), Ok(()));
    assert!(out.is_empty());
    let mut c = XorChunk::from_bytes(&[0]).unwrap();
    c.append(5, 1.5);
    assert_eq!(c, chunk_of(&[(5, 1.5)]));
}

#[test]
fn accessors() {
    let c = chunk_of(&[(T0, 3.0), (T0 + 10, f64::NAN)]);
    assert_eq!(c.min_time(), Some(T0));
    assert_eq!(c.max_time(), Some(T0 + 10));
    assert_eq!(
        c.last().map(|s| s.value.to_bits()),
        Some(f64::NAN.to_bits())
    );
    assert!(c.heap_size() >= c.bytes().len());
    assert_eq!(
        format!("{c:?}"),
        format!(
            "XorChunk {{ samples: 2, bytes: {}, min_time: Some({T0}), max_time: Some({}) }}",
            c.bytes().len(),
            T0 + 10
        )
    );
    let mut c = c;
    c.shrink_to_fit();
    assert_eq!(c.heap_size(), c.bytes().len());
    assert_eq!(*c.clone().into_bytes(), *c.bytes());
    assert_eq!(*XorChunk::new().into_bytes(), [0]);
    if cfg!(target_pointer_width = "64") {
        assert_eq!(std::mem::size_of::<XorChunk>(), 88);
    }
}

#[test]
fn every_value_round_trips_bit_for_bit() {
    let specials = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        f64::NAN,
        -f64::NAN,
        f64::from_bits(tally_model::STALE_NAN_BITS),
        f64::from_bits(0x7ff8_0000_0000_0001),
        f64::from_bits(0xfff0_0000_0000_0001),
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        f64::EPSILON,
        0.1,
        1e300,
        (1u64 << 53) as f64,
        -((1u64 << 53) as f64),
        ((1u64 << 53) + 2) as f64,
        -(((1u64 << 53) + 2) as f64),
        123_456_789.0,
        0.5,
    ];
    // Each value after each other value: every pair of int/XOR/same transitions.
    let mut samples = Vec::new();
    let mut t = -1_000;
    for &a in &specials {
        for &b in &specials {
            for v in [a, b, b, a] {
                samples.push((t, v));
                t += 7;
            }
        }
    }
    for chunk in samples.chunks(120) {
        round_trip(chunk);
    }
    round_trip(&samples);
}

#[test]
fn integers_take_the_integer_code() {
    // A counter: the first value opens a width, then delta-of-deltas fit in it.
    let samples: Vec<(i64, f64)> = (0..120)
        .map(|i| (T0 + i * 15_000, (1_000_000 + i * 100 + (i % 3)) as f64))
        .collect();
    let c = round_trip(&samples);
    // Timestamps: 1 bit each but the first two; values about 2 + 3 bits each.
    assert!(c.bytes().len() < 120, "{} bytes", c.bytes().len());
    // The range limits: ±2^53 are integers, the next representable floats are not.
    let edge = (1i64 << 53) as f64;
    round_trip(&[
        (0, edge),
        (1, -edge),
        (2, edge),
        (3, edge * 2.0),
        (4, -edge),
    ]);
}

#[test]
fn decimals_take_the_integer_code_at_their_scale() {
    // CPU seconds with two decimals: after the first value the scale is 2.
    let samples: Vec<(i64, f64)> = (0..120)
        .map(|i| {
            (
                T0 + i * 15_000,
                (1_234_567 + i * 1_500 + (i % 7)) as f64 / 100.0,
            )
        })
        .collect();
    let c = round_trip(&samples);
    assert_eq!((c.enc.state.scale, c.enc.state.integral), (2, true));
    assert!(c.bytes().len() < 130, "{} bytes", c.bytes().len());
    // Scale changes: up on a value with more decimals, back to 0 on an integer, none
    // after an arbitrary float, and the limits of six decimals and 2^53.
    let values = [
        0.5,
        0.75,
        0.25,
        1.0,
        2.0,
        0.1,
        0.3,
        1.0 / 3.0,
        0.4,
        7.0,
        0.000_001,
        0.000_002,
        9_007_199_254.5,
        -9_007_199_254.5,
        9_007_199_255.5,
        1e-7,
        -0.0,
        3.0,
        -21.53,
        -0.01,
    ];
    let samples: Vec<(i64, f64)> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as i64, v))
        .collect();
    round_trip(&samples);
    let scales: Vec<(bool, u8)> = (1..=values.len())
        .map(|n| {
            let s = chunk_of(&samples[..n]).enc.state;
            (s.integral, s.scale)
        })
        .collect();
    #[rustfmt::skip]
    let want = [
        (true, 1), (true, 2), (true, 2), (true, 0), (true, 0), (true, 1), (true, 1), (false, 0),
        (true, 1), (true, 0), (true, 6), (true, 6), (true, 6), (true, 6), (false, 0),
        (false, 0), (false, 0), (true, 0), (true, 2), (true, 2),
    ];
    assert_eq!(scales, want);
}

#[test]
fn constant_series_costs_two_bits_a_sample() {
    let samples: Vec<(i64, f64)> = (0..120).map(|i| (T0 + i * 15_000, 1.0)).collect();
    let c = round_trip(&samples);
    // Header 1 + 6 bytes; first value 11 bits; second sample 24 + 1; then 2 bits each.
    let bits = 11 + 25 + 118 * 2;
    assert_eq!(c.bytes().len(), 7 + usize::div_ceil(bits, 8));
}

#[test]
fn timestamp_buckets_and_their_edges() {
    let mut samples = vec![(T0, 0.0), (T0 + 15_000, 0.0)];
    let mut delta = 15_000i64;
    for dod in [
        0, 1, -1, 7, -8, 8, -9, 127, -128, 128, -129, 524_287, -524_288, 524_288, -524_289,
        5_000_000, 0,
    ] {
        delta += dod;
        let (t, _) = samples[samples.len() - 1];
        samples.push((t + delta, 0.0));
    }
    round_trip(&samples);
    let buckets = [
        (0, 1),
        (1, 6),
        (7, 6),
        (-8, 6),
        (8, 11),
        (-128, 11),
        (128, 24),
    ];
    for (dod, bits) in buckets {
        let base = chunk_of(&[(0, 0.0), (1_000, 0.0), (2_000, 0.0)]);
        let mut c = base.clone();
        c.append(3_000 + dod, 0.0);
        let grown = 8 * c.bytes().len() - 8 * base.bytes().len() + usize::from(base.enc.free)
            - usize::from(c.enc.free);
        assert_eq!(grown, bits + 1, "dod {dod}");
    }
}

#[test]
fn extreme_timestamps() {
    round_trip(&[(i64::MIN, 1.0), (i64::MAX, 2.0)]);
    round_trip(&[(i64::MIN, 1.0), (-1, 2.0), (i64::MAX, 3.0)]);
    round_trip(&[
        (i64::MIN, 1.0),
        (i64::MIN + 1, 2.0),
        (i64::MAX - 1, 3.0),
        (i64::MAX, 4.0),
    ]);
    round_trip(&[(-5, 1.0), (-4, 1.0), (0, 1.0), (4, 1.0)]);
}

#[test]
fn sample_count_header_grows() {
    let mut c = XorChunk::new();
    let mut samples = Vec::new();
    for i in 0..16_500i64 {
        let s = (T0 + i * 15_000 + (i % 5), (i % 17) as f64 * 0.5);
        c.append(s.0, s.1);
        samples.push(s);
        if matches!(i, 126..=128 | 16_382..=16_384) {
            assert_eq!(bits_of(c.iter()), want_bits(&samples));
            assert_eq!(XorChunk::from_bytes(c.bytes()).as_ref(), Ok(&c));
        }
    }
    assert_eq!(&c.bytes()[..3], [0xf4, 0x80, 0x01]);
    assert_eq!(c.min_time(), Some(T0));
}

#[test]
fn reopened_chunks_append_like_new_ones() {
    let samples: Vec<(i64, f64)> = (0..50)
        .map(|i| {
            let v = match i % 4 {
                0 => i as f64,
                1 => i as f64 / 3.0,
                2 => f64::NAN,
                _ => 7.0,
            };
            (T0 + i * 1_000 + i * i, v)
        })
        .collect();
    let whole = chunk_of(&samples);
    for split in 0..=samples.len() {
        let mut c = XorChunk::from_bytes(chunk_of(&samples[..split]).bytes()).unwrap();
        for &(t, v) in &samples[split..] {
            c.append(t, v);
        }
        assert_eq!(c, whole, "split at {split}");
    }
}

#[test]
fn a_cut_chunk_is_exact_and_the_open_one_restarts_in_its_buffer() {
    let first: Vec<(i64, f64)> = (0..130)
        .map(|i| (T0 + i * 15_000, i as f64 / 7.0))
        .collect();
    let second: Vec<(i64, f64)> = (130..200)
        .map(|i| (T0 + i * 15_000, (i % 3) as f64))
        .collect();
    let mut open = chunk_of(&first);
    let capacity = open.heap_size();
    let cut = open.cut();
    assert_eq!(cut, chunk_of(&first));
    assert_eq!(cut.heap_size(), cut.bytes().len(), "the cut copy is exact");
    assert!(open.is_empty());
    assert_eq!(open.bytes(), [0]);
    assert_eq!((open.min_time(), open.last()), (None, None));
    assert_eq!(
        open.heap_size(),
        capacity,
        "the open chunk keeps its buffer"
    );
    for &(t, v) in &second {
        open.append(t, v);
    }
    assert_eq!(
        open,
        chunk_of(&second),
        "appending after a cut starts a new chunk"
    );
    assert_eq!(open.heap_size(), capacity);
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "is not after")]
fn out_of_order_append_panics_in_debug_builds() {
    let mut c = chunk_of(&[(10, 1.0)]);
    c.append(10, 2.0);
}

#[cfg(not(debug_assertions))]
#[test]
fn out_of_order_append_is_dropped_in_release_builds() {
    let mut c = chunk_of(&[(10, 1.0)]);
    c.append(10, 2.0);
    c.append(9, 2.0);
    assert_eq!(c, chunk_of(&[(10, 1.0)]));
}

#[test]
fn seek_never_moves_backwards() {
    let c = chunk_of(&[(10, 1.0), (20, 2.0), (30, 3.0)]);
    let mut it = c.iter();
    assert_eq!(it.seek(0), Some(Sample::new(10, 1.0)));
    assert_eq!(it.seek(5), Some(Sample::new(10, 1.0)));
    assert_eq!(it.seek(11), Some(Sample::new(20, 2.0)));
    assert_eq!(it.seek(20), Some(Sample::new(20, 2.0)));
    assert_eq!(it.next(), Some(Sample::new(30, 3.0)));
    assert_eq!(it.seek(15), Some(Sample::new(30, 3.0)));
    assert_eq!(it.seek(31), None);
    assert_eq!(it.next(), None);
    assert_eq!(it.error(), None);
    let mut it = c.iter();
    assert_eq!(it.seek(30), Some(Sample::new(30, 3.0)));
    assert_eq!(it.next(), None);
    assert_eq!(XorChunk::new().iter().seek(0), None);
}

#[test]
fn decode_range_bounds_are_inclusive() {
    let c = chunk_of(&[(10, 1.0), (20, 2.0), (30, 3.0)]);
    let range = |mint, maxt| {
        let mut out = vec![Sample::new(0, 0.0)];
        decode_range(c.bytes(), mint, maxt, &mut out).unwrap();
        out[1..].iter().map(|s| s.timestamp_ms).collect::<Vec<_>>()
    };
    assert_eq!(range(10, 30), [10, 20, 30]);
    assert_eq!(range(11, 29), [20]);
    assert_eq!(range(20, 20), [20]);
    assert_eq!(range(21, 29), [] as [i64; 0]);
    assert_eq!(range(31, 40), [] as [i64; 0]);
    assert_eq!(range(0, 9), [] as [i64; 0]);
    assert_eq!(range(30, 10), [] as [i64; 0]);
    assert_eq!(range(i64::MIN, i64::MAX), [10, 20, 30]);
}

#[test]
fn decode_range_keeps_samples_before_damage() {
    let c = chunk_of(&[(10, 1.0), (20, 2.5), (30, 3.0), (40, 4.5)]);
    let cut = &c.bytes()[..c.bytes().len() - 1];
    let mut out = Vec::new();
    let e = decode_range(cut, 0, 100, &mut out).unwrap_err();
    assert!(matches!(e, ChunkError::Truncated { sample: 3, .. }), "{e}");
    assert_eq!(
        out,
        [
            Sample::new(10, 1.0),
            Sample::new(20, 2.5),
            Sample::new(30, 3.0)
        ]
    );
    // Damage past the first sample after the range is not looked at.
    out.clear();
    assert_eq!(decode_range(cut, 0, 20, &mut out), Ok(()));
    assert_eq!(out.len(), 2);
}

#[test]
fn header_errors() {
    assert_eq!(error_of(&[]), ChunkError::Truncated { sample: 0, bit: 0 });
    assert_eq!(
        error_of(&[0x80]),
        ChunkError::Truncated { sample: 0, bit: 0 }
    );
    assert_eq!(
        error_of(&[0x01]),
        ChunkError::Truncated { sample: 0, bit: 8 }
    );
    assert_eq!(
        error_of(&[0x01, 0x80]),
        ChunkError::Truncated { sample: 0, bit: 8 }
    );
    assert_eq!(error_of(&[0x80, 0x00]), ChunkError::BadVarint { byte: 0 });
    assert_eq!(
        error_of(&[0x01, 0x81, 0x00]),
        ChunkError::BadVarint { byte: 1 }
    );
    assert_eq!(error_of(&[0xff; 11]), ChunkError::BadVarint { byte: 0 });
    assert_eq!(error_of(&[0x00, 0x00]), ChunkError::TrailingData { bit: 8 });
    // A count far beyond the data stops at the data's end.
    let mut huge = vec![0xff; 9];
    huge.extend([0x01, 0x00]); // count u64::MAX, t0 0
    huge.extend([0x00; 4]); // 32 bits of "same time, same value"...
    let mut it = ChunkIter::new(&huge);
    assert!(it.size_hint().1.is_some_and(|n| n <= 32));
    assert_eq!(it.by_ref().count(), 1);
    assert!(matches!(
        it.error(),
        Some(ChunkError::TimeNotIncreasing { sample: 1, bit: 89 })
    ));
}

#[test]
fn truncation_anywhere_is_reported_at_the_cut_sample() {
    let samples: Vec<(i64, f64)> = (0..40)
        .map(|i| {
            (
                T0 + i * 15_000 + (i % 7) * 3,
                if i % 5 == 0 { 0.1 * i as f64 } else { i as f64 },
            )
        })
        .collect();
    let c = chunk_of(&samples);
    let bytes = c.bytes();
    for len in 0..bytes.len() {
        let mut it = ChunkIter::new(&bytes[..len]);
        let got = bits_of(it.by_ref());
        let Some(ChunkError::Truncated { sample, .. }) = it.error().cloned() else {
            panic!("prefix of {len} bytes: {:?}", it.error());
        };
        assert_eq!(got.len() as u64, sample);
        assert_eq!(got, want_bits(&samples[..got.len()]));
    }
}

#[test]
fn trailing_bytes_and_padding_are_refused() {
    let c = chunk_of(&[
        (T0, 1.0),
        (T0 + 15_000, 1.0),
        (T0 + 30_000, 2.0),
        (T0 + 45_003, 2.5),
        (T0 + 60_000, 3.5),
    ]);
    let end = 8 * 7 + 83;
    let mut longer = c.bytes().to_vec();
    longer.push(0);
    assert_eq!(error_of(&longer), ChunkError::TrailingData { bit: end });
    let mut padded = c.bytes().to_vec();
    *padded.last_mut().unwrap() |= 1;
    assert_eq!(error_of(&padded), ChunkError::TrailingData { bit: end });
}

#[test]
fn bad_codes_are_refused() {
    // Sample 1 with a delta of delta of 0 after a first delta of 0: time stands still.
    let still = hand_built(2, T0, &[(0, 1), (0, 1), (0, 1)]);
    assert_eq!(
        error_of(&still),
        ChunkError::TimeNotIncreasing { sample: 1, bit: 57 }
    );
    // A raw delta that overflows the time.
    let overflow = hand_built(2, i64::MAX - 1, &[(0, 1), (0b1111, 4), (2, 64), (0, 1)]);
    assert_eq!(
        error_of(&overflow),
        ChunkError::TimeNotIncreasing { sample: 1, bit: 89 }
    );
    // Reusing an integer width before any: value code 10.
    let no_width = hand_built(1, 0, &[(0b10, 2), (0, 8)]);
    assert_eq!(
        error_of(&no_width),
        ChunkError::NoWindow { sample: 0, bit: 16 }
    );
    // Reusing an XOR window before any: the escape from integers (111), then 0.
    let no_window = hand_built(1, 0, &[(0b1110, 4), (0, 4)]);
    assert_eq!(
        error_of(&no_window),
        ChunkError::NoWindow { sample: 0, bit: 16 }
    );
    // A window of 31 leading zeros and 63 significant bits.
    let bad_window = hand_built(1, 0, &[(0b1111, 4), (31, 5), (63, 6), (0, 1)]);
    assert_eq!(
        error_of(&bad_window),
        ChunkError::BadWindow {
            sample: 0,
            bit: 16,
            leading: 31,
            significant: 63
        }
    );
    // An integer of 2^53 + 1, then one that overflows i64.
    let too_big = hand_built(1, 0, &[(0b110, 3), (63, 6), (zigzag((1 << 53) + 1), 64)]);
    assert_eq!(
        error_of(&too_big),
        ChunkError::IntegerOutOfRange { sample: 0, bit: 16 }
    );
    let fields = [
        (0b110, 3),
        (63, 6),
        (zigzag(1 << 53), 64),
        (0b10_0001, 6),
        (0b10, 2),
        (zigzag(i64::MAX), 64),
    ];
    let overflow = hand_built(2, 0, &fields);
    assert_eq!(
        error_of(&overflow),
        ChunkError::IntegerOutOfRange { sample: 1, bit: 95 }
    );
}

#[test]
fn errors_say_where() {
    let e = ChunkError::BadWindow {
        sample: 3,
        bit: 99,
        leading: 31,
        significant: 63,
    };
    assert_eq!(
        e.to_string(),
        "chunk sample 3: value at bit 99 opens an XOR window of 31 leading zeros and 63 \
         significant bits (more than 64)"
    );
    assert_eq!(
        ChunkError::Truncated { sample: 2, bit: 80 }.to_string(),
        "chunk truncated: the bytes end inside sample 2, which starts at bit 80"
    );
}
