//! What a certificate from the wire says about who issued it: fingerprints,
//! names and the traits interception boxes leave in the leaves they forge.
//!
//! X.509 is parsed by rusticata's `x509-parser`; fingerprints are SHA-256 of
//! the DER certificate and of its SubjectPublicKeyInfo, as Chromium's
//! blocklist and crt.sh publish them.

use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};
use x509_parser::public_key::PublicKey;
use x509_parser::time::ASN1Time;

use crate::capture::Timestamp;

/// The facts of one certificate that evidence and signatures use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFacts {
    /// SHA-256 of the DER certificate, lower-case hex.
    pub sha256: String,
    /// SHA-256 of its SubjectPublicKeyInfo, lower-case hex (none when the
    /// certificate does not parse).
    pub spki_sha256: Option<String>,
    /// Subject as written (RFC 4514 names, in certificate order).
    pub subject: Option<String>,
    /// Issuer as written.
    pub issuer: Option<String>,
    /// Subject in [`canonical_name`] form.
    pub subject_key: Option<String>,
    /// Issuer in [`canonical_name`] form.
    pub issuer_key: Option<String>,
    /// `RSA-2048 e=65537`, `EC`, ...
    pub public_key: Option<String>,
    /// The RSA public exponent, for RSA keys.
    pub rsa_exponent: Option<u64>,
    /// Number of X.509 extensions.
    pub extensions: usize,
    /// Validity (`notBefore`, `notAfter`), RFC 3339.
    pub validity: Option<(String, String)>,
}

fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(char::from(H[usize::from(x >> 4)]));
        s.push(char::from(H[usize::from(x & 15)]));
    }
    s
}

/// SHA-256 of `b`, lower-case hex.
pub fn sha256_hex(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

/// A distinguished name reduced to what identifies it: attributes as
/// `TYPE=value` with the type upper-case and the value trimmed, sorted, joined
/// with `, `. `C=KZ, CN=Qaznet Trust Network` and `CN=Qaznet Trust
/// Network,C=KZ` (RFC 4514 print order, as OONI writes names) are the same.
pub fn canonical_name(dn: &str) -> String {
    let mut parts: Vec<String> = dn
        .split([',', '+'])
        .filter_map(|a| {
            let (t, v) = a.split_once('=')?;
            Some(format!("{}={}", t.trim().to_ascii_uppercase(), v.trim()))
        })
        .collect();
    parts.sort();
    parts.join(", ")
}

/// RFC 3339 in UTC, as every time in our output; as written when out of the
/// range our timestamps cover (1677–2262: a `notAfter` of 9999 exists).
fn time_text(t: &ASN1Time) -> String {
    t.timestamp().checked_mul(1_000_000_000).map_or_else(
        || t.to_string(),
        |ns| Timestamp(ns).to_rfc3339().replace(".000000Z", "Z"),
    )
}

fn name_of(n: &X509Name<'_>) -> (String, String) {
    let written = n.to_string();
    let key = canonical_name(&written);
    (written, key)
}

/// The facts of the DER certificate `der`; only the fingerprint when it does
/// not parse (a truncated or garbled certificate is still evidence by hash).
pub fn cert_facts(der: &[u8]) -> CertFacts {
    let mut f = CertFacts {
        sha256: sha256_hex(der),
        spki_sha256: None,
        subject: None,
        issuer: None,
        subject_key: None,
        issuer_key: None,
        public_key: None,
        rsa_exponent: None,
        extensions: 0,
        validity: None,
    };
    let Ok((_, c)) = X509Certificate::from_der(der) else {
        return f;
    };
    let tbs = &c.tbs_certificate;
    f.spki_sha256 = Some(sha256_hex(tbs.subject_pki.raw));
    let (s, sk) = name_of(&tbs.subject);
    let (i, ik) = name_of(&tbs.issuer);
    (f.subject, f.subject_key, f.issuer, f.issuer_key) = (Some(s), Some(sk), Some(i), Some(ik));
    f.extensions = tbs.extensions().len();
    f.validity = Some((
        time_text(&tbs.validity.not_before),
        time_text(&tbs.validity.not_after),
    ));
    match tbs.subject_pki.parsed() {
        Ok(PublicKey::RSA(k)) => {
            let e = k.try_exponent().ok();
            f.rsa_exponent = e;
            f.public_key = Some(match e {
                Some(e) => format!("RSA-{} e={e}", k.key_size()),
                None => format!("RSA-{}", k.key_size()),
            });
        }
        Ok(PublicKey::EC(p)) => f.public_key = Some(format!("EC-{}", p.key_size())),
        Ok(_) => f.public_key = Some("other".into()),
        Err(_) => {}
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_ignore_order_case_of_types_and_spaces() {
        let a = canonical_name("C=KZ, CN=Qaznet Trust Network");
        assert_eq!(a, "C=KZ, CN=Qaznet Trust Network");
        assert_eq!(canonical_name("CN=Qaznet Trust Network,c=KZ"), a);
        assert_ne!(canonical_name("C=KZ, CN=Qaznet Trust Network 2"), a);
        assert_eq!(
            canonical_name("C=KZ,O=ISCA,CN=Information Security Certification Authority"),
            canonical_name("CN=Information Security Certification Authority, O=ISCA, C=KZ")
        );
    }

    /// The two fixtures of `testdata/certs` (see its `make.sh`): fingerprint
    /// as `sha256sum` gives it, names, key, extensions and validity.
    #[test]
    fn facts_of_real_certificates() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/certs");
        let e3 = std::fs::read(dir.join("leaf-e3-noext.der")).unwrap();
        let f = cert_facts(&e3);
        assert_eq!(f.sha256, sha256_hex(&e3));
        assert_eq!(f.subject.as_deref(), Some("CN=knews.example"));
        assert_eq!(f.issuer, f.subject, "self-signed");
        assert_eq!(f.subject_key.as_deref(), Some("CN=knews.example"));
        assert_eq!((f.rsa_exponent, f.extensions), (Some(3), 0));
        assert_eq!(f.public_key.as_deref(), Some("RSA-1024 e=3"));
        let (nb, na) = f.validity.unwrap();
        assert!(
            nb.ends_with('Z') && na.ends_with('Z') && nb < na,
            "{nb} {na}"
        );
        assert_eq!(f.spki_sha256.as_ref().map(String::len), Some(64));

        let ord = cert_facts(&std::fs::read(dir.join("leaf-ordinary.der")).unwrap());
        assert_eq!(ord.subject.as_deref(), Some("C=KZ, CN=ordinary.example"));
        assert_eq!(ord.rsa_exponent, Some(65537));
        assert!(ord.extensions >= 4, "{}", ord.extensions);
        // A truncated certificate keeps its fingerprint only.
        let cut = cert_facts(&e3[..e3.len() / 2]);
        assert!(cut.subject.is_none() && cut.sha256 != f.sha256);
    }

    #[test]
    fn garbage_gives_only_a_fingerprint() {
        let f = cert_facts(b"not a certificate");
        assert_eq!(f.sha256.len(), 64);
        assert!(f.subject.is_none() && f.spki_sha256.is_none());
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
