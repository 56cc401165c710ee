//! `tcp.blackhole`: packets silently dropped.
//!
//! Two shapes. A connection attempt whose SYNs are retransmitted without any
//! answer (no SYN-ACK, no RST, no ICMP error) while other servers in the same
//! capture do answer: the path to this server is dropped, not the network down.
//! And a connection that was established but whose first payload (the request or
//! ClientHello that names the site) is retransmitted and never acknowledged while
//! the server sends nothing: something after the handshake swallowed exactly that
//! payload — Kazakhstan's SNI drop looks like this. Plain random loss does not:
//! one of the retransmissions gets through and is acknowledged.

use serde_json::json;

use super::{CaptureContext, Detector, FindingBuilder, FlowView};
use crate::flow::{TO_CLIENT, TO_SERVER};
use crate::report::Finding;

/// The detector.
pub struct Blackhole;

impl Detector for Blackhole {
    fn kind(&self) -> &'static str {
        "tcp.blackhole"
    }

    fn inspect(&self, v: &FlowView<'_>, cx: &CaptureContext, out: &mut Vec<Finding>) {
        let f = v.flow;
        if f.key.proto != 6 {
            return;
        }
        let (up, down) = (&f.dirs[TO_SERVER], &f.dirs[TO_CLIENT]);
        let Some(syn) = up.baseline.tcp.syn else {
            return;
        };
        // SYNs unanswered.
        if down.pkts == 0
            && up.payload_bytes == 0
            && up.pkts >= 2
            && up.closes.is_empty()
            && f.icmp_errors.is_empty()
        {
            if !cx.other_server_answered(f.server.addr)
                || cx.client_probes_many_dead_peers(f.client.addr)
            {
                return;
            }
            let retries = up.pkts - 1;
            let secs = (f.last_ts.0 - f.first_ts.0) as f64 / 1e9;
            out.push(
                FindingBuilder::new(v, "tcp.blackhole", syn.ts)
                    .confidence(0.5 + 0.1 * (retries.min(3) as f64))
                    .frames(vec![up.first_frame, up.last_frame])
                    .evidence("stage", "syn")
                    .evidence("syn_retransmissions", retries)
                    .evidence("waited_s", (secs * 1000.0).round() / 1000.0)
                    .evidence("other_servers_answered", true)
                    .trigger_from(v)
                    .ooni("generic_timeout_error", "tcp_ip")
                    .build(),
            );
            return;
        }
        // Established and flowing, then the client's packets stop arriving: the
        // server retransmits data the client has already acknowledged (here, in
        // the capture), again and again. One lost ACK causes one such
        // retransmission; three need every ACK in between lost.
        if let Some((first, next_then)) = down.seq.first_acked_retransmission {
            if down.seq.max_acked_repeats >= 3 && up.last_frame > first {
                let resumed = down.seq.next != next_then;
                out.push(
                    FindingBuilder::new(v, "tcp.blackhole", f.first_ts.0)
                        .confidence(0.6)
                        .frames(vec![first, down.last_frame])
                        .evidence("stage", "client_to_server_dropped")
                        .evidence("acked_data_retransmitted", down.seq.acked_retransmissions)
                        .evidence("same_segment_resent", down.seq.max_acked_repeats)
                        .evidence("server_resumed_later", resumed)
                        .trigger_from(v)
                        .ooni("generic_timeout_error", "http-failure")
                        .build(),
                );
                return;
            }
        }
        // Established, first payload never acknowledged, server silent.
        let Some(synack) = down.baseline.tcp.syn else {
            return;
        };
        let Some(first_payload) = up.first_payload_frame else {
            return;
        };
        let Some(base) = up.seq.base else { return };
        let acked_payload = down
            .seq
            .highest_ack
            .is_some_and(|a| (a.wrapping_sub(base) as i32) > 0);
        if down.payload_bytes == 0
            && !acked_payload
            && up.seq.retransmissions >= 2
            && down.closes.is_empty()
        {
            let secs = (f.last_ts.0 - f.first_ts.0) as f64 / 1e9;
            out.push(
                FindingBuilder::new(v, "tcp.blackhole", f.first_ts.0)
                    .confidence(0.7)
                    .frames(vec![synack.frame, first_payload, up.last_frame])
                    .evidence("stage", "after_first_payload")
                    .evidence("handshake_frames", json!([syn.frame, synack.frame]))
                    .evidence("payload_retransmissions", up.seq.retransmissions)
                    .evidence("server_ack_covers_payload", false)
                    .evidence("waited_s", (secs * 1000.0).round() / 1000.0)
                    .trigger_from(v)
                    .ooni("generic_timeout_error", "http-failure")
                    .build(),
            );
        }
    }
}
