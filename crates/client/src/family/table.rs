//! [`Table`]: the immutable index of a family's children that lookups by label values read.

use std::sync::Arc;

use super::key::{Lookup, Word};

/// High bits of a probe slot: the top of the child's hash, checked before its entry is
/// read.
const TAG: u64 = !0 << 40;
/// Low bits of a probe slot: the child's position in `entries` plus one (`0` is an empty
/// slot). 2^40 children would take far more memory than any machine has.
const POSITION: u64 = !TAG;

/// A family's children, immutable: replaced whole (copy-on-write) when one is added or
/// removed.
///
/// `entries` holds the children in creation order, each with its hash, the [`Word`]s of
/// its label values and its metric handle inline; `probe` is an open-addressing index
/// over them (linear probing, at most half full, so a probe always ends at an empty
/// slot). Both are behind their own pointers, which a thread's snapshot copies: a lookup
/// then reads one probe slot and one entry before it updates the metric. A general hash
/// map (`hashbrown`, measured) adds a load (control bytes, then slot) and has no stable
/// positions for a [`Labelled`](super::Labelled) to keep.
pub(super) struct Table<M, const N: usize> {
    probe: Arc<[u64]>,
    entries: Arc<[Entry<M, N>]>,
}

/// Shallow: two reference-count increments. A thread's snapshot is such a copy, so its
/// lookups reach the probe slots and entries without going through the shared table.
impl<M, const N: usize> Clone for Table<M, N> {
    fn clone(&self) -> Self {
        Self {
            probe: self.probe.clone(),
            entries: self.entries.clone(),
        }
    }
}

/// One child.
pub(super) struct Entry<M, const N: usize> {
    hash: u64,
    /// What a lookup compares, inside the entry.
    words: [Word; N],
    pub(super) metric: M,
    pub(super) values: Arc<[Box<str>; N]>,
}

impl<M: Clone, const N: usize> Clone for Entry<M, N> {
    fn clone(&self) -> Self {
        Self {
            hash: self.hash,
            words: self.words,
            metric: self.metric.clone(),
            values: self.values.clone(),
        }
    }
}

impl<M, const N: usize> Entry<M, N> {
    /// A child for the values of `key`.
    pub(super) fn new(key: &Lookup<'_, N>, metric: M) -> Self {
        Self {
            hash: key.hash,
            words: key.words,
            metric,
            values: Arc::new(key.values.map(Box::from)),
        }
    }
}

impl<M, const N: usize> Table<M, N> {
    /// The index over `entries`, kept in that order.
    pub(super) fn new(entries: Vec<Entry<M, N>>) -> Self {
        let slots = (entries.len() * 2).next_power_of_two();
        let mask = slots - 1;
        let mut probe = vec![0u64; slots];
        for (pos, e) in entries.iter().enumerate() {
            let mut i = e.hash as usize & mask;
            while probe[i] != 0 {
                i = (i + 1) & mask;
            }
            probe[i] = (e.hash & TAG) | (pos as u64 + 1);
        }
        Self {
            probe: probe.into(),
            entries: entries.into(),
        }
    }

    /// The position of the child whose label values are `key`'s.
    #[inline]
    pub(super) fn find(&self, key: &Lookup<'_, N>) -> Option<usize> {
        let hash = key.hash;
        let mask = self.probe.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.probe[i];
            if slot == 0 {
                return None;
            }
            if slot & TAG == hash & TAG {
                let pos = (slot & POSITION) as usize - 1;
                let entry = &self.entries[pos];
                if key.is(&entry.words, &entry.values) {
                    return Some(pos);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// The metric of the child at `pos` (from [`find`](Self::find)).
    #[inline]
    pub(super) fn metric(&self, pos: usize) -> &M {
        &self.entries[pos].metric
    }

    /// The children, in creation order.
    pub(super) fn entries(&self) -> &[Entry<M, N>] {
        &self.entries
    }
}

impl<M: Clone, const N: usize> Table<M, N> {
    /// This table with `entry` added last.
    pub(super) fn with(&self, entry: Entry<M, N>) -> Self {
        let mut entries = Vec::with_capacity(self.entries.len() + 1);
        entries.extend(self.entries.iter().cloned());
        entries.push(entry);
        Self::new(entries)
    }

    /// This table without the child at `pos`.
    pub(super) fn without(&self, pos: usize) -> Self {
        let entries = self
            .entries
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != pos)
            .map(|(_, e)| e.clone())
            .collect();
        Self::new(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(hash: u64, value: &'static [&'static str; 1]) -> Entry<u32, 1> {
        let mut key = Lookup::new(value);
        key.hash = hash;
        Entry::new(&key, 0)
    }

    fn find(table: &Table<u32, 1>, hash: u64, value: &'static [&'static str; 1]) -> Option<usize> {
        let mut key = Lookup::new(value);
        key.hash = hash;
        table.find(&key)
    }

    #[test]
    fn probes_past_collisions_and_finds_by_value() {
        // Equal hashes (and so equal tags and start slots) for different values: found by
        // comparing values, in a table that wraps around its end.
        let h = 0xabcd_0000_0000_0007;
        let table = Table::new(vec![entry(h, &["a"]), entry(h, &["b"]), entry(h, &["c"])]);
        assert_eq!(table.probe.len(), 8);
        assert_eq!(find(&table, h, &["a"]), Some(0));
        assert_eq!(find(&table, h, &["b"]), Some(1));
        assert_eq!(find(&table, h, &["c"]), Some(2));
        assert_eq!(find(&table, h, &["d"]), None);
        assert_eq!(find(&table, h ^ TAG, &["a"]), None);
        let table = table.without(1);
        assert_eq!(find(&table, h, &["b"]), None);
        assert_eq!(find(&table, h, &["c"]), Some(1));
        assert_eq!(find(&Table::new(Vec::new()), h, &["a"]), None);
    }
}
