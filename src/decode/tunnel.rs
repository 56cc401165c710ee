//! Encapsulations that carry someone else's traffic to the capture point:
//! the packets inside are the traffic to analyse, and the outer headers are
//! the network's plumbing.
//!
//! - **VXLAN** (RFC 7348; UDP 4789, and 8472 as Linux first used): cloud
//!   traffic mirrors (AWS VPC Traffic Mirroring) and overlay networks;
//! - **Geneve** (RFC 8926; UDP 6081): Google Cloud Packet Mirroring and
//!   overlays;
//! - **GTP-U** (3GPP TS 29.281; UDP 2152): a mobile operator's core network,
//!   where a capture on the Gn, S1-U or N3 interface sees every subscriber's
//!   packets in GTP;
//! - **ERSPAN** types I, II and III (GRE protocol types 0x88BE and 0x22EB)
//!   and GRE transparent Ethernet bridging (0x6558): remote port mirrors.
//!
//! User tunnels are deliberately *not* opened: GRE carrying IP, IP in IP,
//! 6in4, Teredo, PPTP, IPsec, WireGuard and OpenVPN are what the VPN
//! detectors watch (a tunnel whose packets get no answer is a blocked VPN),
//! so their outer flows stay the flows.
//!
//! Each header is checked before it is believed (flags, version, message
//! type, lengths), and the bytes inside must then read as an IP packet whose
//! length fits: a UDP datagram that merely uses one of these ports stays a
//! UDP datagram.
//!
//! Flows are keyed by the inner packets' addresses and ports alone: two
//! tenants of an overlay (VXLAN or Geneve network ids) or two subscribers of
//! a mobile core (GTP tunnel ids) that use the same private addresses and
//! ports at the same time are one flow to us, as they are to Wireshark's
//! conversation table. Captures of one mirror session or one network slice
//! do not have that problem.

use super::link::{ETH_IPV4, ETH_IPV6, ethernet};

/// An encapsulation read through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Tunnel {
    /// VXLAN (UDP 4789 or 8472).
    Vxlan,
    /// Geneve (UDP 6081).
    Geneve,
    /// GTP-U (UDP 2152).
    GtpU,
    /// ERSPAN (type I, II or III) in GRE.
    Erspan,
    /// GRE transparent Ethernet bridging.
    GreEthernet,
}

impl Tunnel {
    /// Every kind, in the order of the stats.
    pub const ALL: [Tunnel; 5] = [
        Tunnel::Vxlan,
        Tunnel::Geneve,
        Tunnel::GtpU,
        Tunnel::Erspan,
        Tunnel::GreEthernet,
    ];

    /// The name in the stats record.
    pub fn name(self) -> &'static str {
        match self {
            Tunnel::Vxlan => "vxlan",
            Tunnel::Geneve => "geneve",
            Tunnel::GtpU => "gtp-u",
            Tunnel::Erspan => "erspan",
            Tunnel::GreEthernet => "gre-ethernet",
        }
    }
}

const VXLAN: u16 = 4789;
const VXLAN_LINUX: u16 = 8472;
const GENEVE: u16 = 6081;
const GTP_U: u16 = 2152;

const GRE_TEB: u16 = 0x6558;
const GRE_ERSPAN_2: u16 = 0x88be;
const GRE_ERSPAN_3: u16 = 0x22eb;

/// Whether a UDP datagram between these ports may carry a tunnel (the cheap
/// test on every UDP packet; the header decides).
#[inline]
pub(super) fn udp_port(sport: u16, dport: u16) -> bool {
    matches!(dport, VXLAN | VXLAN_LINUX | GENEVE | GTP_U) || sport == GTP_U
}

/// The inner IP packet of a UDP payload, if the ports and header say it is a
/// tunnel we read.
pub(super) fn in_udp(sport: u16, dport: u16, d: &[u8]) -> Option<(Tunnel, &[u8])> {
    match dport {
        VXLAN | VXLAN_LINUX => return vxlan(d).map(|ip| (Tunnel::Vxlan, ip)),
        GENEVE => return geneve(d).map(|ip| (Tunnel::Geneve, ip)),
        _ => {}
    }
    if dport == GTP_U || sport == GTP_U {
        return gtp_u(d).map(|ip| (Tunnel::GtpU, ip));
    }
    None
}

/// The inner IP packet of a GRE payload that is a port mirror (ERSPAN or
/// transparent Ethernet bridging); `None` for any other GRE packet.
pub(super) fn in_gre(d: &[u8]) -> Option<(Tunnel, &[u8])> {
    let flags = u16::from_be_bytes([*d.first()?, *d.get(1)?]);
    let ptype = u16::from_be_bytes([*d.get(2)?, *d.get(3)?]);
    // Version 0 (RFC 2784/2890): no routing, no recursion, reserved bits 0.
    if flags & 0x4fff != 0 {
        return None;
    }
    let (c, k, s) = (
        flags & 0x8000 != 0,
        flags & 0x2000 != 0,
        flags & 0x1000 != 0,
    );
    let len = 4 + 4 * (usize::from(c) + usize::from(k) + usize::from(s));
    let inner = d.get(len..)?;
    match ptype {
        GRE_TEB => ip_in_ethernet(inner).map(|ip| (Tunnel::GreEthernet, ip)),
        // Type II has a sequence number and an 8-byte header of version 1;
        // type I has neither.
        GRE_ERSPAN_2 if s => {
            let h = inner.get(..8)?;
            if h[0] >> 4 != 1 {
                return None;
            }
            ip_in_ethernet(&inner[8..]).map(|ip| (Tunnel::Erspan, ip))
        }
        GRE_ERSPAN_2 => ip_in_ethernet(inner).map(|ip| (Tunnel::Erspan, ip)),
        // Type III: a 12-byte header of version 2, and an 8-byte platform
        // subheader when its O bit is set.
        GRE_ERSPAN_3 => {
            let h = inner.get(..12)?;
            if h[0] >> 4 != 2 {
                return None;
            }
            let skip = if h[11] & 0x01 != 0 { 20 } else { 12 };
            ip_in_ethernet(inner.get(skip..)?).map(|ip| (Tunnel::Erspan, ip))
        }
        _ => None,
    }
}

/// VXLAN: 8 bytes whose first has the I flag, then an Ethernet frame.
fn vxlan(d: &[u8]) -> Option<&[u8]> {
    let h = d.get(..8)?;
    if h[0] & 0x08 == 0 {
        return None;
    }
    ip_in_ethernet(&d[8..])
}

/// Geneve: version 0, options of 4-byte words, then a payload of the
/// protocol type's kind.
fn geneve(d: &[u8]) -> Option<&[u8]> {
    let h = d.get(..8)?;
    if h[0] >> 6 != 0 {
        return None;
    }
    let len = 8 + 4 * usize::from(h[0] & 0x3f);
    let inner = d.get(len..)?;
    match u16::from_be_bytes([h[2], h[3]]) {
        GRE_TEB => ip_in_ethernet(inner),
        ETH_IPV4 => ip_packet(inner, Some(4)),
        ETH_IPV6 => ip_packet(inner, Some(6)),
        _ => None,
    }
}

/// GTP-U: version 1, protocol type GTP, a T-PDU (message type 255) whose
/// length covers what follows; optional fields and extension headers are
/// skipped.
fn gtp_u(d: &[u8]) -> Option<&[u8]> {
    let h = d.get(..8)?;
    if h[0] >> 5 != 1 || h[0] & 0x10 == 0 || h[1] != 0xff {
        return None;
    }
    // The length field (bytes after these 8) is not compared: a frame cut
    // by the snap length holds fewer; the inner packet's own length is
    // checked below.
    let body = &d[8..];
    let mut at = 0;
    if h[0] & 0x07 != 0 {
        // Sequence number (2), N-PDU number (1), next extension type (1).
        let opt = body.get(..4)?;
        let mut next = opt[3];
        at = 4;
        // Extension headers: a length in 4-byte words, then the next type in
        // the last byte (at most 16 of them).
        for _ in 0..16 {
            if next == 0 {
                break;
            }
            let words = usize::from(*body.get(at)?);
            if words == 0 {
                return None;
            }
            let end = at + 4 * words;
            next = *body.get(end - 1)?;
            at = end;
        }
        if next != 0 {
            return None;
        }
    }
    ip_packet(body.get(at..)?, None)
}

/// The IP packet of an Ethernet frame (through VLAN tags), checked like any
/// tunnel's inner packet.
fn ip_in_ethernet(d: &[u8]) -> Option<&[u8]> {
    ip_packet(ethernet(d).ok()?, None)
}

/// `d` if it starts with an IP header of `version` (either when `None`)
/// whose total length fits the bytes there (fewer when the frame was cut by
/// the snap length is allowed; more is Ethernet padding).
fn ip_packet(d: &[u8], version: Option<u8>) -> Option<&[u8]> {
    let v = d.first()? >> 4;
    if version.is_some_and(|want| want != v) {
        return None;
    }
    match v {
        4 => {
            let ihl = usize::from(d[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*d.get(2)?, *d.get(3)?]));
            (ihl >= 20 && total >= ihl && d.len() >= ihl).then_some(d)
        }
        6 => (d.len() >= 40).then_some(d),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal IPv4 header (20 bytes, UDP, total length 28) and 8 bytes of
    /// UDP.
    fn ipv4() -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        p.extend_from_slice(&[0x30, 0x39, 0, 53, 0, 8, 0, 0]);
        p
    }

    fn ethernet_ipv4() -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
        f.extend(ipv4());
        f
    }

    #[test]
    fn vxlan_needs_the_i_flag() {
        let mut d = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
        d.extend(ethernet_ipv4());
        assert_eq!(in_udp(50000, 4789, &d), Some((Tunnel::Vxlan, &ipv4()[..])));
        d[0] = 0;
        assert_eq!(in_udp(50000, 4789, &d), None);
        // Not Ethernet and IP inside: not a tunnel.
        let mut junk = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
        junk.extend_from_slice(&[0xaa; 40]);
        assert_eq!(in_udp(50000, 4789, &junk), None);
    }

    #[test]
    fn geneve_options_and_protocol_types() {
        // Two words of options, then IPv4 directly.
        let mut d = vec![0x02, 0, 0x08, 0x00, 0, 0, 7, 0];
        d.extend_from_slice(&[0; 8]);
        d.extend(ipv4());
        assert_eq!(in_udp(1, 6081, &d), Some((Tunnel::Geneve, &ipv4()[..])));
        // Version 1 is not read.
        d[0] |= 0x40;
        assert_eq!(in_udp(1, 6081, &d), None);
    }

    #[test]
    fn gtp_u_t_pdu_with_extension_headers() {
        let ip = ipv4();
        // Plain T-PDU.
        let mut d = vec![0x30, 0xff, 0, ip.len() as u8, 0, 0, 0, 1];
        d.extend_from_slice(&ip);
        assert_eq!(in_udp(2152, 2152, &d), Some((Tunnel::GtpU, &ip[..])));
        // E flag: sequence, N-PDU, next type 0x85 (PDU session container,
        // one word), then none.
        let mut e = vec![0x34, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85];
        e.extend_from_slice(&[1, 0x10, 0x05, 0x00]);
        e.extend_from_slice(&ip);
        let body = (e.len() - 8) as u8;
        e[3] = body;
        assert_eq!(in_udp(2152, 2152, &e), Some((Tunnel::GtpU, &ip[..])));
        // An extension header of length 0 is malformed.
        e[12] = 0;
        assert_eq!(in_udp(2152, 2152, &e), None);
        // Signalling (echo request, type 1) carries no user packet.
        d[1] = 1;
        assert_eq!(in_udp(2152, 2152, &d), None);
        // GTP' and GTPv2 (versions 0 and 2) are not GTP-U.
        d[1] = 0xff;
        d[0] = 0x50;
        assert_eq!(in_udp(2152, 2152, &d), None);
    }

    #[test]
    fn gre_mirrors_but_not_user_tunnels() {
        // ERSPAN II: GRE with a sequence number, 8-byte ERSPAN header v1.
        let mut d = vec![0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 9];
        d.extend_from_slice(&[0x10, 0x01, 0, 0, 0, 0, 0, 0]);
        d.extend(ethernet_ipv4());
        assert_eq!(in_gre(&d), Some((Tunnel::Erspan, &ipv4()[..])));
        // ERSPAN III with the platform subheader.
        let mut d3 = vec![0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 9];
        d3.extend_from_slice(&[0x20, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01]);
        d3.extend_from_slice(&[0; 8]);
        d3.extend(ethernet_ipv4());
        assert_eq!(in_gre(&d3), Some((Tunnel::Erspan, &ipv4()[..])));
        // Transparent Ethernet bridging with a key.
        let mut teb = vec![0x20, 0x00, 0x65, 0x58, 0, 0, 0, 5];
        teb.extend(ethernet_ipv4());
        assert_eq!(in_gre(&teb), Some((Tunnel::GreEthernet, &ipv4()[..])));
        // GRE carrying IP (a user's tunnel) and PPTP's GRE stay as they are.
        let mut gre_ip = vec![0x00, 0x00, 0x08, 0x00];
        gre_ip.extend(ipv4());
        assert_eq!(in_gre(&gre_ip), None);
        let pptp = [0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(in_gre(&pptp), None);
    }

    #[test]
    fn short_and_hostile_inputs() {
        for d in [&[][..], &[0x08], &[0x30, 0xff, 0xff, 0xff], &[0xff; 64]] {
            let _ = in_udp(2152, 4789, d);
            let _ = in_udp(2152, 6081, d);
            let _ = in_udp(2152, 2152, d);
            let _ = in_gre(d);
        }
        // Extension headers chained past the end.
        let d = [0x34, 0xff, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0x85, 4, 0, 0, 0x85];
        assert_eq!(in_udp(2152, 2152, &d), None);
    }
}
