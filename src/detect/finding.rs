//! Building findings with their evidence.

use serde_json::{Map, Value};

use super::FlowView;
use crate::capture::Timestamp;
use crate::report::{Finding, proto_name};

/// Assembles a [`Finding`] for a flow.
pub struct FindingBuilder {
    f: Finding,
}

impl FindingBuilder {
    /// A finding of `kind` on the flow of `v`, first evidence at `ts`.
    pub fn new(v: &FlowView<'_>, kind: &'static str, ts: i64) -> FindingBuilder {
        let flow = v.flow;
        FindingBuilder {
            f: Finding {
                event_type: "tamper",
                timestamp: Timestamp(ts).to_rfc3339(),
                flow_id: flow.id,
                src_ip: flow.client.addr.to_string(),
                src_port: flow.client.port,
                dest_ip: flow.server.addr.to_string(),
                dest_port: flow.server.port,
                proto: proto_name(flow.key.proto).into_owned(),
                app_proto: v.app.proto.as_str(),
                kind,
                confidence: 0.0,
                frames: Vec::new(),
                evidence: Map::new(),
                trigger: None,
                profile: None,
                ooni_failure: None,
                blocking: None,
            },
        }
    }

    /// Confidence in 0..1 (clamped, rounded to two decimals).
    pub fn confidence(mut self, c: f64) -> Self {
        self.f.confidence = (c.clamp(0.0, 0.99) * 100.0).round() / 100.0;
        self
    }

    /// The frames that prove it (sorted, deduplicated).
    pub fn frames(mut self, mut frames: Vec<u64>) -> Self {
        frames.sort_unstable();
        frames.dedup();
        self.f.frames = frames;
        self
    }

    /// One evidence field.
    pub fn evidence(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.f.evidence.insert(key.to_string(), value.into());
        self
    }

    /// The trigger names of the flow (SNI, HTTP Host, DNS name), when known.
    pub fn trigger_from(mut self, v: &FlowView<'_>) -> Self {
        let mut m = Map::new();
        if let Some(s) = &v.app.sni {
            m.insert("sni".into(), s.clone().into());
        }
        if let Some(h) = &v.app.http_host {
            m.insert("http_host".into(), h.clone().into());
        }
        if let Some(q) = &v.app.dns_qname {
            m.insert("dns_qname".into(), q.clone().into());
        }
        if !m.is_empty() {
            self.f.trigger = Some(m);
        }
        self
    }

    /// The censor behaviour it matches.
    pub fn profile(mut self, p: impl Into<String>) -> Self {
        self.f.profile = Some(p.into());
        self
    }

    /// OONI failure string and web_connectivity blocking value.
    pub fn ooni(mut self, failure: &'static str, blocking: &'static str) -> Self {
        self.f.ooni_failure = Some(failure);
        self.f.blocking = Some(blocking);
        self
    }

    /// OONI web_connectivity blocking value alone, where OONI records no failure
    /// string (a block page or a forged DNS answer is a successful exchange).
    pub fn blocking(mut self, blocking: &'static str) -> Self {
        self.f.blocking = Some(blocking);
        self
    }

    /// The finding.
    pub fn build(self) -> Finding {
        self.f
    }
}
