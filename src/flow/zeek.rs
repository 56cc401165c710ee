//! Zeek-compatible TCP connection state and history.
//!
//! # Why this exists
//!
//! Analysts compare our per-flow output with Zeek's `conn.log`, and the two
//! most-read columns there, `conn_state` and `history`, are not defined by any
//! RFC: they are whatever Zeek's TCP analyzer happens to compute.  A "clean"
//! TCP state machine disagrees with Zeek on many real flows (retransmitted
//! SYNs, RST-after-FIN, half-open connections, missing handshakes, flipped
//! roles, ...).  This module re-implements Zeek's bookkeeping closely enough
//! that, fed the same packets of one connection, it yields the same strings.
//!
//! # What is reproduced
//!
//! * The per-endpoint state machine of Zeek's TCP session adapter
//!   (`INACTIVE`, `SYN_SENT`, `SYN_ACK_SENT`, `PARTIAL`, `ESTABLISHED`,
//!   `CLOSED`, `RESET`), including its quirks: a FIN answering a RST-after-FIN
//!   turns the RST back into `CLOSED`, a RST after a complete FIN exchange is
//!   ignored, a pure ACK following a SYN-ACK (missed SYN) establishes the
//!   connection, a SYN from an endpoint that only sent data re-opens it, etc.
//! * The sequence-number bookkeeping behind those decisions: start, last and
//!   highest-acked sequence numbers with 32-bit wrap counting, relative
//!   sequence numbers, the "too large jump" filter for SYN/RST segments, and
//!   Zeek's endpoint `size` (used by the `REJ` rule), including its special case
//!   for aborted half-open connections.
//! * The `history` string: one letter per first occurrence of a packet class
//!   per direction (`S H A D F R I Q`, upper case = originator), repeated
//!   `S`/`H`/`F`/`R` when the segment's relative sequence number differs from
//!   the previous one of that kind, the logarithmically scaled letters for
//!   retransmissions (`T`), zero windows (`W`) and content gaps (`G`), and `^`
//!   when roles are flipped.
//! * Role flipping (`^` in the history):
//!   - at connection start, Zeek's "likely server port" heuristic for
//!     connections whose first packet is a SYN-ACK or has no SYN (needs ports:
//!     [`ZeekTcp::with_ports`]; [`ZeekTcp::new`] assumes a SYN-ACK came from a
//!     server port and never flips mid-stream starts);
//!   - a SYN-ACK that was not flipped at start is flipped as soon as an ACK or
//!     data segment follows it (Zeek >= 5.1); conn.log then shows the history
//!     as if flipped up front (`^h...`), which we reproduce;
//!   - a SYN answering an earlier SYN-ACK with the matching sequence number
//!     (SYN/SYN-ACK capture reordering) flips and establishes.
//! * `conn_state`, exactly as `conn_state()` in Zeek's
//!   `base/protocols/conn/main.zeek` (including the `RSTOS0` history regex).
//!
//! # Known differences from Zeek
//!
//! * Checksums are not verified (we behave like `zeek -C`): no `C`/`c` letters.
//! * Content gaps (`G`/`g`) come from a simplified reassembler that remembers a
//!   single out-of-order range per direction instead of every block, and it
//!   assumes every payload byte was captured (Zeek also reports gaps for
//!   segments truncated by the snap length).  Zeek only records gaps when its
//!   reassembler is active, which it is for ordinary traffic with default
//!   scripts.
//! * Connection lifetime is the caller's business: Zeek starts a *new*
//!   connection on port reuse (a new SYN after close, see
//!   [`ZeekTcp::is_reuse`]) and expires connections on timers
//!   (`tcp_close_delay`, inactivity, `tcp_attempt_delay`); this tracker only
//!   sees the packets it is given.
//! * Zeek's role flip for connections that start mid-stream depends on the
//!   `likely_server_ports` set, i.e. on which analyzers are loaded.
//!   [`ZEEK_LIKELY_SERVER_PORTS`] is a best-effort copy of the default set;
//!   without ports ([`ZeekTcp::new`]) only the SYN-ACK rule applies.
//! * Role flips caused by application analyzers (e.g. DNS or NTP deciding the
//!   "client" was the server) are out of scope (they are UDP-centric anyway),
//!   and so are history letters that application analyzers add (e.g. `X`,
//!   recorded on a protocol violation) and analyzers that make Zeek stop
//!   looking at a connection (`skip_further_processing`, as the GridFTP
//!   script does), which freezes Zeek's state early.
//! * Checked against Zeek's own btest baselines (conn.log for 171 single-trace
//!   TCP connections): all agree except the cases above, the bare-mode
//!   (`zeek -b`, empty `likely_server_ports`) lone SYN-ACK, and one trace with
//!   many content gaps where our approximate reassembler counts 10+ gaps (a
//!   second `g`) where Zeek counts fewer.
//! * The history is capped at [`HISTORY_CAP`] letters; further letters are
//!   dropped.

/// TCP FIN flag bit in [`Seg::flags`].
pub const FIN: u16 = 0x01;
/// TCP SYN flag bit in [`Seg::flags`].
pub const SYN: u16 = 0x02;
/// TCP RST flag bit in [`Seg::flags`].
pub const RST: u16 = 0x04;
/// TCP PSH flag bit in [`Seg::flags`].
pub const PSH: u16 = 0x08;
/// TCP ACK flag bit in [`Seg::flags`].
pub const ACK: u16 = 0x10;
/// TCP URG flag bit in [`Seg::flags`].
pub const URG: u16 = 0x20;

/// Maximum number of history letters kept (Zeek itself has no cap).
pub const HISTORY_CAP: usize = 32;

/// Best-effort copy of the TCP part of Zeek's default `likely_server_ports`
/// (ports registered by the protocol analyzers loaded by default).
pub const ZEEK_LIKELY_SERVER_PORTS: &[u16] = &[
    21, 22, 23, 25, 53, 80, 81, 88, 102, 110, 111, 135, 139, 143, 389, 443, 445, 502, 512, 513,
    514, 543, 544, 563, 585, 587, 614, 631, 636, 989, 990, 992, 993, 995, 1080, 1883, 2049, 2404,
    3128, 3268, 3306, 3389, 5222, 5223, 5269, 5432, 5900, 6379, 6666, 6667, 6668, 6669, 7000, 8000,
    8080, 8888, 20000, 44818,
];

/// Whether `port` is in [`ZEEK_LIKELY_SERVER_PORTS`].
pub fn is_likely_server_port(port: u16) -> bool {
    ZEEK_LIKELY_SERVER_PORTS.contains(&port)
}

/// One TCP segment as the tracker needs it.
#[derive(Clone, Copy, Debug)]
pub struct Seg {
    /// TCP flags: FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10 URG=0x20.
    pub flags: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful only with ACK).
    pub ack: u32,
    /// TCP payload length in bytes (from the IP length, not the capture).
    pub payload_len: u32,
    /// Advertised window (unscaled, as on the wire).
    pub window: u16,
}

impl Seg {
    fn syn(&self) -> bool {
        self.flags & SYN != 0
    }
    fn fin(&self) -> bool {
        self.flags & FIN != 0
    }
    fn rst(&self) -> bool {
        self.flags & RST != 0
    }
    fn ack_flag(&self) -> bool {
        self.flags & ACK != 0
    }
}

/// Zeek's per-endpoint TCP state (`TCP_INACTIVE` ... `TCP_RESET`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EndpointState {
    /// Nothing seen from this side.
    #[default]
    Inactive,
    /// SYN seen, no ACK.
    SynSent,
    /// SYN-ACK seen without an initial SYN.
    SynAckSent,
    /// Data seen without a SYN.
    Partial,
    /// Handshake completed (or assumed).
    Established,
    /// FIN seen.
    Closed,
    /// RST seen.
    Reset,
}

use EndpointState as St;

/// Zeek's TOO_LARGE_SEQ_DELTA.
const TOO_LARGE_SEQ_DELTA: i32 = 1_048_576;

// History "seen" masks (Zeek's HistoryMasks); the responder's are shifted by 16.
const HIST_SYN: u32 = 0x1;
const HIST_FIN: u32 = 0x2;
const HIST_RST: u32 = 0x4;
const HIST_FIN_RST: u32 = 0x8;
const HIST_DATA: u32 = 0x10;
const HIST_ACK: u32 = 0x20;
const HIST_MULTI_FLAG: u32 = 0x40;

// first_packet_seen bits, by role.
const SEEN_ORIG: u8 = 1;
const SEEN_RESP: u8 = 2;

fn seq_delta(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// Counter/threshold pair for Zeek's logarithmically scaled history letters.
#[derive(Clone, Copy, Debug)]
struct Scaled {
    count: u32,
    thresh: u32,
}

impl Default for Scaled {
    fn default() -> Self {
        Scaled {
            count: 0,
            thresh: 1,
        }
    }
}

impl Scaled {
    /// Returns true when a letter must be added (1st, 10th, 100th, ... event).
    fn bump(&mut self) -> bool {
        self.count = self.count.wrapping_add(1);
        if self.count != self.thresh {
            return false;
        }
        match self.thresh.checked_mul(10) {
            Some(t) => self.thresh = t,
            None => self.count = 0,
        }
        true
    }
}

/// One side of the connection, indexed by "first sender" / "other".
#[derive(Clone, Copy, Debug, Default)]
struct Endpoint {
    state: St,
    prev_state: St,
    /// Initial sequence number (always within u32 range, as in Zeek).
    start_seq: i64,
    last_seq: u32,
    ack_seq: u32,
    seq_wraps: u32,
    ack_wraps: u32,
    fin_cnt: u32,
    /// Relative sequence number just past the FIN (Zeek's FIN_seq).
    fin_seq: u64,
    did_close: bool,
    hist_last_syn: u64,
    hist_last_fin: u64,
    hist_last_rst: u64,
    rxmt: Scaled,
    win0: Scaled,
    gap: Scaled,
    /// Simplified reassembler: next in-order relative sequence number.
    reassem_seq: u64,
    /// Reassembler trim point (highest ack processed).
    trim_seq: u64,
    /// One merged out-of-order range waiting above a hole.
    ooo_lo: u64,
    ooo_hi: u64,
}

impl Endpoint {
    fn fresh() -> Self {
        Endpoint {
            reassem_seq: 1,
            trim_seq: 1,
            ..Endpoint::default()
        }
    }

    fn set_state(&mut self, s: St) {
        if s != self.state {
            self.prev_state = self.state;
            self.state = s;
        }
    }

    fn start_seq32(&self) -> u32 {
        self.start_seq as u32
    }

    fn init_seqs(&mut self, start: u32, last: u32) {
        self.start_seq = i64::from(start);
        self.ack_seq = start;
        self.last_seq = last;
    }

    fn update_last_seq(&mut self, seq: u32) {
        if seq < self.last_seq {
            self.seq_wraps = self.seq_wraps.wrapping_add(1);
        }
        self.last_seq = seq;
    }

    fn update_ack_seq(&mut self, seq: u32) {
        if seq < self.ack_seq {
            self.ack_wraps = self.ack_wraps.wrapping_add(1);
        }
        self.ack_seq = seq;
    }

    fn full(seq: u32, wraps: u32) -> u64 {
        (u64::from(wraps) << 32) + u64::from(seq)
    }

    fn relative_of(&self, seq: u32, wraps: u32) -> u64 {
        Self::full(seq, wraps).wrapping_sub(self.start_seq as u64)
    }

    /// Zeek's `get_relative_seq`: returns (relative seq, underflow).
    fn relative_seq(&self, cur: u32, last: u32, wraps: u32) -> (u64, bool) {
        let mut wraps = wraps;
        let delta = seq_delta(cur, last);
        if delta < 0 {
            if wraps != 0 && cur > last {
                wraps -= 1;
            }
        } else if delta > 0 && cur < last {
            wraps = wraps.wrapping_add(1);
        }
        if wraps == 0 {
            let d = seq_delta(cur, self.start_seq32());
            (i64::from(d) as u64, d < 0)
        } else {
            (self.relative_of(cur, wraps), false)
        }
    }

    fn no_data_acked(&self) -> bool {
        let ack = Self::full(self.ack_seq, self.ack_wraps);
        let start = self.start_seq as u64;
        ack == start || ack == start.wrapping_add(1)
    }

    /// Zeek's `TCP_Endpoint::Size()`.
    fn size(&self, peer: &Endpoint) -> u64 {
        if self.prev_state == St::SynSent
            && self.state == St::Reset
            && peer.state == St::Inactive
            && !self.no_data_acked()
        {
            return 0;
        }
        let last = Self::full(self.last_seq, self.seq_wraps);
        let ack = Self::full(self.ack_seq, self.ack_wraps);
        let mut size = last.max(ack).wrapping_sub(self.start_seq as u64);
        // Neither the SYN nor the FIN octet is payload.
        size = size.saturating_sub(1);
        if self.fin_cnt > 0 && size != 0 {
            size -= 1;
        }
        size
    }
}

/// Zeek's `history` of a connection, held inline: at most [`HISTORY_CAP`]
/// letters. The tracker builds it and the flow record carries a copy, so
/// neither allocates.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct History {
    len: u8,
    letters: [u8; HISTORY_CAP],
}

impl History {
    /// A history of these letters (non-ASCII bytes left out; cut at
    /// [`HISTORY_CAP`]).
    pub fn new(letters: &str) -> History {
        let mut h = History {
            len: 0,
            letters: [0; HISTORY_CAP],
        };
        letters.bytes().for_each(|c| h.push(c));
        h
    }

    /// Appends a letter (ASCII; none beyond [`HISTORY_CAP`]).
    fn push(&mut self, c: u8) {
        if let Some(slot) = self.letters.get_mut(usize::from(self.len)) {
            if c.is_ascii() {
                *slot = c;
                self.len += 1;
            }
        }
    }

    /// The letters.
    pub fn as_str(&self) -> &str {
        let letters = self.letters.get(..usize::from(self.len)).unwrap_or(&[]);
        // Only ASCII is kept.
        std::str::from_utf8(letters).unwrap_or_default()
    }
}

impl std::ops::Deref for History {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

impl std::fmt::Display for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for History {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for History {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Zeek-compatible TCP state and history tracker for one connection.
///
/// Feed every packet of the connection, in capture order, to
/// [`on_packet`](ZeekTcp::on_packet); read [`conn_state`](ZeekTcp::conn_state)
/// and [`history`](ZeekTcp::history) whenever needed.  No heap allocation.
#[derive(Clone, Debug)]
pub struct ZeekTcp {
    /// `ep[0]` = endpoint that sent the first packet, `ep[1]` = the other.
    ep: [Endpoint; 2],
    /// True when Zeek's originator is `ep[1]`.
    flipped: bool,
    started: bool,
    /// The first packet was a SYN-ACK that did not flip roles at creation.
    synack_first: bool,
    /// Port hint: (first packet's source port, destination port,
    /// source likely server, destination likely server).
    ports: Option<(u16, u16, bool, bool)>,
    hist_seen: u32,
    is_partial: bool,
    first_seen: u8,
    hist: History,
}

impl Default for ZeekTcp {
    fn default() -> Self {
        Self::new()
    }
}

impl ZeekTcp {
    /// A tracker without port information: roles are flipped only when the
    /// first packet is a SYN-ACK (or on a SYN/SYN-ACK reordering).
    pub fn new() -> ZeekTcp {
        ZeekTcp {
            ep: [Endpoint::fresh(), Endpoint::fresh()],
            flipped: false,
            started: false,
            synack_first: false,
            ports: None,
            hist_seen: 0,
            is_partial: false,
            first_seen: 0,
            hist: History::default(),
        }
    }

    /// A tracker that also applies Zeek's "likely server port" flip heuristic
    /// for connections whose first packet is not a SYN, using
    /// [`ZEEK_LIKELY_SERVER_PORTS`].  Ports are those of the first packet.
    pub fn with_ports(first_src_port: u16, first_dst_port: u16) -> ZeekTcp {
        Self::with_port_hints(
            first_src_port,
            first_dst_port,
            is_likely_server_port(first_src_port),
            is_likely_server_port(first_dst_port),
        )
    }

    /// Like [`with_ports`](ZeekTcp::with_ports) with the caller's own idea of
    /// which of the two ports is a likely server port.
    pub fn with_port_hints(
        first_src_port: u16,
        first_dst_port: u16,
        src_likely_server: bool,
        dst_likely_server: bool,
    ) -> ZeekTcp {
        let mut z = Self::new();
        z.ports = Some((
            first_src_port,
            first_dst_port,
            src_likely_server,
            dst_likely_server,
        ));
        z
    }

    /// Zeek's originator is the first sender (false when Zeek flipped roles,
    /// e.g. the first packet was a SYN-ACK).
    pub fn orig_is_first(&self) -> bool {
        !self.flipped
    }

    /// Zeek's history string as conn.log prints it (from the originator's
    /// perspective: uppercase = originator).
    pub fn history(&self) -> &str {
        self.hist.as_str()
    }

    /// The history as a value the flow record keeps.
    pub fn history_letters(&self) -> History {
        self.hist
    }

    /// Zeek's endpoint states as (originator, responder).
    pub fn states(&self) -> (EndpointState, EndpointState) {
        (self.orig().state, self.resp().state)
    }

    /// Zeek's `orig$size` / `resp$size` (payload bytes derived from sequence
    /// numbers) as (originator, responder).
    pub fn sizes(&self) -> (u64, u64) {
        (self.orig().size(self.resp()), self.resp().size(self.orig()))
    }

    /// Zeek's conn_state string ("S0", "SF", "REJ", "RSTO", "RSTR", "RSTOS0",
    /// "RSTRH", "SH", "SHR", "S1", "S2", "S3", "OTH").
    pub fn conn_state(&self) -> &'static str {
        let os = self.orig().state;
        let rs = self.resp().state;
        let o_inactive = matches!(os, St::Inactive | St::Partial);
        let r_inactive = matches!(rs, St::Inactive | St::Partial);
        if rs == St::Reset {
            let (osz, rsz) = self.sizes();
            if matches!(os, St::SynSent | St::SynAckSent)
                || (os == St::Reset && osz == 0 && rsz == 0)
            {
                "REJ"
            } else if o_inactive {
                "RSTRH"
            } else {
                "RSTR"
            }
        } else if os == St::Reset {
            if r_inactive {
                if history_is_rstos0(self.history().as_bytes()) {
                    "RSTOS0"
                } else {
                    "OTH"
                }
            } else {
                "RSTO"
            }
        } else if rs == St::Closed && os == St::Closed {
            "SF"
        } else if os == St::Closed {
            if r_inactive { "SH" } else { "S2" }
        } else if rs == St::Closed {
            if o_inactive { "SHR" } else { "S3" }
        } else if os == St::SynSent && rs == St::Inactive {
            "S0"
        } else if os == St::Established && rs == St::Established {
            "S1"
        } else {
            "OTH"
        }
    }

    /// Zeek's `IsReuse` check: would Zeek treat this packet as the start of a
    /// *new* connection on the same 5-tuple (ending this one)?  The caller
    /// decides what to do with the answer (typically: finish this flow and
    /// start a fresh tracker with this packet).
    pub fn is_reuse(&self, from_first: bool, seg: &Seg) -> bool {
        if !self.started || !seg.syn() {
            return false;
        }
        let _ = from_first; // Zeek's check does not depend on the direction.
        let (orig, resp) = (self.orig(), self.resp());
        let mut conn_orig = orig;
        if seg.ack_flag() {
            if orig.state != St::Inactive {
                return false;
            }
            conn_orig = resp;
        }
        let closed = orig.did_close && resp.did_close;
        if !closed {
            if seg.seq == conn_orig.start_seq32() {
                return false;
            }
            if !seg.ack_flag()
                && conn_orig.state == St::SynAckSent
                && resp.state == St::Inactive
                && seg.seq == resp.start_seq32()
            {
                return false;
            }
        }
        true
    }

    fn orig_idx(&self) -> usize {
        usize::from(self.flipped)
    }

    fn orig(&self) -> &Endpoint {
        &self.ep[self.orig_idx()]
    }

    fn resp(&self) -> &Endpoint {
        &self.ep[1 - self.orig_idx()]
    }

    fn is_orig_idx(&self, idx: usize) -> bool {
        idx == self.orig_idx()
    }

    fn add_history(&mut self, c: u8) {
        self.hist.push(c);
    }

    /// Zeek's `CheckHistory`: records `code` the first time `mask` is seen for
    /// this role; returns true if it had been seen before.
    fn check_history(&mut self, is_orig: bool, mask: u32, code: u8) -> bool {
        let (mask, code) = if is_orig {
            (mask, code)
        } else {
            (mask << 16, code.to_ascii_lowercase())
        };
        if self.hist_seen & mask == 0 {
            self.hist_seen |= mask;
            self.add_history(code);
            false
        } else {
            true
        }
    }

    fn add_role_history(&mut self, is_orig: bool, code: u8) {
        let c = if is_orig {
            code
        } else {
            code.to_ascii_lowercase()
        };
        self.add_history(c);
    }

    fn flip_roles(&mut self) {
        self.flipped = !self.flipped;
        let b = self.first_seen;
        self.first_seen = (if b & SEEN_ORIG != 0 { SEEN_RESP } else { 0 })
            | (if b & SEEN_RESP != 0 { SEEN_ORIG } else { 0 });
        self.is_partial = false;
        self.add_history(b'^');
    }

    /// Zeek flips a connection that began with an unflipped SYN-ACK once an
    /// ACK or data segment follows; conn.log then shows the history as if the
    /// flip had happened up front (`^h...`).
    fn late_flip(&mut self) {
        let old = std::mem::take(&mut self.hist);
        self.add_history(b'^');
        for c in old.as_str().bytes() {
            let c = if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            };
            self.add_history(c);
        }
        self.hist_seen = self.hist_seen.rotate_left(16);
        self.flipped = !self.flipped;
        let b = self.first_seen;
        self.first_seen = (if b & SEEN_ORIG != 0 { SEEN_RESP } else { 0 })
            | (if b & SEEN_RESP != 0 { SEEN_ORIG } else { 0 });
        self.is_partial = false;
        // The SYN-ACK sender is now a responder that answered a (missed) SYN.
        let e = &mut self.ep[0];
        if e.state == St::SynAckSent {
            e.state = St::Established;
            e.prev_state = St::Inactive;
        }
    }

    /// Zeek's decision at connection creation (`WantConnection`).
    fn initial_flip(&self, seg: &Seg) -> bool {
        if seg.syn() && !seg.ack_flag() {
            return false;
        }
        match self.ports {
            // Without ports, assume the SYN-ACK came from a server port.
            None => seg.syn(),
            Some((sp, dp, s_likely, d_likely)) => {
                s_likely && (!d_likely || (!seg.syn() && sp < dp))
            }
        }
    }

    fn set_partial_status(&mut self, seg: &Seg, is_orig: bool) {
        if is_orig {
            if self.first_seen & SEEN_ORIG == 0 {
                self.is_partial = !seg.syn() || seg.ack_flag();
            }
        } else if self.first_seen & SEEN_RESP == 0 && !self.is_partial {
            self.is_partial = !seg.syn();
        }
    }

    /// A packet of the connection. `from_first` = sent by the endpoint that
    /// sent the connection's first packet.
    pub fn on_packet(&mut self, from_first: bool, seg: &Seg) {
        if !self.started {
            self.started = true;
            if self.initial_flip(seg) {
                self.flip_roles();
            } else {
                self.synack_first = seg.syn() && seg.ack_flag() && !seg.rst() && !seg.fin();
            }
        } else if self.synack_first {
            self.synack_first = false;
            if seg.flags & (SYN | FIN | RST) == 0 && (seg.ack_flag() || seg.payload_len > 0) {
                self.late_flip();
            }
        }
        let ei = if from_first { 0 } else { 1 };
        let pi = 1 - ei;
        let is_orig = self.is_orig_idx(ei);
        let len = seg.payload_len;
        let len64 = u64::from(len);

        self.set_partial_status(seg, is_orig);

        let mut seg_len = len;
        if seg.syn() {
            seg_len = seg_len.wrapping_add(1);
        }
        if seg.fin() {
            seg_len = seg_len.wrapping_add(1);
        }
        if seg.rst() {
            seg_len = seg_len.wrapping_sub(len);
        }
        let seq_end = seg.seq.wrapping_add(seg_len);

        self.init_endpoint(ei, seg, seq_end);

        let (rel_seq, seq_underflow) = {
            let e = &self.ep[ei];
            e.relative_seq(seg.seq, e.last_seq, e.seq_wraps)
        };

        self.update_history(is_orig, ei, seg, rel_seq, len64);

        // Zero window (Zeek's update_window; scaling does not change zero).
        if seg.window == 0
            && !seg.rst()
            && self.ep[pi].state != St::Closed
            && self.ep[ei].state != St::Reset
            && self.ep[ei].win0.bump()
        {
            self.add_role_history(is_orig, b'W');
        }

        if seg.fin() {
            let e = &mut self.ep[ei];
            e.fin_cnt = e.fin_cnt.wrapping_add(1);
            e.fin_seq = rel_seq.wrapping_add(u64::from(seg_len));
        }

        let mut rel_ack = 0u64;
        if seg.ack_flag() {
            if self.ep[pi].state == St::Inactive {
                rel_ack = 1;
                let a = seg.ack.wrapping_sub(1);
                self.ep[pi].init_seqs(a, a);
            } else {
                let p = &self.ep[pi];
                let (r, under) = p.relative_seq(seg.ack, p.ack_seq, p.ack_wraps);
                if under {
                    rel_ack = 0;
                } else {
                    rel_ack = r;
                    if !seg.rst() {
                        let p = &mut self.ep[pi];
                        let d = seq_delta(seg.ack, p.ack_seq);
                        if !(seg.ack == 0 && d > TOO_LARGE_SEQ_DELTA) && d > 0 {
                            p.update_ack_seq(seg.ack);
                        }
                    }
                }
            }
        }

        self.update_last_seq(is_orig, ei, seq_end, seg, len);

        let do_close = self.update_state_machine(ei, seg, is_orig);

        if seg.ack_flag() {
            self.ack_received(pi, rel_ack);
        }

        if self.first_seen & if is_orig { SEEN_ORIG } else { SEEN_RESP } == 0 {
            self.first_seen |= if is_orig { SEEN_ORIG } else { SEEN_RESP };
        }

        let rel_data_seq = if seg.syn() {
            rel_seq.wrapping_add(1)
        } else {
            rel_seq
        };
        if len > 0 && !seg.rst() && !seq_underflow {
            self.data_sent(ei, rel_data_seq, len64);
        }

        if do_close {
            self.ep[ei].did_close = true;
        }
    }

    fn init_endpoint(&mut self, ei: usize, seg: &Seg, seq_end: u32) {
        let e = &mut self.ep[ei];
        match e.state {
            St::Inactive => {
                if seg.syn() {
                    e.init_seqs(seg.seq, seq_end);
                } else {
                    // Partial connection: pretend a SYN preceded this packet.
                    e.init_seqs(seg.seq.wrapping_sub(1), seg.seq);
                }
            }
            St::SynSent | St::SynAckSent => {
                if seg.syn() && seg.seq != e.start_seq32() {
                    e.init_seqs(seg.seq, seq_end);
                }
            }
            St::Established | St::Partial => {
                if seg.syn() {
                    e.init_seqs(seg.seq, seq_end);
                }
            }
            St::Reset => {
                if seg.syn() && e.prev_state == St::Inactive {
                    e.init_seqs(seg.seq, seq_end);
                }
            }
            St::Closed => {}
        }
    }

    fn update_history(&mut self, is_orig: bool, ei: usize, seg: &Seg, rel_seq: u64, len: u64) {
        let bits = u8::from(seg.syn()) + u8::from(seg.fin()) + u8::from(seg.rst());
        if bits > 1 {
            if seg.fin() && seg.rst() {
                self.check_history(is_orig, HIST_FIN_RST, b'I');
            } else {
                self.check_history(is_orig, HIST_MULTI_FLAG, b'Q');
            }
        } else if bits == 1 {
            if seg.syn() {
                let code = if seg.ack_flag() { b'H' } else { b'S' };
                if self.check_history(is_orig, HIST_SYN, code)
                    && rel_seq != self.ep[ei].hist_last_syn
                {
                    self.add_role_history(is_orig, code);
                }
                self.ep[ei].hist_last_syn = rel_seq;
            }
            if seg.fin() {
                let at = rel_seq.wrapping_add(len);
                if self.check_history(is_orig, HIST_FIN, b'F') && at != self.ep[ei].hist_last_fin {
                    self.add_role_history(is_orig, b'F');
                }
                self.ep[ei].hist_last_fin = at;
            }
            if seg.rst() {
                if self.check_history(is_orig, HIST_RST, b'R')
                    && rel_seq != self.ep[ei].hist_last_rst
                {
                    self.add_role_history(is_orig, b'R');
                }
                self.ep[ei].hist_last_rst = rel_seq;
            }
        } else if len > 0 {
            self.check_history(is_orig, HIST_DATA, b'D');
        } else if seg.ack_flag() {
            self.check_history(is_orig, HIST_ACK, b'A');
        }
    }

    fn update_last_seq(&mut self, is_orig: bool, ei: usize, seq_end: u32, seg: &Seg, len: u32) {
        let e = &mut self.ep[ei];
        let delta = seq_delta(seq_end, e.last_seq);
        let mut rxmit = false;
        if (seg.syn() || seg.rst())
            && !(-TOO_LARGE_SEQ_DELTA..=TOO_LARGE_SEQ_DELTA).contains(&delta)
        {
            // Untrusted jump: ignore.
        } else if seg.fin() && e.last_seq == e.start_seq32().wrapping_add(1) {
            e.update_last_seq(seq_end);
        } else if e.state == St::Reset {
            // Don't trust sequence numbers after a RST.
        } else if delta > 0 {
            e.update_last_seq(seq_end);
        } else if len > 0 {
            rxmit = e.rxmt.bump();
        }
        if rxmit {
            self.add_role_history(is_orig, b'T');
        }
    }

    /// Returns whether Zeek would report this endpoint as closing.
    fn update_state_machine(&mut self, ei: usize, seg: &Seg, is_orig: bool) -> bool {
        let pi = 1 - ei;
        let mut do_close = false;
        match self.ep[ei].state {
            St::Inactive => {
                if seg.syn() {
                    if is_orig {
                        let s = if seg.ack_flag() {
                            St::SynAckSent
                        } else {
                            St::SynSent
                        };
                        self.ep[ei].set_state(s);
                    } else {
                        if !seg.ack_flag()
                            && self.ep[pi].state == St::SynAckSent
                            && seg.seq == self.ep[ei].start_seq32()
                        {
                            // SYN/SYN-ACK reversal: flip and establish.
                            self.is_partial = false;
                            self.flip_roles();
                            self.ep[pi].set_state(St::Established);
                            self.first_seen |= SEEN_ORIG;
                        }
                        if self.ep[pi].state == St::SynSent {
                            self.ep[pi].set_state(St::Established);
                        }
                        self.ep[ei].set_state(St::Established);
                    }
                }
                if seg.fin() {
                    self.ep[ei].set_state(St::Closed);
                    do_close = true;
                }
                if seg.rst() {
                    self.ep[ei].set_state(St::Reset);
                    do_close = true;
                }
                if self.ep[ei].state == St::Inactive {
                    let orig_state = self.orig().state;
                    if !is_orig && seg.payload_len == 0 && orig_state == St::SynSent {
                        // An ACK for the SYN before the SYN-ACK: ignore.
                    } else if seg.ack_flag() && self.ep[pi].state == St::Established {
                        // Missed the SYN; treat as established.
                        self.ep[ei].set_state(St::Established);
                        self.is_partial = false;
                        self.first_seen |= if is_orig { SEEN_ORIG } else { SEEN_RESP };
                    } else {
                        self.ep[ei].set_state(St::Partial);
                    }
                }
            }
            St::SynSent | St::SynAckSent => {
                if seg.fin() {
                    self.ep[ei].set_state(St::Closed);
                    do_close = true;
                }
                if seg.rst() {
                    self.ep[ei].set_state(St::Reset);
                    do_close = true;
                }
            }
            St::Established | St::Partial => {
                if seg.syn()
                    && self.ep[ei].state == St::Partial
                    && self.ep[pi].state == St::Inactive
                    && !seg.ack_flag()
                {
                    self.ep[ei].set_state(St::SynSent);
                }
                if seg.fin() && !seg.rst() {
                    self.ep[ei].set_state(St::Closed);
                    let p = &mut self.ep[pi];
                    if p.state == St::Reset && p.prev_state == St::Closed {
                        // FIN, RST, then the peer's FIN: a normal close after all.
                        p.set_state(St::Closed);
                    }
                    do_close = true;
                }
                if seg.rst() {
                    self.ep[ei].set_state(St::Reset);
                    do_close = true;
                }
            }
            St::Closed => {
                if seg.rst() && self.ep[pi].state != St::Closed {
                    self.ep[ei].set_state(St::Reset);
                    if !self.ep[ei].did_close {
                        do_close = true;
                    }
                }
            }
            St::Reset => {}
        }
        do_close
    }

    /// Simplified `TCP_Reassembler::DataSent` for endpoint `ei`.
    fn data_sent(&mut self, ei: usize, seq: u64, len: u64) {
        let e = &mut self.ep[ei];
        let acked = e.relative_of(e.ack_seq, e.ack_wraps);
        let upper = seq.saturating_add(len);
        let mut seq = seq;
        if seq < acked {
            if upper <= acked {
                return;
            }
            seq = acked;
        }
        if upper <= e.reassem_seq {
            return;
        }
        if seq <= e.reassem_seq {
            e.reassem_seq = upper;
            if e.ooo_hi != 0 && e.ooo_lo <= e.reassem_seq {
                e.reassem_seq = e.reassem_seq.max(e.ooo_hi);
                e.ooo_lo = 0;
                e.ooo_hi = 0;
            }
        } else if e.ooo_hi == 0 {
            e.ooo_lo = seq;
            e.ooo_hi = upper;
        } else {
            e.ooo_lo = e.ooo_lo.min(seq);
            e.ooo_hi = e.ooo_hi.max(upper);
        }
    }

    /// Simplified `TCP_Reassembler::AckReceived` for endpoint `ei` (whose
    /// data was acknowledged up to relative `seq`).
    fn ack_received(&mut self, ei: usize, seq: u64) {
        let e = &self.ep[ei];
        let mut seq = seq;
        if e.fin_cnt > 0 && seq >= e.fin_seq {
            seq = e.fin_seq.wrapping_sub(1);
        }
        if seq <= e.trim_seq {
            return;
        }
        if seq > e.reassem_seq {
            self.undelivered(ei, seq);
        }
        self.ep[ei].trim_seq = seq;
    }

    fn undelivered(&mut self, ei: usize, up_to: u64) {
        if up_to <= 2 && self.is_partial {
            return;
        }
        let (lo, hi) = (self.ep[ei].ooo_lo, self.ep[ei].ooo_hi);
        if hi != 0 && lo >= self.ep[ei].reassem_seq && lo < up_to {
            self.gap(ei);
            let e = &mut self.ep[ei];
            e.reassem_seq = hi;
            e.ooo_lo = 0;
            e.ooo_hi = 0;
        }
        if up_to > self.ep[ei].reassem_seq {
            self.gap(ei);
            self.ep[ei].reassem_seq = up_to;
        }
    }

    fn gap(&mut self, ei: usize) {
        let clean = |e: &Endpoint| {
            e.state == St::Established || (e.state == St::Closed && e.prev_state == St::Established)
        };
        if clean(&self.ep[ei]) && clean(&self.ep[1 - ei]) && self.ep[ei].gap.bump() {
            let is_orig = self.is_orig_idx(ei);
            self.add_role_history(is_orig, b'G');
        }
    }
}

/// Whole-string match of Zeek's `/\^?S[^HAFGIQ]*R.*/`.
fn history_is_rstos0(h: &[u8]) -> bool {
    let h = h.strip_prefix(b"^").unwrap_or(h);
    let Some(rest) = h.strip_prefix(b"S") else {
        return false;
    };
    for &c in rest {
        if c == b'R' {
            return true;
        }
        if b"HAFGIQ".contains(&c) {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packet shorthand: (from_first, flags, seq, ack, len).
    fn run(pkts: &[(bool, u16, u32, u32, u32)]) -> ZeekTcp {
        let mut z = ZeekTcp::new();
        for &(f, flags, seq, ack, len) in pkts {
            z.on_packet(
                f,
                &Seg {
                    flags,
                    seq,
                    ack,
                    payload_len: len,
                    window: 1000,
                },
            );
        }
        z
    }

    const C: u32 = 1000; // client ISN
    const S: u32 = 5000; // server ISN

    #[test]
    fn full_connection_sf() {
        let z = run(&[
            (true, SYN, C, 0, 0),
            (false, SYN | ACK, S, C + 1, 0),
            (true, ACK, C + 1, S + 1, 0),
            (true, ACK | PSH, C + 1, S + 1, 10),
            (false, ACK, S + 1, C + 11, 0),
            (false, ACK | PSH, S + 1, C + 11, 20),
            (true, ACK | FIN, C + 11, S + 21, 0),
            (false, ACK | FIN, S + 21, C + 12, 0),
            (true, ACK, C + 12, S + 22, 0),
        ]);
        assert_eq!(z.conn_state(), "SF");
        assert_eq!(z.history(), "ShADadFf");
        assert!(z.orig_is_first());
        assert_eq!(z.sizes(), (10, 20));
    }

    #[test]
    fn syn_only_s0() {
        let z = run(&[(true, SYN, C, 0, 0)]);
        assert_eq!((z.conn_state(), z.history()), ("S0", "S"));
    }

    #[test]
    fn syn_retransmit_no_repeat() {
        let z = run(&[(true, SYN, C, 0, 0), (true, SYN, C, 0, 0)]);
        assert_eq!((z.conn_state(), z.history()), ("S0", "S"));
        // A SYN with a new ISN re-initialises the endpoint (relative seq 0
        // again), so Zeek does not repeat the letter either.
        let z = run(&[(true, SYN, C, 0, 0), (true, SYN, C + 77, 0, 0)]);
        assert_eq!((z.conn_state(), z.history()), ("S0", "S"));
    }

    #[test]
    fn rejected_rej() {
        let z = run(&[(true, SYN, C, 0, 0), (false, RST | ACK, 0, C + 1, 0)]);
        assert_eq!((z.conn_state(), z.history()), ("REJ", "Sr"));
    }

    #[test]
    fn zeek_rst_behavior_baseline() {
        // Packets of Zeek's tcp/single-rst, syn-then-rst, syn-then-ack-then-rst
        // and syn-then-stuff-then-rst traces, with the expected output of its
        // btest scripts.base.protocols.conn.conn_state-RST-behavior.
        let z = run(&[(true, RST, 0, 0, 0)]);
        assert_eq!((z.history(), z.conn_state()), ("R", "OTH"));
        let z = run(&[(true, SYN, 0, 0, 0), (true, RST, 0, 0, 0)]);
        assert_eq!((z.history(), z.conn_state()), ("SR", "RSTOS0"));
        let z = run(&[
            (true, SYN, 0, 0, 0),
            (false, ACK, 0, 0, 0),
            (true, RST, 0, 0, 0),
        ]);
        assert_eq!((z.history(), z.conn_state()), ("SaR", "RSTOS0"));
        let z = run(&[
            (true, SYN, 0, 0, 0),
            (false, ACK, 0, 0, 0),
            (true, FIN, 0, 0, 0),
            (true, RST, 0, 0, 0),
        ]);
        assert_eq!((z.history(), z.conn_state()), ("SaFR", "OTH"));
    }

    /// Runs packets (from_first, flags, seq, ack, len, window) on `z`.
    fn feed(z: &mut ZeekTcp, pkts: &[(bool, u16, u32, u32, u32, u16)]) {
        for &(f, flags, seq, ack, payload_len, window) in pkts {
            z.on_packet(
                f,
                &Seg {
                    flags,
                    seq,
                    ack,
                    payload_len,
                    window,
                },
            );
        }
    }

    #[test]
    fn zeek_flip_without_syn_baseline() {
        // Zeek's tcp/http-on-irc-port-missing-syn.pcapng (80 -> 6669, both
        // likely server ports, SYN missing); conn.log: "^hADadFf" SF 136 5007.
        let mut z = ZeekTcp::with_ports(80, 6669);
        feed(
            &mut z,
            &[
                (true, 18, 2779762238, 4263588411, 0, 14480),
                (false, 16, 4263588411, 2779762239, 0, 8235),
                (false, 24, 4263588411, 2779762239, 136, 8235),
                (true, 16, 2779762239, 4263588547, 0, 122),
                (true, 16, 2779762239, 4263588547, 1448, 122),
                (true, 16, 2779763687, 4263588547, 1448, 122),
                (true, 16, 2779765135, 4263588547, 1448, 122),
                (true, 24, 2779766583, 4263588547, 663, 122),
                (false, 16, 4263588547, 2779765135, 0, 8054),
                (false, 16, 4263588547, 2779767246, 0, 7922),
                (false, 17, 4263588547, 2779767246, 0, 8192),
                (true, 17, 2779767246, 4263588548, 0, 122),
                (false, 16, 4263588548, 2779767247, 0, 8192),
            ],
        );
        assert!(!z.orig_is_first());
        assert_eq!((z.history(), z.conn_state()), ("^hADadFf", "SF"));
        assert_eq!(z.sizes(), (136, 5007));
    }

    #[test]
    fn zeek_handshake_reorder() {
        // Zeek's tcp/handshake-reorder.pcap with likely_server_ports = {}:
        // SYN-ACK captured before its SYN; Zeek flips on the SYN.
        let mut z = ZeekTcp::with_port_hints(80, 59856, false, false);
        feed(
            &mut z,
            &[
                (true, 18, 2779762238, 4263588411, 0, 14480),
                (false, 2, 4263588410, 0, 0, 65535),
                (false, 16, 4263588411, 2779762239, 0, 8235),
                (false, 24, 4263588411, 2779762239, 136, 8235),
                (true, 16, 2779762239, 4263588547, 0, 122),
            ],
        );
        assert!(!z.orig_is_first());
        assert_eq!(z.conn_state(), "S1");
    }

    #[test]
    fn lone_synack_without_likely_ports_not_flipped() {
        // As in Zeek's bare-mode wikipedia.pcap baselines: "H", OTH.
        let mut z = ZeekTcp::with_port_hints(80, 6705, false, false);
        feed(
            &mut z,
            &[(true, SYN | ACK, 1385838722, 3057737591, 0, 16384)],
        );
        assert!(z.orig_is_first());
        assert_eq!((z.history(), z.conn_state()), ("H", "OTH"));
    }

    #[test]
    fn orig_abort_rsto() {
        let z = run(&[
            (true, SYN, C, 0, 0),
            (false, SYN | ACK, S, C + 1, 0),
            (true, ACK, C + 1, S + 1, 0),
            (true, RST, C + 1, 0, 0),
        ]);
        assert_eq!((z.conn_state(), z.history()), ("RSTO", "ShAR"));
    }

    #[test]
    fn resp_abort_rstr() {
        let z = run(&[
            (true, SYN, C, 0, 0),
            (false, SYN | ACK, S, C + 1, 0),
            (true, ACK, C + 1, S + 1, 0),
            (true, ACK | PSH, C + 1, S + 1, 5),
            (false, RST | ACK, S + 1, C + 6, 0),
        ]);
        assert_eq!((z.conn_state(), z.history()), ("RSTR", "ShADr"));
    }

    #[test]
    fn synack_first_flips() {
        // Same shape as Zeek's tcp/missing-syn.pcap baseline: "^hADdFaf", SF.
        let z = run(&[
            (true, SYN | ACK, S, C + 1, 0),
            (false, ACK, C + 1, S + 1, 0),
            (false, ACK | PSH, C + 1, S + 1, 98),
            (true, ACK, S + 1, C + 99, 1448),
            (false, ACK, C + 99, S + 1449, 0),
            (false, ACK | FIN, C + 99, S + 1449, 0),
            (true, ACK, S + 1449, C + 100, 0),
            (true, ACK | FIN, S + 1449, C + 100, 0),
            (false, ACK, C + 100, S + 1450, 0),
        ]);
        assert!(!z.orig_is_first());
        assert_eq!((z.conn_state(), z.history()), ("SF", "^hADdFaf"));
        assert_eq!(z.sizes(), (98, 1448));
    }

    #[test]
    fn synack_only_then_rst() {
        let z = run(&[(true, SYN | ACK, S, C + 1, 0), (false, RST, C + 1, 0, 0)]);
        assert!(!z.orig_is_first());
        // Responder (SYN-ACK sender) in SYN_ACK_SENT, originator reset.
        assert_eq!(z.history(), "^hR");
    }

    #[test]
    fn synack_then_rst_from_server_rstrh() {
        let z = run(&[(true, SYN | ACK, S, C + 1, 0), (true, RST, S + 1, 0, 0)]);
        assert_eq!((z.conn_state(), z.history()), ("RSTRH", "^hr"));
    }

    #[test]
    fn midstream_oth() {
        let z = run(&[
            (true, ACK | PSH, C, S, 100),
            (false, ACK, S, C + 100, 0),
            (true, ACK | PSH, C + 100, S, 100),
        ]);
        assert_eq!((z.conn_state(), z.history()), ("OTH", "Da"));
    }

    #[test]
    fn midstream_likely_server_port_flips() {
        let mut z = ZeekTcp::with_ports(80, 51000);
        z.on_packet(
            true,
            &Seg {
                flags: ACK | PSH,
                seq: S,
                ack: C,
                payload_len: 100,
                window: 10,
            },
        );
        assert!(!z.orig_is_first());
        assert_eq!(z.history(), "^d");
    }

    #[test]
    fn half_open_sh_and_shr() {
        let z = run(&[(true, SYN, C, 0, 0), (true, FIN, C + 1, 0, 0)]);
        assert_eq!((z.conn_state(), z.history()), ("SH", "SF"));
        let z = run(&[
            (true, SYN | ACK, S, C + 1, 0),
            (true, FIN | ACK, S + 1, C + 1, 0),
        ]);
        assert_eq!((z.conn_state(), z.history()), ("SHR", "^hf"));
    }

    #[test]
    fn s1_s2_s3() {
        let hs = [
            (true, SYN, C, 0, 0),
            (false, SYN | ACK, S, C + 1, 0),
            (true, ACK, C + 1, S + 1, 0),
        ];
        let z = run(&hs);
        assert_eq!((z.conn_state(), z.history()), ("S1", "ShA"));
        let mut v = hs.to_vec();
        v.push((true, FIN | ACK, C + 1, S + 1, 0));
        assert_eq!(run(&v).conn_state(), "S2");
        let mut v = hs.to_vec();
        v.push((false, FIN | ACK, S + 1, C + 1, 0));
        let z = run(&v);
        assert_eq!((z.conn_state(), z.history()), ("S3", "ShAf"));
    }

    #[test]
    fn rst_after_fin_then_fin_is_sf() {
        let z = run(&[
            (true, SYN, C, 0, 0),
            (false, SYN | ACK, S, C + 1, 0),
            (true, ACK, C + 1, S + 1, 0),
            (true, FIN | ACK, C + 1, S + 1, 0),
            (true, RST, C + 2, 0, 0),
            (false, FIN | ACK, S + 1, C + 2, 0),
        ]);
        assert_eq!((z.conn_state(), z.history()), ("SF", "ShAFRf"));
    }

    #[test]
    fn rst_after_complete_close_ignored() {
        let z = run(&[
            (true, SYN, C, 0, 0),
            (false, SYN | ACK, S, C + 1, 0),
            (true, ACK, C + 1, S + 1, 0),
            (true, FIN | ACK, C + 1, S + 1, 0),
            (false, FIN | ACK, S + 1, C + 2, 0),
            (true, RST, C + 2, 0, 0),
        ]);
        assert_eq!((z.conn_state(), z.history()), ("SF", "ShAFfR"));
    }

    #[test]
    fn retransmissions_scaled() {
        let mut v = vec![
            (true, SYN, C, 0, 0),
            (false, SYN | ACK, S, C + 1, 0),
            (true, ACK, C + 1, S + 1, 0),
            (true, ACK | PSH, C + 1, S + 1, 10),
        ];
        for _ in 0..10 {
            v.push((true, ACK | PSH, C + 1, S + 1, 10));
        }
        let z = run(&v);
        assert_eq!(z.history(), "ShADTT");
    }

    #[test]
    fn zero_window() {
        let mut z = run(&[(true, SYN, C, 0, 0), (false, SYN | ACK, S, C + 1, 0)]);
        z.on_packet(
            true,
            &Seg {
                flags: ACK,
                seq: C + 1,
                ack: S + 1,
                payload_len: 0,
                window: 0,
            },
        );
        assert_eq!(z.history(), "ShAW");
    }

    #[test]
    fn content_gap() {
        let z = run(&[
            (true, SYN, C, 0, 0),
            (false, SYN | ACK, S, C + 1, 0),
            (true, ACK, C + 1, S + 1, 0),
            // bytes 1..=100 never captured
            (true, ACK | PSH, C + 101, S + 1, 100),
            (false, ACK, S + 1, C + 201, 0),
        ]);
        assert_eq!(z.history(), "ShADaG");
        // Out-of-order delivery without loss: no gap.
        let z = run(&[
            (true, SYN, C, 0, 0),
            (false, SYN | ACK, S, C + 1, 0),
            (true, ACK, C + 1, S + 1, 0),
            (true, ACK | PSH, C + 101, S + 1, 100),
            (true, ACK | PSH, C + 1, S + 1, 100),
            (false, ACK, S + 1, C + 201, 0),
        ]);
        // Zeek counts the late in-order segment as a retransmission.
        assert_eq!(z.history(), "ShADTa");
    }

    #[test]
    fn flag_combos() {
        let z = run(&[(true, SYN | FIN, C, 0, 0), (false, FIN | RST, S, 0, 0)]);
        assert_eq!(z.history(), "Qi");
    }

    #[test]
    fn rstos0_regex() {
        assert!(history_is_rstos0(b"SR"));
        assert!(history_is_rstos0(b"^SdR"));
        assert!(history_is_rstos0(b"SaR"));
        assert!(!history_is_rstos0(b"SaFR"));
        assert!(!history_is_rstos0(b"R"));
        assert!(history_is_rstos0(b"ShR")); // case-sensitive: 'h' allowed
        assert!(!history_is_rstos0(b"SAR"));
    }

    #[test]
    fn reuse_detection() {
        let z = run(&[
            (true, SYN, C, 0, 0),
            (false, SYN | ACK, S, C + 1, 0),
            (true, FIN | ACK, C + 1, S + 1, 0),
            (false, FIN | ACK, S + 1, C + 2, 0),
        ]);
        let same = Seg {
            flags: SYN,
            seq: C,
            ack: 0,
            payload_len: 0,
            window: 1,
        };
        let new = Seg {
            seq: C + 999,
            ..same
        };
        assert!(z.is_reuse(true, &same)); // closed: any SYN starts anew
        let open = run(&[(true, SYN, C, 0, 0)]);
        assert!(!open.is_reuse(true, &same));
        assert!(open.is_reuse(true, &new));
    }

    #[test]
    fn history_cap_no_panic() {
        let mut z = ZeekTcp::new();
        z.on_packet(
            true,
            &Seg {
                flags: SYN,
                seq: C,
                ack: 0,
                payload_len: 0,
                window: 1,
            },
        );
        // FINs at ever new sequence numbers each add an 'F'.
        for i in 0..200u32 {
            z.on_packet(
                true,
                &Seg {
                    flags: FIN,
                    seq: C + 1 + i,
                    ack: 0,
                    payload_len: 0,
                    window: 1,
                },
            );
        }
        assert_eq!(z.history().len(), HISTORY_CAP);
        assert_eq!(z.conn_state(), "SH");
    }

    #[test]
    fn small() {
        assert!(std::mem::size_of::<ZeekTcp>() <= 320);
    }
}
