//! Link layers: from a frame to the start of its IP packet.

use etherparse::{EtherType, LaxSlicedPacket};

use super::ip::from_sliced;
use super::packet::{DecodeError, Packet};
use crate::capture::{Frame, LinkType};

/// Decodes a frame into a packet view.
///
/// Ethernet (with 802.1Q/QinQ), raw IP (DLT 12/14/101/228/229), BSD loopback
/// (0/108), Linux SLL (113) and SLL2 (276) and NFLOG (239) are understood. Frames of
/// other link types, or without an IP packet, return an error the caller counts.
pub fn decode<'a>(frame: &Frame<'a>) -> Result<Packet<'a>, DecodeError> {
    let d = frame.data;
    let sliced = match frame.link_type {
        LinkType::ETHERNET => LaxSlicedPacket::from_ethernet(d).map_err(|_| DecodeError::NotIp)?,
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 | LinkType::IPV4 | LinkType::IPV6 => {
            LaxSlicedPacket::from_ip(d).map_err(|_| DecodeError::NotIp)?
        }
        LinkType::NULL | LinkType::LOOP => {
            if d.len() < 4 {
                return Err(DecodeError::NotIp);
            }
            // NULL stores the family in the capturing host's byte order; LOOP in
            // network order. Either way the value is small, so try both.
            let le = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
            let be = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
            let fam = if le < 256 { le } else { be };
            let et = match fam {
                2 => EtherType::IPV4,
                10 | 24 | 28 | 30 => EtherType::IPV6,
                _ => return Err(DecodeError::NotIp),
            };
            LaxSlicedPacket::from_ether_type(et, &d[4..])
        }
        LinkType::LINUX_SLL => {
            if d.len() < 16 {
                return Err(DecodeError::NotIp);
            }
            let et = EtherType(u16::from_be_bytes([d[14], d[15]]));
            LaxSlicedPacket::from_ether_type(et, &d[16..])
        }
        LinkType::LINUX_SLL2 => {
            if d.len() < 20 {
                return Err(DecodeError::NotIp);
            }
            let et = EtherType(u16::from_be_bytes([d[0], d[1]]));
            LaxSlicedPacket::from_ether_type(et, &d[20..])
        }
        LinkType::NFLOG => {
            let payload = nflog_payload(d).ok_or(DecodeError::NotIp)?;
            LaxSlicedPacket::from_ip(payload).map_err(|_| DecodeError::NotIp)?
        }
        _ => return Err(DecodeError::UnsupportedLinkType),
    };
    from_sliced(&sliced, frame.index, frame.ts, frame.orig_len)
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
