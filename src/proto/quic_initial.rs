//! The server name in a QUIC client's Initial packets.
//!
//! Initial packets are encrypted with keys anyone can derive from the
//! packet's destination connection id (RFC 9001 §5.2, RFC 9369 §3.3 for v2),
//! which is how the GFW reads the SNI of QUIC connections since 2024 and how
//! we name the trigger of `quic.interference`. For each Initial of the
//! client's first datagrams: derive the client's Initial key, remove header
//! protection, open the AEAD, collect the CRYPTO frames by offset, and read
//! the ClientHello's server name once its first bytes are contiguous. A
//! ClientHello split over several Initials (post-quantum key shares) and
//! CRYPTO frames out of order (Chrome shuffles them) are both handled.

use aes::Aes128;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes_gcm::aead::{Nonce, Tag};
use aes_gcm::{AeadInOut, Aes128Gcm};
use hkdf::Hkdf;
use sha2::Sha256;

use super::tls::HiddenName;
use super::tls13::label_info;

/// Version 1's Initial salt (RFC 9001 §5.2).
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// Version 2's (RFC 9369 §3.3.1).
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// Drafts 29–32's (draft-ietf-quic-tls-29 §5.2).
const SALT_DRAFT29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];
/// Drafts 23–28's (draft-ietf-quic-tls-23 §5.2), also mvfst's `faceb002`.
const SALT_DRAFT23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];
/// Draft 22's, also mvfst's `faceb001`.
const SALT_DRAFT22: [u8; 20] = [
    0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd,
    0x7a, 0x02, 0x64, 0x4a,
];
/// Google QUIC T050's (gQUIC over TLS 1.3, IETF-style Initial packets).
const SALT_T050: [u8; 20] = [
    0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80, 0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c,
    0x60, 0x48, 0x83, 0x10,
];
/// Google QUIC T051's.
const SALT_T051: [u8; 20] = [
    0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc,
    0xda, 0x6e, 0x03, 0x3d,
];
/// Most CRYPTO bytes collected (a ClientHello with a post-quantum key share
/// is ~1.8 KB; more is not a ClientHello we need).
const MAX_CRYPTO: usize = 8192;
/// Most Initial packets opened per flow.
const MAX_PACKETS: usize = 8;

/// Keys of one version for one destination connection id.
struct Keys {
    aead: Aes128Gcm,
    iv: [u8; 12],
    hp: Aes128,
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
fn expand_label(secret: &Hkdf<Sha256>, label: &[u8], out: &mut [u8]) -> Option<()> {
    secret.expand(&label_info(label, out.len())?, out).ok()
}

/// A salt and the label prefix of the keys derived with it.
type Scheme = (&'static [u8; 20], &'static [u8]);

/// How a version writes its frames.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Frames {
    /// IETF QUIC's (CRYPTO is type 0x06).
    Ietf,
    /// Google QUIC's T05x: gQUIC frame types (PADDING 0x00, PING 0x07,
    /// CRYPTO 0x08, the last with IETF-style variable-length offset and length).
    Gquic,
}

/// The key schemes to try for a version (more than one when the version
/// does not say), its Initial packet type bits, and its frame types.
fn version_params(version: u32) -> Option<(&'static [Scheme], u8, Frames)> {
    let ietf = |(schemes, initial): (&'static [Scheme], u8)| Some((schemes, initial, Frames::Ietf));
    const V1: &[Scheme] = &[(&SALT_V1, b"quic ")];
    const V2: &[Scheme] = &[(&SALT_V2, b"quicv2 ")];
    const D29: &[Scheme] = &[(&SALT_DRAFT29, b"quic ")];
    const D23: &[Scheme] = &[(&SALT_DRAFT23, b"quic ")];
    const D22: &[Scheme] = &[(&SALT_DRAFT22, b"quic ")];
    const T050: &[Scheme] = &[(&SALT_T050, b"quic ")];
    const T051: &[Scheme] = &[(&SALT_T051, b"quic ")];
    // A reserved ("greasing") version, offered to provoke version
    // negotiation: clients protect it as a version they speak.
    const GREASE: &[Scheme] = &[(&SALT_V1, b"quic "), (&SALT_DRAFT29, b"quic ")];
    match version {
        1 => ietf((V1, 0)),
        0x6b33_43cf => ietf((V2, 1)),
        v if (0xff00_001d..=0xff00_0022).contains(&v) => ietf((D29, 0)),
        // mvfst's draft-27 version and its experimental one.
        v if (0xff00_0017..=0xff00_001c).contains(&v) || v == 0xface_b002 || v == 0xface_b00e => {
            ietf((D23, 0))
        }
        0xff00_0016 | 0xface_b001 => ietf((D22, 0)),
        v if v & 0x0f0f_0f0f == 0x0a0a_0a0a => ietf((GREASE, 0)),
        // Google's "T050"/"T051" (gQUIC's last versions, which carry TLS).
        0x5430_3530 => Some((T050, 0, Frames::Gquic)),
        0x5430_3531 => Some((T051, 0, Frames::Gquic)),
        _ => None,
    }
}

fn client_keys(scheme: Scheme, dcid: &[u8]) -> Option<Keys> {
    let (salt, prefix) = scheme;
    let initial = Hkdf::<Sha256>::new(Some(salt), dcid);
    let mut client = [0u8; 32];
    expand_label(&initial, b"client in", &mut client)?;
    let client = Hkdf::<Sha256>::from_prk(&client).ok()?;
    let label = |s: &[u8]| [prefix, s].concat();
    let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
    expand_label(&client, &label(b"key"), &mut key)?;
    expand_label(&client, &label(b"iv"), &mut iv)?;
    expand_label(&client, &label(b"hp"), &mut hp)?;
    Some(Keys {
        aead: Aes128Gcm::new_from_slice(&key).ok()?,
        iv,
        hp: Aes128::new_from_slice(&hp).ok()?,
    })
}

/// A QUIC variable-length integer at `b[*at..]`.
fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let b0 = *b.get(*at)?;
    let n = 1usize << (b0 >> 6);
    let raw = b.get(*at..*at + n)?;
    *at += n;
    Some(
        raw[1..]
            .iter()
            .fold(u64::from(raw[0] & 0x3f), |x, &y| (x << 8) | u64::from(y)),
    )
}

/// CRYPTO data by offset, as collected.
#[derive(Default)]
struct Crypto {
    bytes: Vec<u8>,
    have: Vec<bool>,
}

impl Crypto {
    fn put(&mut self, offset: u64, data: &[u8]) {
        let Ok(start) = usize::try_from(offset) else {
            return;
        };
        if start >= MAX_CRYPTO {
            return;
        }
        let end = (start + data.len()).min(MAX_CRYPTO);
        if self.bytes.len() < end {
            self.bytes.resize(end, 0);
            self.have.resize(end, false);
        }
        self.bytes[start..end].copy_from_slice(&data[..end - start]);
        self.have[start..end].fill(true);
    }

    /// The contiguous bytes from offset 0.
    fn prefix(&self) -> &[u8] {
        let n = self.have.iter().position(|h| !h).unwrap_or(self.have.len());
        &self.bytes[..n]
    }
}

/// Opens one long-header packet at the start of `d` if it is a client Initial
/// of a version we have keys for; adds its CRYPTO frames to `crypto`.
/// Returns the packet's length (to reach a coalesced packet after it).
///
/// Initial keys come from the destination connection id of the client's
/// *first* Initial (RFC 9001 §5.2): once the server has answered with its own
/// connection id, the client's later Initials carry that id but are still
/// protected with the first one's keys. So the packet's own id is tried, then
/// `first_dcid` (the first Initial's, remembered here).
fn open_initial(d: &[u8], crypto: &mut Crypto, first_dcid: &mut Option<Vec<u8>>) -> Option<usize> {
    let first = *d.first()?;
    if first & 0xc0 != 0xc0 {
        return None;
    }
    let version = u32::from_be_bytes(d.get(1..5)?.try_into().ok()?);
    let (schemes, initial_type, frames) = version_params(version)?;
    let mut at = 5;
    let dl = usize::from(*d.get(at)?);
    let dcid = d.get(at + 1..at + 1 + dl)?;
    at += 1 + dl;
    let sl = usize::from(*d.get(at)?);
    at += 1 + sl;
    let is_initial = (first >> 4) & 3 == initial_type;
    if is_initial {
        let token = usize::try_from(varint(d, &mut at)?).ok()?;
        at += token;
    }
    let len = usize::try_from(varint(d, &mut at)?).ok()?;
    let pn_offset = at;
    let end = pn_offset.checked_add(len)?;
    if !is_initial || end > d.len() {
        return Some(end).filter(|&e| e <= d.len());
    }
    let original: &[u8] = first_dcid.get_or_insert_with(|| dcid.to_vec());
    let ids = std::iter::once(dcid).chain((original != dcid).then_some(original));
    'ids: for id in ids {
        for &scheme in schemes {
            if let Some(plain) =
                client_keys(scheme, id).and_then(|k| unprotect(&k, d, pn_offset, end))
            {
                read_frames(&plain, frames, crypto);
                break 'ids;
            }
        }
    }
    Some(end)
}

/// Removes header protection from the packet `d[..end]` whose packet number
/// starts at `pn_offset`, and opens its payload.
fn unprotect(keys: &Keys, d: &[u8], pn_offset: usize, end: usize) -> Option<Vec<u8>> {
    // Header protection (RFC 9001 §5.4): a sample 4 bytes past the packet
    // number's start masks the first byte's low bits and the packet number.
    let sample = d.get(pn_offset + 4..pn_offset + 20)?;
    let mut mask = aes::Block::try_from(sample).ok()?;
    keys.hp.encrypt_block(&mut mask);
    let first = d.first()? ^ (mask[0] & 0x0f);
    let pn_len = usize::from(first & 3) + 1;
    let mut header = d.get(..pn_offset + pn_len)?.to_vec();
    header[0] = first;
    let mut pn = 0u64;
    for k in 0..pn_len {
        header[pn_offset + k] ^= mask[1 + k];
        pn = (pn << 8) | u64::from(header[pn_offset + k]);
    }
    let sealed = d.get(pn_offset + pn_len..end)?;
    let (ct, tag) = sealed.split_at(sealed.len().checked_sub(16)?);
    let mut nonce = keys.iv;
    for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let mut plain = ct.to_vec();
    keys.aead
        .decrypt_inout_detached(
            &Nonce::<Aes128Gcm>::from(nonce),
            &header,
            plain.as_mut_slice().into(),
            &Tag::<Aes128Gcm>::try_from(tag).ok()?,
        )
        .ok()?;
    Some(plain)
}

/// The CRYPTO frames of a client Initial's payload (PADDING, PING and ACK
/// skipped; anything else ends the reading).
fn read_frames(p: &[u8], frames: Frames, crypto: &mut Crypto) {
    let mut at = 0;
    while let Some(&t) = p.get(at) {
        // gQUIC's PADDING and PING are skipped; its CRYPTO read as IETF's.
        let t = match (frames, t) {
            (Frames::Ietf, t) => t,
            (Frames::Gquic, 0x00 | 0x07) => 0x00,
            (Frames::Gquic, 0x08) => 0x06,
            (Frames::Gquic, _) => return,
        };
        match t {
            0x00 | 0x01 => at += 1,
            0x02 | 0x03 => {
                at += 1;
                let ok = (|| {
                    varint(p, &mut at)?;
                    varint(p, &mut at)?;
                    let ranges = varint(p, &mut at)?;
                    varint(p, &mut at)?;
                    for _ in 0..ranges.min(256) {
                        varint(p, &mut at)?;
                        varint(p, &mut at)?;
                    }
                    if t == 0x03 {
                        for _ in 0..3 {
                            varint(p, &mut at)?;
                        }
                    }
                    Some(())
                })();
                if ok.is_none() {
                    return;
                }
            }
            0x06 => {
                at += 1;
                let (Some(off), Some(len)) = (varint(p, &mut at), varint(p, &mut at)) else {
                    return;
                };
                let Some(data) = usize::try_from(len).ok().and_then(|l| p.get(at..at + l)) else {
                    return;
                };
                crypto.put(off, data);
                at += data.len();
            }
            _ => return,
        }
    }
}

/// What a QUIC client's ClientHello says about the name it is for, read
/// from its Initial packets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InitialHello {
    /// The (outer) server name.
    pub sni: Option<String>,
    /// Whether the hello carries ECH or ESNI: browsers send ECH over QUIC
    /// as over TCP, and a censor keying on it drops the Initial.
    pub hidden_name: Option<HiddenName>,
}

/// The ClientHello in the client's Initial packets (the first datagrams of a
/// flow), when they decrypt and hold a whole one.
pub fn initial_client_hello<'a>(datagrams: impl Iterator<Item = &'a [u8]>) -> Option<InitialHello> {
    let mut crypto = Crypto::default();
    let mut first_dcid = None;
    let mut opened = 0;
    for d in datagrams {
        let mut rest = d;
        while opened < MAX_PACKETS {
            let Some(n) = open_initial(rest, &mut crypto, &mut first_dcid) else {
                break;
            };
            opened += 1;
            rest = match rest.get(n..) {
                Some(r) if !r.is_empty() => r,
                _ => break,
            };
        }
        let hs = crypto.prefix();
        if hs.len() >= 4 && hs[0] == 1 {
            let need =
                4 + ((usize::from(hs[1]) << 16) | (usize::from(hs[2]) << 8) | usize::from(hs[3]));
            if let Some(body) = hs.get(4..need) {
                return Some(InitialHello {
                    sni: super::tls::client_hello_body_sni(body),
                    hidden_name: super::tls::client_hello_body_hidden_name(body),
                });
            }
        }
        if opened >= MAX_PACKETS {
            break;
        }
    }
    None
}

/// The server name of the ClientHello in the client's Initial packets (the
/// first datagrams of a flow), when they decrypt and name one.
pub fn initial_sni<'a>(datagrams: impl Iterator<Item = &'a [u8]>) -> Option<String> {
    initial_client_hello(datagrams)?.sni
}
