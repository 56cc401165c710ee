//! GRE (IP protocol 47). PPTP's data channel is "enhanced GRE" (RFC 2637 §4.1):
//! version 1, protocol type 0x880B (PPP), key present.

use super::{Confidence, View, be16};

/// A GRE header we understand (version 0 or PPTP's version 1) in the first
/// packet: certain; otherwise the IP protocol alone says likely.
pub(super) fn probe(v: &View<'_>) -> Option<Confidence> {
    let b = v.up_dgrams().next().or_else(|| v.down_dgrams().next())?;
    let flags = be16(b, 0)?;
    let ptype = be16(b, 2)?;
    let version = flags & 0x7;
    let ok = match version {
        0 => flags & 0x0078 == 0 && ptype >= 0x0600,
        1 => ptype == 0x880b && flags & 0x2000 != 0,
        _ => false,
    };
    ok.then_some(Confidence::Certain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Direction, StreamBuf};

    fn view_of(up: &Direction) -> bool {
        let down = Direction::default();
        let v = View {
            up: up.stream.bytes(),
            down: down.stream.bytes(),
            up_dir: up,
            down_dir: &down,
            cport: 0,
            sport: 0,
        };
        probe(&v).is_some()
    }

    #[test]
    fn pptp_enhanced_gre() {
        // From a real PPTP session: key and sequence present, version 1, PPP.
        let pkt = [
            0x30, 0x01, 0x88, 0x0b, 0x00, 0xa7, 0xda, 0x80, 0x00, 0x00, 0x25, 0x83,
        ];
        let mut d = Direction {
            stream: StreamBuf::new(1024),
            ..Direction::default()
        };
        d.stream.insert(0, &pkt, 1);
        assert!(view_of(&d));
        let mut d = Direction {
            stream: StreamBuf::new(1024),
            ..Direction::default()
        };
        d.stream.insert(0, &[0x30, 0x07, 0x88, 0x0b], 1);
        assert!(!view_of(&d));
    }
}
