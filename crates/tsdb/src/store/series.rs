//! The series catalogue: each series' label set as references into a table of the
//! distinct label strings (`symbols`), so a string shared by many series (a job, a
//! metric name, a label name) is stored once (`docs/format/tsdb-store.md`).
//!
//! No symbol map is kept in memory: a checkpoint looks up the strings of the series it
//! adds (new series only, each once) through the `symbols` value index, and a start reads
//! the whole table once to decode the catalogue.

use std::collections::{HashMap, HashSet};

use rusqlite::{params, OptionalExtension, Transaction};
use tally_model::Labels;

use super::{get_uvarint, put_uvarint};
use crate::index::SeriesId;

/// The table of distinct label strings.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS symbols(
    id INTEGER PRIMARY KEY,
    value TEXT NOT NULL UNIQUE
);
";

/// Writes `series` rows (replacing rows of the same ids), adding the strings the symbol
/// table lacks. Run inside the caller's transaction.
pub(super) fn write(
    tx: &rusqlite::Connection,
    series: &[(SeriesId, Labels)],
) -> rusqlite::Result<()> {
    if series.is_empty() {
        return Ok(());
    }
    let mut find = tx.prepare_cached("SELECT id FROM symbols WHERE value = ?1")?;
    let mut add = tx.prepare_cached("INSERT INTO symbols(value) VALUES(?1)")?;
    let mut insert =
        tx.prepare_cached("INSERT OR REPLACE INTO series(id, metric, labels) VALUES(?1, ?2, ?3)")?;
    let mut known: HashMap<&str, i64> = HashMap::new();
    for (id, labels) in series {
        let mut blob = Vec::with_capacity(labels.len() * 4);
        for (name, value) in labels {
            for s in [name, value] {
                let symbol = match known.get(s) {
                    Some(&symbol) => symbol,
                    None => {
                        let symbol = match find.query_row([s], |r| r.get(0)).optional()? {
                            Some(symbol) => symbol,
                            None => {
                                add.execute([s])?;
                                tx.last_insert_rowid()
                            }
                        };
                        known.insert(s, symbol);
                        symbol
                    }
                };
                put_uvarint(&mut blob, symbol as u64);
            }
        }
        let metric = labels.get("__name__").unwrap_or("");
        insert.execute(params![*id as i64, metric, blob])?;
    }
    Ok(())
}

/// Why the catalogue could not be read.
pub(super) enum ReadError {
    Sqlite(rusqlite::Error),
    /// The label set of this series does not decode.
    Corrupt(i64),
}

impl From<rusqlite::Error> for ReadError {
    fn from(e: rusqlite::Error) -> Self {
        ReadError::Sqlite(e)
    }
}

/// Every series, in id order. Both tables are read in one read transaction, so a
/// checkpoint committing meanwhile (new series and their new symbols) is seen whole or not
/// at all: read apart, a series could refer to a symbol added after the symbols were read.
pub(super) fn load(conn: &rusqlite::Connection) -> Result<Vec<(SeriesId, Labels)>, ReadError> {
    let tx = conn.unchecked_transaction()?;
    let out = load_in(&tx)?;
    tx.finish()?;
    Ok(out)
}

fn load_in(conn: &rusqlite::Connection) -> Result<Vec<(SeriesId, Labels)>, ReadError> {
    let mut symbols: HashMap<i64, String> = HashMap::new();
    {
        let mut stmt = conn.prepare("SELECT id, value FROM symbols")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            symbols.insert(r.get(0)?, r.get(1)?);
        }
    }
    let mut stmt = conn.prepare("SELECT id, labels FROM series ORDER BY id")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let blob = r
            .get_ref(1)?
            .as_blob()
            .map_err(|_| ReadError::Corrupt(id))?;
        let labels = decode(blob, &symbols).ok_or(ReadError::Corrupt(id))?;
        out.push((id as SeriesId, labels));
    }
    Ok(out)
}

/// The symbol ids of a `series.labels` blob, name and value alternating; `None` when it
/// is not a whole number of varint pairs.
fn symbol_ids(mut b: &[u8]) -> Option<Vec<i64>> {
    let mut ids = Vec::new();
    while !b.is_empty() {
        let (id, n) = get_uvarint(b)?;
        ids.push(i64::try_from(id).ok()?);
        b = &b[n..];
    }
    (ids.len() % 2 == 0).then_some(ids)
}

/// A label set from its blob; `None` for an unknown symbol, an odd count or a set that
/// is not valid (repeated or empty names).
fn decode(b: &[u8], symbols: &HashMap<i64, String>) -> Option<Labels> {
    let ids = symbol_ids(b)?;
    let pairs: Option<Vec<(&str, &str)>> = ids
        .chunks_exact(2)
        .map(|p| Some((symbols.get(&p[0])?.as_str(), symbols.get(&p[1])?.as_str())))
        .collect();
    Labels::from_pairs(pairs?).ok()
}

/// Deletes the symbols no series refers to any more (after retention deleted series).
/// A series whose blob does not decode keeps every symbol (nothing is lost that a repair
/// could still use).
pub(super) fn delete_unused_symbols(tx: &Transaction<'_>) -> rusqlite::Result<usize> {
    let mut used: HashSet<i64> = HashSet::new();
    {
        let mut stmt = tx.prepare("SELECT labels FROM series")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            match symbol_ids(r.get_ref(0)?.as_blob()?) {
                Some(ids) => used.extend(ids),
                None => return Ok(0),
            }
        }
    }
    let all: Vec<i64> = {
        let mut stmt = tx.prepare("SELECT id FROM symbols")?;
        let ids = stmt.query_map([], |r| r.get(0))?;
        ids.collect::<rusqlite::Result<_>>()?
    };
    let mut delete = tx.prepare("DELETE FROM symbols WHERE id = ?1")?;
    let mut n = 0;
    for id in all.into_iter().filter(|id| !used.contains(id)) {
        n += delete.execute([id])?;
    }
    Ok(n)
}

/// A label set as store format 4 kept it in `series.labels`: for each pair, the name's
/// length as a LEB128 varint, the name, the value's length, the value. Only the upgrade
/// to format 5 reads these.
pub(super) fn decode_format_4(mut b: &[u8]) -> Option<Labels> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    while !b.is_empty() {
        let mut take = || -> Option<String> {
            let (len, n) = get_uvarint(b)?;
            let len = usize::try_from(len).ok()?;
            let s = b.get(n..n.checked_add(len)?)?;
            b = &b[n + len..];
            String::from_utf8(s.to_vec()).ok()
        };
        let name = take()?;
        let value = take()?;
        pairs.push((name, value));
    }
    Labels::from_pairs(pairs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, super::super::Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = super::super::Store::open(dir.path(), false).unwrap();
        (dir, s)
    }

    #[test]
    fn label_sets_round_trip_through_shared_symbols() {
        let (_dir, mut s) = store();
        let a = Labels::from_pairs([("__name__", "up"), ("job", "a\u{0}b"), ("x", "é")]).unwrap();
        let b = Labels::from_pairs([("__name__", "up"), ("job", "api")]).unwrap();
        let tx = s.conn.transaction().unwrap();
        write(&tx, &[(1, a.clone()), (2, b.clone())]).unwrap();
        tx.commit().unwrap();
        let tx = s.conn.transaction().unwrap();
        write(&tx, &[(3, b.clone())]).unwrap();
        tx.commit().unwrap();
        let loaded = load(&s.conn).ok().unwrap();
        assert_eq!(loaded, vec![(1, a), (2, b.clone()), (3, b)]);
        // __name__ up job a\0b x é api: 7 distinct strings.
        let n: i64 = s
            .conn
            .query_row("SELECT count(*) FROM symbols", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 7);
    }

    #[test]
    fn undecodable_label_sets_are_refused() {
        let symbols: HashMap<i64, String> =
            [(1, "__name__".to_owned()), (2, "up".to_owned())].into();
        assert!(decode(&[1, 2], &symbols).is_some());
        assert!(decode(&[1], &symbols).is_none(), "odd count");
        assert!(decode(&[1, 3], &symbols).is_none(), "unknown symbol");
        assert!(decode(&[1, 2, 1, 2], &symbols).is_none(), "repeated name");
        assert!(decode(&[0xff], &symbols).is_none(), "truncated varint");
        assert_eq!(decode(&[], &symbols), Some(Labels::new()));
    }

    #[test]
    fn unused_symbols_go_when_their_series_go() {
        let (_dir, mut s) = store();
        let a = Labels::from_pairs([("__name__", "up"), ("pod", "p-1")]).unwrap();
        let b = Labels::from_pairs([("__name__", "up"), ("pod", "p-2")]).unwrap();
        let tx = s.conn.transaction().unwrap();
        write(&tx, &[(1, a), (2, b.clone())]).unwrap();
        tx.execute("DELETE FROM series WHERE id = 1", []).unwrap();
        assert_eq!(delete_unused_symbols(&tx).unwrap(), 1);
        tx.commit().unwrap();
        assert_eq!(load(&s.conn).ok().unwrap(), vec![(2, b)]);
    }

    #[test]
    fn format_4_label_sets_decode() {
        // __name__=up, job=api
        let old = [
            8, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_', 2, b'u', b'p', 3, b'j', b'o', b'b',
            3, b'a', b'p', b'i',
        ];
        assert_eq!(
            decode_format_4(&old),
            Some(Labels::from_pairs([("__name__", "up"), ("job", "api")]).unwrap())
        );
        assert_eq!(decode_format_4(&[5, b'a']), None);
        assert_eq!(decode_format_4(&[0xff; 12]), None);
    }
}
