//! The packet quoted inside ICMP error messages.
//!
//! Unreachables and time-exceeded messages carry the IP header and the first 8
//! bytes of the packet that caused them. For a TTL-limited probe this says which
//! packet expired where; for a port unreachable, which flow was refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Header fields of a packet quoted in an ICMP error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quoted {
    /// Source of the quoted packet (usually us).
    pub src: IpAddr,
    /// Destination of the quoted packet.
    pub dst: IpAddr,
    /// Its transport protocol.
    pub proto: u8,
    /// Its TTL / hop limit as the reporting router saw it.
    pub ttl: u8,
    /// Its IPv4 identification (0 for IPv6).
    pub ip_id: u32,
    /// Its source port (TCP/UDP), else 0.
    pub sport: u16,
    /// Its destination port (TCP/UDP), else 0.
    pub dport: u16,
    /// Its TCP sequence number, when TCP.
    pub tcp_seq: Option<u32>,
}

pub(super) fn quoted(icmp_type: u8, v6: bool, b: &[u8]) -> Option<Quoted> {
    let is_error = if v6 {
        icmp_type < 128
    } else {
        matches!(icmp_type, 3 | 4 | 5 | 11 | 12)
    };
    if !is_error {
        return None;
    }
    let (src, dst, proto, ttl, ip_id, l4) = match b.first()? >> 4 {
        4 => {
            let ihl = usize::from(b[0] & 0x0f) * 4;
            if ihl < 20 || b.len() < ihl {
                return None;
            }
            (
                IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15])),
                IpAddr::V4(Ipv4Addr::new(b[16], b[17], b[18], b[19])),
                b[9],
                b[8],
                u32::from(u16::from_be_bytes([b[4], b[5]])),
                &b[ihl..],
            )
        }
        6 => {
            if b.len() < 40 {
                return None;
            }
            let a = |o: usize| {
                let mut x = [0u8; 16];
                x.copy_from_slice(&b[o..o + 16]);
                IpAddr::V6(Ipv6Addr::from(x))
            };
            (a(8), a(24), b[6], b[7], 0, &b[40..])
        }
        _ => return None,
    };
    let (sport, dport) = if matches!(proto, 6 | 17) && l4.len() >= 4 {
        (
            u16::from_be_bytes([l4[0], l4[1]]),
            u16::from_be_bytes([l4[2], l4[3]]),
        )
    } else {
        (0, 0)
    };
    let tcp_seq =
        (proto == 6 && l4.len() >= 8).then(|| u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]));
    Some(Quoted {
        src,
        dst,
        proto,
        ttl,
        ip_id,
        sport,
        dport,
        tcp_seq,
    })
}
