//! XOR chunks: a series' float samples compressed the way Facebook's Gorilla and
//! Prometheus compress them, delta-of-delta timestamps and XOR'd values.
//!
//! The head keeps one open [`XorChunk`] per series and appends to it; once cut (~120
//! samples) the chunk's [`bytes`](XorChunk::bytes) are what is persisted. Readers decode
//! bytes with [`ChunkIter`] (sequential, with [`seek`](ChunkIter::seek)) or
//! [`decode_range`]; [`XorChunk::from_bytes`] reopens persisted bytes for more appends.
//!
//! The byte and bit layout, and what a decoder rejects, is specified in
//! `docs/format/chunk.md`. In short: a varint sample count, the first timestamp as a
//! zigzag varint, then a bit stream (most significant bit first) holding each sample's
//! timestamp as a delta of deltas in one of five prefix-coded buckets, and its value as
//! one bit when it repeats; else, when it and the previous value are integers or decimals
//! of up to six places at the same scale (counters, histogram buckets, CPU seconds), as a
//! delta of deltas of the scaled integers (`chunk/scaled.rs`); else XOR'd with the
//! previous value in Gorilla's leading/trailing-zero window. A regular 15 s series costs 1
//! bit per timestamp; a constant one 1 bit per value; the format document lists bytes per
//! sample for realistic series.
//!
//! Values round-trip bit for bit: every NaN payload (including the staleness marker
//! [`tally_model::STALE_NAN_BITS`]), ±Inf, -0.0.
//!
//! Decoding never trusts its input: damaged, truncated or hostile bytes yield a
//! [`ChunkError`] saying where and what, never a panic, an endless loop, or an allocation
//! larger than the output.
//!
//! # Example
//!
//! ```
//! use tally_model::Sample;
//! use tally_tsdb::chunk::{decode_range, ChunkIter, XorChunk};
//!
//! let mut chunk = XorChunk::new();
//! for i in 0..120 {
//!     chunk.append(1_700_000_000_000 + i * 15_000, (i * 3) as f64);
//! }
//! let stored = chunk.bytes().to_vec(); // persisted somewhere
//!
//! let mut it = ChunkIter::new(&stored);
//! assert_eq!(it.seek(1_700_000_020_000), Some(Sample::new(1_700_000_030_000, 6.0)));
//! assert_eq!(it.next(), Some(Sample::new(1_700_000_045_000, 9.0)));
//!
//! let mut out = Vec::new();
//! decode_range(&stored, 1_700_000_000_000, 1_700_000_015_000, &mut out)?;
//! assert_eq!(out.len(), 2);
//!
//! let mut reopened = XorChunk::from_bytes(&stored)?;
//! reopened.append(1_700_001_800_000, 360.0);
//! assert_eq!(reopened.len(), 121);
//! # Ok::<(), tally_tsdb::chunk::ChunkError>(())
//! ```

mod bits;
pub(crate) mod encoder;
mod iter;
pub mod packed;
mod scaled;
mod stored;

pub use iter::{decode_range, ChunkIter};
pub use packed::PackedIter;
pub use stored::{decode_stored_range, seal, seal_samples, StoredIter};

use std::fmt;

use tally_model::Sample;

use encoder::Encoder;
use scaled::classify;

/// Payload bits of the delta-of-delta buckets with prefixes `10`, `110` and `1110`; the
/// payload is the delta of deltas in two's complement. `0` means a delta of delta of zero,
/// and `1111` is followed by the 64-bit delta itself.
const DOD_BITS: [u32; 3] = [4, 8, 20];

/// Bits of the width (minus one) of a new integer width.
const WIDTH_BITS: u32 = 6;
/// What opening a new integer width costs over reusing one, besides the payload.
const NEW_WIDTH_BITS: u32 = 1 + WIDTH_BITS;

/// Bits of the leading-zero count in a new XOR window; longer runs are stored as 31.
const LEADING_BITS: u32 = 5;
/// The largest leading-zero count a window can hold.
const MAX_LEADING: u32 = (1 << LEADING_BITS) - 1;
/// Bits of the significant-bit count in a new XOR window (64 is stored as 0).
const SIGNIFICANT_BITS: u32 = 6;
/// `leading` when there is no window yet (before the first non-repeated value).
const NO_WINDOW: u8 = u8::MAX;

/// Why bytes are not a valid chunk. Bit offsets count from the first bit of the chunk's
/// first byte (the byte offset is `bit / 8`); `sample` is the 0-based index of the sample
/// being decoded. The samples before `sample` decoded correctly, which is what a repair
/// that truncates the chunk needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The bytes end inside sample `sample` (the header counts as part of sample 0), whose
    /// encoding starts at `bit`: the chunk is truncated or its sample count is wrong.
    #[error("chunk truncated: the bytes end inside sample {sample}, which starts at bit {bit}")]
    Truncated {
        /// The sample cut short.
        sample: u64,
        /// Where that sample (or the header field) starts.
        bit: u64,
    },
    /// The sample count or the first timestamp at `byte` is not a canonical LEB128 varint
    /// (more than 10 bytes, more than 64 bits, or a redundant final zero byte).
    #[error("chunk header: malformed varint at byte {byte}")]
    BadVarint {
        /// Where the varint starts.
        byte: usize,
    },
    /// Sample `sample`'s timestamp, coded at `bit`, is not after the previous one or does
    /// not fit in an `i64`.
    #[error("chunk sample {sample}: timestamp at bit {bit} does not increase")]
    TimeNotIncreasing {
        /// The offending sample.
        sample: u64,
        /// Where its timestamp code starts.
        bit: u64,
    },
    /// Sample `sample`'s value, coded at `bit`, reuses the integer width or the XOR window
    /// but none was set yet.
    #[error(
        "chunk sample {sample}: value at bit {bit} reuses a width or window before any was set"
    )]
    NoWindow {
        /// The offending sample.
        sample: u64,
        /// Where its value code starts.
        bit: u64,
    },
    /// Sample `sample`'s value, coded at `bit`, opens an XOR window whose leading zeros
    /// plus significant bits exceed 64.
    #[error(
        "chunk sample {sample}: value at bit {bit} opens an XOR window of {leading} leading \
         zeros and {significant} significant bits (more than 64)"
    )]
    BadWindow {
        /// The offending sample.
        sample: u64,
        /// Where its value code starts.
        bit: u64,
        /// The leading-zero count read.
        leading: u8,
        /// The significant-bit count read.
        significant: u8,
    },
    /// Sample `sample`'s value, coded at `bit` as an integer delta of deltas, is outside
    /// ±2^53 or overflows.
    #[error("chunk sample {sample}: integer value at bit {bit} is out of range")]
    IntegerOutOfRange {
        /// The offending sample.
        sample: u64,
        /// Where its value code starts.
        bit: u64,
    },
    /// A header field of a packed or stored chunk at `bit` holds a value the format does
    /// not allow (`what` says which).
    #[error("chunk field at bit {bit}: {what}")]
    BadField {
        /// Where the field starts.
        bit: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// After the last sample the header announces, the bytes go on past the padding of
    /// the last byte, or the padding bits (from `bit` on) are not zero.
    #[error("chunk has trailing data from bit {bit} after its last sample")]
    TrailingData {
        /// Where the data should have ended.
        bit: u64,
    },
}

/// What the encoder and the decoder both know after a sample: the sample, the last
/// timestamp delta, the integer state (scale, last scaled integer, delta, width), and the
/// XOR window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CodecState {
    /// The last timestamp.
    t: i64,
    /// The last timestamp delta (0 after the first sample). Deltas can exceed `i64::MAX`.
    delta: u64,
    /// The last value's bits (0, i.e. 0.0, before the first sample).
    value: u64,
    /// The last value's scaled integer, when `integral`.
    int_value: i64,
    /// The last scaled integer minus the one before when both were integer-coded, else 0.
    int_delta: i64,
    /// Whether the last value has a scaled integer the next one may be coded against.
    integral: bool,
    /// The decimal scale of the scaled integers (0..=6).
    scale: u8,
    /// The current integer width in bits (1..=64), or 0 before the first.
    width: u8,
    /// Leading zeros of the current XOR window, or [`NO_WINDOW`].
    leading: u8,
    /// Trailing zeros of the current XOR window.
    trailing: u8,
}

impl CodecState {
    /// Sets the integer state for the value just XOR-coded (`docs/format/chunk.md`).
    #[inline]
    fn after_xor(&mut self) {
        (self.integral, self.scale, self.int_value) = match classify(self.value) {
            Some((scale, m)) => (true, scale, m),
            None => (false, 0, 0),
        };
        self.int_delta = 0;
    }

    const START: Self = Self {
        t: 0,
        delta: 0,
        value: 0,
        int_value: 0,
        int_delta: 0,
        integral: true,
        scale: 0,
        width: 0,
        leading: NO_WINDOW,
        trailing: 0,
    };
}

/// An appendable XOR chunk: the encoded bytes of a series' samples plus the few words of
/// encoder state that let [`append`](Self::append) add one sample in O(1).
///
/// [`bytes`](Self::bytes) is the complete encoding after every append, so a reader may
/// decode a chunk that is still being written (under whatever lock the owner uses). A new
/// chunk allocates nothing; after that the chunk holds one `Vec<u8>` that grows by
/// doubling (see [`shrink_to_fit`](Self::shrink_to_fit)). Cloning copies the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct XorChunk {
    /// The encoding; empty for an empty chunk (whose encoding is the single byte 0).
    buf: Vec<u8>,
    enc: Encoder,
}

impl Default for XorChunk {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for XorChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XorChunk")
            .field("samples", &self.len())
            .field("bytes", &self.bytes().len())
            .field("min_time", &self.min_time())
            .field("max_time", &self.max_time())
            .finish()
    }
}

impl XorChunk {
    /// An empty chunk; allocates nothing.
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            enc: Encoder::new(),
        }
    }

    /// An empty chunk with room for `bytes` bytes of encoding, so that a chunk expected to
    /// grow to about that size is allocated once instead of reallocated as it doubles.
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            buf: Vec::with_capacity(bytes),
            ..Self::new()
        }
    }

    /// A chunk from an encoding and the encoder state that wrote it.
    pub(crate) fn from_parts(buf: Vec<u8>, enc: Encoder) -> Self {
        Self { buf, enc }
    }

    /// The encoding (empty for an empty chunk) and the encoder state.
    pub(crate) fn into_parts(self) -> (Vec<u8>, Encoder) {
        (self.buf, self.enc)
    }

    /// Appends a sample. The caller guarantees `t` is after the last sample's time (the
    /// head checks the order before appending). A sample that breaks that contract is
    /// dropped, so the chunk stays decodable; debug builds panic instead. Any value is
    /// stored bit for bit. Never panics in release builds.
    pub fn append(&mut self, t: i64, v: f64) {
        self.enc.append(&mut self.buf, t, v);
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.enc.len()
    }

    /// Whether the chunk has no samples.
    pub fn is_empty(&self) -> bool {
        self.enc.is_empty()
    }

    /// The complete encoding (`docs/format/chunk.md`): self-describing, valid after every
    /// append, and what [`from_bytes`](Self::from_bytes), [`ChunkIter::new`] and
    /// [`decode_range`] take. An empty chunk is the single byte `0`.
    pub fn bytes(&self) -> &[u8] {
        if self.buf.is_empty() {
            &[0]
        } else {
            &self.buf
        }
    }

    /// The first sample's time, if any.
    pub fn min_time(&self) -> Option<i64> {
        self.enc.min_time(&self.buf)
    }

    /// The last sample's time, if any.
    pub fn max_time(&self) -> Option<i64> {
        self.last().map(|s| s.timestamp_ms)
    }

    /// The last sample, if any.
    pub fn last(&self) -> Option<Sample> {
        self.enc.last()
    }

    /// Reopens a persisted chunk to append to it: decodes every sample to restore the
    /// encoder state, so it costs one full decode and a copy of the bytes. Appending to
    /// the result gives exactly the bytes appending all samples to one chunk would have.
    ///
    /// Fails with the first damage found; any byte string that is not exactly a chunk
    /// (including trailing bytes or non-zero padding) is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ChunkError> {
        let (enc, len) = Encoder::decode(bytes)?;
        Ok(Self {
            buf: bytes[..len].to_vec(),
            enc,
        })
    }

    /// The encoding alone, as [`bytes`](Self::bytes) returns it, without the encoder state:
    /// for a cut chunk kept in memory, a `Box<[u8]>` takes 16 bytes besides the encoding
    /// where an `XorChunk` takes 88 (and the spare capacity is released). Reopen it with
    /// [`from_bytes`](Self::from_bytes) to append again.
    pub fn into_bytes(self) -> Box<[u8]> {
        if self.buf.is_empty() {
            Box::new([0])
        } else {
            self.buf.into_boxed_slice()
        }
    }

    /// An iterator over the samples, oldest first.
    pub fn iter(&self) -> ChunkIter<'_> {
        ChunkIter::new(self.bytes())
    }

    /// Bytes of heap held (the buffer's capacity, which can be up to twice its length).
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    /// Cuts the chunk: returns its samples as a new chunk whose buffer is exactly as long
    /// as the encoding, and leaves `self` empty but keeping its buffer for the next chunk.
    pub fn cut(&mut self) -> XorChunk {
        // `Vec::clone` allocates exactly the length.
        let cut = self.clone();
        self.buf.clear();
        self.enc = Encoder::new();
        cut
    }

    /// Releases unused buffer capacity, e.g. when the head cuts the chunk and keeps it in
    /// memory. Appending afterwards reallocates.
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests;
