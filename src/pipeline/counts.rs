//! Per-frame counters that add up across ranges (so parallel and sequential
//! walks report the same numbers).

use crate::capture::{Frame, LinkType, SkipReason};
use crate::decode::{DecodeError, Packet, Tunnel};
use crate::report::Stats;

/// Counters of frames walked and frames skipped.
#[derive(Clone, Debug, Default)]
pub(crate) struct Counts {
    pub frames: u64,
    pub bytes: u64,
    /// Frames per link type (few distinct values: a linear list).
    pub link_types: Vec<(LinkType, u64)>,
    pub unsupported: (u64, u64),
    pub not_ip: (u64, u64),
    pub encrypted: (u64, u64),
    /// Packets read through a tunnel (frames, and reassembled datagrams),
    /// by [`Tunnel::ALL`] position.
    pub tunnels: [u64; Tunnel::ALL.len()],
}

impl Counts {
    #[inline]
    pub fn frame(&mut self, f: &Frame<'_>) {
        self.frames += 1;
        self.bytes += f.data.len() as u64;
        match self.link_types.iter_mut().find(|(l, _)| *l == f.link_type) {
            Some((_, n)) => *n += 1,
            None => self.link_types.push((f.link_type, 1)),
        }
    }

    /// Notes a decoded packet's tunnel, if it came through one.
    #[inline]
    pub fn packet(&mut self, p: &Packet<'_>) {
        if let Some(t) = p.tunnel {
            self.tunnel(t);
        }
    }

    #[cold]
    #[inline(never)]
    fn tunnel(&mut self, t: Tunnel) {
        if let Some(i) = Tunnel::ALL.iter().position(|&x| x == t) {
            self.tunnels[i] += 1;
        }
    }

    #[inline]
    pub fn skip(&mut self, e: DecodeError, f: &Frame<'_>) {
        let slot = match e {
            DecodeError::UnsupportedLinkType => &mut self.unsupported,
            DecodeError::Encrypted => &mut self.encrypted,
            _ => &mut self.not_ip,
        };
        slot.0 += 1;
        slot.1 += f.data.len() as u64;
    }

    pub fn add(&mut self, o: &Counts) {
        self.frames += o.frames;
        self.bytes += o.bytes;
        for (l, n) in &o.link_types {
            match self.link_types.iter_mut().find(|(x, _)| x == l) {
                Some((_, m)) => *m += n,
                None => self.link_types.push((*l, *n)),
            }
        }
        self.unsupported.0 += o.unsupported.0;
        self.unsupported.1 += o.unsupported.1;
        self.not_ip.0 += o.not_ip.0;
        self.not_ip.1 += o.not_ip.1;
        self.encrypted.0 += o.encrypted.0;
        self.encrypted.1 += o.encrypted.1;
        for (a, b) in self.tunnels.iter_mut().zip(o.tunnels) {
            *a += b;
        }
    }

    pub fn fill_stats(&self, s: &mut Stats) {
        s.frames = self.frames;
        s.bytes = self.bytes;
        for (l, n) in &self.link_types {
            *s.link_types.entry(l.0).or_default() += n;
        }
        for (t, &n) in Tunnel::ALL.iter().zip(&self.tunnels) {
            if n > 0 {
                s.tunnels.insert(t.name(), n);
            }
        }
        if self.unsupported.0 > 0 {
            s.skip(
                "unsupported_link_type",
                self.unsupported.0,
                self.unsupported.1,
            );
        }
        if self.not_ip.0 > 0 {
            s.skip("not_ip", self.not_ip.0, self.not_ip.1);
        }
        if self.encrypted.0 > 0 {
            s.skip(
                SkipReason::Encrypted.as_str(),
                self.encrypted.0,
                self.encrypted.1,
            );
        }
    }
}
