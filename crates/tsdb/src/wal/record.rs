//! [`Record`]: what the write-ahead log holds, and its payload encoding.
//!
//! A record's payload is one type byte and a body; the framing around it (length and
//! CRC) is the segment's business (`segment.rs`). The layout is drawn byte by byte in
//! `docs/format/tsdb-wal.md`.
//!
//! Decoding is written for hostile bytes: it never panics, reads nothing past the payload,
//! and allocates in proportion to the payload's length (which the reader caps before it
//! allocates), never to a count read from the bytes.

use tally_model::Labels;

/// Type byte of a [`Record::Series`] payload.
pub const TYPE_SERIES: u8 = 1;
/// Type byte of a [`Record::Samples`] payload.
pub const TYPE_SAMPLES: u8 = 2;

/// Bytes every encoded sample takes at least: two one-byte varints and the value.
const MIN_SAMPLE_BYTES: usize = 10;

/// One entry of the log: a batch of series creations or a batch of samples.
///
/// A series is logged once, when the head creates it, under the id the head gave it;
/// samples refer to series by that id. A samples record never refers to a series logged
/// after it, so replaying records in log order rebuilds the head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Series created, with the ids samples will refer to them by.
    Series(Vec<RefSeries>),
    /// Samples appended, by series id.
    Samples(Vec<RefSample>),
}

/// A series and the id the head gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefSeries {
    /// The head's id of the series.
    pub id: u64,
    /// The series' label set.
    pub labels: Labels,
}

/// A sample of the series with id `id`.
///
/// Equality compares the value's bits, not its float value: a logged staleness marker
/// (a NaN) equals itself, and `0.0` differs from `-0.0`, which is what "the log gave back
/// what was written" means.
#[derive(Debug, Clone, Copy)]
pub struct RefSample {
    /// The head's id of the series.
    pub id: u64,
    /// Timestamp in milliseconds since the epoch.
    pub t: i64,
    /// The value.
    pub v: f64,
}

impl PartialEq for RefSample {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.t == other.t && self.v.to_bits() == other.v.to_bits()
    }
}

impl Eq for RefSample {}

/// Why a payload whose checksum matched could not be decoded.
///
/// Cheap to build and to match: no allocation. The segment reader adds where it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload is empty: not even a type byte.
    #[error("empty payload")]
    Empty,
    /// The type byte is not one this version knows (see [`TYPE_SERIES`], [`TYPE_SAMPLES`]).
    #[error("unknown record type {0}")]
    UnknownType(u8),
    /// The body ended in the middle of a field.
    #[error("record body ends inside a field")]
    Truncated,
    /// A varint is longer than ten bytes or overflows 64 bits.
    #[error("varint overflows 64 bits")]
    VarintOverflow,
    /// A label name or value is not UTF-8.
    #[error("label name or value is not UTF-8")]
    NotUtf8,
    /// A label set is not valid: an empty or repeated name, or an empty value.
    #[error("invalid label set")]
    BadLabels,
}

impl Record {
    /// The record's type byte.
    pub fn type_byte(&self) -> u8 {
        match self {
            Record::Series(_) => TYPE_SERIES,
            Record::Samples(_) => TYPE_SAMPLES,
        }
    }

    /// Appends the payload (type byte and body) to `buf`.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        buf.push(self.type_byte());
        match self {
            Record::Series(series) => encode_series(series, buf),
            Record::Samples(samples) => encode_samples(samples, buf),
        }
    }

    /// An upper bound of the encoded payload's length, for reserving buffer space.
    pub fn encoded_len_hint(&self) -> usize {
        match self {
            Record::Series(series) => {
                1 + series
                    .iter()
                    .map(|s| {
                        20 + s
                            .labels
                            .iter()
                            .map(|(n, v)| n.len() + v.len() + 10)
                            .sum::<usize>()
                    })
                    .sum::<usize>()
            }
            Record::Samples(samples) => 1 + 20 + samples.len() * 28,
        }
    }

    /// Decodes a payload written by [`Record::encode`].
    pub fn decode(payload: &[u8]) -> Result<Record, DecodeError> {
        let (&kind, body) = payload.split_first().ok_or(DecodeError::Empty)?;
        match kind {
            TYPE_SERIES => decode_series(body).map(Record::Series),
            TYPE_SAMPLES => decode_samples(body).map(Record::Samples),
            other => Err(DecodeError::UnknownType(other)),
        }
    }
}

fn encode_series(series: &[RefSeries], buf: &mut Vec<u8>) {
    for s in series {
        put_uvarint(buf, s.id);
        put_uvarint(buf, s.labels.len() as u64);
        for (name, value) in &s.labels {
            put_uvarint(buf, name.len() as u64);
            buf.extend_from_slice(name.as_bytes());
            put_uvarint(buf, value.len() as u64);
            buf.extend_from_slice(value.as_bytes());
        }
    }
}

fn decode_series(body: &[u8]) -> Result<Vec<RefSeries>, DecodeError> {
    let mut r = Cursor { bytes: body };
    let mut out = Vec::new();
    // Scratch pairs borrowed from the payload, reused across series: the only copies made
    // are the two allocations of each `Labels`.
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    while !r.is_empty() {
        let id = r.uvarint()?;
        let count = r.uvarint()?;
        pairs.clear();
        for _ in 0..count {
            // Every label takes at least two bytes, so a hostile count runs out of body
            // long before it could run long; `pairs` grows only with bytes read.
            let name = r.string()?;
            let value = r.string()?;
            if name.is_empty() || value.is_empty() {
                return Err(DecodeError::BadLabels);
            }
            pairs.push((name, value));
        }
        let labels = Labels::from_unsorted(&mut pairs).map_err(|_| DecodeError::BadLabels)?;
        out.push(RefSeries { id, labels });
    }
    Ok(out)
}

fn encode_samples(samples: &[RefSample], buf: &mut Vec<u8>) {
    let Some(base) = samples.first() else {
        return;
    };
    put_uvarint(buf, base.id);
    put_varint(buf, base.t);
    for s in samples {
        // Wrapping differences: any pair of ids and timestamps encodes, and decoding
        // adds them back with the same wrapping.
        put_varint(buf, s.id.wrapping_sub(base.id) as i64);
        put_varint(buf, s.t.wrapping_sub(base.t));
        buf.extend_from_slice(&s.v.to_bits().to_le_bytes());
    }
}

fn decode_samples(body: &[u8]) -> Result<Vec<RefSample>, DecodeError> {
    let mut r = Cursor { bytes: body };
    if r.is_empty() {
        return Ok(Vec::new());
    }
    let base_id = r.uvarint()?;
    let base_t = r.varint()?;
    let mut out = Vec::with_capacity(r.bytes.len() / MIN_SAMPLE_BYTES);
    while !r.is_empty() {
        let id = base_id.wrapping_add(r.varint()? as u64);
        let t = base_t.wrapping_add(r.varint()?);
        let v = f64::from_bits(r.u64le()?);
        out.push(RefSample { id, t, v });
    }
    Ok(out)
}

/// Appends `v` as an unsigned LEB128 varint (1 to 10 bytes).
fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Appends `v` zigzag-encoded as an unsigned varint, so small magnitudes of either sign
/// take few bytes.
fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// A read position in a payload body.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn uvarint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for (i, &b) in self.bytes.iter().enumerate().take(10) {
            if i == 9 && b > 1 {
                return Err(DecodeError::VarintOverflow);
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.bytes = &self.bytes[i + 1..];
                return Ok(v);
            }
        }
        if self.bytes.len() >= 10 {
            Err(DecodeError::VarintOverflow)
        } else {
            Err(DecodeError::Truncated)
        }
    }

    fn varint(&mut self) -> Result<i64, DecodeError> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    fn u64le(&mut self) -> Result<u64, DecodeError> {
        let (head, rest) = self
            .bytes
            .split_first_chunk::<8>()
            .ok_or(DecodeError::Truncated)?;
        self.bytes = rest;
        Ok(u64::from_le_bytes(*head))
    }

    fn bytes(&mut self, len: u64) -> Result<&'a [u8], DecodeError> {
        let len = usize::try_from(len).map_err(|_| DecodeError::Truncated)?;
        if len > self.bytes.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    fn string(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.uvarint()?;
        let bytes = self.bytes(len)?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    fn roundtrip(record: &Record) -> Vec<u8> {
        let mut buf = Vec::new();
        record.encode(&mut buf);
        assert!(buf.len() <= record.encoded_len_hint(), "hint too small");
        assert_eq!(&Record::decode(&buf).unwrap(), record);
        buf
    }

    #[test]
    fn series_roundtrip() {
        roundtrip(&Record::Series(vec![
            RefSeries {
                id: 1,
                labels: labels(&[("__name__", "up"), ("job", "api")]),
            },
            RefSeries {
                id: u64::MAX,
                labels: Labels::new(),
            },
            RefSeries {
                id: 300,
                labels: labels(&[("é", "\u{1F600}"), ("a", &"x".repeat(200))]),
            },
        ]));
        roundtrip(&Record::Series(Vec::new()));
    }

    #[test]
    fn series_bytes_are_as_documented() {
        let buf = roundtrip(&Record::Series(vec![RefSeries {
            id: 300,
            labels: labels(&[("job", "a")]),
        }]));
        assert_eq!(buf, b"\x01\xac\x02\x01\x03job\x01a");
    }

    #[test]
    fn samples_roundtrip() {
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        roundtrip(&Record::Samples(vec![
            RefSample {
                id: 5,
                t: 1_700_000_000_000,
                v: 1.5,
            },
            RefSample {
                id: 3,
                t: 1_700_000_000_015,
                v: stale,
            },
            RefSample {
                id: u64::MAX,
                t: i64::MIN,
                v: -0.0,
            },
            RefSample {
                id: 0,
                t: i64::MAX,
                v: f64::INFINITY,
            },
        ]));
        roundtrip(&Record::Samples(Vec::new()));
    }

    #[test]
    fn samples_bytes_are_as_documented() {
        let buf = roundtrip(&Record::Samples(vec![
            RefSample {
                id: 2,
                t: 1000,
                v: 1.0,
            },
            RefSample {
                id: 1,
                t: 1015,
                v: 2.0,
            },
        ]));
        let mut want = vec![0x02, 0x02, 0xd0, 0x0f];
        want.extend([0x00, 0x00]);
        want.extend(1.0f64.to_bits().to_le_bytes());
        want.extend([0x01, 0x1e]);
        want.extend(2.0f64.to_bits().to_le_bytes());
        assert_eq!(buf, want);
    }

    #[test]
    fn nan_samples_compare_by_bits() {
        let a = RefSample {
            id: 1,
            t: 2,
            v: f64::NAN,
        };
        assert_eq!(a, a);
        assert_ne!(a, RefSample { v: -f64::NAN, ..a });
    }

    #[test]
    fn varint_edges() {
        for v in [0, 1, 127, 128, 16_383, 16_384, u64::MAX / 2, u64::MAX] {
            let mut buf = Vec::new();
            put_uvarint(&mut buf, v);
            let mut c = Cursor { bytes: &buf };
            assert_eq!(c.uvarint().unwrap(), v);
            assert!(c.is_empty());
        }
        for v in [0, -1, 1, i64::MIN, i64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(Cursor { bytes: &buf }.varint().unwrap(), v);
        }
        let eleven = [0xff; 11];
        assert_eq!(
            Cursor { bytes: &eleven }.uvarint(),
            Err(DecodeError::VarintOverflow)
        );
        let mut too_big = [0xff; 10];
        too_big[9] = 0x02;
        assert_eq!(
            Cursor { bytes: &too_big }.uvarint(),
            Err(DecodeError::VarintOverflow)
        );
        assert_eq!(
            Cursor { bytes: &[0x80] }.uvarint(),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn hostile_payloads_are_errors() {
        assert_eq!(Record::decode(b""), Err(DecodeError::Empty));
        assert_eq!(Record::decode(b"\x00"), Err(DecodeError::UnknownType(0)));
        assert_eq!(Record::decode(b"\x09abc"), Err(DecodeError::UnknownType(9)));
        // A label count of 2^63 with two bytes of body.
        assert_eq!(
            Record::decode(b"\x01\x01\xff\xff\xff\xff\xff\xff\xff\xff\x7f\x01a"),
            Err(DecodeError::Truncated)
        );
        // A string length past the end.
        assert_eq!(
            Record::decode(b"\x01\x01\x01\x05ab"),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            Record::decode(b"\x01\x01\x01\x01\xff\x01a"),
            Err(DecodeError::NotUtf8)
        );
        // Empty name, empty value, repeated name.
        assert_eq!(
            Record::decode(b"\x01\x01\x01\x00\x01a"),
            Err(DecodeError::BadLabels)
        );
        assert_eq!(
            Record::decode(b"\x01\x01\x01\x01a\x00"),
            Err(DecodeError::BadLabels)
        );
        assert_eq!(
            Record::decode(b"\x01\x01\x02\x01a\x01x\x01a\x01y"),
            Err(DecodeError::BadLabels)
        );
        // A sample cut inside its value.
        assert_eq!(
            Record::decode(b"\x02\x01\x02\x00\x00\x01\x02"),
            Err(DecodeError::Truncated)
        );
    }
}
