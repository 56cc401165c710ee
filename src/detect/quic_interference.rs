//! `quic.interference`: QUIC Initials unanswered while UDP works.
//!
//! The GFW (2024) decrypts a QUIC Initial, reads its SNI and drops the flow,
//! then the client-server-port 3-tuple for a while; Iran and Russia have
//! dropped QUIC wholesale. On the wire: the client's Initial and its
//! retransmissions ([`super::udp_silence`]) and nothing back, no ICMP error —
//! while the same server answered another QUIC flow of the capture (it is up:
//! the path dropped this one), or answered over TCP (QUIC alone is dropped;
//! browsers fall back to TCP). Other servers answering is not enough: QUIC
//! interop captures are full of clients retrying servers that are down, which
//! looks exactly the same; such flows are missed rather than accused.
//!
//! When the dropped Initial's ClientHello carried ECH (or ESNI) the evidence
//! says so (`encrypted_client_hello`), as `tls.interference`'s does: a censor
//! that keys on the extension (Russia's TSPU, on ECH to Cloudflare's public
//! name) drops QUIC Initials by it too.

use super::udp_silence::silence;
use super::{CaptureContext, Detector, FindingBuilder, FlowView};
use crate::flow::TO_SERVER;
use crate::proto::{AppProto, initial_client_hello};
use crate::report::Finding;

/// Confidence when the same server answered another QUIC/UDP flow.
const SAME_SERVER_ANSWERED: f64 = 0.8;
/// When the server's address answered over TCP (QUIC alone dropped).
const TCP_ANSWERED: f64 = 0.7;

/// The detector.
pub struct QuicInterference;

impl Detector for QuicInterference {
    fn kind(&self) -> &'static str {
        "quic.interference"
    }

    fn inspect(&self, v: &FlowView<'_>, cx: &CaptureContext, out: &mut Vec<Finding>) {
        let f = v.flow;
        if f.key.proto != 17 || v.app.proto != AppProto::Quic {
            return;
        }
        let Some(s) = silence(f) else { return };
        if s.server_last_frame.is_some() {
            // A QUIC connection the server answered and then left: its close
            // is encrypted, so a stall cannot be told from an ending.
            return;
        }
        // The server shown working: it answered another QUIC (UDP) flow on
        // this port, or it answered over TCP (the client's fallback).
        let same = cx.server_answered_elsewhere(f);
        let tcp = cx.host_answered_elsewhere(f, 6);
        let confidence = if same > 0 {
            SAME_SERVER_ANSWERED
        } else if tcp > 0 {
            TCP_ANSWERED
        } else {
            return;
        };
        let others = cx.other_server_answered(f.server.addr);
        let up = &f.dirs[TO_SERVER];
        let mut b = FindingBuilder::new(v, "quic.interference", up.first_ts.0)
            .confidence(confidence)
            .frames(s.frames.clone())
            .evidence("client_datagrams", up.pkts)
            .evidence("server_datagrams", 0)
            .evidence("unanswered_for_s", s.span_s())
            .evidence("same_server_answered_other_flows", same)
            .evidence("same_host_answered_tcp_flows", tcp)
            .evidence("retransmissions", s.retransmissions)
            .evidence("other_servers_answered", others)
            .evidence("icmp_errors", 0);
        let hello = initial_client_hello(up.stream.datagrams().map(|(_, d)| d));
        if let Some(h) = hello.and_then(|h| h.hidden_name) {
            b = b.evidence("encrypted_client_hello", h.as_str());
        }
        out.push(
            b.trigger_from(v)
                .ooni("generic_timeout_error", "http-failure")
                .build(),
        );
    }
}
