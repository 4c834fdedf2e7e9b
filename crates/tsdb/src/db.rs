//! [`Db`]: the database — head, write-ahead log and SQLite store put together, behind the
//! `tally-storage` traits.
//!
//! # Write path
//!
//! An appender collects samples, checking each against the head's newest sample of its
//! series (read lock). `commit` takes the head's write lock, checks the batch again
//! (another batch may have committed meanwhile), logs new series and accepted samples to
//! the write-ahead log, then applies them to the head. When `commit` returns, the batch is
//! in the log (survives `kill -9`; with `fsync`, power loss too) and visible to queries.
//!
//! # Checkpoints
//!
//! [`Db::checkpoint`] cuts a new log segment and copies, under the same write lock, what
//! the store lacks ([`Head::take_checkpoint`]); writes it to SQLite in one transaction
//! without the lock; then releases the copied memory and deletes the log segments before
//! the cut: everything they held is in the store. A crash anywhere in between replays
//! those segments again, which changes nothing (replayed samples that the head already
//! has are skipped by the ordering rule).
//!
//! # Read path
//!
//! A querier takes the head's read lock, selects series with the index and decodes their
//! memory chunks, releases it, then reads older data from the store. Store rows that
//! start at or after the oldest time memory holds for a series are copies of memory and
//! are skipped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};
use tally_model::{Labels, Sample};
use tally_storage::append::{check_order, Accepted};
use tally_storage::{
    AppendError, AppendStats, Appender, Matcher, Querier, Rejection, SelectHints, Series, Storage,
    StorageError,
};

use crate::head::{AppendLimits, Batch, ChunkPolicy, Head, SeriesKey};
use crate::index::SeriesId;
use crate::rollup::{bucket_samples, DERIVED_MS};
use crate::store::{Store, StoreError};
use crate::wal::{self, Wal};

/// Milliseconds since the epoch, from an injectable clock.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// A checkpoint that copied at least this many bytes of chunks returns free heap pages
/// to the system afterwards (`memory.rs`). Small: the checkpoint after a burst of writes
/// copies only what came after the previous one (under 1 MiB after the remote_write
/// bench's 14.4 M samples in some runs, which then kept 3–4 MB of free pages resident
/// until a later checkpoint), and the walk costs little next to the SQLite transaction.
const RELEASE_AFTER_BYTES: usize = 64 << 10;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    })
}

/// How a [`Db`] behaves. `Options::new(dir)` gives the defaults.
#[derive(Clone)]
pub struct Options {
    /// The directory holding `tally.db` and `wal/`.
    pub dir: PathBuf,
    /// Sync every commit to disk (group commit) so acknowledged samples survive power
    /// loss, not only a crash of the process.
    pub fsync: bool,
    /// Seal a chunk at this many samples (default 120, as Prometheus).
    pub chunk_max_samples: usize,
    /// ... or when a sample falls in another window of this many ms (default 2 h).
    pub chunk_range_ms: i64,
    /// Drop raw samples older than this many ms (default 15 days).
    pub retention_ms: Option<i64>,
    /// Drop rollups older than this many ms (default 400 days).
    pub rollup_retention_ms: Option<i64>,
    /// Drop the oldest raw data while the store is larger than this many bytes.
    pub retention_bytes: Option<u64>,
    /// The most series the database holds; new series beyond it are refused.
    pub max_series: usize,
    /// Write-ahead log segment size in bytes.
    pub wal_segment_bytes: u64,
    /// [`Db::checkpoint_due`] says yes once this many samples were appended since the
    /// last checkpoint, and the commit that reaches it wakes [`Db::wait_checkpoint_due`]
    /// (bounds the memory held by chunks not yet written, about 2 bytes a sample plus
    /// about 100 bytes per sealed chunk; default 1 million).
    pub checkpoint_samples: u64,
    /// Where "now" comes from (retention, idle series). Tests inject a fake clock.
    pub clock: Clock,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("dir", &self.dir)
            .field("fsync", &self.fsync)
            .field("chunk_max_samples", &self.chunk_max_samples)
            .field("chunk_range_ms", &self.chunk_range_ms)
            .field("retention_ms", &self.retention_ms)
            .field("rollup_retention_ms", &self.rollup_retention_ms)
            .field("retention_bytes", &self.retention_bytes)
            .field("max_series", &self.max_series)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// The defaults, storing in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            fsync: false,
            chunk_max_samples: 120,
            chunk_range_ms: 2 * 3_600_000,
            retention_ms: Some(15 * 86_400_000),
            rollup_retention_ms: Some(400 * 86_400_000),
            retention_bytes: None,
            max_series: 10_000_000,
            wal_segment_bytes: 64 << 20,
            checkpoint_samples: 1_000_000,
            clock: system_clock(),
        }
    }
}

/// Why the database could not open or write.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The SQLite store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The write-ahead log failed.
    #[error(transparent)]
    Wal(#[from] wal::WalError),
    /// A stored chunk could not be decoded.
    #[error("stored chunk of series {series} starting at {min_t}: {reason}")]
    Chunk {
        /// The series.
        series: SeriesId,
        /// The chunk's start.
        min_t: i64,
        /// The decoder's explanation.
        reason: String,
    },
    /// Another process has the database open for writing.
    #[error("data directory {path} is in use by another tally process (lock file {path}/LOCK)")]
    Locked {
        /// The directory.
        path: String,
    },
    /// A write was attempted on a database opened read-only.
    #[error("the database was opened read-only")]
    ReadOnly,
    /// Creating the directory failed.
    #[error("data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

impl From<StoreError> for StorageError {
    fn from(e: StoreError) -> Self {
        DbError::from(e).into()
    }
}

impl From<DbError> for StorageError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Dir { source, .. } => StorageError::Io(source),
            DbError::Chunk {
                series,
                min_t,
                reason,
            } => StorageError::Corrupt {
                what: format!("chunk of series {series} at {min_t}"),
                reason,
            },
            other => StorageError::Other(other.to_string()),
        }
    }
}

/// What opening found and recovered.
#[derive(Debug, Default, Clone)]
pub struct OpenReport {
    /// Series in the store's catalogue.
    pub series_loaded: usize,
    /// Checkpointed open chunks reopened for appending.
    pub chunks_reopened: usize,
    /// What replaying the log found, damage included.
    pub replay: wal::Replay,
    /// Samples from the log applied to the head.
    pub samples_replayed: u64,
}

/// What one checkpoint wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CheckpointReport {
    /// New series rows.
    pub series: usize,
    /// Chunk rows (sealed and partial).
    pub chunks: usize,
    /// Rollup rows.
    pub rollups: usize,
}

/// What one retention pass removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RetentionReport {
    /// The raw-data horizon applied (ms), if any.
    pub horizon: Option<i64>,
    /// Series dropped because no data of theirs is left.
    pub series_removed: usize,
    /// Bytes of the store after the pass.
    pub store_bytes: u64,
}

/// Running totals of the write path, for tally's own metrics.
#[derive(Debug, Default)]
pub struct DbCounters {
    /// Samples stored.
    pub samples_appended: AtomicU64,
    /// Repeats accepted without change.
    pub samples_repeated: AtomicU64,
    /// Refused samples by reason, in [`Rejection::ALL`] order.
    pub samples_rejected: [AtomicU64; 5],
    /// Series created.
    pub series_created: AtomicU64,
    /// Stored rollup blocks that did not decode and were rewritten without their older
    /// buckets ([`Store::corrupt_rollup_blocks`](crate::store::Store::corrupt_rollup_blocks)).
    pub corrupt_rollup_blocks: AtomicU64,
}

/// The embedded time-series database. Share it with `Arc`; every method takes `&self`.
pub struct Db {
    opts: Options,
    head: RwLock<Head>,
    /// `None` when opened read-only ([`Db::open_read_only`]).
    wal: Option<Wal>,
    /// Held (an exclusive `flock`) while a writer has the directory open.
    _lock: Option<std::fs::File>,
    store: Mutex<Store>,
    /// Serialises checkpoints and retention (never held by appends or queries).
    maintenance: Mutex<()>,
    /// Samples appended since the last checkpoint's copy.
    unsaved_samples: AtomicU64,
    /// When the last checkpoint finished (ms, from the clock).
    last_checkpoint_ms: AtomicI64,
    /// Set by the commit that brings `unsaved_samples` to [`Options::checkpoint_samples`];
    /// [`Db::wait_checkpoint_due`] waits on it.
    samples_due: Mutex<bool>,
    samples_due_signal: Condvar,
    counters: DbCounters,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens the database in `opts.dir`, creating it when missing: loads the series
    /// catalogue, reopens checkpointed open chunks, replays the log (repairing a damaged
    /// tail, reported in [`OpenReport::replay`]).
    pub fn open(opts: Options) -> Result<(Self, OpenReport), DbError> {
        Self::open_mode(opts, false)
    }

    /// Opens an existing database for inspection (`tally tsdb stats`, `dump`), also while
    /// a server writes to it: nothing is changed on disk, a damaged log is reported and
    /// read up to the damage, and every write fails with [`DbError::ReadOnly`]. Everything
    /// committed before the call is seen: when the writer checkpoints during the read
    /// (moving data from the log to the store), the read starts over.
    pub fn open_read_only(opts: Options) -> Result<(Self, OpenReport), DbError> {
        Self::open_mode(opts, true)
    }

    fn open_mode(opts: Options, read_only: bool) -> Result<(Self, OpenReport), DbError> {
        let dir_err = |source| DbError::Dir {
            path: opts.dir.display().to_string(),
            source,
        };
        let lock = if read_only {
            None
        } else {
            std::fs::create_dir_all(&opts.dir).map_err(dir_err)?;
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(opts.dir.join("LOCK"))
                .map_err(dir_err)?;
            if file.try_lock().is_err() {
                return Err(DbError::Locked {
                    path: opts.dir.display().to_string(),
                });
            }
            Some(file)
        };
        let store = if read_only {
            Store::open_read_only(&opts.dir)?
        } else {
            Store::open(&opts.dir, opts.fsync)?
        };
        let (head, report, wal) = if read_only {
            let (head, report) = load_beside_writer(&opts, &store)?;
            (head, report, None)
        } else {
            let (mut head, mut report) = load_store(&opts, &store)?;
            let apply = |record| report.samples_replayed += replay_record(&mut head, record);
            let (wal, replay) = Wal::open(wal_dir(&opts.dir), wal_options(&opts), 0, apply)?;
            report.replay = replay;
            (head, report, Some(wal))
        };
        let now = (opts.clock)();
        let db = Self {
            opts,
            head: RwLock::new(head),
            wal,
            _lock: lock,
            store: Mutex::new(store),
            maintenance: Mutex::new(()),
            unsaved_samples: AtomicU64::new(report.samples_replayed),
            last_checkpoint_ms: AtomicI64::new(now),
            samples_due: Mutex::new(false),
            samples_due_signal: Condvar::new(),
            counters: DbCounters::default(),
        };
        Ok((db, report))
    }

    /// The options the database was opened with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Running totals of the write path.
    pub fn counters(&self) -> &DbCounters {
        &self.counters
    }

    /// Copies the store's count of rewritten rollup blocks into the counters (the
    /// store's lock is held by the caller; the counters are read without it).
    fn note_store_corruption(&self, store: &Store) {
        self.counters
            .corrupt_rollup_blocks
            .store(store.corrupt_rollup_blocks(), Ordering::Relaxed);
    }

    /// Number of series in memory (every series the store holds).
    pub fn series_count(&self) -> usize {
        self.head.read().len()
    }

    /// Bytes of heap held by series chunks and labels (the maps excluded).
    pub fn head_heap_bytes(&self) -> usize {
        self.head.read().series_heap_size()
    }

    /// Writes what the store lacks and deletes the log segments it no longer needs.
    pub fn checkpoint(&self) -> Result<CheckpointReport, DbError> {
        let wal = self.wal.as_ref().ok_or(DbError::ReadOnly)?;
        let _one = self.maintenance.lock();
        let (cut, cp) = {
            let mut head = self.head.write();
            let now = (self.opts.clock)();
            // Series idle for a whole chunk window seal their open chunk (memory). Idle
            // is measured against the newest sample of any series, not only the clock:
            // backfilled data (older than the window) would otherwise be sealed at every
            // checkpoint into many small chunks.
            let newest = head.newest_time().min(now);
            head.seal_idle(newest.saturating_sub(self.opts.chunk_range_ms));
            let cut = wal.cut()?;
            self.unsaved_samples.store(0, Ordering::Relaxed);
            *self.samples_due.lock() = false;
            (cut, head.take_checkpoint())
        };
        {
            let mut store = self.store.lock();
            store.write_checkpoint(&cp.batch)?;
            self.note_store_corruption(&store);
        }
        self.head.write().release(&cp);
        let report = CheckpointReport {
            series: cp.batch.series.len(),
            chunks: cp.batch.chunks.len(),
            rollups: cp.batch.rollups.len(),
        };
        let copied: usize = cp.batch.chunks.iter().map(|c| c.data.len()).sum();
        drop(cp);
        // What the checkpoint copied and released is free now: give it back, when that is
        // worth an allocator walk (a busy server's checkpoints copy megabytes).
        if copied >= RELEASE_AFTER_BYTES {
            crate::memory::release_free_memory();
        }
        wal.remove_before(cut)?;
        self.last_checkpoint_ms
            .store((self.opts.clock)(), Ordering::Relaxed);
        Ok(report)
    }

    /// Whether a checkpoint is due: `interval_ms` passed since the last one, or
    /// [`Options::checkpoint_samples`] samples were appended since.
    pub fn checkpoint_due(&self, interval_ms: i64) -> bool {
        let since = (self.opts.clock)() - self.last_checkpoint_ms.load(Ordering::Relaxed);
        since >= interval_ms
            || self.unsaved_samples.load(Ordering::Relaxed) >= self.opts.checkpoint_samples
    }

    /// Waits until a checkpoint is due ([`checkpoint_due`](Self::checkpoint_due)) or
    /// `timeout` passed, and says whether one is due. A commit that brings the samples
    /// appended since the last checkpoint to [`Options::checkpoint_samples`] wakes the
    /// waiter at once, so a checkpoint job that waits here instead of polling starts as
    /// soon as the threshold is reached: under a fast load, polling once a second let
    /// another second of samples (a million at remote_write benchmark rates) pile up in
    /// memory before each checkpoint. Blocks the calling thread.
    pub fn wait_checkpoint_due(&self, interval_ms: i64, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut due = self.samples_due.lock();
        loop {
            if *due || self.checkpoint_due(interval_ms) {
                return true;
            }
            if self
                .samples_due_signal
                .wait_until(&mut due, deadline)
                .timed_out()
            {
                return *due || self.checkpoint_due(interval_ms);
            }
        }
    }

    /// Applies retention by age and by size. Data must be checkpointed to be removed;
    /// memory chunks older than the horizon go with the next checkpoint's release.
    pub fn apply_retention(&self) -> Result<RetentionReport, DbError> {
        if self.wal.is_none() {
            return Err(DbError::ReadOnly);
        }
        let _one = self.maintenance.lock();
        let now = (self.opts.clock)();
        let mut report = RetentionReport::default();
        let mut horizon = self.opts.retention_ms.map(|r| now - r);
        let rollup_horizon = self.opts.rollup_retention_ms.map_or(i64::MIN, |r| now - r);
        let mut store = self.store.lock();
        for _ in 0..8 {
            let keep = |id: SeriesId| {
                self.head
                    .read()
                    .get(id)
                    .is_some_and(|s| !s.open.is_empty() || !s.sealed().is_empty())
            };
            let removed =
                store.delete_before(horizon.unwrap_or(i64::MIN), rollup_horizon, &keep)?;
            self.note_store_corruption(&store);
            report.series_removed += removed.len();
            if !removed.is_empty() {
                let mut head = self.head.write();
                for id in removed {
                    head.remove_series(id);
                }
            }
            let size = store.size_bytes()?;
            report.store_bytes = size;
            report.horizon = horizon;
            let Some(limit) = self.opts.retention_bytes.filter(|l| size > *l) else {
                break;
            };
            // Over the size limit: move the horizon forward in proportion to the excess.
            let Some((lo, hi)) = store.time_bounds()? else {
                break;
            };
            let keep_fraction = limit as f64 / size as f64;
            let cut = hi - ((hi - lo) as f64 * keep_fraction) as i64;
            horizon = Some(horizon.map_or(cut, |h| h.max(cut)).max(lo + 1));
        }
        let mut head = self.head.write();
        if let Some(h) = report.horizon {
            head.forget_before(h);
        }
        Ok(report)
    }

    fn commit_batch(&self, batch: &mut Batch) -> Result<AppendStats, DbError> {
        let limits = AppendLimits {
            min_time: self.min_time(),
            max_series: self.opts.max_series,
        };
        let wal = self.wal.as_ref().ok_or(DbError::ReadOnly)?;
        let mut head = self.head.write();
        let staged = head.stage(batch, limits);
        if !staged.new_series.is_empty() || !staged.samples.is_empty() {
            let mut records = Vec::with_capacity(2);
            if !staged.new_series.is_empty() {
                records.push(wal::Record::Series(
                    staged
                        .new_series
                        .iter()
                        .map(|(id, labels)| wal::RefSeries {
                            id: *id,
                            labels: labels.clone(),
                        })
                        .collect(),
                ));
            }
            if !staged.samples.is_empty() {
                records.push(wal::Record::Samples(
                    staged
                        .samples
                        .iter()
                        .map(|(id, s)| wal::RefSample {
                            id: *id,
                            t: s.timestamp_ms,
                            v: s.value,
                        })
                        .collect(),
                ));
            }
            wal.log(&records)?;
        }
        let stats = staged.stats.clone();
        head.apply(staged);
        drop(head);
        let before = self
            .unsaved_samples
            .fetch_add(stats.appended, Ordering::Relaxed);
        let threshold = self.opts.checkpoint_samples;
        if before < threshold && before + stats.appended >= threshold {
            *self.samples_due.lock() = true;
            self.samples_due_signal.notify_all();
        }
        let c = &self.counters;
        c.samples_appended
            .fetch_add(stats.appended, Ordering::Relaxed);
        c.samples_repeated
            .fetch_add(stats.repeats, Ordering::Relaxed);
        c.series_created
            .fetch_add(stats.new_series, Ordering::Relaxed);
        for (n, total) in stats.rejected.iter().zip(&c.samples_rejected) {
            total.fetch_add(*n, Ordering::Relaxed);
        }
        Ok(stats)
    }

    /// The oldest timestamp retention still accepts.
    fn min_time(&self) -> i64 {
        self.opts
            .retention_ms
            .map_or(i64::MIN, |r| (self.opts.clock)() - r)
    }

    /// Samples of one series from the store in `[mint, maxt]` below `below` (where memory
    /// takes over).
    fn stored_samples(
        &self,
        store: &Store,
        id: SeriesId,
        mint: i64,
        maxt: i64,
        below: Option<i64>,
        out: &mut Vec<Sample>,
    ) -> Result<(), DbError> {
        let maxt = below.map_or(maxt, |b| maxt.min(b - 1));
        if maxt < mint {
            return Ok(());
        }
        for row in store.chunks(id, mint, maxt)? {
            if below.is_some_and(|b| row.min_t >= b) {
                continue;
            }
            row.data
                .decode_range(mint, maxt, out)
                .map_err(|e| DbError::Chunk {
                    series: id,
                    min_t: row.min_t,
                    reason: e.to_string(),
                })?;
        }
        Ok(())
    }

    /// Rollup points of the series selected by `matchers` at resolution `res_ms`
    /// (60,000 or 3,600,000), bucket starts in `[mint, maxt]`; current (unfinished)
    /// buckets included. 1 minute buckets are computed from the raw samples while they
    /// are kept (and read from the store for data retention removed).
    pub fn select_rollups(
        &self,
        matchers: &[Matcher],
        res_ms: i64,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<crate::rollup::RollupPoint>)>, DbError> {
        let reads = self.head.read().rollup_reads(matchers, res_ms, mint, maxt);
        let mut derived = if res_ms == DERIVED_MS {
            self.raw_buckets(matchers, res_ms, mint, maxt)?
        } else {
            hashbrown::HashMap::new()
        };
        let mut out = Vec::with_capacity(reads.len());
        self.store.lock().snapshot(|store| {
            for (id, labels, mem) in reads {
                let mut points = store.rollups(id, res_ms, mint, maxt)?;
                for p in mem {
                    match points.iter_mut().find(|q| q.start == p.start) {
                        Some(q) => *q = p,
                        None => points.push(p),
                    }
                }
                // Stored derived buckets hold samples retention deleted, which are older
                // than any raw sample left: the two parts of a bucket combine.
                for p in derived.remove(&id).unwrap_or_default() {
                    match points.iter_mut().find(|q| q.start == p.start) {
                        Some(q) => *q = q.combine(&p),
                        None => points.push(p),
                    }
                }
                points.sort_by_key(|p| p.start);
                out.push((labels, points));
            }
            Ok::<_, DbError>(())
        })?;
        Ok(out)
    }

    /// Buckets at `res_ms` with starts in `[mint, maxt]` computed from the raw samples
    /// (memory and store) of the selected series, by series.
    fn raw_buckets(
        &self,
        matchers: &[Matcher],
        res_ms: i64,
        mint: i64,
        maxt: i64,
    ) -> Result<hashbrown::HashMap<SeriesId, Vec<crate::rollup::RollupPoint>>, DbError> {
        let first = mint.div_euclid(res_ms) * res_ms;
        let lo = if first < mint {
            first.saturating_add(res_ms)
        } else {
            first
        };
        let hi = (maxt.div_euclid(res_ms) * res_ms).saturating_add(res_ms - 1);
        let mut out = hashbrown::HashMap::new();
        if lo > hi {
            return Ok(out);
        }
        let reads = self.head.read().select(matchers, lo, hi, true);
        self.store.lock().snapshot(|store| {
            for read in reads {
                let mut samples = Vec::new();
                if read.mem_min_t.is_none_or(|b| b > lo) {
                    self.stored_samples(store, read.id, lo, hi, read.mem_min_t, &mut samples)?;
                }
                samples.extend(read.samples);
                out.insert(read.id, bucket_samples(res_ms, &samples));
            }
            Ok::<_, DbError>(())
        })?;
        Ok(out)
    }

    /// Totals for inspection (`tally tsdb stats`).
    pub fn store_totals(&self) -> Result<crate::store::StoreTotals, DbError> {
        Ok(self.store.lock().totals()?)
    }

    /// Metric names by series count, most first (`tally tsdb stats`).
    pub fn top_metrics(&self, limit: usize) -> Vec<(String, u64)> {
        let head = self.head.read();
        let mut names: Vec<(String, u64)> = head
            .index()
            .values("__name__")
            .map(|(name, ids)| (name.to_owned(), ids.len() as u64))
            .collect();
        names.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        names.truncate(limit);
        names
    }

    /// Samples held in memory chunks.
    pub fn samples_in_memory(&self) -> usize {
        self.head.read().samples_in_memory()
    }

    /// Samples in the store's chunks (decodes every chunk header).
    pub fn samples_stored(&self) -> Result<u64, DbError> {
        let mut n = 0u64;
        self.store.lock().for_each_chunk(|row| {
            n += row.data.samples().count() as u64;
        })?;
        Ok(n)
    }
}

fn wal_dir(dir: &Path) -> PathBuf {
    dir.join("wal")
}

fn wal_options(opts: &Options) -> wal::WalOptions {
    wal::WalOptions {
        fsync: opts.fsync,
        segment_size: opts.wal_segment_bytes,
    }
}

/// A head holding what the store holds: the series catalogue, each series' bounds, the
/// checkpointed open chunks, the current rollups.
fn load_store(opts: &Options, store: &Store) -> Result<(Head, OpenReport), DbError> {
    let mut head = Head::new(ChunkPolicy {
        max_samples: opts.chunk_max_samples.max(1),
        range_ms: opts.chunk_range_ms.max(1),
    });
    let mut report = OpenReport::default();
    let series = store.load_series()?;
    report.series_loaded = series.len();
    for (id, labels) in series {
        head.insert_series(id, &labels, true);
    }
    for (id, min_t, max_t, last) in store.series_bounds()? {
        head.note_stored(id, min_t, max_t, last);
    }
    for row in store.load_partial_chunks()? {
        let chunk = row.data.to_xor_chunk().map_err(|e| DbError::Chunk {
            series: row.series,
            min_t: row.min_t,
            reason: e.to_string(),
        })?;
        head.reopen(row.series, chunk);
        report.chunks_reopened += 1;
    }
    for (id, res, point) in store.load_current_rollups()? {
        head.restore_rollup(id, res, point);
    }
    Ok((head, report))
}

/// How many times a read-only open reads the store and the log again because a writer's
/// checkpoint moved data from one to the other meanwhile.
const READ_ONLY_ATTEMPTS: usize = 200;

/// The store, then the log, read without changing anything, consistently even while a
/// writer checkpoints. A checkpoint that commits to the store after the store was read
/// and deletes log segments before they are read would hide what they held (or fail the
/// read on a vanished segment). Segments are only ever deleted oldest first, so the read
/// is whole when the log replayed from the segment that was first before the store was
/// read, and no segment vanished while it was replayed; otherwise it starts over (a
/// checkpoint is rare next to a read, and the last attempt is returned as it is).
fn load_beside_writer(opts: &Options, store: &Store) -> Result<(Head, OpenReport), DbError> {
    let dir = wal_dir(&opts.dir);
    let mut attempt = 1;
    loop {
        let first = first_segment(&dir);
        let (mut head, mut report) = load_store(opts, store)?;
        let replay = if dir.exists() {
            wal::read(&dir, 0, |record| {
                report.samples_replayed += replay_record(&mut head, record);
            })
        } else {
            Ok(wal::Replay::default())
        };
        let again = attempt < READ_ONLY_ATTEMPTS;
        attempt += 1;
        match replay {
            Err(wal::WalError::Io { source, .. })
                if again && source.kind() == std::io::ErrorKind::NotFound => {}
            Ok(replay) if again && first.is_some_and(|f| replay.first_segment != Some(f)) => {}
            Ok(replay) => {
                report.replay = replay;
                return Ok((head, report));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The lowest segment number in the log directory `dir`, if any.
fn first_segment(dir: &Path) -> Option<u64> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| wal::parse_segment_name(e.ok()?.file_name().to_str()?))
        .min()
}

/// Applies one replayed record; returns the samples it added.
fn replay_record(head: &mut Head, record: wal::Record) -> u64 {
    match record {
        wal::Record::Series(series) => {
            for s in series {
                head.insert_series(s.id, &s.labels, false);
            }
            0
        }
        wal::Record::Samples(samples) => samples
            .into_iter()
            .filter(|s| head.append_sample(s.id, Sample::new(s.t, s.v)))
            .count() as u64,
    }
}

impl Storage for Db {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(DbAppender {
            db: self,
            min_time: self.min_time(),
            batch: Batch::default(),
            fresh: hashbrown::HashTable::new(),
            hasher: hashbrown::DefaultHashBuilder::default(),
            newest: hashbrown::HashMap::new(),
            stats: AppendStats::default(),
        })
    }

    fn querier(&self, mint_ms: i64, maxt_ms: i64) -> Result<Box<dyn Querier + '_>, StorageError> {
        Ok(Box::new(DbQuerier {
            db: self,
            mint: mint_ms,
            maxt: maxt_ms,
        }))
    }
}

struct DbAppender<'a> {
    db: &'a Db,
    /// The retention horizon when the appender was made.
    min_time: i64,
    batch: Batch,
    /// Where the new label sets of this batch are in `batch.new_labels` (held there
    /// only: they move on to the head).
    fresh: hashbrown::HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
    /// The newest sample of each series touched by this batch (the head's or the batch's).
    newest: hashbrown::HashMap<SeriesKey, Option<Sample>>,
    /// Refusals found while appending.
    stats: AppendStats,
}

impl DbAppender<'_> {
    /// The batch's key for a label set the head does not hold: the one an earlier sample
    /// of the batch gave it, or a new one.
    fn new_key(&mut self, labels: Labels) -> SeriesKey {
        use std::hash::BuildHasher as _;
        let hash = self.hasher.hash_one(&labels);
        let new = &self.batch.new_labels;
        if let Some(n) = self.fresh.find(hash, |n| new[*n as usize] == labels) {
            return SeriesKey::New(*n);
        }
        let n = new.len() as u32;
        self.batch.new_labels.push(labels);
        let (new, hasher) = (&self.batch.new_labels, &self.hasher);
        self.fresh
            .insert_unique(hash, n, |n| hasher.hash_one(&new[*n as usize]));
        SeriesKey::New(n)
    }

    /// Applies the ordering rule to a sample of series `key`, whose newest sample in the
    /// head was `head_newest`, and adds it to the batch. `labels` gives the label set,
    /// only needed for an error.
    fn append_keyed(
        &mut self,
        key: SeriesKey,
        head_newest: Option<Sample>,
        sample: Sample,
        labels: impl FnOnce() -> Labels,
    ) -> Result<(), AppendError> {
        let newest = *self.newest.entry(key).or_insert(head_newest);
        match check_order(newest, sample) {
            Ok(Accepted::Append) => {
                self.newest.insert(key, Some(sample));
                self.batch.samples.push((key, sample));
                Ok(())
            }
            Ok(Accepted::Repeat) => {
                self.stats.repeats += 1;
                Ok(())
            }
            Err(reason) => Err(self.stats.refuse(reason, &labels(), sample, newest)),
        }
    }
}

impl Appender for DbAppender<'_> {
    fn append(&mut self, labels: &Labels, sample: Sample) -> Result<(), AppendError> {
        if !labels.contains("__name__") {
            return Err(self
                .stats
                .refuse(Rejection::MissingName, labels, sample, None));
        }
        if sample.timestamp_ms < self.min_time {
            return Err(self.stats.refuse(Rejection::TooOld, labels, sample, None));
        }
        let found = self.db.head.read().lookup(labels);
        let (key, head_newest) = match found {
            Some((id, last)) => (SeriesKey::Id(id), last),
            None => (self.new_key(labels.clone()), None),
        };
        self.append_keyed(key, head_newest, sample, || labels.clone())
    }

    /// Looks the series up by the borrowed pairs; a label set is built only for a series
    /// the head does not hold (or for an error).
    fn append_pairs(&mut self, pairs: &[(&str, &str)], sample: Sample) -> Result<(), AppendError> {
        let build = || Labels::from_pairs(pairs.iter().copied()).unwrap_or_default();
        let named = pairs.iter().any(|(name, _)| *name == "__name__");
        if !named || sample.timestamp_ms < self.min_time {
            return self.append(&build(), sample);
        }
        let found = self.db.head.read().lookup_pairs(pairs);
        let (key, head_newest) = match found {
            Some((id, last)) => (SeriesKey::Id(id), last),
            None => {
                let labels = build();
                if !labels.contains("__name__") {
                    // Pairs not in a label set's form (the caller's bug): refused.
                    return self.append(&labels, sample);
                }
                (self.new_key(labels), None)
            }
        };
        self.append_keyed(key, head_newest, sample, build)
    }

    fn commit(mut self: Box<Self>) -> Result<AppendStats, StorageError> {
        let mut stats = self.db.commit_batch(&mut self.batch)?;
        stats.add(&self.stats);
        Ok(stats)
    }
}

struct DbQuerier<'a> {
    db: &'a Db,
    mint: i64,
    maxt: i64,
}

impl Querier for DbQuerier<'_> {
    fn select(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<Series>, StorageError> {
        let reads = self
            .db
            .head
            .read()
            .select(matchers, self.mint, self.maxt, !hints.labels_only);
        let mut out = Vec::with_capacity(reads.len());
        if hints.labels_only {
            out.extend(reads.into_iter().map(|read| Series {
                labels: read.labels,
                samples: Vec::new(),
            }));
        } else {
            let mut loaded = 0usize;
            let store = self.db.store.lock();
            store.snapshot(|store| {
                for read in reads {
                    let mut samples = Vec::new();
                    let below = read.mem_min_t;
                    if below.is_none_or(|b| b > self.mint) {
                        self.db.stored_samples(
                            store,
                            read.id,
                            self.mint,
                            self.maxt,
                            below,
                            &mut samples,
                        )?;
                    }
                    samples.extend(read.samples);
                    loaded += samples.len();
                    if let Some(limit) = hints.max_samples.filter(|l| loaded > *l) {
                        return Err(StorageError::TooManySamples { limit });
                    }
                    if !samples.is_empty() {
                        out.push(Series {
                            labels: read.labels,
                            samples,
                        });
                    }
                }
                Ok(())
            })?;
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        Ok(self
            .db
            .head
            .read()
            .label_names(matchers, self.mint, self.maxt))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        Ok(self
            .db
            .head
            .read()
            .label_values(name, matchers, self.mint, self.maxt))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_commit_reaching_the_sample_threshold_wakes_the_checkpoint_waiter() {
        let dir = tempfile::tempdir().unwrap();
        let now = Arc::new(AtomicI64::new(1_000_000));
        let mut o = Options::new(dir.path());
        let clock = now.clone();
        o.clock = Arc::new(move || clock.load(Ordering::SeqCst));
        o.checkpoint_samples = 3;
        let db = Db::open(o).unwrap().0;
        let hour = 3_600_000;
        let g = Labels::from_pairs([("__name__", "g")]).unwrap();
        let write = |ts: &[i64]| {
            let mut app = db.appender();
            for t in ts {
                app.append(&g, Sample::new(*t, 1.0)).unwrap();
            }
            app.commit().unwrap();
        };
        // Nothing due: the wait times out.
        assert!(!db.wait_checkpoint_due(hour, Duration::from_millis(1)));
        write(&[1, 2]);
        assert!(!db.checkpoint_due(hour));
        std::thread::scope(|s| {
            let waiter = s.spawn(|| db.wait_checkpoint_due(hour, Duration::from_secs(600)));
            write(&[3]);
            // Woken by the commit, long before the timeout.
            assert!(waiter.join().unwrap());
        });
        db.checkpoint().unwrap();
        assert!(!db.wait_checkpoint_due(hour, Duration::from_millis(1)));
        // The interval still counts.
        now.store(1_000_000 + hour, Ordering::SeqCst);
        assert!(db.wait_checkpoint_due(hour, Duration::from_millis(1)));
    }
}
