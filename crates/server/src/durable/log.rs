//! [`LogWriter`]: appends records to the current log file on a thread of its own, in
//! batches (group commit), and tells waiters when their record is on disk.
//!
//! Appending only copies the encoded record into a buffer under a short lock and returns
//! its log sequence number (LSN); it does not wake the writer, because callers append
//! with the gateway locked and a wake-up is a system call. [`LogWriter::wait`] wakes it,
//! after the caller has released the gateway. The writer thread takes the whole buffer,
//! writes it with one `write` call, and with `fsync` on calls `fdatasync` once for the
//! batch; then it publishes the highest LSN written. A request waits for its LSN before
//! answering `2xx`, so an acknowledged push is in the file (surviving `kill -9`) or, with
//! `fsync`, on the disk (surviving power loss), and many concurrent pushes share one write
//! and one sync.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use tokio::sync::watch;

use super::record::Record;

#[derive(Debug)]
struct Pending {
    buf: Vec<u8>,
    next_lsn: u64,
    /// A file to switch to (compaction), with the bytes that still go to the old file.
    rotate_to: Option<(PathBuf, Vec<u8>)>,
    shutdown: bool,
}

/// What the writer publishes: the highest LSN durably written, or a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Records up to this LSN are in the file (and synced, with fsync on).
    Upto(u64),
    /// Writing failed; no later record will be acknowledged.
    Failed(String),
}

/// Handle to the log writer. Cloning is shallow.
#[derive(Debug, Clone)]
pub struct LogWriter {
    shared: Arc<(Mutex<Pending>, Condvar)>,
    written: watch::Receiver<Written>,
}

/// Why a wait for durability failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the gateway log could not be written: {0}")]
pub struct LogFailed(pub String);

impl LogWriter {
    /// Starts the writer thread appending to `path` (created if missing). `first_lsn` is
    /// the LSN the next record gets.
    pub fn start(path: &Path, fsync: bool, first_lsn: u64) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let shared = Arc::new((
            Mutex::new(Pending {
                buf: Vec::with_capacity(64 << 10),
                next_lsn: first_lsn,
                rotate_to: None,
                shutdown: false,
            }),
            Condvar::new(),
        ));
        let (tx, rx) = watch::channel(Written::Upto(first_lsn.saturating_sub(1)));
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("tally-log".into())
            .spawn(move || write_loop(file, fsync, &thread_shared, &tx))?;
        Ok(Self {
            shared,
            written: rx,
        })
    }

    /// Buffers `record` and returns its LSN. Call with the gateway locked, so the log
    /// order is the order the gateway applied operations in; the record is written once
    /// someone [`wait`](Self::wait)s for it (or a later one).
    pub fn append(&self, record: &Record) -> u64 {
        let mut p = self.shared.0.lock();
        record.encode(&mut p.buf);
        let lsn = p.next_lsn;
        p.next_lsn += 1;
        lsn
    }

    /// Buffers a record already framed by [`Record::encode`] (or
    /// [`Record::encode_push`]) and returns its LSN; otherwise as [`append`](Self::append).
    /// Encoding before taking the gateway's lock keeps the checksum and the copy of the
    /// body out of it.
    pub fn append_encoded(&self, frame: &[u8]) -> u64 {
        let mut p = self.shared.0.lock();
        p.buf.extend_from_slice(frame);
        let lsn = p.next_lsn;
        p.next_lsn += 1;
        lsn
    }

    /// After what is buffered now, continue in a new file; returns the first LSN that
    /// goes there. Call with the gateway locked (compaction).
    pub fn rotate(&self, path: PathBuf) -> u64 {
        let (lock, cond) = &*self.shared;
        let mut p = lock.lock();
        let lsn = p.next_lsn;
        let before = std::mem::take(&mut p.buf);
        p.rotate_to = Some((path, before));
        cond.notify_one();
        lsn
    }

    /// Wakes the writer and waits until record `lsn` is durable.
    pub async fn wait(&self, lsn: u64) -> Result<(), LogFailed> {
        // Without the lock: the writer checks for work with the lock held and sleeps
        // atomically with releasing it, so a record appended before this call is seen.
        self.shared.1.notify_one();
        let mut rx = self.written.clone();
        let result = rx
            .wait_for(|w| match w {
                Written::Upto(n) => *n >= lsn,
                Written::Failed(_) => true,
            })
            .await;
        match result.as_deref() {
            Ok(Written::Upto(_)) => Ok(()),
            Ok(Written::Failed(e)) => Err(LogFailed(e.clone())),
            Err(_) => Err(LogFailed("log writer stopped".into())),
        }
    }

    /// Waits until everything appended so far is durable.
    pub async fn flush(&self) -> Result<(), LogFailed> {
        let last = self.shared.0.lock().next_lsn.saturating_sub(1);
        self.wait(last).await
    }

    /// Stops the writer after it has written what is buffered.
    pub fn shutdown(&self) {
        let (lock, cond) = &*self.shared;
        lock.lock().shutdown = true;
        cond.notify_one();
    }
}

fn write_batch(file: &mut File, bytes: &[u8], fsync: bool) -> std::io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    file.write_all(bytes)?;
    if fsync {
        file.sync_data()?;
    }
    Ok(())
}

fn write_loop(
    mut file: File,
    fsync: bool,
    shared: &(Mutex<Pending>, Condvar),
    tx: &watch::Sender<Written>,
) {
    let (lock, cond) = shared;
    let mut batch = Vec::with_capacity(64 << 10);
    loop {
        let (upto, rotate, stop) = {
            let mut p = lock.lock();
            while p.buf.is_empty() && p.rotate_to.is_none() && !p.shutdown {
                cond.wait(&mut p);
            }
            std::mem::swap(&mut batch, &mut p.buf);
            (p.next_lsn.saturating_sub(1), p.rotate_to.take(), p.shutdown)
        };
        if let Some((path, before)) = rotate {
            // No sync of the old file here: with fsync every batch is already on disk, and
            // without it the snapshot that replaces the old log is synced before the old
            // log is deleted. With fsync the new file's directory entry is made durable.
            let switched = write_batch(&mut file, &before, fsync)
                .and_then(|()| OpenOptions::new().create(true).append(true).open(&path))
                .and_then(|f| {
                    if fsync {
                        if let Some(dir) = path.parent() {
                            File::open(dir)?.sync_all()?;
                        }
                    }
                    Ok(f)
                });
            match switched {
                Ok(f) => file = f,
                Err(e) => {
                    tracing::error!(error = %e, path = %path.display(), "gateway log rotation failed");
                    let _ = tx.send(Written::Failed(e.to_string()));
                    return;
                }
            }
        }
        let result = write_batch(&mut file, &batch, fsync);
        batch.clear();
        if let Err(e) = result {
            tracing::error!(error = %e, "gateway log write failed");
            let _ = tx.send(Written::Failed(e.to_string()));
            return;
        }
        let _ = tx.send(Written::Upto(upto));
        if stop {
            let _ = file.sync_all();
            return;
        }
    }
}
