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
