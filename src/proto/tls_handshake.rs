//! The plaintext part of a TLS 1.2 (or older) handshake after the hellos: the
//! server's Certificate message and an alert the client sent before it
//! changed cipher spec.
//!
//! TLS 1.3 encrypts everything after the ServerHello, so a TLS 1.3 chain is
//! not on the wire: these return nothing for it, by construction (the server's
//! plaintext handshake records end with the ServerHello).

use std::borrow::Cow;

/// A TLS record header: content type, version, length.
const RECORD_HEADER: usize = 5;
/// Content types.
const CHANGE_CIPHER_SPEC: u8 = 0x14;
const ALERT: u8 = 0x15;
const HANDSHAKE: u8 = 0x16;
/// Handshake message type of Certificate.
const CERTIFICATE: u8 = 11;
/// At most this many certificates are read from one chain (real chains have
/// 2–4; the rest of a longer one is not looked at).
const MAX_CERTIFICATES: usize = 16;

/// The server's certificate chain as sent, leaf first.
#[derive(Debug)]
pub struct ServerChain<'a> {
    /// Offset in the server stream of the Certificate message's first byte
    /// (to name the frame that carried it).
    pub stream_offset: usize,
    /// The DER certificates, leaf first: borrowed from the stream when the
    /// message lies in one record, copied when records split it.
    pub certificates: Vec<Cow<'a, [u8]>>,
}

/// The payloads of the leading plaintext handshake records of `stream`, with
/// the stream offset of each: borrowed when there is one record, else joined.
fn handshake_bytes(stream: &[u8]) -> (Cow<'_, [u8]>, Vec<(usize, usize)>) {
    let mut parts: Vec<(usize, usize)> = Vec::new(); // (stream offset of payload, len)
    let mut i = 0;
    while let Some(h) = stream.get(i..i + RECORD_HEADER) {
        if h[0] != HANDSHAKE || h[1] != 3 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
        let start = i + RECORD_HEADER;
        let end = (start + len).min(stream.len());
        parts.push((start, end - start));
        i = start + len;
    }
    // (offset in the joined bytes, stream offset of that record's payload)
    let mut map = Vec::with_capacity(parts.len());
    let joined = match parts.as_slice() {
        [] => Cow::Borrowed(&[][..]),
        [(s, l)] => {
            map.push((0, *s));
            Cow::Borrowed(&stream[*s..*s + *l])
        }
        _ => {
            let mut v = Vec::with_capacity(parts.iter().map(|p| p.1).sum());
            for &(s, l) in &parts {
                map.push((v.len(), s));
                v.extend_from_slice(&stream[s..s + l]);
            }
            Cow::Owned(v)
        }
    };
    (joined, map)
}

/// The big-endian 24-bit length at `at` (TLS handshake lengths).
pub(super) fn u24(b: &[u8], at: usize) -> Option<usize> {
    let x = b.get(at..at + 3)?;
    Some((usize::from(x[0]) << 16) | (usize::from(x[1]) << 8) | usize::from(x[2]))
}

/// The server's certificate chain, when its Certificate message is in the
/// plaintext handshake at the start of `down` (the server stream) and whole.
pub fn server_chain(down: &[u8]) -> Option<ServerChain<'_>> {
    let (hs, map) = handshake_bytes(down);
    let mut at = 0;
    while let (Some(&t), Some(len)) = (hs.get(at), u24(&hs, at + 1)) {
        let body = at + 4;
        if t != CERTIFICATE {
            at = body + len;
            continue;
        }
        let msg = hs.get(body..body + len)?;
        let list = u24(msg, 0)?;
        let list = msg.get(3..3 + list)?;
        let mut ranges = Vec::new();
        let mut k = 0;
        while k < list.len() && ranges.len() < MAX_CERTIFICATES {
            let n = u24(list, k)?;
            let start = body + 3 + k + 3;
            list.get(k + 3..k + 3 + n)?;
            ranges.push(start..start + n);
            k += 3 + n;
        }
        let stream_offset = map
            .iter()
            .rev()
            .find(|(joined, _)| *joined <= at)
            .map_or(0, |&(joined, s)| s + (at - joined));
        let certificates = match hs {
            Cow::Borrowed(b) => ranges.into_iter().map(|r| Cow::Borrowed(&b[r])).collect(),
            Cow::Owned(ref v) => ranges
                .into_iter()
                .map(|r| Cow::Owned(v[r].to_vec()))
                .collect(),
        };
        return Some(ServerChain {
            stream_offset,
            certificates,
        });
    }
    None
}

/// A TLS alert a client sent in the clear during the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAlert {
    /// Offset of its record in the client stream.
    pub stream_offset: usize,
    /// 1 warning, 2 fatal.
    pub level: u8,
    /// The alert description (RFC 8446 §6).
    pub description: u8,
}

impl ClientAlert {
    /// The RFC name of the description, for the ones a certificate check sends.
    pub fn name(&self) -> &'static str {
        match self.description {
            0 => "close_notify",
            40 => "handshake_failure",
            42 => "bad_certificate",
            43 => "unsupported_certificate",
            44 => "certificate_revoked",
            45 => "certificate_expired",
            46 => "certificate_unknown",
            48 => "unknown_ca",
            _ => "other",
        }
    }

    /// Whether it says the client rejected the server's certificate.
    pub fn rejects_certificate(&self) -> bool {
        matches!(self.description, 42..=46 | 48)
    }
}

/// The first plaintext alert in the client stream `up`, before the client
/// changed cipher spec (after that, alerts are encrypted and unreadable).
pub fn client_alert(up: &[u8]) -> Option<ClientAlert> {
    let mut i = 0;
    while let Some(h) = up.get(i..i + RECORD_HEADER) {
        if h[1] != 3 || h[0] == CHANGE_CIPHER_SPEC || !(ALERT..=HANDSHAKE).contains(&h[0]) {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
        if h[0] == ALERT && len == 2 {
            let b = up.get(i + RECORD_HEADER..i + RECORD_HEADER + 2)?;
            return Some(ClientAlert {
                stream_offset: i,
                level: b[0],
                description: b[1],
            });
        }
        i += RECORD_HEADER + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(t: u8, payload: &[u8]) -> Vec<u8> {
        let mut r = vec![t, 3, 3];
        r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        r.extend_from_slice(payload);
        r
    }

    fn u24b(n: usize) -> [u8; 3] {
        [(n >> 16) as u8, (n >> 8) as u8, n as u8]
    }

    fn certificate_message(certs: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for c in certs {
            list.extend_from_slice(&u24b(c.len()));
            list.extend_from_slice(c);
        }
        let mut body = u24b(list.len()).to_vec();
        body.extend_from_slice(&list);
        let mut m = vec![CERTIFICATE];
        m.extend_from_slice(&u24b(body.len()));
        m.extend_from_slice(&body);
        m
    }

    /// A ServerHello and a Certificate in one record, and the same split over
    /// three records at awkward places: the same chain, offsets of the record
    /// that starts the Certificate message.
    #[test]
    fn chain_in_one_record_and_split() {
        let hello = [2u8, 0, 0, 4, 3, 3, 0, 0];
        let cert = certificate_message(&[b"leaf-der", b"ca-der!"]);
        let mut hs = hello.to_vec();
        hs.extend_from_slice(&cert);
        let one = record(HANDSHAKE, &hs);
        let c = server_chain(&one).unwrap();
        assert_eq!(c.stream_offset, 5 + hello.len());
        assert_eq!(c.certificates, vec![&b"leaf-der"[..], b"ca-der!"]);
        assert!(c.certificates.iter().all(|c| matches!(c, Cow::Borrowed(_))));

        let mut split = record(HANDSHAKE, &hs[..10]);
        split.extend(record(HANDSHAKE, &hs[10..20]));
        split.extend(record(HANDSHAKE, &hs[20..]));
        split.extend(record(CHANGE_CIPHER_SPEC, &[1]));
        let c = server_chain(&split).unwrap();
        assert_eq!(c.certificates, vec![&b"leaf-der"[..], b"ca-der!"]);
        assert_eq!(c.stream_offset, 5 + hello.len());
    }

    /// TLS 1.3 (ServerHello, then change cipher spec and encrypted records),
    /// a chain cut by the end of the stream, absurd lengths and garbage: none.
    #[test]
    fn no_chain() {
        let hello = record(HANDSHAKE, &[2u8, 0, 0, 4, 3, 3, 0, 0]);
        let mut tls13 = hello.clone();
        tls13.extend(record(CHANGE_CIPHER_SPEC, &[1]));
        tls13.extend(record(0x17, &[0xAA; 40]));
        assert!(server_chain(&tls13).is_none());
        let cert = record(HANDSHAKE, &certificate_message(&[b"leaf-der"]));
        assert!(server_chain(&cert[..cert.len() - 1]).is_none());
        let mut absurd = cert.clone();
        absurd[5 + 4..5 + 7].copy_from_slice(&[0xff, 0xff, 0xff]);
        assert!(server_chain(&absurd).is_none());
        for g in [
            &b""[..],
            b"\x16\x03",
            b"GET / HTTP/1.1\r\n",
            &[0x16, 3, 3, 0, 0],
        ] {
            assert!(server_chain(g).is_none());
        }
    }

    /// A client's plaintext alert after its handshake records; none after it
    /// changed cipher spec.
    #[test]
    fn client_alerts() {
        let mut up = record(HANDSHAKE, &[1, 0, 0, 2, 3, 3]);
        up.extend(record(ALERT, &[2, 48]));
        let a = client_alert(&up).unwrap();
        assert_eq!((a.stream_offset, a.level, a.name()), (11, 2, "unknown_ca"));
        assert!(a.rejects_certificate());
        let mut after = record(HANDSHAKE, &[1, 0, 0, 2, 3, 3]);
        after.extend(record(CHANGE_CIPHER_SPEC, &[1]));
        after.extend(record(ALERT, &[2, 48]));
        assert!(client_alert(&after).is_none());
        assert!(client_alert(b"\x15\x03").is_none());
    }
}
