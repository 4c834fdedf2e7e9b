//! [`OpenChunk`]: the chunk a series appends to, its encoder state beside the series and
//! its bytes in the head's [`ChunkArena`].

use tally_model::Sample;

use super::arena::{ChunkArena, Slot};
use crate::chunk::encoder::Encoder;
use crate::chunk::XorChunk;

/// A series' open chunk. Every method that reads or writes bytes takes the arena that
/// holds them; the series' owner must [`release`](Self::release) the chunk before
/// dropping it, or its slot stays taken.
#[derive(Debug, Default)]
pub(crate) struct OpenChunk {
    enc: Encoder,
    slot: Slot,
}

impl OpenChunk {
    /// Appends a sample (after the last one; see [`XorChunk::append`]).
    pub fn append(&mut self, arena: &mut ChunkArena, t: i64, v: f64) {
        self.enc.append(&mut arena.buf(&mut self.slot), t, v);
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.enc.len()
    }

    /// Whether the chunk has no samples.
    pub fn is_empty(&self) -> bool {
        self.enc.is_empty()
    }

    /// The encoding, as [`XorChunk::bytes`] gives it (`[0]` when empty).
    pub fn bytes<'a>(&self, arena: &'a ChunkArena) -> &'a [u8] {
        match arena.bytes(&self.slot) {
            [] => &[0],
            bytes => bytes,
        }
    }

    /// The first sample's time, if any.
    pub fn min_time(&self, arena: &ChunkArena) -> Option<i64> {
        self.enc.min_time(arena.bytes(&self.slot))
    }

    /// The last sample's time, if any.
    pub fn max_time(&self) -> Option<i64> {
        self.last().map(|s| s.timestamp_ms)
    }

    /// The last sample, if any.
    pub fn last(&self) -> Option<Sample> {
        self.enc.last()
    }

    /// Cuts the chunk: returns its samples as an [`XorChunk`] of exactly its length and
    /// leaves this one empty, its slot given back.
    pub fn cut(&mut self, arena: &mut ChunkArena) -> XorChunk {
        let cut = XorChunk::from_parts(arena.bytes(&self.slot).to_vec(), self.enc);
        self.release(arena);
        cut
    }

    /// Replaces this chunk with `chunk` (a checkpointed open chunk), to append to.
    pub fn reopen(&mut self, arena: &mut ChunkArena, chunk: XorChunk) {
        let (buf, enc) = chunk.into_parts();
        self.release(arena);
        self.slot = arena.store(&buf);
        self.enc = enc;
    }

    /// Empties the chunk and gives its slot back.
    pub fn release(&mut self, arena: &mut ChunkArena) {
        arena.release(&mut self.slot);
        self.enc = Encoder::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_chunk_encodes_exactly_as_an_xor_chunk() {
        let mut arena = ChunkArena::default();
        let mut open = OpenChunk::default();
        let mut other = OpenChunk::default();
        let mut xor = XorChunk::new();
        assert_eq!(open.bytes(&arena), xor.bytes());
        for i in 0..300i64 {
            let (t, v) = (1_000 + i * 15_000 + i % 7, (i as f64 * 1.37).sin() * 1e3);
            open.append(&mut arena, t, v);
            other.append(&mut arena, t, i as f64);
            xor.append(t, v);
            assert_eq!(open.bytes(&arena), xor.bytes(), "after {i}");
        }
        assert_eq!(open.min_time(&arena), xor.min_time());
        assert_eq!(open.last(), xor.last());
        let mut reopened = OpenChunk::default();
        reopened.reopen(&mut arena, XorChunk::from_bytes(xor.bytes()).unwrap());
        let cut = open.cut(&mut arena);
        assert_eq!(cut, xor);
        assert!(open.is_empty() && open.bytes(&arena) == [0]);
        reopened.append(&mut arena, 1 << 40, 1.0);
        xor.append(1 << 40, 1.0);
        assert_eq!(reopened.bytes(&arena), xor.bytes());
        for c in [&mut reopened, &mut other] {
            c.release(&mut arena);
        }
        assert_eq!(arena.heap_size(), 0);
    }
}
