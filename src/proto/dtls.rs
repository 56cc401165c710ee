//! DTLS (RFC 6347, RFC 9147): TLS records with an epoch and a 48-bit sequence
//! number, versions 0xFEFF (1.0), 0xFEFD (1.2 and 1.3's legacy field), or
//! OpenSSL's pre-standard 0x0100. A datagram holds whole records, so their
//! lengths must add up to it exactly.

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_u16, u8 as byte};

use super::{Confidence, View};

/// One record: content type, version, epoch, sequence number, fragment.
fn record(i: &[u8]) -> IResult<&[u8], (u8, u16, u16, &[u8])> {
    let (i, ty) = byte(i)?;
    let (i, version) = be_u16(i)?;
    let (i, epoch) = be_u16(i)?;
    let (i, _seq) = take(6usize).parse(i)?;
    let (i, len) = be_u16(i)?;
    let (i, frag) = take(len).parse(i)?;
    Ok((i, (ty, version, epoch, frag)))
}

/// `Some(has_handshake)` if the datagram is a chain of DTLS records.
fn datagram(mut d: &[u8]) -> Option<bool> {
    // Cheapest first: content type and version of the first record.
    let ty = *d.first()?;
    if !(20..=25).contains(&ty) || !matches!(super::be16(d, 1)?, 0xfeff | 0xfefd | 0x0100) {
        return None;
    }
    let mut hs = false;
    while !d.is_empty() {
        let (rest, (ty, version, epoch, frag)) = record(d).ok()?;
        if !(20..=25).contains(&ty) || !matches!(version, 0xfeff | 0xfefd | 0x0100) {
            return None;
        }
        // A handshake in epoch 0 is in clear: its message type must be one of
        // the handshake types (ClientHello 1 ... Finished 20).
        if ty == 22 && epoch == 0 {
            let mt = *frag.first()?;
            if !(1..=24).contains(&mt) {
                return None;
            }
        }
        hs |= ty == 22;
        d = rest;
    }
    Some(hs)
}

/// DTLS on a UDP flow: certain with a handshake record, likely with other
/// records only (a session whose handshake the capture missed).
pub(super) fn probe(v: &View<'_>) -> Option<Confidence> {
    let mut best = None;
    for d in v.up_dgrams().chain(v.down_dgrams()) {
        match datagram(d) {
            Some(true) => return Some(Confidence::Certain),
            Some(false) => best = Some(Confidence::Likely),
            None => {}
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_client_hello() {
        let Ok(d) = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/bol-van__zapret/files/fake/dtls_clienthello_w3_org.bin"
        )) else {
            eprintln!("SKIPPED: zapret fake payloads not found");
            return;
        };
        assert_eq!(datagram(&d), Some(true));
        assert_eq!(datagram(&d[..d.len() - 1]), None);
        assert_eq!(datagram(b"\x16\x03\x01\x00\x05hello"), None);
    }
}
