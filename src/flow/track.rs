//! Per-direction header baselines and TCP sequence tracking.
//!
//! These are the facts detectors compare a suspicious packet against: the TTL and
//! IP ID the real sender uses, the options it negotiated, how far its sequence
//! space has advanced and whether bytes were sent twice with different content.

use crate::decode::{Packet, TcpHeader, TcpOptions};

use super::lazy::{Lazy, blank};

/// TTL / hop-limit history of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TtlTrack {
    /// TTL of the first packet.
    pub first: u8,
    /// TTL of the latest packet.
    pub last: u8,
    /// Lowest TTL seen.
    pub min: u8,
    /// Highest TTL seen.
    pub max: u8,
    /// How often the TTL differed from the previous packet's.
    pub changes: u32,
}

impl TtlTrack {
    fn update(&mut self, ttl: u8, first: bool) {
        if first {
            *self = TtlTrack {
                first: ttl,
                last: ttl,
                min: ttl,
                max: ttl,
                changes: 0,
            };
            return;
        }
        if ttl != self.last {
            self.changes += 1;
        }
        self.last = ttl;
        self.min = self.min.min(ttl);
        self.max = self.max.max(ttl);
    }
}

/// IP ID history of one direction (IPv4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpIdTrack {
    /// IP ID of the first packet.
    pub first: u32,
    /// IP ID of the latest packet.
    pub last: u32,
    /// Packets with IP ID 0.
    pub zeros: u32,
    /// Packets whose IP ID was the previous one plus 1..=16 (a counter).
    pub increments: u32,
    /// Packets whose IP ID jumped elsewhere.
    pub jumps: u32,
}

impl IpIdTrack {
    fn update(&mut self, id: u32, first: bool) {
        if id == 0 {
            self.zeros += 1;
        }
        if first {
            self.first = id;
        } else {
            let d = id.wrapping_sub(self.last) & 0xffff;
            if (1..=16).contains(&d) {
                self.increments += 1;
            } else if d != 0 {
                self.jumps += 1;
            }
        }
        self.last = id;
    }
}

/// The header of a SYN or SYN-ACK: the sender's handshake baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynInfo {
    /// Its frame.
    pub frame: u64,
    /// Capture time (ns since the epoch).
    pub ts: i64,
    /// Initial sequence number.
    pub seq: u32,
    /// TTL / hop limit.
    pub ttl: u8,
    /// IP ID.
    pub ip_id: u32,
    /// Window.
    pub window: u16,
    /// Options offered.
    pub options: TcpOptions,
    /// IPv4 Don't Fragment bit.
    pub df: bool,
}

/// The header of one packet, kept where evidence may need it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PktBrief {
    /// Its frame.
    pub frame: u64,
    /// Capture time (ns since the epoch).
    pub ts: i64,
    /// TCP flags.
    pub flags: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Payload length.
    pub len: u32,
    /// TTL / hop limit.
    pub ttl: u8,
    /// IP ID.
    pub ip_id: u32,
    /// Window.
    pub window: u16,
    /// Time since the flow's previous packet (either direction), in ns.
    pub gap_before_ns: u64,
    /// IPv4 Don't Fragment bit.
    pub df: bool,
}

impl PktBrief {
    /// The brief of a TCP packet.
    pub fn of(p: &Packet<'_>, t: &TcpHeader<'_>) -> PktBrief {
        PktBrief {
            frame: p.frame,
            ts: p.ts.0,
            flags: t.flags.0,
            seq: t.seq,
            ack: t.ack,
            len: p.payload.len() as u32,
            ttl: p.ip.ttl,
            ip_id: p.ip.ip_id,
            window: t.window,
            gap_before_ns: 0,
            df: p.ip.df,
        }
    }
}

/// Packets of one direction that shared a TTL value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TtlGroup {
    /// The TTL / hop limit.
    pub ttl: u8,
    /// Packets with it.
    pub packets: u32,
    /// Of which carried payload.
    pub payload_packets: u32,
    /// First frame with it.
    pub first_frame: u64,
    /// Last frame with it.
    pub last_frame: u64,
    /// The first of its packets that carried payload.
    pub first_payload: Option<PktBrief>,
    /// Union of the TCP flags of its packets.
    pub flags: u16,
}

/// The TTL values one direction used (up to 4), not counting RSTs: the sender's
/// TTL baseline, which a forged packet rarely matches.
///
/// Nearly every direction uses one TTL, so one group is held inline and the
/// other three only once a second TTL appears: a flow is held for each live
/// connection, and four inline groups were a third of its size.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TtlCounts {
    /// The first group (unused while it has 0 packets).
    first: TtlGroup,
    /// The later groups, in order of first appearance; unused slots have 0
    /// packets.
    more: Option<Box<[TtlGroup; 3]>>,
    /// Packets whose TTL did not fit in the table.
    pub other: u32,
}

impl TtlCounts {
    fn groups(&self) -> impl Iterator<Item = &TtlGroup> {
        std::iter::once(&self.first).chain(self.more.iter().flat_map(|m| m.iter()))
    }

    fn add(&mut self, ttl: u8, frame: u64, payload: Option<PktBrief>, flags: u16) {
        let fresh = || TtlGroup {
            ttl,
            first_frame: frame,
            ..TtlGroup::default()
        };
        let g = if self.first.packets == 0 {
            self.first = fresh();
            &mut self.first
        } else if self.first.ttl == ttl {
            &mut self.first
        } else {
            let more = self.more.get_or_insert_with(Default::default);
            match more.iter().position(|g| g.packets == 0 || g.ttl == ttl) {
                Some(i) => {
                    if more[i].packets == 0 {
                        more[i] = fresh();
                    }
                    &mut more[i]
                }
                None => {
                    self.other += 1;
                    return;
                }
            }
        };
        g.packets += 1;
        g.last_frame = frame;
        g.flags |= flags;
        if let Some(b) = payload {
            g.payload_packets += 1;
            g.first_payload.get_or_insert(b);
        }
    }

    /// The groups in use.
    pub fn used(&self) -> impl Iterator<Item = &TtlGroup> {
        self.groups().filter(|g| g.packets > 0)
    }

    /// Packets seen with this TTL.
    pub fn count(&self, ttl: u8) -> u32 {
        self.used().find(|g| g.ttl == ttl).map_or(0, |g| g.packets)
    }

    /// Packets counted.
    pub fn total(&self) -> u32 {
        self.used().map(|g| g.packets).sum::<u32>() + self.other
    }

    /// The most common TTL group (the earliest on ties).
    pub fn mode_group(&self) -> Option<&TtlGroup> {
        self.used()
            .max_by_key(|g| (g.packets, std::cmp::Reverse(g.first_frame)))
    }

    /// The most common TTL and its count.
    pub fn mode(&self) -> Option<(u8, u32)> {
        self.mode_group().map(|g| (g.ttl, g.packets))
    }
}

/// A RST or FIN as received: everything needed to judge whether it was forged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseInfo {
    /// Its frame.
    pub frame: u64,
    /// Capture time (ns since the epoch).
    pub ts: i64,
    /// TCP flags.
    pub flags: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Window.
    pub window: u16,
    /// TTL / hop limit.
    pub ttl: u8,
    /// IP ID.
    pub ip_id: u32,
    /// Whether it carried the TCP timestamp option.
    pub has_timestamps: bool,
    /// Payload length.
    pub payload_len: u32,
    /// IPv4 Don't Fragment bit.
    pub df: bool,
    /// The claimed sender's previous packet that was not a RST.
    pub prev_same: Option<PktBrief>,
    /// The other side's last packet with payload before this one (what it may be
    /// answering).
    pub trigger: Option<PktBrief>,
    /// The other side's last packet of any kind before this one.
    pub peer_last: Option<PktBrief>,
    /// The claimed sender's next sequence number (highest seq + length) before it.
    pub sender_next_seq: Option<u32>,
}

/// Sequence-space tracking of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqTrack {
    /// Initial sequence number, from the SYN.
    pub isn: Option<u32>,
    /// Sequence number of stream byte 0 (ISN + 1, or the first segment seen).
    pub base: Option<u32>,
    /// Next expected sequence number (highest seq + length seen).
    pub next: u32,
    /// Highest acknowledgment number sent.
    pub highest_ack: Option<u32>,
    /// Segments that carried only bytes already seen.
    pub retransmissions: u32,
    /// Segments that started beyond the next expected byte (a hole before them).
    pub holes: u32,
    /// Segments that partly overlapped bytes already seen.
    pub overlaps: u32,
    /// Overlaps or retransmissions whose bytes differ from the first copy.
    pub overlap_conflicts: u32,
    /// Frame of the first conflicting segment.
    pub first_conflict_frame: Option<u64>,
    /// Retransmissions of data the peer had already acknowledged (in this capture):
    /// the peer's ACKs are not reaching the sender.
    pub acked_retransmissions: u32,
    /// The first of them, and `next` at that moment.
    pub first_acked_retransmission: Option<(u64, u32)>,
    /// The most times one acknowledged segment was sent again (a spurious
    /// timeout resends a window once; a sender that never hears the ACKs resends
    /// the same segment with backoff).
    pub max_acked_repeats: u32,
    last_acked_retrans: Option<(u32, u32)>,
}

/// What a segment was, relative to the stream so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegKind {
    /// No sequence space used (pure ACK, RST).
    Empty,
    /// The next bytes.
    InOrder,
    /// Starts beyond the next expected byte.
    AfterHole,
    /// Only bytes already seen.
    Retransmission,
    /// Some old bytes, some new.
    Overlap,
}

#[inline]
fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl SeqTrack {
    /// Accounts for a segment; returns what it was and its stream offset.
    pub fn update(&mut self, t: &TcpHeader<'_>, payload_len: u32) -> (SegKind, Option<u32>) {
        if t.flags.syn() {
            self.isn = Some(t.seq);
            if self.base.is_none() {
                self.base = Some(t.seq.wrapping_add(1));
                self.next = t.seq.wrapping_add(1);
            }
        }
        if t.flags.ack() {
            let a = t.ack;
            match self.highest_ack {
                Some(h) if !seq_lt(h, a) => {}
                _ => self.highest_ack = Some(a),
            }
        }
        let start = if t.flags.syn() {
            t.seq.wrapping_add(1)
        } else {
            t.seq
        };
        let len = payload_len + u32::from(t.flags.fin());
        if len == 0 {
            return (SegKind::Empty, None);
        }
        let first = self.base.is_none();
        let base = *self.base.get_or_insert(start);
        if first {
            self.next = start;
        }
        let end = start.wrapping_add(len);
        let kind = if start == self.next {
            SegKind::InOrder
        } else if seq_lt(self.next, start) {
            self.holes += 1;
            SegKind::AfterHole
        } else if !seq_lt(self.next, end) {
            self.retransmissions += 1;
            SegKind::Retransmission
        } else {
            self.overlaps += 1;
            SegKind::Overlap
        };
        if seq_lt(self.next, end) {
            self.next = end;
        }
        let off = start.wrapping_sub(base);
        // Offsets "before" the base wrap to huge values: not in the buffer.
        let off = (off < 0x8000_0000).then_some(off);
        (kind, off)
    }

    /// Records a retransmission of bytes the peer had acknowledged.
    pub fn acked_retransmission(&mut self, frame: u64, seq: u32) {
        self.acked_retransmissions += 1;
        let repeats = match self.last_acked_retrans {
            Some((s, n)) if s == seq => n + 1,
            _ => 1,
        };
        self.last_acked_retrans = Some((seq, repeats));
        self.max_acked_repeats = self.max_acked_repeats.max(repeats);
        let next = self.next;
        self.first_acked_retransmission.get_or_insert((frame, next));
    }

    /// Records a conflicting overlap found by the stream buffer.
    pub fn conflict(&mut self, frame: u64) {
        self.overlap_conflicts += 1;
        self.first_conflict_frame.get_or_insert(frame);
    }
}

/// Header baselines for one direction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baseline {
    /// TTL history.
    pub ttl: TtlTrack,
    /// IP ID history.
    pub ip_id: IpIdTrack,
    /// TTLs of the packets that were not RSTs.
    pub ttl_counts: TtlCounts,
    /// The TCP baselines (allocated with the direction's first TCP packet:
    /// datagram flows, most of the live ones, never need them).
    pub tcp: Lazy<TcpBaseline>,
}

/// The baselines of one TCP direction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpBaseline {
    /// The SYN or SYN-ACK this side sent.
    pub syn: Option<SynInfo>,
    /// Window of the first TCP packet.
    pub first_window: Option<u16>,
    /// Packets advertising a zero window.
    pub zero_windows: u32,
    /// TCP packets carrying the timestamp option.
    pub ts_option_pkts: u32,
    /// Packets with SYN set (retries included).
    pub syn_pkts: u32,
    /// The last packet that was not a RST.
    pub last: Option<PktBrief>,
    /// The first packet with payload.
    pub first_payload: Option<PktBrief>,
    /// The last packet with payload.
    pub last_payload: Option<PktBrief>,
    /// Packets (not RSTs) sent after this side's first RST, at most 4.
    pub after_rst: Vec<PktBrief>,
}
blank!(TcpBaseline);
blank!(SeqTrack);

impl Baseline {
    /// The latest payload packet known before `frame` (the last one, else the
    /// first one).
    pub fn last_payload_before(&self, frame: u64) -> Option<PktBrief> {
        [self.tcp.last_payload, self.tcp.first_payload]
            .into_iter()
            .flatten()
            .find(|p| p.frame < frame)
    }

    /// Updates the baseline with one packet (`first` for the direction's first).
    pub fn update(&mut self, p: &Packet<'_>, tcp: Option<&TcpHeader<'_>>, first: bool) {
        self.ttl.update(p.ip.ttl, first);
        if !tcp.is_some_and(|t| t.flags.rst()) {
            let payload = match tcp {
                Some(t) if !p.payload.is_empty() => Some(PktBrief::of(p, t)),
                None if !p.payload.is_empty() => Some(PktBrief {
                    frame: p.frame,
                    ts: p.ts.0,
                    len: p.payload.len() as u32,
                    ttl: p.ip.ttl,
                    ip_id: p.ip.ip_id,
                    ..PktBrief::default()
                }),
                _ => None,
            };
            self.ttl_counts
                .add(p.ip.ttl, p.frame, payload, tcp.map_or(0, |t| t.flags.0));
        }
        if p.ip.version == 4 {
            self.ip_id.update(p.ip.ip_id, first);
        }
        if let Some(t) = tcp {
            self.tcp.first_window.get_or_insert(t.window);
            if t.flags.syn() {
                self.tcp.syn_pkts += 1;
            }
            if t.window == 0 && !t.flags.rst() {
                self.tcp.zero_windows += 1;
            }
            if t.has_ts_option {
                self.tcp.ts_option_pkts += 1;
            }
            if t.flags.syn() && self.tcp.syn.is_none() {
                // Only a SYN's options are read in full (they are its baseline).
                let options = if t.options_raw.is_empty() {
                    TcpOptions::default()
                } else {
                    t.options()
                };
                self.tcp.syn = Some(SynInfo {
                    frame: p.frame,
                    ts: p.ts.0,
                    seq: t.seq,
                    ttl: p.ip.ttl,
                    ip_id: p.ip.ip_id,
                    window: t.window,
                    options,
                    df: p.ip.df,
                });
            }
        }
    }
}
