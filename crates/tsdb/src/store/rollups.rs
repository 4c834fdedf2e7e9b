//! The `rollups` table: per series and resolution, blocks of finished buckets stored as a
//! [`RollupBlock`], plus the unfinished bucket in plain columns (`docs/format/tsdb-store.md`).

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::chunk::StoredIter;
use crate::index::SeriesId;
use crate::rollup::{block_start, RollupBlock, RollupPoint, BLOCK_BUCKETS, DERIVED_MS};

/// A failure reading rollups.
#[derive(Debug)]
pub(crate) enum RollupReadError {
    Sqlite(rusqlite::Error),
    Corrupt {
        series: SeriesId,
        res: i64,
        start: i64,
        reason: String,
    },
}

impl From<rusqlite::Error> for RollupReadError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

type Key = (SeriesId, i64, i64);

/// Appends finished buckets to their blocks and records the unfinished ones, in `tx`.
/// Buckets a block already holds (a checkpoint written twice) are skipped. Returns how
/// many stored blocks did not decode and were rewritten from this checkpoint's buckets
/// alone (their older buckets are lost; the caller reports them).
pub(crate) fn write(
    tx: &Transaction<'_>,
    finished: &[(SeriesId, i64, RollupPoint)],
    current: &[(SeriesId, i64, RollupPoint)],
) -> Result<usize, rusqlite::Error> {
    let mut blocks: BTreeMap<Key, (Vec<RollupPoint>, Option<RollupPoint>)> = BTreeMap::new();
    for (series, res, p) in finished {
        let key = (*series, *res, block_start(*res, p.start));
        blocks.entry(key).or_default().0.push(*p);
    }
    for (series, res, p) in current {
        let key = (*series, *res, block_start(*res, p.start));
        blocks.entry(key).or_default().1 = Some(*p);
    }
    let mut read = tx.prepare_cached(
        "SELECT data, cur_t, cur_count, cur_sum, cur_min, cur_max, cur_last FROM rollups \
         WHERE series_id = ?1 AND res = ?2 AND start = ?3",
    )?;
    let mut put = tx.prepare_cached(
        "INSERT OR REPLACE INTO rollups(series_id, res, start, data, cur_t, cur_count, \
         cur_sum, cur_min, cur_max, cur_last) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut corrupt = 0;
    for ((series, res, start), (mut points, current)) in blocks {
        let stored: Option<(Vec<u8>, Option<RollupPoint>)> = read
            .query_row(params![series as i64, res, start], |r| {
                Ok((r.get(0)?, current_from_row(r, 1)?))
            })
            .optional()?;
        // A block that does not decode is rewritten from what this checkpoint has.
        let (mut block, mut kept_current) = match stored {
            Some((data, cur)) => match RollupBlock::from_bytes(&data) {
                Ok(block) => (block, cur),
                Err(_) => {
                    corrupt += 1;
                    (RollupBlock::new(), cur)
                }
            },
            None => (RollupBlock::new(), None),
        };
        points.sort_by_key(|p| p.start);
        for p in &points {
            if block.last_start().is_none_or(|last| p.start > last) {
                block.push(p);
            }
        }
        if current.is_some() {
            kept_current = current;
        }
        // A stored unfinished bucket that has since finished is in the block now.
        let cur = kept_current.filter(|c| block.last_start().is_none_or(|last| c.start > last));
        put.execute(params![
            series as i64,
            res,
            start,
            block.to_bytes(),
            cur.map(|c| c.start),
            cur.map(|c| c.count as i64),
            cur.map(|c| c.sum),
            cur.map(|c| c.min),
            cur.map(|c| c.max),
            cur.map(|c| c.last),
        ])?;
    }
    Ok(corrupt)
}

fn current_from_row(
    r: &rusqlite::Row<'_>,
    at: usize,
) -> Result<Option<RollupPoint>, rusqlite::Error> {
    let Some(start) = r.get::<_, Option<i64>>(at)? else {
        return Ok(None);
    };
    let f = |i: usize| -> Result<f64, rusqlite::Error> {
        Ok(r.get::<_, Option<f64>>(at + i)?.unwrap_or(f64::NAN))
    };
    Ok(Some(RollupPoint {
        start,
        count: r.get::<_, Option<i64>>(at + 1)?.unwrap_or(0) as u64,
        sum: f(2)?,
        min: f(3)?,
        max: f(4)?,
        last: f(5)?,
    }))
}

/// Buckets of `series` at `res` with starts in `[mint, maxt]`, oldest first.
pub(crate) fn read(
    conn: &Connection,
    series: SeriesId,
    res: i64,
    mint: i64,
    maxt: i64,
) -> Result<Vec<RollupPoint>, RollupReadError> {
    let mut stmt = conn.prepare_cached(
        "SELECT start, data, cur_t, cur_count, cur_sum, cur_min, cur_max, cur_last \
         FROM rollups WHERE series_id = ?1 AND res = ?2 AND start >= ?3 AND start <= ?4 \
         ORDER BY start",
    )?;
    let first_block = block_start(res, mint);
    let mut rows = stmt.query(params![series as i64, res, first_block, maxt])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let start: i64 = r.get(0)?;
        let data: Vec<u8> = r.get(1)?;
        let points = RollupBlock::points(&data).map_err(|e| RollupReadError::Corrupt {
            series,
            res,
            start,
            reason: e.to_string(),
        })?;
        let last = points.last().map(|p| p.start);
        out.extend(points);
        if let Some(c) = current_from_row(r, 2)? {
            if last.is_none_or(|l| c.start > l) {
                out.push(c);
            }
        }
    }
    out.retain(|p| p.start >= mint && p.start <= maxt);
    Ok(out)
}

/// The stored unfinished bucket of every series and resolution (from its newest block).
pub(crate) fn load_current(
    conn: &Connection,
) -> Result<Vec<(SeriesId, i64, RollupPoint)>, RollupReadError> {
    let mut stmt = conn.prepare(
        "SELECT r.series_id, r.res, r.cur_t, r.cur_count, r.cur_sum, r.cur_min, r.cur_max, \
         r.cur_last FROM rollups r JOIN (SELECT series_id, res, max(start) AS start \
         FROM rollups GROUP BY series_id, res) m \
         ON r.series_id = m.series_id AND r.res = m.res AND r.start = m.start \
         WHERE r.cur_t IS NOT NULL",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let series = r.get::<_, i64>(0)? as SeriesId;
        let res: i64 = r.get(1)?;
        if let Some(c) = current_from_row(r, 2)? {
            out.push((series, res, c));
        }
    }
    Ok(out)
}

/// Before retention deletes the sealed chunks whose newest sample is older than
/// `horizon`, stores their samples' 1 minute buckets (which are computed from raw samples
/// while those are kept, and stored only from here on). A bucket whose samples straddle
/// a deleted and a kept chunk is stored with the deleted part; reads add the kept part.
/// Returns the number of stored blocks rewritten because they did not decode, as
/// [`write`] does.
pub(crate) fn roll_up_before(tx: &Transaction<'_>, horizon: i64) -> Result<usize, rusqlite::Error> {
    let mut stmt = tx
        .prepare("SELECT series_id, data FROM chunks WHERE max_t < ?1 ORDER BY series_id, min_t")?;
    let mut rows = stmt.query([horizon])?;
    let mut points: Vec<(SeriesId, i64, RollupPoint)> = Vec::new();
    let mut state: Option<(SeriesId, crate::rollup::RollupState)> = None;
    let flush = |state: Option<(SeriesId, crate::rollup::RollupState)>,
                 points: &mut Vec<(SeriesId, i64, RollupPoint)>| {
        if let Some((id, st)) = state {
            points.extend(st.current().map(|p| (id, DERIVED_MS, p)));
        }
    };
    while let Some(r) = rows.next()? {
        let series = r.get::<_, i64>(0)? as SeriesId;
        let data = r.get_ref(1)?.as_blob()?;
        if state.as_ref().is_none_or(|(id, _)| *id != series) {
            flush(state.take(), &mut points);
            state = Some((series, Default::default()));
        }
        if let Some((_, st)) = &mut state {
            // An undecodable chunk is deleted without a summary, as reads would skip it.
            for s in StoredIter::new(data) {
                if let Some(p) = st.observe(DERIVED_MS, s.timestamp_ms, s.value) {
                    points.push((series, DERIVED_MS, p));
                }
            }
        }
    }
    flush(state, &mut points);
    drop(rows);
    merge(tx, &points)
}

/// Adds buckets to their blocks, combining a bucket with a stored one of the same start
/// (the two hold disjoint samples), and rewrites each block changed.
fn merge(
    tx: &Transaction<'_>,
    points: &[(SeriesId, i64, RollupPoint)],
) -> Result<usize, rusqlite::Error> {
    let mut blocks: BTreeMap<Key, Vec<RollupPoint>> = BTreeMap::new();
    for (series, res, p) in points {
        let key = (*series, *res, block_start(*res, p.start));
        blocks.entry(key).or_default().push(*p);
    }
    let mut read = tx.prepare_cached(
        "SELECT data FROM rollups WHERE series_id = ?1 AND res = ?2 AND start = ?3",
    )?;
    let mut put = tx.prepare_cached(
        "INSERT OR REPLACE INTO rollups(series_id, res, start, data) VALUES(?1, ?2, ?3, ?4)",
    )?;
    let mut corrupt = 0;
    for ((series, res, start), new) in blocks {
        let stored: Option<Vec<u8>> = read
            .query_row(params![series as i64, res, start], |r| r.get(0))
            .optional()?;
        // A block that does not decode is rewritten from the new buckets alone.
        let old = match stored.map(|d| RollupBlock::points(&d)) {
            Some(Ok(points)) => points,
            Some(Err(_)) => {
                corrupt += 1;
                Vec::new()
            }
            None => Vec::new(),
        };
        let mut all: BTreeMap<i64, RollupPoint> = BTreeMap::new();
        for p in old.into_iter().chain(new) {
            all.entry(p.start)
                .and_modify(|q| *q = q.combine(&p))
                .or_insert(p);
        }
        let mut block = RollupBlock::new();
        for p in all.values() {
            block.push(p);
        }
        put.execute(params![series as i64, res, start, block.to_bytes()])?;
    }
    Ok(corrupt)
}

/// Deletes blocks that end before `horizon`.
pub(crate) fn delete_before(tx: &Transaction<'_>, horizon: i64) -> Result<usize, rusqlite::Error> {
    tx.execute(
        "DELETE FROM rollups WHERE start + res * ?1 <= ?2",
        params![BLOCK_BUCKETS, horizon],
    )
}
