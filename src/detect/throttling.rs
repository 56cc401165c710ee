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

use serde_json::json;

use super::{CaptureContext, Detector, FindingBuilder, FlowView};
use crate::flow::{Flow, TO_CLIENT};
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

/// The detector.
pub struct Throttling;

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
        let f = v.flow;
        let Some((rate, secs)) = goodput(f) else {
            return;
        };
        if secs < MIN_SECONDS {
            return;
        }
        let down = &f.dirs[TO_CLIENT];
        let pause_allowed = ((secs * 1e9 * MAX_PAUSE_SHARE) as i64).max(MIN_PAUSE_ALLOWED_NS);
        if down.max_payload_gap_ns > pause_allowed {
            return;
        }
        let lost = u64::from(down.seq.retransmissions) + u64::from(down.seq.holes);
        let loss = lost as f64 / down.pkts.max(1) as f64;
        if loss < MIN_LOSS || lost < MIN_LOST {
            return;
        }
        let (same, any) = cx.best_goodput(f.server.addr);
        let (confidence, reference, scope) = if same >= rate * MIN_RATIO {
            (0.8, same, "same_server")
        } else if any >= rate * MIN_RATIO {
            (0.6, any, "other_server")
        } else {
            return;
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
    }
}
