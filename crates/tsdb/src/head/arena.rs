//! [`ChunkArena`]: the bytes of every open chunk, in size-classed slots of a few large
//! pages owned by the head.
//!
//! Why: issue 5 asks for at most 1 KiB resident per active series. With one `Vec<u8>`
//! per open chunk, ten thousand series were ten thousand heap allocations made while a
//! load's short-lived buffers came and went: each kept the buffer of its largest chunk
//! so far (2.6 MB for the benchmark's 10,000 series, about twice the bytes in use), and
//! they pinned the pages around them after those buffers were freed. Letting them shrink
//! at each cut made that worse, measured: 0.5 MB fewer bytes in use, 3.6 MB more
//! resident, the small reallocated buffers being scattered over the freed pages.
//!
//! Here an open chunk is a [`Slot`]: a size class (16-byte steps up to 128 bytes, then
//! about 25 % apart up to 4 KiB) and an index. Each class keeps its slots in pages of
//! at least 16 KiB. A chunk that outgrows its slot moves to the next class; a cut chunk
//! gives its slot back and starts again in the smallest. New slots are taken lowest
//! index first, and a class's last page is freed as soon as it is empty, so as chunks
//! move between classes the pages in use stay dense. Chunks over 4 KiB (rare: the head
//! cuts at 120 samples) get their own `Vec<u8>`.
//!
//! Not thread-safe by itself: the head owns it and changes it under its write lock.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::chunk::encoder::ChunkBuf;

/// Slot sizes in bytes, smallest first.
const CLASS_SIZES: [u32; 27] = [
    16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024,
    1280, 1536, 1792, 2048, 2560, 3072, 4096,
];

/// The class of a slot with its own `Vec<u8>`.
const LARGE: u8 = CLASS_SIZES.len() as u8;

/// A page holds at least this many bytes (and at least [`MIN_SLOTS_PER_PAGE`] slots).
const MIN_PAGE_BYTES: usize = 16 * 1024;
const MIN_SLOTS_PER_PAGE: usize = 4;

/// Where one chunk's bytes are: a class, an index in it, and how many bytes are used. The
/// default slot holds nothing and owns nothing. A slot is a plain handle: the arena that
/// gave it out must be told when it is no longer used ([`ChunkArena::release`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Slot {
    /// 0 for no slot, else class index + 1 (`LARGE + 1` for an own buffer).
    class: u8,
    index: u32,
    len: u32,
}

impl Slot {
    /// Bytes in use.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    fn class(&self) -> Option<u8> {
        self.class.checked_sub(1)
    }
}

/// The slots of one size.
#[derive(Debug)]
struct SizeClass {
    size: usize,
    slots_per_page: usize,
    pages: Vec<Box<[u8]>>,
    /// Slots in use per page.
    live: Vec<u32>,
    /// Free indices below `pages.len() * slots_per_page`, lowest first.
    free: BinaryHeap<Reverse<u32>>,
}

impl SizeClass {
    fn new(size: usize) -> Self {
        Self {
            size,
            slots_per_page: (MIN_PAGE_BYTES / size).max(MIN_SLOTS_PER_PAGE),
            pages: Vec::new(),
            live: Vec::new(),
            free: BinaryHeap::new(),
        }
    }

    fn take(&mut self) -> u32 {
        let index = match self.free.pop() {
            Some(Reverse(i)) => i,
            None => {
                let first = self.pages.len() * self.slots_per_page;
                self.pages
                    .push(vec![0u8; self.slots_per_page * self.size].into_boxed_slice());
                self.live.push(0);
                let next = u32::try_from(first).unwrap_or(u32::MAX);
                let end = u32::try_from(first + self.slots_per_page).unwrap_or(u32::MAX);
                self.free.extend((next + 1..end).map(Reverse));
                next
            }
        };
        let page = index as usize / self.slots_per_page;
        self.live[page] += 1;
        index
    }

    fn give_back(&mut self, index: u32) {
        let page = index as usize / self.slots_per_page;
        let Some(live) = self.live.get_mut(page) else {
            return;
        };
        *live = live.saturating_sub(1);
        self.free.push(Reverse(index));
        if self.live.last() == Some(&0) {
            // Free every empty page at the end; their indices leave the free list.
            while self.live.last() == Some(&0) {
                self.live.pop();
                self.pages.pop();
            }
            let end = u32::try_from(self.pages.len() * self.slots_per_page).unwrap_or(u32::MAX);
            self.free.retain(|Reverse(i)| *i < end);
        }
    }

    fn bytes(&self, index: u32) -> &[u8] {
        let (page, at) = self.locate(index);
        &self.pages[page][at..at + self.size]
    }

    fn bytes_mut(&mut self, index: u32) -> &mut [u8] {
        let (page, at) = self.locate(index);
        &mut self.pages[page][at..at + self.size]
    }

    fn locate(&self, index: u32) -> (usize, usize) {
        let index = index as usize;
        (
            index / self.slots_per_page,
            (index % self.slots_per_page) * self.size,
        )
    }
}

/// Open chunks' bytes for the whole head. See the module documentation.
#[derive(Debug)]
pub(crate) struct ChunkArena {
    classes: Vec<SizeClass>,
    /// Buffers of chunks larger than the largest class, by index; `None` is free.
    large: Vec<Option<Vec<u8>>>,
    large_free: Vec<u32>,
}

impl Default for ChunkArena {
    fn default() -> Self {
        Self {
            classes: CLASS_SIZES
                .iter()
                .map(|s| SizeClass::new(*s as usize))
                .collect(),
            large: Vec::new(),
            large_free: Vec::new(),
        }
    }
}

impl ChunkArena {
    /// The bytes in use of `slot`.
    pub fn bytes(&self, slot: &Slot) -> &[u8] {
        let len = slot.len();
        match slot.class() {
            None => &[],
            Some(LARGE) => self
                .large
                .get(slot.index as usize)
                .and_then(Option::as_deref)
                .map_or(&[], |b| &b[..len.min(b.len())]),
            Some(c) => &self.classes[c as usize].bytes(slot.index)[..len],
        }
    }

    /// A buffer view of `slot` an encoder can write to; it moves the bytes to a larger
    /// slot when they outgrow this one (updating `slot`).
    pub fn buf<'a>(&'a mut self, slot: &'a mut Slot) -> SlotBuf<'a> {
        SlotBuf { arena: self, slot }
    }

    /// A slot holding a copy of `bytes`.
    pub fn store(&mut self, bytes: &[u8]) -> Slot {
        let mut slot = Slot::default();
        let mut buf = self.buf(&mut slot);
        for b in bytes {
            buf.push(*b);
        }
        slot
    }

    /// Gives `slot`'s space back and empties it.
    pub fn release(&mut self, slot: &mut Slot) {
        match slot.class() {
            None => {}
            Some(LARGE) => {
                if let Some(b) = self.large.get_mut(slot.index as usize) {
                    *b = None;
                    self.large_free.push(slot.index);
                }
            }
            Some(c) => self.classes[c as usize].give_back(slot.index),
        }
        *slot = Slot::default();
    }

    /// Bytes of heap held: every page, used or not, and the large buffers.
    pub fn heap_size(&self) -> usize {
        let pages: usize = self
            .classes
            .iter()
            .map(|c| c.pages.len() * c.slots_per_page * c.size)
            .sum();
        let large: usize = self.large.iter().flatten().map(Vec::capacity).sum();
        pages + large
    }

    /// Moves `slot`'s bytes to a slot with room for at least one more byte: the next
    /// class, or an own buffer after the largest. Copies between the two slots directly
    /// (this runs on the append path, every 16 bytes of a small chunk).
    fn grow(&mut self, slot: &mut Slot) {
        let len = slot.len();
        let moved = match slot.class() {
            // A large buffer grows in place.
            Some(LARGE) => return,
            None => Slot {
                class: 1,
                index: self.classes[0].take(),
                len: 0,
            },
            Some(c) if usize::from(c) + 1 < CLASS_SIZES.len() => {
                let next = usize::from(c) + 1;
                let index = self.classes[next].take();
                let (lower, upper) = self.classes.split_at_mut(next);
                upper[0].bytes_mut(index)[..len]
                    .copy_from_slice(&lower[next - 1].bytes(slot.index)[..len]);
                Slot {
                    class: c + 2,
                    index,
                    len: slot.len,
                }
            }
            Some(c) => {
                let mut buf = Vec::with_capacity(len * 2);
                buf.extend_from_slice(&self.classes[usize::from(c)].bytes(slot.index)[..len]);
                let index = match self.large_free.pop() {
                    Some(i) => {
                        self.large[i as usize] = Some(buf);
                        i
                    }
                    None => {
                        self.large.push(Some(buf));
                        u32::try_from(self.large.len() - 1).unwrap_or(u32::MAX)
                    }
                };
                Slot {
                    class: LARGE + 1,
                    index,
                    len: slot.len,
                }
            }
        };
        self.release(slot);
        *slot = moved;
    }

    /// Room in `slot`, in bytes (a large buffer always has room).
    fn capacity(slot: &Slot) -> usize {
        match slot.class() {
            None => 0,
            Some(LARGE) => usize::MAX,
            Some(c) => CLASS_SIZES[c as usize] as usize,
        }
    }
}

/// A [`ChunkBuf`] over one slot of a [`ChunkArena`].
pub(crate) struct SlotBuf<'a> {
    arena: &'a mut ChunkArena,
    slot: &'a mut Slot,
}

impl ChunkBuf for SlotBuf<'_> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        let len = self.slot.len();
        match self.slot.class() {
            None => &mut [],
            Some(LARGE) => match self.arena.large.get_mut(self.slot.index as usize) {
                Some(Some(b)) => &mut b[..len],
                _ => &mut [],
            },
            Some(c) => &mut self.arena.classes[c as usize].bytes_mut(self.slot.index)[..len],
        }
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        let len = self.slot.len();
        if len >= ChunkArena::capacity(self.slot) {
            self.arena.grow(self.slot);
        }
        match self.slot.class() {
            None => {}
            Some(LARGE) => {
                if let Some(Some(b)) = self.arena.large.get_mut(self.slot.index as usize) {
                    b.push(byte);
                }
            }
            Some(c) => self.arena.classes[c as usize].bytes_mut(self.slot.index)[len] = byte,
        }
        self.slot.len += 1;
    }

    fn clear(&mut self) {
        self.slot.len = 0;
        if let (Some(LARGE), Some(Some(b))) = (
            self.slot.class(),
            self.arena.large.get_mut(self.slot.index as usize),
        ) {
            b.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(n: usize, seed: u8) -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
    }

    #[test]
    fn slots_grow_through_the_classes_and_keep_their_bytes() {
        let mut arena = ChunkArena::default();
        let mut a = Slot::default();
        let mut b = Slot::default();
        let want_a = pattern(6000, 1);
        let want_b = pattern(300, 2);
        for i in 0..want_a.len() {
            arena.buf(&mut a).push(want_a[i]);
            if let Some(x) = want_b.get(i) {
                arena.buf(&mut b).push(*x);
            }
            assert_eq!(arena.bytes(&a), &want_a[..=i]);
        }
        assert_eq!(arena.bytes(&b), &want_b[..]);
        assert_eq!(a.class, LARGE + 1);
        // In place changes through the view.
        arena.buf(&mut b).bytes_mut()[0] = 0xee;
        assert_eq!(arena.bytes(&b)[0], 0xee);
        arena.release(&mut a);
        arena.release(&mut b);
        assert_eq!(arena.bytes(&a), &[] as &[u8]);
        // Every page is freed once every slot is given back.
        assert_eq!(arena.heap_size(), 0);
    }

    #[test]
    fn freed_slots_are_reused_lowest_first_and_empty_tail_pages_freed() {
        let mut arena = ChunkArena::default();
        let per_page = arena.classes[0].slots_per_page;
        let mut slots: Vec<Slot> = (0..per_page * 3)
            .map(|i| arena.store(&[i as u8; 10]))
            .collect();
        assert_eq!(arena.classes[0].pages.len(), 3);
        // Free the whole last page and one slot of the first.
        for s in &mut slots[per_page * 2..] {
            arena.release(s);
        }
        arena.release(&mut slots[5]);
        assert_eq!(arena.classes[0].pages.len(), 2);
        let again = arena.store(&[7; 3]);
        assert_eq!((again.class, again.index), (1, 5));
        assert_eq!(arena.bytes(&again), &[7, 7, 7]);
        for (i, s) in slots.iter().enumerate().take(per_page * 2) {
            if i != 5 {
                assert_eq!(arena.bytes(s), &[i as u8; 10]);
            }
        }
    }
}
