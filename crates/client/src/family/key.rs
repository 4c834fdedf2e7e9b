//! [`Lookup`]: label values read once for a lookup, hashed and compared from that reading.

/// Longest value a [`Word`] determines on its own.
const EXACT: usize = 16;

/// One label value as lookups see it: its length and two words read from its ends (the
/// first and last 8 bytes, or 4, or single bytes, overlapping in the middle as needed) —
/// the reading `foldhash` does for short strings. With the length, the words determine
/// any value of up to [`EXACT`] bytes, which most label values are, so comparing two
/// values is comparing three integers, with no pointer to follow and no call to `memcmp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Word {
    len: u64,
    a: u64,
    b: u64,
}

impl Word {
    #[inline(always)]
    fn of(value: &str) -> Self {
        let s = value.as_bytes();
        let n = s.len();
        let (a, b) = match n {
            0 => (0, 0),
            1..=3 => (
                u64::from(s[0]) | u64::from(s[n / 2]) << 8,
                u64::from(s[n - 1]),
            ),
            4..=7 => (u64::from(load4(s, 0)), u64::from(load4(s, n - 4))),
            _ => (load8(s, 0), load8(s, n - 8)),
        };
        Self {
            len: n as u64,
            a,
            b,
        }
    }
}

/// Label values being looked up: the values, their [`Word`]s and their hash.
pub(super) struct Lookup<'a, const N: usize> {
    pub(super) values: &'a [&'a str; N],
    pub(super) words: [Word; N],
    /// Whether a value is longer than a word determines: then equal words must be
    /// confirmed by comparing the strings.
    pub(super) long: bool,
    pub(super) hash: u64,
}

impl<'a, const N: usize> Lookup<'a, N> {
    #[inline(always)]
    pub(super) fn new(values: &'a [&'a str; N]) -> Self {
        let words: [Word; N] = std::array::from_fn(|k| Word::of(values[k]));
        let long = values.iter().any(|v| v.len() > EXACT);
        // foldhash's fold for each value in turn: the length rotates the state, so
        // `["ab", "c"]` and `["a", "bc"]` hash apart. Not keyed: label values are not a
        // secret, and a collision costs only a comparison (lookups compare the values).
        let mut hash = SEED[0];
        for w in &words {
            hash = folded_multiply(hash.rotate_right(w.len as u32) ^ w.a, SEED[1] ^ w.b);
        }
        Self {
            values,
            words,
            long,
            hash,
        }
    }

    /// Whether a child with these `words` and `values` is the one looked up.
    #[inline(always)]
    pub(super) fn is(&self, words: &[Word; N], values: &[Box<str>; N]) -> bool {
        // Every word compared, one branch: this decides before the metric is updated.
        let same = self
            .words
            .iter()
            .zip(words)
            .fold(true, |same, (a, b)| same & (a == b));
        same && (!self.long || values.iter().zip(self.values).all(|(a, b)| **a == **b))
    }
}

/// The digits of pi, as foldhash seeds its fixed state.
const SEED: [u64; 2] = [0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344];

#[inline(always)]
fn folded_multiply(x: u64, y: u64) -> u64 {
    let full = u128::from(x) * u128::from(y);
    (full as u64) ^ ((full >> 64) as u64)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_tell_short_values_apart() {
        let text = "abcdefghijklmnopqrstuvwxyz0123456789";
        for len in 0..=EXACT {
            let a = &text[..len];
            assert_eq!(Word::of(a), Word::of(&String::from(a)));
            for flip in 0..len {
                let mut b = a.as_bytes().to_vec();
                b[flip] = b'.';
                let b = String::from_utf8(b).unwrap_or_default();
                assert_ne!(Word::of(a), Word::of(&b), "len {len}, byte {flip}");
            }
            if len > 0 {
                assert_ne!(Word::of(a), Word::of(&a[..len - 1]));
            }
        }
    }

    #[test]
    fn long_values_are_compared_whole() {
        let stored: [Box<str>; 1] = [Box::from("abcdefgh_middle_1_abcdefgh")];
        let same = ["abcdefgh_middle_1_abcdefgh"];
        let other = ["abcdefgh_middle_2_abcdefgh"];
        let words = Lookup::new(&same).words;
        assert!(Lookup::new(&same).is(&words, &stored));
        assert_eq!(Lookup::new(&other).words, words);
        assert!(!Lookup::new(&other).is(&words, &stored));
    }

    #[test]
    fn hashes_differ_for_split_values() {
        assert_ne!(
            Lookup::new(&["ab", "c"]).hash,
            Lookup::new(&["a", "bc"]).hash
        );
        assert_ne!(Lookup::new(&["", "x"]).hash, Lookup::new(&["x", ""]).hash);
        assert_eq!(
            Lookup::new(&["GET", "200"]).hash,
            Lookup::new(&["GET", "200"]).hash
        );
    }
}
