//! `dns.injection`: a forged DNS answer raced the resolver's.
//!
//! An on-path injector sees the query and answers first; the resolver's genuine
//! answer still arrives, later, on the same 5-tuple with the same id and
//! question. So the evidence is two (or more) responses to one query that
//! disagree, where the early one also carries a mark of forgery: an IP TTL the
//! resolver's packets do not have, an answer from the block-address data or a
//! bogon, or header flags the resolver does not write (AA set without RA from a
//! recursive resolver, the GFW's 0x8400). Disagreement alone is not enough —
//! a resolver answering a retransmitted query twice may rotate a large pool —
//! and agreement is never flagged (Zeek's dns-two-responses trace: two identical
//! answers). The injector's fingerprint (IP TTL, IP ID, DF, flag word, answer
//! TTL, answer pool, name compression) goes into the evidence so injectors can be
//! clustered later.

use serde_json::{Value, json};

use super::dns_exchange::{DnsPacket, Exchange, answer_key, fingerprint, is_bogon};
use super::{CaptureContext, Detector, FindingBuilder, FlowView};
use crate::report::Finding;

/// The detector.
pub struct DnsInjection;

/// What sets a forged response apart from the genuine one.
fn forgery_signals(
    f: &DnsPacket,
    g: &DnsPacket,
    q: Option<&DnsPacket>,
    cx: &CaptureContext,
) -> (Vec<&'static str>, bool) {
    let mut s = Vec::new();
    let mut strong = false;
    if let (Some(a), Some(b)) = (f.ip, g.ip) {
        if a.ttl.abs_diff(b.ttl) >= 2 {
            s.push("ip_ttl_differs");
            strong = true;
        }
        if a.df != b.df {
            s.push("df_differs");
        }
    }
    let db = cx.signatures.db();
    if f.msg.addresses().any(|a| !db.match_dns(a).is_empty()) {
        s.push("answer_in_block_data");
        strong = true;
    } else if f.msg.addresses().any(is_bogon) && !g.msg.addresses().any(is_bogon) {
        s.push("bogon_answer");
        strong = true;
    }
    let (fa, ga) = (f.msg.aa(), g.msg.aa());
    if f.msg.ra() != g.msg.ra() || fa != ga {
        s.push("flags_differ");
    }
    if let Some(q) = q {
        if q.msg.rd() && f.msg.aa() && !f.msg.ra() && g.msg.ra() {
            s.push("aa_without_ra_from_recursive_resolver");
        }
        if q.msg.edns.is_some() && f.msg.edns.is_none() && g.msg.edns.is_some() {
            s.push("edns_not_echoed");
        }
    }
    if let (Some(q), Some(ft), Some(gt)) = (q.and_then(|q| q.ts), f.ts, g.ts) {
        if (ft - q) * 2 < gt - q {
            s.push("faster_than_resolver");
        }
    }
    // Two medium signals make up for no strong one.
    let medium = s
        .iter()
        .filter(|x| {
            matches!(
                **x,
                "df_differs"
                    | "flags_differ"
                    | "aa_without_ra_from_recursive_resolver"
                    | "edns_not_echoed"
            )
        })
        .count();
    (
        s.clone(),
        strong || medium >= 2 && s.contains(&"faster_than_resolver"),
    )
}

/// Forged responses with the signals that convicted each.
type Forged<'e> = Vec<(&'e DnsPacket, Vec<&'static str>)>;

/// The forged responses of an exchange and the genuine one, if any was forged.
fn judge<'e>(e: &'e Exchange, cx: &CaptureContext) -> Option<(Forged<'e>, &'e DnsPacket)> {
    // Truncated answers differ from the full ones by design. Most exchanges
    // have one response: nothing to compare, and nothing collected.
    let untruncated = |r: &&DnsPacket| r.msg.flags & 0x0200 == 0;
    e.responses.iter().filter(untruncated).nth(1)?;
    let rs: Vec<&DnsPacket> = e.responses.iter().filter(untruncated).collect();
    let genuine = *rs.last()?;
    let gkey = answer_key(&genuine.msg);
    let mut forged = Vec::new();
    for r in &rs[..rs.len() - 1] {
        if answer_key(&r.msg) == gkey {
            continue;
        }
        let (signals, ok) = forgery_signals(r, genuine, e.query.as_ref(), cx);
        if ok {
            forged.push((*r, signals));
        }
    }
    (!forged.is_empty()).then_some((forged, genuine))
}

impl Detector for DnsInjection {
    fn kind(&self) -> &'static str {
        "dns.injection"
    }

    fn inspect(&self, v: &FlowView<'_>, cx: &CaptureContext, out: &mut Vec<Finding>) {
        for e in v.dns_exchanges() {
            let Some((forged, genuine)) = judge(e, cx) else {
                continue;
            };
            let q = e.query.as_ref();
            let mut frames: Vec<u64> = forged.iter().map(|(p, _)| p.frame).collect();
            frames.push(genuine.frame);
            frames.extend(q.map(|q| q.frame));
            let first = forged[0].0;
            let ts = first.ts.unwrap_or(v.flow.first_ts.0);
            let mut signals: Vec<&str> =
                forged.iter().flat_map(|(_, s)| s.iter().copied()).collect();
            signals.sort_unstable();
            signals.dedup();
            let forged_fp: Vec<Value> = forged.iter().map(|(p, _)| fingerprint(p, q)).collect();
            let in_db: Vec<String> = forged
                .iter()
                .flat_map(|(p, _)| p.msg.addresses())
                .flat_map(|a| cx.signatures.db().match_dns(a))
                .map(|s| s.id.clone())
                .collect();
            let mut b = FindingBuilder::new(v, "dns.injection", ts)
                .confidence(0.7 + 0.05 * signals.len() as f64)
                .frames(frames)
                .evidence("qname", e.qname().unwrap_or_default())
                .evidence("qtype", e.qtype().unwrap_or_default())
                .evidence("responses", e.responses.len())
                .evidence("signals", json!(signals))
                .evidence("forged", Value::Array(forged_fp))
                .evidence("genuine", fingerprint(genuine, q))
                .trigger_from(v)
                .blocking("dns");
            if !in_db.is_empty() {
                b = b.evidence("signature_ids", json!(in_db));
            }
            if forged.iter().any(|(p, _)| p.msg.flags & 0xfff0 == 0x8400)
                && q.is_some_and(|q| q.msg.rd())
            {
                // The GFW's second injector: AA set, RD not echoed (research 2.3).
                b = b.profile("gfw-dns");
            }
            out.push(b.build());
        }
    }
}
