//! Decoding: [`ChunkIter`] and [`decode_range`].

use std::iter::FusedIterator;

use tally_model::Sample;

use super::bits::{read_uvarint, unzigzag, BitReader, VarintError};
use super::scaled::{to_float, MAX_INTEGER};
use super::{
    ChunkError, CodecState, DOD_BITS, LEADING_BITS, NO_WINDOW, SIGNIFICANT_BITS, WIDTH_BITS,
};

/// Iterates over the samples of encoded chunk bytes, oldest first.
///
/// It stops after the number of samples the header announces, or at the first damage; in
/// the latter case [`error`](Self::error) says what and where. The samples yielded before
/// the damage are correct (each is decoded from intact bits and timestamps are checked to
/// increase). After the last sample it checks that the bytes end there, so a fully
/// consumed iterator with no error means the whole chunk is valid.
///
/// The work per sample is bounded and nothing is allocated, whatever the bytes say.
#[derive(Debug, Clone)]
pub struct ChunkIter<'a> {
    reader: BitReader<'a>,
    state: CodecState,
    /// Samples the header announces (0 after an error).
    count: u64,
    /// Samples decoded so far.
    read: u64,
    /// The sample returned last, which [`seek`](Self::seek) may return again.
    current: Option<Sample>,
    error: Option<ChunkError>,
    /// Whether the end was reached and checked, or an error stopped the iterator.
    done: bool,
}

impl<'a> ChunkIter<'a> {
    /// An iterator over the chunk in `bytes`. A malformed header is reported by
    /// [`error`](Self::error), and the iterator is then empty.
    pub fn new(bytes: &'a [u8]) -> Self {
        let mut it = Self {
            reader: BitReader::new(bytes, 0),
            state: CodecState::START,
            count: 0,
            read: 0,
            current: None,
            error: None,
            done: false,
        };
        match read_header(bytes) {
            Ok((count, t0, start)) => {
                it.count = count;
                it.state.t = t0;
                it.reader = BitReader::new(bytes, start as u64 * 8);
            }
            Err(e) => {
                it.error = Some(e);
                it.done = true;
            }
        }
        it
    }

    /// Why the iterator stopped before the end, once it has stopped; `None` while it runs
    /// and after a clean end.
    pub fn error(&self) -> Option<&ChunkError> {
        self.error.as_ref()
    }

    /// The first sample with time `>= t`, continuing from the current position: like
    /// Prometheus' `Seek`, it never moves backwards, and if the sample returned last (by
    /// [`next`](Iterator::next) or `seek`) is already at or after `t`, it is returned
    /// again. The following `next` returns the sample after the one returned. `None` when
    /// there is no such sample (or at damage; see [`error`](Self::error)).
    pub fn seek(&mut self, t: i64) -> Option<Sample> {
        if let Some(s) = self.current {
            if s.timestamp_ms >= t {
                return Some(s);
            }
        }
        self.find(|s| s.timestamp_ms >= t)
    }

    /// Samples read, where the reader stopped, and the codec state (for
    /// [`XorChunk::from_bytes`](super::XorChunk::from_bytes)).
    pub(super) fn into_parts(self) -> (u64, u64, CodecState) {
        (self.read, self.reader.pos(), self.state)
    }

    fn fail(&mut self, error: ChunkError) -> Option<Sample> {
        self.error = Some(error);
        self.count = self.read;
        self.done = true;
        None
    }

    /// Checks that the bytes end with the last sample, padded with zero bits.
    fn check_end(&mut self) {
        let pos = self.reader.pos();
        let data = self.reader.data();
        let used = pos % 8;
        let clean = pos.div_ceil(8) == data.len() as u64
            && (used == 0 || data.last().is_some_and(|b| b & (0xff >> used) == 0));
        if !clean {
            self.error = Some(ChunkError::TrailingData { bit: pos });
        }
    }

    /// Decodes sample `self.read`.
    #[inline]
    fn decode(&mut self) -> Result<Sample, ChunkError> {
        let sample = self.read;
        // Sample 0 starts with the header.
        let start = if sample == 0 { 0 } else { self.reader.pos() };
        if sample > 0 {
            let bit = start;
            let delta = self
                .read_delta()
                .ok_or(ChunkError::Truncated { sample, bit })?;
            match self.state.t.checked_add_unsigned(delta) {
                Some(t) if delta > 0 => self.state.t = t,
                _ => return Err(ChunkError::TimeNotIncreasing { sample, bit }),
            }
            self.state.delta = delta;
        }
        self.read_value(sample, start)?;
        Ok(Sample::new(self.state.t, f64::from_bits(self.state.value)))
    }

    /// Reads a timestamp code and returns the delta it stands for; `None` if truncated.
    #[inline]
    fn read_delta(&mut self) -> Option<u64> {
        let r = &mut self.reader;
        // The longest code this reads at once: 1110 and 20 bits.
        let (bits, avail) = r.peek(4 + DOD_BITS[2]);
        // The prefix is 0, 10, 110, 1110 or 1111.
        let ones = bits.leading_ones().min(4);
        let prev = self.state.delta;
        match ones {
            0 if avail >= 1 => {
                r.skip(1);
                Some(prev)
            }
            1..=3 => {
                let width = DOD_BITS[ones as usize - 1];
                let len = ones + 1 + width;
                if len > avail {
                    return None;
                }
                let dod = ((bits << (ones + 1)) as i64) >> (64 - width);
                r.skip(len);
                // The encoder only uses a bucket when both deltas fit in an i64, so the
                // wrapping sum is the exact delta; for hostile input it is merely checked.
                Some(prev.wrapping_add(dod as u64))
            }
            4 if avail >= 4 => {
                r.skip(4);
                r.read_bits(64)
            }
            _ => None,
        }
    }

    /// Reads a value code and updates the value state; `start` is where the sample starts
    /// (for errors).
    #[inline]
    fn read_value(&mut self, sample: u64, start: u64) -> Result<(), ChunkError> {
        let bit = self.reader.pos();
        let truncated = || ChunkError::Truncated { sample, bit: start };
        let r = &mut self.reader;
        let (bits, avail) = r.peek(3);
        if avail == 0 {
            return Err(truncated());
        }
        if bits >> 63 == 0 {
            r.skip(1);
            self.state.int_delta = 0;
            return Ok(());
        }
        if !self.state.integral {
            r.skip(1);
            return self.read_xor(sample, start, bit);
        }
        // 10, 110 or 111.
        let ones = bits.leading_ones().min(3);
        if avail < ones + u32::from(ones < 3) {
            return Err(truncated());
        }
        let z = match ones {
            1 => {
                if self.state.width == 0 {
                    return Err(ChunkError::NoWindow { sample, bit });
                }
                r.skip(2);
                r.read_bits(u32::from(self.state.width))
            }
            2 => {
                r.skip(3);
                let width = r.read_bits(WIDTH_BITS).ok_or_else(truncated)? as u32 + 1;
                self.state.width = width as u8;
                r.read_bits(width)
            }
            _ => {
                r.skip(3);
                return self.read_xor(sample, start, bit);
            }
        };
        let dod = unzigzag(z.ok_or_else(truncated)?);
        let prev = self.state.int_value;
        // |prev| <= 2^53 and |int_delta| <= 2^54: only adding `dod` can overflow.
        let m = (prev + self.state.int_delta)
            .checked_add(dod)
            .filter(|m| m.unsigned_abs() <= MAX_INTEGER as u64)
            .ok_or(ChunkError::IntegerOutOfRange { sample, bit })?;
        self.state.int_delta = m - prev;
        self.state.int_value = m;
        self.state.value = to_float(m, self.state.scale).to_bits();
        Ok(())
    }

    /// Reads the XOR of a value that differs from the last one (after its control bits);
    /// `bit` is where the value code starts.
    #[inline]
    fn read_xor(&mut self, sample: u64, start: u64, bit: u64) -> Result<(), ChunkError> {
        let truncated = || ChunkError::Truncated { sample, bit: start };
        let r = &mut self.reader;
        let (bits, avail) = r.peek(1 + LEADING_BITS + SIGNIFICANT_BITS);
        if avail == 0 {
            return Err(truncated());
        }
        let (leading, trailing) = if bits >> 63 == 0 {
            if self.state.leading == NO_WINDOW {
                return Err(ChunkError::NoWindow { sample, bit });
            }
            r.skip(1);
            (
                u32::from(self.state.leading),
                u32::from(self.state.trailing),
            )
        } else {
            let header_len = 1 + LEADING_BITS + SIGNIFICANT_BITS;
            if avail < header_len {
                return Err(truncated());
            }
            r.skip(header_len);
            let header = (bits << 1) >> (64 - LEADING_BITS - SIGNIFICANT_BITS);
            let leading = (header >> SIGNIFICANT_BITS) as u32;
            let significant = match (header & ((1 << SIGNIFICANT_BITS) - 1)) as u32 {
                0 => 64,
                s => s,
            };
            if leading + significant > 64 {
                return Err(ChunkError::BadWindow {
                    sample,
                    bit,
                    leading: leading as u8,
                    significant: significant as u8,
                });
            }
            let trailing = 64 - leading - significant;
            self.state.leading = leading as u8;
            self.state.trailing = trailing as u8;
            (leading, trailing)
        };
        let x = r.read_bits(64 - leading - trailing).ok_or_else(truncated)?;
        self.state.value ^= x << trailing;
        self.state.after_xor();
        Ok(())
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = Sample;

    #[inline]
    fn next(&mut self) -> Option<Sample> {
        if self.read >= self.count {
            if !self.done {
                self.done = true;
                self.check_end();
            }
            return None;
        }
        match self.decode() {
            Ok(s) => {
                self.read += 1;
                self.current = Some(s);
                Some(s)
            }
            Err(e) => self.fail(e),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // The count is untrusted, so it is only an upper bound, and no more samples than
        // bits remain can follow (each takes at least one bit).
        let left_bits = (self.reader.data().len() as u64 * 8).saturating_sub(self.reader.pos());
        let upper = (self.count - self.read).min(left_bits);
        (0, usize::try_from(upper).ok())
    }
}

impl FusedIterator for ChunkIter<'_> {}

/// Appends to `out` the samples of the chunk in `bytes` whose time is in `[mint, maxt]`,
/// oldest first.
///
/// On damage returns the error, with the in-range samples decoded before it already in
/// `out`. Decoding stops after the last sample at or before `maxt`, so damage past that
/// point is not noticed.
pub fn decode_range(
    bytes: &[u8],
    mint: i64,
    maxt: i64,
    out: &mut Vec<Sample>,
) -> Result<(), ChunkError> {
    if mint > maxt {
        return Ok(());
    }
    let mut it = ChunkIter::new(bytes);
    push_range(&mut it, mint, maxt, out);
    match it.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Appends the samples of `it` with times in `[mint, maxt]` to `out`, stopping after the
/// last one at or before `maxt` (samples come oldest first). One loop, so each decoder is
/// inlined once.
#[inline]
pub(super) fn push_range(
    it: &mut impl Iterator<Item = Sample>,
    mint: i64,
    maxt: i64,
    out: &mut Vec<Sample>,
) {
    for s in it {
        if s.timestamp_ms > maxt {
            break;
        }
        if s.timestamp_ms >= mint {
            out.push(s);
        }
    }
}

/// Reads the sample count and, when there are samples, the first timestamp; returns them
/// with the byte where the bit stream starts.
fn read_header(bytes: &[u8]) -> Result<(u64, i64, usize), ChunkError> {
    let varint_error = |e, byte: usize| match e {
        VarintError::Truncated => ChunkError::Truncated {
            sample: 0,
            bit: byte as u64 * 8,
        },
        VarintError::Malformed => ChunkError::BadVarint { byte },
    };
    let (count, n) = read_uvarint(bytes, 0).map_err(|e| varint_error(e, 0))?;
    if count == 0 {
        return Ok((0, 0, n));
    }
    let (t0, m) = read_uvarint(bytes, n).map_err(|e| varint_error(e, n))?;
    Ok((count, unzigzag(t0), n + m))
}
