//! A session's resume buffer: the frames it was sent, oldest first, in
//! chunks of fixed size.
//!
//! Every session in a guild receives the same dispatches, so their buffers
//! grow in step: a `VecDeque` doubling its capacity would reallocate and
//! copy the buffers of a thousand sessions on the same dispatch, a stall of
//! tens of milliseconds on the dispatcher. Chunks grow a buffer by one
//! small block at a time and never copy what it holds.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::session::Frame;

/// Frames per chunk. Every chunk but the last holds exactly this many, so
/// a frame's place is found by division.
const CHUNK: usize = 64;

#[derive(Default)]
pub(crate) struct Replay {
    chunks: VecDeque<Vec<Frame>>,
    /// Frames at the front of the first chunk that were popped: their
    /// payloads are released at once, their records with the chunk.
    head: usize,
    len: usize,
}

impl Replay {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn push_back(&mut self, frame: Frame) {
        match self.chunks.back_mut() {
            // The first chunk grows as a vector does, so a session that
            // gets a few frames keeps a few slots, not a whole chunk.
            Some(last) if last.len() < CHUNK => last.push(frame),
            _ => {
                let mut chunk = Vec::with_capacity(if self.chunks.is_empty() { 4 } else { CHUNK });
                chunk.push(frame);
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
    }

    pub fn front(&self) -> Option<&Frame> {
        self.get(0)
    }

    /// The `i`th frame from the front.
    pub fn get(&self, i: usize) -> Option<&Frame> {
        if i >= self.len {
            return None;
        }
        let at = self.head + i;
        self.chunks.get(at / CHUNK)?.get(at % CHUNK)
    }

    /// Removes the oldest frame, answering its payload's size.
    pub fn pop_front(&mut self) -> Option<Frame> {
        if self.len == 0 {
            return None;
        }
        let first = self.chunks.front_mut()?;
        let frame = first.get_mut(self.head)?;
        let popped = Frame { seq: frame.seq, name: frame.name, data: std::mem::replace(&mut frame.data, Bytes::new()) };
        self.head += 1;
        self.len -= 1;
        if self.len == 0 {
            *self = Self::default();
        } else if self.head == CHUNK {
            self.chunks.pop_front();
            self.head = 0;
        }
        Some(popped)
    }

    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = &Frame> {
        self.chunks.iter().flatten().skip(self.head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64) -> Frame {
        Frame { seq, name: "X", data: Bytes::from(seq.to_string()) }
    }

    #[test]
    fn it_keeps_order_across_chunks_and_finds_each_frame_by_place() {
        let mut r = Replay::default();
        for seq in 1..=200 {
            r.push_back(frame(seq));
        }
        for seq in 1..=70 {
            assert_eq!(r.pop_front().map(|f| f.seq), Some(seq));
        }
        assert_eq!(r.len(), 130);
        assert_eq!(r.front().map(|f| f.seq), Some(71));
        for i in 0..130 {
            let f = r.get(i).expect("in range");
            assert_eq!(f.seq, 71 + i as u64);
            assert_eq!(f.data, Bytes::from((71 + i).to_string()));
        }
        assert!(r.get(130).is_none());
        let seqs: Vec<u64> = r.iter().map(|f| f.seq).collect();
        assert_eq!(seqs, (71..=200).collect::<Vec<_>>());
        for seq in 201..=300 {
            r.push_back(frame(seq));
        }
        assert_eq!(r.iter().map(|f| f.seq).collect::<Vec<_>>(), (71..=300).collect::<Vec<_>>());
    }

    #[test]
    fn emptied_it_holds_nothing_and_starts_over() {
        let mut r = Replay::default();
        for seq in 1..=100 {
            r.push_back(frame(seq));
        }
        while r.pop_front().is_some() {}
        assert_eq!(r.len(), 0);
        assert!(r.chunks.is_empty() && r.head == 0);
        r.push_back(frame(101));
        assert_eq!(r.front().map(|f| f.seq), Some(101));
        assert_eq!(r.chunks[0].capacity(), 4);
    }
}
