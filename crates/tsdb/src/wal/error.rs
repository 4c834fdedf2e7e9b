//! [`WalError`] and [`Corruption`]: what went wrong, and where, in enough detail to repair.
//!
//! [`Corruption`] plays the part of Prometheus' `CorruptionErr`: the segment and the
//! offset of the first bad frame are exactly where a repair truncates.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::record::DecodeError;
use super::segment::segment_name;

/// A failure of the write-ahead log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// A file operation failed.
    #[error("wal: cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done: `open`, `read`, `write`, `sync`, ...
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A segment holds a bad frame. [`Wal::open`](super::Wal::open) repairs this kind
    /// (and reports it in [`Replay::damage`](super::Replay::damage)); a bare
    /// [`SegmentReader`](super::SegmentReader) returns it.
    #[error(transparent)]
    Corruption(#[from] Corruption),
    /// A frame whose checksum is right carries a type byte this version does not know:
    /// it was written by a newer tally. Not repaired, because truncating would destroy
    /// good data; run the newer version, or move the segments aside.
    #[error(
        "wal segment {} offset {offset}: unknown record type {kind} (written by a newer version?)",
        segment_name(*segment)
    )]
    UnknownRecordType {
        /// The segment number.
        segment: u64,
        /// The frame's offset in the segment.
        offset: u64,
        /// The type byte.
        kind: u8,
    },
    /// The segments to replay are not consecutive: a segment file was removed by hand.
    /// Not repaired: a gap is never left by a crash.
    #[error("wal {}: segment {} is missing (segments {} and {} exist)", dir.display(),
        segment_name(*missing), segment_name(missing - 1), segment_name(*next))]
    MissingSegment {
        /// The log's directory.
        dir: PathBuf,
        /// The first missing segment number.
        missing: u64,
        /// The next segment present.
        next: u64,
    },
    /// A record's payload is longer than
    /// [`MAX_RECORD_LEN`](super::MAX_RECORD_LEN); nothing of the batch was written.
    #[error("wal: record of {len} bytes is over the 64 MiB limit")]
    RecordTooLarge {
        /// The payload's length.
        len: usize,
    },
    /// An earlier write or sync failed in a way that leaves the file's state unknown, so
    /// the log refuses further records (after a failed `fdatasync` the kernel may have
    /// dropped the dirty pages; retrying would claim durability it does not have).
    #[error("wal: no longer writable after an earlier failure: {0}")]
    Failed(String),
}

impl WalError {
    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        WalError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Where a segment stops holding good records, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("wal segment {} offset {offset}: {kind}", segment_name(*segment))]
pub struct Corruption {
    /// The segment number.
    pub segment: u64,
    /// Offset in the segment of the first bad frame, which is also the end of the last
    /// good record.
    pub offset: u64,
    /// What is wrong there.
    pub kind: DamageKind,
}

/// What is wrong with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DamageKind {
    /// The segment ends inside the frame's header or payload: a write cut short by a
    /// crash.
    TornTail,
    /// The frame's length is zero or over the 64 MiB limit (a zero-filled tail, left by
    /// some file systems after power loss, shows up as a length of 0).
    BadLength(u32),
    /// The payload's CRC-32 does not match the stored one.
    Checksum {
        /// The CRC in the frame header.
        stored: u32,
        /// The CRC of the payload as read.
        computed: u32,
    },
    /// The checksum matches but the body does not decode as its type says.
    Malformed(DecodeError),
}

impl fmt::Display for DamageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DamageKind::TornTail => f.write_str("torn record at the end of the segment"),
            DamageKind::BadLength(len) => write!(f, "bad record length {len}"),
            DamageKind::Checksum { stored, computed } => write!(
                f,
                "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            DamageKind::Malformed(e) => write!(f, "malformed record: {e}"),
        }
    }
}
