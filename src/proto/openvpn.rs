//! OpenVPN over UDP and TCP.
//!
//! Every OpenVPN packet starts with one byte: the opcode in the high five bits
//! and the key id in the low three. A session opens with the client's
//! HARD_RESET_CLIENT (V1, V2, or V3 with tls-crypt-v2) and the server's
//! HARD_RESET_SERVER, each followed by the sender's 8-byte session id, which
//! stays the same on every control packet of that side. Without tls-auth the
//! client's reset is 14 bytes (opcode, session id, empty ACK array, packet id);
//! tls-auth adds an HMAC (16, 20, 32 or 64 bytes) plus a packet id and time;
//! tls-crypt encrypts the rest, but the opcode and session id stay in clear.
//! The server's reset acknowledges the client's, so (unless tls-crypt hides it)
//! the client's session id reappears in it. Over TCP each packet is preceded by
//! a 2-byte length.

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_u16, u8 as byte};

use super::{Confidence, View};

const HARD_RESET_CLIENT_V1: u8 = 1;
const HARD_RESET_SERVER_V1: u8 = 2;
const SOFT_RESET_V1: u8 = 3;
const CONTROL_V1: u8 = 4;
const ACK_V1: u8 = 5;
const DATA_V1: u8 = 6;
const HARD_RESET_CLIENT_V2: u8 = 7;
const HARD_RESET_SERVER_V2: u8 = 8;
const DATA_V2: u8 = 9;
const HARD_RESET_CLIENT_V3: u8 = 10;
const CONTROL_WKC_V1: u8 = 11;

/// An opcode byte with a key id of zero (a new session always uses key 0).
fn opcode(b: u8) -> u8 {
    b >> 3
}

fn is_client_reset(op: u8) -> bool {
    matches!(
        op,
        HARD_RESET_CLIENT_V1 | HARD_RESET_CLIENT_V2 | HARD_RESET_CLIENT_V3
    )
}

fn is_server_reset(op: u8) -> bool {
    matches!(op, HARD_RESET_SERVER_V1 | HARD_RESET_SERVER_V2)
}

fn is_control(op: u8) -> bool {
    matches!(op, SOFT_RESET_V1 | CONTROL_V1 | ACK_V1 | CONTROL_WKC_V1)
        || is_client_reset(op)
        || is_server_reset(op)
}

/// A control packet: opcode, key id and the sender's session id.
fn control_packet(i: &[u8]) -> IResult<&[u8], (u8, u8, &[u8])> {
    let (i, b) = byte(i)?;
    let (i, sid) = take(8usize).parse(i)?;
    Ok((i, (opcode(b), b & 7, sid)))
}

/// The sizes a client's reset takes without early-negotiation data: 14 bytes
/// plus, with tls-auth, an HMAC and 8 bytes of replay protection.
fn plain_reset_len(n: usize) -> bool {
    [0usize, 16, 20, 32, 64]
        .iter()
        .any(|h| n == 14 + if *h == 0 { 0 } else { h + 8 })
}

/// What a side's packets say.
struct Side<'a> {
    first_op: u8,
    sid: Option<&'a [u8]>,
    /// Every control packet of this side carried the same session id.
    sid_stable: bool,
    packets: usize,
    first_len: usize,
    first: &'a [u8],
    /// Control opcodes other than the first one were seen (with a stable id).
    other_control: bool,
}

fn side<'a>(pkts: impl Iterator<Item = &'a [u8]>) -> Option<Side<'a>> {
    let mut s: Option<Side<'a>> = None;
    for p in pkts {
        let op = opcode(*p.first()?);
        let Some(side) = s.as_mut() else {
            let (_, (op, key, sid)) = control_packet(p).ok()?;
            if !is_control(op) || key != 0 {
                return None;
            }
            s = Some(Side {
                first_op: op,
                sid: Some(sid),
                sid_stable: true,
                packets: 1,
                first_len: p.len(),
                first: p,
                other_control: false,
            });
            continue;
        };
        side.packets += 1;
        if is_control(op) {
            if let Ok((_, (_, _, sid))) = control_packet(p) {
                if side.sid != Some(sid) {
                    side.sid_stable = false;
                }
            }
            side.other_control |= op != side.first_op;
        } else if !matches!(op, DATA_V1 | DATA_V2) {
            // Not an OpenVPN opcode at all.
            side.sid_stable = false;
        }
    }
    s
}

fn judge(up: Option<Side<'_>>, down: Option<Side<'_>>) -> Option<Confidence> {
    let up = up?;
    if is_server_reset(up.first_op) && down.is_none() {
        // The capture missed the client's reset and anything it sent: the
        // server's reset and further control packets (other opcodes) of one
        // session remain.
        return (up.sid_stable && up.other_control).then_some(Confidence::Likely);
    }
    if !is_client_reset(up.first_op) || !up.sid_stable {
        return None;
    }
    match down {
        Some(d) if is_server_reset(d.first_op) || d.first_op == ACK_V1 => {
            // The server acknowledges the client's session id (in clear unless
            // tls-crypt hides it), or at least keeps its own stable.
            let acked = up.sid.is_some_and(|sid| {
                memchr::memmem::find(d.first.get(9..).unwrap_or(&[]), sid).is_some()
            });
            (acked || d.sid_stable).then_some(Confidence::Certain)
        }
        Some(_) => None,
        None => {
            // The client alone (a blocked handshake looks like this): a reset
            // whose empty ACK array and zero message packet id sit where they
            // belong: right after the session id without tls-auth, or as the
            // last five bytes of a tls-auth reset of a known HMAC size.
            let f = up.first;
            let zero = |r: Option<&[u8]>| r.is_some_and(|r| r.iter().all(|&b| b == 0));
            let plain = zero(f.get(9..14));
            let tls_auth =
                plain_reset_len(up.first_len) && zero(f.get(f.len().saturating_sub(5)..));
            (plain || tls_auth || up.first_op == HARD_RESET_CLIENT_V3).then_some(Confidence::Likely)
        }
    }
}

/// OpenVPN over UDP.
pub(super) fn probe_udp(v: &View<'_>) -> Option<Confidence> {
    let first = *v.up.first()?;
    let op = opcode(first);
    if op == DATA_V2 {
        return data_session(v);
    }
    if !(is_client_reset(op) || is_server_reset(op)) || first & 7 != 0 {
        return None;
    }
    judge(side(v.up_dgrams()), side(v.down_dgrams()))
}

/// A session the capture joined after its handshake: P_DATA_V2 packets only.
/// Each carries the opcode/key byte and a 3-byte peer id that stay the same on
/// every packet of both directions, then (with the AEAD ciphers OpenVPN uses by
/// default) a packet id in clear that grows in each direction. Random bytes
/// keep four bytes constant across a dozen datagrams essentially never.
fn data_session(v: &View<'_>) -> Option<Confidence> {
    let head = v.up.get(..4)?;
    let check = |it: &mut dyn Iterator<Item = &[u8]>| -> Option<usize> {
        let mut last: Option<u32> = None;
        let mut n = 0;
        for d in it {
            if d.get(..4)? != head || d.len() < 4 + 4 + 16 {
                return None;
            }
            let id = super::be32(d, 4)?;
            if last.is_some_and(|l| id <= l) {
                return None;
            }
            last = Some(id);
            n += 1;
        }
        Some(n)
    };
    let up = check(&mut v.up_dgrams())?;
    let down = check(&mut v.down_dgrams())?;
    (up >= 3 && down >= 3).then_some(Confidence::Likely)
}

/// Splits a TCP stream into OpenVPN's length-prefixed packets (the last may be
/// cut by the buffer).
fn tcp_packets(mut b: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let (rest, len) = be_u16::<_, nom::error::Error<&[u8]>>(b).ok()?;
        let len = usize::from(len);
        if len < 9 {
            b = &[];
            return None;
        }
        let (pkt, rest) = rest.split_at(len.min(rest.len()));
        b = rest;
        Some(pkt)
    })
}

/// OpenVPN over TCP: the client's first packet must fill its length prefix
/// exactly (within the first segment it nearly always does).
pub(super) fn probe_tcp(v: &View<'_>) -> Option<Confidence> {
    let len = usize::from(super::be16(v.up, 0)?);
    let first = *v.up.get(2)?;
    if !is_client_reset(opcode(first)) || first & 7 != 0 || !(14..=1024).contains(&len) {
        return None;
    }
    let seg = v.up_first_segment();
    if seg.len() != len + 2 && v.up.len() < len + 2 {
        return None;
    }
    judge(side(tcp_packets(v.up)), side(tcp_packets(v.down)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A HARD_RESET_CLIENT_V2 without tls-auth, as OpenVPN 2.4 sends it.
    const RESET: [u8; 14] = [
        0x38, 0x5d, 0x11, 0x3c, 0x8a, 0x27, 0xbc, 0x9f, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn reset_sizes_and_sessions() {
        assert!(plain_reset_len(14) && plain_reset_len(42) && plain_reset_len(86));
        assert!(!plain_reset_len(15));
        let (_, (op, key, sid)) = control_packet(&RESET).unwrap();
        assert_eq!((op, key, sid), (HARD_RESET_CLIENT_V2, 0, &RESET[1..9]));
        // The server's reset acknowledges the client's session.
        let mut srv = vec![0x40, 1, 2, 3, 4, 5, 6, 7, 8, 1, 0, 0, 0, 0];
        srv.extend_from_slice(&RESET[1..9]);
        srv.extend_from_slice(&[0, 0, 0, 0]);
        let up = side([&RESET[..]].into_iter());
        let down = side([&srv[..]].into_iter());
        assert_eq!(judge(up, down), Some(Confidence::Certain));
        assert_eq!(
            judge(side([&RESET[..]].into_iter()), None),
            Some(Confidence::Likely)
        );
        let mut tcp = vec![0, 14];
        tcp.extend_from_slice(&RESET);
        assert_eq!(tcp_packets(&tcp).next(), Some(&RESET[..]));
    }
}
