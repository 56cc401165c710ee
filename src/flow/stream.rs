//! The first bytes of one direction of a stream, held without copying.
//!
//! Handshakes (a ClientHello split over segments, an HTTP response head, a TLS
//! certificate chain) are parsed from the reassembled start of a stream rather
//! than from single segments. During the walk nothing is copied: the buffer keeps
//! up to [`StreamBuf::MAX_SEGMENTS`] views into the capture (segment offset,
//! bytes, frame) covering at most `cap` bytes; the contiguous start is assembled
//! once, when a parser first asks for it after the flow has ended. Bytes that
//! arrive twice are compared with what is already held: a retransmission with
//! *different* bytes is how injected data shows itself. Only packets that do not
//! live in the capture (reassembled IP fragments) are copied.

use std::sync::OnceLock;

/// Where a stream byte came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentMark {
    /// Offset of the segment's first byte in the stream.
    pub offset: u32,
    /// Frame that carried it.
    pub frame: u64,
}

#[derive(Clone, Debug)]
enum Bytes<'c> {
    Capture(&'c [u8]),
    Owned(Box<[u8]>),
}

impl Bytes<'_> {
    fn get(&self) -> &[u8] {
        match self {
            Bytes::Capture(b) => b,
            Bytes::Owned(b) => b,
        }
    }
}

#[derive(Clone, Debug)]
struct Segment<'c> {
    offset: u32,
    frame: u64,
    bytes: Bytes<'c>,
}

/// The first bytes of one stream direction, as views into the capture.
#[derive(Clone, Debug, Default)]
pub struct StreamBuf<'c> {
    /// Non-overlapping, sorted by offset (the first copy of a byte wins).
    segs: Vec<Segment<'c>>,
    cap: u32,
    assembled: OnceLock<Vec<u8>>,
    /// Bytes beyond `cap`, or beyond the segment limit, were not kept.
    pub overflowed: bool,
}

/// The outcome of adding a segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Insert {
    /// Some bytes were already held and the new ones differ.
    pub conflict: bool,
}

impl<'c> StreamBuf<'c> {
    /// Most segments held (enough for a handshake of small segments).
    pub const MAX_SEGMENTS: usize = 48;
    /// Most segment slots a reused buffer keeps allocated.
    const KEPT_SEGMENTS: usize = 8;

    /// An empty buffer keeping at most `cap` bytes.
    pub fn new(cap: u32) -> StreamBuf<'c> {
        StreamBuf {
            cap,
            ..StreamBuf::default()
        }
    }

    /// The contiguous bytes from the start of the stream (assembled on first use).
    pub fn bytes(&self) -> &[u8] {
        // One segment from offset 0 covering the contiguous start: no copy at all.
        if let Some(first) = self.single_contiguous() {
            return first;
        }
        self.assembled.get_or_init(|| {
            let mut out = Vec::with_capacity(self.contiguous_len());
            self.append_contiguous(&mut out);
            out
        })
    }

    /// The contiguous bytes from the start of the stream, like
    /// [`bytes`](StreamBuf::bytes), but assembled (when they span segments) in the
    /// caller's `scratch` rather than in memory the buffer keeps: the judging of
    /// finished flows reuses one scratch buffer for all of them.
    pub fn assemble<'a>(&'a self, scratch: &'a mut Vec<u8>) -> &'a [u8] {
        self.assemble_upto(scratch, usize::MAX)
    }

    /// The first `limit` contiguous bytes from the start of the stream (all of
    /// them when fewer), assembled like [`assemble`](StreamBuf::assemble): a
    /// parser that knows where the bytes it can read end (a TLS stream's
    /// plaintext handshake, see `proto::tls::plaintext_extent`) does not pay
    /// for copying the encrypted rest.
    pub fn assemble_upto<'a>(&'a self, scratch: &'a mut Vec<u8>, limit: usize) -> &'a [u8] {
        if let Some(first) = self.single_contiguous() {
            return &first[..first.len().min(limit)];
        }
        if let Some(done) = self.assembled.get() {
            return &done[..done.len().min(limit)];
        }
        scratch.clear();
        scratch.reserve(self.contiguous_len().min(limit));
        self.append_contiguous_upto(scratch, limit);
        scratch
    }

    /// The `N` bytes at stream offset `at`, when they lie in the contiguous
    /// start of the stream (read across segments, without assembling it).
    pub fn peek<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        let mut out = [0u8; N];
        let mut filled = 0;
        let mut expect = 0usize;
        for s in &self.segs {
            if s.offset as usize != expect {
                return None;
            }
            let b = s.bytes.get();
            let end = expect + b.len();
            let want = at + filled;
            if want < end {
                let from = &b[want - expect..];
                let n = from.len().min(N - filled);
                out[filled..filled + n].copy_from_slice(&from[..n]);
                filled += n;
                if filled == N {
                    return Some(out);
                }
            }
            expect = end;
        }
        None
    }

    /// The first segment, when it alone is the contiguous start of the stream.
    fn single_contiguous(&self) -> Option<&[u8]> {
        let first = self.segs.first()?;
        let single = first.offset == 0
            && self
                .segs
                .get(1)
                .is_none_or(|s| s.offset > first.bytes.get().len() as u32);
        single.then(|| first.bytes.get())
    }

    /// Length of the contiguous run from offset 0.
    fn contiguous_len(&self) -> usize {
        let mut n = 0usize;
        for s in &self.segs {
            if s.offset as usize != n {
                break;
            }
            n += s.bytes.get().len();
        }
        n
    }

    fn append_contiguous(&self, out: &mut Vec<u8>) {
        self.append_contiguous_upto(out, usize::MAX);
    }

    fn append_contiguous_upto(&self, out: &mut Vec<u8>, limit: usize) {
        let start = out.len();
        for s in &self.segs {
            let done = out.len() - start;
            if s.offset as usize != done || done >= limit {
                break;
            }
            let b = s.bytes.get();
            out.extend_from_slice(&b[..b.len().min(limit - done)]);
        }
    }

    /// Bytes held in total (contiguous or not).
    pub fn held(&self) -> usize {
        self.segs.iter().map(|s| s.bytes.get().len()).sum()
    }

    /// The end of the held bytes (offset after the last one).
    fn end(&self) -> u32 {
        self.segs
            .last()
            .map_or(0, |s| s.offset + s.bytes.get().len() as u32)
    }

    /// The frames that carried the held bytes, in order of stream offset. For
    /// datagram flows each mark starts one datagram.
    pub fn marks(&self) -> impl DoubleEndedIterator<Item = SegmentMark> + '_ {
        self.segs.iter().map(|s| SegmentMark {
            offset: s.offset,
            frame: s.frame,
        })
    }

    /// The held datagrams of a datagram flow: `(frame, payload)` in order (the last
    /// one may be cut by the buffer's capacity).
    pub fn datagrams(&self) -> impl Iterator<Item = (u64, &[u8])> + '_ {
        self.segs.iter().map(|s| (s.frame, s.bytes.get()))
    }

    /// The buffer's capacity.
    pub fn cap(&self) -> u32 {
        self.cap
    }

    /// Empties the buffer for a new stream of at most `cap` bytes, keeping its
    /// allocations (flows are reused: see `FlowTable`).
    pub fn reset(&mut self, cap: u32) {
        if self.segs.capacity() > Self::KEPT_SEGMENTS {
            // A long stream's list is not kept for the short one that follows.
            self.segs = Vec::new();
        }
        self.segs.clear();
        self.invalidate();
        self.cap = cap;
        self.overflowed = false;
    }

    /// Frees the memory; later bytes are not kept.
    pub fn release(&mut self) {
        self.segs = Vec::new();
        self.assembled = OnceLock::new();
        self.cap = 0;
    }

    /// Appends a datagram after the held ones (datagram flows).
    pub fn push_datagram(&mut self, d: &'c [u8], frame: u64) {
        if self.segs.capacity() == 0 {
            // Most datagram flows carry one or two datagrams each way.
            self.segs.reserve_exact(2);
        }
        let off = self.end();
        self.insert(off, d, frame);
    }

    /// Adds the segment whose first byte is at stream offset `off`, as a view into
    /// the capture.
    pub fn insert(&mut self, off: u32, seg: &'c [u8], frame: u64) -> Insert {
        self.add(off, seg, frame, Bytes::Capture)
    }

    /// Adds a segment that does not live in the capture (it is copied).
    pub fn insert_copy(&mut self, off: u32, seg: &[u8], frame: u64) -> Insert {
        self.add(off, seg, frame, |b| Bytes::Owned(b.into()))
    }

    fn add<'s>(
        &mut self,
        off: u32,
        seg: &'s [u8],
        frame: u64,
        keep: impl Fn(&'s [u8]) -> Bytes<'c>,
    ) -> Insert {
        let mut out = Insert::default();
        if seg.is_empty() || off >= self.cap {
            if !seg.is_empty() && self.cap > 0 {
                self.overflowed = true;
            }
            return out;
        }
        let seg_end = off.saturating_add(seg.len() as u32);
        // The common case: the next bytes, after everything held.
        if off >= self.end() {
            let end = seg_end.min(self.cap);
            if seg_end > self.cap {
                self.overflowed = true;
            }
            if self.segs.len() >= Self::MAX_SEGMENTS {
                self.overflowed = true;
                return out;
            }
            if self.segs.capacity() == 0 {
                // A request or a short response is one to three segments; a
                // longer stream doubles from here.
                self.segs.reserve_exact(4);
            }
            self.segs.push(Segment {
                offset: off,
                frame,
                bytes: keep(&seg[..(end - off) as usize]),
            });
            self.invalidate();
            return out;
        }
        // Compare with what is held, and find the first part not yet held.
        let mut new_from = off;
        for s in &self.segs {
            let (a, b) = (s.offset, s.offset + s.bytes.get().len() as u32);
            let (lo, hi) = (off.max(a), seg_end.min(b));
            if lo < hi {
                let x = &seg[(lo - off) as usize..(hi - off) as usize];
                let y = &s.bytes.get()[(lo - a) as usize..(hi - a) as usize];
                if x != y {
                    out.conflict = true;
                }
                if a <= new_from && new_from < b {
                    new_from = b;
                }
            }
        }
        // The part after `new_from` up to the next held segment (first copy wins).
        let next_held = self
            .segs
            .iter()
            .map(|s| s.offset)
            .filter(|&o| o > new_from)
            .min();
        let end = seg_end.min(self.cap).min(next_held.unwrap_or(u32::MAX));
        if seg_end > self.cap {
            self.overflowed = true;
        }
        if new_from >= end {
            return out;
        }
        if self.segs.len() >= Self::MAX_SEGMENTS {
            self.overflowed = true;
            return out;
        }
        let part = &seg[(new_from - off) as usize..(end - off) as usize];
        let at = self.segs.partition_point(|s| s.offset < new_from);
        self.segs.insert(
            at,
            Segment {
                offset: new_from,
                frame,
                bytes: keep(part),
            },
        );
        self.invalidate();
        out
    }

    /// Forgets an assembly made before the latest segment.
    fn invalidate(&mut self) {
        self.assembled = OnceLock::new();
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
        assert_eq!(s.marks().count(), 3);
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
    fn partial_overlap_keeps_first_copy_and_adds_the_rest() {
        let mut s = StreamBuf::new(64);
        s.insert(0, b"abcd", 1);
        assert!(!s.insert(2, b"cdef", 2).conflict);
        assert_eq!(s.bytes(), b"abcdef");
        assert!(s.insert(5, b"Xgh", 3).conflict);
        assert_eq!(s.bytes(), b"abcdefgh");
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

    #[test]
    fn assembles_in_the_callers_scratch() {
        let mut s = StreamBuf::new(64);
        s.insert(0, b"GET ", 1);
        let mut scratch = Vec::new();
        assert_eq!(s.assemble(&mut scratch), b"GET ");
        assert!(scratch.is_empty(), "one segment needs no copy");
        s.insert(4, b"/ x", 2);
        s.insert(9, b"late", 3);
        assert_eq!(s.assemble(&mut scratch), b"GET / x");
        s.reset(64);
        assert_eq!(s.assemble(&mut scratch), b"");
        assert_eq!(s.cap(), 64);
    }

    #[test]
    fn copies_only_when_asked() {
        let data = b"hello world".to_vec();
        let mut s = StreamBuf::new(64);
        s.insert(0, &data[..5], 1);
        assert_eq!(s.bytes().as_ptr(), data.as_ptr());
        s.insert_copy(5, b" you", 2);
        assert_eq!(s.bytes(), b"hello you");
        let d: Vec<_> = s.datagrams().collect();
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn peeks_across_segments_and_assembles_up_to_a_limit() {
        let mut s = StreamBuf::new(64);
        s.insert(0, b"abc", 1);
        s.insert(3, b"defg", 2);
        s.insert(10, b"late", 3);
        assert_eq!(s.peek::<5>(0), Some(*b"abcde"));
        assert_eq!(s.peek::<3>(2), Some(*b"cde"));
        assert_eq!(s.peek::<1>(6), Some(*b"g"));
        assert_eq!(s.peek::<2>(6), None, "beyond the contiguous start");
        assert_eq!(s.peek::<1>(10), None, "after a hole");
        let mut scratch = Vec::new();
        assert_eq!(s.assemble_upto(&mut scratch, 5), b"abcde");
        assert_eq!(s.assemble_upto(&mut scratch, 3), b"abc");
        assert_eq!(s.assemble_upto(&mut scratch, 100), b"abcdefg");
        // Assembled once by `bytes`, and one segment: cut without copying.
        assert_eq!(s.bytes(), b"abcdefg");
        assert_eq!(s.assemble_upto(&mut scratch, 4), b"abcd");
        let mut one = StreamBuf::new(64);
        one.insert(0, b"single", 1);
        assert_eq!(one.assemble_upto(&mut scratch, 3), b"sin");
        assert_eq!(one.peek::<6>(0), Some(*b"single"));
    }
}
