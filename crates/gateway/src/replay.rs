//! A session's resume buffer: the frames it was sent, oldest first, in
//! chunks of fixed size.
//!
//! Every session in a guild receives the same dispatches, so their buffers
//! grow in step: a `VecDeque` doubling its capacity would reallocate and
//! copy the buffers of a thousand sessions on the same dispatch, a stall of
//! tens of milliseconds on the dispatcher. Chunks grow a buffer by one
//! small block at a time and never copy what it holds.

use std::collections::VecDeque;

/// Entries per chunk. Every chunk but the first and the last holds exactly
/// this many, so an entry's place is found by division.
const CHUNK: usize = 64;

/// A queue, oldest first, that grows by chunks and never moves what it
/// holds.
pub(crate) struct Replay<T> {
    chunks: VecDeque<VecDeque<T>>,
    len: usize,
}

impl<T> Default for Replay<T> {
    fn default() -> Self {
        Self { chunks: VecDeque::new(), len: 0 }
    }
}

impl<T> Replay<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn push_back(&mut self, entry: T) {
        match self.chunks.back_mut() {
            // The first chunk grows as a vector does, so a session that
            // gets a few frames keeps a few slots, not a whole chunk.
            Some(last) if last.len() < CHUNK => last.push_back(entry),
            _ => {
                let mut chunk = VecDeque::with_capacity(if self.chunks.is_empty() { 4 } else { CHUNK });
                chunk.push_back(entry);
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
    }

    pub fn front(&self) -> Option<&T> {
        self.chunks.front()?.front()
    }

    /// The `i`th entry from the front.
    pub fn get(&self, i: usize) -> Option<&T> {
        let first = self.chunks.front()?;
        if i < first.len() {
            return first.get(i);
        }
        let rest = i - first.len();
        self.chunks.get(1 + rest / CHUNK)?.get(rest % CHUNK)
    }

    pub fn pop_front(&mut self) -> Option<T> {
        let first = self.chunks.front_mut()?;
        let entry = first.pop_front()?;
        if first.is_empty() {
            self.chunks.pop_front();
        }
        self.len -= 1;
        Some(entry)
    }

    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame's sequence number and payload.
    fn frame(seq: u64) -> (u64, String) {
        (seq, seq.to_string())
    }

    #[test]
    fn it_keeps_order_across_chunks_and_finds_each_frame_by_place() {
        let mut r = Replay::default();
        for seq in 1..=200 {
            r.push_back(frame(seq));
        }
        for seq in 1..=70 {
            assert_eq!(r.pop_front().map(|f| f.0), Some(seq));
        }
        assert_eq!(r.len(), 130);
        assert_eq!(r.front().map(|f| f.0), Some(71));
        for i in 0..130 {
            let f = r.get(i).expect("in range");
            assert_eq!(f.0, 71 + i as u64);
            assert_eq!(f.1, (71 + i).to_string());
        }
        assert!(r.get(130).is_none());
        let seqs: Vec<u64> = r.iter().map(|f| f.0).collect();
        assert_eq!(seqs, (71..=200).collect::<Vec<_>>());
        for seq in 201..=300 {
            r.push_back(frame(seq));
        }
        assert_eq!(r.iter().map(|f| f.0).collect::<Vec<_>>(), (71..=300).collect::<Vec<_>>());
    }

    #[test]
    fn emptied_it_holds_nothing_and_starts_over() {
        let mut r = Replay::default();
        for seq in 1..=100 {
            r.push_back(frame(seq));
        }
        while r.pop_front().is_some() {}
        assert_eq!(r.len(), 0);
        assert!(r.chunks.is_empty());
        r.push_back(frame(101));
        assert_eq!(r.front().map(|f| f.0), Some(101));
        assert_eq!(r.chunks[0].capacity(), 4);
    }
}
