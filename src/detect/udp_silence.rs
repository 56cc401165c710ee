//! What QUIC and VPN-over-UDP blocking leaves in a datagram flow: the client
//! keeps sending its handshake, retransmitting it on its own timer (the same
//! datagram size, hundreds of milliseconds to seconds apart), and the server
//! never answers, or answers once and then falls silent while the client
//! retries. Random loss does not look like this: one retransmission gets
//! through. A burst of different datagrams the capture saw one way only (a
//! capture taken on one side of an asymmetric route) does not either. A server
//! that is down does, which is why the detectors that use this also want the
//! server shown working: answering another flow of the capture.

use std::net::IpAddr;

use crate::flow::{Flow, TO_CLIENT, TO_SERVER};

/// Client datagrams a silence needs (the first and at least one retry).
pub(super) const MIN_UNANSWERED: usize = 2;
/// Client datagrams after the server's last one, for a stall.
pub(super) const MIN_AFTER_STALL: usize = 3;
/// The retransmissions must span at least this long (ns): a client's
/// retransmission timer, not a burst the capture cut short.
pub(super) const MIN_SPAN_NS: i64 = 200_000_000;
/// Two retransmissions of a handshake are at least this far apart (ns): QUIC's
/// first probe timeout is a few hundred ms, WireGuard retries after 5 s,
/// OpenVPN after 2 s.
pub(super) const MIN_RETRY_GAP_NS: i64 = 100_000_000;

/// A client that went unanswered.
#[derive(Debug)]
pub(super) struct Silence {
    /// The client's unanswered datagrams (frames), as kept for the flow.
    pub frames: Vec<u64>,
    /// How many of them are the retransmitted handshake (the first one's
    /// size).
    pub retransmissions: usize,
    /// Time from the first to the last retransmission (ns).
    pub span_ns: i64,
    /// The server answered before it fell silent (a stall), and its last frame.
    pub server_last_frame: Option<u64>,
}

impl Silence {
    /// [`Silence::span_ns`] in seconds, to the millisecond (for evidence).
    pub fn span_s(&self) -> f64 {
        (self.span_ns as f64 / 1e6).round() / 1e3
    }
}

/// The client's datagrams the server never answered: all of them when the
/// server sent nothing, else those after its last datagram (a stall) when
/// there are at least [`MIN_AFTER_STALL`]. `None` unless they hold a
/// retransmitted handshake: at least [`MIN_UNANSWERED`] datagrams of the
/// first one's size, each at least [`MIN_RETRY_GAP_NS`] after the one before,
/// spanning at least [`MIN_SPAN_NS`]. Never for multicast or broadcast
/// destinations: nobody answers those from them.
pub(super) fn silence(f: &Flow<'_>) -> Option<Silence> {
    if f.key.proto != 17 || !f.icmp_errors.is_empty() || no_answer_expected(f.server.addr) {
        return None;
    }
    let (up, down) = (&f.dirs[TO_SERVER], &f.dirs[TO_CLIENT]);
    let (after, need, server_last_frame) = if down.pkts == 0 {
        (0, MIN_UNANSWERED, None)
    } else {
        (down.last_frame, MIN_AFTER_STALL, Some(down.last_frame))
    };
    let unanswered: Vec<_> = up.datagrams.iter().filter(|d| d.frame > after).collect();
    // The kept datagrams are the flow's first ones; a stall must also be the
    // end of the flow as counted, not an artefact of what was kept.
    if unanswered.len() < need || (server_last_frame.is_some() && up.last_frame <= after) {
        return None;
    }
    let first = unanswered.first()?;
    let retries: Vec<_> = unanswered.iter().filter(|d| d.len == first.len).collect();
    let spaced = retries
        .windows(2)
        .all(|w| w[1].ts - w[0].ts >= MIN_RETRY_GAP_NS);
    let span_ns = retries.last()?.ts - first.ts;
    if retries.len() < MIN_UNANSWERED || !spaced || span_ns < MIN_SPAN_NS {
        return None;
    }
    Some(Silence {
        frames: unanswered.iter().map(|d| d.frame).collect(),
        retransmissions: retries.len(),
        span_ns,
        server_last_frame,
    })
}

/// Multicast and broadcast addresses: answers to them come from others.
fn no_answer_expected(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => v.is_multicast() || v.is_broadcast(),
        IpAddr::V6(v) => v.is_multicast(),
    }
}
