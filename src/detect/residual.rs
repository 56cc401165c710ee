//! `residual_block`: after a censor reacted to a flow's content, later
//! connections from the same client to the same server and port are blocked
//! whatever they carry, for a while.
//!
//! The GFW keeps blocking the client–server–port triple for 90–180 s after an
//! HTTP keyword, an SNI or a fully encrypted first packet triggered it, and
//! Iran for about 60 s (research/signatures.md). The proof is in the order of
//! things: a first flow that carried its content and was blocked (reset,
//! dropped, answered by a block page, its QUIC Initials unanswered), then,
//! within 200 s, a flow to the same triple blocked before it could carry
//! anything — its SYN dropped or reset — or blocked while it carried another
//! name (SNI, Host) than the first: the censor no longer looks at content. A
//! server blocked by address alone blocks the first flow at its SYN too, so
//! such a first flow does not count as a trigger; two flows blocked for the
//! same name are the same trigger twice, not a residual block.
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
const BLOCKING: [&str; 7] = [
    "tcp.injected_rst",
    "tcp.blackhole",
    "tls.interference",
    "http.blockpage",
    "http.injected_response",
    "vpn.interference",
    "quic.interference",
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
    flow_id: u64,
    triple: Triple,
    /// Blocked before it carried anything (a TCP SYN dropped or reset).
    before_content: bool,
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
        let proto = match r.proto.as_ref() {
            "tcp" => 6,
            "udp" => 17,
            _ => return,
        };
        let triple = (r.src_ip, r.dest_ip, r.dest_port, proto);
        let ts = r.timestamp.0;
        // TCP: the client's payload (Zeek's `D`) after the server's SYN-ACK
        // (`h`): a client that sends its payload into a reset connection
        // (measurement tools do) was blocked at its SYN, by address. A UDP
        // flow's first datagram is its content.
        let before_content = proto == 6 && matches!(r.conn_state, "S0" | "REJ");
        let carried = if proto == 6 {
            let h = r.history.as_str();
            h.contains('h') && h.contains('D')
        } else {
            true
        };
        if carried && self.triggers_kept < MAX_REMEMBERED {
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
        if (before_content || first.trigger.is_some()) && self.blocked.len() < MAX_REMEMBERED {
            self.blocked.push(Blocked {
                ts,
                flow_id: r.flow_id,
                triple,
                before_content,
                finding: (*first).clone(),
            });
        }
    }

    /// The residual blocks of the capture: each connection blocked within
    /// 200 s after a flow of the same triple was blocked for what it carried
    /// (the latest such flow), when it was blocked before it carried anything
    /// or while it carried another name than that flow's (an unlisted SNI on
    /// the triple the censor now drops).
    pub fn findings(&mut self) -> Vec<Finding> {
        let mut out = Vec::new();
        for b in std::mem::take(&mut self.blocked) {
            let Some(t) = self.triggers.get(&b.triple).and_then(|ts| {
                ts.iter()
                    .filter(|t| t.flow_id != b.flow_id && t.ts < b.ts && b.ts - t.ts <= WINDOW_NS)
                    .max_by_key(|t| (t.ts, t.flow_id))
            }) else {
                continue;
            };
            let other_name = match (&b.finding.trigger, &t.name) {
                (Some(mine), Some(theirs)) => mine != theirs,
                _ => false,
            };
            if !b.before_content && !other_name {
                continue;
            }
            let stage = match (b.before_content, b.finding.kind) {
                (true, "tcp.injected_rst") => "syn_reset",
                (true, _) => "syn_dropped",
                (false, _) => "other_name_blocked",
            };
            let own_trigger = b.finding.trigger.clone();
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
            if other_name {
                ev.insert("own_trigger".into(), json!(own_trigger));
            }
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
            tunnel: None,
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
        // Reset at its SYN, its payload sent anyway (as measurement tools
        // do): blocked by address, not a trigger.
        let at_syn = (flow(1, 0, 443, "RSTR", "SrArDFr"), "tcp.injected_rst");
        assert!(run(&[at_syn, (flow(2, 30, 443, "S0", "S"), "tcp.blackhole")]).is_empty());
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

    /// A second flow blocked while carrying another name than the trigger's
    /// (the censor drops the triple, whatever it carries) is residual; one
    /// carrying the same name is the trigger again; one without a name says
    /// nothing.
    #[test]
    fn other_name_blocked_after_a_trigger() {
        let named = |r: FlowRecord, kind, name: Option<&str>| {
            let mut f = finding(&r, kind);
            f.trigger = name.map(|n| {
                let mut m = Map::new();
                m.insert("sni".into(), json!(n));
                m
            });
            (r, f)
        };
        let run2 = |a: (FlowRecord, Finding), b: (FlowRecord, Finding)| {
            let mut t = ResidualTracker::default();
            t.note(&a.0, &[a.1]);
            t.note(&b.0, &[b.1]);
            t.findings()
        };
        let a = || {
            named(
                flow(1, 0, 443, "RSTR", "ShADr"),
                "tcp.injected_rst",
                Some("blocked.example"),
            )
        };
        let other = run2(
            a(),
            named(
                flow(2, 20, 443, "RSTR", "ShADr"),
                "tcp.injected_rst",
                Some("ok.example"),
            ),
        );
        assert_eq!(other.len(), 1);
        assert_eq!(other[0].evidence["stage"], "other_name_blocked");
        assert_eq!(other[0].trigger.as_ref().unwrap()["sni"], "blocked.example");
        let same = run2(
            a(),
            named(
                flow(2, 20, 443, "RSTR", "ShADr"),
                "tcp.injected_rst",
                Some("blocked.example"),
            ),
        );
        assert!(same.is_empty());
        let none = run2(
            a(),
            named(flow(2, 20, 443, "RSTR", "ShADr"), "tcp.injected_rst", None),
        );
        assert!(none.is_empty());
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
