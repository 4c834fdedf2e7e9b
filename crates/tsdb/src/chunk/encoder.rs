//! The write half of an XOR chunk: [`Encoder`], the few words of state that add one
//! sample in O(1), writing into any [`ChunkBuf`].
//!
//! [`XorChunk`](super::XorChunk) pairs an encoder with a `Vec<u8>`. The head pairs one
//! with a slot of its chunk arena instead (`head/arena.rs`), so that ten thousand open
//! chunks are a few large blocks rather than ten thousand heap allocations.

use tally_model::Sample;

use super::bits::{put_uvarint, uvarint_len, write_bits, zigzag};
use super::scaled::{integral, scaled};
use super::{
    CodecState, DOD_BITS, LEADING_BITS, MAX_LEADING, NEW_WIDTH_BITS, NO_WINDOW, SIGNIFICANT_BITS,
    WIDTH_BITS,
};

/// A growable byte buffer an [`Encoder`] writes a chunk's encoding into.
pub(crate) trait ChunkBuf {
    /// The bytes written, to change in place.
    fn bytes_mut(&mut self) -> &mut [u8];
    /// Appends one byte.
    fn push(&mut self, byte: u8);
    /// Forgets every byte (keeping any capacity).
    fn clear(&mut self);
}

impl ChunkBuf for Vec<u8> {
    #[inline]
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
    #[inline]
    fn push(&mut self, byte: u8) {
        Vec::push(self, byte);
    }
    #[inline]
    fn clear(&mut self) {
        Vec::clear(self);
    }
}

/// The encoder state of one chunk: how many samples it holds, the unused low bits of its
/// last byte, and what the codec remembers of the last sample. The bytes live elsewhere
/// and are passed to [`append`](Self::append); the two together are a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Encoder {
    /// Samples appended.
    pub(super) count: usize,
    /// Unused low bits of the last byte of the buffer (0..=7), all zero.
    pub(super) free: u8,
    pub(super) state: CodecState,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// The state of an empty chunk.
    pub const fn new() -> Self {
        Self {
            count: 0,
            free: 0,
            state: CodecState::START,
        }
    }

    /// The state that wrote `bytes`, a complete chunk, and how many of its bytes an
    /// encoder continues from (0 for an empty chunk, whose encoding `[0]` is not kept).
    /// Decodes every sample; fails with the first damage found, and for any byte string
    /// that is not exactly a chunk (trailing bytes, non-zero padding).
    pub fn decode(bytes: &[u8]) -> Result<(Self, usize), super::ChunkError> {
        let mut it = super::ChunkIter::new(bytes);
        it.by_ref().for_each(drop);
        if let Some(e) = it.error() {
            return Err(e.clone());
        }
        let (read, end_bit, state) = it.into_parts();
        if read == 0 {
            return Ok((Self::new(), 0));
        }
        let enc = Self {
            // Each sample takes at least one bit, so the count fits in a usize.
            count: usize::try_from(read).unwrap_or(usize::MAX),
            free: ((8 - end_bit % 8) % 8) as u8,
            state,
        };
        Ok((enc, bytes.len()))
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the chunk has no samples.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The last sample, if any.
    pub fn last(&self) -> Option<Sample> {
        (self.count > 0).then(|| Sample::new(self.state.t, f64::from_bits(self.state.value)))
    }

    /// The first sample's time, read from `bytes` (this chunk's encoding), if any.
    pub fn min_time(&self, bytes: &[u8]) -> Option<i64> {
        if self.count == 0 {
            return None;
        }
        // The first timestamp follows the sample count; both were written by `append`.
        let at = uvarint_len(self.count as u64);
        super::bits::read_uvarint(bytes, at)
            .ok()
            .map(|(z, _)| super::bits::unzigzag(z))
    }

    /// Appends a sample to the encoding in `buf` (which must hold exactly what this
    /// encoder wrote). The caller guarantees `t` is after the last sample's time; a sample
    /// that breaks that contract is dropped, so the chunk stays decodable; debug builds
    /// panic instead. Any value is stored bit for bit. Never panics in release builds.
    pub fn append(&mut self, buf: &mut impl ChunkBuf, t: i64, v: f64) {
        if self.count == 0 {
            buf.clear();
            buf.push(1);
            let mut tmp = [0; 10];
            let n = put_uvarint(&mut tmp, zigzag(t));
            tmp[..n].iter().for_each(|b| buf.push(*b));
            *self = Self {
                state: CodecState {
                    t,
                    ..CodecState::START
                },
                ..Self::new()
            };
            self.write_value(buf, v.to_bits());
            self.count = 1;
            return;
        }
        if t <= self.state.t {
            debug_assert!(
                false,
                "XorChunk::append: time {t} is not after {}",
                self.state.t
            );
            return;
        }
        // 0 < t - last < 2^64, so the wrapped difference read as u64 is exact.
        let delta = t.wrapping_sub(self.state.t) as u64;
        self.write_delta(buf, delta);
        self.write_value(buf, v.to_bits());
        self.state.t = t;
        self.state.delta = delta;
        self.set_count(buf, self.count + 1);
    }

    /// Rewrites the sample count at the front, moving the rest when its length changes
    /// (the count only grows, so the varint only gets longer).
    fn set_count(&mut self, buf: &mut impl ChunkBuf, count: usize) {
        if count < 0x80 {
            if let Some(first) = buf.bytes_mut().first_mut() {
                *first = count as u8;
            }
            self.count = count;
            return;
        }
        let mut tmp = [0; 10];
        let n = put_uvarint(&mut tmp, count as u64);
        let old = uvarint_len(self.count as u64);
        for _ in old..n {
            buf.push(0);
        }
        let bytes = buf.bytes_mut();
        if n > old {
            let end = bytes.len() - (n - old);
            bytes.copy_within(old..end, n);
        }
        bytes[..n].copy_from_slice(&tmp[..n]);
        self.count = count;
    }

    #[inline]
    fn put(&mut self, buf: &mut impl ChunkBuf, value: u64, n: u32) {
        write_bits(buf, &mut self.free, value, n);
    }

    /// Writes the timestamp code for `delta` (sample 1 onwards).
    fn write_delta(&mut self, buf: &mut impl ChunkBuf, delta: u64) {
        let prev = self.state.delta;
        if delta <= i64::MAX as u64 && prev <= i64::MAX as u64 {
            let dod = delta as i64 - prev as i64;
            if dod == 0 {
                self.put(buf, 0, 1);
                return;
            }
            for (i, &bits) in DOD_BITS.iter().enumerate() {
                let limit = 1i64 << (bits - 1);
                if (-limit..limit).contains(&dod) {
                    // `i + 1` ones and a zero, then the payload.
                    let prefix_len = i as u32 + 2;
                    let prefix = (1u64 << prefix_len) - 2;
                    let payload = dod as u64 & ((1 << bits) - 1);
                    self.put(buf, (prefix << bits) | payload, prefix_len + bits);
                    return;
                }
            }
        }
        self.put(buf, 0b1111, 4);
        self.put(buf, delta, 64);
    }

    /// Writes the value code for a value with bits `bits`.
    fn write_value(&mut self, buf: &mut impl ChunkBuf, bits: u64) {
        let prev = self.state.value;
        if bits == prev {
            self.put(buf, 0, 1);
            self.state.int_delta = 0;
            return;
        }
        self.state.value = bits;
        if self.state.integral {
            // An integer after decimals goes through the XOR code, which resets the scale
            // to 0, so one odd value does not inflate the rest of the chunk's deltas.
            let returns_to_integers = self.state.scale > 0 && integral(bits).is_some();
            if let Some(m) = scaled(bits, self.state.scale).filter(|_| !returns_to_integers) {
                // Both are at most 2^53 in magnitude, so neither difference overflows.
                let d = m - self.state.int_value;
                let z = zigzag(d - self.state.int_delta);
                let n = (64 - z.leading_zeros()).max(1);
                let width = u32::from(self.state.width);
                debug_assert!(n <= 57, "|dod| <= 2^55");
                if width != 0 && n <= width && width <= n + NEW_WIDTH_BITS {
                    // One write when it fits in 64 bits (a reopened chunk may hold any width).
                    if width <= 62 {
                        self.put(buf, (0b10 << width) | z, 2 + width);
                    } else {
                        self.put(buf, 0b10, 2);
                        self.put(buf, z, width);
                    }
                } else {
                    self.put(
                        buf,
                        (0b110 << WIDTH_BITS) | u64::from(n - 1),
                        3 + WIDTH_BITS,
                    );
                    self.put(buf, z, n);
                    self.state.width = n as u8;
                }
                self.state.int_value = m;
                self.state.int_delta = d;
                return;
            }
            self.put(buf, 0b111, 3);
        } else {
            self.put(buf, 0b1, 1);
        }
        self.write_xor(buf, bits ^ prev);
        self.state.after_xor();
    }

    /// Writes the XOR of two different values: `0` and the bits inside the current
    /// window, or `1`, a new window and the bits inside it, whichever is shorter.
    fn write_xor(&mut self, buf: &mut impl ChunkBuf, x: u64) {
        debug_assert!(x != 0);
        let leading = x.leading_zeros().min(MAX_LEADING);
        let trailing = x.trailing_zeros();
        let significant = 64 - leading - trailing;
        let (wl, wt) = (
            u32::from(self.state.leading),
            u32::from(self.state.trailing),
        );
        if self.state.leading != NO_WINDOW
            && leading >= wl
            && trailing >= wt
            && 64 - wl - wt <= significant + LEADING_BITS + SIGNIFICANT_BITS
        {
            self.put(buf, 0, 1);
            self.put(buf, x >> wt, 64 - wl - wt);
            return;
        }
        let control = (1 << (LEADING_BITS + SIGNIFICANT_BITS))
            | (u64::from(leading) << SIGNIFICANT_BITS)
            | u64::from(significant & 63);
        self.put(buf, control, 1 + LEADING_BITS + SIGNIFICANT_BITS);
        self.put(buf, x >> trailing, significant);
        self.state.leading = leading as u8;
        self.state.trailing = trailing as u8;
    }
}
