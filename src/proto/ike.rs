//! IKE (ISAKMP, RFC 2408 / IKEv2 RFC 7296) on UDP 500, or on 4500 behind the
//! four-byte zero non-ESP marker (RFC 3948). The 28-byte header carries the
//! initiator's SPI (never zero), the responder's SPI (zero in the very first
//! message), the version (1.0 or 2.0), an exchange type from a short list, and
//! the message length, which equals the datagram's.
//!
//! A flow on 4500 that carries ESP rather than IKE is [`AppProto::Esp`].

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_u32, u8 as byte};

use super::{AppInfo, AppProto, Confidence, View, esp};

/// The parts of an ISAKMP header identification needs.
#[derive(Debug, PartialEq, Eq)]
struct Header<'a> {
    ispi: &'a [u8],
    next: u8,
    major: u8,
    exchange: u8,
    length: u32,
}

fn header(i: &[u8]) -> IResult<&[u8], Header<'_>> {
    let (i, ispi) = take(8usize).parse(i)?;
    let (i, _rspi) = take(8usize).parse(i)?;
    let (i, next) = byte(i)?;
    let (i, version) = byte(i)?;
    let (i, exchange) = byte(i)?;
    let (i, _flags) = byte(i)?;
    let (i, _msgid) = be_u32(i)?;
    let (i, length) = be_u32(i)?;
    Ok((
        i,
        Header {
            ispi,
            next,
            major: version >> 4,
            exchange,
            length,
        },
    ))
}

/// Whether `d` (without any marker) is one IKE message.
fn message(d: &[u8]) -> Option<&'static str> {
    let (_, h) = header(d).ok()?;
    if h.length as usize != d.len() || h.ispi.iter().all(|&b| b == 0) {
        return None;
    }
    match h.major {
        // IKEv1 exchanges: base, identity protection, auth only, aggressive,
        // informational, quick mode, new group; payload types 1..=13 (or 0).
        1 if matches!(h.exchange, 1..=5 | 32 | 33) && h.next <= 20 => Some("ikev1"),
        // IKEv2: IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL, and the
        // later additions; payload types 33..=54 (or 0).
        2 if (34..=44).contains(&h.exchange) && (h.next == 0 || (33..=54).contains(&h.next)) => {
            Some("ikev2")
        }
        _ => None,
    }
}

/// Strips the non-ESP marker of port 4500; `None` for ESP or keepalives.
fn unmarked(d: &[u8], nat_t: bool) -> Option<&[u8]> {
    if nat_t {
        d.strip_prefix(&[0u8, 0, 0, 0][..])
    } else {
        Some(d)
    }
}

/// IKE (or ESP-in-UDP on 4500) on a UDP flow.
pub(super) fn probe(v: &View<'_>) -> Option<AppInfo> {
    let nat_t = v.port(4500);
    if !(nat_t || v.port(500)) {
        // Off the IKE ports only an exact header on both sides counts.
        let q = v.up_dgrams().next().and_then(message);
        let r = v.down_dgrams().next().and_then(message);
        return (q.is_some() && r.is_some())
            .then(|| AppInfo::is(AppProto::Ike, Confidence::Certain));
    }
    let is_ike = |d: &[u8]| unmarked(d, nat_t).and_then(message).is_some();
    let up_ike = v.up_dgrams().take(4).filter(|d| is_ike(d)).count();
    let down_ike = v.down_dgrams().take(4).filter(|d| is_ike(d)).count();
    match (up_ike, down_ike) {
        (0, 0) => esp::probe_udp(v).map(|c| AppInfo::is(AppProto::Esp, c)),
        (a, b) if a > 0 && b > 0 => Some(AppInfo::is(AppProto::Ike, Confidence::Certain)),
        _ => Some(AppInfo::is(AppProto::Ike, Confidence::Likely)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_ikev2_sa_init_behind_marker() {
        let Ok(d) = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/bol-van__zapret/files/fake/isakmp_initiator_request.bin"
        )) else {
            eprintln!("SKIPPED: zapret fake payloads not found");
            return;
        };
        assert_eq!(message(&d), None, "the marker must be stripped first");
        let m = unmarked(&d, true).and_then(message);
        assert_eq!(m, Some("ikev2"));
        assert_eq!(unmarked(&d[..100], true).and_then(message), None);
    }
}
