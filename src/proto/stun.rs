//! STUN (RFC 5389/8489, and RFC 3489's classic form) and TURN.
//!
//! A STUN message has a 20-byte header: two zero top bits and a message type, a
//! length that is a multiple of four and covers exactly the attributes, the
//! magic cookie 0x2112A442 (absent in classic STUN, whose 16-byte transaction
//! id takes its place), and the transaction id. WebRTC and VoIP media flows
//! start with STUN checks on the same ports.

use nom::IResult;
use nom::Parser;
use nom::number::complete::{be_u16, be_u32};

use super::{Confidence, View};

const MAGIC: u32 = 0x2112_a442;

fn header(i: &[u8]) -> IResult<&[u8], (u16, u16, u32)> {
    (be_u16, be_u16, be_u32).parse(i)
}

/// `Some(with_cookie)` if `d` starts with one STUN message of `len` bytes
/// (returned too).
fn message(d: &[u8]) -> Option<(bool, usize)> {
    // Cheapest first: two zero top bits.
    if *d.first()? & 0xc0 != 0 {
        return None;
    }
    let (_, (ty, len, cookie)) = header(d).ok()?;
    let total = 20 + usize::from(len);
    if len % 4 != 0 || d.len() < total {
        return None;
    }
    if cookie == MAGIC {
        return Some((true, total));
    }
    // Classic STUN: only the few message types RFC 3489 defines, and a length
    // that is exactly the datagram's.
    (matches!(ty, 0x0001 | 0x0101 | 0x0111 | 0x0002 | 0x0102 | 0x0112) && d.len() == total)
        .then_some((false, total))
}

/// STUN on a UDP flow: certain with a message that carries the magic cookie,
/// likely with classic STUN only.
pub(super) fn probe_udp(v: &View<'_>) -> Option<Confidence> {
    let mut best = None;
    for d in v.up_dgrams().chain(v.down_dgrams()) {
        match message(d) {
            Some((true, n)) if n == d.len() => return Some(Confidence::Certain),
            Some(_) => best = Some(Confidence::Likely),
            None => {}
        }
    }
    best
}

/// STUN over TCP (RFC 5389 §7.2.2): messages back to back, or each behind a
/// 2-byte length (RFC 4571 framing, as some TURN clients use).
pub(super) fn probe_tcp(v: &View<'_>) -> Option<Confidence> {
    for b in [v.up, v.down] {
        if let Some((true, _)) = message(b) {
            return Some(Confidence::Certain);
        }
        let framed = super::be16(b, 0)
            .and_then(|n| b.get(2..2 + usize::from(n)))
            .and_then(message);
        if let Some((true, _)) = framed {
            return Some(Confidence::Certain);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_binding_request() {
        let Ok(d) = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/bol-van__zapret/files/fake/stun.bin"
        )) else {
            eprintln!("SKIPPED: zapret fake payloads not found");
            return;
        };
        assert_eq!(message(&d), Some((true, d.len())));
        assert_eq!(message(&d[..40]), None);
        assert_eq!(
            message(b"\x16\xfe\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10xxxxxxxx"),
            None
        );
    }
}
