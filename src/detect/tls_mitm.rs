//! `tls.mitm`: a server certificate chain from an interception authority, or
//! one with the traits of a forged leaf.
//!
//! Passive: the chain is read from the server's plaintext handshake, so only
//! TLS 1.2 and older show it, unless the analysis has the client's TLS key log
//! ([`crate::Config::tls_keys`]): then a TLS 1.3 server's encrypted handshake
//! records are opened ([`crate::proto::tls13_server_certificates`]) and its
//! chain is judged the same way (evidence `decrypted_with`). Without keys an
//! interception box that speaks 1.3 shows nothing here, and nothing is
//! claimed. Evidence, strongest first:
//! - a certificate whose SHA-256 or SPKI SHA-256 is a listed interception
//!   authority's ([`crate::signatures`], `certificate.sha256` /
//!   `certificate.spki_sha256`): Kazakhstan's Qaznet and ISCA roots as
//!   Chromium blocks them, or a user's own list;
//! - a certificate issued by, or naming itself, a listed authority
//!   (`certificate.issuer` / `certificate.subject`): names can be copied, but no
//!   genuine site chains to "Qaznet Trust Network";
//! - a leaf with the traits of Kazakhstan's 2019 forgeries (paper §4.2.3): an
//!   RSA key with public exponent 3 and no extensions at all (public CAs issue
//!   leaves with subjectAltName and a dozen other extensions). Alone this is a
//!   weaker finding.
//!
//! A client that then sent `unknown_ca` (or another certificate alert) in the
//! clear is recorded as corroboration, not required: a client told to trust
//! the national root accepts the chain and data flows.

use serde_json::{Value, json};

use super::{CaptureContext, Detector, FindingBuilder, FlowView};
use crate::flow::{TO_CLIENT, TO_SERVER};
use std::borrow::Cow;

use crate::proto::{
    AppProto, CertFacts, cert_facts, client_alert, server_chain, tls13_server_certificates,
};
use crate::report::Finding;
use crate::signatures::CertField;

/// Confidence when a certificate's fingerprint is a listed authority's.
const BY_FINGERPRINT: f64 = 0.97;
/// When a certificate names a listed authority as issuer or subject.
const BY_NAME: f64 = 0.9;
/// When only the leaf has the forged-leaf traits.
const BY_LEAF_TRAITS: f64 = 0.6;

/// The detector. The certificate frame it names is the one that carries the
/// Certificate message's first byte (Wireshark shows the message reassembled
/// in the frame of its last byte when it spans segments).
pub struct TlsMitm;

/// Kazakhstan 2019's forged leaves: RSA with e = 3, every extension removed.
fn forged_leaf_traits(leaf: &CertFacts) -> Vec<&'static str> {
    let mut t = Vec::new();
    if leaf.subject.is_some() && leaf.extensions == 0 {
        t.push("no_extensions");
    }
    if leaf.rsa_exponent == Some(3) {
        t.push("rsa_exponent_3");
    }
    t
}

fn cert_json(c: &CertFacts) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("subject".into(), json!(c.subject));
    m.insert("issuer".into(), json!(c.issuer));
    m.insert("sha256".into(), json!(c.sha256));
    m.insert("spki_sha256".into(), json!(c.spki_sha256));
    m.insert("public_key".into(), json!(c.public_key));
    m.insert("extensions".into(), json!(c.extensions));
    if let Some((nb, na)) = &c.validity {
        m.insert("not_before".into(), json!(nb));
        m.insert("not_after".into(), json!(na));
    }
    Value::Object(m)
}

impl Detector for TlsMitm {
    fn kind(&self) -> &'static str {
        "tls.mitm"
    }

    fn inspect(&self, v: &FlowView<'_>, cx: &CaptureContext, out: &mut Vec<Finding>) {
        let f = v.flow;
        if f.key.proto != 6 || v.app.proto != AppProto::Tls || v.down.first() != Some(&0x16) {
            return;
        }
        // The plaintext chain (TLS 1.2 and older), else a TLS 1.3 chain
        // opened with the client's key log (the whole held server stream: the
        // judged start ends at the first encrypted record).
        let (stream_offset, certificates, decrypted): (usize, Vec<Cow<'_, [u8]>>, bool) =
            match server_chain(v.down) {
                Some(c) => (c.stream_offset, c.certificates, false),
                None if !cx.tls_keys.is_empty() => {
                    let down = f.dirs[TO_CLIENT].stream.bytes();
                    let Some(c) = tls13_server_certificates(v.up, down, &cx.tls_keys) else {
                        return;
                    };
                    let certs = c.certificates.into_iter().map(Cow::Owned).collect();
                    (c.record_offset, certs, true)
                }
                None => return,
            };
        let facts: Vec<CertFacts> = certificates.iter().map(|c| cert_facts(c)).collect();
        let Some(leaf) = facts.first() else { return };
        let db = cx.signatures.db();
        let hits = db.match_certificates(&facts);
        let traits = forged_leaf_traits(leaf);
        let forged_leaf = traits.len() == 2;
        if hits.is_empty() && !forged_leaf {
            return;
        }
        let by_fingerprint = hits
            .iter()
            .any(|h| matches!(h.field, CertField::Sha256 | CertField::SpkiSha256));
        let confidence = if by_fingerprint {
            BY_FINGERPRINT
        } else if !hits.is_empty() {
            BY_NAME
        } else {
            BY_LEAF_TRAITS
        };
        let (up, down) = (&f.dirs[TO_SERVER], &f.dirs[TO_CLIENT]);
        let frame_at = |marks: &mut dyn DoubleEndedIterator<Item = crate::flow::SegmentMark>,
                        at: usize| {
            marks
                .rev()
                .find(|m| m.offset as usize <= at)
                .map(|m| m.frame)
        };
        let cert_frame = frame_at(&mut down.stream.marks(), stream_offset)
            .or(down.first_payload_frame)
            .unwrap_or(down.first_frame);
        let mut frames = vec![cert_frame];
        let alert = client_alert(v.up);
        let alert_frame = alert.and_then(|a| frame_at(&mut up.stream.marks(), a.stream_offset));
        frames.extend(alert_frame);
        let matched: Vec<Value> = hits
            .iter()
            .filter_map(|h| {
                let s = db.get(h.sig)?;
                Some(json!({
                    "signature_id": s.id,
                    "signature_set": s.set,
                    "matched_in": s.location.label(),
                    "certificate": h.cert,
                    "country": s.country,
                }))
            })
            .collect();
        let ts = down
            .baseline
            .tcp
            .first_payload
            .map_or(f.first_ts.0, |p| p.ts);
        let mut b = FindingBuilder::new(v, "tls.mitm", ts)
            .confidence(confidence)
            .frames(frames)
            .evidence("certificate_frame", cert_frame)
            .evidence("chain", Value::Array(facts.iter().map(cert_json).collect()))
            .evidence("matched", Value::Array(matched))
            .evidence("forged_leaf_traits", json!(traits))
            .evidence("client_alert", json!(alert.map(|a| a.name())))
            .evidence(
                "client_rejected_chain",
                alert.is_some_and(|a| a.rejects_certificate()),
            )
            .trigger_from(v)
            .ooni("ssl_unknown_autority", "http-failure");
        if decrypted {
            b = b.evidence("decrypted_with", "tls_key_log");
        }
        if let Some(h) = hits.first().and_then(|h| db.get(h.sig)) {
            b = b.profile(h.id.clone());
        } else if forged_leaf {
            b = b.profile("kz-2019-forged-leaf");
        }
        out.push(b.build());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The forged-leaf traits need both: a v1 certificate with an exponent-3
    /// key has them, an ordinary leaf has neither.
    #[test]
    fn forged_leaf_traits_of_real_certificates() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/certs");
        let e3 = cert_facts(&std::fs::read(dir.join("leaf-e3-noext.der")).unwrap());
        assert_eq!(
            forged_leaf_traits(&e3),
            vec!["no_extensions", "rsa_exponent_3"]
        );
        let ord = cert_facts(&std::fs::read(dir.join("leaf-ordinary.der")).unwrap());
        assert!(forged_leaf_traits(&ord).is_empty());
        // An unparsable certificate has no traits (it has no known extensions).
        assert!(forged_leaf_traits(&cert_facts(b"junk")).is_empty());
    }
}
