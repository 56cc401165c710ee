//! Fully encrypted traffic, by the rule the Great Firewall applied to the first
//! client data packet of a TCP connection (Wu et al., USENIX Security 2023). A
//! payload is exempt from blocking, i.e. does *not* look fully encrypted, if
//!
//! - Ex1: its average popcount per byte is ≤ 3.4 or ≥ 4.6 (random bytes
//!   average 4);
//! - Ex2: its first six bytes are printable ASCII;
//! - Ex3: more than half of its bytes are printable;
//! - Ex4: it holds a run of more than 20 printable bytes;
//! - Ex5: it starts like TLS (`[\x16-\x17]\x03[\x00-\x09]`) or HTTP (`GET `,
//!   `PUT `, `POST `, `HEAD `).
//!
//! A payload that passes none is what Shadowsocks, VMess, obfs4 and other
//! "look like nothing" protocols send, and what the censor blocked. We use the
//! same rule to name such flows `fet`, after every structured protocol has
//! declined them.

use super::{Confidence, View};

/// Which exemption a payload met, or that it met none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetVerdict {
    /// No payload to judge.
    Empty,
    /// Ex1: average popcount per byte outside (3.4, 4.6).
    Popcount,
    /// Ex2: the first six bytes are printable.
    PrintablePrefix,
    /// Ex3: more than half the bytes are printable.
    MostlyPrintable,
    /// Ex4: more than 20 printable bytes in a row.
    PrintableRun,
    /// Ex5: a TLS or HTTP prefix.
    ProtocolPrefix,
    /// None of the exemptions: fully encrypted as far as the rule can tell.
    FullyEncrypted,
}

fn printable(c: u8) -> bool {
    (0x20..=0x7e).contains(&c)
}

/// Applies the rule to the first client data packet `p`.
pub fn fet_verdict(p: &[u8]) -> FetVerdict {
    if p.is_empty() {
        return FetVerdict::Empty;
    }
    // Ex5 and Ex2 are the cheapest: a few bytes.
    if p.len() >= 3 && matches!(p[0], 0x16 | 0x17) && p[1] == 0x03 && p[2] <= 0x09 {
        return FetVerdict::ProtocolPrefix;
    }
    if [&b"GET "[..], b"PUT ", b"POST ", b"HEAD "]
        .iter()
        .any(|m| p.starts_with(m))
    {
        return FetVerdict::ProtocolPrefix;
    }
    if p.len() >= 6 && p[..6].iter().all(|&c| printable(c)) {
        return FetVerdict::PrintablePrefix;
    }
    let ones: u64 = p.iter().map(|c| u64::from(c.count_ones())).sum();
    // Compare ones/len with 3.4 and 4.6 in integers: ones*5 vs len*17 and len*23.
    let (ones5, len) = (ones * 5, p.len() as u64);
    if ones5 <= len * 17 || ones5 >= len * 23 {
        return FetVerdict::Popcount;
    }
    let mut printable_n = 0usize;
    let mut run = 0usize;
    let mut longest = 0usize;
    for &c in p {
        if printable(c) {
            printable_n += 1;
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    if printable_n * 2 > p.len() {
        return FetVerdict::MostlyPrintable;
    }
    if longest > 20 {
        return FetVerdict::PrintableRun;
    }
    FetVerdict::FullyEncrypted
}

/// Whether the first bytes hold a length field that counts the payload (with
/// or without the field and what precedes it): the mark of a framed binary
/// protocol (Ethereum's RLPx, XMPP-style proprietary framings, Thrift), which a
/// random salt or key matches by chance about once in ten thousand.
fn has_length_prefix(p: &[u8]) -> bool {
    let n = p.len();
    (0..=3).any(|off| {
        let Some(f) = p.get(off..off + 2) else {
            return false;
        };
        let (be, le) = (
            usize::from(u16::from_be_bytes([f[0], f[1]])),
            usize::from(u16::from_le_bytes([f[0], f[1]])),
        );
        [be, le].iter().any(|&x| x == n || x + off + 2 == n)
    }) || p.get(..4).is_some_and(|f| {
        let be = u32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize;
        let le = u32::from_le_bytes([f[0], f[1], f[2], f[3]]) as usize;
        [be, le].iter().any(|&x| x == n || x + 4 == n)
    })
}

/// Whether the first 16 bytes hold at least five small values (< 8): version,
/// type and flag fields of a binary header. Random bytes do so with a
/// probability of about 1e-4.
fn has_small_fields(p: &[u8]) -> bool {
    p.iter().take(16).filter(|&&c| c < 8).count() >= 5
}

/// Whether both sides open with the same two bytes: a protocol magic or version
/// both peers send (a random salt matches with a probability of 1/65536).
fn shared_magic(up: &[u8], down: &[u8]) -> bool {
    up.len() >= 2 && down.len() >= 2 && up[..2] == down[..2]
}

/// Fully encrypted on a TCP flow: the client's first data segment meets no
/// exemption. The rule is about the *first* packet of a connection, so the
/// client's SYN must have been seen; a first packet shorter than a key or salt
/// (16 bytes) is too short for the popcount to mean anything. Beyond the GFW's
/// exemptions, which let many binary protocols through, three cheap signs of
/// structure exempt a flow too: a length field that counts the payload, small
/// header fields, and a magic both sides send; and a server that answers in
/// clear text shows the protocol is not fully encrypted. What remains are
/// protocols built to look random (Shadowsocks, VMess, obfs4, Telegram's
/// obfuscated MTProto, BitTorrent's message stream encryption).
pub(super) fn probe(v: &View<'_>) -> Option<Confidence> {
    // The client's SYN (its initial sequence number) was seen.
    v.up_dir.seq.isn?;
    let p = v.up_first_segment();
    if p.len() < 16
        || fet_verdict(p) != FetVerdict::FullyEncrypted
        || has_length_prefix(p)
        || has_small_fields(p)
    {
        return None;
    }
    let reply = v.down_first_segment();
    if shared_magic(p, reply) {
        return None;
    }
    if !reply.is_empty()
        && !matches!(
            fet_verdict(reply),
            FetVerdict::FullyEncrypted | FetVerdict::Popcount
        )
    {
        return None;
    }
    Some(Confidence::Likely)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exemptions() {
        assert_eq!(fet_verdict(b""), FetVerdict::Empty);
        assert_eq!(
            fet_verdict(b"\x16\x03\x01\x02\x00\x01"),
            FetVerdict::ProtocolPrefix
        );
        assert_eq!(
            fet_verdict(b"GET / HTTP/1.1\r\n"),
            FetVerdict::ProtocolPrefix
        );
        assert_eq!(fet_verdict(b"SSH-2.0-x"), FetVerdict::PrintablePrefix);
        assert_eq!(fet_verdict(&[0u8; 64]), FetVerdict::Popcount);
        // A pseudo-random payload (xorshift) meets none.
        let mut x: u32 = 0x1234_5678;
        let r: Vec<u8> = (0..200)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect();
        assert_eq!(fet_verdict(&r), FetVerdict::FullyEncrypted);
        // The same with a long printable run is exempt (Ex4).
        let mut s = r.clone();
        s[50..80].copy_from_slice(&[b'a'; 30]);
        assert_ne!(fet_verdict(&s), FetVerdict::FullyEncrypted);
    }

    #[test]
    fn length_prefixed_framing_is_structure() {
        let mut p = vec![0x02, 0x20];
        p.resize(0x222, 0x5a);
        assert!(has_length_prefix(&p));
        p[1] = 0x21;
        assert!(!has_length_prefix(&p));
        // Zabbix: "ZBXD", version 3, flags, lengths.
        let zbx = b"ZBXD\x03\x3e\x01\x00\x00\x8d\x03\x00\x00\x78\x9c\x8c";
        assert!(has_small_fields(zbx));
        assert!(shared_magic(zbx, b"ZBXD\x03U"));
    }

    #[test]
    fn real_handshake_keys_count_as_fully_encrypted() {
        // A WireGuard initiation is random after its 8-byte header (ephemeral
        // key, encrypted static key and timestamp, MAC1): the rule would flag
        // it, which is why it only runs after every parser declined.
        let Ok(d) = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/bol-van__zapret/files/fake/wireguard_initiation.bin"
        )) else {
            return;
        };
        assert_eq!(fet_verdict(&d[8..132]), FetVerdict::FullyEncrypted);
        // With the header, the zero bytes push it out of the popcount band? No:
        // the printable-prefix and popcount tests still fail, so the type-1
        // header alone does not save it either.
        assert_eq!(fet_verdict(&d[..132]), FetVerdict::FullyEncrypted);
    }
}
