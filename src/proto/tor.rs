//! Tor: a TLS connection whose names Tor made up. A Tor client puts a random
//! `www.<base32>.com` in the SNI, and a relay's link certificate names a random
//! `www.<base32>.net` subject under a random `www.<base32>.com` issuer. Words
//! of ordinary sites rarely consist only of base32 letters and digits 2-7 *and*
//! contain a digit, so the SNI pattern is cheap and specific; the certificate
//! (readable only before TLS 1.3) makes it certain.

use super::{Confidence, View};

/// A random Tor name: `www.` + 8..=32 base32 characters (a-z, 2-7) with at
/// least one digit + `.com` or `.net`.
fn tor_name(name: &str) -> bool {
    let Some(mid) = name.strip_prefix("www.") else {
        return false;
    };
    let Some(label) = mid
        .strip_suffix(".com")
        .or_else(|| mid.strip_suffix(".net"))
    else {
        return false;
    };
    (8..=32).contains(&label.len())
        && label
            .bytes()
            .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c))
        && label.bytes().any(|c| (b'2'..=b'7').contains(&c))
}

/// Tor on a TLS flow, from the SNI, and from the server's certificate when the
/// handshake shows it in clear.
pub(super) fn probe(v: &View<'_>, sni: Option<&str>) -> Option<Confidence> {
    let sni_says = sni.is_some_and(tor_name);
    let cert_says = cert_names_random(v.down);
    match (sni_says, cert_says) {
        (true, true) => Some(Confidence::Certain),
        (true, false) | (false, true) => Some(Confidence::Likely),
        _ => None,
    }
}

/// Whether the server's first flight (TLS 1.2) holds a certificate whose
/// subject and issuer common names are both random Tor names.
fn cert_names_random(down: &[u8]) -> bool {
    // Cheap: the certificate handshake message is in clear only before TLS 1.3;
    // look for two `www.` common names in the server's first bytes.
    let head = &down[..down.len().min(8192)];
    let mut found = 0;
    let mut at = 0;
    while let Some(i) = memchr::memmem::find(&head[at..], b"www.") {
        let start = at + i;
        let end = head[start..]
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || *c == b'.'))
            .map_or(head.len(), |n| start + n);
        if let Ok(name) = std::str::from_utf8(&head[start..end]) {
            if tor_name(name) {
                found += 1;
            }
        }
        at = end.max(start + 4);
    }
    found >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(tor_name("www.q4cyamnc6mtokjurvdclt.com"));
        assert!(tor_name("www.gfu7hbxpfp.com"));
        assert!(!tor_name("www.google.com"));
        assert!(!tor_name("www.wikipedia.org"));
        assert!(!tor_name("www.stackoverflow.com"));
        assert!(!tor_name("www.e6r5p57kbafwrxj3plz8.com"));
    }
}
