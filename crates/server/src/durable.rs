//! [`Store`]: makes the gateway durable with a log of applied operations and snapshots.
//!
//! # Layout
//!
//! - `record.rs`: the log record format (framed, checksummed).
//! - `log.rs`: [`LogWriter`], the group-commit writer thread.
//! - `snapshot.rs`: the snapshot format (JSON of the gateway state).
//!
//! Files live in `<data-dir>/gateway/`: `snapshot-<gen>.json` is the state at the start of
//! `log-<gen>.bin`. Recovery loads the newest snapshot and replays its log and any newer
//! ones; a torn or corrupt tail of the newest log is cut off and reported. Compaction
//! starts a new generation: rotate the log, write the snapshot (temporary file, fsync,
//! rename, fsync of the directory), then delete the older generations.

mod log;
mod record;
mod snapshot;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tally_gateway::{Gateway, GatewayConfig, Push};
use tally_model::expfmt::{self, Format};

pub use self::log::{LogFailed, LogWriter};
pub use self::record::{decode_all, DecodeError, PushFields, Record};

/// Start a new generation after this many log bytes.
const COMPACT_BYTES: u64 = 256 << 20;

/// What recovery found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// The generation of the snapshot loaded, if any.
    pub snapshot_generation: Option<u64>,
    /// Log records replayed.
    pub records: usize,
    /// Records that the gateway refused on replay (the configuration changed since).
    pub refused: usize,
    /// Bytes cut off the end of the newest log, and why.
    pub dropped: Option<(u64, String)>,
}

/// Why the store could not start.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A snapshot is damaged; tally refuses to start rather than lose state.
    #[error("{path}: {source}")]
    Snapshot {
        /// The snapshot file.
        path: PathBuf,
        /// What is wrong.
        source: snapshot::SnapshotError,
    },
    /// A log other than the newest is damaged.
    #[error("{path}: {source} (only the newest log may have a damaged tail)")]
    Log {
        /// The log file.
        path: PathBuf,
        /// What is wrong.
        source: DecodeError,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The durable side of the gateway. See the module documentation.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    fsync: bool,
    generation: AtomicU64,
    writer: LogWriter,
    log_bytes: AtomicU64,
}

fn snapshot_path(dir: &Path, gen: u64) -> PathBuf {
    dir.join(format!("snapshot-{gen:020}.json"))
}

fn log_path(dir: &Path, gen: u64) -> PathBuf {
    dir.join(format!("log-{gen:020}.bin"))
}

/// Generations present as snapshots and as logs, sorted.
fn generations(dir: &Path) -> io::Result<(Vec<u64>, Vec<u64>)> {
    let (mut snapshots, mut logs) = (Vec::new(), Vec::new());
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        let gen = |prefix: &str, suffix: &str| {
            name.strip_prefix(prefix)?
                .strip_suffix(suffix)?
                .parse::<u64>()
                .ok()
        };
        if let Some(g) = gen("snapshot-", ".json") {
            snapshots.push(g);
        } else if let Some(g) = gen("log-", ".bin") {
            logs.push(g);
        }
    }
    snapshots.sort_unstable();
    logs.sort_unstable();
    Ok((snapshots, logs))
}

/// Applies one logged operation to the gateway. Returns false if the gateway refused it.
pub fn replay(gateway: &mut Gateway, record: Record) -> bool {
    match record {
        Record::Push {
            time_ms,
            method,
            key,
            ttl_ms,
            start_time,
            sequence,
            openmetrics,
            body,
        } => {
            let format = if openmetrics {
                Format::OpenMetrics
            } else {
                Format::Text
            };
            let Ok(families) = expfmt::parse(&body, format) else {
                return false;
            };
            let push = Push {
                method,
                key,
                families,
                ttl_ms,
                start_time,
                sequence,
            };
            gateway.push(push, time_ms).is_ok()
        }
        Record::Delete { key, .. } => {
            gateway.delete(&key);
            true
        }
        Record::Expire { time_ms } => {
            gateway.expire(time_ms);
            true
        }
        Record::Failure { time_ms, key } => {
            gateway.record_failure(&key, time_ms);
            true
        }
    }
}

/// Deletes every generation older than `gen`.
fn remove_before(dir: &Path, gen: u64) {
    let Ok((snapshots, logs)) = generations(dir) else {
        return;
    };
    for g in snapshots.into_iter().filter(|g| *g < gen) {
        let _ = fs::remove_file(snapshot_path(dir, g));
    }
    for g in logs.into_iter().filter(|g| *g < gen) {
        let _ = fs::remove_file(log_path(dir, g));
    }
}

fn write_snapshot(dir: &Path, gen: u64, bytes: &[u8]) -> Result<(), StoreError> {
    let path = snapshot_path(dir, gen);
    let tmp = path.with_extension("json.tmp");
    let write = || -> io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        io::Write::write_all(&mut f, bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
        fs::File::open(dir)?.sync_all()
    };
    write().map_err(io_err(&path))
}

impl Store {
    /// Opens (creating it if needed) `<data_dir>/gateway`, recovers the gateway, and starts
    /// a fresh generation holding the recovered state.
    pub fn open(
        data_dir: &Path,
        fsync: bool,
        config: GatewayConfig,
    ) -> Result<(Store, Gateway, Recovery), StoreError> {
        let dir = data_dir.join("gateway");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let (snapshots, logs) = generations(&dir).map_err(io_err(&dir))?;
        let mut recovery = Recovery::default();
        let mut gateway = Gateway::new(config.clone());
        let base = snapshots.last().copied();
        if let Some(gen) = base {
            let path = snapshot_path(&dir, gen);
            let bytes = fs::read(&path).map_err(io_err(&path))?;
            let state = snapshot::decode(&bytes).map_err(|source| StoreError::Snapshot {
                path: path.clone(),
                source,
            })?;
            gateway = Gateway::from_state(config, state);
            recovery.snapshot_generation = Some(gen);
        }
        let replayed: Vec<u64> = logs
            .iter()
            .copied()
            .filter(|g| base.is_none_or(|b| *g >= b))
            .collect();
        for (i, gen) in replayed.iter().enumerate() {
            let path = log_path(&dir, *gen);
            let bytes = fs::read(&path).map_err(io_err(&path))?;
            let (records, intact, damage) = decode_all(&bytes);
            if let Some(source) = damage {
                if i + 1 < replayed.len() {
                    return Err(StoreError::Log { path, source });
                }
                recovery.dropped = Some(((bytes.len() - intact) as u64, source.to_string()));
            }
            for r in records {
                recovery.records += 1;
                if !replay(&mut gateway, r) {
                    recovery.refused += 1;
                }
            }
        }
        let gen = replayed.last().copied().max(base).map_or(1, |g| g + 1);
        write_snapshot(&dir, gen, &snapshot::encode(&gateway.state()))?;
        let writer = LogWriter::start(&log_path(&dir, gen), fsync, 1)
            .map_err(io_err(&log_path(&dir, gen)))?;
        let store = Store {
            dir,
            fsync,
            generation: AtomicU64::new(gen),
            writer,
            log_bytes: AtomicU64::new(0),
        };
        remove_before(&store.dir, gen);
        Ok((store, gateway, recovery))
    }

    /// Buffers a record (call with the gateway locked) and returns its LSN; it is
    /// written once someone [`wait`](Self::wait)s for it or a later one.
    pub fn append(&self, record: &Record) -> u64 {
        self.log_bytes.fetch_add(
            match record {
                Record::Push { body, .. } => body.len() as u64 + 64,
                _ => 64,
            },
            Ordering::Relaxed,
        );
        self.writer.append(record)
    }

    /// Buffers a record framed beforehand with [`Record::encode_push`] or
    /// [`Record::encode`] (call with the gateway locked) and returns its LSN.
    pub fn append_encoded(&self, frame: &[u8]) -> u64 {
        self.log_bytes
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
        self.writer.append_encoded(frame)
    }

    /// Wakes the log writer and waits until record `lsn` is durable. Call without the
    /// gateway locked.
    pub async fn wait(&self, lsn: u64) -> Result<(), LogFailed> {
        self.writer.wait(lsn).await
    }

    /// Whether the log has grown enough to start a new generation.
    pub fn wants_compaction(&self) -> bool {
        self.log_bytes.load(Ordering::Relaxed) > COMPACT_BYTES
    }

    /// Starts a new generation from `gateway` (call with the gateway locked); returns the
    /// snapshot bytes to write with [`finish_compaction`](Self::finish_compaction) once
    /// the lock is released.
    pub fn begin_compaction(&self, gateway: &Gateway) -> (u64, tally_gateway::GatewayState) {
        let gen = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.writer.rotate(log_path(&self.dir, gen));
        self.log_bytes.store(0, Ordering::Relaxed);
        (gen, gateway.state())
    }

    /// Writes the snapshot of a new generation and removes the older ones.
    pub async fn finish_compaction(
        &self,
        gen: u64,
        state: tally_gateway::GatewayState,
    ) -> Result<(), StoreError> {
        // Encoding, writing and deleting files block: keep them off the runtime's threads,
        // which are serving pushes meanwhile.
        let dir = self.dir.clone();
        let blocking = |e: tokio::task::JoinError| io_err(&self.dir)(io::Error::other(e));
        tokio::task::spawn_blocking(move || write_snapshot(&dir, gen, &snapshot::encode(&state)))
            .await
            .map_err(blocking)??;
        // The rotation must have happened before older logs go.
        self.writer
            .flush()
            .await
            .map_err(|e| io_err(&self.dir)(io::Error::other(e.0)))?;
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || remove_before(&dir, gen))
            .await
            .map_err(blocking)?;
        Ok(())
    }

    /// Whether every acknowledged change is also synced to disk.
    pub fn fsync(&self) -> bool {
        self.fsync
    }

    /// Writes what is buffered and stops the writer (graceful shutdown).
    pub async fn close(&self) -> Result<(), LogFailed> {
        let result = self.writer.flush().await;
        self.writer.shutdown();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_gateway::PushMethod;

    fn push_record(instance: &str, value: u32, time_ms: i64) -> Record {
        Record::Push {
            time_ms,
            method: PushMethod::Put,
            key: tally_model::Labels::from_pairs([("job", "j"), ("instance", instance)]).unwrap(),
            ttl_ms: None,
            start_time: None,
            sequence: None,
            openmetrics: false,
            body: format!("# TYPE jobs_total counter\njobs_total {value}\n").into_bytes(),
        }
    }

    fn total(gw: &Gateway) -> f64 {
        match &gw.aggregated()[0].metrics[0].value {
            tally_model::MetricValue::Counter(c) => c.value,
            other => panic!("not a counter: {other:?}"),
        }
    }

    fn apply(store: &Store, gw: &mut Gateway, record: Record) -> u64 {
        assert!(replay(gw, record.clone()));
        store.append(&record)
    }

    #[tokio::test]
    async fn fsync_and_compaction_keep_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let (store, mut gw, recovery) =
            Store::open(dir.path(), true, GatewayConfig::default()).unwrap();
        assert_eq!(recovery, Recovery::default());
        let lsn = apply(&store, &mut gw, push_record("a", 3, 1));
        store.wait(lsn).await.unwrap();
        // A new generation in the middle: its snapshot holds `a`, its log holds `b`.
        let (gen, state) = store.begin_compaction(&gw);
        let lsn = apply(&store, &mut gw, push_record("b", 4, 2));
        store.finish_compaction(gen, state).await.unwrap();
        store.wait(lsn).await.unwrap();
        store.close().await.unwrap();
        drop(store);
        let (snapshots, logs) = generations(&dir.path().join("gateway")).unwrap();
        assert_eq!(
            (snapshots.len(), logs.len()),
            (1, 1),
            "older generations removed"
        );

        let (store, gw, recovery) =
            Store::open(dir.path(), true, GatewayConfig::default()).unwrap();
        assert_eq!(recovery.snapshot_generation, Some(gen));
        assert_eq!(recovery.records, 1);
        assert_eq!(total(&gw), 7.0);
        store.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_damaged_snapshot_stops_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _, _) = Store::open(dir.path(), false, GatewayConfig::default()).unwrap();
        store.close().await.unwrap();
        drop(store);
        let (snapshots, _) = generations(&dir.path().join("gateway")).unwrap();
        let path = snapshot_path(&dir.path().join("gateway"), snapshots[0]);
        fs::write(&path, b"{ not json").unwrap();
        let err = Store::open(dir.path(), false, GatewayConfig::default()).unwrap_err();
        assert!(matches!(err, StoreError::Snapshot { .. }), "{err}");
        assert!(err.to_string().contains("snapshot-"), "{err}");
    }
}
