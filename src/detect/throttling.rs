//! `throttling`: a download held to a rate far below what the path carries,
//! by a policer that drops what exceeds its rate.
//!
//! Russia's TSPU held Twitter to ~128 kbit/s and Kazakhstan throttles by SNI
//! (research/signatures.md): the server sends, the policer drops what exceeds
//! the rate, the server retransmits, and the transfer crawls along at the
//! policed rate. Three things must hold, so that a slow server or a lossy
//! path is not accused:
//! - a transfer long enough to have a rate ([`MIN_BYTES`] over at least
//!   [`MIN_SECONDS`], timed from the server's first to its last payload) and
//!   without a pause longer than its sender's retransmission timer would make
//!   (a keep-alive connection idle between requests has no single rate);
//! - the policer's loss: server segments retransmitted or missing (holes),
//!   at least [`MIN_LOST`] and [`MIN_LOSS`] of them — a server that sends
//!   slowly by itself (a rate limit of its own) loses nothing;
//! - the path shown to carry far more: another transfer of the capture ran at
//!   least [`MIN_RATIO`] times faster, from the same server (stronger: the
//!   same path and host, only this flow held back) or from any server.
//!
//! A page too small to have a rate is throttled in its TLS handshake instead,
//! as Kazakhstan held azattyq.org and currenttime.tv in 2022 (OONI: handshakes
//! that completed, in over 2 s and often over 4, where others on the same
//! network took a fraction of that; by SNI, since the same addresses were
//! fast under other names). The policer delays the server's certificate
//! flight, so the client's answer to it comes seconds after its ClientHello;
//! that is accused only with loss (server segments retransmitted or missing,
//! or, seen from behind the policer, the flight split by a pause of a second
//! or more: a slow server loses nothing and writes its flight at once) and
//! when the same server and port ended another handshake of the capture at
//! least [`MIN_RATIO`] times sooner (`stage: tls_handshake`).

use serde_json::json;

use super::{CaptureContext, Detector, FindingBuilder, FlowView};
use crate::flow::{Flow, TO_CLIENT, TO_SERVER};
use crate::proto::{AppProto, starts_with_server_hello};
use crate::report::Finding;

/// Server payload bytes a transfer needs to be judged.
pub(super) const MIN_BYTES: u64 = 32 * 1024;
/// Seconds the server's data must span.
const MIN_SECONDS: f64 = 1.0;
/// Share of server segments retransmitted or missing.
const MIN_LOSS: f64 = 0.02;
/// How much faster another transfer must have run.
const MIN_RATIO: f64 = 8.0;
/// Server segments retransmitted or missing, at least.
const MIN_LOST: u64 = 5;
/// The longest pause in the server's data, as a share of the transfer (and
/// at least [`MIN_PAUSE_ALLOWED_NS`]): a policed transfer never stops longer
/// than the sender's retransmission timeout; a connection idle between
/// requests does.
const MAX_PAUSE_SHARE: f64 = 0.1;
const MIN_PAUSE_ALLOWED_NS: i64 = 1_500_000_000;

/// The shortest handshake accused of being throttled (OONI's threshold for
/// Kazakhstan, 2022).
const MIN_HANDSHAKE_NS: u64 = 2_000_000_000;
/// Server segments lost during a throttled handshake, at least, when its
/// flight did not stall.
const MIN_HANDSHAKE_LOST: u64 = 2;
/// A pause inside the server's handshake flight that only a drop and its
/// retransmission make (a server writes the flight at once; one lost
/// segment on a lossy path costs a retransmission timeout of ~0.2-0.4 s).
const MIN_FLIGHT_STALL_NS: i64 = 1_000_000_000;

/// The detector.
pub struct Throttling;

/// A TLS handshake as its client saw it end.
#[derive(Clone, Copy, Debug)]
pub(super) struct Handshake {
    /// The ClientHello's (first) frame.
    pub hello_frame: u64,
    /// The server's first payload frame (its ServerHello).
    pub server_frame: u64,
    /// The client's answer to the server's flight.
    pub answer_frame: u64,
    /// From the ClientHello to the answer, in ns.
    pub ns: u64,
}

/// The handshake of a TCP flow whose server sent a payload and whose client
/// answered it (the caller checks that the payload was a ServerHello).
pub(super) fn tls_handshake(f: &Flow<'_>) -> Option<Handshake> {
    if f.key.proto != 6 {
        return None;
    }
    let up = &f.dirs[TO_SERVER];
    let hello = up.baseline.tcp.first_payload?;
    let server_frame = f.dirs[TO_CLIENT].first_payload_frame?;
    let (answer_frame, answer_ts) = up.first_answer?;
    let ns = u64::try_from(answer_ts.0 - hello.ts).ok()?;
    Some(Handshake {
        hello_frame: hello.frame,
        server_frame,
        answer_frame,
        ns,
    })
}

/// A TCP transfer's server → client goodput in bit/s and its duration in
/// seconds, when it carried at least [`MIN_BYTES`].
pub(super) fn goodput(f: &Flow<'_>) -> Option<(f64, f64)> {
    let down = &f.dirs[TO_CLIENT];
    if f.key.proto != 6 || down.payload_bytes < MIN_BYTES {
        return None;
    }
    let first = down.baseline.tcp.first_payload?.ts;
    let secs = (down.last_payload_ts.0 - first) as f64 / 1e9;
    (secs > 0.0).then(|| (down.payload_bytes as f64 * 8.0 / secs, secs))
}

impl Detector for Throttling {
    fn kind(&self) -> &'static str {
        "throttling"
    }

    fn inspect(&self, v: &FlowView<'_>, cx: &CaptureContext, out: &mut Vec<Finding>) {
        if !transfer(v, cx, out) {
            handshake(v, cx, out);
        }
    }
}

/// A transfer held to a policed rate; returns whether it was accused.
fn transfer(v: &FlowView<'_>, cx: &CaptureContext, out: &mut Vec<Finding>) -> bool {
    let f = v.flow;
    let Some((rate, secs)) = goodput(f) else {
        return false;
    };
    if secs < MIN_SECONDS {
        return false;
    }
    let down = &f.dirs[TO_CLIENT];
    let pause_allowed = ((secs * 1e9 * MAX_PAUSE_SHARE) as i64).max(MIN_PAUSE_ALLOWED_NS);
    if down.max_payload_gap_ns > pause_allowed {
        return false;
    }
    let lost = u64::from(down.seq.retransmissions) + u64::from(down.seq.holes);
    let loss = lost as f64 / down.pkts.max(1) as f64;
    if loss < MIN_LOSS || lost < MIN_LOST {
        return false;
    }
    let (same, any) = cx.best_goodput(f.server.addr);
    let (confidence, reference, scope) = if same >= rate * MIN_RATIO {
        (0.8, same, "same_server")
    } else if any >= rate * MIN_RATIO {
        (0.6, any, "other_server")
    } else {
        return false;
    };
    let kbit = |r: f64| (r / 1e3).round();
    let first = down.first_payload_frame.unwrap_or(down.first_frame);
    out.push(
        FindingBuilder::new(v, "throttling", f.first_ts.0)
            .confidence(confidence)
            .frames(vec![first, down.last_frame])
            .evidence("goodput_kbit_s", kbit(rate))
            .evidence("transfer_bytes", down.payload_bytes)
            .evidence("transfer_s", json!((secs * 1e3).round() / 1e3))
            .evidence("server_segments", down.pkts)
            .evidence("retransmitted_segments", down.seq.retransmissions)
            .evidence("holes", down.seq.holes)
            .evidence("loss_share", json!((loss * 1e3).round() / 1e3))
            .evidence(
                "longest_pause_s",
                json!((down.max_payload_gap_ns as f64 / 1e6).round() / 1e3),
            )
            .evidence("path_goodput_kbit_s", kbit(reference))
            .evidence("path_reference", scope)
            .evidence("slower_by", json!((reference / rate * 10.0).round() / 10.0))
            .trigger_from(v)
            .build(),
    );
    true
}

/// A TLS handshake held back by a policer (see the module docs).
fn handshake(v: &FlowView<'_>, cx: &CaptureContext, out: &mut Vec<Finding>) {
    let f = v.flow;
    if v.app.proto != AppProto::Tls || !starts_with_server_hello(v.down) {
        return;
    }
    let Some(h) = tls_handshake(f) else { return };
    let down = &f.dirs[TO_CLIENT];
    let lost = u64::from(down.seq.retransmissions) + u64::from(down.seq.holes);
    // The policer's drops: segments the client saw twice or out of order, or
    // (captured at the client, behind the policer) the flight split by the
    // server's retransmission timer.
    let stalled = down.flight_stall_ns >= MIN_FLIGHT_STALL_NS;
    if h.ns < MIN_HANDSHAKE_NS || !(stalled || lost >= MIN_HANDSHAKE_LOST) {
        return;
    }
    let Some((control, control_ns)) = cx.tls_served(f).fastest else {
        return;
    };
    if (control_ns as f64) * MIN_RATIO > h.ns as f64 {
        return;
    }
    let s = |ns: u64| json!((ns as f64 / 1e6).round() / 1e3);
    let syn = |d: usize| f.dirs[d].baseline.tcp.syn.map(|x| x.ts);
    let syn_to_syn_ack_ms = match (syn(TO_SERVER), syn(TO_CLIENT)) {
        (Some(a), Some(b)) => json!(((b - a) as f64 / 1e3).round() / 1e3),
        _ => serde_json::Value::Null,
    };
    out.push(
        FindingBuilder::new(v, "throttling", f.first_ts.0)
            .confidence(0.7)
            .frames(vec![h.hello_frame, h.server_frame, h.answer_frame])
            .evidence("stage", "tls_handshake")
            .evidence("handshake_s", s(h.ns))
            .evidence("client_hello_frame", h.hello_frame)
            .evidence("server_hello_frame", h.server_frame)
            .evidence("client_answer_frame", h.answer_frame)
            .evidence("syn_to_syn_ack_ms", syn_to_syn_ack_ms)
            .evidence("server_segments", down.pkts)
            .evidence("retransmitted_segments", down.seq.retransmissions)
            .evidence("holes", down.seq.holes)
            .evidence(
                "server_flight_stall_s",
                s(down.flight_stall_ns.max(0) as u64),
            )
            .evidence(
                "same_server_handshake",
                json!({"flow_id": control, "handshake_s": s(control_ns)}),
            )
            .evidence(
                "slower_by",
                json!((h.ns as f64 / control_ns.max(1) as f64 * 10.0).round() / 10.0),
            )
            .trigger_from(v)
            .build(),
    );
}
