//! `quic.interference` by name: a QUIC flow whose Initials went unanswered,
//! carrying a server name that the capture shows blocked elsewhere.
//!
//! A per-flow judgement of an unanswered QUIC flow needs the server shown
//! working ([`super::quic_interference`]); a site whose servers are all
//! blocked never shows that. What such a capture does show is the name: the
//! browser's TCP fallback to the same site reset or dropped after its
//! ClientHello (`tls.interference`), or another QUIC flow with the same SNI
//! found blocked on a server that works. Once a name is known blocked, an
//! unanswered QUIC flow carrying it is blocked too, whichever server it went
//! to. Capture-wide, judged once at the end from the judged records in release
//! order, like [`super::ResidualTracker`].

use serde_json::{Map, json};

use crate::report::{Finding, FlowRecord, FlowVerdict};

/// Findings that say a flow was blocked for the name it carried.
const NAME_BLOCKED: [&str; 2] = ["tls.interference", "quic.interference"];
/// Most names and flows remembered.
const MAX_REMEMBERED: usize = 65_536;
/// Confidence: the name's block is proven elsewhere, this flow's only by
/// its silence.
const CONFIDENCE: f64 = 0.6;

#[derive(Debug)]
struct Blocked {
    flow_id: u64,
    kind: &'static str,
    frames: Vec<u64>,
}

#[derive(Debug)]
struct Silent {
    record: FlowRecord,
    sni: String,
}

/// The names found blocked, and the QUIC flows that went unanswered.
#[derive(Debug, Default)]
pub struct QuicNameTracker {
    names: hashbrown::HashMap<String, Blocked>,
    silent: Vec<Silent>,
}

impl QuicNameTracker {
    /// Notes a judged flow and its findings.
    pub fn note(&mut self, r: &FlowRecord, findings: &[Finding]) {
        for f in findings.iter().filter(|f| NAME_BLOCKED.contains(&f.kind)) {
            let Some(sni) = f
                .trigger
                .as_ref()
                .and_then(|t| t.get("sni"))
                .and_then(|s| s.as_str())
            else {
                continue;
            };
            if self.names.len() < MAX_REMEMBERED && !self.names.contains_key(sni) {
                self.names.insert(
                    sni.to_string(),
                    Blocked {
                        flow_id: f.flow_id,
                        kind: f.kind,
                        frames: f.frames.clone(),
                    },
                );
            }
        }
        if r.app_proto == "quic"
            && r.pkts_toclient == 0
            && r.pkts_toserver >= 2
            && matches!(r.verdict, FlowVerdict::Ok)
            && self.silent.len() < MAX_REMEMBERED
        {
            if let Some(sni) = &r.sni {
                self.silent.push(Silent {
                    record: r.clone(),
                    sni: sni.clone(),
                });
            }
        }
    }

    /// The unanswered QUIC flows whose name the capture shows blocked.
    pub fn findings(&mut self) -> Vec<Finding> {
        let mut out = Vec::new();
        for s in std::mem::take(&mut self.silent) {
            let Some(b) = self.names.get(&s.sni) else {
                continue;
            };
            let r = &s.record;
            let mut ev = Map::new();
            ev.insert("client_datagrams".into(), json!(r.pkts_toserver));
            ev.insert("server_datagrams".into(), json!(0));
            ev.insert("name_blocked_in_flow".into(), json!(b.flow_id));
            ev.insert("name_blocked_as".into(), json!(b.kind));
            ev.insert("name_blocked_frames".into(), json!(b.frames));
            let mut trigger = Map::new();
            trigger.insert("sni".into(), json!(s.sni));
            out.push(Finding {
                event_type: "tamper",
                timestamp: r.timestamp.to_rfc3339(),
                flow_id: r.flow_id,
                src_ip: r.src_ip.to_string(),
                src_port: r.src_port,
                dest_ip: r.dest_ip.to_string(),
                dest_port: r.dest_port,
                proto: r.proto.to_string(),
                app_proto: r.app_proto,
                kind: "quic.interference",
                confidence: CONFIDENCE,
                frames: vec![r.first_frame, r.last_frame],
                evidence: ev,
                trigger: Some(trigger),
                profile: None,
                ooni_failure: Some("generic_timeout_error"),
                blocking: Some("http-failure"),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;
    use crate::report::History;

    fn quic(id: u64, to_client: u64, sni: Option<&str>) -> FlowRecord {
        FlowRecord {
            event_type: "flow",
            timestamp: Timestamp(1_700_000_000_000_000_000 + id as i64),
            flow_id: id,
            src_ip: "10.0.0.2".parse().expect("address"),
            src_port: 50000 + id as u16,
            dest_ip: "192.0.2.9".parse().expect("address"),
            dest_port: 443,
            proto: "udp".into(),
            tunnel: None,
            app_proto: "quic",
            app_proto_confidence: Some("certain"),
            first_frame: id * 10,
            last_frame: id * 10 + 4,
            pkts_toserver: 5,
            pkts_toclient: to_client,
            bytes_toserver: 6000,
            bytes_toclient: 0,
            conn_state: "S0",
            history: History::new(""),
            sni: sni.map(str::to_string),
            http_host: None,
            dns_qname: None,
            verdict: FlowVerdict::Ok,
        }
    }

    fn blocked_tls(id: u64, sni: &str) -> (FlowRecord, Finding) {
        let mut r = quic(id, 1, None);
        r.proto = "tcp".into();
        r.app_proto = "tls";
        let mut t = Map::new();
        t.insert("sni".into(), json!(sni));
        let f = Finding {
            event_type: "tamper",
            timestamp: String::new(),
            flow_id: id,
            src_ip: String::new(),
            src_port: 0,
            dest_ip: String::new(),
            dest_port: 443,
            proto: "tcp".into(),
            app_proto: "tls",
            kind: "tls.interference",
            confidence: 0.9,
            frames: vec![id * 10 + 2],
            evidence: Map::new(),
            trigger: Some(t),
            profile: None,
            ooni_failure: None,
            blocking: None,
        };
        r.verdict = FlowVerdict::Tampered(vec!["tls.interference"]);
        (r, f)
    }

    /// The TCP fallback to a site reset after its ClientHello names it
    /// blocked: the unanswered QUIC flows carrying that name, before or after
    /// it in the capture, are found; one with another name, one the server
    /// answered and one without a name are not.
    #[test]
    fn silent_quic_flows_with_a_blocked_name() {
        let mut t = QuicNameTracker::default();
        t.note(&quic(1, 0, Some("blocked.example")), &[]);
        let (r, f) = blocked_tls(2, "blocked.example");
        t.note(&r, &[f]);
        t.note(&quic(3, 0, Some("blocked.example")), &[]);
        t.note(&quic(4, 0, Some("other.example")), &[]);
        t.note(&quic(5, 3, Some("blocked.example")), &[]);
        t.note(&quic(6, 0, None), &[]);
        let found = t.findings();
        let ids: Vec<u64> = found.iter().map(|f| f.flow_id).collect();
        assert_eq!(ids, vec![1, 3]);
        assert_eq!(found[0].evidence["name_blocked_in_flow"], 2);
        assert_eq!(found[0].trigger.as_ref().unwrap()["sni"], "blocked.example");
    }
}
