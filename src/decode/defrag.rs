//! IP fragment reassembly in bounded memory.
//!
//! Fragments are rare in captures but censors and evasion tools use them, and a
//! fragmented DNS answer or ClientHello must still be seen whole. Reassembly keeps
//! at most [`Defragmenter::MAX_PENDING`] datagrams and [`Defragmenter::MAX_BYTES`]
//! bytes in flight; beyond that the oldest datagram is dropped and counted. A
//! datagram whose fragments stop arriving is dropped after 30 s of capture time.

use std::net::IpAddr;

use hashbrown::HashMap;

use super::packet::{IpInfo, Packet, Transport};
use crate::capture::Timestamp;

/// A datagram rebuilt from its fragments.
#[derive(Clone, Debug)]
pub struct Reassembled {
    /// The frame of the fragment that completed it.
    pub frame: u64,
    /// Its capture time.
    pub ts: Timestamp,
    /// Wire length of the completing frame.
    pub wire_len: u32,
    /// IP fields of the first fragment (offset 0), length of the whole datagram.
    pub ip: IpInfo,
    /// The transport header and payload.
    pub data: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

struct Pending {
    first_seen: Timestamp,
    seq: u64,
    pieces: Vec<(u32, Vec<u8>)>,
    total: Option<u32>,
    first_ip: Option<IpInfo>,
    bytes: usize,
}

/// Fragment reassembler.
#[derive(Default)]
pub struct Defragmenter {
    pending: HashMap<Key, Pending>,
    bytes: usize,
    next_seq: u64,
    /// Datagrams dropped (memory cap, timeout, inconsistent lengths).
    pub dropped: u64,
}

impl Defragmenter {
    /// Most datagrams reassembled at once.
    pub const MAX_PENDING: usize = 1024;
    /// Most fragment bytes held at once.
    pub const MAX_BYTES: usize = 8 << 20;
    /// Capture-time limit for a datagram's fragments to arrive (ns).
    pub const TIMEOUT_NS: u64 = 30_000_000_000;
    /// Largest datagram (IP payload) accepted.
    const MAX_DATAGRAM: u32 = 65_535;

    /// Adds a fragment; returns the datagram when this fragment completes it.
    pub fn push(&mut self, p: &Packet<'_>) -> Option<Reassembled> {
        let Transport::Fragment { offset, more } = p.transport else {
            return None;
        };
        let key = Key {
            src: p.ip.src,
            dst: p.ip.dst,
            id: p.ip.ip_id,
            proto: p.ip.proto,
        };
        let end = offset.saturating_add(p.payload.len() as u32);
        if end > Self::MAX_DATAGRAM {
            self.dropped += 1;
            return None;
        }
        self.expire(p.ts);
        if !self.pending.contains_key(&key) {
            while self.pending.len() >= Self::MAX_PENDING
                || self.bytes + p.payload.len() > Self::MAX_BYTES
            {
                if !self.drop_oldest() {
                    break;
                }
            }
            let seq = self.next_seq;
            self.next_seq += 1;
            self.pending.insert(
                key,
                Pending {
                    first_seen: p.ts,
                    seq,
                    pieces: Vec::new(),
                    total: None,
                    first_ip: None,
                    bytes: 0,
                },
            );
        }
        let entry = self.pending.get_mut(&key)?;
        entry.pieces.push((offset, p.payload.to_vec()));
        entry.bytes += p.payload.len();
        self.bytes += p.payload.len();
        if offset == 0 {
            entry.first_ip = Some(p.ip);
        }
        if !more {
            entry.total = Some(end);
        }
        let total = entry.total?;
        entry.first_ip?;
        // Complete when the pieces cover 0..total without a gap.
        entry.pieces.sort_by_key(|(o, _)| *o);
        let mut covered = 0u32;
        for (o, d) in &entry.pieces {
            if *o > covered {
                return None;
            }
            covered = covered.max(o + d.len() as u32);
        }
        if covered < total {
            return None;
        }
        let entry = self.pending.remove(&key)?;
        self.bytes -= entry.bytes;
        let mut data = vec![0u8; total as usize];
        // First fragment wins on overlap (write in reverse order so earlier pieces
        // overwrite later ones).
        for (o, d) in entry.pieces.iter().rev() {
            let o = *o as usize;
            if o >= data.len() {
                continue;
            }
            let n = d.len().min(data.len() - o);
            data[o..o + n].copy_from_slice(&d[..n]);
        }
        let mut ip = entry.first_ip?;
        ip.ip_len = total + if ip.version == 4 { 20 } else { 40 };
        Some(Reassembled {
            frame: p.frame,
            ts: p.ts,
            wire_len: p.wire_len,
            ip,
            data,
        })
    }

    fn expire(&mut self, now: Timestamp) {
        if self.pending.is_empty() {
            return;
        }
        let before = self.pending.len();
        let mut freed = 0;
        self.pending.retain(|_, v| {
            let keep = now.nanos_since(v.first_seen) <= Self::TIMEOUT_NS;
            if !keep {
                freed += v.bytes;
            }
            keep
        });
        self.bytes -= freed;
        self.dropped += (before - self.pending.len()) as u64;
    }

    fn drop_oldest(&mut self) -> bool {
        let Some(k) = self
            .pending
            .iter()
            .min_by_key(|(_, v)| v.seq)
            .map(|(k, _)| *k)
        else {
            return false;
        };
        if let Some(v) = self.pending.remove(&k) {
            self.bytes -= v.bytes;
            self.dropped += 1;
        }
        true
    }
}
