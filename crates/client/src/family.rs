//! [`Family`]: one metric per combination of label values.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use hashbrown::HashTable;
use parking_lot::Mutex;

/// A labelled family of metrics of type `M` with `N` label names, such as
/// `http_requests_total{method, code}` (`Family<Counter, 2>`).
///
/// Two ways to update a child:
/// - **resolved handle** for hot paths: [`get`](Self::get) looks the label values up once
///   and returns the child's handle (a [`Counter`](crate::Counter), ...); keep it and
///   update it with atomics only;
/// - **by label values** for dynamic use: [`with`](Self::with) looks the values up on every
///   call and borrows the child without touching any shared cache line.
///
/// Lookups read an immutable table through an [`ArcSwap`] (a thread-local fast path, no
/// shared write), so they scale across threads. Adding a child copies the table (a
/// reference-count increment per child; copy-on-write, serialized by a mutex): creating
/// children is rare next to updating them. The arity `N` is checked at compile time. Cloning a family is shallow.
pub struct Family<M, const N: usize> {
    inner: Arc<FamilyInner<M, N>>,
}

impl<M, const N: usize> Clone for Family<M, N> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<M, const N: usize> fmt::Debug for Family<M, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Family")
            .field("label_names", &self.inner.label_names)
            .field("children", &self.inner.table.load().entries.len())
            .finish()
    }
}

struct FamilyInner<M, const N: usize> {
    label_names: [Box<str>; N],
    table: ArcSwap<Table<M, N>>,
    insert: Mutex<()>,
    make: Box<dyn Fn() -> M + Send + Sync>,
    hasher: foldhash::fast::FixedState,
}

/// An immutable snapshot of the children, replaced whole (copy-on-write) when one is added
/// or removed.
///
/// A lookup touches few cache lines, one after the other: the index's control bytes, the
/// matching [`Slot`] (hash, key pointer, position), the key's bytes, then the [`Entry`]
/// holding the metric handle inline.
struct Table<M, const N: usize> {
    index: HashTable<Slot>,
    /// Children in creation order.
    entries: Vec<Entry<M, N>>,
}

impl<M: Clone, const N: usize> Clone for Table<M, N> {
    fn clone(&self) -> Self {
        Self {
            index: self.index.clone(),
            entries: self.entries.clone(),
        }
    }
}

/// Where to find one child, by the hash of its label values.
#[derive(Clone)]
struct Slot {
    hash: u64,
    /// The label values, each followed by `0xff` (a byte UTF-8 never contains, so the
    /// joined form is unambiguous): what a lookup compares, in one allocation.
    key: Arc<[u8]>,
    /// Position in [`Table::entries`].
    idx: usize,
}

impl Slot {
    fn new(hash: u64, values: &[&str], idx: usize) -> Self {
        let mut key = Vec::with_capacity(values.iter().map(|v| v.len() + 1).sum());
        for v in values {
            key.extend_from_slice(v.as_bytes());
            key.push(0xff);
        }
        Self {
            hash,
            key: key.into(),
            idx,
        }
    }

    /// Whether this slot's key is `values`.
    #[inline]
    fn is(&self, values: &[&str]) -> bool {
        let mut rest = &*self.key;
        for v in values {
            let v = v.as_bytes();
            // `rest` starts with one value of the key and its `0xff`; neither holds `0xff`
            // before the separator, so a separator at `v.len()` means equal lengths.
            if rest.get(v.len()) != Some(&0xff) || !bytes_eq(&rest[..v.len()], v) {
                return false;
            }
            rest = &rest[v.len() + 1..];
        }
        true
    }
}

/// One child: its metric handle and its label values (shared by every snapshot).
struct Entry<M, const N: usize> {
    metric: M,
    values: Arc<[Box<str>; N]>,
}

impl<M: Clone, const N: usize> Clone for Entry<M, N> {
    fn clone(&self) -> Self {
        Self {
            metric: self.metric.clone(),
            values: self.values.clone(),
        }
    }
}

/// `a == b`, without a call to `memcmp` for the short strings label values usually are
/// (the call costs more than the comparison itself).
#[inline(always)]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => load4(a, 0) == load4(b, 0) && load4(a, n - 4) == load4(b, n - 4),
        8..=16 => load8(a, 0) == load8(b, 0) && load8(a, n - 8) == load8(b, n - 8),
        _ => a == b,
    }
}

#[inline(always)]
fn load4(s: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&s[at..at + 4]);
    u32::from_ne_bytes(b)
}

#[inline(always)]
fn load8(s: &[u8], at: usize) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&s[at..at + 8]);
    u64::from_ne_bytes(b)
}

/// A child borrowed by [`Family::with`]; dereferences to the metric.
pub struct Labelled<M, const N: usize> {
    table: Guard<Arc<Table<M, N>>>,
    idx: usize,
}

impl<M, const N: usize> Deref for Labelled<M, N> {
    type Target = M;
    #[inline]
    fn deref(&self) -> &M {
        &self.table.entries[self.idx].metric
    }
}

impl<M: fmt::Debug, const N: usize> fmt::Debug for Labelled<M, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<M: Clone + Send + Sync + 'static, const N: usize> Family<M, N> {
    /// A family whose children are made by `make`, not registered anywhere.
    pub fn new(label_names: [&str; N], make: impl Fn() -> M + Send + Sync + 'static) -> Self {
        Self {
            inner: Arc::new(FamilyInner {
                label_names: label_names.map(Box::from),
                table: ArcSwap::from_pointee(Table {
                    index: HashTable::new(),
                    entries: Vec::new(),
                }),
                insert: Mutex::new(()),
                make: Box::new(make),
                hasher: foldhash::fast::FixedState::default(),
            }),
        }
    }

    /// The label names, in order.
    pub fn label_names(&self) -> &[Box<str>; N] {
        &self.inner.label_names
    }

    /// The hash of label values. Each `write` folds the value's length in, so no
    /// separator is needed for `["ab", "c"]` and `["a", "bc"]` to hash apart (and a
    /// collision would only cost a comparison: lookups compare the values).
    #[inline]
    fn hash(&self, values: &[&str; N]) -> u64 {
        let mut h = self.inner.hasher.build_hasher();
        for v in values {
            h.write(v.as_bytes());
        }
        h.finish()
    }

    #[inline]
    fn find(table: &Table<M, N>, hash: u64, values: &[&str; N]) -> Option<usize> {
        table
            .index
            .find(hash, |slot| slot.hash == hash && slot.is(values))
            .map(|slot| slot.idx)
    }

    /// The child for `values`, created on first use: the resolved handle for hot paths.
    pub fn get(&self, values: &[&str; N]) -> M {
        self.with(values).clone()
    }

    /// Borrows the child for `values`, created on first use. Does not clone the handle, so
    /// it writes no shared memory when the child exists.
    #[inline]
    pub fn with(&self, values: &[&str; N]) -> Labelled<M, N> {
        let hash = self.hash(values);
        let table = self.inner.table.load();
        match Self::find(&table, hash, values) {
            Some(idx) => Labelled { table, idx },
            None => {
                drop(table);
                self.with_new(hash, values)
            }
        }
    }

    /// [`with`](Self::with) for values not found: creates the child.
    #[cold]
    fn with_new(&self, hash: u64, values: &[&str; N]) -> Labelled<M, N> {
        self.insert(hash, values);
        let table = self.inner.table.load();
        // Inserted above and never removed since but by `remove`/`clear`; if one raced
        // us, insert again.
        match Self::find(&table, hash, values) {
            Some(idx) => Labelled { table, idx },
            None => {
                drop(table);
                self.with_new(hash, values)
            }
        }
    }

    fn insert(&self, hash: u64, values: &[&str; N]) {
        let _guard = self.inner.insert.lock();
        let current = self.inner.table.load_full();
        if Self::find(&current, hash, values).is_some() {
            return;
        }
        let mut table = Table::clone(&current);
        let idx = table.entries.len();
        table.entries.push(Entry {
            metric: (self.inner.make)(),
            values: Arc::new(values.map(Box::from)),
        });
        table
            .index
            .insert_unique(hash, Slot::new(hash, values, idx), |s| s.hash);
        self.inner.table.store(Arc::new(table));
    }

    /// Removes the child for `values`; returns whether it existed. Handles already held
    /// keep working but are no longer exported.
    pub fn remove(&self, values: &[&str; N]) -> bool {
        let _guard = self.inner.insert.lock();
        let current = self.inner.table.load_full();
        let hash = self.hash(values);
        let Some(idx) = Self::find(&current, hash, values) else {
            return false;
        };
        let entries: Vec<_> = current
            .entries
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != idx)
            .map(|(_, e)| e.clone())
            .collect();
        self.inner.table.store(Arc::new(self.reindex(entries)));
        true
    }

    /// Removes every child.
    pub fn clear(&self) {
        let _guard = self.inner.insert.lock();
        self.inner.table.store(Arc::new(self.reindex(Vec::new())));
    }

    fn reindex(&self, entries: Vec<Entry<M, N>>) -> Table<M, N> {
        let mut index = HashTable::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let values: [&str; N] = std::array::from_fn(|k| &*e.values[k]);
            let hash = self.hash(&values);
            index.insert_unique(hash, Slot::new(hash, &values, i), |s| s.hash);
        }
        Table { index, entries }
    }

    /// Calls `f` with each child's label values and metric, in creation order.
    pub fn for_each(&self, mut f: impl FnMut(&[Box<str>; N], &M)) {
        let table = self.inner.table.load();
        for e in &table.entries {
            f(&e.values, &e.metric);
        }
    }

    /// Number of children.
    pub fn len(&self) -> usize {
        self.inner.table.load().entries.len()
    }

    /// Whether the family has no children.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Counter;

    #[test]
    fn children_are_created_once_and_shared() {
        let family: Family<Counter, 2> = Family::new(["method", "code"], Counter::new);
        family.with(&["GET", "200"]).inc();
        let handle = family.get(&["GET", "200"]);
        handle.inc_by(2);
        family.with(&["POST", "500"]).inc();
        assert_eq!(family.len(), 2);
        assert_eq!(family.with(&["GET", "200"]).get(), 3.0);
        let mut seen = Vec::new();
        family.for_each(|values, c| seen.push((values.join(","), c.get())));
        assert_eq!(
            seen,
            [("GET,200".to_owned(), 3.0), ("POST,500".to_owned(), 1.0)]
        );
    }

    #[test]
    fn values_are_compared_whole() {
        // Same bytes split differently, prefixes, empty values, every length class of
        // `bytes_eq` (and past it), and non-ASCII text.
        let sets: [[&str; 2]; 14] = [
            ["ab", "c"],
            ["a", "bc"],
            ["abc", ""],
            ["", "abc"],
            ["", ""],
            ["GET", "200"],
            ["GET", "2000"],
            ["GETS", "200"],
            ["abcdefg", "x"],
            ["abcdefgh", "x"],
            ["abcdefghijklmnop", "x"],
            ["abcdefghijklmnopq", "x"],
            ["abcdefghijklmnopr", "x"],
            ["é", "\u{1F600}"],
        ];
        let family: Family<Counter, 2> = Family::new(["a", "b"], Counter::new);
        for (i, values) in sets.iter().enumerate() {
            family.with(values).inc_by(i as u64 + 1);
        }
        assert_eq!(family.len(), sets.len());
        for (i, values) in sets.iter().enumerate() {
            assert_eq!(family.with(values).get_u64(), i as u64 + 1, "{values:?}");
        }
        let mut seen = Vec::new();
        family.for_each(|values, _| seen.push([values[0].to_string(), values[1].to_string()]));
        assert_eq!(seen, sets.map(|v| v.map(String::from)));
    }

    #[test]
    fn bytes_eq_matches_slice_equality() {
        let text = "abcdefghijklmnopqrstuvwxyz0123456789";
        for len in 0..=text.len() {
            let a = &text.as_bytes()[..len];
            assert!(bytes_eq(a, a));
            for flip in 0..len {
                let mut b = a.to_vec();
                b[flip] ^= 1;
                assert!(!bytes_eq(a, &b), "len {len}, byte {flip}");
            }
            if len > 0 {
                assert!(!bytes_eq(a, &a[..len - 1]));
            }
        }
    }

    #[test]
    fn remove_and_clear() {
        let family: Family<Counter, 1> = Family::new(["k"], Counter::new);
        for v in ["a", "b", "c"] {
            family.with(&[v]).inc();
        }
        assert!(family.remove(&["b"]));
        assert!(!family.remove(&["b"]));
        assert_eq!(family.len(), 2);
        assert_eq!(family.with(&["c"]).get(), 1.0);
        family.clear();
        assert!(family.is_empty());
        assert_eq!(family.with(&["a"]).get(), 0.0);
    }

    #[test]
    fn concurrent_creation_makes_one_child_per_values() {
        let family: Family<Counter, 1> = Family::new(["k"], Counter::new);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for i in 0..200 {
                        family.with(&[&(i % 50).to_string()]).inc();
                    }
                });
            }
        });
        assert_eq!(family.len(), 50);
        let mut total = 0.0;
        family.for_each(|_, c| total += c.get());
        assert_eq!(total, 800.0);
    }
}
