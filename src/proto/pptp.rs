//! PPTP control connection (RFC 2637): every control message carries the magic
//! cookie 0x1A2B3C4D, and the client opens with Start-Control-Connection-Request.

use super::{Confidence, View, be16, be32};

const MAGIC: u32 = 0x1a2b_3c4d;

/// `Some(control message type)` if `b` starts with a PPTP control message.
fn control_message(b: &[u8]) -> Option<u16> {
    let len = be16(b, 0)?;
    // Message type 1 = control; the cookie follows.
    if len < 16 || be16(b, 2)? != 1 || be32(b, 4)? != MAGIC {
        return None;
    }
    be16(b, 8)
}

/// PPTP: a Start-Control-Connection-Request (type 1) from the client; certain
/// with the server's Start-Control-Connection-Reply (type 2).
pub(super) fn probe(v: &View<'_>) -> Option<Confidence> {
    let req = control_message(v.up);
    let rep = control_message(v.down);
    match (req, rep) {
        (Some(1), Some(2)) => Some(Confidence::Certain),
        (Some(_), _) | (_, Some(_)) => Some(Confidence::Likely),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_control_connection_request() {
        // Length 156, control message, cookie, type 1, reserved, version 1.0.
        let mut m = vec![
            0x00, 0x9c, 0x00, 0x01, 0x1a, 0x2b, 0x3c, 0x4d, 0x00, 0x01, 0, 0, 1, 0,
        ];
        m.resize(156, 0);
        assert_eq!(control_message(&m), Some(1));
        m[7] = 0;
        assert_eq!(control_message(&m), None);
    }
}
