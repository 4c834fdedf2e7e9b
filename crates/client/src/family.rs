//! [`Family`]: one metric per combination of label values.

use std::cell::{Ref, RefCell};
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use crossbeam_utils::CachePadded;
use parking_lot::Mutex;
use thread_local::ThreadLocal;

use key::Lookup;
use table::{Entry, Table};

mod key;
mod table;

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
/// The children live in an immutable table, replaced whole when one is added or removed
/// (copy-on-write, a reference-count increment per child, serialized by a mutex):
/// creating children is rare next to updating them. Each thread reads the table through
/// its own snapshot of it, refreshed when a generation counter says the table was
/// replaced, so a lookup by label values makes no atomic read-modify-write and writes no
/// shared memory, and lookups scale across threads. The price is memory: a thread keeps
/// the table as of its last lookup alive until its next one; the snapshots are freed with
/// the family (a new thread reuses an exited one's). The arity `N` is checked at compile
/// time. Cloning a family is shallow.
pub struct Family<M: Send + Sync, const N: usize> {
    inner: Arc<FamilyInner<M, N>>,
}

impl<M: Send + Sync, const N: usize> Clone for Family<M, N> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<M: Send + Sync, const N: usize> fmt::Debug for Family<M, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Family")
            .field("label_names", &self.inner.label_names)
            .field("children", &self.inner.table.load().entries().len())
            .finish()
    }
}

struct FamilyInner<M: Send + Sync, const N: usize> {
    label_names: [Box<str>; N],
    /// The current table: what writers replace, and where snapshots come from.
    table: ArcSwap<Table<M, N>>,
    /// Bumped after every replacement of `table`, so a thread knows its snapshot is stale.
    generation: AtomicU64,
    /// Each thread's snapshot of `table`, read by lookups without any atomic operation.
    /// `ThreadLocal` keeps the values of neighbouring threads side by side, and a lookup
    /// writes its snapshot's borrow flag: the padding keeps each on its own cache line.
    snapshots: ThreadLocal<CachePadded<RefCell<Snapshot<M, N>>>>,
    insert: Mutex<()>,
    make: Box<dyn Fn() -> M + Send + Sync>,
}

/// One thread's copy of the table (its two pointers) and the generation it was taken at.
struct Snapshot<M, const N: usize> {
    table: Table<M, N>,
    generation: u64,
}

/// A child borrowed by [`Family::with`]; dereferences to the metric.
///
/// It borrows the calling thread's snapshot of the family's children, so it cannot be
/// sent to another thread: update the metric, then drop it (or keep the handle from
/// [`Family::get`]).
pub struct Labelled<'a, M, const N: usize> {
    table: Borrowed<'a, M, N>,
    pos: usize,
}

enum Borrowed<'a, M, const N: usize> {
    /// This thread's snapshot: taking and releasing it are plain (non-atomic) writes.
    Snapshot(Ref<'a, Snapshot<M, N>>),
    /// The current table, when this thread's snapshot is stale and another [`Labelled`]
    /// of this thread still borrows it.
    Current(Guard<Arc<Table<M, N>>>),
}

impl<M, const N: usize> Deref for Labelled<'_, M, N> {
    type Target = M;
    #[inline]
    fn deref(&self) -> &M {
        match &self.table {
            Borrowed::Snapshot(s) => s.table.metric(self.pos),
            Borrowed::Current(t) => t.metric(self.pos),
        }
    }
}

impl<M: fmt::Debug, const N: usize> fmt::Debug for Labelled<'_, M, N> {
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
                table: ArcSwap::from_pointee(Table::new(Vec::new())),
                generation: AtomicU64::new(0),
                snapshots: ThreadLocal::new(),
                insert: Mutex::new(()),
                make: Box::new(make),
            }),
        }
    }

    /// The label names, in order.
    pub fn label_names(&self) -> &[Box<str>; N] {
        &self.inner.label_names
    }

    /// The child for `values`, created on first use: the resolved handle for hot paths.
    pub fn get(&self, values: &[&str; N]) -> M {
        self.with(values).clone()
    }

    /// Borrows the child for `values`, created on first use.
    ///
    /// Looks the values up in this thread's snapshot of the children: no atomic operation
    /// and no write to shared memory when the child exists and no child was added or
    /// removed since this thread's last lookup (then the snapshot is refreshed first, once).
    #[inline(always)]
    pub fn with(&self, values: &[&str; N]) -> Labelled<'_, M, N> {
        let key = Lookup::new(values);
        let generation = self.inner.generation.load(Ordering::Acquire);
        if let Some(Ok(snapshot)) = self.inner.snapshots.get().map(|s| s.try_borrow()) {
            if snapshot.generation == generation {
                if let Some(pos) = snapshot.table.find(&key) {
                    return Labelled {
                        table: Borrowed::Snapshot(snapshot),
                        pos,
                    };
                }
            }
        }
        self.with_slow(&key)
    }

    /// [`with`](Self::with) when this thread's snapshot is missing, stale or without the
    /// child: refreshes the snapshot (unless another [`Labelled`] of this thread borrows
    /// it), creating the child if needed. A position is always looked up in the table the
    /// returned [`Labelled`] borrows.
    #[cold]
    fn with_slow(&self, key: &Lookup<'_, N>) -> Labelled<'_, M, N> {
        loop {
            // The generation first: the table loaded after it is at least that new.
            let generation = self.inner.generation.load(Ordering::Acquire);
            let table = self.inner.table.load_full();
            let cell = self.inner.snapshots.get_or(|| {
                CachePadded::new(RefCell::new(Snapshot {
                    table: Table::clone(&table),
                    generation,
                }))
            });
            if let Ok(mut snapshot) = cell.try_borrow_mut() {
                snapshot.table = Table::clone(&table);
                snapshot.generation = generation;
            }
            if let Ok(snapshot) = cell.try_borrow() {
                if snapshot.generation == generation {
                    if let Some(pos) = snapshot.table.find(key) {
                        return Labelled {
                            table: Borrowed::Snapshot(snapshot),
                            pos,
                        };
                    }
                }
            }
            let current = self.inner.table.load();
            if let Some(pos) = current.find(key) {
                return Labelled {
                    table: Borrowed::Current(current),
                    pos,
                };
            }
            drop(current);
            // Not there yet, or removed by a race since: create it and look again.
            self.insert(key);
        }
    }

    fn insert(&self, key: &Lookup<'_, N>) {
        let _guard = self.inner.insert.lock();
        let current = self.inner.table.load_full();
        if current.find(key).is_some() {
            return;
        }
        let entry = Entry::new(key, (self.inner.make)());
        self.replace(current.with(entry));
    }

    /// Publishes `table`; the caller holds the `insert` lock.
    fn replace(&self, table: Table<M, N>) {
        self.inner.table.store(Arc::new(table));
        self.inner.generation.fetch_add(1, Ordering::Release);
    }

    /// Removes the child for `values`; returns whether it existed. Handles already held
    /// keep working but are no longer exported.
    pub fn remove(&self, values: &[&str; N]) -> bool {
        let _guard = self.inner.insert.lock();
        let current = self.inner.table.load_full();
        let Some(pos) = current.find(&Lookup::new(values)) else {
            return false;
        };
        self.replace(current.without(pos));
        true
    }

    /// Removes every child.
    pub fn clear(&self) {
        let _guard = self.inner.insert.lock();
        self.replace(Table::new(Vec::new()));
    }

    /// Calls `f` with each child's label values and metric, in creation order.
    pub fn for_each(&self, mut f: impl FnMut(&[Box<str>; N], &M)) {
        let table = self.inner.table.load();
        for e in table.entries() {
            f(&e.values, &e.metric);
        }
    }

    /// Number of children.
    pub fn len(&self) -> usize {
        self.inner.table.load().entries().len()
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
    fn lookups_while_this_thread_holds_a_child() {
        let family: Family<Counter, 1> = Family::new(["k"], Counter::new);
        let a = family.with(&["a"]);
        // Adding a child makes the snapshot `a` borrows stale; it cannot be refreshed
        // while `a` lives, so these lookups read the current table.
        family.with(&["b"]).inc();
        family.with(&["b"]).inc();
        a.inc();
        // Removed while borrowed: the held child keeps counting, unexported; a lookup
        // creates a new one.
        assert!(family.remove(&["a"]));
        a.inc();
        assert_eq!(a.get(), 2.0);
        assert_eq!(family.with(&["a"]).get(), 0.0);
        drop(a);
        family.with(&["a"]).inc();
        assert_eq!(family.with(&["a"]).get(), 1.0);
        assert_eq!(family.with(&["b"]).get(), 2.0);
        assert_eq!(family.len(), 2);
    }

    #[test]
    fn lookups_see_children_added_and_removed_by_other_threads() {
        let family: Family<Counter, 1> = Family::new(["k"], Counter::new);
        family.with(&["a"]).inc();
        std::thread::scope(|s| {
            s.spawn(|| {
                family.with(&["a"]).inc();
                family.with(&["b"]).inc();
            });
        });
        assert_eq!(family.with(&["a"]).get(), 2.0);
        assert_eq!(family.with(&["b"]).get(), 1.0);
        std::thread::scope(|s| {
            s.spawn(|| assert!(family.remove(&["a"])));
        });
        assert_eq!(family.with(&["a"]).get(), 0.0);
        assert_eq!(family.len(), 2);
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
