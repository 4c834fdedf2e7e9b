//! Gateway log records: what was applied, byte for byte (see
//! `docs/format/gateway-log.md`).
//!
//! ```text
//! frame   = length:u32le crc:u32le payload[length]      crc = CRC-32 (IEEE) of payload
//! payload = kind:u8 time_ms:i64le fields...
//! ```

use tally_gateway::PushMethod;
use tally_model::Labels;

/// Largest payload a reader accepts; a longer length field is corruption.
pub const MAX_PAYLOAD: u32 = 64 << 20;

const KIND_PUSH: u8 = 1;
const KIND_DELETE: u8 = 2;
const KIND_EXPIRE: u8 = 3;
const KIND_FAILURE: u8 = 4;

const FLAG_TTL: u8 = 1;
const FLAG_START: u8 = 2;
const FLAG_SEQ: u8 = 4;
const FLAG_OPENMETRICS: u8 = 8;

/// One applied operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A push, with its body exactly as received (it is parsed again on replay).
    Push {
        /// When it was applied.
        time_ms: i64,
        /// `PUT` or `POST`.
        method: PushMethod,
        /// The grouping key.
        key: Labels,
        /// TTL override.
        ttl_ms: Option<i64>,
        /// Client process start time.
        start_time: Option<f64>,
        /// Client push sequence.
        sequence: Option<u64>,
        /// Whether the body is OpenMetrics (else text 0.0.4).
        openmetrics: bool,
        /// The body.
        body: Vec<u8>,
    },
    /// A group deleted.
    Delete {
        /// When.
        time_ms: i64,
        /// The grouping key.
        key: Labels,
    },
    /// An expiry pass at a time.
    Expire {
        /// The time the pass used.
        time_ms: i64,
    },
    /// A failed push to an existing group.
    Failure {
        /// When.
        time_ms: i64,
        /// The grouping key.
        key: Labels,
    },
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_key(out: &mut Vec<u8>, key: &Labels) {
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    for (n, v) in key.iter() {
        put_str(out, n);
        put_str(out, v);
    }
}

/// Reserves a frame header; returns where the frame starts.
fn begin_frame(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; 8]);
    start
}

/// Fills in the header of the frame that starts at `start` and ends at the end of `out`.
fn end_frame(out: &mut [u8], start: usize) {
    let payload_len = (out.len() - start - 8) as u32;
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// The fields of a [`Record::Push`] besides its body, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct PushFields<'a> {
    /// When it was applied.
    pub time_ms: i64,
    /// `PUT` or `POST`.
    pub method: PushMethod,
    /// The grouping key.
    pub key: &'a Labels,
    /// TTL override.
    pub ttl_ms: Option<i64>,
    /// Client process start time.
    pub start_time: Option<f64>,
    /// Client push sequence.
    pub sequence: Option<u64>,
    /// Whether the body is OpenMetrics (else text 0.0.4).
    pub openmetrics: bool,
}

impl Record {
    /// Appends the framed record to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Record::Push {
                time_ms,
                method,
                key,
                ttl_ms,
                start_time,
                sequence,
                openmetrics,
                body,
            } => Self::encode_push(
                out,
                &PushFields {
                    time_ms: *time_ms,
                    method: *method,
                    key,
                    ttl_ms: *ttl_ms,
                    start_time: *start_time,
                    sequence: *sequence,
                    openmetrics: *openmetrics,
                },
                body,
            ),
            Record::Delete { time_ms, key } | Record::Failure { time_ms, key } => {
                let start = begin_frame(out);
                out.push(if matches!(self, Record::Delete { .. }) {
                    KIND_DELETE
                } else {
                    KIND_FAILURE
                });
                out.extend_from_slice(&time_ms.to_le_bytes());
                put_key(out, key);
                end_frame(out, start);
            }
            Record::Expire { time_ms } => {
                let start = begin_frame(out);
                out.push(KIND_EXPIRE);
                out.extend_from_slice(&time_ms.to_le_bytes());
                end_frame(out, start);
            }
        }
    }

    /// Appends the framed [`Record::Push`] of `fields` and `body` to `out`, without the
    /// copy of the body a `Record` would need.
    pub fn encode_push(out: &mut Vec<u8>, fields: &PushFields<'_>, body: &[u8]) {
        let start = begin_frame(out);
        out.push(KIND_PUSH);
        out.extend_from_slice(&fields.time_ms.to_le_bytes());
        out.push(match fields.method {
            PushMethod::Put => 0,
            PushMethod::Post => 1,
        });
        let mut flags = 0;
        if fields.ttl_ms.is_some() {
            flags |= FLAG_TTL;
        }
        if fields.start_time.is_some() {
            flags |= FLAG_START;
        }
        if fields.sequence.is_some() {
            flags |= FLAG_SEQ;
        }
        if fields.openmetrics {
            flags |= FLAG_OPENMETRICS;
        }
        out.push(flags);
        if let Some(t) = fields.ttl_ms {
            out.extend_from_slice(&t.to_le_bytes());
        }
        if let Some(s) = fields.start_time {
            out.extend_from_slice(&s.to_bits().to_le_bytes());
        }
        if let Some(s) = fields.sequence {
            out.extend_from_slice(&s.to_le_bytes());
        }
        put_key(out, fields.key);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        end_frame(out, start);
    }

    /// The operation's time.
    pub fn time_ms(&self) -> i64 {
        match self {
            Record::Push { time_ms, .. }
            | Record::Delete { time_ms, .. }
            | Record::Expire { time_ms }
            | Record::Failure { time_ms, .. } => *time_ms,
        }
    }
}

/// Why reading stopped before the end of a log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The log ends inside a frame (a torn write).
    #[error("truncated record at byte {offset}")]
    Truncated {
        /// Where the incomplete frame starts.
        offset: usize,
    },
    /// The checksum or the content of a frame is wrong.
    #[error("corrupt record at byte {offset}: {reason}")]
    Corrupt {
        /// Where the bad frame starts.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)?.try_into().ok().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take(8)?.try_into().ok().map(i64::from_le_bytes)
    }
    fn string(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }
    fn key(&mut self) -> Option<Labels> {
        let n = self.u32()? as usize;
        let mut pairs = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            pairs.push((self.string()?, self.string()?));
        }
        Labels::from_pairs(pairs).ok()
    }
}

fn decode_payload(payload: &[u8]) -> Option<Record> {
    let mut r = Reader {
        bytes: payload,
        pos: 0,
    };
    let kind = r.u8()?;
    let time_ms = r.i64()?;
    let record = match kind {
        KIND_PUSH => {
            let method = match r.u8()? {
                0 => PushMethod::Put,
                1 => PushMethod::Post,
                _ => return None,
            };
            let flags = r.u8()?;
            let ttl_ms = if flags & FLAG_TTL != 0 {
                Some(r.i64()?)
            } else {
                None
            };
            let start_time = if flags & FLAG_START != 0 {
                Some(f64::from_bits(r.u64()?))
            } else {
                None
            };
            let sequence = if flags & FLAG_SEQ != 0 {
                Some(r.u64()?)
            } else {
                None
            };
            let key = r.key()?;
            let n = r.u32()? as usize;
            let body = r.take(n)?.to_vec();
            Record::Push {
                time_ms,
                method,
                key,
                ttl_ms,
                start_time,
                sequence,
                openmetrics: flags & FLAG_OPENMETRICS != 0,
                body,
            }
        }
        KIND_DELETE => Record::Delete {
            time_ms,
            key: r.key()?,
        },
        KIND_FAILURE => Record::Failure {
            time_ms,
            key: r.key()?,
        },
        KIND_EXPIRE => Record::Expire { time_ms },
        _ => return None,
    };
    (r.pos == payload.len()).then_some(record)
}

/// Decodes every complete, intact record; stops at the first damaged one and says why.
/// Returns the records and the byte length of the intact prefix.
pub fn decode_all(bytes: &[u8]) -> (Vec<Record>, usize, Option<DecodeError>) {
    let mut records = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let Some(header) = bytes.get(pos..pos + 8) else {
            return (records, pos, Some(DecodeError::Truncated { offset: pos }));
        };
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_PAYLOAD {
            let reason = "length field out of range";
            return (
                records,
                pos,
                Some(DecodeError::Corrupt {
                    offset: pos,
                    reason,
                }),
            );
        }
        let Some(payload) = bytes.get(pos + 8..pos + 8 + len as usize) else {
            return (records, pos, Some(DecodeError::Truncated { offset: pos }));
        };
        if crc32fast::hash(payload) != crc {
            let reason = "checksum mismatch";
            return (
                records,
                pos,
                Some(DecodeError::Corrupt {
                    offset: pos,
                    reason,
                }),
            );
        }
        let Some(record) = decode_payload(payload) else {
            let reason = "undecodable payload";
            return (
                records,
                pos,
                Some(DecodeError::Corrupt {
                    offset: pos,
                    reason,
                }),
            );
        };
        records.push(record);
        pos += 8 + len as usize;
    }
    (records, pos, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Labels {
        Labels::from_pairs([("job", "j"), ("instance", "i/1")]).unwrap()
    }

    fn samples() -> Vec<Record> {
        vec![
            Record::Push {
                time_ms: 1_700_000_000_000,
                method: PushMethod::Post,
                key: key(),
                ttl_ms: Some(60_000),
                start_time: Some(1.5e9),
                sequence: Some(7),
                openmetrics: false,
                body: b"a 1\n".to_vec(),
            },
            Record::Push {
                time_ms: 1,
                method: PushMethod::Put,
                key: key(),
                ttl_ms: None,
                start_time: None,
                sequence: None,
                openmetrics: true,
                body: Vec::new(),
            },
            Record::Delete {
                time_ms: 2,
                key: key(),
            },
            Record::Expire { time_ms: 3 },
            Record::Failure {
                time_ms: 4,
                key: key(),
            },
        ]
    }

    #[test]
    fn round_trips() {
        let mut bytes = Vec::new();
        for r in samples() {
            r.encode(&mut bytes);
        }
        let (records, len, err) = decode_all(&bytes);
        assert_eq!(records, samples());
        assert_eq!((len, err), (bytes.len(), None));
    }

    #[test]
    fn stops_at_torn_and_corrupt_tails() {
        let mut bytes = Vec::new();
        for r in samples() {
            r.encode(&mut bytes);
        }
        let full = bytes.len();
        // Every truncation keeps exactly the complete records before the cut.
        for cut in 0..full {
            let (records, len, err) = decode_all(&bytes[..cut]);
            assert!(len <= cut);
            assert!(records.len() < samples().len());
            assert_eq!(err.is_some(), len < cut, "cut {cut}");
        }
        // A flipped bit in the last record's payload is caught by the checksum.
        let mut damaged = bytes.clone();
        damaged[full - 3] ^= 0x40;
        let (records, _, err) = decode_all(&damaged);
        assert_eq!(records.len(), samples().len() - 1);
        assert!(matches!(
            err,
            Some(DecodeError::Corrupt {
                reason: "checksum mismatch",
                ..
            })
        ));
    }
}
