//! DNS: recognising a message and reading its query name.
//!
//! DNS is identified on its well-known port (53) by a header that parses and a
//! question whose name reads; on other ports only when both a query and its
//! response (same ID, QR bit set) are seen, which random bytes never manage.

use super::{Confidence, View, be16};

/// A DNS header on port 53: a known opcode (QUERY, IQUERY, STATUS, NOTIFY,
/// UPDATE) and at most a few questions.
fn header_loose(m: &[u8]) -> bool {
    m.len() >= 12
        && matches!((m[2] >> 3) & 0x0f, 0..=2 | 4 | 5)
        && u16::from_be_bytes([m[4], m[5]]) <= 4
}

/// A DNS header that makes sense off port 53 too: [`header_loose`], and record
/// counts that fit in the message.
fn header_ok(m: &[u8]) -> bool {
    if m.len() < 12 {
        return false;
    }
    let opcode = (m[2] >> 3) & 0x0f;
    let qd = u16::from_be_bytes([m[4], m[5]]);
    let an = u16::from_be_bytes([m[6], m[7]]);
    let ns = u16::from_be_bytes([m[8], m[9]]);
    let ar = u16::from_be_bytes([m[10], m[11]]);
    // Every record takes at least 11 bytes, every question 5.
    let min = 12 + 5 * usize::from(qd) + 11 * (usize::from(an) + usize::from(ns) + usize::from(ar));
    matches!(opcode, 0..=2 | 4 | 5) && qd <= 4 && min <= m.len().max(512)
}

/// DNS over UDP: `(confidence, query name)`.
pub(super) fn probe_udp(v: &View<'_>) -> Option<(Confidence, Option<String>)> {
    let q = v.up_dgrams().next();
    let r = v.down_dgrams().next();
    let std_port = v.port(53);
    if !std_port {
        // Off port 53: a query and a matching response.
        let (q, r) = (q?, r?);
        if !(header_ok(q) && header_ok(r) && q[2] & 0x80 == 0 && r[2] & 0x80 != 0) {
            return None;
        }
        if q.get(..2) != r.get(..2) {
            return None;
        }
        let name = dns_qname(q)?;
        return Some((Confidence::Certain, Some(name)));
    }
    let first = q.or(r)?;
    if !header_loose(first) {
        return None;
    }
    let name = q.and_then(dns_qname).or_else(|| r.and_then(dns_qname));
    let c = if name.is_some() {
        Confidence::Certain
    } else {
        Confidence::Likely
    };
    Some((c, name))
}

/// DNS over TCP (port 53): a 2-byte length, then the message.
pub(super) fn probe_tcp(v: &View<'_>) -> Option<(Confidence, Option<String>)> {
    if !v.port(53) {
        return None;
    }
    let (b, len) = if v.up.len() >= 14 {
        (&v.up[2..], be16(v.up, 0)?)
    } else {
        (v.down.get(2..)?, be16(v.down, 0)?)
    };
    if len < 12 || !header_loose(b) {
        return None;
    }
    let name = dns_qname(b);
    let c = if name.is_some() {
        Confidence::Certain
    } else {
        Confidence::Likely
    };
    Some((c, name))
}

/// The first question's name of the DNS message `m`, lower-cased, following
/// compression pointers at most 32 times.
pub fn dns_qname(m: &[u8]) -> Option<String> {
    if m.len() < 12 {
        return None;
    }
    let qd = u16::from_be_bytes([m[4], m[5]]);
    if qd == 0 || m[2] & 0x78 != 0 {
        // No question, or an opcode other than QUERY.
        return None;
    }
    let mut name = String::with_capacity(64);
    let mut i = 12;
    let mut jumps = 0;
    loop {
        let len = usize::from(*m.get(i)?);
        match len {
            0 => break,
            l if l & 0xc0 == 0xc0 => {
                jumps += 1;
                if jumps > 32 {
                    return None;
                }
                i = ((l & 0x3f) << 8) | usize::from(*m.get(i + 1)?);
            }
            l if l < 64 => {
                let label = m.get(i + 1..i + 1 + l)?;
                if !name.is_empty() {
                    name.push('.');
                }
                for &c in label {
                    if !c.is_ascii_graphic() {
                        return None;
                    }
                    name.push(c.to_ascii_lowercase() as char);
                }
                if name.len() > 253 {
                    return None;
                }
                i += 1 + l;
            }
            _ => return None,
        }
    }
    // The root name is legitimate but names nothing a censor keys on.
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qname_and_pointer_loop() {
        let q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07Example\x03com\x00\x00\x01\x00\x01";
        assert_eq!(dns_qname(q).as_deref(), Some("example.com"));
        let looped = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c";
        assert_eq!(dns_qname(looped), None);
        assert!(header_ok(q));
        assert!(!header_ok(
            b"\x16\x03\x01\x02\x00\x01\x00\x00\xff\xff\x00\x00"
        ));
    }
}
