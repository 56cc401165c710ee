//! DNS exchanges of a finished flow: each query with every response to it, and
//! the IP-layer facts of each response datagram (TTL, IP ID, DF, arrival time),
//! which is what tells an injector from the resolver.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::FlowView;
use crate::flow::{Direction, PktBrief, TO_CLIENT, TO_SERVER};
use crate::proto::{DnsMessage, RData, parse_dns, tcp_messages};

/// Responses later than this after their query are not counted (OONI waits
/// 5 s + 5 s for late answers).
const LATE_NS: i64 = 10_000_000_000;

/// One DNS message and the packet that carried it.
#[derive(Clone, Debug)]
pub(super) struct DnsPacket {
    pub frame: u64,
    /// Capture time (ns); `None` for messages read from a TCP stream.
    pub ts: Option<i64>,
    /// IP header facts; `None` for TCP (per-segment facts are not kept).
    pub ip: Option<PktBrief>,
    pub msg: DnsMessage,
}

/// A query and its responses in order of arrival.
#[derive(Clone, Debug)]
pub(super) struct Exchange {
    pub query: Option<DnsPacket>,
    pub responses: Vec<DnsPacket>,
}

impl Exchange {
    /// The question's name.
    pub fn qname(&self) -> Option<&str> {
        self.query
            .as_ref()
            .or(self.responses.first())
            .and_then(|p| p.msg.question())
            .map(|q| q.name.as_str())
    }

    /// The question's type.
    pub fn qtype(&self) -> Option<u16> {
        self.query
            .as_ref()
            .or(self.responses.first())
            .and_then(|p| p.msg.question())
            .map(|q| q.qtype)
    }
}

/// Same id and same first question (name and type).
fn same_query(a: &DnsMessage, b: &DnsMessage) -> bool {
    a.id == b.id
        && match (a.question(), b.question()) {
            (Some(x), Some(y)) => x.name == y.name && x.qtype == y.qtype,
            (None, None) => true,
            _ => false,
        }
}

/// Standard queries only: other opcodes (NOTIFY, UPDATE, reserved ones) do not
/// look names up.
fn is_query_opcode(m: &DnsMessage) -> bool {
    (m.flags >> 11) & 0x0f == 0
}

fn datagram_packets<'d>(d: &'d Direction) -> impl Iterator<Item = DnsPacket> + 'd {
    d.stream.datagrams().filter_map(|(frame, bytes)| {
        let msg = parse_dns(bytes).ok().filter(is_query_opcode)?;
        let ip = d.datagrams.iter().find(|b| b.frame == frame).copied();
        Some(DnsPacket {
            frame,
            ts: ip.map(|b| b.ts),
            ip,
            msg,
        })
    })
}

fn stream_packets(d: &Direction, stream: &[u8]) -> Vec<DnsPacket> {
    tcp_messages(stream)
        .into_iter()
        .filter_map(|(off, bytes)| {
            let msg = parse_dns(bytes).ok().filter(is_query_opcode)?;
            let frame = d
                .stream
                .marks()
                .rev()
                .find(|m| m.offset as usize <= off)
                .map_or(d.first_payload_frame.unwrap_or(d.first_frame), |m| m.frame);
            Some(DnsPacket {
                frame,
                ts: None,
                ip: None,
                msg,
            })
        })
        .collect()
}

/// The DNS exchanges of a flow to port 53 (UDP datagrams or a TCP stream).
/// Other ports (mDNS, LLMNR: many responders by design) are not read.
pub(super) fn exchanges(v: &FlowView<'_>) -> Vec<Exchange> {
    let f = v.flow;
    if f.server.port != 53 {
        return Vec::new();
    }
    match f.key.proto {
        17 => pair_up(
            datagram_packets(&f.dirs[TO_SERVER]),
            datagram_packets(&f.dirs[TO_CLIENT]),
        ),
        6 => pair_up(
            stream_packets(&f.dirs[TO_SERVER], v.up),
            stream_packets(&f.dirs[TO_CLIENT], v.down),
        ),
        _ => Vec::new(),
    }
}

/// Each query with the responses to it, in order of arrival; a response to
/// no query seen is an exchange of its own.
fn pair_up(
    up: impl IntoIterator<Item = DnsPacket>,
    down: impl IntoIterator<Item = DnsPacket>,
) -> Vec<Exchange> {
    let mut out: Vec<Exchange> = Vec::new();
    for q in up.into_iter().filter(|p| !p.msg.is_response()) {
        // A retransmitted query (same id and question) is the same exchange.
        if !out
            .iter()
            .any(|e| e.query.as_ref().is_some_and(|x| same_query(&x.msg, &q.msg)))
        {
            out.push(Exchange {
                query: Some(q),
                responses: Vec::new(),
            });
        }
    }
    for r in down.into_iter().filter(|p| p.msg.is_response()) {
        match out.iter_mut().find(|e| {
            e.query
                .as_ref()
                .or(e.responses.first())
                .is_some_and(|x| same_query(&x.msg, &r.msg))
        }) {
            Some(e) => {
                let q_ts = e.query.as_ref().and_then(|q| q.ts);
                let late = matches!((q_ts, r.ts), (Some(q), Some(t)) if t - q > LATE_NS);
                if !late {
                    e.responses.push(r);
                }
            }
            None => out.push(Exchange {
                query: None,
                responses: vec![r],
            }),
        }
    }
    out
}

/// What a response answered, order-free: rcode, addresses, alias targets.
pub(super) fn answer_key(m: &DnsMessage) -> (u8, Vec<RData>) {
    let mut v: Vec<RData> = m
        .answers
        .iter()
        .filter(|r| matches!(r.data, RData::A(_) | RData::Aaaa(_) | RData::Cname(_)))
        .map(|r| r.data.clone())
        .collect();
    v.sort();
    v.dedup();
    (m.rcode(), v)
}

/// An address no public name should resolve to: unspecified, loopback,
/// private, shared, link-local, multicast or reserved space. (The documentation
/// ranges are not included: test networks use them for real answers.)
pub(super) fn is_bogon(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_unspecified()
                || a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_multicast()
                || a.is_broadcast()
                || o[0] == 0
                || o[0] >= 240
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            a.is_unspecified()
                || a.is_loopback()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

/// An address a censor uses to sink traffic: unspecified or loopback (as
/// Turkmenistan's and some Chinese ISPs' injectors answer). Private space is
/// left out: split-horizon DNS answers private addresses for internal names.
pub(super) fn is_sink(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_unspecified() || a.is_loopback() || a.octets()[0] == 0,
        IpAddr::V6(a) => a.is_unspecified() || a.is_loopback(),
    }
}

/// Whether a name is a public Internet name (not a local or reserved suffix).
pub(super) fn is_public_name(name: &str) -> bool {
    const LOCAL: [&str; 14] = [
        "local",
        "lan",
        "home",
        "internal",
        "localdomain",
        "localhost",
        "arpa",
        "test",
        "invalid",
        "corp",
        "intranet",
        "private",
        "home.arpa",
        "router",
    ];
    let name = name.trim_end_matches('.');
    let Some((_, tld)) = name.rsplit_once('.') else {
        return false;
    };
    !LOCAL.contains(&tld) && !tld.bytes().all(|b| b.is_ascii_digit())
}

/// The injector fingerprint of one response, for evidence (and for clustering
/// injectors across captures).
pub(super) fn fingerprint(p: &DnsPacket, query: Option<&DnsPacket>) -> Value {
    let m = &p.msg;
    let answers: Vec<String> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.to_string()),
            RData::Aaaa(a) => Some(a.to_string()),
            RData::Cname(c) => Some(format!("CNAME {c}")),
            _ => None,
        })
        .collect();
    let mut v = json!({
        "frame": p.frame,
        "flags": format!("0x{:04x}", m.flags),
        "rcode": m.rcode(),
        "answers": answers,
        "answer_ttl": m.answers.first().map(|r| r.ttl),
        "answer_name_compressed": m.answers.first().map(|r| r.name_compressed),
        "pointer_jumps": m.max_pointer_jumps,
        "edns": m.edns.is_some(),
    });
    if let Some(ip) = p.ip {
        v["ip_ttl"] = ip.ttl.into();
        v["ip_id"] = ip.ip_id.into();
        v["df"] = ip.df.into();
    }
    if let (Some(q), Some(t)) = (query.and_then(|q| q.ts), p.ts) {
        v["delay_ms"] = (((t - q) as f64 / 1e6 * 1000.0).round() / 1000.0).into();
    }
    v
}
