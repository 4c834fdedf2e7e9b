//! Segment files: their names, the frame around each record, and [`SegmentReader`], which
//! walks a segment's frames and says precisely where and why it stopped.
//!
//! ```text
//! frame = length:u32le crc:u32le payload[length]      crc = CRC-32 (IEEE) of payload
//! ```
//!
//! See `docs/format/tsdb-wal.md` for the whole layout.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::record::{DecodeError, Record};
use super::{Corruption, DamageKind, WalError};

/// Bytes of a frame header: length and CRC.
pub const HEADER_LEN: usize = 8;

/// The largest payload a frame may carry (64 MiB). A reader refuses a longer length
/// before allocating anything, and [`Wal::log`](super::Wal::log) refuses to write one.
pub const MAX_RECORD_LEN: usize = 64 << 20;

/// The file name of segment `n`: its number in decimal, zero-padded to eight digits.
pub fn segment_name(n: u64) -> String {
    format!("{n:08}")
}

/// The path of segment `n` in `dir`.
pub fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(segment_name(n))
}

/// The segment number a file name stands for, if it is a segment's name exactly as
/// [`segment_name`] writes it (so `1` or `000000001` is not segment 1).
pub fn parse_segment_name(name: &str) -> Option<u64> {
    if name.len() < 8 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = name.parse().ok()?;
    (segment_name(n) == name).then_some(n)
}

/// The segment numbers present in `dir`, ascending. Other files are ignored.
pub fn list_segments(dir: &Path) -> Result<Vec<u64>, WalError> {
    let io_err = |source| WalError::io("list", dir, source);
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        if let Some(n) = entry.file_name().to_str().and_then(parse_segment_name) {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Appends `record` to `buf` framed: header, then payload. Fails, leaving `buf` as it
/// was, if the payload is longer than [`MAX_RECORD_LEN`].
pub fn encode_frame(record: &Record, buf: &mut Vec<u8>) -> Result<(), WalError> {
    let start = buf.len();
    buf.reserve(HEADER_LEN + record.encoded_len_hint());
    buf.extend_from_slice(&[0; HEADER_LEN]);
    record.encode(buf);
    let len = buf.len() - start - HEADER_LEN;
    if len > MAX_RECORD_LEN {
        buf.truncate(start);
        return Err(WalError::RecordTooLarge { len });
    }
    let crc = crc32fast::hash(&buf[start + HEADER_LEN..]);
    buf[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Reads the records of one segment in order.
///
/// The reader knows the segment's length up front (a file's size, a slice's length), so
/// it tells a torn tail from a length that is merely large, and never allocates for a
/// frame more than what is left of the segment (nor more than [`MAX_RECORD_LEN`]). Its
/// payload buffer is reused from frame to frame.
#[derive(Debug)]
pub struct SegmentReader<R> {
    reader: R,
    /// The file read, for I/O errors.
    path: PathBuf,
    segment: u64,
    len: u64,
    offset: u64,
    payload: Vec<u8>,
}

impl SegmentReader<io::BufReader<File>> {
    /// Opens segment `n` of `dir` for reading.
    pub fn open(dir: &Path, n: u64) -> Result<Self, WalError> {
        let path = segment_path(dir, n);
        let file = File::open(&path).map_err(|e| WalError::io("open", &path, e))?;
        let len = file
            .metadata()
            .map_err(|e| WalError::io("stat", &path, e))?
            .len();
        let mut reader = Self::new(io::BufReader::with_capacity(256 << 10, file), n, len);
        reader.path = path;
        Ok(reader)
    }
}

impl<R: Read> SegmentReader<R> {
    /// Reads segment number `segment` (used in errors) of `len` bytes from `reader`.
    pub fn new(reader: R, segment: u64, len: u64) -> Self {
        Self {
            reader,
            path: PathBuf::from(segment_name(segment)),
            segment,
            len,
            offset: 0,
            payload: Vec::new(),
        }
    }

    /// The offset just past the last record returned: where the good data ends when
    /// [`next_record`](Self::next_record) fails.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The segment's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the segment has no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The next record, `None` at a clean end of the segment.
    ///
    /// Errors: [`WalError::Corruption`] for a torn tail, a bad length, a checksum
    /// mismatch or a body that does not decode, at the frame's offset;
    /// [`WalError::UnknownRecordType`] for a frame whose checksum matches but whose type
    /// this version does not know; [`WalError::Io`] if reading fails. After an error the
    /// reader stays where the bad frame starts.
    pub fn next_record(&mut self) -> Result<Option<Record>, WalError> {
        let left = self.len - self.offset;
        if left == 0 {
            return Ok(None);
        }
        if left < HEADER_LEN as u64 {
            return Err(self.corruption(DamageKind::TornTail));
        }
        let mut header = [0u8; HEADER_LEN];
        self.read_exact(&mut header)?;
        let [l0, l1, l2, l3, c0, c1, c2, c3] = header;
        let len = u32::from_le_bytes([l0, l1, l2, l3]);
        let crc = u32::from_le_bytes([c0, c1, c2, c3]);
        if len == 0 || len as usize > MAX_RECORD_LEN {
            return Err(self.corruption(DamageKind::BadLength(len)));
        }
        if u64::from(len) > left - HEADER_LEN as u64 {
            return Err(self.corruption(DamageKind::TornTail));
        }
        self.payload.clear();
        self.payload.resize(len as usize, 0);
        let mut payload = std::mem::take(&mut self.payload);
        let read = self.read_exact(&mut payload);
        let result = read.and_then(|()| self.check_and_decode(&payload, crc));
        self.payload = payload;
        let record = result?;
        self.offset += HEADER_LEN as u64 + u64::from(len);
        Ok(Some(record))
    }

    fn check_and_decode(&self, payload: &[u8], crc: u32) -> Result<Record, WalError> {
        let actual = crc32fast::hash(payload);
        if actual != crc {
            return Err(self.corruption(DamageKind::Checksum {
                stored: crc,
                computed: actual,
            }));
        }
        Record::decode(payload).map_err(|e| match e {
            DecodeError::UnknownType(kind) => WalError::UnknownRecordType {
                segment: self.segment,
                offset: self.offset,
                kind,
            },
            other => self.corruption(DamageKind::Malformed(other)),
        })
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), WalError> {
        self.reader
            .read_exact(buf)
            .map_err(|source| WalError::io("read", &self.path, source))
    }

    fn corruption(&self, kind: DamageKind) -> WalError {
        WalError::Corruption(Corruption {
            segment: self.segment,
            offset: self.offset,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::wal::{RefSample, RefSeries};
    use tally_model::Labels;

    fn frames(records: &[Record]) -> Vec<u8> {
        let mut buf = Vec::new();
        for r in records {
            encode_frame(r, &mut buf).unwrap();
        }
        buf
    }

    fn read_all(bytes: &[u8]) -> (Vec<Record>, Result<(), WalError>, u64) {
        let mut reader = SegmentReader::new(bytes, 7, bytes.len() as u64);
        let mut out = Vec::new();
        loop {
            match reader.next_record() {
                Ok(Some(r)) => out.push(r),
                Ok(None) => return (out, Ok(()), reader.offset()),
                Err(e) => return (out, Err(e), reader.offset()),
            }
        }
    }

    fn sample_records() -> Vec<Record> {
        vec![
            Record::Series(vec![RefSeries {
                id: 1,
                labels: Labels::from_pairs([("__name__", "up")]).unwrap(),
            }]),
            Record::Samples(vec![RefSample {
                id: 1,
                t: 10,
                v: 1.0,
            }]),
        ]
    }

    #[test]
    fn names() {
        assert_eq!(segment_name(1), "00000001");
        assert_eq!(segment_name(123_456_789), "123456789");
        assert_eq!(parse_segment_name("00000001"), Some(1));
        assert_eq!(parse_segment_name("123456789"), Some(123_456_789));
        for bad in ["1", "000000001", "0000000a", "00000001.tmp", "", "-0000001"] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn frame_layout() {
        let rec = Record::Samples(Vec::new());
        let buf = frames(std::slice::from_ref(&rec));
        assert_eq!(&buf[..4], &1u32.to_le_bytes());
        assert_eq!(&buf[4..8], &crc32fast::hash(&[2]).to_le_bytes());
        assert_eq!(&buf[8..], &[2]);
    }

    #[test]
    fn reads_back_and_stops_cleanly() {
        let records = sample_records();
        let bytes = frames(&records);
        let (got, end, offset) = read_all(&bytes);
        assert_eq!(got, records);
        assert!(end.is_ok());
        assert_eq!(offset, bytes.len() as u64);
    }

    fn damage(bytes: &[u8]) -> (usize, Corruption) {
        let (got, end, _) = read_all(bytes);
        match end {
            Err(WalError::Corruption(c)) => (got.len(), c),
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    #[test]
    fn classifies_damage() {
        let records = sample_records();
        let bytes = frames(&records);
        let second = frames(&records[..1]).len();

        let (n, c) = damage(&bytes[..bytes.len() - 1]);
        assert_eq!(
            (n, c.segment, c.offset, c.kind),
            (1, 7, second as u64, DamageKind::TornTail)
        );
        let (n, c) = damage(&bytes[..second + 3]);
        assert_eq!(
            (n, c.offset, c.kind),
            (1, second as u64, DamageKind::TornTail)
        );

        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 0x40;
        let (n, c) = damage(&flipped);
        assert_eq!((n, c.offset), (1, second as u64));
        assert!(matches!(c.kind, DamageKind::Checksum { .. }));

        let mut zeros = bytes.clone();
        zeros.extend([0; 20]);
        let (n, c) = damage(&zeros);
        assert_eq!(
            (n, c.offset, c.kind),
            (2, bytes.len() as u64, DamageKind::BadLength(0))
        );

        let mut huge = bytes.clone();
        huge.extend(u32::MAX.to_le_bytes());
        huge.extend([0; 4]);
        let (_, c) = damage(&huge);
        assert_eq!(c.kind, DamageKind::BadLength(u32::MAX));
    }

    #[test]
    fn checksummed_garbage_is_malformed_and_unknown_types_are_errors() {
        let mut bytes = Vec::new();
        for payload in [&b"\x02\x01"[..], b"\x2a"] {
            bytes.extend((payload.len() as u32).to_le_bytes());
            bytes.extend(crc32fast::hash(payload).to_le_bytes());
            bytes.extend(payload);
        }
        let (n, c) = damage(&bytes);
        assert_eq!(n, 0);
        assert_eq!(c.kind, DamageKind::Malformed(DecodeError::Truncated));

        let (_, end, _) = read_all(&bytes[10..]);
        match end {
            Err(WalError::UnknownRecordType {
                segment: 7,
                offset: 0,
                kind: 42,
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversized_records_are_refused() {
        let value = "x".repeat(MAX_RECORD_LEN);
        let huge = Record::Series(vec![RefSeries {
            id: 1,
            labels: Labels::from_pairs([("a", value.as_str())]).unwrap(),
        }]);
        let mut buf = vec![9];
        match encode_frame(&huge, &mut buf) {
            Err(WalError::RecordTooLarge { len }) => assert!(len > MAX_RECORD_LEN),
            other => panic!("{other:?}"),
        }
        assert_eq!(buf, [9]);
    }
}
