//! QUIC: the long header of a client's Initial (RFC 9000 §17.2, RFC 9369 for
//! v2), recognised by its version, connection-id lengths and packet length,
//! without decryption. IETF v1, v2, the drafts (0xff0000xx), Facebook's mvfst
//! versions and the version-negotiation exchange count; so does Google QUIC
//! (Q0xx/T0xx versions, in IETF long headers from Q046 on and in the older
//! public header before).

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_u32, u8 as byte};

use super::{Confidence, View};

/// Whether `v` is a QUIC version we know: v1, v2, IETF drafts, mvfst, Google
/// QUIC (`Q0xx`, `T0xx`), or a reserved "greasing" version (0x?a?a?a?a).
fn known_version(v: u32) -> bool {
    let b = v.to_be_bytes();
    v == 1
        || v == 0x6b33_43cf
        || v >> 8 == 0x00ff_0000
        || v >> 4 == 0x0fac_eb00
        || (matches!(b[0], b'Q' | b'T') && b[1..].iter().all(u8::is_ascii_digit))
        || v & 0x0f0f_0f0f == 0x0a0a_0a0a
}

/// The long header up to the token (Initial) or the payload.
#[derive(Debug, PartialEq, Eq)]
struct Long<'a> {
    first: u8,
    version: u32,
    dcid: &'a [u8],
    scid: &'a [u8],
}

fn long_header(i: &[u8]) -> IResult<&[u8], Long<'_>> {
    let (i, first) = byte(i)?;
    let (i, version) = be_u32(i)?;
    let (i, dl) = byte(i)?;
    let (i, dcid) = take(dl).parse(i)?;
    let (i, sl) = byte(i)?;
    let (i, scid) = take(sl).parse(i)?;
    Ok((
        i,
        Long {
            first,
            version,
            dcid,
            scid,
        },
    ))
}

/// A QUIC variable-length integer.
fn varint(i: &[u8]) -> IResult<&[u8], u64> {
    let (_, b0) = byte(i)?;
    let n = 1usize << (b0 >> 6);
    let (i, raw) = take(n).parse(i)?;
    let mut x = u64::from(raw[0] & 0x3f);
    for &b in &raw[1..] {
        x = (x << 8) | u64::from(b);
    }
    Ok((i, x))
}

/// What a datagram says about QUIC.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// A long-header Initial whose token and length fields fit the datagram.
    Initial,
    /// Another long-header packet of a known version (Handshake, 0-RTT, Retry).
    Long,
    /// A version negotiation packet (version 0).
    VersionNegotiation,
    /// Google QUIC's public header with a version (before Q046).
    GquicPublic,
}

fn datagram(d: &[u8]) -> Option<Kind> {
    let b0 = *d.first()?;
    if b0 & 0x80 == 0 {
        // Google QUIC's public header: flags (version bit 0x01, 8-byte CID bit
        // 0x08, no reserved high bits), CID, then the version in ASCII.
        if b0 & 0x09 == 0x09 && b0 & 0xc0 == 0 {
            let v = super::be32(d, 9)?;
            if known_version(v) && v.to_be_bytes()[0] == b'Q' {
                return Some(Kind::GquicPublic);
            }
        }
        // A server's packets carry no version; before Q043 their handshake
        // messages (REJ, SHLO) are in clear, tagged in ASCII.
        if b0 & 0x08 != 0 && b0 & 0xc0 == 0 {
            let head = &d[..d.len().min(64)];
            if [&b"REJ\0"[..], b"SHLO", b"CHLO"]
                .iter()
                .any(|t| memchr::memmem::find(head, t).is_some())
            {
                return Some(Kind::Long);
            }
        }
        return None;
    }
    // Google QUIC from Q046 uses the long-header form with its own
    // connection-id length nibbles: the version alone names it.
    let v = super::be32(d, 1)?;
    if matches!(v.to_be_bytes()[0], b'Q' | b'T') && known_version(v) {
        return Some(Kind::GquicPublic);
    }
    let (rest, h) = long_header(d).ok()?;
    if h.version == 0 {
        // Supported versions follow, four bytes each.
        return (!rest.is_empty() && rest.len() % 4 == 0).then_some(Kind::VersionNegotiation);
    }
    if !known_version(h.version) || h.dcid.len() > 20 || h.scid.len() > 20 {
        return None;
    }
    // Long packet type: Initial is 0 in v1 and the drafts, 1 in v2.
    let ty = (h.first >> 4) & 0x3;
    let initial = if h.version == 0x6b33_43cf { 1 } else { 0 };
    if ty != initial {
        return Some(Kind::Long);
    }
    let (rest, token_len) = varint(rest).ok()?;
    let rest = rest.get(usize::try_from(token_len).ok()?..)?;
    let (rest, len) = varint(rest).ok()?;
    (usize::try_from(len).ok()? <= rest.len() && len >= 20).then_some(Kind::Initial)
}

/// QUIC on a UDP flow: certain with a client Initial (or a version
/// negotiation, or Google QUIC's versioned public header), likely with other
/// long-header packets of a known version.
pub(super) fn probe(v: &View<'_>) -> Option<Confidence> {
    let mut best = None;
    for d in v.up_dgrams().take(3).chain(v.down_dgrams().take(3)) {
        match datagram(d) {
            Some(Kind::Initial | Kind::VersionNegotiation | Kind::GquicPublic) => {
                return Some(Confidence::Certain);
            }
            Some(Kind::Long) => best = Some(Confidence::Likely),
            None => {}
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::proto::test_payload as fake;

    #[test]
    fn real_initials() {
        let mut n = 0;
        for f in [
            "quic_initial_vk_com.bin",
            "quic_initial_www_google_com.bin",
            "quic_initial_facebook_com_quiche.bin",
            "quic_initial_rutracker_org_kyber_1.bin",
        ] {
            let Some(d) = fake(f) else { continue };
            assert_eq!(datagram(&d), Some(Kind::Initial), "{f}");
            assert_eq!(datagram(&d[..30]), None, "{f} cut");
            n += 1;
        }
        if let Some(d) = fake("quic_short_header.bin") {
            assert_eq!(datagram(&d), None);
        }
        if n == 0 {
            eprintln!("SKIPPED: zapret fake payloads not found");
        }
        assert!(known_version(0x6b33_43cf) && known_version(0xff00_001d));
        assert!(known_version(u32::from_be_bytes(*b"Q046")));
        assert!(!known_version(0x1603_0100));
    }
}
