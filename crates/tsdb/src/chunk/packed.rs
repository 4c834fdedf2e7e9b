//! Packed chunks: the encoding of sealed chunks at rest.
//!
//! An XOR chunk is built one sample at a time, so each sample's code is chosen knowing
//! only the samples before it. A sealed chunk never changes, so it can be coded knowing
//! all of its samples: per chunk, the timestamps and the values are each turned into one
//! integer sequence (values as decimals `m / 10^k` or binary multiples `m · 2^e`, chosen
//! for the chunk), and each sequence is stored as fixed-width offsets from a base, of the
//! sequence itself or of its first or second differences, after dividing out their common
//! factor, whichever is smallest. Widths are chosen so that a few outliers escape to 64
//! bits instead of widening every code. A regular 15 s series' timestamps cost nothing
//! per sample; a counter growing by 1,000 ± 20 % per scrape about 9 bits.
//!
//! The layout is specified in `docs/format/chunk.md` ("Packed chunks"). Decoding never
//! trusts its input, as for XOR chunks: damage yields a [`ChunkError`], never a panic, and
//! the work per sample is bounded (a chunk holds at most [`MAX_SAMPLES`]).

use tally_model::Sample;

use super::bits::{unzigzag, write_bits, zigzag, BitReader};
use super::scaled::{classify, scaled, to_float, MAX_INTEGER, MAX_SCALE};
use super::ChunkError;

/// The most samples a packed chunk holds.
pub const MAX_SAMPLES: u64 = 1 << 16;

/// Bits of a number's length prefix (`num` in the format document).
const LEN_BITS: u32 = 7;
/// Bits of a sequence's order.
const ORDER_BITS: u32 = 2;
/// Bits of a sequence's width.
const WIDTH_BITS: u32 = 7;
/// Bits of a decimal scale.
const SCALE_BITS: u32 = 3;
/// The smallest and largest binary exponent a chunk may carry: the lowest bit of a
/// subnormal, and the lowest bit of the largest doubles.
const MIN_EXPONENT: i64 = -1074;
const MAX_EXPONENT: i64 = 971;
/// Binary-coded values are at most this large (`m` and its differences then fit an
/// `i64`).
const MAX_BINARY: u64 = 1 << 61;

/// The bits of -0.0, which neither value code carries (both would give +0.0).
const NEGATIVE_ZERO: u64 = 1 << 63;

/// Encodes `samples` (times strictly increasing, 1 to [`MAX_SAMPLES`] of them) as a packed
/// chunk; `None` when there are none, too many, or the times do not increase.
///
/// The result is decoded again before it is returned and compared bit for bit with the
/// input, so a packed chunk that would not give back exactly these samples is never
/// produced (`None` then, and a debug assertion fails).
pub fn encode(samples: &[Sample]) -> Option<Vec<u8>> {
    let times: Vec<i64> = samples.iter().map(|s| s.timestamp_ms).collect();
    let values: Vec<u64> = samples.iter().map(|s| s.value.to_bits()).collect();
    let mut w = write_times(&times)?;
    write_values(&mut w, &values);
    let bytes = w.buf;
    let mut back = PackedIter::new(&bytes);
    let same = samples.iter().all(|s| {
        back.next().is_some_and(|b| {
            b.timestamp_ms == s.timestamp_ms && b.value.to_bits() == s.value.to_bits()
        })
    }) && back.next().is_none()
        && back.error().is_none();
    debug_assert!(same, "packed chunk does not round-trip");
    same.then_some(bytes)
}

/// Encodes several value columns sharing one time column as *packed columns*: the
/// packed chunk's header and times once, then one value section per column
/// (`docs/format/chunk.md`). Every column holds one value (as raw bits) per time. `None`
/// when there are no times, too many, times that do not increase, or a column of another
/// length. Checked by decoding, as [`encode`] is.
pub fn encode_columns(times: &[i64], columns: &[&[u64]]) -> Option<Vec<u8>> {
    if columns.iter().any(|c| c.len() != times.len()) {
        return None;
    }
    let mut w = write_times(times)?;
    for column in columns {
        write_values(&mut w, column);
    }
    let bytes = w.buf;
    let same = decode_columns(&bytes, columns.len(), times.len())
        .is_ok_and(|(t, c)| t == times && c.iter().zip(columns).all(|(a, b)| a == b));
    debug_assert!(same, "packed columns do not round-trip");
    same.then_some(bytes)
}

/// The count, first time and time sequence of a packed chunk; `None` for no times, too
/// many, or times that do not increase.
fn write_times(times: &[i64]) -> Option<Writer> {
    let n = times.len();
    if n == 0 || n as u64 > MAX_SAMPLES || times.windows(2).any(|w| w[1] <= w[0]) {
        return None;
    }
    let mut w = Writer::default();
    w.num(n as u64);
    w.snum(times[0]);
    if n > 1 {
        let deltas: Vec<i64> = times.windows(2).map(|p| p[1].wrapping_sub(p[0])).collect();
        w.seq(&SeqPlan::best(&deltas));
    }
    Some(w)
}

/// One value section: the value code, the patches, the integer sequence.
fn write_values(w: &mut Writer, bits: &[u64]) {
    let values = ValuePlan::choose(bits);
    match values.code {
        ValueCode::Decimal(k) => {
            w.bits(0, 1);
            w.bits(u64::from(k), SCALE_BITS);
        }
        ValueCode::Binary(e) => {
            w.bits(1, 1);
            w.snum(e);
        }
    }
    w.num(values.patches.len() as u64);
    let mut next = 0;
    for &i in &values.patches {
        w.num((i - next) as u64);
        w.bits(bits[i], 64);
        next = i + 1;
    }
    w.seq(&SeqPlan::best(&values.ints));
}

/// Decodes packed columns of `columns` value columns holding at most `max` times each:
/// the times and each column's values (as raw bits).
pub fn decode_columns(
    bytes: &[u8],
    columns: usize,
    max: usize,
) -> Result<(Vec<i64>, Vec<Vec<u64>>), ChunkError> {
    let mut r = BitReader::new(bytes, 0);
    let count = read_num(&mut r)?;
    if count == 0 || count > MAX_SAMPLES.min(max as u64) {
        return Err(bad(0, "sample count outside the allowed range"));
    }
    let mut t = read_snum(&mut r)?;
    let mut times_reader = None;
    if count > 1 {
        let seq = SeqReader::new(r, count - 1)?;
        r = seq.end(count - 1)?;
        times_reader = Some(seq);
    }
    let mut readers = Vec::with_capacity(columns);
    for _ in 0..columns {
        let values = ValueReader::new(r, count)?;
        r = values.ints.end(count)?;
        readers.push(values);
    }
    check_padding(&r)?;
    let mut times = Vec::with_capacity(count as usize);
    let mut out = vec![Vec::with_capacity(count as usize); columns];
    for i in 0..count {
        if let Some(seq) = times_reader.as_mut().filter(|_| i > 0) {
            let at = seq.r.pos();
            let delta = seq.next()? as u64;
            t = match t.checked_add_unsigned(delta) {
                Some(next) if delta > 0 => next,
                _ => return Err(ChunkError::TimeNotIncreasing { sample: i, bit: at }),
            };
        }
        times.push(t);
        for (reader, column) in readers.iter_mut().zip(&mut out) {
            column.push(reader.next(i)?.to_bits());
        }
    }
    Ok((times, out))
}

/// Checks that the bytes end at the reader's position, padded with zero bits.
fn check_padding(r: &BitReader<'_>) -> Result<(), ChunkError> {
    let pos = r.pos();
    let data = r.data();
    let used = pos % 8;
    let clean = pos.div_ceil(8) == data.len() as u64
        && (used == 0 || data.last().is_some_and(|b| b & (0xff >> used) == 0));
    if clean {
        Ok(())
    } else {
        Err(ChunkError::TrailingData { bit: pos })
    }
}

/// A bit writer with the format's number codes.
#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
    free: u8,
}

impl Writer {
    fn bits(&mut self, v: u64, n: u32) {
        write_bits(&mut self.buf, &mut self.free, v, n);
    }

    /// `num`: the bit length (7 bits), then that many bits.
    fn num(&mut self, v: u64) {
        let len = 64 - v.leading_zeros();
        self.bits(u64::from(len), LEN_BITS);
        self.bits(v, len);
    }

    /// `snum`: a zigzagged `num`.
    fn snum(&mut self, v: i64) {
        self.num(zigzag(v));
    }

    fn seq(&mut self, plan: &SeqPlan) {
        self.bits(u64::from(plan.order), ORDER_BITS);
        for &h in &plan.head {
            self.snum(h);
        }
        if plan.offsets.is_empty() {
            return;
        }
        self.num(plan.factor);
        self.snum(plan.base);
        self.bits(u64::from(plan.width), WIDTH_BITS);
        let escape = escape_code(plan.width);
        for &u in &plan.offsets {
            match escape {
                Some(esc) if u >= esc => {
                    self.bits(esc, plan.width);
                    self.bits(u, 64);
                }
                _ => self.bits(u, plan.width),
            }
        }
    }
}

/// Bits a `num` of `v` takes.
fn num_bits(v: u64) -> u64 {
    u64::from(LEN_BITS + 64 - v.leading_zeros())
}

/// The code that escapes to a 64-bit offset at `width`: all ones, for widths 1 to 63.
fn escape_code(width: u32) -> Option<u64> {
    (1..64).contains(&width).then(|| (1u64 << width) - 1)
}

/// How one integer sequence is stored: `order` differences taken (0, 1 or 2), the
/// `head` values that start them (the first value, and for order 2 the first
/// difference), and the rest as offsets `u` with residual `(base + u) · factor`.
#[derive(Debug, Clone)]
struct SeqPlan {
    order: u8,
    head: Vec<i64>,
    factor: u64,
    base: i64,
    width: u32,
    offsets: Vec<u64>,
    bits: u64,
}

impl SeqPlan {
    /// The smallest of the three orders that can code `xs`. When an order codes every
    /// value in no bits (a regular series' deltas, a constant), the higher ones are not
    /// tried.
    fn best(xs: &[i64]) -> SeqPlan {
        let mut best: Option<SeqPlan> = None;
        for order in 0..=2u8 {
            let Some(plan) = Self::with_order(xs, order) else {
                continue;
            };
            let free = plan.width == 0;
            if best.as_ref().is_none_or(|b| plan.bits < b.bits) {
                best = Some(plan);
            }
            if free {
                break;
            }
        }
        // Order 0 always fits an i64, so there is always a plan.
        best.unwrap_or_else(|| SeqPlan {
            order: 0,
            head: Vec::new(),
            factor: 1,
            base: 0,
            width: 64,
            offsets: xs.iter().map(|&x| x as u64).collect(),
            bits: u64::MAX,
        })
    }

    fn with_order(xs: &[i64], order: u8) -> Option<SeqPlan> {
        let o = usize::from(order).min(xs.len());
        let mut head = Vec::with_capacity(o);
        if o >= 1 {
            head.push(xs[0]);
        }
        if o >= 2 {
            head.push(xs[1].checked_sub(xs[0])?);
        }
        let mut residuals = Vec::with_capacity(xs.len() - o);
        match order {
            0 => residuals.extend_from_slice(xs),
            1 => {
                for w in xs.windows(2) {
                    residuals.push(w[1].checked_sub(w[0])?);
                }
            }
            _ => {
                for w in xs.windows(3) {
                    let d1 = w[1].checked_sub(w[0])?;
                    let d2 = w[2].checked_sub(w[1])?;
                    residuals.push(d2.checked_sub(d1)?);
                }
            }
        }
        let head_bits: u64 = head.iter().map(|&h| num_bits(zigzag(h))).sum();
        let mut plan = SeqPlan {
            order,
            head,
            factor: 1,
            base: 0,
            width: 0,
            offsets: Vec::new(),
            bits: u64::from(ORDER_BITS) + head_bits,
        };
        if residuals.is_empty() {
            return Some(plan);
        }
        let mut factor = 0u64;
        for &r in &residuals {
            factor = gcd(factor, r.unsigned_abs());
            if factor == 1 {
                break;
            }
        }
        let factor = factor.max(1);
        if factor > 1 {
            // Exact divisions; i128 because the factor can be 2^63.
            for r in &mut residuals {
                *r = (i128::from(*r) / i128::from(factor)) as i64;
            }
        }
        let base = residuals.iter().copied().min().unwrap_or(0);
        // q - base is in [0, 2^64 - 1]: exact as a wrapping u64 difference. Collected from
        // `into_iter`, the offsets reuse the residuals' buffer (same size and alignment)
        // instead of allocating another for every order tried.
        let offsets: Vec<u64> = residuals
            .into_iter()
            .map(|q| q.wrapping_sub(base) as u64)
            .collect();
        let (width, body) = choose_width(&offsets);
        plan.bits += num_bits(factor) + num_bits(zigzag(base)) + u64::from(WIDTH_BITS) + body;
        plan.factor = factor;
        plan.base = base;
        plan.width = width;
        plan.offsets = offsets;
        Some(plan)
    }
}

/// The width that codes `offsets` in the fewest bits, counting 64 more bits for each
/// escaped one, and those bits.
fn choose_width(offsets: &[u64]) -> (u32, u64) {
    // by_len[l]: offsets of bit length l; all_ones[l]: offsets equal to 2^l - 1.
    let mut by_len = [0u64; 65];
    let mut all_ones = [0u64; 65];
    for &u in offsets {
        let len = (64 - u.leading_zeros()) as usize;
        by_len[len] += 1;
        if u.count_ones() as usize == len {
            all_ones[len] += 1;
        }
    }
    let n = offsets.len() as u64;
    let mut best = (64, 64 * n);
    let mut longer: u64 = n - by_len[0];
    if longer == 0 {
        return (0, 0);
    }
    for width in 1..64u32 {
        longer -= by_len[width as usize];
        let escaped = longer + all_ones[width as usize];
        let bits = n * u64::from(width) + 64 * escaped;
        if bits < best.1 {
            best = (width, bits);
        }
    }
    best
}

/// The greatest common divisor (Stein's binary algorithm: shifts and subtractions, no
/// divisions, which dominated the encoder's time with Euclid's on large values).
fn gcd(mut a: u64, mut b: u64) -> u64 {
    if a == 0 || b == 0 {
        return a | b;
    }
    let shift = (a | b).trailing_zeros();
    a >>= a.trailing_zeros();
    loop {
        b >>= b.trailing_zeros();
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        b -= a;
        if b == 0 {
            return a << shift;
        }
    }
}

/// How a chunk's values become integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueCode {
    /// `m / 10^k`.
    Decimal(u8),
    /// `m · 2^e`.
    Binary(i64),
}

/// The chosen value code, each value's integer (a patched value repeats the integer
/// before it, 0 for the first), and the indexes of values stored as raw bits.
struct ValuePlan {
    code: ValueCode,
    ints: Vec<i64>,
    patches: Vec<usize>,
}

impl ValuePlan {
    /// The code leaving the fewest values to patch: the smallest decimal scale with the
    /// fewest, unless the binary code leaves fewer.
    fn choose(bits: &[u64]) -> ValuePlan {
        // A value with a decimal form of scale k has one at every larger scale (checked
        // when the integers are built), so the scale patching fewest is the largest
        // smallest scale of any value.
        let scale = bits
            .iter()
            .filter_map(|&b| classify(b).map(|(k, _)| k))
            .max()
            .unwrap_or(0);
        let mut best = Self::decimal(bits, scale);
        if !best.patches.is_empty() {
            let binary = Self::binary(bits);
            if binary.patches.len() < best.patches.len() {
                best = binary;
            }
        }
        best
    }

    fn from_ints(code: ValueCode, ints: impl Iterator<Item = Option<i64>>) -> ValuePlan {
        let mut plan = ValuePlan {
            code,
            ints: Vec::new(),
            patches: Vec::new(),
        };
        let mut last = 0;
        for (i, m) in ints.enumerate() {
            match m {
                Some(m) => last = m,
                None => plan.patches.push(i),
            }
            plan.ints.push(last);
        }
        plan
    }

    fn decimal(bits: &[u64], k: u8) -> ValuePlan {
        Self::from_ints(ValueCode::Decimal(k), bits.iter().map(|&b| scaled(b, k)))
    }

    fn binary(bits: &[u64]) -> ValuePlan {
        // The exponent of the lowest set bit over all finite non-zero values.
        let e = bits
            .iter()
            .filter_map(|&b| split(b).map(|(_, sig, exp)| exp + i64::from(sig.trailing_zeros())))
            .min()
            .unwrap_or(0)
            .clamp(MIN_EXPONENT, MAX_EXPONENT);
        let int = |b: u64| -> Option<i64> {
            if b & !NEGATIVE_ZERO == 0 {
                // ±0.0: +0.0 is 0, -0.0 is patched.
                return (b == 0).then_some(0);
            }
            let (negative, sig, exp) = split(b)?;
            let shift = exp - e;
            let m = if shift >= 0 {
                if shift + i64::from(64 - sig.leading_zeros()) > 61 {
                    return None;
                }
                sig << shift
            } else {
                sig >> -shift
            };
            if m > MAX_BINARY {
                return None;
            }
            Some(if negative { -(m as i64) } else { m as i64 })
        };
        // Only values the decoder gives back exactly (all of the above, but the check
        // is cheap and keeps the encoder honest).
        let exact = |b: u64| int(b).filter(|&m| binary_value(m, e).to_bits() == b);
        Self::from_ints(ValueCode::Binary(e), bits.iter().map(|&b| exact(b)))
    }
}

/// A finite non-zero double as (negative, integer significand, exponent of its lowest
/// bit): the value is `±significand · 2^exponent`.
fn split(bits: u64) -> Option<(bool, u64, i64)> {
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1 << 52) - 1);
    if biased == 0x7ff || bits & !NEGATIVE_ZERO == 0 {
        return None;
    }
    let (sig, exp) = if biased == 0 {
        (fraction, MIN_EXPONENT)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    Some((bits & NEGATIVE_ZERO != 0, sig, exp))
}

/// `m · 2^e` as the decoder computes it: `m` converted to a double, times `2^e` (an
/// exact power of two for `e` in [`MIN_EXPONENT`]..=[`MAX_EXPONENT`]).
fn binary_value(m: i64, e: i64) -> f64 {
    let power = if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else {
        f64::from_bits(1 << (e - MIN_EXPONENT))
    };
    m as f64 * power
}

/// Reading one integer sequence: its header, then one value per call.
#[derive(Debug, Clone)]
struct SeqReader<'a> {
    r: BitReader<'a>,
    order: u8,
    /// Values produced so far.
    i: u64,
    head: [i64; 2],
    factor: i64,
    base: i64,
    width: u32,
    x: i64,
    d: i64,
}

impl<'a> SeqReader<'a> {
    /// Reads a sequence header of `len` values at the reader's position.
    fn new(mut r: BitReader<'a>, len: u64) -> Result<Self, ChunkError> {
        let at = r.pos();
        let order = read_bits(&mut r, ORDER_BITS)? as u8;
        if order > 2 {
            return Err(bad(at, "sequence order above 2"));
        }
        let mut head = [0; 2];
        for h in head.iter_mut().take(usize::from(order).min(len as usize)) {
            *h = read_snum(&mut r)?;
        }
        let mut seq = SeqReader {
            r,
            order,
            i: 0,
            head,
            factor: 1,
            base: 0,
            width: 0,
            x: 0,
            d: 0,
        };
        if len > u64::from(order) {
            let at = seq.r.pos();
            let factor = read_num(&mut seq.r)?;
            if factor == 0 {
                return Err(bad(at, "sequence factor 0"));
            }
            seq.factor = factor as i64;
            seq.base = read_snum(&mut seq.r)?;
            let at = seq.r.pos();
            seq.width = read_bits(&mut seq.r, WIDTH_BITS)? as u32;
            if seq.width > 64 {
                return Err(bad(at, "sequence width above 64"));
            }
        }
        Ok(seq)
    }

    /// Where the sequence's codes end, reading `len` values on a copy (bounded work:
    /// `len` is at most [`MAX_SAMPLES`]).
    fn end(&self, len: u64) -> Result<BitReader<'a>, ChunkError> {
        let mut skip = self.clone();
        for _ in 0..len {
            skip.next()?;
        }
        Ok(skip.r)
    }

    /// The next value. Arithmetic wraps, so any bits decode to some integers.
    fn next(&mut self) -> Result<i64, ChunkError> {
        let i = self.i;
        self.i += 1;
        self.x = match (self.order, i) {
            (0, _) => self.residual()?,
            (_, 0) => self.head[0],
            (1, _) => self.x.wrapping_add(self.residual()?),
            (_, 1) => {
                self.d = self.head[1];
                self.x.wrapping_add(self.d)
            }
            _ => {
                self.d = self.d.wrapping_add(self.residual()?);
                self.x.wrapping_add(self.d)
            }
        };
        Ok(self.x)
    }

    fn residual(&mut self) -> Result<i64, ChunkError> {
        let mut u = read_bits(&mut self.r, self.width)?;
        if escape_code(self.width) == Some(u) {
            u = read_bits(&mut self.r, 64)?;
        }
        Ok(self.base.wrapping_add(u as i64).wrapping_mul(self.factor))
    }
}

/// What a read at a bit offset lacked: the offset, filled in with the sample by the
/// iterator.
fn truncated(bit: u64) -> ChunkError {
    ChunkError::Truncated { sample: 0, bit }
}

fn bad(bit: u64, what: &'static str) -> ChunkError {
    ChunkError::BadField { bit, what }
}

fn read_bits(r: &mut BitReader<'_>, n: u32) -> Result<u64, ChunkError> {
    let at = r.pos();
    r.read_bits(n).ok_or(truncated(at))
}

fn read_num(r: &mut BitReader<'_>) -> Result<u64, ChunkError> {
    let at = r.pos();
    let len = read_bits(r, LEN_BITS)? as u32;
    if len > 64 {
        return Err(bad(at, "number longer than 64 bits"));
    }
    read_bits(r, len)
}

fn read_snum(r: &mut BitReader<'_>) -> Result<i64, ChunkError> {
    read_num(r).map(unzigzag)
}

/// Reading one value section: the value code, the patch list, the integer sequence.
#[derive(Debug, Clone)]
struct ValueReader<'a> {
    code: ValueCode,
    /// Reads the patch list: (gap, raw bits) pairs in index order.
    patches: BitReader<'a>,
    patches_left: u64,
    next_patch: Option<(u64, u64)>,
    ints: SeqReader<'a>,
}

impl<'a> ValueReader<'a> {
    /// Reads the header of a value section of `count` values at `r`, checking its patch
    /// list whole.
    fn new(mut r: BitReader<'a>, count: u64) -> Result<Self, ChunkError> {
        let at = r.pos();
        let code = if read_bits(&mut r, 1)? == 0 {
            let k = read_bits(&mut r, SCALE_BITS)? as u8;
            if k > MAX_SCALE {
                return Err(bad(at, "decimal scale above 6"));
            }
            ValueCode::Decimal(k)
        } else {
            let e = read_snum(&mut r)?;
            if !(MIN_EXPONENT..=MAX_EXPONENT).contains(&e) {
                return Err(bad(at, "binary exponent out of range"));
            }
            ValueCode::Binary(e)
        };
        let at = r.pos();
        let patches_left = read_num(&mut r)?;
        if patches_left > count {
            return Err(bad(at, "more patches than samples"));
        }
        let patches = r.clone();
        let mut index = 0u64;
        for _ in 0..patches_left {
            let at = r.pos();
            index = index.saturating_add(read_num(&mut r)?);
            if index >= count {
                return Err(bad(at, "patch index beyond the last sample"));
            }
            read_bits(&mut r, 64)?;
            index += 1;
        }
        let mut values = ValueReader {
            code,
            patches,
            patches_left,
            next_patch: None,
            ints: SeqReader::new(r, count)?,
        };
        values.advance_patch(0)?;
        Ok(values)
    }

    /// Reads the next patch, whose index counts from `from`.
    fn advance_patch(&mut self, from: u64) -> Result<(), ChunkError> {
        self.next_patch = None;
        if self.patches_left > 0 {
            self.patches_left -= 1;
            let gap = read_num(&mut self.patches)?;
            let raw = read_bits(&mut self.patches, 64)?;
            self.next_patch = Some((from.saturating_add(gap), raw));
        }
        Ok(())
    }

    /// Value `i` (values are read in order).
    fn next(&mut self, i: u64) -> Result<f64, ChunkError> {
        let at = self.ints.r.pos();
        let m = self.ints.next()?;
        Ok(match self.next_patch {
            Some((index, raw)) if index == i => {
                self.advance_patch(i + 1)?;
                f64::from_bits(raw)
            }
            _ => match self.code {
                ValueCode::Decimal(k) => {
                    if m.unsigned_abs() > MAX_INTEGER as u64 {
                        return Err(ChunkError::IntegerOutOfRange { sample: i, bit: at });
                    }
                    to_float(m, k)
                }
                ValueCode::Binary(e) => binary_value(m, e),
            },
        })
    }
}

/// Iterates over the samples of a packed chunk, oldest first; like
/// [`ChunkIter`](super::ChunkIter) it stops at the first damage, which
/// [`error`](Self::error) then reports, and checks after the last sample that the bytes
/// end there.
#[derive(Debug, Clone)]
pub struct PackedIter<'a> {
    times: Option<SeqReader<'a>>,
    values: Option<ValueReader<'a>>,
    count: u64,
    read: u64,
    t: i64,
    error: Option<ChunkError>,
    done: bool,
}

impl<'a> PackedIter<'a> {
    /// An iterator over the packed chunk in `bytes`. A malformed header is reported by
    /// [`error`](Self::error), and the iterator is then empty.
    pub fn new(bytes: &'a [u8]) -> Self {
        let mut it = PackedIter {
            times: None,
            values: None,
            count: 0,
            read: 0,
            t: 0,
            error: None,
            done: false,
        };
        if let Err(e) = it.read_header(bytes) {
            it.count = 0;
            it.error = Some(e);
            it.done = true;
        }
        it
    }

    /// Why the iterator stopped before the end, once it has stopped.
    pub fn error(&self) -> Option<&ChunkError> {
        self.error.as_ref()
    }

    fn read_header(&mut self, bytes: &'a [u8]) -> Result<(), ChunkError> {
        let mut r = BitReader::new(bytes, 0);
        let count = read_num(&mut r)?;
        if count == 0 || count > MAX_SAMPLES {
            return Err(bad(0, "sample count outside 1..=65536"));
        }
        self.t = read_snum(&mut r)?;
        if count > 1 {
            // The values follow the time codes: skip them (bounded by the count).
            let times = SeqReader::new(r, count - 1)?;
            r = times.end(count - 1)?;
            self.times = Some(times);
        }
        self.values = Some(ValueReader::new(r, count)?);
        self.count = count;
        Ok(())
    }

    fn decode(&mut self) -> Result<Sample, ChunkError> {
        let i = self.read;
        if i > 0 {
            let Some(times) = self.times.as_mut() else {
                return Err(bad(0, "missing time sequence"));
            };
            let at = times.r.pos();
            // Deltas are in (0, 2^64): read as unsigned, the wrapped i64 is exact.
            let delta = times.next()? as u64;
            self.t = match self.t.checked_add_unsigned(delta) {
                Some(t) if delta > 0 => t,
                _ => return Err(ChunkError::TimeNotIncreasing { sample: i, bit: at }),
            };
        }
        let Some(values) = self.values.as_mut() else {
            return Err(bad(0, "missing value sequence"));
        };
        Ok(Sample::new(self.t, values.next(i)?))
    }

    /// Checks that the bytes end with the value codes, padded with zero bits.
    fn check_end(&mut self) {
        if let Some(values) = &self.values {
            if let Err(e) = check_padding(&values.ints.r) {
                self.error = Some(e);
            }
        }
    }
}

impl Iterator for PackedIter<'_> {
    type Item = Sample;

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
                Some(s)
            }
            Err(e) => {
                let e = match e {
                    ChunkError::Truncated { bit, .. } => ChunkError::Truncated {
                        sample: self.read,
                        bit,
                    },
                    e => e,
                };
                self.error = Some(e);
                self.count = self.read;
                self.done = true;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, usize::try_from(self.count - self.read).ok())
    }
}

impl std::iter::FusedIterator for PackedIter<'_> {}

#[cfg(test)]
mod tests;
