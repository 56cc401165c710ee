//! `tcp.injected_rst`: a RST (or FIN) not sent by the endpoint it claims to come
//! from.
//!
//! An on-path injector can copy addresses, ports and a plausible sequence number,
//! but not the claimed sender's IP stack: its TTL (distance), its IP ID counter,
//! its habit of sending RSTs with window 0, its TCP options. And it cannot stop the
//! real sender, which keeps talking after "its" reset. Each such difference is a
//! signal with a weight; a packet is called forged when the combined score reaches
//! 0.5 *and* at least one strong signal (one a real stack cannot produce) is
//! present. Bursts add the published GFW traits (3 RSTs with sequence offsets
//! 0/+1460/+4380, TTLs varying within the burst) and Weaver et al.'s
//! RST_SEQ_CHANGE / RST_ACK_CHANGE.
//!
//! Guards against the benign reasons for a reset (each covered by a lab trap):
//! a server's own RST has its TTL and IP ID; a RST after both FINs is cleanup; a
//! RST answering the first packet after a long idle period is a NAT or firewall
//! that lost its state; a one-hop TTL difference (route change, ECMP) is weak.

use serde_json::{Value, json};

use super::{CaptureContext, Detector, FindingBuilder, FlowView};
use crate::flow::{CloseInfo, Direction, Flow, TO_CLIENT, TO_SERVER};
use crate::report::Finding;

const FIN: u16 = 0x01;
const SYN: u16 = 0x02;
const RST: u16 = 0x04;
const ACK: u16 = 0x10;

/// A packet answering the first packet after this much silence is treated as a
/// state-timeout reset (NAT, stateful firewall), not as censorship.
const IDLE_RESET_NS: u64 = 3_000_000_000;
/// A RST this long after both sides went quiet is not answering anything.
const LATE_NS: i64 = 5_000_000_000;
/// Packets of one burst arrive within this time of the first.
const BURST_NS: i64 = 1_000_000_000;

/// The detector.
pub struct InjectedRst;

#[derive(Clone, Debug)]
struct Signal {
    name: &'static str,
    weight: f64,
    strong: bool,
}

fn sig(name: &'static str, weight: f64, strong: bool) -> Signal {
    Signal {
        name,
        weight,
        strong,
    }
}

/// The initial TTL a sender most likely used (the common defaults 32, 64, 128,
/// 255), from a TTL seen after some hops.
pub(super) fn initial_ttl(ttl: u8) -> u8 {
    match ttl {
        0..=32 => 32,
        33..=64 => 64,
        65..=128 => 128,
        _ => 255,
    }
}

#[inline]
fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl Detector for InjectedRst {
    fn kind(&self) -> &'static str {
        "tcp.injected_rst"
    }

    fn inspect(&self, v: &FlowView<'_>, _cx: &CaptureContext, out: &mut Vec<Finding>) {
        if v.flow.key.proto != 6 {
            return;
        }
        for d in [TO_CLIENT, TO_SERVER] {
            if let Some(f) = judge(v, d) {
                out.push(f);
            }
        }
    }
}

/// Signals that belong to the whole burst of RSTs from one side.
fn burst_signals(rsts: &[&CloseInfo]) -> (Vec<Signal>, Value, Option<&'static str>) {
    let mut s = Vec::new();
    let Some(first) = rsts.first() else {
        return (s, Value::Null, None);
    };
    let burst: Vec<&CloseInfo> = rsts
        .iter()
        .copied()
        .filter(|c| c.ts - first.ts <= BURST_NS)
        .collect();
    let offsets: Vec<u32> = burst
        .iter()
        .map(|c| c.seq.wrapping_sub(first.seq))
        .collect();
    let mut profile = None;
    if burst.len() >= 2 {
        if offsets.iter().all(|o| matches!(o, 0 | 1460 | 4380)) && offsets.iter().any(|o| *o != 0) {
            s.push(sig("gfw_seq_offsets", 0.6, true));
            profile = Some(if burst.iter().all(|c| c.flags & ACK == 0) {
                "gfw-type-1"
            } else {
                "gfw-type-2"
            });
        }
        let lo = burst.iter().map(|c| c.ttl).min().unwrap_or(0);
        let hi = burst.iter().map(|c| c.ttl).max().unwrap_or(0);
        if hi - lo >= 2 {
            s.push(sig("burst_ttl_varies", 0.3, false));
        }
        if burst.len() >= 3 {
            s.push(sig("rst_burst", 0.2, false));
        }
        for w in burst.windows(2) {
            let (a, b) = (w[0], w[1]);
            let beyond_sent = a.sender_next_seq.is_none_or(|n| seq_lt(n, b.seq));
            if seq_lt(a.seq.wrapping_add(2), b.seq) && beyond_sent {
                s.push(sig("rst_seq_change", 0.5, true));
                break;
            }
        }
        for w in burst.windows(2) {
            let (a, b) = (w[0], w[1]);
            if a.flags & ACK != 0 && b.flags & ACK != 0 && a.ack != b.ack {
                s.push(sig("rst_ack_change", 0.35, false));
                break;
            }
        }
    }
    (s, json!(offsets), profile)
}

/// The most common TTL of the side's non-RST packets.
fn ttl_baseline(me: &Direction) -> Option<(u8, u32)> {
    me.baseline.ttl_counts.mode()
}

/// The TTL a side's genuine packets carry: its SYN / SYN-ACK's, else its most
/// common one; with the number of packets behind it.
fn ttl_reference(me: &Direction) -> Option<(u8, u32)> {
    match me.baseline.tcp.syn {
        Some(syn) => Some((syn.ttl, me.baseline.ttl_counts.count(syn.ttl))),
        None => ttl_baseline(me),
    }
}

/// Signals of one RST or FIN packet `c` sent (supposedly) by side `d`.
fn packet_signals(f: &Flow, d: usize, c: &CloseInfo) -> Vec<Signal> {
    let (me, peer) = (&f.dirs[d], &f.dirs[1 - d]);
    let mut s = Vec::new();
    let is_rst = c.flags & RST != 0;
    // TTL the claimed sender does not use: compared with its SYN / SYN-ACK (sent
    // before any trigger, so never forged by a censor reacting to one), else with
    // its most common TTL. A TTL shared by more than 3 of its other packets is its
    // own.
    let base = &me.baseline.ttl_counts;
    if let Some((reference, n)) = ttl_reference(me) {
        let diff = reference.abs_diff(c.ttl);
        let own = base.count(c.ttl) > 3 || (me.baseline.tcp.syn.is_none() && base.count(c.ttl) > 0);
        if !own && diff >= 2 {
            s.push(sig(
                "ttl_mismatch",
                if n >= 2 || me.baseline.tcp.syn.is_some() {
                    0.6
                } else {
                    0.5
                },
                true,
            ));
            if peer
                .baseline
                .ttl_counts
                .mode()
                .is_some_and(|(p, _)| p == c.ttl)
            {
                s.push(sig("ttl_mirrors_peer", 0.1, false));
            }
        } else if !own && diff == 1 {
            s.push(sig("ttl_off_by_one", 0.25, false));
        }
    }
    // Two IP stacks answering as one sender: RSTs whose initial TTLs differ from
    // each other (and from the sender's other packets).
    if is_rst {
        let fam = initial_ttl(c.ttl);
        let base_fam = ttl_baseline(me).map(|(t, _)| initial_ttl(t));
        let other_rst_fam = me
            .closes
            .iter()
            .any(|k| k.flags & RST != 0 && initial_ttl(k.ttl) != fam);
        let differs_from_base = base_fam.is_some_and(|b| b != fam);
        if (base_fam.is_none() && other_rst_fam) || (differs_from_base && base.count(c.ttl) == 0) {
            s.push(sig("multiple_stacks", 0.55, true));
        }
    }
    // A TTL-limited probe answered by a RST "from the server" although the probe
    // could not reach the server's distance: the responder sits on the path.
    if let Some(probe) = c.peer_last {
        let limited = peer
            .baseline
            .ttl_counts
            .mode()
            .is_some_and(|(m, _)| probe.ttl < m);
        let answers = c.ack
            == probe
                .seq
                .wrapping_add(probe.len.max(u32::from(probe.flags & (SYN | FIN) != 0)));
        let sender_hops = initial_ttl(c.ttl) - c.ttl;
        if limited && answers && u16::from(probe.ttl) + 2 <= u16::from(sender_hops) {
            s.push(sig("answered_probe_below_distance", 0.6, true));
        }
    }
    // IP ID (IPv4).
    if f.key.lo.addr.is_ipv4() {
        if let Some(peer_syn) = peer.baseline.tcp.syn {
            if peer_syn.ip_id != 0 && c.ip_id == peer_syn.ip_id {
                s.push(sig("ip_id_copies_peer_syn", 0.4, false));
            }
        }
        if let Some(prev) = c.prev_same {
            let delta = (c.ip_id.wrapping_sub(prev.ip_id)) & 0xffff;
            if me.baseline.ip_id.increments >= 2 && (2000..63_536).contains(&delta) && c.ip_id != 0
            {
                s.push(sig("ip_id_jump", 0.3, false));
            }
            if c.ip_id == 0
                && prev.ip_id != 0
                && me.baseline.tcp.after_rst.iter().all(|a| a.ip_id != 0)
            {
                s.push(sig("ip_id_zero", 0.15, false));
            }
        }
    }
    if is_rst && c.window != 0 {
        s.push(sig("window_nonzero", 0.35, false));
    }
    let negotiated_ts = me
        .baseline
        .tcp
        .syn
        .is_some_and(|x| x.options.timestamps.is_some())
        && peer
            .baseline
            .tcp
            .syn
            .is_some_and(|x| x.options.timestamps.is_some());
    if negotiated_ts && me.baseline.tcp.ts_option_pkts > 0 && !c.has_timestamps {
        s.push(sig("no_timestamp_option", 0.1, false));
    }
    // The claimed sender kept talking after its reset.
    if is_rst {
        // A SYN-ACK after a RST answers a retried SYN (Windows retries after a
        // refusal): not evidence. Copies of one packet seen at two capture points
        // differ in TTL by one: not a different sender.
        let later: Vec<_> = me
            .baseline
            .tcp
            .after_rst
            .iter()
            .filter(|a| a.frame > c.frame && a.ttl.abs_diff(c.ttl) >= 2 && a.flags & SYN == 0)
            .collect();
        if later.iter().any(|a| a.len > 0 || a.flags & FIN != 0) {
            s.push(sig("sender_kept_sending", 0.7, true));
        } else if !later.is_empty() {
            s.push(sig("sender_kept_acking", 0.5, true));
        }
    }
    // Faster than the path: the server cannot answer sooner than the handshake RTT
    // measured here (only meaningful when the capture is near the client).
    if d == TO_CLIENT {
        if let (Some(syn), Some(synack)) = (peer.baseline.tcp.syn, me.baseline.tcp.syn) {
            // Only a single SYN and SYN-ACK give a clean RTT (retries stretch it).
            let clean = peer.baseline.tcp.syn_pkts == 1 && me.baseline.tcp.syn_pkts == 1;
            let rtt = if clean { synack.ts - syn.ts } else { 0 };
            // The RST must answer that packet (acknowledge it), not something older.
            let (asked, answers) = match c.trigger {
                Some(t) => (t.ts, c.ack == t.seq.wrapping_add(t.len)),
                None => (syn.ts, c.ack == syn.seq.wrapping_add(1)),
            };
            if is_rst && answers && rtt >= 2_000_000 && c.ts >= asked && (c.ts - asked) * 2 < rtt {
                s.push(sig("faster_than_rtt", 0.6, true));
            }
        }
    }
    // A RST whose sequence number lies behind data its sender already sent.
    if is_rst {
        if let Some(n) = c.sender_next_seq {
            let behind = n.wrapping_sub(c.seq);
            if (2..(1 << 30)).contains(&behind) && me.payload_bytes > 0 {
                s.push(sig("seq_behind_sent_data", 0.3, false));
            }
        }
    }
    s
}

/// Why this packet cannot be judged as an injection, if it cannot.
fn excluded(f: &Flow, d: usize, c: &CloseInfo) -> bool {
    let peer = &f.dirs[1 - d];
    let me = &f.dirs[d];
    // Both sides already closed with FIN: cleanup.
    let fin_before = |x: &Direction| {
        x.closes
            .iter()
            .any(|k| k.flags & FIN != 0 && k.frame < c.frame)
    };
    if fin_before(me) && fin_before(peer) {
        return true;
    }
    // Answering the first packet after a long silence: lost NAT/firewall state.
    if let Some(last) = c.peer_last {
        if last.gap_before_ns >= IDLE_RESET_NS {
            return true;
        }
    }
    // Long after anything happened: not an answer to a trigger.
    let recent = [c.peer_last.map(|p| p.ts), c.prev_same.map(|p| p.ts)]
        .into_iter()
        .flatten()
        .max();
    if recent.is_some_and(|r| c.ts - r > LATE_NS) {
        return true;
    }
    false
}

/// Data segments forged the same way: a small group of payload packets whose TTL
/// differs by two or more from the sender's usual TTL, arriving *inside* the
/// sender's normal traffic (after its handshake packet and before its last
/// packet). A route change moves every later packet instead, so its TTL group
/// runs to the end of the flow; that is excluded.
fn forged_data(f: &Flow, d: usize) -> Vec<(CloseInfo, Vec<Signal>)> {
    let me = &f.dirs[d];
    let counts = &me.baseline.ttl_counts;
    let Some(mode) = counts.mode_group() else {
        return Vec::new();
    };
    // A side whose usual TTL is an initial value (64, 128, 255...) is the capture
    // host itself: packets of its own with other TTLs are TTL-limited probes it
    // chose to send (traceroute-style measurement), not forgeries.
    if matches!(mode.ttl, 32 | 64 | 128 | 255) {
        return Vec::new();
    }
    let syn = me.baseline.tcp.syn;
    let (reference, after) = match syn {
        Some(x) => (x.ttl, x.frame),
        None if mode.packets >= 2 => (mode.ttl, 0),
        None => return Vec::new(),
    };
    let mut out = Vec::new();
    for g in counts.used() {
        let Some(b) = g.first_payload else { continue };
        // Without a handshake to compare with, the odd group must sit inside the
        // sender's normal traffic: a route change moves every later packet instead.
        let inside =
            syn.is_some() || (mode.first_frame < g.first_frame && mode.last_frame > g.last_frame);
        if g.packets > 3 || reference.abs_diff(g.ttl) < 2 || g.first_frame <= after || !inside {
            continue;
        }
        if b.gap_before_ns >= IDLE_RESET_NS {
            continue;
        }
        // TTL alone is not enough for data (SYN proxies and load balancers answer
        // handshakes with another TTL than the data): it must also answer a probe
        // that could not reach the server, or be contradicted by the real data.
        let mut s = vec![sig("ttl_mismatch", 0.6, true)];
        let peer = &f.dirs[1 - d];
        if let (Some(probe), Some(syn)) = (
            peer.baseline.last_payload_before(b.frame),
            me.baseline.tcp.syn,
        ) {
            let server_hops = initial_ttl(syn.ttl) - syn.ttl;
            let limited = peer
                .baseline
                .ttl_counts
                .mode()
                .is_some_and(|(m, _)| probe.ttl < m);
            if limited && u16::from(probe.ttl) + 1 < u16::from(server_hops) {
                s.push(sig("answered_probe_below_distance", 0.6, true));
            }
        }
        if me.seq.overlap_conflicts > 0 {
            s.push(sig("overlap_with_other_bytes", 0.6, true));
        }
        if s.len() < 2 {
            continue;
        }
        let c = CloseInfo {
            frame: b.frame,
            ts: b.ts,
            flags: g.flags,
            seq: b.seq,
            ack: b.ack,
            window: b.window,
            ttl: g.ttl,
            ip_id: b.ip_id,
            has_timestamps: false,
            payload_len: b.len,
            df: false,
            prev_same: None,
            trigger: None,
            peer_last: None,
            sender_next_seq: None,
        };
        out.push((c, s));
    }
    out
}

/// Drops copies of one packet captured at two points (same header, TTL one
/// apart, within 50 ms): they are not a burst.
fn dedup<'a>(it: impl Iterator<Item = &'a CloseInfo>) -> Vec<&'a CloseInfo> {
    let mut out: Vec<&CloseInfo> = Vec::new();
    for c in it {
        let copy = out.iter().any(|k| {
            k.seq == c.seq
                && k.ack == c.ack
                && k.flags == c.flags
                && k.ip_id == c.ip_id
                && k.ttl.abs_diff(c.ttl) <= 1
                && (c.ts - k.ts).abs() < 50_000_000
        });
        if !copy {
            out.push(c);
        }
    }
    out
}

fn combine(s: &[Signal]) -> f64 {
    1.0 - s.iter().fold(1.0, |acc, x| acc * (1.0 - x.weight))
}

fn judge(v: &FlowView<'_>, d: usize) -> Option<Finding> {
    let f = v.flow;
    let me = &f.dirs[d];
    let rsts: Vec<&CloseInfo> = dedup(me.closes.iter().filter(|c| c.flags & RST != 0));
    let fins: Vec<&CloseInfo> = dedup(me.closes.iter().filter(|c| c.flags & (RST | FIN) == FIN));
    let data = forged_data(f, d);
    if rsts.is_empty() && fins.is_empty() && data.is_empty() {
        return None;
    }
    let (burst, offsets, gfw) = burst_signals(&rsts);
    let mut forged: Vec<(&CloseInfo, Vec<Signal>, f64)> = Vec::new();
    for (c, s) in &data {
        let score = combine(s);
        forged.push((c, s.clone(), score));
    }
    for c in rsts.iter().copied().chain(fins.iter().copied()) {
        if excluded(f, d, c) {
            continue;
        }
        let mut s = packet_signals(f, d, c);
        let is_rst = c.flags & RST != 0;
        if is_rst && c.ts - rsts[0].ts <= BURST_NS {
            s.extend(burst.iter().cloned());
        }
        let score = combine(&s);
        let strong = s.iter().any(|x| x.strong);
        // A forged FIN needs corroboration beyond its TTL.
        let enough = if is_rst {
            strong
        } else {
            strong && s.len() >= 2
        };
        if score >= 0.5 && enough {
            forged.push((c, s, score));
        }
    }
    if forged.is_empty() {
        return None;
    }
    forged.sort_by_key(|x| x.0.frame);
    let first = forged[0].0;
    let confidence = forged.iter().map(|x| x.2).fold(0.0, f64::max);
    let mut names: Vec<&'static str> = forged
        .iter()
        .flat_map(|x| x.1.iter().map(|s| s.name))
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut frames: Vec<u64> = forged.iter().map(|x| x.0.frame).collect();
    let forged_frames = frames.clone();
    // The packets they were compared with.
    let mut reference: Vec<u64> = Vec::new();
    if let Some(syn) = me.baseline.tcp.syn {
        reference.push(syn.frame);
    }
    if let Some(p) = first.prev_same {
        reference.push(p.frame);
    }
    if let Some(a) = me
        .baseline
        .tcp
        .after_rst
        .iter()
        .find(|a| a.frame > first.frame && a.ttl != first.ttl)
    {
        reference.push(a.frame);
    }
    if let Some(t) = first.trigger {
        reference.push(t.frame);
    }
    reference.sort_unstable();
    reference.dedup();
    frames.extend(&reference);
    let flags: Vec<String> = forged
        .iter()
        .map(|x| crate::decode::TcpFlags(x.0.flags).describe())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let ttl_expected = ttl_baseline(me).map(|(t, n)| json!({"ttl": t, "packets": n}));
    let all_df = forged.iter().all(|x| x.0.df);
    let all_win = forged
        .iter()
        .all(|x| x.0.flags & RST == 0 || x.0.window != 0);
    let ttl_in_tsg = forged.iter().all(|x| (48..=247).contains(&x.0.ttl));
    let profile = if let Some(g) = gfw {
        Some(g.to_string())
    } else if forged.len() <= 3
        && all_df
        && all_win
        && ttl_in_tsg
        && names.contains(&"ttl_mismatch")
    {
        // Geedge TSG (leaked docs): 1–3 RST or RST+ACK, DF set, PRNG-chosen IP ID,
        // TTL in 48..=247 and window.
        Some("geedge-tsg".to_string())
    } else if forged.len() == 1
        && first.flags & RST != 0
        && first.window == 0
        && !first.has_timestamps
    {
        // Linux netfilter `REJECT --reject-with tcp-reset` on a router: one RST,
        // window 0, seq taken from the triggering segment's ACK.
        first
            .peer_last
            .filter(|t| t.flags & ACK != 0 && t.ack == first.seq && first.flags & ACK == 0)
            .map(|_| "netfilter-reject".to_string())
    } else {
        None
    };
    let handshake_done = match (
        f.dirs[TO_SERVER].baseline.tcp.syn,
        f.dirs[TO_CLIENT].baseline.tcp.syn,
    ) {
        (Some(a), Some(b)) => a.frame < first.frame && b.frame < first.frame,
        _ => false,
    };
    let blocking = if handshake_done {
        "http-failure"
    } else {
        "tcp_ip"
    };
    let mut b = FindingBuilder::new(v, "tcp.injected_rst", first.ts)
        .confidence(confidence)
        .frames(frames)
        .evidence(
            "claimed_sender",
            if d == TO_CLIENT { "server" } else { "client" },
        )
        .evidence("flags", json!(flags))
        .evidence("forged_frames", json!(forged_frames))
        .evidence("reference_frames", json!(reference))
        .evidence("signals", json!(names))
        .evidence(
            "ttl_seen",
            json!(forged.iter().map(|x| x.0.ttl).collect::<Vec<_>>()),
        )
        .evidence("ttl_expected", ttl_expected.unwrap_or(Value::Null))
        .evidence(
            "ip_id_seen",
            json!(forged.iter().map(|x| x.0.ip_id).collect::<Vec<_>>()),
        )
        .evidence(
            "window_seen",
            json!(forged.iter().map(|x| x.0.window).collect::<Vec<_>>()),
        )
        .evidence("seq_offsets", offsets)
        .trigger_from(v)
        .ooni("connection_reset", blocking);
    if let Some(prev) = first.prev_same {
        b = b.evidence("ip_id_before", prev.ip_id);
    }
    if let Some(p) = profile {
        b = b.profile(p);
    }
    Some(b.build())
}
