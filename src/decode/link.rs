//! Link layers: from a frame to the start of its IP packet.
//!
//! Each layer is read with etherparse's small slice views (Ethernet II, 802.1Q /
//! QinQ tags) and the walk stops at the first IPv4 or IPv6 header. We do not build
//! etherparse's whole `LaxSlicedPacket`: it is several hundred bytes that are
//! moved on every return, which cost more than all the parsing it saves.

use etherparse::{Ethernet2Slice, SingleVlanSlice};

use super::ip::from_ip;
use super::packet::{DecodeError, Packet};
use super::{ppp, wifi};
use crate::capture::{Frame, LinkType};

pub(super) const ETH_IPV4: u16 = 0x0800;
pub(super) const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const ETH_QINQ_OLD: u16 = 0x9100;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
const ETH_PPPOE_SESSION: u16 = 0x8864;

/// Decodes a frame into a packet view.
///
/// Ethernet (with 802.1Q/QinQ tags, MPLS label stacks and PPPoE sessions), raw IP
/// (DLT 12/14/101/228/229), BSD loopback (0/108), Linux SLL (113) and SLL2 (276),
/// NFLOG (239), PPP in its framings (9, 50, 51, 166, 204) and Cisco HDLC
/// (104, 205), unencrypted 802.11 data frames (105, and behind radiotap 127 or
/// PPI 192) and Apple's PKTAP (258, and 149 as older macOS wrote it) are
/// understood. Frames of other link types, or without an IP packet, return an
/// error the caller counts.
#[inline]
pub fn decode<'a>(frame: &Frame<'a>) -> Result<Packet<'a>, DecodeError> {
    let ip = ip_start(frame)?;
    from_ip(ip, frame.index, frame.ts, frame.orig_len)
}

/// The bytes from the IP header on.
#[inline]
fn ip_start<'a>(frame: &Frame<'a>) -> Result<&'a [u8], DecodeError> {
    let d = frame.data;
    // Nearly every capture is Ethernet: its case is inlined here.
    if frame.link_type == LinkType::ETHERNET {
        return ethernet(d);
    }
    ip_start_of(frame.link_type, d, true)
}

/// An Ethernet II frame's IP packet.
#[inline(always)]
pub(super) fn ethernet(d: &[u8]) -> Result<&[u8], DecodeError> {
    let eth = Ethernet2Slice::from_slice_without_fcs(d).map_err(|_| DecodeError::NotIp)?;
    by_ether_type(eth.ether_type().0, eth.payload_slice())
}

/// The bytes from the IP header on, for a frame of link type `link`. `outer`
/// is false inside a PPI or PKTAP header, which do not nest.
fn ip_start_of(link: LinkType, d: &[u8], outer: bool) -> Result<&[u8], DecodeError> {
    match link {
        LinkType::ETHERNET => ethernet(d),
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 | LinkType::IPV4 | LinkType::IPV6 => {
            Ok(d)
        }
        LinkType::NULL | LinkType::LOOP => {
            if d.len() < 4 {
                return Err(DecodeError::NotIp);
            }
            // NULL stores the family in the capturing host's byte order; LOOP in
            // network order. Either way the value is small, so try both.
            let le = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
            let be = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
            match if le < 256 { le } else { be } {
                2 | 10 | 24 | 28 | 30 => Ok(&d[4..]),
                _ => Err(DecodeError::NotIp),
            }
        }
        LinkType::LINUX_SLL => {
            if d.len() < 16 {
                return Err(DecodeError::NotIp);
            }
            by_ether_type(u16::from_be_bytes([d[14], d[15]]), &d[16..])
        }
        LinkType::LINUX_SLL2 => {
            if d.len() < 20 {
                return Err(DecodeError::NotIp);
            }
            by_ether_type(u16::from_be_bytes([d[0], d[1]]), &d[20..])
        }
        LinkType::NFLOG => nflog_payload(d).ok_or(DecodeError::NotIp),
        LinkType::PPP => ppp::ppp(d),
        LinkType::PPP_HDLC => ppp::ppp_hdlc(d),
        LinkType::PPP_ETHER => ppp::ppp_ether(d),
        LinkType::PPP_PPPD => ppp::ppp_pppd(d),
        LinkType::PPP_WITH_DIR => ppp::ppp_with_dir(d),
        LinkType::C_HDLC => ppp::c_hdlc(d),
        LinkType::C_HDLC_WITH_DIR => ppp::c_hdlc_with_dir(d),
        LinkType::IEEE802_11 => {
            let (et, rest) = wifi::ieee802_11(d)?;
            by_ether_type(et, rest)
        }
        LinkType::IEEE802_11_RADIOTAP => {
            let (et, rest) = wifi::ieee802_11(wifi::radiotap(d)?)?;
            by_ether_type(et, rest)
        }
        LinkType::PPI if outer => {
            let (inner, rest) = wifi::ppi(d)?;
            ip_start_of(inner_link(inner)?, rest, false)
        }
        LinkType::PKTAP | LinkType::USER2 if outer => {
            let (inner, rest) = pktap(d)?;
            ip_start_of(inner_link(inner)?, rest, false)
        }
        _ => Err(DecodeError::UnsupportedLinkType),
    }
}

/// The link type a PPI or PKTAP header names for the frame behind it.
fn inner_link(v: u32) -> Result<LinkType, DecodeError> {
    let link = LinkType(u16::try_from(v).map_err(|_| DecodeError::UnsupportedLinkType)?);
    if link.is_supported() {
        Ok(link)
    } else {
        Err(DecodeError::UnsupportedLinkType)
    }
}

/// Apple's PKTAP header (`tcpdump -i pktap` on macOS): its length (bytes 0–3),
/// the kind of record (bytes 4–7, 1 for a packet) and the link type of the
/// frame behind it (bytes 8–11), in the capturing host's byte order, which on
/// every Mac that writes it is little-endian.
fn pktap(d: &[u8]) -> Result<(u32, &[u8]), DecodeError> {
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
    };
    let (Some(len), Some(1), Some(link)) = (word(0), word(4), word(8)) else {
        return Err(DecodeError::NotIp);
    };
    let len = usize::try_from(len).map_err(|_| DecodeError::NotIp)?;
    if len < 12 {
        return Err(DecodeError::NotIp);
    }
    Ok((link, d.get(len..).ok_or(DecodeError::NotIp)?))
}

/// Follows VLAN tags, MPLS labels and PPPoE to an IP header (at most 8 layers).
#[inline]
pub(super) fn by_ether_type(mut et: u16, mut d: &[u8]) -> Result<&[u8], DecodeError> {
    for _ in 0..8 {
        match et {
            ETH_IPV4 | ETH_IPV6 => return Ok(d),
            ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD => {
                let v = SingleVlanSlice::from_slice(d).map_err(|_| DecodeError::NotIp)?;
                et = v.ether_type().0;
                d = v.payload_slice();
            }
            ETH_MPLS | ETH_MPLS_MC => {
                // Pop labels to the bottom of the stack; the payload's first
                // nibble says IPv4 or IPv6.
                loop {
                    if d.len() < 4 {
                        return Err(DecodeError::NotIp);
                    }
                    let bottom = d[2] & 0x01 != 0;
                    d = &d[4..];
                    if bottom {
                        break;
                    }
                }
                return match d.first().map(|b| b >> 4) {
                    Some(4 | 6) => Ok(d),
                    _ => Err(DecodeError::NotIp),
                };
            }
            ETH_PPPOE_SESSION => {
                // 6-byte PPPoE header, then the 2-byte PPP protocol.
                if d.len() < 8 {
                    return Err(DecodeError::NotIp);
                }
                let proto = u16::from_be_bytes([d[6], d[7]]);
                d = &d[8..];
                return match proto {
                    0x0021 | 0x0057 => Ok(d),
                    _ => Err(DecodeError::NotIp),
                };
            }
            _ => return Err(DecodeError::NotIp),
        }
    }
    Err(DecodeError::NotIp)
}

/// The packet inside an NFLOG record: a 4-byte header (family, version, resource
/// id) then TLVs whose 16-bit length and type are in host byte order, each padded
/// to 4 bytes. `NFULA_PAYLOAD` (type 9) holds the IP packet.
fn nflog_payload(d: &[u8]) -> Option<&[u8]> {
    if d.len() < 4 {
        return None;
    }
    let mut i = 4;
    // The capturing host's byte order is unknown: guess it from the first TLV.
    let le = {
        let l = u16::from_le_bytes([*d.get(4)?, *d.get(5)?]) as usize;
        l >= 4 && 4 + l <= d.len()
    };
    let rd = |o: usize| -> Option<u16> {
        let a = [*d.get(o)?, *d.get(o + 1)?];
        Some(if le {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        })
    };
    while i + 4 <= d.len() {
        let len = rd(i)? as usize;
        let ty = rd(i + 2)? & 0x7fff;
        if len < 4 {
            return None;
        }
        if ty == 9 {
            let end = (i + len).min(d.len());
            return Some(&d[i + 4..end]);
        }
        i += len.next_multiple_of(4);
    }
    None
}
