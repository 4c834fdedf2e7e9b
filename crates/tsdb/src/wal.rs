//! The write-ahead log: every series creation and every sample batch the head accepts is
//! written here before it is acknowledged, and replayed at start-up.
//!
//! The byte layout (segment names, frames, each record type, checksums, repair rules,
//! versioning) is specified in `docs/format/tsdb-wal.md`.
//!
//! # Layout
//!
//! - [`Wal`] (this file): appends batches of records to numbered segment files in one
//!   directory (`00000001`, `00000002`, ...), cuts a new segment past
//!   [`WalOptions::segment_size`] or on demand ([`Wal::cut`]), and removes old ones
//!   ([`Wal::remove_before`]). [`Wal::log`] returns once the bytes are written with
//!   `write(2)` (they survive `kill -9`); with [`WalOptions::fsync`] once they are
//!   `fdatasync`ed too, concurrent callers sharing one sync (group commit).
//! - [`Record`], [`RefSeries`], [`RefSample`] (`wal/record.rs`): what is logged, and the
//!   payload encoding (varints, timestamps and ids as deltas against the first sample).
//! - [`SegmentReader`] (`wal/segment.rs`): segment names, the length + CRC-32 frame around
//!   each record, and a reader that stops at the first bad frame saying where and why.
//! - [`Replay`], [`Damage`] (`wal/replay.rs`): replay at [`Wal::open`] and repair:
//!   everything after the first bad frame is dropped, as Prometheus does.
//! - [`WalError`], [`Corruption`] (`wal/error.rs`): errors with the segment and offset.
//!
//! # Example
//!
//! ```
//! use tally_model::Labels;
//! use tally_tsdb::wal::{Record, RefSample, RefSeries, Wal, WalOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let (wal, replay) = Wal::open(dir.path(), WalOptions::default(), 0, |_| {})?;
//! assert_eq!(replay.records, 0);
//! let up = Labels::from_pairs([("__name__", "up"), ("job", "api")])?;
//! wal.log(&[
//!     Record::Series(vec![RefSeries { id: 1, labels: up }]),
//!     Record::Samples(vec![RefSample { id: 1, t: 1_000, v: 1.0 }]),
//! ])?;
//! drop(wal);
//!
//! let mut records = Vec::new();
//! let (_wal, replay) = Wal::open(dir.path(), WalOptions::default(), 0, |r| records.push(r))?;
//! assert_eq!(replay.records, 2);
//! assert!(replay.damage.is_none());
//! assert!(matches!(&records[1], Record::Samples(s) if s[0].v == 1.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod record;
mod replay;
mod segment;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, MutexGuard};

pub use error::{Corruption, DamageKind, WalError};
pub use record::{DecodeError, Record, RefSample, RefSeries, TYPE_SAMPLES, TYPE_SERIES};
pub use replay::{Damage, Replay};
pub use segment::{parse_segment_name, segment_name, SegmentReader, HEADER_LEN, MAX_RECORD_LEN};

use segment::{encode_frame, list_segments, segment_path};

/// The default size past which a new segment is started: 64 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 64 << 20;

/// How a [`Wal`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// A batch that would take the current segment past this many bytes goes into a new
    /// segment (a batch larger than this gets a segment of its own). Default 64 MiB.
    pub segment_size: u64,
    /// `fdatasync` every batch before [`Wal::log`] returns (group commit), and sync the
    /// directory when a segment is created or removed, so logged records survive power
    /// loss. Off by default: records then survive a crash of the process, not of the
    /// machine.
    pub fsync: bool,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self {
            segment_size: DEFAULT_SEGMENT_SIZE,
            fsync: false,
        }
    }
}

/// Counters of a [`Wal`] since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalStats {
    /// The segment being appended to.
    pub segment: u64,
    /// Its size in bytes.
    pub segment_bytes: u64,
    /// Records written since open.
    pub records: u64,
    /// Bytes written since open (frames included).
    pub bytes: u64,
    /// `fdatasync` calls made for group commit (with `fsync` on): at most one per
    /// [`Wal::log`] call, fewer when concurrent callers share syncs.
    pub syncs: u64,
}

/// The write-ahead log of one head: a directory of numbered segment files.
///
/// Thread-safe: every method takes `&self`. A mutex serialises writes (held for the
/// `write(2)` of one batch, never during an `fdatasync`); a second one coordinates group
/// commit. Dropping the `Wal` closes the current segment; nothing else needs flushing,
/// since there is no user-space buffer.
///
/// Only one `Wal` may be open on a directory at a time (the caller's data-directory lock
/// ensures it).
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    writer: Mutex<Writer>,
    sync: Mutex<SyncState>,
    synced: Condvar,
}

/// The current segment, under [`Wal::writer`].
#[derive(Debug)]
struct Writer {
    /// Shared with a group-commit leader, which syncs it outside this lock.
    file: Arc<File>,
    segment: u64,
    /// The segment's length: where the next frame goes.
    size: u64,
    /// Bytes written since open, over all segments: the positions group commit counts in.
    pos: u64,
    records: u64,
    /// Set when the file's state is unknown after a failure; refuses further writes.
    failed: Option<String>,
}

/// Group commit's state, under [`Wal::sync`].
#[derive(Debug, Default)]
struct SyncState {
    /// Every byte before this position ([`Writer::pos`]) is on disk.
    synced: u64,
    /// A caller is running `fdatasync` now; the others wait on [`Wal::synced`].
    syncing: bool,
    failed: Option<String>,
    syncs: u64,
}

impl Wal {
    /// Opens the log in `dir` (creating it if needed, syncing its parent with `fsync`),
    /// replaying into `f`, in log order, every record of the segments numbered `from` or
    /// more; older segments are neither read nor removed. Appends continue at the end of
    /// the last segment.
    ///
    /// A damaged log is repaired (see [`Replay`]): the first bad frame and everything after
    /// it, in its segment and in later segments, is dropped, and [`Replay::damage`] says
    /// where, why and how much. Errors: I/O, a record type from a newer version
    /// ([`WalError::UnknownRecordType`]), a gap in the segment numbers
    /// ([`WalError::MissingSegment`]); none of these changes any file.
    ///
    /// `from` is a lower bound (the segment returned by the [`cut`](Self::cut) of the last
    /// checkpoint; 0 to replay everything): [`Replay::first_segment`] tells which segment
    /// replay actually started from.
    pub fn open(
        dir: impl AsRef<Path>,
        options: WalOptions,
        from: u64,
        f: impl FnMut(Record),
    ) -> Result<(Wal, Replay), WalError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            fs::create_dir_all(dir).map_err(|e| WalError::io("create", dir, e))?;
            if options.fsync {
                if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                    replay::sync_dir(parent)?;
                }
            }
        }
        let (report, last) = replay::replay(dir, from, true, options.fsync, f)?;
        let (segment, file) = match last {
            Some(n) => (n, open_segment(dir, n)?),
            None => {
                let after = list_segments(dir)?.last().map_or(0, |n| n + 1);
                let n = after.max(from).max(1);
                (n, create_segment(dir, n, options.fsync)?)
            }
        };
        let size = file
            .metadata()
            .map_err(|e| WalError::io("stat", &segment_path(dir, segment), e))?
            .len();
        let wal = Wal {
            dir: dir.to_path_buf(),
            options,
            writer: Mutex::new(Writer {
                file: Arc::new(file),
                segment,
                size,
                pos: 0,
                records: 0,
                failed: None,
            }),
            sync: Mutex::new(SyncState::default()),
            synced: Condvar::new(),
        };
        Ok((wal, report))
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the log was opened with.
    pub fn options(&self) -> WalOptions {
        self.options
    }

    /// Appends `records`, in order, as one `write(2)`. Returns once they are written (they
    /// survive `kill -9`) and, with [`WalOptions::fsync`], synced (they survive power
    /// loss).
    ///
    /// Group commit: a caller waiting for its bytes to be synced while another caller's
    /// `fdatasync` runs waits for that sync; if it covered its bytes, it returns without
    /// syncing; otherwise one of the waiters syncs for all of them.
    ///
    /// Errors: [`WalError::RecordTooLarge`] (nothing written); [`WalError::Io`] if the write
    /// fails (the partial frame is cut off again so the segment stays readable), or if the
    /// sync fails; [`WalError::Failed`] after a failure that left the file in an unknown
    /// state (a failed sync, or a partial write that could not be cut off).
    pub fn log(&self, records: &[Record]) -> Result<(), WalError> {
        if records.is_empty() {
            return Ok(());
        }
        let hint = records
            .iter()
            .map(|r| r.encoded_len_hint() + HEADER_LEN)
            .sum();
        let mut buf = Vec::with_capacity(hint);
        for record in records {
            encode_frame(record, &mut buf)?;
        }
        let end = {
            let mut w = self.writer.lock();
            w.check()?;
            if w.size > 0 && w.size + buf.len() as u64 > self.options.segment_size {
                self.cut_locked(&mut w)?;
            }
            w.write(&buf, &self.dir)?;
            w.records += records.len() as u64;
            w.pos
        };
        if self.options.fsync {
            self.wait_synced(end)?;
        }
        Ok(())
    }

    /// Starts a new segment and returns its number: every record logged after `cut`
    /// returns goes to that segment or a later one. With `fsync`, the previous segment is
    /// synced first and the directory after.
    ///
    /// A checkpoint uses it: `n = cut()`, persist everything the head holds, then
    /// [`remove_before(n)`](Self::remove_before).
    pub fn cut(&self) -> Result<u64, WalError> {
        let mut w = self.writer.lock();
        w.check()?;
        self.cut_locked(&mut w)
    }

    /// Deletes the segments numbered below `n`, oldest first (so a crash in the middle
    /// leaves a consecutive log), and returns how many it deleted. The current segment is
    /// never deleted, whatever `n`.
    pub fn remove_before(&self, n: u64) -> Result<usize, WalError> {
        let limit = n.min(self.writer.lock().segment);
        let mut removed = 0;
        for m in list_segments(&self.dir)? {
            if m >= limit {
                break;
            }
            let path = segment_path(&self.dir, m);
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(WalError::io("remove", &path, e)),
            }
        }
        if removed > 0 && self.options.fsync {
            replay::sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// Counters since open.
    pub fn stats(&self) -> WalStats {
        let (segment, segment_bytes, records, bytes) = {
            let w = self.writer.lock();
            (w.segment, w.size, w.records, w.pos)
        };
        WalStats {
            segment,
            segment_bytes,
            records,
            bytes,
            syncs: self.sync.lock().syncs,
        }
    }

    /// Switches `w` to a new segment. With `fsync`, the old one is synced first, so
    /// group commit only ever has to sync the current segment.
    fn cut_locked(&self, w: &mut Writer) -> Result<u64, WalError> {
        if self.options.fsync {
            if let Err(e) = w.file.sync_data() {
                w.failed = Some(format!("sync of segment {} failed: {e}", w.segment));
                return Err(WalError::io("sync", &segment_path(&self.dir, w.segment), e));
            }
            let mut s = self.sync.lock();
            s.synced = s.synced.max(w.pos);
        }
        let next = w.segment + 1;
        let file = create_segment(&self.dir, next, self.options.fsync)?;
        w.file = Arc::new(file);
        w.segment = next;
        w.size = 0;
        Ok(next)
    }

    /// Waits until every byte before `end` is synced, leading a sync when none is running.
    fn wait_synced(&self, end: u64) -> Result<(), WalError> {
        let mut s = self.sync.lock();
        loop {
            if let Some(reason) = &s.failed {
                return Err(WalError::Failed(reason.clone()));
            }
            if s.synced >= end {
                return Ok(());
            }
            if s.syncing {
                self.synced.wait(&mut s);
                continue;
            }
            s.syncing = true;
            let (target, result) = MutexGuard::unlocked(&mut s, || self.sync_current());
            s.syncing = false;
            s.syncs += 1;
            self.synced.notify_all();
            match result {
                Ok(()) => s.synced = s.synced.max(target),
                Err(e) => {
                    s.failed = Some(e.to_string());
                    return Err(e);
                }
            }
        }
    }

    /// Syncs the current segment; returns the position it covers. Everything before it
    /// is in this segment or in earlier ones, which [`cut_locked`](Self::cut_locked)
    /// synced.
    fn sync_current(&self) -> (u64, Result<(), WalError>) {
        let (target, file, segment) = {
            let w = self.writer.lock();
            (w.pos, w.file.clone(), w.segment)
        };
        let result = file.sync_data().map_err(|e| {
            let err = WalError::io("sync", &segment_path(&self.dir, segment), e);
            self.writer.lock().failed = Some(err.to_string());
            err
        });
        (target, result)
    }
}

impl Writer {
    fn check(&self) -> Result<(), WalError> {
        match &self.failed {
            Some(reason) => Err(WalError::Failed(reason.clone())),
            None => Ok(()),
        }
    }

    /// Writes `buf` at the end of the segment; on failure cuts off what was written of it.
    fn write(&mut self, buf: &[u8], dir: &Path) -> Result<(), WalError> {
        match (&*self.file).write_all(buf) {
            Ok(()) => {
                self.size += buf.len() as u64;
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                let path = segment_path(dir, self.segment);
                if let Err(undo) = self.file.set_len(self.size) {
                    self.failed = Some(format!(
                        "a write to {} failed ({e}) and its partial frame could not be cut off ({undo})",
                        path.display()
                    ));
                }
                Err(WalError::io("write", &path, e))
            }
        }
    }
}

/// Reads segments `from..` of `dir` into `f` without changing anything: damage is reported
/// in [`Replay::damage`] (with the bytes and segments a repair would drop) but not
/// repaired. For inspection tools; the head uses [`Wal::open`].
pub fn read(dir: impl AsRef<Path>, from: u64, f: impl FnMut(Record)) -> Result<Replay, WalError> {
    replay::replay(dir.as_ref(), from, false, false, f).map(|(report, _)| report)
}

fn open_segment(dir: &Path, n: u64) -> Result<File, WalError> {
    let path = segment_path(dir, n);
    OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(|e| WalError::io("open", &path, e))
}

/// Creates segment `n` (empty); with `fsync`, makes its directory entry durable.
fn create_segment(dir: &Path, n: u64, fsync: bool) -> Result<File, WalError> {
    let path = segment_path(dir, n);
    // Not `create_new`: a previous attempt whose directory sync failed may have left the
    // empty file behind, and that must not block every later cut.
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| WalError::io("create", &path, e))?;
    if fsync {
        replay::sync_dir(dir)?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn samples(n: usize, t: i64) -> Record {
        Record::Samples(
            (0..n)
                .map(|i| RefSample {
                    id: i as u64,
                    t: t + i as i64,
                    v: i as f64,
                })
                .collect(),
        )
    }

    fn segment_sizes(dir: &Path) -> Vec<(u64, u64)> {
        list_segments(dir)
            .unwrap()
            .into_iter()
            .map(|n| (n, fs::metadata(segment_path(dir, n)).unwrap().len()))
            .collect()
    }

    #[test]
    fn starts_at_segment_one_and_cuts_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let options = WalOptions {
            segment_size: 60,
            fsync: false,
        };
        let (wal, _) = Wal::open(dir.path(), options, 0, |_| {}).unwrap();
        assert_eq!(wal.stats().segment, 1);
        let mut frame = Vec::new();
        encode_frame(&samples(3, 0), &mut frame).unwrap();
        let frame_len = frame.len() as u64;
        assert!(frame_len < 60 && 2 * frame_len > 60, "{frame_len}");
        wal.log(&[samples(3, 0)]).unwrap();
        wal.log(&[samples(3, 10)]).unwrap();
        wal.log(&[samples(3, 20)]).unwrap();
        assert_eq!(
            segment_sizes(dir.path()),
            [(1, frame_len), (2, frame_len), (3, frame_len)]
        );
        // A batch bigger than a segment gets a segment of its own.
        wal.log(&[samples(20, 30)]).unwrap();
        wal.log(&[samples(3, 40)]).unwrap();
        let sizes = segment_sizes(dir.path());
        assert_eq!(sizes.len(), 5);
        assert!(sizes[3].1 > 60);
        let stats = wal.stats();
        assert_eq!((stats.segment, stats.records, stats.syncs), (5, 5, 0));
        assert_eq!(stats.bytes, sizes.iter().map(|s| s.1).sum::<u64>());
    }

    #[test]
    fn cut_and_remove_before() {
        let dir = tempfile::tempdir().unwrap();
        let options = WalOptions {
            fsync: true,
            ..WalOptions::default()
        };
        let (wal, _) = Wal::open(dir.path(), options, 0, |_| {}).unwrap();
        assert_eq!(wal.cut().unwrap(), 2);
        wal.log(&[samples(1, 0)]).unwrap();
        assert_eq!(wal.cut().unwrap(), 3);
        assert_eq!(wal.cut().unwrap(), 4);
        assert_eq!(wal.remove_before(3).unwrap(), 2);
        assert_eq!(list_segments(dir.path()).unwrap(), [3, 4]);
        // Never the current segment.
        assert_eq!(wal.remove_before(100).unwrap(), 1);
        assert_eq!(list_segments(dir.path()).unwrap(), [4]);
        assert_eq!(wal.remove_before(100).unwrap(), 0);
    }

    #[test]
    fn reopening_continues_the_last_segment_and_from_skips_older_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(dir.path(), WalOptions::default(), 0, |_| {}).unwrap();
        wal.log(&[samples(1, 0)]).unwrap();
        let n = wal.cut().unwrap();
        wal.log(&[samples(1, 1)]).unwrap();
        drop(wal);

        let mut seen = Vec::new();
        let (wal, replay) =
            Wal::open(dir.path(), WalOptions::default(), n, |r| seen.push(r)).unwrap();
        assert_eq!(seen, [samples(1, 1)]);
        assert_eq!(
            (replay.records, replay.segments, replay.first_segment),
            (1, 1, Some(2))
        );
        assert_eq!(wal.stats().segment, 2);
        wal.log(&[samples(1, 2)]).unwrap();
        drop(wal);
        assert_eq!(list_segments(dir.path()).unwrap(), [1, 2]);

        // `from` past every segment: a fresh segment numbered `from`.
        let (wal, replay) = Wal::open(dir.path(), WalOptions::default(), 9, |_| {}).unwrap();
        assert_eq!((replay.records, replay.first_segment), (0, None));
        assert_eq!(wal.stats().segment, 9);
    }

    #[test]
    fn a_gap_is_an_error_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(dir.path(), WalOptions::default(), 0, |_| {}).unwrap();
        wal.cut().unwrap();
        wal.cut().unwrap();
        drop(wal);
        fs::remove_file(segment_path(dir.path(), 2)).unwrap();
        match Wal::open(dir.path(), WalOptions::default(), 0, |_| {}) {
            Err(WalError::MissingSegment {
                missing: 2,
                next: 3,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(list_segments(dir.path()).unwrap(), [1, 3]);
        // From past the gap is fine.
        assert!(Wal::open(dir.path(), WalOptions::default(), 3, |_| {}).is_ok());
    }

    #[test]
    fn empty_batches_write_nothing_and_too_large_records_nothing_either() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(dir.path(), WalOptions::default(), 0, |_| {}).unwrap();
        wal.log(&[]).unwrap();
        let value = "x".repeat(MAX_RECORD_LEN);
        let huge = Record::Series(vec![RefSeries {
            id: 1,
            labels: tally_model::Labels::from_pairs([("a", value.as_str())]).unwrap(),
        }]);
        assert!(matches!(
            wal.log(&[samples(1, 0), huge]),
            Err(WalError::RecordTooLarge { .. })
        ));
        assert_eq!(wal.stats().bytes, 0);
        assert_eq!(segment_sizes(dir.path()), [(1, 0)]);
    }
}
