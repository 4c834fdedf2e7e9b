//! Replay at start-up: every record of every segment from a given number on, in order,
//! and the repair of a damaged log.
//!
//! Repair follows Prometheus (`wlog.Repair`): everything after the first bad frame is
//! dropped. The damaged segment is truncated at the end of its last good record and every
//! later segment is deleted. A later segment cannot be kept: its samples may refer to
//! series whose records were in the dropped part, and the head would replay them out of
//! order. In the last segment this is the normal aftermath of a crash (a torn tail); in
//! an earlier one it means the disk lost data (an OS crash with fsync off, a bad sector),
//! and the report says how much was dropped.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::path::Path;

use super::record::Record;
use super::segment::{list_segments, segment_name, segment_path, SegmentReader};
use super::{Corruption, WalError};

/// What a replay read, and the damage it found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replay {
    /// Records handed to the callback.
    pub records: u64,
    /// Segments read (the damaged one included).
    pub segments: u64,
    /// The first segment read, if any.
    pub first_segment: Option<u64>,
    /// Bytes of good frames read.
    pub bytes: u64,
    /// The first bad frame, if any; nothing after it was replayed.
    pub damage: Option<Damage>,
}

/// The first bad frame a replay met and what was dropped because of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Where and why.
    pub corruption: Corruption,
    /// Bytes not replayed: the rest of the damaged segment and all later segments.
    pub dropped_bytes: u64,
    /// The later segments not replayed (deleted by a repair), ascending.
    pub dropped_segments: Vec<u64>,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}; dropped {} bytes",
            self.corruption, self.dropped_bytes
        )?;
        if let (Some(first), Some(last)) =
            (self.dropped_segments.first(), self.dropped_segments.last())
        {
            write!(
                f,
                " and segments {} to {}",
                segment_name(*first),
                segment_name(*last)
            )?;
        }
        Ok(())
    }
}

/// Replays segments `from..` of `dir` into `f`; with `repair`, truncates and deletes what
/// is damaged (syncing the changes when `fsync`). Also returns the last segment left at or
/// after `from`, where appends continue.
pub(super) fn replay(
    dir: &Path,
    from: u64,
    repair: bool,
    fsync: bool,
    mut f: impl FnMut(Record),
) -> Result<(Replay, Option<u64>), WalError> {
    let segments: Vec<u64> = list_segments(dir)?
        .into_iter()
        .filter(|&n| n >= from)
        .collect();
    for pair in segments.windows(2) {
        if let [a, b] = *pair {
            if b != a + 1 {
                return Err(WalError::MissingSegment {
                    dir: dir.to_path_buf(),
                    missing: a + 1,
                    next: b,
                });
            }
        }
    }
    let mut report = Replay {
        first_segment: segments.first().copied(),
        ..Replay::default()
    };
    for (i, &n) in segments.iter().enumerate() {
        report.segments += 1;
        let mut reader = SegmentReader::open(dir, n)?;
        let corruption = loop {
            match reader.next_record() {
                Ok(Some(record)) => {
                    report.records += 1;
                    f(record);
                }
                Ok(None) => break None,
                Err(WalError::Corruption(c)) => break Some(c),
                Err(e) => return Err(e),
            }
        };
        report.bytes += reader.offset();
        let Some(corruption) = corruption else {
            continue;
        };
        let later = &segments[i + 1..];
        let mut dropped_bytes = reader.len() - reader.offset();
        for &m in later {
            let path = segment_path(dir, m);
            dropped_bytes += fs::metadata(&path)
                .map_err(|e| WalError::io("stat", &path, e))?
                .len();
        }
        if repair {
            truncate(dir, n, reader.offset(), fsync)?;
            // Newest first: a crash in the middle leaves a shorter but consecutive log,
            // which the next start repairs the same way.
            for &m in later.iter().rev() {
                let path = segment_path(dir, m);
                fs::remove_file(&path).map_err(|e| WalError::io("remove", &path, e))?;
            }
            if fsync && !later.is_empty() {
                sync_dir(dir)?;
            }
        }
        report.damage = Some(Damage {
            corruption,
            dropped_bytes,
            dropped_segments: later.to_vec(),
        });
        return Ok((report, Some(n)));
    }
    Ok((report, segments.last().copied()))
}

fn truncate(dir: &Path, n: u64, len: u64, fsync: bool) -> Result<(), WalError> {
    let path = segment_path(dir, n);
    let file = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| WalError::io("open", &path, e))?;
    file.set_len(len)
        .map_err(|e| WalError::io("truncate", &path, e))?;
    if fsync {
        file.sync_all()
            .map_err(|e| WalError::io("sync", &path, e))?;
    }
    Ok(())
}

/// Makes `dir`'s entries (created and removed files) durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| WalError::io("sync", dir, e))
}
