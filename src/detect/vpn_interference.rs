//! `vpn.interference`: a VPN, tunnel or proxy connection blocked at its
//! handshake or soon after.
//!
//! Builds on what identification named the flow (OpenVPN, WireGuard, IKE,
//! L2TP, PPTP, Tor, fully encrypted protocols such as Shadowsocks) and on the
//! mechanism the other detectors found:
//! - over TCP, an injected reset or a silent drop of the same flow
//!   (`tcp.injected_rst`, `tcp.blackhole`): the VPN connection was killed, at
//!   the stage the cause's frames show;
//! - over UDP, the client's handshake retransmitted without any answer, or
//!   the server falling silent after its first answers while the client keeps
//!   retrying (OpenVPN cut after its first control packet)
//!   ([`super::udp_silence`]). A VPN whose server is simply down looks the
//!   same, which is why an unanswered handshake counts only when the same
//!   server answered another flow (on this port or another), and a stall only
//!   when the network is shown working; both are weaker findings than a
//!   reset.

use serde_json::json;

use super::udp_silence::silence;
use super::{CaptureContext, Detector, FindingBuilder, FlowView};
use crate::flow::{TO_CLIENT, TO_SERVER};
use crate::proto::AppProto;
use crate::report::Finding;

/// UDP handshake unanswered, same server answered another flow.
const UNANSWERED_SAME_SERVER: f64 = 0.8;
/// UDP handshake unanswered, the server's address answered on another port.
const UNANSWERED_SAME_HOST: f64 = 0.7;
/// Server fell silent mid-handshake.
const STALLED: f64 = 0.6;
/// A stall counts only while the server has sent at most this many datagrams:
/// a handshake, not a session that ended.
const STALL_MAX_SERVER_DATAGRAMS: u64 = 8;

/// The detector.
pub struct VpnInterference;

/// Protocols whose blocking is VPN or proxy blocking.
fn is_vpn(p: AppProto) -> bool {
    matches!(
        p,
        AppProto::OpenVpn
            | AppProto::WireGuard
            | AppProto::Ike
            | AppProto::Esp
            | AppProto::L2tp
            | AppProto::Pptp
            | AppProto::Tor
            | AppProto::Fet
            | AppProto::Obfs4
    )
}

impl Detector for VpnInterference {
    fn kind(&self) -> &'static str {
        "vpn.interference"
    }

    fn inspect(&self, v: &FlowView<'_>, cx: &CaptureContext, out: &mut Vec<Finding>) {
        let f = v.flow;
        if !is_vpn(v.app.proto) {
            return;
        }
        let (up, down) = (&f.dirs[TO_SERVER], &f.dirs[TO_CLIENT]);
        let b = match f.key.proto {
            6 => {
                let Some(cause) = out
                    .iter()
                    .filter(|x| {
                        x.flow_id == f.id && matches!(x.kind, "tcp.injected_rst" | "tcp.blackhole")
                    })
                    .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
                    .cloned()
                else {
                    return;
                };
                let failure = if cause.kind == "tcp.injected_rst" {
                    "connection_reset"
                } else {
                    "generic_timeout_error"
                };
                let mut b = FindingBuilder::new(v, "vpn.interference", f.first_ts.0)
                    .confidence(cause.confidence)
                    .frames(cause.frames.clone())
                    .evidence("cause", cause.kind)
                    .evidence("client_payload_bytes", up.payload_bytes)
                    .evidence("server_payload_bytes", down.payload_bytes)
                    .ooni(failure, "tcp_ip");
                if let Some(p) = cause.profile {
                    b = b.profile(p);
                }
                b
            }
            17 => {
                let Some(s) = silence(f) else { return };
                let same = cx.server_answered_elsewhere(f);
                let host = cx.host_answered_elsewhere(f, 17) + cx.host_answered_elsewhere(f, 6);
                let others = cx.other_server_answered(f.server.addr);
                let (confidence, stage) = match s.server_last_frame {
                    None if same > 0 => (UNANSWERED_SAME_SERVER, "handshake_unanswered"),
                    None if host > 0 => (UNANSWERED_SAME_HOST, "handshake_unanswered"),
                    // The server answered this very flow moments before.
                    Some(_)
                        if down.pkts <= STALL_MAX_SERVER_DATAGRAMS
                            && (same > 0 || host > 0 || others) =>
                    {
                        (STALLED, "stalled_after_server_answered")
                    }
                    _ => return,
                };
                let mut frames = s.frames.clone();
                frames.extend(s.server_last_frame);
                frames.sort_unstable();
                FindingBuilder::new(v, "vpn.interference", up.first_ts.0)
                    .confidence(confidence)
                    .frames(frames)
                    .evidence("cause", stage)
                    .evidence("client_datagrams", up.pkts)
                    .evidence("server_datagrams", down.pkts)
                    .evidence("server_last_frame", json!(s.server_last_frame))
                    .evidence("unanswered_client_datagrams", s.frames.len())
                    .evidence("unanswered_for_s", s.span_s())
                    .evidence("same_server_answered_other_flows", same)
                    .evidence("same_host_answered_other_flows", host)
                    .evidence("retransmissions", s.retransmissions)
                    .evidence("other_servers_answered", others)
                    .ooni("generic_timeout_error", "tcp_ip")
            }
            _ => return,
        };
        out.push(
            b.evidence("protocol", v.app.proto.as_str())
                .trigger_from(v)
                .build(),
        );
    }
}
