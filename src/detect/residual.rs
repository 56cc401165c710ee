//! `residual_block`: after a censor reacted to a flow's content, later
//! connections from the same client to the same server and port are blocked
//! whatever they carry, for a while.
//!
//! The GFW keeps blocking the client–server–port triple for 90–180 s after an
//! HTTP keyword, an SNI or a fully encrypted first packet triggered it, and
//! Iran for about 60 s (research/signatures.md). The proof is in the order of
//! things: a first flow that carried its content and was blocked (reset,
//! dropped, answered by a block page), then, within 200 s, a flow to
//! the same triple blocked before it could carry anything — its SYN dropped or
//! reset. A server blocked by address alone blocks the first flow at its SYN
//! too, so such a first flow does not count as a trigger.
//!
//! Capture-wide, judged once at the end: the flows' records pass through
//! [`ResidualTracker::note`] in release order (the same for any thread count),
//! and [`ResidualTracker::findings`] pairs them.

use std::net::IpAddr;

use serde_json::{Map, Value, json};

use crate::report::{Finding, FlowRecord};

/// How long after a trigger a blocked connection is counted as residual: the
/// GFW's longest reported residual period (180 s) and a margin.
const WINDOW_NS: i64 = 200_000_000_000;
/// Most triggers and blocked connections remembered (the earliest are kept).
const MAX_REMEMBERED: usize = 65_536;
/// Confidence of a residual block.
const CONFIDENCE: f64 = 0.75;

/// Findings that say a flow was blocked.
const BLOCKING: [&str; 6] = [
    "tcp.injected_rst",
    "tcp.blackhole",
    "tls.interference",
    "http.blockpage",
    "http.injected_response",
    "vpn.interference",
];

type Triple = (IpAddr, IpAddr, u16, u8);

#[derive(Debug)]
struct Trigger {
    ts: i64,
    flow_id: u64,
    first_frame: u64,
    kinds: Vec<&'static str>,
    frames: Vec<u64>,
    name: Option<Map<String, Value>>,
}

#[derive(Debug)]
struct Blocked {
    ts: i64,
    triple: Triple,
    finding: Finding,
}

/// The blocked flows of a capture, in release order.
#[derive(Debug, Default)]
pub struct ResidualTracker {
    triggers: hashbrown::HashMap<Triple, Vec<Trigger>>,
    triggers_kept: usize,
    blocked: Vec<Blocked>,
}

impl ResidualTracker {
    /// Notes a judged flow and its findings.
    pub fn note(&mut self, r: &FlowRecord, findings: &[Finding]) {
        let blocking: Vec<&Finding> = findings
            .iter()
            .filter(|f| BLOCKING.contains(&f.kind))
            .collect();
        let Some(first) = blocking.first() else {
            return;
        };
        if r.proto.as_ref() != "tcp" {
            return;
        }
        let triple = (r.src_ip, r.dest_ip, r.dest_port, 6);
        let ts = r.timestamp.0;
        // The client's payload: Zeek's `D` (originator data).
        let carried = r.history.as_str().contains('D');
        if carried {
            if self.triggers_kept < MAX_REMEMBERED {
                self.triggers_kept += 1;
                let mut frames: Vec<u64> = blocking.iter().flat_map(|f| f.frames.clone()).collect();
                frames.sort_unstable();
                frames.dedup();
                self.triggers.entry(triple).or_default().push(Trigger {
                    ts,
                    flow_id: r.flow_id,
                    first_frame: r.first_frame,
                    kinds: blocking.iter().map(|f| f.kind).collect(),
                    frames,
                    name: first.trigger.clone(),
                });
            }
        } else if matches!(r.conn_state, "S0" | "REJ") && self.blocked.len() < MAX_REMEMBERED {
            self.blocked.push(Blocked {
                ts,
                triple,
                finding: (*first).clone(),
            });
        }
    }

    /// The residual blocks of the capture: each connection blocked before it
    /// carried anything, within 200 s after a flow of the same triple
    /// was blocked for what it carried (the latest such flow).
    pub fn findings(&mut self) -> Vec<Finding> {
        let mut out = Vec::new();
        for b in std::mem::take(&mut self.blocked) {
            let Some(t) = self.triggers.get(&b.triple).and_then(|ts| {
                ts.iter()
                    .filter(|t| t.ts < b.ts && b.ts - t.ts <= WINDOW_NS)
                    .max_by_key(|t| (t.ts, t.flow_id))
            }) else {
                continue;
            };
            let stage = if b.finding.kind == "tcp.injected_rst" {
                "syn_reset"
            } else {
                "syn_dropped"
            };
            let mut f = b.finding;
            let mut ev = Map::new();
            ev.insert("stage".into(), json!(stage));
            ev.insert("blocked_by".into(), json!(f.kind));
            ev.insert("trigger_flow_id".into(), json!(t.flow_id));
            ev.insert("trigger_first_frame".into(), json!(t.first_frame));
            ev.insert("trigger_kinds".into(), json!(t.kinds));
            ev.insert("trigger_frames".into(), json!(t.frames));
            ev.insert(
                "since_trigger_s".into(),
                json!(((b.ts - t.ts) as f64 / 1e6).round() / 1e3),
            );
            ev.insert("window_s".into(), json!(WINDOW_NS / 1_000_000_000));
            f.kind = "residual_block";
            f.confidence = CONFIDENCE;
            f.evidence = ev;
            f.trigger = t.name.clone();
            f.profile = None;
            f.blocking = Some("tcp_ip");
            let mut frames = t.frames.clone();
            frames.extend(&f.frames);
            frames.sort_unstable();
            frames.dedup();
            f.frames = frames;
            out.push(f);
        }
        out.sort_by_key(|f| (f.frames.last().copied(), f.flow_id));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;
    use crate::report::FlowVerdict;
    use crate::report::History;

    const S: i64 = 1_000_000_000;

    fn flow(id: u64, ts_s: i64, port: u16, state: &'static str, history: &str) -> FlowRecord {
        FlowRecord {
            event_type: "flow",
            timestamp: Timestamp(1_700_000_000 * S + ts_s * S),
            flow_id: id,
            src_ip: "10.0.0.2".parse().expect("address"),
            src_port: 40000 + id as u16,
            dest_ip: "192.0.2.8".parse().expect("address"),
            dest_port: port,
            proto: "tcp".into(),
            app_proto: "tls",
            app_proto_confidence: Some("certain"),
            first_frame: id * 10,
            last_frame: id * 10 + 5,
            pkts_toserver: 3,
            pkts_toclient: 0,
            bytes_toserver: 200,
            bytes_toclient: 0,
            conn_state: state,
            history: History::new(history),
            sni: None,
            http_host: None,
            dns_qname: None,
            verdict: FlowVerdict::Ok,
        }
    }

    fn finding(r: &FlowRecord, kind: &'static str) -> Finding {
        Finding {
            event_type: "tamper",
            timestamp: String::new(),
            flow_id: r.flow_id,
            src_ip: r.src_ip.to_string(),
            src_port: r.src_port,
            dest_ip: r.dest_ip.to_string(),
            dest_port: r.dest_port,
            proto: "tcp".into(),
            app_proto: "tls",
            kind,
            confidence: 0.9,
            frames: vec![r.first_frame + 1],
            evidence: Map::new(),
            trigger: None,
            profile: None,
            ooni_failure: None,
            blocking: None,
        }
    }

    fn run(flows: &[(FlowRecord, &'static str)]) -> Vec<Finding> {
        let mut t = ResidualTracker::default();
        for (r, k) in flows {
            t.note(r, &[finding(r, k)]);
        }
        t.findings()
    }

    /// A connection reset after its ClientHello, then SYNs dropped 30 s later
    /// to the same server and port: residual; to another port, or 300 s
    /// later, or before the trigger: not.
    #[test]
    fn blocked_syn_after_a_content_trigger() {
        let trigger = (flow(1, 0, 443, "RSTR", "ShADr"), "tcp.injected_rst");
        let found = run(&[
            trigger.clone(),
            (flow(2, 30, 443, "S0", "S"), "tcp.blackhole"),
        ]);
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!((f.kind, f.flow_id), ("residual_block", 2));
        assert_eq!(f.evidence["trigger_flow_id"], 1);
        assert_eq!(f.evidence["stage"], "syn_dropped");
        assert_eq!(f.frames, vec![11, 21]);
        let reset = run(&[
            trigger.clone(),
            (flow(2, 30, 443, "REJ", "Sr"), "tcp.injected_rst"),
        ]);
        assert_eq!(reset[0].evidence["stage"], "syn_reset");
        for later in [
            flow(2, 30, 8443, "S0", "S"),
            flow(2, 300, 443, "S0", "S"),
            flow(2, -5, 443, "S0", "S"),
        ] {
            assert!(run(&[trigger.clone(), (later, "tcp.blackhole")]).is_empty());
        }
    }

    /// A server blocked by its address drops every SYN, the first one's too:
    /// no flow carried content, so nothing is residual.
    #[test]
    fn address_blocking_is_not_residual() {
        let found = run(&[
            (flow(1, 0, 443, "S0", "S"), "tcp.blackhole"),
            (flow(2, 30, 443, "S0", "S"), "tcp.blackhole"),
        ]);
        assert!(found.is_empty());
    }
}
