//! `dns.manipulation`: the only answer (or all answers, agreeing) to a query
//! points to a known block address, or sinks a public name to loopback or the
//! unspecified address.
//!
//! A resolver that lies answers once, from the resolver's own address, with the
//! resolver's own header: nothing on the wire differs but the answer itself. So
//! only the answer can convict: an address (or alias) in the block-address data
//! (national block pages, published poison addresses), or `0.0.0.0`/`127.0.0.1`
//! for a public name (as Turkmenistan's and some Chinese ISPs' resolvers answer).
//! Private addresses alone are not enough (split-horizon DNS answers them for
//! internal names), nor are NXDOMAIN, CDN or geo answers: only the data knows
//! which addresses are block pages. Exchanges with disagreeing answers are
//! `dns.injection`'s.

use serde_json::json;

use super::dns_exchange::{answer_key, fingerprint, is_public_name, is_sink};
use super::{CaptureContext, Detector, FindingBuilder, FlowView};
use crate::proto::RData;
use crate::report::Finding;

/// The detector.
pub struct DnsManipulation;

impl Detector for DnsManipulation {
    fn kind(&self) -> &'static str {
        "dns.manipulation"
    }

    fn inspect(&self, v: &FlowView<'_>, cx: &CaptureContext, out: &mut Vec<Finding>) {
        let db = cx.signatures.db();
        for e in v.dns_exchanges() {
            let Some(first) = e.responses.first() else {
                continue;
            };
            // Responses that disagree are for dns.injection to judge (the
            // answers are compared only when there is more than one).
            if e.responses.len() > 1 {
                let key = answer_key(&first.msg);
                if e.responses
                    .iter()
                    .skip(1)
                    .any(|r| answer_key(&r.msg) != key)
                {
                    continue;
                }
            }
            let qname = e.qname().unwrap_or_default();
            let mut ids: Vec<String> = Vec::new();
            let mut countries: Vec<String> = Vec::new();
            let mut matched: Vec<String> = Vec::new();
            for r in &first.msg.answers {
                let sigs = match &r.data {
                    RData::A(a) => db.match_dns((*a).into()),
                    RData::Aaaa(a) => db.match_dns((*a).into()),
                    RData::Cname(c) => db.match_dns_name(c),
                    _ => Vec::new(),
                };
                for s in sigs {
                    ids.push(s.id.clone());
                    countries.extend(s.country.clone());
                    matched.push(match &r.data {
                        RData::A(a) => a.to_string(),
                        RData::Aaaa(a) => a.to_string(),
                        RData::Cname(c) => c.clone(),
                        _ => String::new(),
                    });
                }
            }
            let by_data = !ids.is_empty();
            let by_sink = !by_data && first.msg.addresses().any(is_sink) && is_public_name(qname);
            if !by_data && !by_sink {
                continue;
            }
            let sink: Vec<String> = first
                .msg
                .addresses()
                .filter(|a| is_sink(*a))
                .map(|a| a.to_string())
                .collect();
            ids.dedup();
            countries.sort();
            countries.dedup();
            matched.dedup();
            let q = e.query.as_ref();
            let mut frames = vec![first.frame];
            frames.extend(q.map(|q| q.frame));
            let mut b =
                FindingBuilder::new(v, "dns.manipulation", first.ts.unwrap_or(v.flow.first_ts.0))
                    .frames(frames)
                    .evidence("qname", qname)
                    .evidence("qtype", e.qtype().unwrap_or_default())
                    .evidence("response", fingerprint(first, q))
                    .trigger_from(v);
            if by_data {
                b = b
                    .confidence(0.9)
                    .evidence("matched", json!(matched))
                    .evidence("signature_ids", json!(ids))
                    .evidence("countries", json!(countries))
                    .blocking("dns");
            } else {
                b = b
                    .confidence(0.7)
                    .evidence("sink_addresses", json!(sink))
                    .ooni("dns_bogon_error", "dns");
            }
            out.push(b.build());
        }
    }
}
