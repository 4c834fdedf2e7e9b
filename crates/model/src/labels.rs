//! [`Labels`]: an immutable, sorted set of label name/value pairs.
//!
//! A label set is stored in two allocations whatever its size: one string holding every
//! name and value back to back, and one array of end offsets. That keeps a series'
//! identity compact in the gateway and the storage index, makes equality and hashing a
//! comparison of contiguous bytes, and makes a clone two allocations.
//!
//! As in Prometheus, a label whose value is empty is the same as an absent label, so
//! empty values are dropped on construction.

mod ends;

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use ends::{Ends, EndsBuilder};

/// Why a label set could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelsError {
    /// A label name was empty.
    #[error("empty label name")]
    EmptyName,
    /// The same label name appeared twice.
    #[error("duplicate label name {0:?}")]
    DuplicateName(String),
    /// The label set is larger than the 4 GiB the offsets can address.
    #[error("label set too large")]
    TooLarge,
}

/// An immutable, sorted set of label name/value pairs with unique, non-empty names and
/// non-empty values.
///
/// Cloning copies one small allocation (two for sets of more than five labels or over
/// 64 KiB, see [`Ends`]). Equality, ordering and hashing look at the pairs in name order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Labels {
    /// Every name and value, concatenated in sorted order: `n0 v0 n1 v1 ...`.
    data: Box<str>,
    /// `ends.at(2i)` is the end of name `i`, `ends.at(2i + 1)` the end of value `i`.
    ends: Ends,
}

impl Labels {
    /// The empty label set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a label set from pairs in any order. Pairs with an empty value are dropped;
    /// an empty or repeated name is an error.
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Result<Self, LabelsError>
    where
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let mut pairs: Vec<(N, V)> = pairs.into_iter().collect();
        Self::from_unsorted(&mut pairs)
    }

    /// Builds a label set from a slice of pairs, sorting the slice in place. This is the
    /// allocation-lean entry point used by parsers that reuse a scratch buffer.
    pub fn from_unsorted<N, V>(pairs: &mut [(N, V)]) -> Result<Self, LabelsError>
    where
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let sorted = pairs.windows(2).all(|w| w[0].0.as_ref() < w[1].0.as_ref());
        if !sorted {
            pairs.sort_unstable_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        }
        Self::from_sorted(pairs.iter().map(|(n, v)| (n.as_ref(), v.as_ref())))
    }

    /// Builds from pairs already sorted by name, without sorting; a repeated or empty
    /// name is an error, and pairs with an empty value are dropped. The order is the
    /// caller's promise and is not checked: a set built from unsorted pairs compares and
    /// looks up names wrongly.
    pub fn from_sorted<'a>(
        pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Result<Self, LabelsError> {
        let mut total = 0usize;
        let mut count = 0usize;
        let mut prev: Option<&str> = None;
        for (name, value) in pairs.clone() {
            if name.is_empty() {
                return Err(LabelsError::EmptyName);
            }
            if prev == Some(name) {
                return Err(LabelsError::DuplicateName(name.to_owned()));
            }
            prev = Some(name);
            if value.is_empty() {
                continue;
            }
            total += name.len() + value.len();
            count += 1;
        }
        if total > u32::MAX as usize {
            return Err(LabelsError::TooLarge);
        }
        let mut data = String::with_capacity(total);
        let mut ends = EndsBuilder::new(count * 2, total);
        for (name, value) in pairs.filter(|(_, v)| !v.is_empty()) {
            data.push_str(name);
            ends.push(data.len());
            data.push_str(value);
            ends.push(data.len());
        }
        Ok(Self {
            data: data.into_boxed_str(),
            ends: ends.finish(),
        })
    }

    /// Builds from pairs the caller has already checked: names non-empty and strictly
    /// increasing, values non-empty. Only the size is checked here; a parser that has
    /// validated a line uses this to skip comparing every name with the one before again.
    pub(crate) fn from_checked<'a>(
        pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Result<Self, LabelsError> {
        let mut total = 0usize;
        let mut count = 0usize;
        for (name, value) in pairs.clone() {
            debug_assert!(!name.is_empty() && !value.is_empty());
            total += name.len() + value.len();
            count += 1;
        }
        if total > u32::MAX as usize {
            return Err(LabelsError::TooLarge);
        }
        let mut data = String::with_capacity(total);
        let mut ends = EndsBuilder::new(count * 2, total);
        for (name, value) in pairs {
            data.push_str(name);
            ends.push(data.len());
            data.push_str(value);
            ends.push(data.len());
        }
        Ok(Self {
            data: data.into_boxed_str(),
            ends: ends.finish(),
        })
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.ends.len() / 2
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.ends.len() == 0
    }

    /// The pair at position `i` in name order.
    #[inline]
    fn pair(&self, i: usize) -> (&str, &str) {
        let start = if i == 0 { 0 } else { self.ends.at(2 * i - 1) };
        let mid = self.ends.at(2 * i);
        let end = self.ends.at(2 * i + 1);
        (&self.data[start..mid], &self.data[mid..end])
    }

    /// The pairs in name order.
    pub fn iter(&self) -> LabelsIter<'_> {
        LabelsIter {
            labels: self,
            front: 0,
            back: self.len(),
        }
    }

    /// The pairs in name order as byte strings, for writers: byte slices need none of the
    /// character-boundary checks of string slices.
    pub(crate) fn byte_pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let data = self.data.as_bytes();
        let mut start = 0;
        (0..self.len()).map(move |i| {
            let (mid, end) = (self.ends.at(2 * i), self.ends.at(2 * i + 1));
            let pair = (&data[start..mid], &data[mid..end]);
            start = end;
            pair
        })
    }

    /// The value of label `name`, if present. Binary search: O(log n).
    pub fn get(&self, name: &str) -> Option<&str> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let (n, v) = self.pair(mid);
            match n.cmp(name) {
                Ordering::Equal => return Some(v),
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
            }
        }
        None
    }

    /// Whether a label called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A copy with `name` set to `value` (removed when `value` is empty).
    pub fn with(&self, name: &str, value: &str) -> Result<Self, LabelsError> {
        let mut pairs: Vec<(&str, &str)> = self.iter().filter(|(n, _)| *n != name).collect();
        pairs.push((name, value));
        Self::from_unsorted(&mut pairs)
    }

    /// A copy with every label in `names` removed.
    pub fn without(&self, names: &[&str]) -> Self {
        let pairs = self.iter().filter(|(n, _)| !names.contains(n));
        // Pairs from a valid set stay sorted, unique and non-empty.
        Self::from_sorted(pairs).unwrap_or_default()
    }

    /// A copy where every label of `over` replaces the label of the same name here (the
    /// Pushgateway rule for grouping-key labels).
    pub fn merged_with(&self, over: &Labels) -> Self {
        let mut out: Vec<(&str, &str)> = Vec::with_capacity(self.len() + over.len());
        let (mut a, mut b) = (self.iter().peekable(), over.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => match x.0.cmp(y.0) {
                    Ordering::Less => out.extend(a.next()),
                    Ordering::Greater => out.extend(b.next()),
                    Ordering::Equal => {
                        a.next();
                        out.extend(b.next());
                    }
                },
                (Some(_), None) => out.extend(a.next()),
                (None, Some(_)) => out.extend(b.next()),
                (None, None) => break,
            }
        }
        Self::from_sorted(out.into_iter()).unwrap_or_default()
    }

    /// Whether this set equals the given pairs, ignoring pairs whose name is `skip` and
    /// pairs with empty values. `pairs` must be sorted by name. Allocation-free: used by
    /// parsers to recognise the next line of the same series.
    pub fn eq_pairs<N: AsRef<str>, V: AsRef<str>>(&self, pairs: &[(N, V)], skip: &str) -> bool {
        let mut mine = self.iter();
        for (n, v) in pairs {
            let (n, v) = (n.as_ref(), v.as_ref());
            if n == skip || v.is_empty() {
                continue;
            }
            if mine.next() != Some((n, v)) {
                return false;
            }
        }
        mine.next().is_none()
    }

    /// Bytes of heap memory this set holds.
    pub fn heap_size(&self) -> usize {
        self.data.len() + self.ends.heap_size()
    }
}

impl Hash for Labels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // `data` plus the offsets determine the pairs uniquely.
        self.data.hash(state);
        state.write_usize(self.ends.len());
        for k in 0..self.ends.len() {
            state.write_u32(self.ends.at(k) as u32);
        }
    }
}

impl Ord for Labels {
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Prometheus' notation: `{a="1", b="2"}`, values escaped.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n}=\"{}\"", v.escape_debug())?;
        }
        f.write_str("}")
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = (&'a str, &'a str);
    type IntoIter = LabelsIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over the pairs of a [`Labels`], in name order.
#[derive(Debug, Clone)]
pub struct LabelsIter<'a> {
    labels: &'a Labels,
    front: usize,
    back: usize,
}

impl<'a> Iterator for LabelsIter<'a> {
    type Item = (&'a str, &'a str);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        let pair = self.labels.pair(self.front);
        self.front += 1;
        Some(pair)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for LabelsIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        Some(self.labels.pair(self.back))
    }
}

impl ExactSizeIterator for LabelsIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn sorts_and_drops_empty_values() {
        let labels = l(&[("b", "2"), ("a", "1"), ("c", "")]);
        assert_eq!(labels.iter().collect::<Vec<_>>(), [("a", "1"), ("b", "2")]);
        assert_eq!(labels.len(), 2);
        assert_eq!(labels.get("b"), Some("2"));
        assert_eq!(labels.get("c"), None);
        assert_eq!(labels.to_string(), r#"{a="1", b="2"}"#);
    }

    #[test]
    fn rejects_duplicates_and_empty_names() {
        assert_eq!(
            Labels::from_pairs([("a", "1"), ("a", "2")]),
            Err(LabelsError::DuplicateName("a".into()))
        );
        assert_eq!(Labels::from_pairs([("", "1")]), Err(LabelsError::EmptyName));
        // A duplicate is an error even when one of the values is empty.
        assert!(Labels::from_pairs([("a", ""), ("a", "2")]).is_err());
    }

    #[test]
    fn equality_is_by_pairs() {
        assert_eq!(l(&[("a", "1"), ("b", "2")]), l(&[("b", "2"), ("a", "1")]));
        // Same concatenation, different split.
        assert_ne!(l(&[("ab", "c")]), l(&[("a", "bc")]));
        assert!(l(&[("a", "1")]) < l(&[("a", "2")]));
        assert!(l(&[("a", "1")]) < l(&[("a", "1"), ("b", "0")]));
    }

    #[test]
    fn with_without_merge() {
        let base = l(&[("instance", "i1"), ("job", "x")]);
        assert_eq!(base.without(&["instance"]), l(&[("job", "x")]));
        assert_eq!(base.with("a", "1").unwrap().len(), 3);
        assert_eq!(base.with("job", "").unwrap(), l(&[("instance", "i1")]));
        let over = l(&[("job", "y"), ("zone", "z")]);
        assert_eq!(
            base.merged_with(&over),
            l(&[("instance", "i1"), ("job", "y"), ("zone", "z")])
        );
    }

    #[test]
    fn eq_pairs_skips_a_label() {
        let labels = l(&[("a", "1"), ("b", "2")]);
        assert!(labels.eq_pairs(&[("a", "1"), ("b", "2"), ("le", "0.5")], "le"));
        assert!(labels.eq_pairs(&[("a", "1"), ("b", "2"), ("c", "")], "le"));
        assert!(!labels.eq_pairs(&[("a", "1")], "le"));
        assert!(!labels.eq_pairs(&[("a", "1"), ("b", "3")], "le"));
    }

    #[test]
    fn byte_pairs_are_the_pairs() {
        let labels = l(&[("a", "1"), ("bé", "22"), ("c", "333")]);
        let bytes: Vec<(&[u8], &[u8])> = labels.byte_pairs().collect();
        let strs: Vec<(&[u8], &[u8])> = labels
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        assert_eq!(bytes, strs);
        assert_eq!(Labels::new().byte_pairs().count(), 0);
    }

    #[test]
    fn large_and_small_sets_behave_alike() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |l: &Labels| {
            let mut h = DefaultHasher::new();
            l.hash(&mut h);
            h.finish()
        };
        let long = "v".repeat(70_000);
        let cases: Vec<Vec<(String, String)>> = vec![
            vec![],
            vec![("a".into(), "1".into())],
            (0..5).map(|i| (format!("n{i}"), format!("v{i}"))).collect(),
            (0..6).map(|i| (format!("n{i}"), format!("v{i}"))).collect(),
            vec![("a".into(), long.clone()), ("b".into(), "2".into())],
        ];
        for pairs in cases {
            let a = Labels::from_pairs(pairs.iter().map(|(n, v)| (n, v))).unwrap();
            let b =
                Labels::from_checked(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))).unwrap();
            assert_eq!(a, b);
            assert_eq!(hash(&a), hash(&b));
            assert_eq!(a.len(), pairs.len());
            let back: Vec<(String, String)> = a
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect();
            assert_eq!(back, pairs);
            let text: usize = pairs.iter().map(|(n, v)| n.len() + v.len()).sum();
            let heap_ends = if pairs.len() > 5 || text > 65_535 {
                pairs.len() * 8
            } else {
                0
            };
            assert_eq!(a.heap_size(), text + heap_ends);
            for (n, v) in &pairs {
                assert_eq!(a.get(n), Some(v.as_str()));
            }
            let mut grown = pairs.clone();
            grown.push(("zz".into(), "9".into()));
            let c = Labels::from_pairs(grown.iter().map(|(n, v)| (n, v))).unwrap();
            assert_ne!(a, c);
            assert_eq!(c.without(&["zz"]), a);
        }
    }

    #[test]
    fn iterates_both_ways() {
        let labels = l(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let rev: Vec<_> = labels.iter().rev().map(|p| p.0).collect();
        assert_eq!(rev, ["c", "b", "a"]);
    }
}
