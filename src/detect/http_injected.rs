//! `http.injected_response`: an HTTP response forged on the path, whatever it
//! says.
//!
//! The injector copies addresses, ports and sequence numbers, but not the
//! server's IP stack or its distance: the forged response arrives with a TTL the
//! server's SYN-ACK did not have, often without the server's DF bit, sometimes
//! faster than the server could answer. And it does not silence the server: the
//! server keeps talking with its own TTL, and its genuine response arrives later
//! over the same sequence space, with different bytes (an overlap conflict in the
//! reassembly). A TTL difference of 3 or more hops is required, plus one
//! deciding sign: a second response over the same bytes, the server's own data
//! (handshake TTL) after the response's FIN, or a request sent with too small a TTL to reach
//! the server (CenTrace's probes) that was answered anyway. A different TTL,
//! DF bit or window alone is not enough: load-balanced and CDN servers answer
//! the handshake from one box and the request from another (public captures of
//! Amazon and Blizzard servers do). A route change shifts the TTL by one and for
//! good. A redirect followed by a close is ordinary web behaviour and is not a
//! sign at all.

use serde_json::json;

use super::injected_rst::initial_ttl;
use super::{CaptureContext, Detector, FindingBuilder, FlowView};
use crate::flow::{TO_CLIENT, TO_SERVER};
use crate::report::Finding;

/// Smallest TTL difference from the handshake that counts.
const TTL_DELTA: u8 = 3;
/// Handshake RTTs below this are too small to compare a reply with.
const MIN_RTT_NS: i64 = 2_000_000;

/// The detector.
pub struct HttpInjectedResponse;

impl Detector for HttpInjectedResponse {
    fn kind(&self) -> &'static str {
        "http.injected_response"
    }

    fn inspect(&self, v: &FlowView<'_>, _cx: &CaptureContext, out: &mut Vec<Finding>) {
        let f = v.flow;
        if f.key.proto != 6 {
            return;
        }
        let (up, down) = (&f.dirs[TO_SERVER], &f.dirs[TO_CLIENT]);
        // The handshake is the baseline; a capture that started mid-connection
        // has none.
        let (Some(syn), Some(synack)) = (up.baseline.tcp.syn, down.baseline.tcp.syn) else {
            return;
        };
        let (Some(req), Some(resp)) = (
            up.baseline.tcp.first_payload,
            down.baseline.tcp.first_payload,
        ) else {
            return;
        };
        if resp.frame < req.frame {
            return;
        }
        let Some(head) = v.http_response() else {
            return;
        };
        let delta = resp.ttl.abs_diff(synack.ttl);
        if delta < TTL_DELTA {
            return;
        }
        let mut signals = vec!["ttl_differs_from_handshake"];
        // Deciding signs: a second response over the same bytes (the genuine
        // one); the server's own data, with its handshake TTL (±1), after a
        // response that closed the stream with FIN (a real stack sends nothing
        // after its FIN); a request that could not have reached the server
        // (TTL-limited below its distance) answered anyway. Server data with
        // the handshake TTL that merely continues the response is not a sign:
        // load-balanced servers interleave two TTLs within one response.
        let genuine_after_fin = resp.flags & 0x01 != 0
            && down.baseline.ttl_counts.used().any(|g| {
                g.ttl.abs_diff(synack.ttl) <= 1
                    && g.first_payload.is_some_and(|p| p.frame > resp.frame)
            });
        if genuine_after_fin {
            signals.push("server_data_after_forged_fin");
        }
        let second = down
            .seq
            .first_conflict_frame
            .filter(|&c| c > resp.frame && down.seq.overlap_conflicts > 0);
        if second.is_some() {
            signals.push("second_response_different_bytes");
        }
        let server_hops = initial_ttl(synack.ttl).saturating_sub(synack.ttl);
        let limited = up
            .baseline
            .ttl_counts
            .mode()
            .is_some_and(|(m, _)| req.ttl < m);
        if limited && u16::from(req.ttl) + 1 < u16::from(server_hops) {
            signals.push("request_ttl_below_server_distance");
        }
        if signals.len() < 2 {
            return;
        }
        // Corroborating signs, reported but not deciding: CDN and load-balanced
        // servers answer the handshake from one box and the data from another.
        let v4 = f.server.addr.is_ipv4();
        if v4 && resp.df != synack.df {
            signals.push("df_differs_from_handshake");
        }
        let rtt = synack.ts - syn.ts;
        let delay = resp.ts - req.ts;
        if rtt >= MIN_RTT_NS && delay >= 0 && delay * 2 < rtt {
            signals.push("faster_than_server_rtt");
        }
        let mut frames = vec![synack.frame, req.frame, resp.frame];
        frames.extend(second);
        let ms = |ns: i64| ((ns as f64 / 1e6) * 1000.0).round() / 1000.0;
        let mut b = FindingBuilder::new(v, "http.injected_response", resp.ts)
            .confidence(0.5 + 0.1 * signals.len() as f64)
            .frames(frames)
            .evidence("response_frame", resp.frame)
            .evidence("status", head.status)
            .evidence("ttl_expected", synack.ttl)
            .evidence("ttl_seen", resp.ttl)
            .evidence("ip_id_seen", resp.ip_id)
            .evidence("ip_id_handshake", synack.ip_id)
            .evidence("window_seen", resp.window)
            .evidence("window_handshake", synack.window)
            .evidence("handshake_rtt_ms", ms(rtt))
            .evidence("response_delay_ms", ms(delay))
            .evidence("signals", json!(signals))
            .trigger_from(v)
            .blocking("http-diff");
        if v4 {
            b = b
                .evidence("df_seen", resp.df)
                .evidence("df_handshake", synack.df);
        }
        if let Some(l) = head.location() {
            b = b.evidence("location", l);
        }
        if let Some(c) = second {
            b = b.evidence("genuine_response_frame", c);
        }
        out.push(b.build());
    }
}
