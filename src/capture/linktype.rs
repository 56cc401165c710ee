//! Link-layer header types (the `LINKTYPE_*` registry used by pcap and pcapng).

use serde::Serialize;

/// A link-layer header type, as stored in a pcap file header or a pcapng
/// Interface Description Block, with the FCS bits already removed.
///
/// A newtype rather than an enum so that values we do not decode survive into the
/// statistics (`link_types`, `skipped`) unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct LinkType(pub u16);

impl LinkType {
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II / 802.3.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP (value used by some BSDs).
    pub const RAW_12: LinkType = LinkType(12);
    /// Raw IP (value used by OpenBSD).
    pub const RAW_14: LinkType = LinkType(14);
    /// Raw IP, the portable `LINKTYPE_RAW`.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: like NULL, but the family is in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux "cooked" capture v1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Linux netfilter NFLOG.
    pub const NFLOG: LinkType = LinkType(239);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux "cooked" capture v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);
    /// PPP, with or without HDLC address and control bytes.
    pub const PPP: LinkType = LinkType(9);
    /// PPP in HDLC-like framing (or Cisco HDLC).
    pub const PPP_HDLC: LinkType = LinkType(50);
    /// PPPoE session header without the Ethernet frame.
    pub const PPP_ETHER: LinkType = LinkType(51);
    /// Cisco HDLC.
    pub const C_HDLC: LinkType = LinkType(104);
    /// IEEE 802.11 frames.
    pub const IEEE802_11: LinkType = LinkType(105);
    /// IEEE 802.11 behind a radiotap header.
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    /// `LINKTYPE_USER2`, which older macOS used for PKTAP.
    pub const USER2: LinkType = LinkType(149);
    /// PPP as pppd writes it (a direction byte as the address).
    pub const PPP_PPPD: LinkType = LinkType(166);
    /// Per-Packet Information header, then another link type.
    pub const PPI: LinkType = LinkType(192);
    /// A direction byte, then PPP.
    pub const PPP_WITH_DIR: LinkType = LinkType(204);
    /// A direction byte, then Cisco HDLC.
    pub const C_HDLC_WITH_DIR: LinkType = LinkType(205);
    /// Apple's PKTAP header, then another link type.
    pub const PKTAP: LinkType = LinkType(258);

    /// Splits a raw 32-bit link-type field into the base type and the number of
    /// FCS bytes that trail every frame.
    ///
    /// The pcap specification keeps the link type in the low 16 bits and, when bit
    /// 26 (`F`) is set, the FCS length in 16-bit words in bits 28..31. Values such
    /// as `0x30000001` (length nibble without the `F` bit) are the base type: the
    /// upper bits never change how the frame starts, and a trailing FCS that is not
    /// announced is bounded away by the IP length fields anyway.
    pub fn from_raw(raw: u32) -> (LinkType, u8) {
        let base = LinkType((raw & 0xffff) as u16);
        let fcs = if raw & 0x0400_0000 != 0 {
            (((raw >> 28) & 0xf) as u8) * 2
        } else {
            0
        };
        (base, fcs)
    }

    /// Whether [`crate::decode`] understands this link type.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            LinkType::NULL
                | LinkType::ETHERNET
                | LinkType::RAW_12
                | LinkType::RAW_14
                | LinkType::RAW
                | LinkType::LOOP
                | LinkType::LINUX_SLL
                | LinkType::NFLOG
                | LinkType::IPV4
                | LinkType::IPV6
                | LinkType::LINUX_SLL2
                | LinkType::PPP
                | LinkType::PPP_HDLC
                | LinkType::PPP_ETHER
                | LinkType::C_HDLC
                | LinkType::IEEE802_11
                | LinkType::IEEE802_11_RADIOTAP
                | LinkType::USER2
                | LinkType::PPP_PPPD
                | LinkType::PPI
                | LinkType::PPP_WITH_DIR
                | LinkType::C_HDLC_WITH_DIR
                | LinkType::PKTAP
        )
    }
}

impl LinkType {
    /// A short name for the types [`crate::decode`] reads (for people; the
    /// JSON keeps the number).
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            LinkType::NULL => "BSD loopback",
            LinkType::ETHERNET => "Ethernet",
            LinkType::RAW_12 | LinkType::RAW_14 | LinkType::RAW => "raw IP",
            LinkType::LOOP => "OpenBSD loopback",
            LinkType::LINUX_SLL => "Linux cooked",
            LinkType::NFLOG => "NFLOG",
            LinkType::IPV4 => "raw IPv4",
            LinkType::IPV6 => "raw IPv6",
            LinkType::LINUX_SLL2 => "Linux cooked v2",
            LinkType::PPP | LinkType::PPP_HDLC | LinkType::PPP_PPPD | LinkType::PPP_WITH_DIR => {
                "PPP"
            }
            LinkType::PPP_ETHER => "PPPoE",
            LinkType::C_HDLC | LinkType::C_HDLC_WITH_DIR => "Cisco HDLC",
            LinkType::IEEE802_11 => "802.11",
            LinkType::IEEE802_11_RADIOTAP => "802.11 radiotap",
            LinkType::PPI => "PPI",
            LinkType::PKTAP | LinkType::USER2 => "PKTAP",
            _ => return None,
        })
    }
}

impl std::fmt::Display for LinkType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fcs_bits_are_split_off() {
        assert_eq!(LinkType::from_raw(1), (LinkType::ETHERNET, 0));
        assert_eq!(LinkType::from_raw(0x3000_0001), (LinkType::ETHERNET, 0));
        assert_eq!(LinkType::from_raw(0x2400_0001), (LinkType::ETHERNET, 4));
        assert_eq!(LinkType::from_raw(276), (LinkType::LINUX_SLL2, 0));
    }

    #[test]
    fn every_type_read_has_a_name_and_no_other() {
        for v in 0..=u16::MAX {
            let l = LinkType(v);
            assert_eq!(l.name().is_some(), l.is_supported(), "link type {v}");
        }
    }
}
