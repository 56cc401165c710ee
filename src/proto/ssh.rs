//! SSH: the identification string (`SSH-2.0-...`, RFC 4253 §4.2) that both sides
//! send in clear before anything else.

use super::{Confidence, View};

/// A protocol version exchange line: `SSH-<protoversion>-<softwareversion>`.
fn banner(b: &[u8]) -> bool {
    b.len() >= 8
        && b.starts_with(b"SSH-")
        && (b[4..].starts_with(b"2.0-") || b[4..].starts_with(b"1."))
}

/// SSH on a TCP flow: certain when both banners are seen, likely with one.
pub(super) fn probe(v: &View<'_>) -> Option<Confidence> {
    match (banner(v.up), banner(v.down)) {
        (true, true) => Some(Confidence::Certain),
        (true, false) | (false, true) => Some(Confidence::Likely),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners() {
        assert!(banner(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3\r\n"));
        assert!(banner(b"SSH-1.99-OpenSSH_4.3\r\n"));
        assert!(!banner(b"SSH-3.0-x"));
        assert!(!banner(b"GET / HTTP/1.1\r\n"));
    }
}
