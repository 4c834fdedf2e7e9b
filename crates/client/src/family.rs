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
/// shared write), so they scale across threads. Adding a child copies the table of child
/// pointers (copy-on-write, serialized by a mutex): creating children is rare next to
/// updating them. The arity `N` is checked at compile time. Cloning a family is shallow.
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

struct Table<M, const N: usize> {
    index: HashTable<usize>,
    entries: Vec<Arc<Child<M, N>>>,
}

struct Child<M, const N: usize> {
    values: [Box<str>; N],
    metric: M,
}

/// A child borrowed by [`Family::with`]; dereferences to the metric.
pub struct Labelled<M, const N: usize> {
    table: Guard<Arc<Table<M, N>>>,
    idx: usize,
}

impl<M, const N: usize> Deref for Labelled<M, N> {
    type Target = M;
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

    fn hash(&self, values: &[&str; N]) -> u64 {
        let mut h = self.inner.hasher.build_hasher();
        for v in values {
            h.write(v.as_bytes());
            h.write_u8(0xff);
        }
        h.finish()
    }

    fn find(table: &Table<M, N>, hash: u64, values: &[&str; N]) -> Option<usize> {
        table
            .index
            .find(hash, |&i| {
                table.entries[i]
                    .values
                    .iter()
                    .zip(values)
                    .all(|(a, b)| &**a == *b)
            })
            .copied()
    }

    /// The child for `values`, created on first use: the resolved handle for hot paths.
    pub fn get(&self, values: &[&str; N]) -> M {
        self.with(values).clone()
    }

    /// Borrows the child for `values`, created on first use. Does not clone the handle, so
    /// it writes no shared memory when the child exists.
    pub fn with(&self, values: &[&str; N]) -> Labelled<M, N> {
        let hash = self.hash(values);
        let table = self.inner.table.load();
        if let Some(idx) = Self::find(&table, hash, values) {
            return Labelled { table, idx };
        }
        drop(table);
        self.insert(hash, values);
        let table = self.inner.table.load();
        // Inserted above and never removed since but by `remove`/`clear`; if one raced
        // us, insert again.
        match Self::find(&table, hash, values) {
            Some(idx) => Labelled { table, idx },
            None => {
                drop(table);
                self.with(values)
            }
        }
    }

    fn insert(&self, hash: u64, values: &[&str; N]) {
        let _guard = self.inner.insert.lock();
        let current = self.inner.table.load_full();
        if Self::find(&current, hash, values).is_some() {
            return;
        }
        let mut entries = current.entries.clone();
        let mut index = current.index.clone();
        entries.push(Arc::new(Child {
            values: values.map(Box::from),
            metric: (self.inner.make)(),
        }));
        let hasher = &self.inner.hasher;
        let rehash = |&i: &usize| {
            let mut h = hasher.build_hasher();
            for v in &entries[i].values {
                h.write(v.as_bytes());
                h.write_u8(0xff);
            }
            h.finish()
        };
        index.insert_unique(hash, entries.len() - 1, rehash);
        self.inner.table.store(Arc::new(Table { index, entries }));
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

    fn reindex(&self, entries: Vec<Arc<Child<M, N>>>) -> Table<M, N> {
        let mut index = HashTable::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let values: [&str; N] = std::array::from_fn(|k| &*e.values[k]);
            let hash = self.hash(&values);
            let hasher = &self.inner.hasher;
            index.insert_unique(hash, i, |&j| {
                let mut h = hasher.build_hasher();
                for v in &entries[j].values {
                    h.write(v.as_bytes());
                    h.write_u8(0xff);
                }
                h.finish()
            });
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
