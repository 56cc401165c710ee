//! Wi-Fi: IEEE 802.11 data frames, bare or behind a radiotap or PPI header
//! (monitor-mode captures), down to the packet their LLC/SNAP header carries.
//!
//! Only unprotected data frames carry a readable packet: a data frame with the
//! Protected bit is encrypted (WPA) and counted as such, so that a user learns
//! the capture needs decrypting; management and control frames, null-data
//! frames and A-MSDU aggregates are counted as not IP.

use super::packet::DecodeError;

/// Frame control type of data frames.
const TYPE_DATA: u8 = 2;
/// Frame control flags (second byte).
const TO_DS: u8 = 0x01;
const FROM_DS: u8 = 0x02;
const PROTECTED: u8 = 0x40;
const ORDER: u8 = 0x80;

/// `LINKTYPE_IEEE802_11` (105): the packet inside an 802.11 data frame, with
/// its Ethernet type (the caller follows it as for Ethernet).
pub(super) fn ieee802_11(d: &[u8]) -> Result<(u16, &[u8]), DecodeError> {
    let [fc0, fc1, ..] = *d else {
        return Err(DecodeError::NotIp);
    };
    let (version, kind, subtype) = (fc0 & 3, (fc0 >> 2) & 3, fc0 >> 4);
    if version != 0 || kind != TYPE_DATA || subtype & 0x4 != 0 {
        return Err(DecodeError::NotIp);
    }
    if fc1 & PROTECTED != 0 {
        return Err(DecodeError::Encrypted);
    }
    // Three addresses, or four on a wireless distribution system link.
    let mut hdr = if fc1 & (TO_DS | FROM_DS) == TO_DS | FROM_DS {
        30
    } else {
        24
    };
    if subtype & 0x8 != 0 {
        // QoS data: a 2-byte QoS control field, whose A-MSDU bit says the
        // body is a list of subframes rather than one packet.
        let qos = *d.get(hdr).ok_or(DecodeError::NotIp)?;
        if qos & 0x80 != 0 {
            return Err(DecodeError::NotIp);
        }
        hdr += 2;
        if fc1 & ORDER != 0 {
            // HT control.
            hdr += 4;
        }
    }
    match d.get(hdr..) {
        // LLC/SNAP with an encapsulated Ethernet type (RFC 1042, or 802.1H).
        Some([0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00 | 0xf8, hi, lo, rest @ ..]) => {
            Ok((u16::from_be_bytes([*hi, *lo]), rest))
        }
        _ => Err(DecodeError::NotIp),
    }
}

/// `LINKTYPE_IEEE802_11_RADIOTAP` (127): the 802.11 frame after the radiotap
/// header (version 0, its length in bytes 2–3, little-endian).
pub(super) fn radiotap(d: &[u8]) -> Result<&[u8], DecodeError> {
    match d {
        [0, _, lo, hi, ..] => {
            let len = usize::from(u16::from_le_bytes([*lo, *hi]));
            if len < 8 {
                return Err(DecodeError::NotIp);
            }
            d.get(len..).ok_or(DecodeError::NotIp)
        }
        _ => Err(DecodeError::NotIp),
    }
}

/// `LINKTYPE_PPI` (192): the frame after the Per-Packet Information header
/// (version 0, length in bytes 2–3 and the link type of what follows in bytes
/// 4–7, little-endian).
pub(super) fn ppi(d: &[u8]) -> Result<(u32, &[u8]), DecodeError> {
    match d {
        [0, _, lo, hi, a, b, c, e, ..] => {
            let len = usize::from(u16::from_le_bytes([*lo, *hi]));
            let link = u32::from_le_bytes([*a, *b, *c, *e]);
            if len < 8 {
                return Err(DecodeError::NotIp);
            }
            Ok((link, d.get(len..).ok_or(DecodeError::NotIp)?))
        }
        _ => Err(DecodeError::NotIp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: &[u8] = &[0x45, 0, 0, 20];
    const SNAP_IPV4: &[u8] = &[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00];

    fn frame(fc0: u8, fc1: u8, extra: usize) -> Vec<u8> {
        let mut f = vec![fc0, fc1];
        f.extend(std::iter::repeat_n(0u8, 22 + extra));
        f.extend_from_slice(SNAP_IPV4);
        f.extend_from_slice(IP);
        f
    }

    #[test]
    fn data_frames_of_each_header_shape() {
        // Data, to the access point.
        assert_eq!(ieee802_11(&frame(0x08, TO_DS, 0)), Ok((0x0800, IP)));
        // Four addresses (WDS).
        assert_eq!(
            ieee802_11(&frame(0x08, TO_DS | FROM_DS, 6)),
            Ok((0x0800, IP))
        );
        // QoS data (A-MSDU bit clear), and with HT control.
        assert_eq!(ieee802_11(&frame(0x88, FROM_DS, 2)), Ok((0x0800, IP)));
        assert_eq!(
            ieee802_11(&frame(0x88, FROM_DS | ORDER, 6)),
            Ok((0x0800, IP))
        );
    }

    #[test]
    fn frames_without_a_readable_packet() {
        // Encrypted, a beacon (management), a null-data frame, an A-MSDU.
        assert_eq!(
            ieee802_11(&frame(0x08, TO_DS | PROTECTED, 0)),
            Err(DecodeError::Encrypted)
        );
        assert!(ieee802_11(&frame(0x80, 0, 0)).is_err());
        assert!(ieee802_11(&frame(0x48, TO_DS, 0)).is_err());
        let mut amsdu = frame(0x88, FROM_DS, 2);
        amsdu[24] = 0x80;
        assert!(ieee802_11(&amsdu).is_err());
        assert!(ieee802_11(&[]).is_err());
        assert!(ieee802_11(&[0x08, 0x01, 0, 0]).is_err());
    }

    #[test]
    fn radiotap_and_ppi_headers() {
        let inner = frame(0x08, TO_DS, 0);
        let rt = [&[0u8, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0][..], &inner].concat();
        assert_eq!(radiotap(&rt), Ok(&inner[..]));
        assert!(radiotap(&[0, 0, 4, 0]).is_err());
        assert!(radiotap(&[0, 0, 200, 0, 1, 2]).is_err());
        let p = [&[0u8, 0, 8, 0, 105, 0, 0, 0][..], &inner].concat();
        assert_eq!(ppi(&p), Ok((105, &inner[..])));
        assert!(ppi(&[1, 0, 8, 0, 105, 0, 0, 0]).is_err());
    }
}
