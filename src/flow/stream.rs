//! A bounded buffer of the first bytes of one direction of a TCP stream.
//!
//! Handshakes (a ClientHello split over segments, an HTTP response head, a TLS
//! certificate chain) are parsed from this buffer rather than from single
//! segments. Only the first [`StreamBuf::cap`] bytes are kept; out-of-order
//! segments wait in a small side list until the gap before them fills. Bytes that
//! arrive twice are compared with what is already held: a retransmission with
//! *different* bytes is how injected data shows itself.

/// Where a stream byte came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentMark {
    /// Offset of the segment's first byte in the stream.
    pub offset: u32,
    /// Frame that carried it.
    pub frame: u64,
}

/// The first bytes of one stream direction.
#[derive(Clone, Debug, Default)]
pub struct StreamBuf {
    data: Vec<u8>,
    pending: Vec<(u32, Vec<u8>, u64)>,
    pending_bytes: usize,
    cap: u32,
    marks: Vec<SegmentMark>,
    /// Bytes beyond `cap` (or beyond the side list's room) were not kept.
    pub overflowed: bool,
}

/// The outcome of adding a segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Insert {
    /// Some bytes were already held and the new ones differ.
    pub conflict: bool,
}

impl StreamBuf {
    /// Most segment marks kept (enough to name the frames of a handshake).
    const MAX_MARKS: usize = 32;

    /// An empty buffer keeping at most `cap` bytes.
    pub fn new(cap: u32) -> StreamBuf {
        StreamBuf {
            cap,
            ..StreamBuf::default()
        }
    }

    /// The contiguous bytes from the start of the stream.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// The frames that carried the held bytes, by stream offset. For datagram
    /// flows each mark starts one datagram.
    pub fn marks(&self) -> &[SegmentMark] {
        &self.marks
    }

    /// The held datagrams of a datagram flow: `(frame, payload)` in order (the last
    /// one may be cut by the buffer's capacity).
    pub fn datagrams(&self) -> impl Iterator<Item = (u64, &[u8])> + '_ {
        self.marks.iter().enumerate().map(move |(i, m)| {
            let end = self
                .marks
                .get(i + 1)
                .map_or(self.data.len(), |n| n.offset as usize);
            (m.frame, &self.data[(m.offset as usize).min(end)..end])
        })
    }

    /// The buffer's capacity.
    pub fn cap(&self) -> u32 {
        self.cap
    }

    /// Frees the memory (after the handshake was parsed); later bytes are not kept.
    pub fn release(&mut self) {
        self.data = Vec::new();
        self.pending = Vec::new();
        self.pending_bytes = 0;
        self.marks = Vec::new();
        self.cap = 0;
    }

    /// Adds the segment whose first byte is at stream offset `off`.
    pub fn insert(&mut self, off: u32, seg: &[u8], frame: u64) -> Insert {
        let mut out = Insert::default();
        if seg.is_empty() || off >= self.cap {
            if !seg.is_empty() && self.cap > 0 {
                self.overflowed = true;
            }
            return out;
        }
        let have = self.data.len() as u32;
        // Compare bytes already held.
        if off < have {
            let n = (have - off).min(seg.len() as u32) as usize;
            let o = off as usize;
            if self.data[o..o + n] != seg[..n] {
                out.conflict = true;
            }
        }
        for (poff, pdata, _) in &self.pending {
            let (a, b) = (
                off.max(*poff),
                (off + seg.len() as u32).min(poff + pdata.len() as u32),
            );
            if a < b {
                let x = &seg[(a - off) as usize..(b - off) as usize];
                let y = &pdata[(a - poff) as usize..(b - poff) as usize];
                if x != y {
                    out.conflict = true;
                }
            }
        }
        let end = (off + seg.len() as u32).min(self.cap);
        if end < off + seg.len() as u32 {
            self.overflowed = true;
        }
        if off <= have {
            if end > have {
                self.data
                    .extend_from_slice(&seg[(have - off) as usize..(end - off) as usize]);
                self.mark(off, frame);
                self.drain_pending();
            }
        } else {
            let room = (self.cap as usize).saturating_sub(self.data.len() + self.pending_bytes);
            let n = ((end - off) as usize).min(room);
            if n > 0 && self.pending.len() < 16 {
                self.pending.push((off, seg[..n].to_vec(), frame));
                self.pending_bytes += n;
            } else {
                self.overflowed = true;
            }
        }
        out
    }

    fn mark(&mut self, offset: u32, frame: u64) {
        if self.marks.len() < Self::MAX_MARKS && self.marks.last().map(|m| m.offset) != Some(offset)
        {
            self.marks.push(SegmentMark { offset, frame });
        }
    }

    fn drain_pending(&mut self) {
        loop {
            let have = self.data.len() as u32;
            let Some(i) = self.pending.iter().position(|(o, _, _)| *o <= have) else {
                return;
            };
            let (off, d, frame) = self.pending.swap_remove(i);
            self.pending_bytes -= d.len();
            let end = off + d.len() as u32;
            if end > have {
                self.data.extend_from_slice(&d[(have - off) as usize..]);
                self.mark(have, frame);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_and_out_of_order_segments_join() {
        let mut s = StreamBuf::new(64);
        s.insert(0, b"GET ", 1);
        s.insert(8, b"HTTP", 3);
        assert_eq!(s.bytes(), b"GET ");
        s.insert(4, b"/ x ", 2);
        assert_eq!(s.bytes(), b"GET / x HTTP");
        assert_eq!(s.marks().len(), 3);
    }

    #[test]
    fn retransmission_with_other_bytes_is_a_conflict() {
        let mut s = StreamBuf::new(64);
        assert!(!s.insert(0, b"HTTP/1.1 200 OK", 5).conflict);
        assert!(!s.insert(0, b"HTTP/1.1", 6).conflict);
        assert!(s.insert(0, b"HTTP/1.1 302", 7).conflict);
        assert_eq!(s.bytes(), b"HTTP/1.1 200 OK");
    }

    #[test]
    fn capacity_bounds_memory() {
        let mut s = StreamBuf::new(8);
        s.insert(0, b"0123456789", 1);
        assert_eq!(s.bytes(), b"01234567");
        assert!(s.overflowed);
        s.insert(100, b"zz", 2);
        assert_eq!(s.bytes().len(), 8);
    }
}
