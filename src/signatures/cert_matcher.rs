//! Known interception authorities: certificate fingerprints and names looked up
//! in hash maps (one lookup per field of each certificate of a chain).

use std::collections::HashMap;

use super::model::{CertField, Location, Pattern, Signature};
use crate::proto::CertFacts;

/// A certificate signature that matched one certificate of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertHit {
    /// Index of the signature in the database.
    pub sig: usize,
    /// Position of the certificate in the chain (0 is the leaf).
    pub cert: usize,
    /// The field that matched.
    pub field: CertField,
}

/// The compiled certificate signatures.
#[derive(Default)]
pub(crate) struct CertMatcher {
    by_value: HashMap<(CertField, String), Vec<usize>>,
}

impl CertMatcher {
    /// Compiles the certificate signatures of `sigs`.
    pub fn new(sigs: &[Signature]) -> CertMatcher {
        let mut m = CertMatcher::default();
        for (i, s) in sigs.iter().enumerate() {
            if let (Location::Certificate(f), Pattern::Full(v)) = (&s.location, &s.pattern) {
                m.by_value.entry((*f, v.clone())).or_default().push(i);
            }
        }
        m
    }

    /// Every signature a chain matches, certificate by certificate.
    pub fn matches(&self, chain: &[CertFacts], out: &mut Vec<CertHit>) {
        for (cert, c) in chain.iter().enumerate() {
            let fields = [
                (CertField::Sha256, Some(&c.sha256)),
                (CertField::SpkiSha256, c.spki_sha256.as_ref()),
                (CertField::Issuer, c.issuer_key.as_ref()),
                (CertField::Subject, c.subject_key.as_ref()),
            ];
            for (field, value) in fields {
                let Some(value) = value else { continue };
                if let Some(sigs) = self.by_value.get(&(field, value.clone())) {
                    out.extend(sigs.iter().map(|&sig| CertHit { sig, cert, field }));
                }
            }
        }
    }
}
