//! [`Store`]: the persisted part of the database, one SQLite file (`tally.db`).
//!
//! SQLite holds the series catalogue, sealed (and checkpointed partial) chunks and the
//! rollups; the layout is in `docs/format/tsdb-store.md`. SQLite is used because it is the
//! most trusted embedded store there is and because users can open the file with `sqlite3`
//! to see what tally keeps.
//!
//! The connection is not shared: the [`Db`](crate::Db) keeps the store behind a mutex, and
//! only the checkpoint, maintenance and query paths use it.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use tally_model::{Labels, Sample};

use crate::chunk::{
    decode_range, decode_stored_range, seal, seal_samples, ChunkError, ChunkIter, StoredIter,
    XorChunk,
};
use crate::index::SeriesId;
use crate::rollup::{RollupBlock, RollupPoint};

mod rollups;
mod series;

/// The schema version this code writes and reads (`meta.format`).
pub const FORMAT_VERSION: i64 = 5;

/// A failure of the SQLite store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("sqlite store {path}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A row could not be decoded.
    #[error("sqlite store: corrupt {what}: {reason}")]
    Corrupt {
        /// The table and key.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The file was written by another format version.
    #[error(
        "sqlite store {path}: format version {found}, this tally reads {FORMAT_VERSION}{}",
        if *found == 4 { " (`tally serve` upgrades a format 4 store when it opens it)" } else { "" }
    )]
    Version {
        /// The database file.
        path: String,
        /// The version found.
        found: i64,
    },
}

/// A series' oldest and newest stored times and newest stored sample.
pub type SeriesBounds = (SeriesId, i64, i64, Option<Sample>);

/// One stored chunk row.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkRow {
    /// The series.
    pub series: SeriesId,
    /// First and last sample times.
    pub min_t: i64,
    /// Last sample time.
    pub max_t: i64,
    /// Whether the chunk is complete; a partial chunk is a checkpoint of the head's open
    /// chunk and is replaced by the next checkpoint.
    pub sealed: bool,
    /// The encoded chunk (`docs/format/chunk.md`).
    pub data: ChunkData,
}

/// The bytes of a [`ChunkRow`]: an XOR chunk of its own (a checkpoint's copy of an open
/// chunk), an XOR chunk shared with the head's sealed chunk a checkpoint takes it from
/// (immutable, so a checkpoint does not copy the sealed chunks it writes: a busy head's
/// run to megabytes), or a stored chunk read from the store (a tag byte, then packed or
/// XOR; `docs/format/chunk.md`). Derefs to
/// the bytes as they are; [`samples`](Self::samples) decodes any of them. Cloning a
/// shared one costs a reference count increment.
#[derive(Debug, Clone)]
pub enum ChunkData {
    /// XOR bytes of its own.
    Owned(Vec<u8>),
    /// A sealed chunk of the head.
    Shared(std::sync::Arc<crate::chunk::XorChunk>),
    /// A stored chunk from the `chunks` table.
    Stored(Vec<u8>),
}

impl ChunkData {
    /// An iterator over the samples, whichever the encoding.
    pub fn samples(&self) -> StoredIter<'_> {
        match self {
            ChunkData::Owned(v) => StoredIter::Xor(ChunkIter::new(v)),
            ChunkData::Shared(c) => StoredIter::Xor(c.iter()),
            ChunkData::Stored(v) => StoredIter::new(v),
        }
    }

    /// Appends the samples with times in `[mint, maxt]` to `out`, oldest first; on damage
    /// the error, with the samples before it appended.
    pub fn decode_range(
        &self,
        mint: i64,
        maxt: i64,
        out: &mut Vec<Sample>,
    ) -> Result<(), ChunkError> {
        match self {
            ChunkData::Stored(v) => decode_stored_range(v, mint, maxt, out),
            xor => decode_range(xor, mint, maxt, out),
        }
    }
}

impl ChunkData {
    /// The stored-chunk bytes of this chunk (packed when smaller): encoded for XOR data,
    /// borrowed for stored data. XOR bytes that do not decode are kept as they are behind
    /// the XOR tag, so reads report the damage.
    pub fn to_stored(&self) -> std::borrow::Cow<'_, [u8]> {
        match self {
            ChunkData::Shared(c) => seal(c).into(),
            ChunkData::Owned(v) => match XorChunk::from_bytes(v) {
                Ok(c) => seal(&c).into(),
                Err(_) => [&[0u8][..], v].concat().into(),
            },
            ChunkData::Stored(v) => v.as_slice().into(),
        }
    }

    /// The chunk as an appendable XOR chunk (to reopen as a series' open chunk).
    pub fn to_xor_chunk(&self) -> Result<XorChunk, ChunkError> {
        let xor: &[u8] = match self {
            ChunkData::Owned(v) => v,
            ChunkData::Shared(c) => return Ok((**c).clone()),
            ChunkData::Stored(v) => match v.split_first() {
                Some((0, rest)) => rest,
                _ => {
                    let mut it = StoredIter::new(v);
                    let mut chunk = XorChunk::new();
                    for s in it.by_ref() {
                        chunk.append(s.timestamp_ms, s.value);
                    }
                    return match it.error() {
                        Some(e) => Err(e),
                        None => Ok(chunk),
                    };
                }
            },
        };
        XorChunk::from_bytes(xor)
    }
}

impl std::ops::Deref for ChunkData {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            ChunkData::Owned(v) | ChunkData::Stored(v) => v,
            ChunkData::Shared(c) => c.bytes(),
        }
    }
}

impl PartialEq for ChunkData {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl From<Vec<u8>> for ChunkData {
    fn from(v: Vec<u8>) -> Self {
        ChunkData::Owned(v)
    }
}

/// The SQLite file and its prepared layout.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: String,
    /// Stored rollup blocks found undecodable and rewritten since opening.
    corrupt_rollup_blocks: u64,
}

/// The writer connection's page cache, in KiB.
const CACHE_KIB: u32 = 512;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series(
    id INTEGER PRIMARY KEY,
    metric TEXT NOT NULL,
    labels BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks(
    id INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL,
    min_t INTEGER NOT NULL,
    max_t INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS chunks_by_series ON chunks(series_id, min_t);
CREATE TABLE IF NOT EXISTS open_chunks(
    series_id INTEGER PRIMARY KEY,
    min_t INTEGER NOT NULL,
    max_t INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS rollups(
    series_id INTEGER NOT NULL,
    res INTEGER NOT NULL,
    start INTEGER NOT NULL,
    data BLOB NOT NULL,
    cur_t INTEGER,
    cur_count INTEGER,
    cur_sum REAL,
    cur_min REAL,
    cur_max REAL,
    cur_last REAL,
    PRIMARY KEY(series_id, res, start)
) WITHOUT ROWID;
";

impl Store {
    /// Opens (creating when missing) `dir/tally.db`. With `fsync`, every transaction is
    /// synced (`synchronous=FULL`); otherwise SQLite's WAL mode with `NORMAL`, which
    /// survives a process crash.
    pub fn open(dir: &Path, fsync: bool) -> Result<Self, StoreError> {
        let file = dir.join("tally.db");
        let path = file.display().to_string();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&file).map_err(err)?;
        // 16 KiB pages: chunk rows of a few KiB waste less of them (tsdb-store.md). Set
        // before anything else, as it only applies to a file not yet written.
        conn.execute_batch(
            "PRAGMA page_size=16384; PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL;",
        )
        .map_err(err)?;
        let sync = if fsync { "FULL" } else { "NORMAL" };
        // A 512 KiB page cache instead of SQLite's 2 MiB: checkpoints fill the cache (each
        // rewrites every open chunk's row), and the pages stay resident for the process'
        // life. Measured with `tally bench remote-write` (five alternating runs each):
        // 1.5-1.9 MB less live heap after the load, RSS 31-40 MB against 38-46, ingest
        // rate within the spread. Pages not cached come from the OS' file cache.
        conn.execute_batch(&format!(
            "PRAGMA synchronous={sync}; PRAGMA cache_size=-{CACHE_KIB};"
        ))
        .map_err(err)?;
        // The format marker is checked before the schema is created, so that an older
        // file is refused as it is, not half-upgraded.
        let has_meta: bool = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type='table' AND name='meta'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(err)?
            > 0;
        let found: Option<i64> = if has_meta {
            conn.query_row("SELECT value FROM meta WHERE key='format'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(err)?
        } else {
            None
        };
        match found {
            Some(FORMAT_VERSION) => {}
            // Format 4 differs in chunk and rollup bytes only: the upgrade tags chunks as
            // stored XOR chunks and re-encodes rollup blocks, in one transaction.
            Some(4) => upgrade_from_4(&conn).map_err(err)?,
            Some(found) => return Err(StoreError::Version { path, found }),
            None => {
                conn.execute_batch(SCHEMA).map_err(err)?;
                conn.execute_batch(series::SCHEMA).map_err(err)?;
                conn.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES('format', ?1)",
                    [FORMAT_VERSION],
                )
                .map_err(err)?;
            }
        }
        Ok(Self {
            conn,
            path,
            corrupt_rollup_blocks: 0,
        })
    }

    /// Opens `dir/tally.db` without writing anything (inspection while a server runs).
    pub fn open_read_only(dir: &Path) -> Result<Self, StoreError> {
        let file = dir.join("tally.db");
        let path = file.display().to_string();
        let conn = Connection::open_with_flags(
            &file,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let found: i64 = conn
            .query_row("SELECT value FROM meta WHERE key='format'", [], |r| {
                r.get(0)
            })
            .map_err(|source| StoreError::Sqlite {
                path: path.clone(),
                source,
            })?;
        if found != FORMAT_VERSION {
            return Err(StoreError::Version { path, found });
        }
        Ok(Self {
            conn,
            path,
            corrupt_rollup_blocks: 0,
        })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Every stored series, in id order.
    pub fn load_series(&self) -> Result<Vec<(SeriesId, Labels)>, StoreError> {
        series::load(&self.conn).map_err(|e| match e {
            series::ReadError::Sqlite(source) => StoreError::Sqlite {
                path: self.path.clone(),
                source,
            },
            series::ReadError::Corrupt(id) => StoreError::Corrupt {
                what: format!("series {id}"),
                reason: "undecodable label set".into(),
            },
        })
    }

    /// The newest chunk of every series that is a partial checkpoint (to reopen as the
    /// head's open chunk), keyed by series.
    pub fn load_partial_chunks(&self) -> Result<Vec<ChunkRow>, StoreError> {
        self.chunks_where("open_chunks", "1", [])
    }

    /// For every series with chunks: its oldest and newest stored sample times and its
    /// newest stored sample (decoded from its newest chunk).
    pub fn series_bounds(&self) -> Result<Vec<SeriesBounds>, StoreError> {
        // Per series: its oldest and newest sealed starts (from the index alone), the
        // newest sealed chunk (one index lookup each), then its open chunk copy, which is
        // newer than every sealed chunk of the series when present.
        let newest_of = |data: &[u8]| StoredIter::new(data).last();
        let mut bounds: std::collections::BTreeMap<SeriesId, (i64, i64, i64, Option<Sample>)> =
            std::collections::BTreeMap::new();
        {
            let mut spans = self
                .conn
                .prepare("SELECT series_id, min(min_t), max(min_t) FROM chunks GROUP BY series_id")
                .map_err(self.err())?;
            let mut newest = self
                .conn
                .prepare("SELECT max_t, data FROM chunks WHERE series_id = ?1 AND min_t = ?2")
                .map_err(self.err())?;
            let mut rows = spans.query([]).map_err(self.err())?;
            while let Some(r) = rows.next().map_err(self.err())? {
                let id: i64 = r.get(0).map_err(self.err())?;
                let lo: i64 = r.get(1).map_err(self.err())?;
                let hi: i64 = r.get(2).map_err(self.err())?;
                let (max_t, last) = newest
                    .query_row(params![id, hi], |r| {
                        Ok((r.get::<_, i64>(0)?, newest_of(r.get_ref(1)?.as_blob()?)))
                    })
                    .map_err(self.err())?;
                bounds.insert(id as SeriesId, (lo, hi, max_t, last));
            }
        }
        for row in self.chunks_where("open_chunks", "1", [])? {
            let last = row.data.samples().last();
            let entry = bounds
                .entry(row.series)
                .or_insert((row.min_t, row.min_t, row.max_t, last));
            entry.0 = entry.0.min(row.min_t);
            if row.min_t >= entry.1 {
                (entry.1, entry.2, entry.3) = (row.min_t, row.max_t, last);
            }
        }
        Ok(bounds
            .into_iter()
            .map(|(id, (lo, _, max_t, last))| (id, lo, max_t, last))
            .collect())
    }

    /// Chunks of `series` overlapping `[mint, maxt]` (sealed ones, then its checkpointed
    /// open chunk), oldest first. One statement for both tables: a query reads this for
    /// every selected series, so statements per series count (see [`Store::snapshot`]).
    pub fn chunks(
        &self,
        series: SeriesId,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<ChunkRow>, StoreError> {
        const SQL: &str = "\
            SELECT min_t, max_t, data, 1 FROM chunks \
                WHERE series_id = ?1 AND max_t >= ?2 AND min_t <= ?3 \
            UNION ALL \
            SELECT min_t, max_t, data, 0 FROM open_chunks \
                WHERE series_id = ?1 AND max_t >= ?2 AND min_t <= ?3 \
            ORDER BY 1, 4 DESC";
        let mut stmt = self.conn.prepare_cached(SQL).map_err(self.err())?;
        let rows = stmt
            .query_map(params![series as i64, mint, maxt], |r| {
                Ok(ChunkRow {
                    series,
                    min_t: r.get(0)?,
                    max_t: r.get(1)?,
                    data: ChunkData::Stored(r.get(2)?),
                    sealed: r.get(3)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Runs `read` inside one read transaction. Every statement in it sees the same
    /// snapshot of the database, and SQLite takes its shared-memory read lock (a file
    /// lock system call each way) once instead of once a statement: a query reading
    /// thousands of series spent about 15 % of its time there. Writers are not blocked
    /// (write-ahead log mode); the log cannot be checkpointed past the snapshot until
    /// `read` returns, so keep it to one query's reads.
    pub fn snapshot<T, E: From<StoreError>>(
        &self,
        read: impl FnOnce(&Self) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        let out = read(self)?;
        tx.commit().map_err(self.err())?;
        Ok(out)
    }

    /// Rows of `table` (`chunks` or `open_chunks`) matching `filter`.
    fn chunks_where(
        &self,
        table: &str,
        filter: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<ChunkRow>, StoreError> {
        let sealed = table == "chunks";
        let sql = format!("SELECT series_id, min_t, max_t, data FROM {table} WHERE {filter}");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(params, |r| {
                Ok(ChunkRow {
                    series: r.get::<_, i64>(0)? as SeriesId,
                    min_t: r.get(1)?,
                    max_t: r.get(2)?,
                    sealed,
                    data: ChunkData::Stored(r.get(3)?),
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Writes one checkpoint in a single transaction: new series, sealed chunks
    /// (appended; each removes its series' checkpointed open chunk of the same or an
    /// earlier start), open chunks (one row per series, replaced), finished rollup
    /// buckets. All or nothing. A stored rollup block that does not decode is rewritten
    /// from this checkpoint's buckets and counted ([`Store::corrupt_rollup_blocks`]).
    pub fn write_checkpoint(&mut self, batch: &Checkpoint) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let corrupt;
        {
            series::write(&tx, &batch.series).map_err(err)?;
            let mut superseded = tx
                .prepare_cached("DELETE FROM open_chunks WHERE series_id = ?1 AND min_t <= ?2")
                .map_err(err)?;
            let sealed: Vec<&ChunkRow> = batch.chunks.iter().filter(|c| c.sealed).collect();
            for rows in sealed.chunk_by(|a, b| a.series == b.series) {
                append_sealed(&tx, rows).map_err(err)?;
                for c in rows {
                    superseded
                        .execute(params![c.series as i64, c.min_t])
                        .map_err(err)?;
                }
            }
            let mut open = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO open_chunks(series_id, min_t, max_t, data) \
                     VALUES(?1, ?2, ?3, ?4)",
                )
                .map_err(err)?;
            for c in batch.chunks.iter().filter(|c| !c.sealed) {
                let data = c.data.to_stored();
                open.execute(params![c.series as i64, c.min_t, c.max_t, &*data])
                    .map_err(err)?;
            }
            corrupt = rollups::write(&tx, &batch.rollups, &batch.current_rollups).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        self.corrupt_rollup_blocks += corrupt as u64;
        Ok(())
    }

    /// Deletes chunks whose newest sample is older than `horizon`, rollups older than
    /// `rollup_horizon`, and then the series left with neither; returns the ids of the
    /// series deleted. Frees the pages (incremental vacuum) so the file shrinks.
    pub fn delete_before(
        &mut self,
        horizon: i64,
        rollup_horizon: i64,
        keep: &dyn Fn(SeriesId) -> bool,
    ) -> Result<Vec<SeriesId>, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let corrupt = rollups::roll_up_before(&tx, horizon).map_err(err)?;
        tx.execute("DELETE FROM chunks WHERE max_t < ?1", [horizon])
            .map_err(err)?;
        tx.execute("DELETE FROM open_chunks WHERE max_t < ?1", [horizon])
            .map_err(err)?;
        rollups::delete_before(&tx, rollup_horizon).map_err(err)?;
        let orphans: Vec<SeriesId> = {
            let mut stmt = tx
                .prepare(
                    "SELECT id FROM series s WHERE NOT EXISTS \
                       (SELECT 1 FROM chunks c WHERE c.series_id = s.id) \
                     AND NOT EXISTS (SELECT 1 FROM open_chunks o WHERE o.series_id = s.id) \
                     AND NOT EXISTS (SELECT 1 FROM rollups r WHERE r.series_id = s.id)",
                )
                .map_err(err)?;
            let rows = stmt.query_map([], |r| r.get::<_, i64>(0)).map_err(err)?;
            let mut v = Vec::new();
            for r in rows {
                let id = r.map_err(err)? as SeriesId;
                if !keep(id) {
                    v.push(id);
                }
            }
            v
        };
        {
            let mut del = tx
                .prepare("DELETE FROM series WHERE id = ?1")
                .map_err(err)?;
            for id in &orphans {
                del.execute([*id as i64]).map_err(err)?;
            }
        }
        if !orphans.is_empty() {
            series::delete_unused_symbols(&tx).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        self.corrupt_rollup_blocks += corrupt as u64;
        self.conn
            .execute_batch("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(err)?;
        Ok(orphans)
    }

    /// Stored rollup blocks that did not decode and were rewritten by a checkpoint or a
    /// retention pass since the store was opened. Their older buckets are lost (reads of
    /// such a block fail until then, with [`StoreError::Corrupt`]).
    pub fn corrupt_rollup_blocks(&self) -> u64 {
        self.corrupt_rollup_blocks
    }

    /// Bytes the database occupies (pages in use times page size, plus SQLite's own WAL
    /// file).
    pub fn size_bytes(&self) -> Result<u64, StoreError> {
        let pages: i64 = self
            .conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .map_err(self.err())?;
        let free: i64 = self
            .conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))
            .map_err(self.err())?;
        let size: i64 = self
            .conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(self.err())?;
        Ok(((pages - free).max(0) * size) as u64)
    }

    /// The oldest and newest sample times of the stored chunks.
    pub fn time_bounds(&self) -> Result<Option<(i64, i64)>, StoreError> {
        self.conn
            .query_row(
                "SELECT min(lo), max(hi) FROM (SELECT min(min_t) AS lo, max(max_t) AS hi \
                 FROM chunks UNION ALL SELECT min(min_t), max(max_t) FROM open_chunks)",
                [],
                |r| {
                    Ok(
                        match (r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?) {
                            (Some(a), Some(b)) => Some((a, b)),
                            _ => None,
                        },
                    )
                },
            )
            .map_err(self.err())
    }

    /// Totals for `tally tsdb stats`: series rows, chunk rows, chunk bytes, rollup rows.
    pub fn totals(&self) -> Result<StoreTotals, StoreError> {
        let one = |sql: &str| -> Result<i64, StoreError> {
            self.conn
                .query_row(sql, [], |r| r.get::<_, Option<i64>>(0))
                .map(|v| v.unwrap_or(0))
                .map_err(self.err())
        };
        Ok(StoreTotals {
            series: one("SELECT count(*) FROM series")? as u64,
            chunks: one("SELECT count(*) FROM chunks")? as u64
                + one("SELECT count(*) FROM open_chunks")? as u64,
            chunk_bytes: one("SELECT sum(length(data)) FROM chunks")? as u64
                + one("SELECT sum(length(data)) FROM open_chunks")? as u64,
            rollups: one("SELECT count(*) FROM rollups")? as u64,
            file_bytes: self.size_bytes()?,
            tables: self.table_bytes()?,
        })
    }

    /// Pages in use per table and index, from SQLite's `dbstat` virtual table (empty when
    /// the SQLite build lacks it), largest first.
    pub fn table_bytes(&self) -> Result<Vec<TableBytes>, StoreError> {
        let Ok(mut stmt) = self.conn.prepare(
            "SELECT name, count(*), sum(pgsize), sum(payload) FROM dbstat \
             GROUP BY name ORDER BY sum(pgsize) DESC, name",
        ) else {
            return Ok(Vec::new());
        };
        let rows = stmt
            .query_map([], |r| {
                Ok(TableBytes {
                    name: r.get(0)?,
                    pages: r.get::<_, i64>(1)? as u64,
                    bytes: r.get::<_, i64>(2)? as u64,
                    payload: r.get::<_, i64>(3)? as u64,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Rollup points of `series` at resolution `res_ms` with bucket starts in
    /// `[mint, maxt]`, the stored unfinished bucket included.
    pub fn rollups(
        &self,
        series: SeriesId,
        res_ms: i64,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<RollupPoint>, StoreError> {
        rollups::read(&self.conn, series, res_ms, mint, maxt).map_err(|e| self.rollup_err(e))
    }

    /// The stored unfinished bucket of every series at every resolution, to continue
    /// filling after a restart.
    pub fn load_current_rollups(&self) -> Result<Vec<(SeriesId, i64, RollupPoint)>, StoreError> {
        rollups::load_current(&self.conn).map_err(|e| self.rollup_err(e))
    }

    fn rollup_err(&self, e: rollups::RollupReadError) -> StoreError {
        match e {
            rollups::RollupReadError::Sqlite(source) => StoreError::Sqlite {
                path: self.path.clone(),
                source,
            },
            rollups::RollupReadError::Corrupt {
                series,
                res,
                start,
                reason,
            } => StoreError::Corrupt {
                what: format!(
                    "rollup block of series {series} at resolution {res} ms from {start}"
                ),
                reason,
            },
        }
    }

    /// Every chunk row, for whole-store scans (`tally tsdb stats`).
    pub fn for_each_chunk(&self, mut f: impl FnMut(ChunkRow)) -> Result<(), StoreError> {
        for (table, sealed) in [("chunks", true), ("open_chunks", false)] {
            let mut stmt = self
                .conn
                .prepare(&format!(
                    "SELECT series_id, min_t, max_t, data FROM {table}"
                ))
                .map_err(self.err())?;
            let mut rows = stmt.query([]).map_err(self.err())?;
            while let Some(r) = rows.next().map_err(self.err())? {
                f(ChunkRow {
                    series: r.get::<_, i64>(0).map_err(self.err())? as SeriesId,
                    min_t: r.get(1).map_err(self.err())?,
                    max_t: r.get(2).map_err(self.err())?,
                    sealed,
                    data: ChunkData::Stored(r.get(3).map_err(self.err())?),
                });
            }
        }
        Ok(())
    }
}

/// Totals of the store's tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreTotals {
    /// Series rows.
    pub series: u64,
    /// Chunk rows.
    pub chunks: u64,
    /// Bytes of chunk data.
    pub chunk_bytes: u64,
    /// Rollup rows.
    pub rollups: u64,
    /// Bytes of the database in use.
    pub file_bytes: u64,
    /// Pages in use per table and index.
    pub tables: Vec<TableBytes>,
}

/// The pages one table or index occupies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableBytes {
    /// The table or index (`sqlite_autoindex_*` for a primary key's index).
    pub name: String,
    /// Pages.
    pub pages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Bytes of row content in them (the rest is page headers, cell pointers, free
    /// space).
    pub payload: u64,
}

/// What one checkpoint writes.
#[derive(Debug, Default)]
pub struct Checkpoint {
    /// Series created since the last checkpoint.
    pub series: Vec<(SeriesId, Labels)>,
    /// Chunks sealed since, and the current partial chunk of every series written since.
    pub chunks: Vec<ChunkRow>,
    /// Finished rollup buckets: series, resolution in ms, point.
    pub rollups: Vec<(SeriesId, i64, RollupPoint)>,
    /// Unfinished buckets of the series written since (replaced until they finish).
    pub current_rollups: Vec<(SeriesId, i64, RollupPoint)>,
}

/// Samples a stored chunk grows to: a checkpoint appends a series' newly sealed chunks to
/// its newest stored chunk while that stays within this many samples (2 hours at a 15 s
/// interval), so the store keeps a few long rows instead of many 120-sample ones: fewer
/// rows, index entries and chunk headers (measured with `tally bench remote-write`, see
/// `docs/benchmarks.md`). A short query decodes at most this many stored samples.
pub const STORED_CHUNK_SAMPLES: usize = 480;

/// Writes one series' newly sealed chunks (`rows`, oldest first). The series' newest
/// stored chunk grows while it has fewer than [`STORED_CHUNK_SAMPLES`] samples: it is
/// kept at row id `-1 - series` (see [`growing_row_id`]) and replaced as it grows; a
/// chunk that would take it past the limit completes it, and complete chunks are
/// appended at the end of the table (ids above every other), so the pages of complete
/// chunks stay full and the rewrites stay among the growing rows at the front. A chunk the
/// store already holds (a checkpoint written twice) is skipped.
fn append_sealed(tx: &rusqlite::Transaction<'_>, rows: &[&ChunkRow]) -> rusqlite::Result<()> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let series = first.series as i64;
    let growing_id = growing_row_id(first.series);
    let mut newest = tx.prepare_cached(
        "SELECT id, max_t, data FROM chunks WHERE series_id = ?1 ORDER BY min_t DESC LIMIT 1",
    )?;
    let last: Option<(i64, i64, Vec<u8>)> = newest
        .query_row([series], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let mut stored_max = last.as_ref().map_or(i64::MIN, |l| l.1);
    // The samples of the growing chunk. A growing row that does not decode whole is left
    // as it is, for reads to report, and the new chunks start another.
    let mut growing: Vec<Sample> = Vec::new();
    let mut growing_stored = false;
    if let Some((id, _, data)) = last.filter(|l| l.0 == growing_id) {
        let mut it = StoredIter::new(&data);
        let samples: Vec<Sample> = it.by_ref().collect();
        if it.error().is_none() {
            growing = samples;
            growing_stored = true;
        } else {
            tx.execute(
                "UPDATE chunks SET id = (SELECT max(0, coalesce(max(id), 0)) + 1 FROM chunks) \
                 WHERE id = ?1",
                [id],
            )?;
        }
    }
    let complete = |samples: &[Sample], replaces_growing: bool| -> rusqlite::Result<()> {
        let (Some(lo), Some(hi)) = (samples.first(), samples.last()) else {
            return Ok(());
        };
        if replaces_growing {
            tx.execute("DELETE FROM chunks WHERE id = ?1", [growing_id])?;
        }
        tx.prepare_cached(
            "INSERT OR REPLACE INTO chunks(id, series_id, min_t, max_t, data) \
             VALUES((SELECT max(0, coalesce(max(id), 0)) + 1 FROM chunks), ?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            series,
            lo.timestamp_ms,
            hi.timestamp_ms,
            seal_samples(samples)
        ])?;
        Ok(())
    };
    let mut changed = false;
    for c in rows {
        if c.max_t <= stored_max {
            continue; // the store has it already
        }
        let samples: Vec<Sample> = c.data.samples().collect();
        let fits = growing.len() + samples.len() <= STORED_CHUNK_SAMPLES
            && growing.last().is_none_or(|l| l.timestamp_ms < c.min_t);
        if !fits {
            complete(&growing, growing_stored)?;
            growing.clear();
            growing_stored = false;
        }
        growing.extend_from_slice(&samples);
        changed = true;
        stored_max = c.max_t;
    }
    if !changed {
        return Ok(());
    }
    if growing.len() >= STORED_CHUNK_SAMPLES {
        return complete(&growing, growing_stored);
    }
    let (Some(lo), Some(hi)) = (growing.first(), growing.last()) else {
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT OR REPLACE INTO chunks(id, series_id, min_t, max_t, data) \
         VALUES(?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        growing_id,
        series,
        lo.timestamp_ms,
        hi.timestamp_ms,
        seal_samples(&growing)
    ])?;
    Ok(())
}

/// The row id of a series' growing stored chunk: negative, so growing rows sit together at
/// the front of the table, apart from the complete ones appended at its end.
pub fn growing_row_id(series: SeriesId) -> i64 {
    -1 - series as i64
}

/// Rewrites a format 4 file as format 5: every `chunks.data` gets the XOR tag byte, and
/// every rollup block is encoded again with stored-chunk columns.
fn upgrade_from_4(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let run = || -> rusqlite::Result<()> {
        for (table, key) in [("chunks", "id"), ("open_chunks", "series_id")] {
            let mut read = conn.prepare(&format!("SELECT {key}, data FROM {table}"))?;
            let mut write =
                conn.prepare(&format!("UPDATE {table} SET data = ?2 WHERE {key} = ?1"))?;
            let mut rows = read.query([])?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                let old = r.get_ref(1)?.as_blob()?;
                write.execute(params![id, [&[0u8][..], old].concat()])?;
            }
        }
        // Label sets: inline strings become symbol references.
        conn.execute_batch(series::SCHEMA)?;
        let old: Vec<(i64, Vec<u8>)> = {
            let mut read = conn.prepare("SELECT id, labels FROM series")?;
            let rows = read.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let decoded: Vec<(SeriesId, Labels)> = old
            .iter()
            .filter_map(|(id, blob)| Some((*id as SeriesId, series::decode_format_4(blob)?)))
            .collect();
        series::write(conn, &decoded)?;
        // Rollup blocks: bare XOR columns become stored chunks. A block that does not
        // decode is left as it was; reads report it, as they did before.
        let mut read = conn.prepare("SELECT series_id, res, start, data FROM rollups")?;
        let mut write = conn.prepare(
            "UPDATE rollups SET data = ?4 WHERE series_id = ?1 AND res = ?2 AND start = ?3",
        )?;
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            let key: (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let Ok(points) = RollupBlock::points_format_4(r.get_ref(3)?.as_blob()?) else {
                continue;
            };
            let mut block = RollupBlock::new();
            for p in &points {
                block.push(p);
            }
            write.execute(params![key.0, key.1, key.2, block.to_bytes()])?;
        }
        conn.execute("UPDATE meta SET value = 5 WHERE key = 'format'", [])?;
        Ok(())
    };
    match run() {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Appends `v` as an unsigned LEB128 varint.
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads an unsigned LEB128 varint: its value and length.
pub(crate) fn get_uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_rows_and_retention() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), false).unwrap();
        let up = Labels::from_pairs([("__name__", "up")]).unwrap();
        let mut cp = Checkpoint::default();
        cp.series.push((1, up.clone()));
        // A full stored chunk (nothing is appended to it), and an open chunk.
        let full: Vec<Sample> = (0..STORED_CHUNK_SAMPLES as i64)
            .map(|t| Sample::new(t, 1.0))
            .collect();
        for (samples, sealed) in [
            (full, true),
            (vec![Sample::new(500, 1.0), Sample::new(550, 3.0)], false),
        ] {
            let mut c = crate::chunk::XorChunk::new();
            for x in &samples {
                c.append(x.timestamp_ms, x.value);
            }
            cp.chunks.push(ChunkRow {
                series: 1,
                min_t: c.min_time().unwrap(),
                max_t: c.max_time().unwrap(),
                sealed,
                data: c.bytes().to_vec().into(),
            });
        }
        s.write_checkpoint(&cp).unwrap();
        assert_eq!(s.load_series().unwrap(), vec![(1, up)]);
        assert_eq!(s.chunks(1, 480, 1000).unwrap().len(), 1);
        let both: Vec<_> = s
            .chunks(1, 0, 1000)
            .unwrap()
            .iter()
            .map(|r| (r.series, r.min_t, r.max_t, r.sealed))
            .collect();
        assert_eq!(both, vec![(1, 0, 479, true), (1, 500, 550, false)]);
        assert_eq!(s.load_partial_chunks().unwrap()[0].min_t, 500);
        assert_eq!(s.time_bounds().unwrap(), Some((0, 550)));
        assert_eq!(s.totals().unwrap().chunks, 2);
        // Writing a checkpoint twice changes nothing; sealing the open chunk replaces it
        // (with a row of its own: the stored chunk before it is full).
        s.write_checkpoint(&cp).unwrap();
        assert_eq!(s.totals().unwrap().chunks, 2);
        cp.chunks[1].sealed = true;
        s.write_checkpoint(&cp).unwrap();
        assert!(s.load_partial_chunks().unwrap().is_empty());
        assert_eq!(s.chunks(1, 0, 1000).unwrap().len(), 2);
        assert!(s.delete_before(490, 490, &|_| false).unwrap().is_empty());
        assert_eq!(s.chunks(1, 0, 1000).unwrap().len(), 1);
        // The deleted chunk's samples are summarised in a stored 1 minute bucket.
        let minute = s.rollups(1, 60_000, 0, 0).unwrap();
        assert_eq!(
            (minute[0].count, minute[0].sum, minute[0].last),
            (480, 480.0, 1.0)
        );
        assert!(s.delete_before(1000, 1000, &|_| false).unwrap().is_empty());
        // The other chunk, deleted later, falls in the same bucket: the two combine.
        let minute = s.rollups(1, 60_000, 0, 0).unwrap();
        assert_eq!(
            (minute[0].count, minute[0].sum, minute[0].max),
            (482, 484.0, 3.0)
        );
        let blocks_end = 60_000 * crate::rollup::BLOCK_BUCKETS;
        assert_eq!(
            s.delete_before(1000, blocks_end, &|_| false).unwrap(),
            vec![1]
        );
        assert!(s.load_series().unwrap().is_empty());
        drop(s);
        // Reopening keeps the format marker.
        Store::open(dir.path(), false).unwrap();
    }

    #[test]
    fn a_snapshot_reads_one_state_and_ends_its_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), false).unwrap();
        let hour = 3_600_000;
        let mut cp = Checkpoint::default();
        cp.series
            .push((1, Labels::from_pairs([("__name__", "up")]).unwrap()));
        cp.rollups = vec![(1, hour, RollupPoint::first(0, 1.0))];
        s.write_checkpoint(&cp).unwrap();
        // Another connection's write between two reads of one snapshot is not seen by
        // the second read; the next snapshot sees it.
        let other = Connection::open(&s.path).unwrap();
        let (before, after) = s
            .snapshot(|s| {
                let before = s.rollups(1, hour, 0, 0)?.len();
                other.execute("DELETE FROM rollups", []).unwrap();
                Ok::<_, StoreError>((before, s.rollups(1, hour, 0, 0)?.len()))
            })
            .unwrap();
        assert_eq!((before, after), (1, 1));
        assert!(s.conn.is_autocommit(), "the read transaction ended");
        assert!(s.snapshot(|s| s.rollups(1, hour, 0, 0)).unwrap().is_empty());
        // An error inside ends the transaction too, and reaches the caller.
        let err = s
            .snapshot(|_| {
                Err::<(), _>(StoreError::Corrupt {
                    what: "test".into(),
                    reason: "made up".into(),
                })
            })
            .unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(s.conn.is_autocommit());
        s.write_checkpoint(&cp).unwrap();
        assert_eq!(s.rollups(1, hour, 0, 0).unwrap().len(), 1);
    }

    #[test]
    fn an_undecodable_rollup_block_is_rewritten_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), false).unwrap();
        let hour = 3_600_000;
        let point = RollupPoint::first;
        let mut cp = Checkpoint::default();
        cp.series
            .push((1, Labels::from_pairs([("__name__", "up")]).unwrap()));
        cp.rollups = vec![(1, hour, point(0, 1.0)), (1, hour, point(hour, 2.0))];
        s.write_checkpoint(&cp).unwrap();
        assert_eq!(s.rollups(1, hour, 0, hour).unwrap().len(), 2);
        s.conn
            .execute("UPDATE rollups SET data = x'ff01'", [])
            .unwrap();
        // Reads name the damage.
        let err = s.rollups(1, hour, 0, hour).unwrap_err().to_string();
        assert!(err.contains("corrupt rollup block of series 1"), "{err}");
        assert_eq!(s.corrupt_rollup_blocks(), 0);
        // The next checkpoint into that block rewrites it from its own buckets, counted.
        let cp = Checkpoint {
            rollups: vec![(1, hour, point(2 * hour, 3.0))],
            ..Checkpoint::default()
        };
        s.write_checkpoint(&cp).unwrap();
        assert_eq!(s.corrupt_rollup_blocks(), 1);
        let read = s.rollups(1, hour, 0, 3 * hour).unwrap();
        assert_eq!(read, vec![point(2 * hour, 3.0)]);
        // Retention's 1 minute summaries count a damaged block the same way.
        let minute = 60_000;
        let mut cp = Checkpoint::default();
        let mut c = crate::chunk::XorChunk::new();
        c.append(1_000, 5.0);
        cp.chunks.push(ChunkRow {
            series: 1,
            min_t: 1_000,
            max_t: 1_000,
            sealed: true,
            data: c.bytes().to_vec().into(),
        });
        s.write_checkpoint(&cp).unwrap();
        s.conn
            .execute(
                "INSERT INTO rollups(series_id, res, start, data) VALUES(1, ?1, 0, x'ff01')",
                [minute],
            )
            .unwrap();
        s.delete_before(2_000, i64::MIN, &|_| true).unwrap();
        assert_eq!(s.corrupt_rollup_blocks(), 2);
        let read = s.rollups(1, minute, 0, minute).unwrap();
        assert_eq!((read.len(), read[0].count, read[0].last), (1, 1, 5.0));
    }

    #[test]
    fn the_writer_page_cache_is_small() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), false).unwrap();
        let kib: i64 = s
            .conn
            .query_row("PRAGMA cache_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kib, -i64::from(CACHE_KIB));
    }

    #[test]
    fn other_format_versions_are_refused_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("tally.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID; \
             INSERT INTO meta VALUES('format', 3);",
        )
        .unwrap();
        drop(conn);
        let e = Store::open(dir.path(), false).unwrap_err().to_string();
        assert!(e.contains("format version 3, this tally reads 5"), "{e}");
        assert!(!e.contains("upgrades"), "{e}");
        let conn = Connection::open(dir.path().join("tally.db")).unwrap();
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 1);
    }

    fn counter_chunk(n: i64) -> XorChunk {
        let mut c = XorChunk::new();
        for i in 0..n {
            c.append(1_700_000_000_000 + i * 15_000, (1000 + i * 7) as f64);
        }
        c
    }

    #[test]
    fn sealed_chunks_are_stored_packed_and_read_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), false).unwrap();
        let chunk = std::sync::Arc::new(counter_chunk(120));
        let labels = Labels::from_pairs([("__name__", "c")]).unwrap();
        let row = |data| ChunkRow {
            series: 1,
            min_t: chunk.min_time().unwrap(),
            max_t: chunk.max_time().unwrap(),
            sealed: true,
            data,
        };
        s.write_checkpoint(&Checkpoint {
            series: vec![(1, labels)],
            chunks: vec![row(ChunkData::Shared(chunk.clone()))],
            ..Default::default()
        })
        .unwrap();
        let rows = s.chunks(1, i64::MIN, i64::MAX).unwrap();
        assert_eq!(rows.len(), 1);
        let ChunkData::Stored(bytes) = &rows[0].data else {
            panic!("{:?}", rows[0].data);
        };
        assert_eq!(bytes[0], 1, "packed");
        assert!(bytes.len() < chunk.bytes().len(), "{} bytes", bytes.len());
        let got: Vec<Sample> = rows[0].data.samples().collect();
        assert_eq!(got, chunk.iter().collect::<Vec<_>>());
        // Writing the stored row again (as a rewrite would) keeps its bytes.
        s.write_checkpoint(&Checkpoint {
            chunks: vec![rows[0].clone()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.chunks(1, i64::MIN, i64::MAX).unwrap(), rows);
    }

    #[test]
    fn a_format_4_store_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let chunk = counter_chunk(50);
        {
            let conn = Connection::open(dir.path().join("tally.db")).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute("INSERT INTO meta VALUES('format', 4)", [])
                .unwrap();
            conn.execute(
                "INSERT INTO chunks(series_id, min_t, max_t, data) VALUES(1, ?1, ?2, ?3)",
                params![chunk.min_time(), chunk.max_time(), chunk.bytes()],
            )
            .unwrap();
            // __name__=up, job=api as format 4 encoded label sets.
            let mut old_labels = Vec::new();
            for s in ["__name__", "up", "job", "api"] {
                put_uvarint(&mut old_labels, s.len() as u64);
                old_labels.extend_from_slice(s.as_bytes());
            }
            conn.execute(
                "INSERT INTO series(id, metric, labels) VALUES(1, 'up', ?1)",
                [old_labels],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO open_chunks(series_id, min_t, max_t, data) VALUES(2, ?1, ?2, ?3)",
                params![chunk.min_time(), chunk.max_time(), chunk.bytes()],
            )
            .unwrap();
            // A rollup block as format 4 wrote it: five length-prefixed XOR columns.
            let mut block = Vec::new();
            for column in 0..5 {
                let mut c = XorChunk::new();
                for bucket in 0..3 {
                    c.append(bucket * 3_600_000, f64::from(column * 10 + bucket as i32));
                }
                put_uvarint(&mut block, c.bytes().len() as u64);
                block.extend_from_slice(c.bytes());
            }
            conn.execute(
                "INSERT INTO rollups(series_id, res, start, data) VALUES(1, 3600000, 0, ?1)",
                [block],
            )
            .unwrap();
        }
        // A read-only open refuses it and says what upgrades it.
        let e = Store::open_read_only(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("format version 4, this tally reads 5 (`tally serve` upgrades"),
            "{e}"
        );
        let s = Store::open(dir.path(), false).unwrap();
        let rows = s.chunks(1, i64::MIN, i64::MAX).unwrap();
        assert_eq!(rows.len(), 1);
        let got: Vec<Sample> = rows[0].data.samples().collect();
        assert_eq!(got, chunk.iter().collect::<Vec<_>>());
        let format: i64 = s
            .conn
            .query_row("SELECT value FROM meta WHERE key='format'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(format, 5);
        assert_eq!(
            s.load_series().unwrap(),
            vec![(
                1,
                Labels::from_pairs([("__name__", "up"), ("job", "api")]).unwrap()
            )]
        );
        let open = s.load_partial_chunks().unwrap();
        assert_eq!(open[0].data.to_xor_chunk().unwrap(), chunk);
        let buckets = s.rollups(1, 3_600_000, 0, i64::MAX).unwrap();
        let got: Vec<(i64, u64, f64, f64)> = buckets
            .iter()
            .map(|p| (p.start, p.count, p.sum, p.last))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 0, 10.0, 40.0),
                (3_600_000, 1, 11.0, 41.0),
                (7_200_000, 2, 12.0, 42.0)
            ]
        );
        drop(s);
        // Opening again changes nothing more.
        let s = Store::open(dir.path(), false).unwrap();
        assert_eq!(s.chunks(1, i64::MIN, i64::MAX).unwrap(), rows);
    }

    #[test]
    fn consecutive_checkpoints_grow_a_series_newest_stored_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), false).unwrap();
        let labels = Labels::from_pairs([("__name__", "c")]).unwrap();
        let mut want = Vec::new();
        let mut t = 0;
        // 9 checkpoints of one sealed 120-sample chunk each: rows of 480, 480, 120.
        for round in 0..9 {
            let mut c = XorChunk::new();
            for _ in 0..120 {
                c.append(t, (t / 7) as f64);
                want.push(Sample::new(t, (t / 7) as f64));
                t += 15_000;
            }
            let series = if round == 0 {
                vec![(1, labels.clone())]
            } else {
                vec![]
            };
            s.write_checkpoint(&Checkpoint {
                series,
                chunks: vec![ChunkRow {
                    series: 1,
                    min_t: c.min_time().unwrap(),
                    max_t: c.max_time().unwrap(),
                    sealed: true,
                    data: ChunkData::Shared(std::sync::Arc::new(c)),
                }],
                ..Default::default()
            })
            .unwrap();
        }
        let rows = s.chunks(1, i64::MIN, i64::MAX).unwrap();
        let sizes: Vec<usize> = rows.iter().map(|r| r.data.samples().count()).collect();
        assert_eq!(sizes, vec![480, 480, 120]);
        let got: Vec<Sample> = rows.iter().flat_map(|r| r.data.samples()).collect();
        assert_eq!(got, want);
        for r in &rows {
            let samples: Vec<Sample> = r.data.samples().collect();
            assert_eq!(
                (r.min_t, r.max_t),
                (
                    samples[0].timestamp_ms,
                    samples.last().unwrap().timestamp_ms
                )
            );
        }
        // A damaged newest row is left alone: the next chunk starts a row of its own.
        s.conn
            .execute(
                "UPDATE chunks SET data = X'01ff' WHERE min_t = ?1",
                [rows[2].min_t],
            )
            .unwrap();
        let mut c = XorChunk::new();
        c.append(t, 1.0);
        s.write_checkpoint(&Checkpoint {
            chunks: vec![ChunkRow {
                series: 1,
                min_t: t,
                max_t: t,
                sealed: true,
                data: ChunkData::Shared(std::sync::Arc::new(c)),
            }],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.chunks(1, i64::MIN, i64::MAX).unwrap().len(), 4);
    }
}
