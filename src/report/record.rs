//! Flow and finding records.

use std::borrow::Cow;
use std::net::IpAddr;

use serde::Serialize;

use crate::capture::Timestamp;
use crate::decode::Tunnel;
pub use crate::flow::zeek::History;

use crate::flow::{Flow, TO_CLIENT, TO_SERVER};
use crate::proto::AppInfo;

/// One line of output.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Record {
    /// A flow.
    Flow(FlowRecord),
    /// A finding.
    Tamper(Finding),
    /// The final counters.
    Stats(super::Stats),
}

/// The `flow` record: one per flow.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[non_exhaustive]
pub struct FlowRecord {
    /// Always `"flow"`.
    pub event_type: &'static str,
    /// Time of the first packet (written as RFC 3339).
    pub timestamp: Timestamp,
    /// Deterministic id.
    pub flow_id: u64,
    /// Client address.
    pub src_ip: IpAddr,
    /// Client port.
    pub src_port: u16,
    /// Server address.
    pub dest_ip: IpAddr,
    /// Server port.
    pub dest_port: u16,
    /// `tcp`, `udp`, `icmp`, `ipv6-icmp`, ... (`ip-N` for others).
    pub proto: Cow<'static, str>,
    /// The tunnel the flow was read through (`vxlan`, `geneve`, `gtp-u`,
    /// `erspan`, `gre-ethernet`: the outermost); absent for a flow on the
    /// capture's own link, as Suricata's EVE leaves out `tunnel`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<&'static str>,
    /// The application protocol identified.
    pub app_proto: &'static str,
    /// `certain` or `likely`; null when nothing was identified.
    pub app_proto_confidence: Option<&'static str>,
    /// First frame.
    pub first_frame: u64,
    /// Last frame.
    pub last_frame: u64,
    /// Packets client → server.
    pub pkts_toserver: u64,
    /// Packets server → client.
    pub pkts_toclient: u64,
    /// Bytes client → server (frame lengths on the wire).
    pub bytes_toserver: u64,
    /// Bytes server → client.
    pub bytes_toclient: u64,
    /// Zeek's `conn_state`.
    pub conn_state: &'static str,
    /// Zeek's `history`.
    pub history: History,
    /// TLS server name, when seen.
    pub sni: Option<String>,
    /// HTTP Host, when seen.
    pub http_host: Option<String>,
    /// DNS query name, when seen.
    pub dns_qname: Option<String>,
    /// `"ok"` or the list of finding kinds.
    pub verdict: FlowVerdict,
}

/// A flow's verdict: nothing found, or the kinds of its findings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlowVerdict {
    /// No finding (written `"ok"`).
    #[default]
    Ok,
    /// The kinds of its findings, sorted and without repeats (written as a
    /// list).
    Tampered(Vec<&'static str>),
}

impl Serialize for FlowVerdict {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FlowVerdict::Ok => s.serialize_str("ok"),
            FlowVerdict::Tampered(kinds) => kinds.serialize(s),
        }
    }
}

/// Name of an IP protocol number as the output shows it.
pub fn proto_name(p: u8) -> Cow<'static, str> {
    match p {
        6 => "tcp".into(),
        17 => "udp".into(),
        1 => "icmp".into(),
        58 => "ipv6-icmp".into(),
        47 => "gre".into(),
        50 => "esp".into(),
        51 => "ah".into(),
        132 => "sctp".into(),
        n => format!("ip-{n}").into(),
    }
}

impl FlowRecord {
    /// The record of a finished flow (the names in `app` move into it).
    pub fn from_flow(f: &Flow, app: AppInfo) -> FlowRecord {
        let (up, down) = (&f.dirs[TO_SERVER], &f.dirs[TO_CLIENT]);
        let (conn_state, history) = match (&f.zeek, f.key.proto) {
            (Some(z), _) => (z.conn_state(), z.history_letters()),
            (None, 17) => {
                // Zeek's UDP rule: both sides active SF, originator only S0.
                let s = match (up.pkts > 0, down.pkts > 0) {
                    (true, true) => "SF",
                    (true, false) => "S0",
                    (false, true) => "SHR",
                    _ => "OTH",
                };
                let h = match (up.payload_bytes > 0, down.payload_bytes > 0) {
                    (true, true) => "Dd",
                    (true, false) => "D",
                    (false, true) => "d",
                    (false, false) => "",
                };
                (s, History::new(h))
            }
            _ => ("OTH", History::default()),
        };
        FlowRecord {
            event_type: "flow",
            timestamp: f.first_ts,
            flow_id: f.id,
            src_ip: f.client.addr,
            src_port: f.client.port,
            dest_ip: f.server.addr,
            dest_port: f.server.port,
            proto: proto_name(f.key.proto),
            tunnel: f.tunnel.map(Tunnel::name),
            app_proto: app.proto.as_str(),
            app_proto_confidence: app.confidence.map(|c| c.as_str()),
            first_frame: f.first_frame,
            last_frame: f.last_frame,
            pkts_toserver: up.pkts,
            pkts_toclient: down.pkts,
            bytes_toserver: up.bytes,
            bytes_toclient: down.bytes,
            conn_state,
            history,
            sni: app.sni,
            http_host: app.http_host,
            dns_qname: app.dns_qname,
            verdict: FlowVerdict::Ok,
        }
    }
}

/// The `tamper` record: one per finding.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[non_exhaustive]
pub struct Finding {
    /// Always `"tamper"`.
    pub event_type: &'static str,
    /// Time of the first frame of evidence.
    pub timestamp: String,
    /// The flow that shows it.
    pub flow_id: u64,
    /// Client address.
    pub src_ip: String,
    /// Client port.
    pub src_port: u16,
    /// Server address.
    pub dest_ip: String,
    /// Server port.
    pub dest_port: u16,
    /// Transport protocol.
    pub proto: String,
    /// The flow's application protocol.
    pub app_proto: &'static str,
    /// The finding kind (`tcp.injected_rst`, ...).
    pub kind: &'static str,
    /// 0..1.
    pub confidence: f64,
    /// Frame numbers of the evidence.
    pub frames: Vec<u64>,
    /// The header fields that gave it away.
    pub evidence: serde_json::Map<String, serde_json::Value>,
    /// What triggered it (`{"sni": ...}`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<serde_json::Map<String, serde_json::Value>>,
    /// The known censor behaviour it matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// OONI failure string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ooni_failure: Option<&'static str>,
    /// OONI web_connectivity blocking value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocking: Option<&'static str>,
}
