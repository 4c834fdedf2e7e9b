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

use hashbrown::HashMap;
use tally_model::Labels;
use tally_storage::Matcher;

/// A series id. Ids are assigned in increasing order and never reused.
pub type SeriesId = u64;

/// Label name → value → sorted series ids, plus the sorted list of every id.
#[derive(Debug, Default)]
pub struct Index {
    postings: HashMap<Box<str>, HashMap<Box<str>, Vec<SeriesId>>>,
    all: Vec<SeriesId>,
}

impl Index {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a series. Ids must be added in increasing order, which keeps every list
    /// sorted by pushing.
    pub fn add(&mut self, id: SeriesId, labels: &Labels) {
        insert_sorted(&mut self.all, id);
        for (name, value) in labels {
            let values = match self.postings.get_mut(name) {
                Some(v) => v,
                None => self.postings.entry(name.into()).or_default(),
            };
            let list = match values.get_mut(value) {
                Some(l) => l,
                None => values.entry(value.into()).or_default(),
            };
            insert_sorted(list, id);
        }
    }

    /// Removes a series (retention dropped all of its data).
    pub fn remove(&mut self, id: SeriesId, labels: &Labels) {
        remove_sorted(&mut self.all, id);
        for (name, value) in labels {
            let Some(values) = self.postings.get_mut(name) else {
                continue;
            };
            if let Some(list) = values.get_mut(value) {
                remove_sorted(list, id);
                if list.is_empty() {
                    values.remove(value);
                }
            }
            if values.is_empty() {
                self.postings.remove(name);
            }
        }
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
        self.postings.keys().map(|k| &**k)
    }

    /// Every value of label `name` with its postings, unsorted.
    pub fn values(&self, name: &str) -> impl Iterator<Item = (&str, &[SeriesId])> {
        self.postings
            .get(name)
            .into_iter()
            .flat_map(|v| v.iter().map(|(k, l)| (&**k, l.as_slice())))
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
        if let (tally_storage::MatchOp::Equal, Some(values)) = (m.op, self.postings.get(&*m.name)) {
            return values.get(&*m.value).cloned().unwrap_or_default();
        }
        if let (Some(lits), Some(values)) = (m.literal_alternatives(), self.postings.get(&*m.name))
        {
            let lists: Vec<&[SeriesId]> = lits
                .iter()
                .filter_map(|l| values.get(*l).map(Vec::as_slice))
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

    proptest! {
        /// The index selects exactly what scanning with the matchers selects.
        #[test]
        fn select_equals_scan(
            ops in proptest::collection::vec((0usize..4, 0usize..3, 0usize..6), 0..4),
            removed in proptest::collection::vec(any::<bool>(), 4),
        ) {
            let sets = sample_sets();
            let mut index = Index::new();
            for (i, s) in sets.iter().enumerate() {
                index.add(i as u64 + 1, s);
            }
            for (i, r) in removed.iter().enumerate() {
                if *r {
                    index.remove(i as u64 + 1, &sets[i]);
                }
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
