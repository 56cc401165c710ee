//! `http.blockpage`: a response that matches a block-page signature.
//!
//! The server's reassembled stream is matched once against every signature
//! ([`crate::signatures`]): the whole response (Censored Planet's scope), the
//! body, and the `Location`, `Server`, `Via` (and any other listed) headers. A
//! known false positive that matches wins, as upstream does: a Cloudflare
//! challenge or a stock server page is not a block page. A server stream that is
//! not HTTP at all is checked only against whole-body literals (an injected
//! `Object not found`), never against substrings: random bytes contain anything.
//!
//! Whether the page was injected or served by a block-page server the traffic
//! was redirected to (DNAT) does not matter here; `http.injected_response`
//! judges the packets.

use serde_json::json;

use super::{CaptureContext, Detector, FindingBuilder, FlowView};
use crate::flow::{TO_CLIENT, TO_SERVER};
use crate::report::Finding;
use crate::signatures::HttpVerdict;

/// Longest non-HTTP server stream checked against whole-body literals.
const RAW_MAX: usize = 256;

/// The detector.
pub struct HttpBlockpage;

impl Detector for HttpBlockpage {
    fn kind(&self) -> &'static str {
        "http.blockpage"
    }

    fn inspect(&self, v: &FlowView<'_>, cx: &CaptureContext, out: &mut Vec<Finding>) {
        let f = v.flow;
        if f.key.proto != 6 {
            return;
        }
        let (up, down) = (&f.dirs[TO_SERVER], &f.dirs[TO_CLIENT]);
        let stream = v.down;
        if stream.is_empty() || up.payload_bytes == 0 {
            return;
        }
        let resp = v.http_response();
        let (body_start, headers): (_, &[(&[u8], &[u8])]) = match resp {
            Some(r) => (Some(r.head_len.unwrap_or(stream.len())), &r.headers),
            None if stream.len() <= RAW_MAX => (None, &[]),
            None => return,
        };
        let db = cx.signatures.db();
        let HttpVerdict::BlockPage(hits) = db.match_http(stream, body_start, headers) else {
            return;
        };
        let Some(hit) = hits.first() else { return };
        let Some(sig) = db.get(hit.sig) else { return };
        // The frame that carried the match (body matches), else the response's first.
        let abs = match hit.location.as_str() {
            "body" => body_start.unwrap_or(0) + hit.offset,
            "response" => hit.offset,
            _ => 0,
        };
        let first_frame = down
            .stream
            .marks()
            .next()
            .map_or(down.first_payload_frame.unwrap_or(down.first_frame), |m| {
                m.frame
            });
        let match_frame = down
            .stream
            .marks()
            .rev()
            .find(|m| m.offset as usize <= abs)
            .map_or(first_frame, |m| m.frame);
        let others: Vec<String> = hits
            .iter()
            .skip(1)
            .filter_map(|h| db.get(h.sig))
            .map(|s| s.id.clone())
            .collect();
        let ts = down
            .baseline
            .tcp
            .first_payload
            .map_or(f.first_ts.0, |p| p.ts);
        let mut b = FindingBuilder::new(v, "http.blockpage", ts)
            .confidence(if body_start.is_none() { 0.8 } else { 0.9 })
            .frames(vec![first_frame, match_frame])
            .evidence("signature_id", sig.id.clone())
            .evidence("signature_set", sig.set.clone())
            .evidence("signature_source", sig.source.clone())
            .evidence("matched_in", hit.location.clone())
            .evidence("match_offset", hit.offset)
            .trigger_from(v)
            .blocking("http-diff");
        if let Some(c) = &sig.country {
            b = b.evidence("country", c.clone());
        }
        if !others.is_empty() {
            b = b.evidence("other_signatures", json!(others));
        }
        if let Some(r) = &resp {
            b = b.evidence("status", r.status);
            if let Some(l) = r.location() {
                b = b.evidence("location", l);
            }
            if let Some(s) = r.header("server") {
                b = b.evidence("server", String::from_utf8_lossy(s).into_owned());
            }
        }
        out.push(b.build());
    }
}
