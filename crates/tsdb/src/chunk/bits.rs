//! Bit-level I/O for XOR chunks: an MSB-first bit writer on a growable buffer, a bit reader that
//! reports the end of its input instead of panicking, and LEB128 varints.

/// Appends the low `n` bits of `value` (`n <= 64`), most significant first, to `buf`.
///
/// `free` is the number of unused low bits in the last byte of `buf` (0..=7); those bits
/// are zero and are filled first. Bits of `value` above `n` are ignored.
#[inline]
pub(super) fn write_bits(
    buf: &mut impl super::encoder::ChunkBuf,
    free: &mut u8,
    value: u64,
    n: u32,
) {
    debug_assert!(n <= 64);
    if n == 0 {
        return;
    }
    let mut left = n;
    if *free > 0 {
        let f = u32::from(*free);
        let take = f.min(left);
        let bits = (value >> (left - take)) & ((1 << take) - 1);
        if let Some(last) = buf.bytes_mut().last_mut() {
            *last |= (bits << (f - take)) as u8;
        }
        *free -= take as u8;
        left -= take;
    }
    while left >= 8 {
        left -= 8;
        buf.push((value >> left) as u8);
    }
    if left > 0 {
        // Truncating to u8 keeps the low `left` bits, now at the top of the byte.
        buf.push((value << (8 - left)) as u8);
        *free = (8 - left) as u8;
    }
}

/// Reads bits most significant first from a byte slice. Every read checks the end of the
/// input and returns `None` there, leaving the position unchanged.
///
/// Bits are served from a 64-bit buffer refilled eight bytes at a time, so most reads are
/// a shift and a compare.
#[derive(Debug, Clone)]
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    /// The next byte of `data` not yet counted in `avail`.
    next: usize,
    /// Upcoming bits, most significant first: `avail` valid ones, then possibly some of the
    /// bits that follow them in `data` (loading them again ORs in the same bits), then 0s.
    buf: u64,
    avail: u32,
}

impl<'a> BitReader<'a> {
    /// A reader over `data` positioned at bit `pos` (clamped to the end).
    pub(super) fn new(data: &'a [u8], pos: u64) -> Self {
        let len_bits = data.len() as u64 * 8;
        let pos = pos.min(len_bits);
        let mut r = Self {
            data,
            next: (pos / 8) as usize,
            buf: 0,
            avail: 0,
        };
        // Within the data, so the read cannot fail.
        let _ = r.read_bits((pos % 8) as u32);
        r
    }

    /// The position in bits from the start of the slice.
    #[inline]
    pub(super) fn pos(&self) -> u64 {
        self.next as u64 * 8 - u64::from(self.avail)
    }

    /// The whole slice being read.
    pub(super) fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Tops the buffer up to at least 57 valid bits, or to the end of the data.
    #[inline]
    fn refill(&mut self) {
        debug_assert!(self.avail < 64);
        if let Some(w) = self
            .data
            .get(self.next..)
            .and_then(<[u8]>::first_chunk::<8>)
        {
            self.buf |= u64::from_be_bytes(*w) >> self.avail;
            let bytes = (64 - self.avail) / 8;
            self.next += bytes as usize;
            self.avail += bytes * 8;
        } else {
            while self.avail <= 56 {
                let Some(&b) = self.data.get(self.next) else {
                    break;
                };
                self.buf |= u64::from(b) << (56 - self.avail);
                self.next += 1;
                self.avail += 8;
            }
        }
    }

    /// The next bits without consuming them: the buffer, most significant bit first, with
    /// at least `want` (at most 57) valid bits unless the data ends sooner, and how many
    /// are valid. Bits past the valid ones are 0 or the data's next bits.
    #[inline]
    pub(super) fn peek(&mut self, want: u32) -> (u64, u32) {
        debug_assert!(want <= 57);
        if self.avail < want {
            self.refill();
        }
        (self.buf, self.avail)
    }

    /// Consumes `n` bits that [`peek`](Self::peek) said are valid (`n <= 63`).
    #[inline]
    pub(super) fn skip(&mut self, n: u32) {
        debug_assert!(n <= self.avail && n < 64);
        self.buf <<= n;
        self.avail -= n;
    }

    /// The next `n` bits (`n <= 64`) as the low bits of the result.
    #[inline]
    pub(super) fn read_bits(&mut self, n: u32) -> Option<u64> {
        debug_assert!(n <= 64);
        if n > 56 {
            return self.read_long(n);
        }
        if n == 0 {
            return Some(0);
        }
        if self.avail < n {
            self.refill();
            if self.avail < n {
                return None;
            }
        }
        let value = self.buf >> (64 - n);
        self.buf <<= n;
        self.avail -= n;
        Some(value)
    }

    /// [`read_bits`](Self::read_bits) for 57 to 64 bits, which a refill does not guarantee:
    /// two reads, the first undone if the second fails.
    #[cold]
    fn read_long(&mut self, n: u32) -> Option<u64> {
        let saved = self.clone();
        let hi = self.read_bits(n - 32)?;
        let Some(lo) = self.read_bits(32) else {
            *self = saved;
            return None;
        };
        Some((hi << 32) | lo)
    }
}

/// The number of bytes [`put_uvarint`] writes for `v`.
#[inline]
pub(super) fn uvarint_len(v: u64) -> usize {
    // 1 + floor(log2(v)) / 7, with 0 taking one byte.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Writes `v` as an unsigned LEB128 varint (7 bits per byte, low group first, high bit set
/// on every byte but the last) into `out`, returning the length.
#[inline]
pub(super) fn put_uvarint(out: &mut [u8; 10], mut v: u64) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        out[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    out[i] = v as u8;
    i + 1
}

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum VarintError {
    /// The input ended inside the varint.
    Truncated,
    /// More than 10 bytes, a value above `u64::MAX`, or a redundant trailing zero byte.
    Malformed,
}

/// Reads a canonical unsigned LEB128 varint at `at`, returning the value and its length.
#[inline]
pub(super) fn read_uvarint(data: &[u8], at: usize) -> Result<(u64, usize), VarintError> {
    let mut value = 0u64;
    for i in 0..10 {
        let Some(&b) = data.get(at + i) else {
            return Err(VarintError::Truncated);
        };
        let group = u64::from(b & 0x7f);
        if i == 9 && b > 1 {
            return Err(VarintError::Malformed);
        }
        value |= group << (7 * i);
        if b & 0x80 == 0 {
            if i > 0 && b == 0 {
                return Err(VarintError::Malformed);
            }
            return Ok((value, i + 1));
        }
    }
    Err(VarintError::Malformed)
}

/// Maps a signed integer to an unsigned one so that small magnitudes stay small:
/// 0, -1, 1, -2, … become 0, 1, 2, 3, ….
#[inline]
pub(super) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
#[inline]
pub(super) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_at_every_alignment() {
        let fields: Vec<(u64, u32)> = (0..=64u32)
            .flat_map(|n| {
                let v = 0xdead_beef_cafe_f00d_u64.rotate_left(n);
                [(v, n), (u64::MAX, n), (0, n), (1, n)]
            })
            .collect();
        for lead in 0..8u32 {
            let mut buf = Vec::new();
            let mut free = 0;
            write_bits(&mut buf, &mut free, 0, lead);
            for &(v, n) in &fields {
                write_bits(&mut buf, &mut free, v, n);
            }
            let total: u64 = u64::from(lead) + fields.iter().map(|f| u64::from(f.1)).sum::<u64>();
            assert_eq!(buf.len() as u64, total.div_ceil(8));
            assert_eq!(u64::from(free), buf.len() as u64 * 8 - total);
            let mut r = BitReader::new(&buf, u64::from(lead));
            for &(v, n) in &fields {
                let mask = if n == 64 { u64::MAX } else { (1 << n) - 1 };
                assert_eq!(r.read_bits(n), Some(v & mask), "n={n} lead={lead}");
            }
            assert_eq!(r.pos(), total);
            // Only padding is left: a read past it fails and does not move.
            let pad = buf.len() as u64 * 8 - total;
            assert_eq!(r.read_bits(pad as u32 + 1), None);
            assert_eq!(r.pos(), total);
        }
    }

    #[test]
    fn peek_skip_and_end_of_input() {
        let mut r = BitReader::new(&[0b1010_0000], 0);
        assert_eq!(r.peek(57), (0b1010_0000 << 56, 8));
        r.skip(1);
        assert_eq!(r.read_bits(1), Some(0));
        assert_eq!(r.read_bits(6), Some(0b10_0000));
        assert_eq!(r.peek(1).1, 0);
        assert_eq!(r.read_bits(1), None);
        assert_eq!(r.read_bits(64), None);
        // Started mid-byte, reading across the refill of a longer slice.
        let data: Vec<u8> = (0..20).collect();
        let mut r = BitReader::new(&data, 12);
        assert_eq!(r.read_bits(4), Some(1));
        for b in 2..20 {
            assert_eq!(r.peek(8).0 >> 56, b);
            assert_eq!(r.read_bits(8), Some(b));
        }
        assert_eq!(r.pos(), 160);
        let mut r = BitReader::new(&[0xff; 7], 3);
        assert_eq!(r.read_bits(64), None);
        assert_eq!(r.pos(), 3);
        assert_eq!(r.read_bits(53), Some((1 << 53) - 1));
    }

    #[test]
    fn varints() {
        for v in [0, 1, 127, 128, 300, 16_383, 16_384, u64::MAX / 3, u64::MAX] {
            let mut out = [0; 10];
            let n = put_uvarint(&mut out, v);
            assert_eq!(n, uvarint_len(v), "{v}");
            assert_eq!(read_uvarint(&out[..n], 0), Ok((v, n)));
            assert_eq!(read_uvarint(&out[..n - 1], 0), Err(VarintError::Truncated));
        }
        // Overlong zero, 11 bytes, and a tenth byte carrying more than bit 63.
        assert_eq!(read_uvarint(&[0x80, 0x00], 0), Err(VarintError::Malformed));
        assert_eq!(read_uvarint(&[0xff; 11], 0), Err(VarintError::Malformed));
        let mut too_big = [0xff; 10];
        too_big[9] = 0x02;
        assert_eq!(read_uvarint(&too_big, 0), Err(VarintError::Malformed));
        for v in [0, 1, -1, 63, -64, i64::MAX, i64::MIN, 1_700_000_000_000] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }
}
