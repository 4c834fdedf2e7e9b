//! [`Index`]: the inverted index from label pairs to series, and matcher evaluation.
//!
//! Every label pair `name="value"` of every series maps to its *postings*: the sorted ids
//! of the series that carry it. A selector is answered by intersecting the postings of
//! its matchers that need a label to be present, and subtracting, for matchers that also
//! match an absent label (`foo=""`, `foo!="x"`, `foo=~".*"`), the postings of the values
//! they reject. That is the evaluation Prometheus' `PostingsForMatchers` does.
//!
//! Postings are plain sorted `Vec<u64>`: series ids only grow, so a new series is pushed
//! at the end of each of its lists; removal (retention) is a binary search.

use std::hash::BuildHasher as _;
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use tally_model::Labels;
use tally_storage::Matcher;

/// A series id. Ids are assigned in increasing order and never reused.
pub type SeriesId = u64;

/// A label pair's number in the [`Index`]. A pair keeps its number while any series
/// carries it; the number of a pair no series carries any more is given to the next new
/// pair.
pub type PairId = u32;

/// A series' label set as the index holds it: the numbers of its pairs, in name order.
///
/// This is how the head keeps every series' identity: 4 bytes a label instead of the
/// label's bytes (issue 5 allows at most 1 KiB of resident memory per active series, and
/// a [`Labels`] of six labels costs about 180 bytes with its allocations). The strings
/// live once, in the index; [`Index::labels`] builds the [`Labels`] back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesLabels(Box<[PairId]>);

impl SeriesLabels {
    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Bytes of heap held.
    pub fn heap_size(&self) -> usize {
        std::mem::size_of_val(&*self.0)
    }
}

/// One label pair and the series that carry it.
#[derive(Debug)]
struct Pair {
    name: Arc<str>,
    value: Box<str>,
    /// Sorted ids of the series carrying the pair; never empty while the pair exists.
    postings: Vec<SeriesId>,
}

/// The inverted index: every label pair of every series, numbered, with its postings.
///
/// Label name → the pairs with that name (a table of pair numbers keyed by value) →
/// each pair's sorted series ids; plus the sorted list of every id. Each distinct name
/// and value is stored once, here.
#[derive(Debug, Default)]
pub struct Index {
    names: HashMap<Arc<str>, HashTable<PairId>>,
    /// By [`PairId`]; `None` for a free number (listed in `free`).
    pairs: Vec<Option<Pair>>,
    free: Vec<PairId>,
    hasher: DefaultHashBuilder,
    all: Vec<SeriesId>,
}

impl Index {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a series and returns its label set as pair numbers. Ids must be added in
    /// increasing order, which keeps every list sorted by pushing.
    pub fn add(&mut self, id: SeriesId, labels: &Labels) -> SeriesLabels {
        insert_sorted(&mut self.all, id);
        let ids = labels
            .iter()
            .map(|(name, value)| {
                let pair = self.intern(name, value);
                if let Some(p) = self.pairs[pair as usize].as_mut() {
                    insert_sorted(&mut p.postings, id);
                }
                pair
            })
            .collect();
        SeriesLabels(ids)
    }

    /// The number of a pair, allocated when new (with empty postings).
    fn intern(&mut self, name: &str, value: &str) -> PairId {
        let Self {
            names,
            pairs,
            free,
            hasher,
            ..
        } = self;
        if !names.contains_key(name) {
            names.insert(Arc::from(name), HashTable::new());
        }
        let Some((name, table)) = names.get_key_value_mut(name) else {
            unreachable!("inserted above")
        };
        let hash = hasher.hash_one(value);
        let found = table.find(hash, |p| {
            pairs[*p as usize]
                .as_ref()
                .is_some_and(|p| *p.value == *value)
        });
        if let Some(p) = found {
            return *p;
        }
        let pair = Pair {
            name: Arc::clone(name),
            value: value.into(),
            postings: Vec::new(),
        };
        let id = match free.pop() {
            Some(id) => {
                pairs[id as usize] = Some(pair);
                id
            }
            None => {
                pairs.push(Some(pair));
                PairId::try_from(pairs.len() - 1).unwrap_or(PairId::MAX)
            }
        };
        table.insert_unique(hash, id, |p| {
            pairs[*p as usize]
                .as_ref()
                .map_or(0, |p| hasher.hash_one(&*p.value))
        });
        id
    }

    /// Removes a series (retention dropped all of its data). Pairs no series carries any
    /// more are forgotten and their numbers freed.
    pub fn remove(&mut self, id: SeriesId, labels: &SeriesLabels) {
        remove_sorted(&mut self.all, id);
        for &pair_id in labels.0.iter() {
            let Some(pair) = self
                .pairs
                .get_mut(pair_id as usize)
                .and_then(Option::as_mut)
            else {
                continue;
            };
            remove_sorted(&mut pair.postings, id);
            if !pair.postings.is_empty() {
                continue;
            }
            let hash = self.hasher.hash_one(&*pair.value);
            let name = Arc::clone(&pair.name);
            self.pairs[pair_id as usize] = None;
            self.free.push(pair_id);
            if let Some(table) = self.names.get_mut(&*name) {
                if let Ok(entry) = table.find_entry(hash, |p| *p == pair_id) {
                    entry.remove();
                }
                if table.is_empty() {
                    self.names.remove(&*name);
                }
            }
        }
    }

    /// A pair by number; `("", "")` for a number not in use.
    pub fn pair(&self, id: PairId) -> (&str, &str) {
        match self.pairs.get(id as usize).and_then(Option::as_ref) {
            Some(p) => (&p.name, &p.value),
            None => ("", ""),
        }
    }

    /// The pairs of a label set, in name order.
    pub fn pairs_of<'a>(
        &'a self,
        labels: &'a SeriesLabels,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + Clone + 'a {
        labels.0.iter().map(|p| self.pair(*p))
    }

    /// The value of label `name` in a label set.
    pub fn value_of<'a>(&'a self, labels: &SeriesLabels, name: &str) -> Option<&'a str> {
        labels
            .0
            .iter()
            .map(|p| self.pair(*p))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// Whether a label set is exactly `pairs` (sorted by name).
    pub fn same_pairs<'a>(
        &self,
        labels: &SeriesLabels,
        pairs: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    ) -> bool {
        labels.len() == pairs.len() && labels.0.iter().zip(pairs).all(|(p, q)| self.pair(*p) == q)
    }

    /// Builds the [`Labels`] of a label set (one or two allocations, as a clone would).
    pub fn labels(&self, labels: &SeriesLabels) -> Labels {
        // The pairs came from a valid `Labels`, so building cannot fail.
        Labels::from_sorted(self.pairs_of(labels)).unwrap_or_default()
    }

    /// Number of series indexed.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// Whether no series is indexed.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// Every label name, unsorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.keys().map(|k| &**k)
    }

    /// Every value of label `name` with its postings, unsorted.
    pub fn values(&self, name: &str) -> impl Iterator<Item = (&str, &[SeriesId])> {
        self.names
            .get(name)
            .into_iter()
            .flat_map(|t| t.iter())
            .filter_map(|p| self.pairs[*p as usize].as_ref())
            .map(|p| (&*p.value, p.postings.as_slice()))
    }

    /// The postings of `name="value"` (empty when no series carries it).
    fn postings(&self, name: &str, value: &str) -> &[SeriesId] {
        let Some(table) = self.names.get(name) else {
            return &[];
        };
        let hash = self.hasher.hash_one(value);
        table
            .find(hash, |p| {
                self.pairs[*p as usize]
                    .as_ref()
                    .is_some_and(|p| *p.value == *value)
            })
            .and_then(|p| self.pairs[*p as usize].as_ref())
            .map_or(&[], |p| p.postings.as_slice())
    }

    /// The sorted ids of the series that satisfy every matcher. With no matcher, every
    /// series.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<SeriesId> {
        let (positive, negative): (Vec<&Matcher>, Vec<&Matcher>) =
            matchers.iter().partition(|m| !m.matches_empty());
        // Cheapest first: the smallest postings bound the work of every later step.
        let mut sets: Vec<Vec<SeriesId>> = positive.iter().map(|m| self.matching(m)).collect();
        sets.sort_by_key(Vec::len);
        let mut result = match sets.split_first() {
            Some((first, rest)) => rest.iter().fold(first.clone(), |acc, s| intersect(&acc, s)),
            None => self.all.clone(),
        };
        for m in negative {
            if result.is_empty() {
                break;
            }
            // Series carrying a value the matcher rejects go; absent labels stay.
            let rejected = self.union_where(&m.name, |v| !m.matches(v));
            result = subtract(&result, &rejected);
        }
        result
    }

    /// Postings of the values of `m.name` that `m` accepts (for a matcher that rejects
    /// the empty string, so the label must be present).
    fn matching(&self, m: &Matcher) -> Vec<SeriesId> {
        if m.op == tally_storage::MatchOp::Equal {
            return self.postings(&m.name, &m.value).to_vec();
        }
        if let Some(lits) = m.literal_alternatives() {
            let lists: Vec<&[SeriesId]> = lits
                .iter()
                .map(|l| self.postings(&m.name, l))
                .filter(|l| !l.is_empty())
                .collect();
            return union(&lists);
        }
        self.union_where(&m.name, |v| m.matches(v))
    }

    fn union_where(&self, name: &str, keep: impl Fn(&str) -> bool) -> Vec<SeriesId> {
        let lists: Vec<&[SeriesId]> = self
            .values(name)
            .filter(|(v, _)| keep(v))
            .map(|(_, l)| l)
            .collect();
        union(&lists)
    }
}

fn insert_sorted(list: &mut Vec<SeriesId>, id: SeriesId) {
    match list.last() {
        None => list.push(id),
        Some(&last) if last < id => list.push(id),
        _ => {
            if let Err(at) = list.binary_search(&id) {
                list.insert(at, id);
            }
        }
    }
}

fn remove_sorted(list: &mut Vec<SeriesId>, id: SeriesId) {
    if let Ok(at) = list.binary_search(&id) {
        list.remove(at);
    }
}

/// Intersection of two sorted lists. Gallops through the longer one when the sizes differ
/// a lot.
pub fn intersect(a: &[SeriesId], b: &[SeriesId]) -> Vec<SeriesId> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    if small.len() * 16 < large.len() {
        let mut rest = large;
        for &id in small {
            match rest.binary_search(&id) {
                Ok(i) => {
                    out.push(id);
                    rest = &rest[i + 1..];
                }
                Err(i) => rest = &rest[i..],
            }
        }
        return out;
    }
    let (mut i, mut j) = (0, 0);
    while i < small.len() && j < large.len() {
        match small[i].cmp(&large[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(small[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// `a` without the ids in `b`; both sorted.
pub fn subtract(a: &[SeriesId], b: &[SeriesId]) -> Vec<SeriesId> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &id in a {
        while j < b.len() && b[j] < id {
            j += 1;
        }
        if j >= b.len() || b[j] != id {
            out.push(id);
        }
    }
    out
}

/// Union of sorted lists, sorted and without repeats.
pub fn union(lists: &[&[SeriesId]]) -> Vec<SeriesId> {
    match lists {
        [] => Vec::new(),
        [one] => one.to_vec(),
        _ => {
            let mut out: Vec<SeriesId> = lists.iter().flat_map(|l| l.iter().copied()).collect();
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tally_storage::MatchOp;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    fn m(op: MatchOp, name: &str, value: &str) -> Matcher {
        Matcher::new(op, name, value).unwrap()
    }

    #[test]
    fn set_operations() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[2, 3, 7, 9]), [3, 7]);
        let long: Vec<u64> = (0..1000).collect();
        assert_eq!(intersect(&[5, 500, 2000], &long), [5, 500]);
        assert_eq!(subtract(&[1, 2, 3, 4], &[2, 4, 6]), [1, 3]);
        assert_eq!(union(&[&[1, 4], &[2, 4], &[3]]), [1, 2, 3, 4]);
    }

    fn sample_sets() -> Vec<Labels> {
        vec![
            l(&[("__name__", "req"), ("code", "200"), ("job", "api")]),
            l(&[("__name__", "req"), ("code", "500"), ("job", "api")]),
            l(&[("__name__", "req"), ("job", "web")]),
            l(&[("__name__", "up"), ("job", "api")]),
        ]
    }

    #[test]
    fn pair_numbers_are_reused_once_no_series_carries_them() {
        let mut index = Index::new();
        let a = index.add(1, &l(&[("__name__", "up"), ("job", "a")]));
        let b = index.add(2, &l(&[("__name__", "up"), ("job", "b")]));
        assert_eq!(index.pairs.len(), 3, "__name__=up is shared");
        index.remove(1, &a);
        assert_eq!(index.values("job").count(), 1, "job=a is forgotten");
        let c = index.add(3, &l(&[("__name__", "down"), ("zone", "x")]));
        assert_eq!(index.pairs.len(), 4, "the freed number was reused");
        assert_eq!(index.labels(&b), l(&[("__name__", "up"), ("job", "b")]));
        assert_eq!(index.labels(&c), l(&[("__name__", "down"), ("zone", "x")]));
        assert_eq!(index.value_of(&c, "zone"), Some("x"));
        assert_eq!(
            index.select(&[m(MatchOp::Equal, "job", "a")]),
            Vec::<u64>::new()
        );
        assert_eq!(index.select(&[m(MatchOp::Equal, "__name__", "up")]), [2]);
        index.remove(2, &b);
        index.remove(3, &c);
        assert!(index.names.is_empty() && index.is_empty());
        assert_eq!(index.free.len(), index.pairs.len());
    }

    proptest! {
        /// The index selects exactly what scanning with the matchers selects.
        #[test]
        fn select_equals_scan(
            ops in proptest::collection::vec((0usize..4, 0usize..3, 0usize..6), 0..4),
            removed in proptest::collection::vec(any::<bool>(), 4),
        ) {
            let sets = sample_sets();
            let mut index = Index::new();
            let held: Vec<SeriesLabels> =
                sets.iter().enumerate().map(|(i, s)| index.add(i as u64 + 1, s)).collect();
            for (i, r) in removed.iter().enumerate() {
                if *r {
                    index.remove(i as u64 + 1, &held[i]);
                }
            }
            // Kept series still read back their labels, whichever pairs went.
            for (i, h) in held.iter().enumerate().filter(|(i, _)| !removed[*i]) {
                prop_assert_eq!(index.labels(h), sets[i].clone());
            }
            let names = ["__name__", "code", "job"];
            let values = ["req", "200", "api", "", "5..|200", ".*"];
            let op = [MatchOp::Equal, MatchOp::NotEqual, MatchOp::Regex, MatchOp::NotRegex];
            let matchers: Vec<Matcher> =
                ops.iter().map(|&(o, n, v)| m(op[o], names[n], values[v])).collect();
            let expected: Vec<u64> = sets
                .iter()
                .enumerate()
                .filter(|(i, s)| !removed[*i] && matchers.iter().all(|m| m.matches_labels(s)))
                .map(|(i, _)| i as u64 + 1)
                .collect();
            prop_assert_eq!(index.select(&matchers), expected);
        }
    }
}
