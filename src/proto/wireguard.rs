//! WireGuard: four message types with fixed sizes (initiation 148, response 92,
//! cookie reply 64, transport data ≥ 32 and a multiple of 16), three reserved
//! zero bytes after the type, and 32-bit session indexes that tie the two
//! directions together: the response's receiver index is the initiation's
//! sender index, and transport data carries the peer's index. TunnelBear's
//! variant appends bytes to the handshake (initiation 204, response 100).

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::tag;
use nom::number::complete::{le_u32, u8 as byte};

use super::{Confidence, View};

/// One WireGuard message as far as identification needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Msg {
    /// Handshake initiation: the initiator's sender index.
    Init { sender: u32 },
    /// Handshake response: the responder's index and the initiator's.
    Resp { sender: u32, receiver: u32 },
    /// Cookie reply: the index it answers.
    Cookie { receiver: u32 },
    /// Transport data: the peer's index.
    Data { receiver: u32 },
}

fn header(i: &[u8]) -> IResult<&[u8], (u8, u32)> {
    let (i, ty) = byte(i)?;
    let (i, _) = tag(&[0u8, 0, 0][..]).parse(i)?;
    let (i, idx) = le_u32(i)?;
    Ok((i, (ty, idx)))
}

/// Parses one datagram; `None` if it is not WireGuard.
fn message(d: &[u8]) -> Option<Msg> {
    // Cheapest first: the type byte and the datagram size.
    let ty = *d.first()?;
    let size_ok = match ty {
        1 => d.len() == 148 || d.len() == 204,
        2 => d.len() == 92 || d.len() == 100,
        3 => d.len() == 64,
        4 => d.len() >= 32 && d.len() % 16 == 0,
        _ => false,
    };
    if !size_ok {
        return None;
    }
    let (rest, (_, idx)) = header(d).ok()?;
    Some(match ty {
        1 => Msg::Init { sender: idx },
        2 => Msg::Resp {
            sender: idx,
            receiver: le_u32::<_, nom::error::Error<&[u8]>>(rest).ok()?.1,
        },
        3 => Msg::Cookie { receiver: idx },
        _ => Msg::Data { receiver: idx },
    })
}

/// What one direction's datagrams say: every one parsed, plus the indexes seen.
#[derive(Default)]
struct Side {
    msgs: usize,
    init_sender: Option<u32>,
    resp: Option<(u32, u32)>,
    data_receiver: Option<u32>,
    /// Transport data all to the same receiver index.
    data_consistent: bool,
    inits: usize,
}

fn side<'a>(dgrams: impl Iterator<Item = &'a [u8]>) -> Option<Side> {
    let mut s = Side {
        data_consistent: true,
        ..Side::default()
    };
    for d in dgrams {
        match message(d)? {
            Msg::Init { sender } => {
                s.init_sender = Some(sender);
                s.inits += 1;
            }
            Msg::Resp { sender, receiver } => s.resp = Some((sender, receiver)),
            Msg::Cookie { .. } => {}
            Msg::Data { receiver } => {
                if s.data_receiver.is_some_and(|r| r != receiver) {
                    s.data_consistent = false;
                }
                s.data_receiver = Some(receiver);
            }
        }
        s.msgs += 1;
    }
    (s.msgs > 0).then_some(s)
}

/// WireGuard on a UDP flow. Certain when the indexes of the two directions
/// match (response to initiation, or data addressed to the indexes of the
/// handshake); likely when one side alone fits, e.g. initiations that were
/// never answered — what a blocked WireGuard handshake looks like.
pub(super) fn probe(v: &View<'_>) -> Option<Confidence> {
    let up = side(v.up_dgrams());
    let down = side(v.down_dgrams());
    match (up, down) {
        (Some(a), Some(b)) => {
            let linked = |x: &Side, y: &Side| {
                // y answered x's initiation, or y's data goes to x's index.
                let init = x.init_sender;
                y.resp.is_some_and(|(_, r)| Some(r) == init)
                    || (init.is_some() && y.data_receiver == init)
                    || x.resp.is_some_and(|(s, _)| y.data_receiver == Some(s))
            };
            if linked(&a, &b) || linked(&b, &a) {
                Some(Confidence::Certain)
            } else if a.data_consistent && b.data_consistent {
                // Mid-session: transport data both ways, each to one index.
                Some(Confidence::Likely)
            } else {
                None
            }
        }
        (Some(s), None) | (None, Some(s)) => {
            // One direction only: handshake initiations, or a steady stream of
            // data to one index.
            let plausible = s.inits > 0 || s.resp.is_some() || (s.data_consistent && s.msgs >= 2);
            plausible.then_some(Confidence::Likely)
        }
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::proto::test_payload as fake;

    #[test]
    fn real_initiation_and_response_are_linked() {
        let (Some(i), Some(r)) = (
            fake("wireguard_initiation.bin"),
            fake("wireguard_response.bin"),
        ) else {
            eprintln!("SKIPPED: zapret fake payloads not found");
            return;
        };
        let Some(Msg::Init { sender }) = message(&i) else {
            panic!("initiation not parsed")
        };
        assert_eq!(
            message(&r),
            Some(Msg::Resp {
                sender: 0x1c55_136f,
                receiver: sender
            })
        );
        assert_eq!(message(&i[..147]), None);
        let mut bad = i.clone();
        bad[2] = 1;
        assert_eq!(message(&bad), None);
    }
}
