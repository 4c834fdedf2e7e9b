//! Fuzz target: decoding arbitrary bytes as an XOR chunk never panics, and every way of
//! decoding agrees: the iterator, `from_bytes`, `decode_range` and `seek`. Bytes that are
//! accepted keep working as a chunk (appending to them and decoding again).
//!
//! The first input byte is a mode: when odd, the rest is read as samples (a 2-byte time
//! step and 8 value bytes each), encoded, checked to round-trip, and the encoding then
//! damaged at a place the input chooses — so the fuzzer spends its time deep inside valid
//! chunks rather than in the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_model::Sample;
use tally_tsdb::chunk::{decode_range, ChunkIter, XorChunk};

fn bits(samples: &[Sample]) -> Vec<(i64, u64)> {
    samples
        .iter()
        .map(|s| (s.timestamp_ms, s.value.to_bits()))
        .collect()
}

/// Checks every decoder on `bytes` agrees with the iterator.
fn check(bytes: &[u8]) {
    let mut it = ChunkIter::new(bytes);
    let decoded: Vec<Sample> = it.by_ref().collect();
    let error = it.error().cloned();
    assert!(decoded.len() <= bytes.len() * 8);
    assert!(decoded
        .windows(2)
        .all(|w| w[0].timestamp_ms < w[1].timestamp_ms));

    match (XorChunk::from_bytes(bytes), &error) {
        (Ok(mut chunk), None) => {
            assert_eq!(chunk.len(), decoded.len());
            assert_eq!(chunk.bytes(), bytes);
            let mut want = bits(&decoded);
            let next = decoded
                .last()
                .map_or(Some(0), |s| s.timestamp_ms.checked_add(1));
            if let Some(t) = next {
                chunk.append(t, 0.25);
                want.push((t, 0.25f64.to_bits()));
            }
            let mut again = chunk.iter();
            assert_eq!(bits(&again.by_ref().collect::<Vec<_>>()), want);
            assert!(again.error().is_none());
        }
        (Err(e), Some(f)) => assert_eq!(&e, f),
        (reopened, _) => panic!("from_bytes {reopened:?} but the iterator says {error:?}"),
    }

    let mut out = Vec::new();
    let ranged = decode_range(bytes, i64::MIN, i64::MAX, &mut out);
    assert_eq!(bits(&out), bits(&decoded));
    assert_eq!(ranged.err(), error);

    if let (Some(first), Some(last)) = (decoded.first(), decoded.last()) {
        // A narrower range sees the same samples, and damage only if it reaches it.
        let (mint, maxt) = (first.timestamp_ms.saturating_add(1), last.timestamp_ms);
        out.clear();
        let ranged = decode_range(bytes, mint, maxt, &mut out);
        let want: Vec<Sample> = decoded
            .iter()
            .copied()
            .filter(|s| (mint..=maxt).contains(&s.timestamp_ms))
            .collect();
        assert_eq!(bits(&out), bits(&want));
        if let Err(e) = ranged {
            assert_eq!(Some(e), error);
        }
        let mid = decoded[decoded.len() / 2];
        let sought = ChunkIter::new(bytes).seek(mid.timestamp_ms);
        assert_eq!(sought.map(|s| s.value.to_bits()), Some(mid.value.to_bits()));
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        check(rest);
        return;
    }
    let (damage, rest) = rest.split_at(rest.len().min(2));
    let mut chunk = XorChunk::new();
    let mut want = Vec::new();
    let mut t = 1_700_000_000_000i64;
    for record in rest.chunks_exact(10) {
        t += i64::from(u16::from_le_bytes([record[0], record[1]])) + 1;
        let mut v = [0u8; 8];
        v.copy_from_slice(&record[2..]);
        let value = f64::from_bits(u64::from_le_bytes(v));
        chunk.append(t, value);
        want.push(Sample::new(t, value));
    }
    let mut bytes = chunk.bytes().to_vec();
    let mut it = ChunkIter::new(&bytes);
    assert_eq!(bits(&it.by_ref().collect::<Vec<_>>()), bits(&want));
    assert!(it.error().is_none());
    // Flip one bit, or cut the chunk, where the damage bytes say.
    if let [a, b] = *damage {
        let at = usize::from(u16::from_le_bytes([a, b]) >> 1);
        if a & 1 == 0 {
            let bit = at % (bytes.len() * 8);
            bytes[bit / 8] ^= 0x80 >> (bit % 8);
        } else {
            bytes.truncate(at % (bytes.len() + 1));
        }
    }
    check(&bytes);
});
