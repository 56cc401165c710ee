//! The server's certificate chain of a TLS 1.3 handshake, read with the
//! client's key log ([`super::keylog`]).
//!
//! TLS 1.3 encrypts everything the server sends after its ServerHello with
//! keys derived from the server handshake traffic secret (RFC 8446 §7.3):
//! key and IV by HKDF-Expand-Label, each record sealed with the AEAD of the
//! negotiated suite, the record header as associated data and the IV XOR the
//! record's sequence number as nonce (§5.3), the real content type last in
//! the plaintext (§5.2). The records are opened one by one from the first
//! after the ServerHello (the real one, after a HelloRetryRequest) until the
//! Certificate message is whole. The three
//! suites browsers offer are read (`TLS_AES_128_GCM_SHA256`,
//! `TLS_AES_256_GCM_SHA384`, `TLS_CHACHA20_POLY1305_SHA256`, the last chosen
//! by phones without AES instructions); the CCM suites are not.

use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::{Nonce, Tag};
use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use sha2::{Sha256, Sha384};

use super::be16;
use super::keylog::TlsKeyLog;
use super::tls_handshake::u24 as u24_at;

const RECORD_HEADER: usize = 5;
const CHANGE_CIPHER_SPEC: u8 = 20;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const SERVER_HELLO: u8 = 2;
const CERTIFICATE: u8 = 11;
/// Encrypted records opened at most before giving up on a Certificate
/// (EncryptedExtensions, Certificate, CertificateVerify and Finished may each
/// be a record of their own, and a long chain several).
const MAX_RECORDS: usize = 16;
/// Most certificates read from one chain.
const MAX_CERTIFICATES: usize = 16;
/// A ServerHello with this random is a HelloRetryRequest (RFC 8446 §4.1.3).
const HELLO_RETRY: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// The certificates a TLS 1.3 server sent, leaf first, and where in its
/// stream the record holding the start of its Certificate message begins.
#[derive(Debug)]
pub struct Tls13Chain {
    /// Offset in the server stream of that record's header.
    pub record_offset: usize,
    /// The DER certificates.
    pub certificates: Vec<Vec<u8>>,
}

/// The record sealing of one direction.
enum Sealer {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    ChaCha20(Box<ChaCha20Poly1305>),
}

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    be16(b, at).map(usize::from)
}

/// The HkdfLabel of RFC 8446 §7.1 with an empty context (QUIC's Initial
/// keys use it too).
pub(super) fn label_info(label: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut info = Vec::with_capacity(4 + 6 + label.len());
    info.extend_from_slice(&u16::try_from(len).ok()?.to_be_bytes());
    info.push(u8::try_from(6 + label.len()).ok()?);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(0);
    Some(info)
}

/// The record key and IV of `suite` from a traffic secret.
fn traffic_keys(suite: u16, secret: &[u8]) -> Option<(Sealer, [u8; 12])> {
    let mut iv = [0u8; 12];
    match suite {
        0x1301 => {
            let prk = Hkdf::<Sha256>::from_prk(secret).ok()?;
            let mut key = [0u8; 16];
            prk.expand(&label_info(b"key", 16)?, &mut key).ok()?;
            prk.expand(&label_info(b"iv", 12)?, &mut iv).ok()?;
            let aead = Aes128Gcm::new_from_slice(&key).ok()?;
            Some((Sealer::Aes128(Box::new(aead)), iv))
        }
        0x1303 => {
            let prk = Hkdf::<Sha256>::from_prk(secret).ok()?;
            let mut key = [0u8; 32];
            prk.expand(&label_info(b"key", 32)?, &mut key).ok()?;
            prk.expand(&label_info(b"iv", 12)?, &mut iv).ok()?;
            let aead = ChaCha20Poly1305::new_from_slice(&key).ok()?;
            Some((Sealer::ChaCha20(Box::new(aead)), iv))
        }
        0x1302 => {
            let prk = Hkdf::<Sha384>::from_prk(secret).ok()?;
            let mut key = [0u8; 32];
            prk.expand(&label_info(b"key", 32)?, &mut key).ok()?;
            prk.expand(&label_info(b"iv", 12)?, &mut iv).ok()?;
            let aead = Aes256Gcm::new_from_slice(&key).ok()?;
            Some((Sealer::Aes256(Box::new(aead)), iv))
        }
        _ => None,
    }
}

/// Opens one record (`header` its 5 bytes, `sealed` its payload) sealed
/// with sequence number `seq`: the plaintext and its real content type.
/// Opens `buf` in place with any of the suites' AEADs (12-byte nonce,
/// 16-byte tag); false when the tag does not verify.
fn open_in_place<A>(a: &A, nonce: [u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> bool
where
    A: AeadInOut<NonceSize = U12, TagSize = U16>,
{
    let Ok(tag) = Tag::<A>::try_from(tag) else {
        return false;
    };
    a.decrypt_inout_detached(&Nonce::<A>::from(nonce), aad, buf.into(), &tag)
        .is_ok()
}

fn open(
    sealer: &Sealer,
    iv: &[u8; 12],
    seq: u64,
    header: &[u8],
    sealed: &[u8],
) -> Option<(u8, Vec<u8>)> {
    let (ct, tag) = sealed.split_at(sealed.len().checked_sub(16)?);
    let mut nonce = *iv;
    for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
        *n ^= s;
    }
    let mut plain = ct.to_vec();
    let ok = match sealer {
        Sealer::Aes128(a) => open_in_place(&**a, nonce, header, &mut plain, tag),
        Sealer::Aes256(a) => open_in_place(&**a, nonce, header, &mut plain, tag),
        Sealer::ChaCha20(a) => open_in_place(&**a, nonce, header, &mut plain, tag),
    };
    if !ok {
        return None;
    }
    // The content type is the last byte that is not padding.
    let end = plain.iter().rposition(|&b| b != 0)?;
    let kind = plain[end];
    plain.truncate(end);
    Some((kind, plain))
}

/// The client random of the ClientHello at the start of the client stream.
fn client_random(up: &[u8]) -> Option<&[u8]> {
    if up.first() != Some(&HANDSHAKE) || up.get(5) != Some(&1) {
        return None;
    }
    up.get(11..43)
}

/// The cipher suite of a TLS 1.3 ServerHello body (`None` for an older
/// version or a HelloRetryRequest).
fn tls13_suite(body: &[u8]) -> Option<u16> {
    let random = body.get(2..34)?;
    if random == HELLO_RETRY {
        return None;
    }
    let sid = usize::from(*body.get(34)?);
    let at = 35 + sid;
    let suite = u16::try_from(u16_at(body, at)?).ok()?;
    let ext_len = u16_at(body, at + 3)?;
    let exts = body.get(at + 5..at + 5 + ext_len)?;
    let mut i = 0;
    while let (Some(t), Some(l)) = (u16_at(exts, i), u16_at(exts, i + 2)) {
        // supported_versions: the server's choice.
        if t == 43 && exts.get(i + 4..i + 6) == Some(&[3, 4][..]) {
            return Some(suite);
        }
        i += 4 + l;
    }
    None
}

/// The body of the server's ServerHello and the offset of the record after
/// it. A server that wants another key share first sends a
/// HelloRetryRequest (a ServerHello with [`HELLO_RETRY`] as its random,
/// §4.1.4), perhaps a change_cipher_spec, and after the client's second
/// ClientHello its real ServerHello, still in plaintext: the records up to it
/// are stepped over. (The second ClientHello repeats the first one's random,
/// so the key log's line for the connection is found by the first.)
fn server_hello(down: &[u8]) -> Option<(&[u8], usize)> {
    let mut at = 0;
    // A HelloRetryRequest, a change_cipher_spec, the ServerHello.
    for _ in 0..3 {
        let h = down.get(at..at + RECORD_HEADER)?;
        let len = u16_at(h, 3)?;
        let payload = down.get(at + RECORD_HEADER..at + RECORD_HEADER + len)?;
        at += RECORD_HEADER + len;
        match h[0] {
            CHANGE_CIPHER_SPEC => continue,
            HANDSHAKE => {}
            _ => return None,
        }
        if *payload.first()? != SERVER_HELLO {
            return None;
        }
        let body = payload.get(4..4 + u24_at(payload, 1)?)?;
        if body.get(2..34)? != HELLO_RETRY {
            return Some((body, at));
        }
    }
    None
}

/// The certificates of a TLS 1.3 Certificate message body (§4.4.2).
fn certificate_list(msg: &[u8]) -> Option<Vec<Vec<u8>>> {
    let ctx = usize::from(*msg.first()?);
    let list_len = u24_at(msg, 1 + ctx)?;
    let list = msg.get(4 + ctx..4 + ctx + list_len)?;
    let mut out = Vec::new();
    let mut k = 0;
    while k < list.len() && out.len() < MAX_CERTIFICATES {
        let n = u24_at(list, k)?;
        out.push(list.get(k + 3..k + 3 + n)?.to_vec());
        let ext = u16_at(list, k + 3 + n)?;
        k += 3 + n + 2 + ext;
    }
    Some(out)
}

/// The server's chain of a TLS 1.3 connection whose streams start at `up`
/// (client) and `down` (server), if `keys` holds its server handshake secret
/// and the records open.
pub fn server_certificates(up: &[u8], down: &[u8], keys: &TlsKeyLog) -> Option<Tls13Chain> {
    let secret = keys.server_handshake_secret(client_random(up)?)?;
    let (body, mut at) = server_hello(down)?;
    let (sealer, iv) = traffic_keys(tls13_suite(body)?, secret)?;
    let mut seq = 0u64;
    let mut handshake: Vec<u8> = Vec::new();
    // (offset in `handshake`, stream offset of the record it came from)
    let mut origins: Vec<(usize, usize)> = Vec::new();
    while seq < MAX_RECORDS as u64 {
        let Some(h) = down.get(at..at + RECORD_HEADER) else {
            break;
        };
        let len = u16_at(h, 3)?;
        let payload = down.get(at + RECORD_HEADER..at + RECORD_HEADER + len)?;
        match h[0] {
            CHANGE_CIPHER_SPEC => {}
            APPLICATION_DATA => {
                let (kind, plain) = open(&sealer, &iv, seq, h, payload)?;
                seq += 1;
                if kind != HANDSHAKE {
                    return None;
                }
                origins.push((handshake.len(), at));
                handshake.extend_from_slice(&plain);
                // Whole messages so far: is the Certificate among them?
                let mut m = 0;
                while let (Some(&t), Some(n)) = (handshake.get(m), u24_at(&handshake, m + 1)) {
                    let Some(msg) = handshake.get(m + 4..m + 4 + n) else {
                        break;
                    };
                    if t == CERTIFICATE {
                        let record_offset = origins
                            .iter()
                            .rev()
                            .find(|(o, _)| *o <= m)
                            .map_or(at, |&(_, s)| s);
                        return Some(Tls13Chain {
                            record_offset,
                            certificates: certificate_list(msg)?,
                        });
                    }
                    m += 4 + n;
                }
            }
            _ => return None,
        }
        at += RECORD_HEADER + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three suites, with secrets of their hash's length; the CCM
    /// suites are not read. (The keys themselves are checked end to end by
    /// `tests/tls13_keylog.rs`: OpenSSL's handshake opens with them.)
    #[test]
    fn suites_read() {
        assert!(matches!(
            traffic_keys(0x1301, &[7; 32]),
            Some((Sealer::Aes128(_), _))
        ));
        assert!(matches!(
            traffic_keys(0x1302, &[7; 48]),
            Some((Sealer::Aes256(_), _))
        ));
        assert!(matches!(
            traffic_keys(0x1303, &[7; 32]),
            Some((Sealer::ChaCha20(_), _))
        ));
        assert!(
            traffic_keys(0x1304, &[7; 32]).is_none(),
            "TLS_AES_128_CCM_SHA256"
        );
        assert!(
            traffic_keys(0x1301, &[7; 8]).is_none(),
            "a secret shorter than the hash"
        );
    }

    #[test]
    fn certificate_list_reads_entries_with_extensions() {
        // Empty context, two entries: 3 bytes + 2 bytes of extensions, 2
        // bytes + none.
        let msg = [
            0, 0, 0, 17, 0, 0, 3, b'a', b'b', b'c', 0, 2, 0xff, 0xff, 0, 0, 2, b'd', b'e', 0, 0,
        ];
        let certs = certificate_list(&msg).unwrap();
        assert_eq!(certs, vec![b"abc".to_vec(), b"de".to_vec()]);
        assert!(certificate_list(&msg[..10]).is_none());
    }

    #[test]
    fn hostile_streams_are_refused() {
        let keys = TlsKeyLog::parse(&format!(
            "SERVER_HANDSHAKE_TRAFFIC_SECRET {} {}",
            "00".repeat(32),
            "11".repeat(32)
        ));
        let mut up = vec![22, 3, 1, 0, 100, 1, 0, 0, 96, 3, 3];
        up.extend_from_slice(&[0; 32]);
        for down in [
            &[][..],
            &[22, 3, 3, 0xff, 0xff],
            &[22, 3, 3, 0, 4, 2, 0xff, 0xff, 0xff],
        ] {
            assert!(server_certificates(&up, down, &keys).is_none());
        }
    }

    /// A HelloRetryRequest and a change_cipher_spec are stepped over to the
    /// ServerHello after them; retry after retry is not followed for ever,
    /// and nothing but those two may come before the ServerHello.
    #[test]
    fn hello_retry_is_stepped_over() {
        let hello = |random: &[u8]| {
            let mut body = vec![3, 3];
            body.extend_from_slice(random);
            body.extend_from_slice(&[0, 0x13, 0x01, 0, 0, 6, 0, 43, 0, 2, 3, 4]);
            let mut msg = vec![SERVER_HELLO, 0, 0, body.len() as u8];
            msg.extend_from_slice(&body);
            let mut rec = vec![HANDSHAKE, 3, 3, 0, msg.len() as u8];
            rec.extend_from_slice(&msg);
            rec
        };
        let ccs = [CHANGE_CIPHER_SPEC, 3, 3, 0, 1, 1];
        let real = hello(&[7; 32]);
        let retry = hello(&HELLO_RETRY);
        let stream = [retry.clone(), ccs.to_vec(), real.clone()].concat();
        let (body, after) = server_hello(&stream).expect("the second ServerHello");
        assert_eq!(body.get(2..34), Some(&[7u8; 32][..]));
        assert_eq!(after, stream.len());
        assert_eq!(tls13_suite(body), Some(0x1301));
        assert_eq!(server_hello(&real).map(|(_, a)| a), Some(real.len()));
        let retries = [retry.clone(), retry.clone(), retry.clone(), real.clone()].concat();
        assert!(server_hello(&retries).is_none());
        let alert = [&[21u8, 3, 3, 0, 2, 2, 40][..], &real].concat();
        assert!(server_hello(&alert).is_none());
    }
}
