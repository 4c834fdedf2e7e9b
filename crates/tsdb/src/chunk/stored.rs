//! Stored chunks: what the store keeps for a sealed chunk, one tag byte and then an XOR
//! chunk or a packed chunk, whichever is smaller (`docs/format/chunk.md`, "Stored
//! chunks").

use tally_model::Sample;

use super::{packed, ChunkError, ChunkIter, PackedIter, XorChunk};

/// The tag of a stored XOR chunk.
const TAG_XOR: u8 = 0;
/// The tag of a stored packed chunk.
const TAG_PACKED: u8 = 1;

/// The stored form of a sealed chunk: packed when that is smaller, else its XOR bytes,
/// behind the tag byte. Costs a decode of the chunk and a packed encode (which itself
/// decodes once more to check it).
pub fn seal(chunk: &XorChunk) -> Vec<u8> {
    let samples: Vec<Sample> = chunk.iter().collect();
    stored_form(chunk, &samples)
}

/// [`seal`] for samples (times strictly increasing; a sample not after the one before is
/// dropped, as [`XorChunk::append`] does). The XOR encoding is built for comparison only
/// when the packed one takes more than `COMPARE_ABOVE` bytes per sample (the store
/// re-encodes growing chunks at every checkpoint, and packing is smaller whenever values
/// have a short decimal or binary form); below that the packed form is kept.
pub fn seal_samples(samples: &[Sample]) -> Vec<u8> {
    let mut kept = Vec::with_capacity(samples.len());
    for s in samples {
        if kept
            .last()
            .is_none_or(|l: &Sample| l.timestamp_ms < s.timestamp_ms)
        {
            kept.push(*s);
        }
    }
    if let Some(p) = packed::encode(&kept).filter(|p| p.len() <= COMPARE_ABOVE * kept.len()) {
        return tagged(TAG_PACKED, &p);
    }
    let mut xor = XorChunk::new();
    for s in &kept {
        xor.append(s.timestamp_ms, s.value);
    }
    stored_form(&xor, &kept)
}

/// Bytes per sample above which [`seal_samples`] compares the packed encoding with XOR.
const COMPARE_ABOVE: usize = 4;

/// A tag byte and a body.
fn tagged(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + body.len());
    out.push(tag);
    out.extend_from_slice(body);
    out
}

/// The tagged stored bytes of `xor`, whose samples are `samples`.
fn stored_form(xor: &XorChunk, samples: &[Sample]) -> Vec<u8> {
    let xor = xor.bytes();
    let packed = packed::encode(samples).filter(|p| p.len() < xor.len());
    match &packed {
        Some(p) => tagged(TAG_PACKED, p),
        None => tagged(TAG_XOR, xor),
    }
}

/// Iterates over a stored chunk's samples, oldest first, whichever its encoding; an empty
/// input or an unknown tag is an error (see [`error`](Self::error)), as is any damage the
/// encoding's iterator reports. Bit offsets in errors count from the tag byte's first
/// bit.
#[derive(Debug, Clone)]
pub enum StoredIter<'a> {
    /// An XOR chunk.
    Xor(ChunkIter<'a>),
    /// A packed chunk.
    Packed(PackedIter<'a>),
    /// Bytes that are not a stored chunk.
    Invalid(ChunkError),
}

impl<'a> StoredIter<'a> {
    /// An iterator over the stored chunk in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        match bytes.split_first() {
            Some((&TAG_XOR, rest)) => StoredIter::Xor(ChunkIter::new(rest)),
            Some((&TAG_PACKED, rest)) => StoredIter::Packed(PackedIter::new(rest)),
            _ => StoredIter::Invalid(ChunkError::BadField {
                bit: 0,
                what: "unknown stored chunk tag",
            }),
        }
    }

    /// Why the iterator stopped before the end, once it has stopped, with bit offsets
    /// counted from the tag byte.
    pub fn error(&self) -> Option<ChunkError> {
        let shift = |e: &ChunkError| {
            let mut e = e.clone();
            match &mut e {
                ChunkError::Truncated { bit, .. }
                | ChunkError::TimeNotIncreasing { bit, .. }
                | ChunkError::NoWindow { bit, .. }
                | ChunkError::BadWindow { bit, .. }
                | ChunkError::IntegerOutOfRange { bit, .. }
                | ChunkError::BadField { bit, .. }
                | ChunkError::TrailingData { bit } => *bit += 8,
                ChunkError::BadVarint { byte } => *byte += 1,
            }
            e
        };
        match self {
            StoredIter::Xor(it) => it.error().map(shift),
            StoredIter::Packed(it) => it.error().map(shift),
            StoredIter::Invalid(e) => Some(e.clone()),
        }
    }
}

impl Iterator for StoredIter<'_> {
    type Item = Sample;

    #[inline]
    fn next(&mut self) -> Option<Sample> {
        match self {
            StoredIter::Xor(it) => it.next(),
            StoredIter::Packed(it) => it.next(),
            StoredIter::Invalid(_) => None,
        }
    }
}

/// [`decode_range`](super::decode_range) for a stored chunk: appends the samples with
/// times in `[mint, maxt]`, oldest first; on damage returns the error, with the samples
/// decoded before it already in `out`.
pub fn decode_stored_range(
    bytes: &[u8],
    mint: i64,
    maxt: i64,
    out: &mut Vec<Sample>,
) -> Result<(), ChunkError> {
    if mint > maxt {
        return Ok(());
    }
    let mut it = StoredIter::new(bytes);
    super::iter::push_range(&mut it, mint, maxt, out);
    match it.error() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
