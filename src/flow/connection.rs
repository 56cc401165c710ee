//! One flow: a connection (TCP) or a conversation (UDP, ICMP, other IP protocols).

use crate::capture::Timestamp;
use crate::decode::{Packet, TcpHeader, Transport, Tunnel};

use super::expiry::Timeout;
use super::key::{Endpoint, FlowKey};
use super::lazy::Lazy;
use super::stream::StreamBuf;
use super::track::{Baseline, CloseInfo, PktBrief, SegKind, SeqTrack};
use super::zeek::{Seg, ZeekTcp};

/// Index of the client → server direction in [`Flow::dirs`].
pub const TO_SERVER: usize = 0;
/// Index of the server → client direction in [`Flow::dirs`].
pub const TO_CLIENT: usize = 1;

/// Most RST/FIN records kept per direction.
const MAX_CLOSES: usize = 8;
/// Most datagrams kept per direction of a UDP flow.
const MAX_DATAGRAMS: usize = 8;
/// Most ICMP errors kept per flow.
const MAX_ICMP: usize = 8;

/// Counters and baselines of one direction of a flow.
#[derive(Clone, Debug, Default)]
pub struct Direction<'c> {
    /// Packets.
    pub pkts: u64,
    /// Bytes on the wire (frame lengths).
    pub bytes: u64,
    /// IP bytes (IP total length), as Zeek counts them.
    pub ip_bytes: u64,
    /// Transport payload bytes.
    pub payload_bytes: u64,
    /// First and last frame of this direction.
    pub first_frame: u64,
    /// Last frame of this direction.
    pub last_frame: u64,
    /// Capture time of this direction's first packet.
    pub first_ts: Timestamp,
    /// TTL, IP ID, window and option baselines.
    pub baseline: Baseline,
    /// TCP sequence tracking (allocated with the first TCP packet).
    pub seq: Lazy<SeqTrack>,
    /// The first bytes of the stream (TCP) or of the first datagrams (UDP).
    pub stream: StreamBuf<'c>,
    /// RST and FIN segments, in order (at most 8).
    pub closes: Vec<CloseInfo>,
    /// First frame that carried payload.
    pub first_payload_frame: Option<u64>,
    /// The first payload this side sent after the other side's first payload
    /// had been seen (frame, time): a TLS client's answer to the server's
    /// first flight (its Finished, or its key exchange), which ends the
    /// handshake as the client sees it.
    pub first_answer: Option<(u64, Timestamp)>,
    /// The longest pause between this side's payload packets before the other
    /// side answered its first one (ns): a server writes its handshake flight
    /// at once, and a policer that drops part of it splits it by the sender's
    /// retransmission timer.
    pub flight_stall_ns: i64,
    /// Capture time of the last packet that carried payload (a transfer's
    /// end, which an idle connection's teardown may follow by minutes).
    pub last_payload_ts: Timestamp,
    /// The longest time between two packets with payload (ns): a transfer
    /// that paused (a keep-alive connection idle between requests) has no
    /// single rate.
    pub max_payload_gap_ns: i64,
    /// Header facts of the datagrams kept in `stream` (UDP and other datagram
    /// flows), in the same order: TTL, IP ID, time, frame of each.
    pub datagrams: Vec<PktBrief>,
}

impl Direction<'_> {
    /// Empties this direction for a new flow, keeping its allocations (the
    /// TCP state's only for a TCP flow: a datagram flow does not need it).
    fn recycle(&mut self, tcp: bool) {
        let mut stream = std::mem::take(&mut self.stream);
        stream.reset(0);
        // What most flows need is kept; more is freed (see `MAX_SPARE`).
        let keep = |v: &mut Vec<_>| {
            if v.capacity() > 2 {
                *v = Vec::new();
            }
            v.clear();
        };
        let mut closes = std::mem::take(&mut self.closes);
        keep(&mut closes);
        let mut datagrams = std::mem::take(&mut self.datagrams);
        datagrams.clear();
        let (mut seq, mut tcp_baseline) = Default::default();
        if tcp {
            seq = std::mem::take(&mut self.seq);
            seq.reset();
            tcp_baseline = std::mem::take(&mut self.baseline.tcp);
            tcp_baseline.reset();
        }
        *self = Direction {
            stream,
            closes,
            datagrams,
            seq,
            baseline: Baseline {
                tcp: tcp_baseline,
                ..Baseline::default()
            },
            ..Direction::default()
        };
    }
}

/// An ICMP error that quoted a packet of this flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpError {
    /// Its frame.
    pub frame: u64,
    /// Who sent it (a router on the path, or the destination).
    pub from: std::net::IpAddr,
    /// ICMP type.
    pub icmp_type: u8,
    /// ICMP code.
    pub code: u8,
    /// ICMPv6 rather than ICMPv4.
    pub v6: bool,
    /// TTL of the quoted packet when it reached the reporter.
    pub quoted_ttl: u8,
}

/// A flow and everything tracked about it.
#[derive(Clone, Debug)]
pub struct Flow<'c> {
    /// Deterministic identifier.
    pub id: u64,
    /// The direction-free key.
    pub key: FlowKey,
    /// The side that opened the flow.
    pub client: Endpoint,
    /// The other side.
    pub server: Endpoint,
    /// First packet time.
    pub first_ts: Timestamp,
    /// Last packet time.
    pub last_ts: Timestamp,
    /// First frame.
    pub first_frame: u64,
    /// Last frame.
    pub last_frame: u64,
    /// `[to server, to client]`.
    pub dirs: [Direction<'c>; 2],
    /// Zeek-compatible state (TCP only).
    pub zeek: Option<Box<ZeekTcp>>,
    /// ICMP errors about this flow.
    pub icmp_errors: Vec<IcmpError>,
    /// A FIN from both sides, or a RST, was seen.
    pub closed: bool,
    /// The tunnel (outermost, when nested) the flow's first packet was read
    /// through: a flow seen at a port mirror or in a mobile core.
    pub tunnel: Option<Tunnel>,
    /// The first packet was sent by the client (false when it was a SYN-ACK).
    first_from_client: bool,
    /// The timeout this flow is queued under in its table (none before its
    /// first packet is accounted).
    pub(crate) queued: Option<Timeout>,
}

impl<'c> Flow<'c> {
    /// A new flow whose first packet goes `src → dst`.
    pub(crate) fn new(key: FlowKey, src: Endpoint, dst: Endpoint, p: &Packet<'_>) -> Flow<'c> {
        Flow::with_parts(key, src, dst, p, Default::default(), None, Vec::new())
    }

    /// Turns this finished flow into a new one whose first packet goes
    /// `src → dst`, keeping its allocations (stream segment lists, close lists,
    /// the Zeek state box): flows start and end tens of thousands of times a
    /// second, and reusing them spares the allocator and fresh pages.
    pub(crate) fn reuse(&mut self, key: FlowKey, src: Endpoint, dst: Endpoint, p: &Packet<'_>) {
        let mut dirs = std::mem::take(&mut self.dirs);
        for d in &mut dirs {
            d.recycle(key.proto == 6);
        }
        let mut icmp_errors = std::mem::take(&mut self.icmp_errors);
        icmp_errors.clear();
        let zeek = self.zeek.take();
        *self = Flow::with_parts(key, src, dst, p, dirs, zeek, icmp_errors);
    }

    fn with_parts(
        key: FlowKey,
        src: Endpoint,
        dst: Endpoint,
        p: &Packet<'_>,
        dirs: [Direction<'c>; 2],
        zeek: Option<Box<ZeekTcp>>,
        icmp_errors: Vec<IcmpError>,
    ) -> Flow<'c> {
        // The client is the side that sent the first SYN; a SYN-ACK seen first was
        // sent by the server. Otherwise the first packet's sender is the client.
        let swap = matches!(p.transport, Transport::Tcp(t) if t.flags.syn() && t.flags.ack());
        let (client, server) = if swap { (dst, src) } else { (src, dst) };
        let zeek = (key.proto == 6).then(|| {
            let fresh = ZeekTcp::with_ports(src.port, dst.port);
            match zeek {
                Some(mut b) => {
                    *b = fresh;
                    b
                }
                None => Box::new(fresh),
            }
        });
        Flow {
            id: flow_id(p.frame, &key),
            key,
            client,
            server,
            first_ts: p.ts,
            last_ts: p.ts,
            first_frame: p.frame,
            last_frame: p.frame,
            dirs,
            zeek,
            icmp_errors,
            closed: false,
            tunnel: p.tunnel,
            first_from_client: !swap,
            queued: None,
        }
    }

    /// Whether a packet from `src` goes to the server.
    #[inline]
    pub fn is_to_server(&self, src: &Endpoint) -> bool {
        *src == self.client
    }

    /// Accounts for one packet of this flow. Returns what the segment was (TCP).
    pub(crate) fn update(
        &mut self,
        p: &Packet<'_>,
        src: &Endpoint,
        stream_cap: u32,
        in_capture: Option<&'c [u8]>,
    ) -> SegKind {
        let dir = if self.is_to_server(src) {
            TO_SERVER
        } else {
            TO_CLIENT
        };
        let gap = p.ts.nanos_since(self.last_ts);
        self.last_ts = self.last_ts.max(p.ts);
        self.last_frame = p.frame;
        let tcp = match &p.transport {
            Transport::Tcp(t) => Some(t),
            _ => None,
        };
        let [to_server, to_client] = &mut self.dirs;
        let (d, peer) = if dir == TO_SERVER {
            (to_server, &*to_client)
        } else {
            (to_client, &*to_server)
        };
        let first = d.pkts == 0;
        if first {
            d.first_frame = p.frame;
            d.first_ts = p.ts;
            d.stream.reset(stream_cap);
        }
        d.pkts += 1;
        d.bytes += u64::from(p.wire_len);
        d.ip_bytes += u64::from(p.ip.ip_len);
        d.payload_bytes += p.payload.len() as u64;
        d.last_frame = p.frame;
        if !p.payload.is_empty() {
            if d.first_payload_frame.is_some() {
                let gap = p.ts.0 - d.last_payload_ts.0;
                d.max_payload_gap_ns = d.max_payload_gap_ns.max(gap);
                if peer.first_answer.is_none() {
                    d.flight_stall_ns = d.flight_stall_ns.max(gap);
                }
            }
            d.first_payload_frame.get_or_insert(p.frame);
            d.last_payload_ts = p.ts;
            if d.first_answer.is_none() && peer.first_payload_frame.is_some() {
                d.first_answer = Some((p.frame, p.ts));
            }
        }
        d.baseline.update(p, tcp, first);
        let Some(t) = tcp else {
            // UDP and others: keep the first datagrams back to back (bounded); the
            // stream buffer's marks give each datagram's offset and frame, which is
            // what the datagram protocols' parsers read.
            if !p.payload.is_empty() && d.datagrams.len() < MAX_DATAGRAMS {
                match in_capture {
                    Some(b) => d.stream.push_datagram(b, p.frame),
                    None => {
                        let off = d.stream.held() as u32;
                        d.stream.insert_copy(off, p.payload, p.frame);
                    }
                }
                if d.datagrams.capacity() == 0 {
                    // Most datagram flows carry one or two datagrams each way.
                    d.datagrams.reserve_exact(2);
                }
                d.datagrams.push(PktBrief {
                    frame: p.frame,
                    ts: p.ts.0,
                    len: p.payload.len() as u32,
                    ttl: p.ip.ttl,
                    ip_id: p.ip.ip_id,
                    gap_before_ns: gap,
                    df: p.ip.df,
                    ..PktBrief::default()
                });
            }
            return SegKind::Empty;
        };
        self.update_tcp(dir, p, t, gap, in_capture)
    }

    fn update_tcp(
        &mut self,
        dir: usize,
        p: &Packet<'_>,
        t: &TcpHeader<'_>,
        gap: u64,
        in_capture: Option<&'c [u8]>,
    ) -> SegKind {
        let payload_len = p.payload.len() as u32;
        let brief = PktBrief {
            gap_before_ns: gap,
            ..PktBrief::of(p, t)
        };
        let closing = (t.flags.rst() || t.flags.fin()) && self.dirs[dir].closes.len() < MAX_CLOSES;
        // What the peer last sent, for the close record (read only for a close).
        let (trigger, peer_last) = if closing {
            let peer = &self.dirs[1 - dir].baseline.tcp;
            (peer.last_payload, peer.last)
        } else {
            (None, None)
        };
        let d = &mut self.dirs[dir];
        let next_before = d.seq.base.map(|_| d.seq.next);
        let peer_ack = self.dirs[1 - dir].seq.highest_ack;
        let d = &mut self.dirs[dir];
        let (kind, off) = d.seq.update(t, payload_len);
        // (Keepalives and window probes resend 0 or 1 byte: not counted.)
        if kind == SegKind::Retransmission && payload_len > 1 {
            let end = t.seq.wrapping_add(payload_len);
            if peer_ack.is_some_and(|a| (a.wrapping_sub(end) as i32) >= 0) {
                d.seq.acked_retransmission(p.frame, t.seq);
            }
        }
        if let Some(off) = off {
            let added = match in_capture {
                Some(b) if payload_len > 0 => d.stream.insert(off, b, p.frame),
                _ if payload_len > 0 => d.stream.insert_copy(off, p.payload, p.frame),
                _ => Default::default(),
            };
            if added.conflict {
                d.seq.conflict(p.frame);
            }
        }
        if closing {
            // Most directions close once (a FIN, or a RST): grow one record at a
            // time at first, not to the four a `Vec` starts with (a record is
            // ~200 bytes, and tens of thousands of flows are held at once).
            if d.closes.len() == d.closes.capacity() {
                d.closes.reserve_exact(d.closes.len().max(1));
            }
            d.closes.push(CloseInfo {
                frame: p.frame,
                ts: p.ts.0,
                flags: t.flags.0,
                seq: t.seq,
                ack: t.ack,
                window: t.window,
                ttl: p.ip.ttl,
                ip_id: p.ip.ip_id,
                has_timestamps: t.has_timestamps(),
                payload_len,
                df: p.ip.df,
                prev_same: d.baseline.tcp.last,
                trigger,
                peer_last,
                sender_next_seq: next_before,
            });
        }
        if t.flags.rst() {
            // The RST itself is not part of the sender's baseline.
        } else {
            if d.closes.iter().any(|c| c.flags & 0x04 != 0) && d.baseline.tcp.after_rst.len() < 4 {
                if d.baseline.tcp.after_rst.capacity() == 0 {
                    d.baseline.tcp.after_rst.reserve_exact(1);
                }
                d.baseline.tcp.after_rst.push(brief);
            }
            d.baseline.tcp.last = Some(brief);
            if payload_len > 0 {
                d.baseline.tcp.first_payload.get_or_insert(brief);
                d.baseline.tcp.last_payload = Some(brief);
            }
        }
        if t.flags.rst() {
            self.closed = true;
        } else if t.flags.fin() {
            let other = &self.dirs[1 - dir];
            if other.closes.iter().any(|c| c.flags & 0x01 != 0) {
                self.closed = true;
            }
        }
        if let Some(z) = self.zeek.as_mut() {
            let from_first = (dir == TO_SERVER) == self.first_from_client;
            z.on_packet(
                from_first,
                &Seg {
                    flags: t.flags.0,
                    seq: t.seq,
                    ack: t.ack,
                    payload_len,
                    window: t.window,
                },
            );
        }
        kind
    }

    /// Records an ICMP error that quoted a packet of this flow.
    pub(crate) fn add_icmp_error(&mut self, p: &Packet<'_>) {
        if let Transport::Icmp(i) = p.transport {
            if self.icmp_errors.len() < MAX_ICMP {
                self.icmp_errors.push(IcmpError {
                    frame: p.frame,
                    from: p.ip.src,
                    icmp_type: i.icmp_type,
                    code: i.code,
                    v6: i.v6,
                    quoted_ttl: i.quoted.map(|q| q.ttl).unwrap_or(0),
                });
            }
        }
    }

    /// Whether a SYN (without ACK) in this packet starts a new connection on the
    /// same 5-tuple rather than belonging to this one.
    pub(crate) fn is_reuse(&self, t: &TcpHeader<'_>, src: &Endpoint) -> bool {
        if !t.flags.syn() || t.flags.ack() {
            return false;
        }
        let dir = if self.is_to_server(src) {
            TO_SERVER
        } else {
            TO_CLIENT
        };
        match self.dirs[dir].seq.isn {
            // A retransmitted SYN carries the same ISN.
            Some(isn) => isn != t.seq,
            // A SYN from a side that sent none yet: a new connection once this one
            // is over; otherwise a simultaneous open or a late SYN.
            None => self.closed || self.dirs[dir].pkts > 0,
        }
    }
}

/// A flow id that is the same for a given capture on every run: a mix of the
/// first frame number (unique per flow) and the key, kept below 2^53 so JSON
/// consumers read it exactly.
fn flow_id(first_frame: u64, key: &FlowKey) -> u64 {
    let h = key.stable_hash() & 0xffff;
    ((first_frame << 16) | h) & ((1u64 << 53) - 1)
}
