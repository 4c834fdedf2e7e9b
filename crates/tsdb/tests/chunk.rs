//! Property tests of the XOR chunk codec (`tally_tsdb::chunk`), bounded fuzzing included.
//!
//! Properties: any strictly increasing timestamps with any value bits round-trip exactly;
//! reopening a chunk with `from_bytes` and appending gives the bytes of appending all at
//! once; `decode_range` and `seek` agree with filtering the decoded samples; and no bytes
//! at all (random, truncated, bit-flipped, spliced) make the decoder panic, loop or accept
//! something that is not a valid chunk. The same for stored chunks (`seal`, `StoredIter`):
//! sealing any chunk gives back its samples exactly, from packed or XOR bytes, never
//! larger than the XOR bytes plus the tag; and hostile stored bytes never panic. The number of cases per property is
//! `TALLY_FUZZ_CASES` (default 256). Longer, coverage-guided runs: `fuzz/` (`chunk_decode`).

use proptest::prelude::*;
use tally_model::{Sample, STALE_NAN_BITS};
use tally_tsdb::chunk::{
    decode_range, decode_stored_range, packed, seal, ChunkError, ChunkIter, PackedIter, StoredIter,
    XorChunk,
};

fn cases() -> u32 {
    std::env::var("TALLY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// A step between timestamps: mostly the shapes real series have, sometimes anything.
fn delta() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => Just(15_000u64),
        2 => 14_990u64..15_010,
        1 => 1u64..300,
        1 => 1u64..10_000_000,
        1 => 1u64..=u64::MAX,
    ]
}

/// A value: repeats, integers, decimals, special floats, or any bit pattern.
#[derive(Debug, Clone)]
enum Value {
    Repeat,
    Step(i64),
    Decimal(i64, u8),
    Bits(u64),
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => Just(Value::Repeat),
        3 => (-1_000i64..1_000).prop_map(Value::Step),
        1 => any::<i64>().prop_map(Value::Step),
        2 => (-100_000i64..100_000, 0u8..8).prop_map(|(m, k)| Value::Decimal(m, k)),
        1 => prop::sample::select(vec![
            STALE_NAN_BITS,
            f64::NAN.to_bits(),
            0x7ff8_0000_0000_0001,
            f64::INFINITY.to_bits(),
            f64::NEG_INFINITY.to_bits(),
            (-0.0f64).to_bits(),
            0.1f64.to_bits(),
            (1u64 << 53) as f64 as u64,
            ((1u64 << 53) as f64).to_bits(),
            (-((1u64 << 53) as f64)).to_bits(),
            (((1u64 << 53) + 2) as f64).to_bits(),
            1,
        ])
        .prop_map(Value::Bits),
        2 => any::<u64>().prop_map(Value::Bits),
    ]
}

/// Strictly increasing timestamps (stopping before i64 overflows) with values.
fn series() -> impl Strategy<Value = Vec<(i64, u64)>> {
    (
        any::<i64>(),
        prop::collection::vec((delta(), value()), 0..200),
    )
        .prop_map(|(start, steps)| {
            let mut out: Vec<(i64, u64)> = Vec::with_capacity(steps.len());
            let mut t = start;
            for (i, (d, v)) in steps.into_iter().enumerate() {
                if i > 0 {
                    match t.checked_add_unsigned(d) {
                        Some(next) => t = next,
                        None => break,
                    }
                }
                let prev = out.last().map_or(0, |s| s.1);
                let bits = match v {
                    Value::Repeat => prev,
                    Value::Step(s) => {
                        let base = f64::from_bits(prev);
                        let base = if base.is_finite() { base.round() } else { 0.0 };
                        (base + s as f64).to_bits()
                    }
                    Value::Decimal(m, k) => (m as f64 / 10f64.powi(i32::from(k))).to_bits(),
                    Value::Bits(b) => b,
                };
                out.push((t, bits));
            }
            out
        })
}

fn encode(samples: &[(i64, u64)]) -> XorChunk {
    let mut c = XorChunk::new();
    for &(t, v) in samples {
        c.append(t, f64::from_bits(v));
    }
    c
}

fn as_bits(samples: impl IntoIterator<Item = Sample>) -> Vec<(i64, u64)> {
    samples
        .into_iter()
        .map(|s| (s.timestamp_ms, s.value.to_bits()))
        .collect()
}

/// Decodes hostile bytes every way there is and checks the answers are consistent.
fn check_hostile(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut it = ChunkIter::new(bytes);
    let decoded: Vec<Sample> = it.by_ref().collect();
    let error = it.error().cloned();
    // Each sample takes at least a bit: the output is bounded by the input.
    prop_assert!(decoded.len() <= bytes.len() * 8);
    prop_assert!(decoded
        .windows(2)
        .all(|w| w[0].timestamp_ms < w[1].timestamp_ms));
    let reopened = XorChunk::from_bytes(bytes);
    match (&reopened, &error) {
        (Ok(c), None) => {
            prop_assert_eq!(c.len(), decoded.len());
            // Accepted bytes keep working as a chunk: append and decode again.
            let mut c = c.clone();
            let next = decoded
                .last()
                .map_or(Some(0), |s| s.timestamp_ms.checked_add(1));
            let mut want = as_bits(decoded.iter().copied());
            if let Some(t) = next {
                c.append(t, 2.5);
                want.push((t, 2.5f64.to_bits()));
            }
            let mut again = c.iter();
            prop_assert_eq!(as_bits(again.by_ref()), want);
            prop_assert_eq!(again.error(), None);
        }
        (Err(e), Some(f)) => prop_assert_eq!(e, f),
        _ => prop_assert!(
            false,
            "from_bytes {:?} but iterator error {:?}",
            reopened,
            error
        ),
    }
    let mut out = Vec::new();
    let ranged = decode_range(bytes, i64::MIN, i64::MAX, &mut out);
    prop_assert_eq!(as_bits(out), as_bits(decoded.iter().copied()));
    prop_assert_eq!(ranged.err(), error);
    if let Some(mid) = decoded.get(decoded.len() / 2) {
        let sought = ChunkIter::new(bytes).seek(mid.timestamp_ms);
        prop_assert_eq!(as_bits(sought), as_bits([*mid]));
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(usize),
    SetByte(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => any::<usize>().prop_map(Mutation::FlipBit),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        2 => any::<usize>().prop_map(Mutation::Truncate),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<usize>().prop_map(Mutation::Remove),
    ]
}

fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    match *m {
        Mutation::FlipBit(i) if len > 0 => bytes[(i / 8) % len] ^= 1 << (i % 8),
        Mutation::SetByte(i, b) if len > 0 => bytes[i % len] = b,
        Mutation::Truncate(i) => bytes.truncate(i % (len + 1)),
        Mutation::Insert(i, b) => bytes.insert(i % (len + 1), b),
        Mutation::Remove(i) if len > 0 => {
            bytes.remove(i % len);
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn samples_round_trip_bit_for_bit(samples in series()) {
        let c = encode(&samples);
        prop_assert_eq!(c.len(), samples.len());
        let mut it = c.iter();
        prop_assert_eq!(as_bits(it.by_ref()), samples.clone());
        prop_assert_eq!(it.error(), None);
        prop_assert_eq!(c.min_time(), samples.first().map(|s| s.0));
        prop_assert_eq!(c.max_time(), samples.last().map(|s| s.0));
        prop_assert_eq!(c.last().map(|s| (s.timestamp_ms, s.value.to_bits())), samples.last().copied());
    }

    #[test]
    fn reopening_then_appending_equals_appending_at_once(
        samples in series(),
        split in any::<prop::sample::Index>(),
    ) {
        let whole = encode(&samples);
        let at = split.index(samples.len() + 1);
        let mut c = XorChunk::from_bytes(encode(&samples[..at]).bytes())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for &(t, v) in &samples[at..] {
            c.append(t, f64::from_bits(v));
        }
        prop_assert_eq!(c.bytes(), whole.bytes());
        prop_assert_eq!(c, whole);
    }

    #[test]
    fn decode_range_and_seek_agree_with_filtering(
        samples in series(),
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
        offsets in (-2i64..=2, -2i64..=2),
    ) {
        let c = encode(&samples);
        // Bounds near sample times, so ranges often start or end exactly on one.
        let bound = |i: &prop::sample::Index, off: i64| {
            samples.get(i.index(samples.len().max(1))).map_or(off, |s| s.0.saturating_add(off))
        };
        let (mint, maxt) = (bound(&a, offsets.0), bound(&b, offsets.1));
        let want: Vec<(i64, u64)> =
            samples.iter().copied().filter(|s| (mint..=maxt).contains(&s.0)).collect();
        let mut out = Vec::new();
        prop_assert_eq!(decode_range(c.bytes(), mint, maxt, &mut out), Ok(()));
        prop_assert_eq!(as_bits(out), want);

        let mut it = c.iter();
        let sought = it.seek(mint).map(|s| (s.timestamp_ms, s.value.to_bits()));
        let mut rest = as_bits(it);
        let want: Vec<(i64, u64)> = samples.iter().copied().filter(|s| s.0 >= mint).collect();
        prop_assert_eq!(sought, want.first().copied());
        if sought.is_some() {
            rest.insert(0, want[0]);
        }
        prop_assert_eq!(rest, want);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        check_hostile(&bytes)?;
    }

    #[test]
    fn damaged_chunks_never_panic(
        samples in series(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut bytes = encode(&samples).bytes().to_vec();
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        check_hostile(&bytes)?;
    }

    #[test]
    fn every_prefix_is_refused(samples in series()) {
        let c = encode(&samples);
        let bytes = c.bytes();
        for len in 0..bytes.len() {
            let mut it = ChunkIter::new(&bytes[..len]);
            let got = as_bits(it.by_ref());
            let Some(ChunkError::Truncated { sample, .. }) = it.error() else {
                return Err(TestCaseError::fail(format!("{len} bytes: {:?}", it.error())));
            };
            prop_assert_eq!(got.len() as u64, *sample);
            prop_assert_eq!(&got[..], &samples[..got.len()]);
        }
    }
}

/// Decodes hostile stored-chunk bytes both ways and checks they agree and are sane.
fn check_hostile_stored(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut it = StoredIter::new(bytes);
    let decoded: Vec<Sample> = it.by_ref().collect();
    let error = it.error();
    prop_assert!(decoded.len() as u64 <= packed::MAX_SAMPLES.max(bytes.len() as u64 * 8));
    prop_assert!(decoded
        .windows(2)
        .all(|w| w[0].timestamp_ms < w[1].timestamp_ms));
    let mut out = Vec::new();
    let ranged = decode_stored_range(bytes, i64::MIN, i64::MAX, &mut out);
    prop_assert_eq!(as_bits(out), as_bits(decoded.iter().copied()));
    prop_assert_eq!(ranged.err(), error);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn sealed_chunks_round_trip_and_are_never_larger(samples in series()) {
        let c = encode(&samples);
        let stored = seal(&c);
        prop_assert!(stored.len() <= c.bytes().len() + 1);
        let mut it = StoredIter::new(&stored);
        prop_assert_eq!(as_bits(it.by_ref()), samples.clone());
        prop_assert_eq!(it.error(), None);
        // The packed code alone handles everything the XOR code does.
        if !samples.is_empty() {
            let as_samples: Vec<Sample> =
                samples.iter().map(|&(t, v)| Sample::new(t, f64::from_bits(v))).collect();
            let p = packed::encode(&as_samples);
            prop_assert!(p.is_some());
            let p = p.unwrap_or_default();
            let mut it = PackedIter::new(&p);
            prop_assert_eq!(as_bits(it.by_ref()), samples.clone());
            prop_assert_eq!(it.error(), None);
        }
    }

    #[test]
    fn arbitrary_stored_bytes_never_panic(
        tag in 0u8..3,
        bytes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut b = vec![tag];
        b.extend(bytes);
        check_hostile_stored(&b)?;
    }

    #[test]
    fn damaged_stored_chunks_never_panic(
        samples in series(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut bytes = seal(&encode(&samples));
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        check_hostile_stored(&bytes)?;
    }

    #[test]
    fn every_prefix_of_a_packed_chunk_is_refused(samples in series()) {
        let as_samples: Vec<Sample> =
            samples.iter().map(|&(t, v)| Sample::new(t, f64::from_bits(v))).collect();
        let Some(bytes) = packed::encode(&as_samples) else {
            prop_assert!(samples.is_empty());
            return Ok(());
        };
        for len in 0..bytes.len() {
            let mut it = PackedIter::new(&bytes[..len]);
            let got = as_bits(it.by_ref());
            let error = it.error().cloned();
            prop_assert!(error.is_some(), "{} of {} bytes accepted", len, bytes.len());
            prop_assert_eq!(&got[..], &samples[..got.len()]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn packed_columns_round_trip(samples in series(), rotate in 0u32..64) {
        let times: Vec<i64> = samples.iter().map(|s| s.0).collect();
        let values: Vec<u64> = samples.iter().map(|s| s.1).collect();
        let rotated: Vec<u64> = values.iter().map(|v| v.rotate_left(rotate)).collect();
        let reversed: Vec<u64> = values.iter().rev().copied().collect();
        let columns: [&[u64]; 3] = [&values, &rotated, &reversed];
        match packed::encode_columns(&times, &columns) {
            None => prop_assert!(times.is_empty()),
            Some(bytes) => {
                let decoded = packed::decode_columns(&bytes, 3, times.len());
                prop_assert_eq!(decoded, Ok((times, vec![values, rotated, reversed])));
            }
        }
    }

    #[test]
    fn arbitrary_packed_columns_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        columns in 0usize..6,
    ) {
        if let Ok((times, values)) = packed::decode_columns(&bytes, columns, 1000) {
            prop_assert!(times.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(values.iter().all(|c| c.len() == times.len()));
        }
    }
}
