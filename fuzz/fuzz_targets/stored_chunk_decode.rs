//! Fuzz target: decoding arbitrary bytes as a stored chunk (a tag, then an XOR or packed
//! chunk) never panics, both decoders agree, and sealing any samples gives them back.
//!
//! The first input byte is a mode: when odd, the rest is read as samples (a 2-byte time
//! step and 8 value bytes each), sealed, checked to round-trip, and the stored bytes then
//! damaged where the input says, so the fuzzer works inside valid packed chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_model::Sample;
use tally_tsdb::chunk::{decode_stored_range, seal, StoredIter, XorChunk};

fn bits(samples: &[Sample]) -> Vec<(i64, u64)> {
    samples
        .iter()
        .map(|s| (s.timestamp_ms, s.value.to_bits()))
        .collect()
}

fn check(bytes: &[u8]) {
    let mut it = StoredIter::new(bytes);
    let decoded: Vec<Sample> = it.by_ref().collect();
    let error = it.error();
    assert!(decoded
        .windows(2)
        .all(|w| w[0].timestamp_ms < w[1].timestamp_ms));
    let mut out = Vec::new();
    let ranged = decode_stored_range(bytes, i64::MIN, i64::MAX, &mut out);
    assert_eq!(bits(&out), bits(&decoded));
    assert_eq!(ranged.err(), error);
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
    let mut bytes = seal(&chunk);
    let mut it = StoredIter::new(&bytes);
    assert_eq!(bits(&it.by_ref().collect::<Vec<_>>()), bits(&want));
    assert!(it.error().is_none());
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
