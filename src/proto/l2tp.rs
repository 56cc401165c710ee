//! L2TP over UDP (RFC 2661 v2, RFC 3931 v3), normally port 1701. A control
//! message sets the T, L and S bits and version 2; the first one from the client
//! is SCCRQ (message type AVP, value 1).

use super::{Confidence, View, be16};

/// `Some(is_control)` if `b` starts with an L2TPv2 header on a plausible length.
fn header(b: &[u8]) -> Option<bool> {
    let flags = be16(b, 0)?;
    let version = flags & 0x000f;
    if version != 2 && version != 3 {
        return None;
    }
    // Reserved bits must be zero.
    if flags & 0x34f0 != 0 {
        return None;
    }
    let control = flags & 0x8000 != 0;
    if control {
        // Control messages always carry a length and sequence numbers, and the
        // length is the datagram's.
        if flags & 0x4800 != 0x4800 || usize::from(be16(b, 2)?) != b.len() {
            return None;
        }
    }
    Some(control)
}

/// L2TP on UDP 1701: certain with a control message, likely with data only.
pub(super) fn probe(v: &View<'_>) -> Option<Confidence> {
    if !v.port(1701) {
        return None;
    }
    let mut best = None;
    for d in v.up_dgrams().chain(v.down_dgrams()) {
        match header(d) {
            Some(true) => return Some(Confidence::Certain),
            Some(false) => best = Some(Confidence::Likely),
            None => return None,
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sccrq_header() {
        // T, L, S, version 2; length 20; tunnel 0, session 0; Ns 0, Nr 0;
        // message type AVP = SCCRQ (1).
        let m = [
            0xc8, 0x02, 0x00, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x08, 0, 0, 0, 0, 0, 1,
        ];
        assert_eq!(header(&m), Some(true));
        assert_eq!(header(&m[..19]), None);
    }
}
