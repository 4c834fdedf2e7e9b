//! [`Ends`]: where each name and value of a [`Labels`](super::Labels) ends in its text.
//!
//! Most label sets have a few short labels. Up to [`INLINE`] offsets below 65,536 are
//! kept in place, as `u16`s, which spares each such set an allocation (and the
//! allocator's header) for 8 more bytes in the struct; larger sets keep theirs on the
//! heap. Which of the two a set uses depends only on its offsets, so equal sets are
//! stored alike and derived equality compares them correctly.

/// Offsets kept in place: five labels' names and values.
pub(super) const INLINE: usize = 10;

/// The offsets of a label set, in increasing order.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Ends {
    /// At most [`INLINE`] offsets, all below 65,536; the slots past `len` are zero.
    Inline { len: u8, ends: [u16; INLINE] },
    /// Any other offsets.
    Heap(Box<[u32]>),
}

impl Default for Ends {
    fn default() -> Self {
        Ends::Inline {
            len: 0,
            ends: [0; INLINE],
        }
    }
}

impl Ends {
    /// Number of offsets.
    #[inline]
    pub(super) fn len(&self) -> usize {
        match self {
            Ends::Inline { len, .. } => usize::from(*len),
            Ends::Heap(ends) => ends.len(),
        }
    }

    /// Offset `k`, for `k < self.len()`.
    #[inline]
    pub(super) fn at(&self, k: usize) -> usize {
        match self {
            Ends::Inline { len, ends } => {
                debug_assert!(k < usize::from(*len), "offset {k} of {len}");
                usize::from(ends[k])
            }
            Ends::Heap(ends) => ends[k] as usize,
        }
    }

    /// Bytes of heap memory held.
    pub(super) fn heap_size(&self) -> usize {
        match self {
            Ends::Inline { .. } => 0,
            Ends::Heap(ends) => ends.len() * 4,
        }
    }
}

/// Collects the offsets of a label set being built, in increasing order.
#[derive(Debug)]
pub(super) struct EndsBuilder {
    ends: Vec<u32>,
    inline: [u16; INLINE],
    len: usize,
    heap: bool,
}

impl EndsBuilder {
    /// Room for `count` offsets, the last of them `last` (both known from the pairs
    /// before their text is copied; the caller has checked that `last` fits a `u32`).
    pub(super) fn new(count: usize, last: usize) -> Self {
        let heap = count > INLINE || last > usize::from(u16::MAX);
        EndsBuilder {
            ends: if heap {
                Vec::with_capacity(count)
            } else {
                Vec::new()
            },
            inline: [0; INLINE],
            len: 0,
            heap,
        }
    }

    /// Appends the next offset.
    #[inline]
    pub(super) fn push(&mut self, end: usize) {
        match (self.heap, u16::try_from(end), self.inline.get_mut(self.len)) {
            (false, Ok(end), Some(slot)) => *slot = end,
            _ => self.spill(end),
        }
        self.len += 1;
    }

    /// Moves to the heap (only when the counts given to [`EndsBuilder::new`] were wrong,
    /// which `finish` then corrects) and appends `end` there.
    #[cold]
    fn spill(&mut self, end: usize) {
        if !self.heap {
            self.heap = true;
            self.ends = self.inline[..self.len]
                .iter()
                .map(|&e| u32::from(e))
                .collect();
        }
        self.ends.push(end as u32);
    }

    /// The offsets, kept in place whenever they fit, whatever was announced.
    pub(super) fn finish(self) -> Ends {
        let fits = self.len <= INLINE && self.ends.iter().all(|&e| e <= u32::from(u16::MAX));
        match (self.heap, fits) {
            (false, _) => Ends::Inline {
                len: self.len as u8,
                ends: self.inline,
            },
            (true, true) => {
                let mut inline = [0; INLINE];
                for (slot, &end) in inline.iter_mut().zip(&self.ends) {
                    *slot = end as u16;
                }
                Ends::Inline {
                    len: self.len as u8,
                    ends: inline,
                }
            }
            (true, false) => Ends::Heap(self.ends.into_boxed_slice()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(count: usize, last: usize, ends: &[usize]) -> Ends {
        let mut b = EndsBuilder::new(count, last);
        for &e in ends {
            b.push(e);
        }
        b.finish()
    }

    #[test]
    fn small_sets_are_inline_and_large_ones_on_the_heap() {
        let few: Vec<usize> = (1..=INLINE).collect();
        assert!(matches!(build(INLINE, INLINE, &few), Ends::Inline { .. }));
        let many: Vec<usize> = (1..=INLINE + 2).collect();
        assert!(matches!(
            build(many.len(), many.len(), &many),
            Ends::Heap(_)
        ));
        let long = [3, 70_000];
        assert!(matches!(build(2, 70_000, &long), Ends::Heap(_)));
        let e = build(2, 70_000, &long);
        assert_eq!(
            (e.len(), e.at(0), e.at(1), e.heap_size()),
            (2, 3, 70_000, 8)
        );
    }

    #[test]
    fn the_form_depends_on_the_offsets_only() {
        let few = [2, 5, 9, 12];
        let announced_right = build(4, 12, &few);
        let announced_wrong = build(1, 100_000, &few);
        let announced_short = build(2, 5, &few);
        assert!(announced_right == announced_wrong);
        assert!(announced_right == announced_short);
        let many: Vec<usize> = (1..=INLINE + 1).collect();
        assert!(build(2, 3, &many) == build(many.len(), many.len(), &many));
        assert_eq!(build(2, 3, &many).len(), INLINE + 1);
    }
}
