//! Point-to-point links: PPP (dial-up, mobile modems, PPPoE) and Cisco HDLC
//! (serial WAN links), down to the IP packet they carry.
//!
//! These are the link types of captures taken on the PPP interface of a
//! modem or a PPPoE client (`ppp0`), or on a router's serial line: an IP
//! packet behind a two-byte protocol number, with or without the HDLC address
//! and control bytes in front (RFC 1661, RFC 1662).

use super::link::by_ether_type;
use super::packet::DecodeError;

/// PPP protocol numbers of IPv4 and IPv6 (RFC 1332, RFC 5072).
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
/// PPP protocol numbers of MPLS, unicast and multicast (RFC 3032).
const PPP_MPLS: u16 = 0x0281;
const PPP_MPLS_MC: u16 = 0x0283;
/// The Ethernet type of MPLS, whose label stack [`by_ether_type`] pops.
const ETH_MPLS: u16 = 0x8847;

/// The IP packet behind a PPP protocol field at the start of `d`: two bytes,
/// or one when the peers negotiated protocol-field compression (an odd first
/// byte is a whole protocol number, RFC 1661 §6.5); MPLS labels are popped.
/// Other protocols (LCP, IPCP, Van Jacobson compressed TCP, ...) carry no IP
/// packet we can read.
pub(super) fn by_ppp_protocol(d: &[u8]) -> Result<&[u8], DecodeError> {
    let (proto, rest) = match d {
        [p, rest @ ..] if p & 1 == 1 => (u16::from(*p), rest),
        [hi, lo, rest @ ..] => (u16::from_be_bytes([*hi, *lo]), rest),
        _ => return Err(DecodeError::NotIp),
    };
    match proto {
        PPP_IPV4 | PPP_IPV6 => Ok(rest),
        PPP_MPLS | PPP_MPLS_MC => by_ether_type(ETH_MPLS, rest),
        _ => Err(DecodeError::NotIp),
    }
}

/// `LINKTYPE_PPP` (9): a PPP frame, with the HDLC address and control bytes
/// `ff 03` in front or without them (address-and-control-field compression);
/// BSD/OS wrote Cisco HDLC frames under this link type too.
pub(super) fn ppp(d: &[u8]) -> Result<&[u8], DecodeError> {
    match d {
        [0xff, 0x03, rest @ ..] => by_ppp_protocol(rest),
        [0x0f | 0x8f, 0x00, ..] => c_hdlc(d),
        _ => by_ppp_protocol(d),
    }
}

/// `LINKTYPE_PPP_WITH_DIR` (204): a direction byte (0 received, 1 sent), then
/// a frame as [`ppp`] reads it.
pub(super) fn ppp_with_dir(d: &[u8]) -> Result<&[u8], DecodeError> {
    ppp(d.get(1..).ok_or(DecodeError::NotIp)?)
}

/// `LINKTYPE_PPP_PPPD` (166): pppd's framing, a direction byte where HDLC has
/// its address, then the control byte `03` and the protocol.
pub(super) fn ppp_pppd(d: &[u8]) -> Result<&[u8], DecodeError> {
    match d {
        [_, 0x03, rest @ ..] => by_ppp_protocol(rest),
        _ => Err(DecodeError::NotIp),
    }
}

/// `LINKTYPE_PPP_HDLC` (50): PPP in HDLC-like framing (`ff 03`), or Cisco
/// HDLC framing, which some PPP-over-serial captures use instead.
pub(super) fn ppp_hdlc(d: &[u8]) -> Result<&[u8], DecodeError> {
    match d {
        [0xff, 0x03, rest @ ..] => by_ppp_protocol(rest),
        [0x0f | 0x8f, ..] => c_hdlc(d),
        _ => Err(DecodeError::NotIp),
    }
}

/// `LINKTYPE_PPP_ETHER` (51): a PPPoE session header (version and type, code,
/// session id, length: 6 bytes) without the Ethernet frame around it, then the
/// PPP protocol.
pub(super) fn ppp_ether(d: &[u8]) -> Result<&[u8], DecodeError> {
    match d {
        // Version 1, type 1, code 0 (session data).
        [0x11, 0x00, _, _, _, _, rest @ ..] => by_ppp_protocol(rest),
        _ => Err(DecodeError::NotIp),
    }
}

/// `LINKTYPE_C_HDLC` (104): Cisco HDLC, an address byte (`0f` unicast, `8f`
/// broadcast), a zero control byte and an Ethernet type (IP, or MPLS).
pub(super) fn c_hdlc(d: &[u8]) -> Result<&[u8], DecodeError> {
    match d {
        [0x0f | 0x8f, 0x00, hi, lo, rest @ ..] => {
            by_ether_type(u16::from_be_bytes([*hi, *lo]), rest)
        }
        _ => Err(DecodeError::NotIp),
    }
}

/// `LINKTYPE_C_HDLC_WITH_DIR` (205): a direction byte, then Cisco HDLC.
pub(super) fn c_hdlc_with_dir(d: &[u8]) -> Result<&[u8], DecodeError> {
    c_hdlc(d.get(1..).ok_or(DecodeError::NotIp)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: &[u8] = &[0x45, 0, 0, 20];

    fn with(head: &[u8]) -> Vec<u8> {
        [head, IP].concat()
    }

    #[test]
    fn ppp_with_and_without_hdlc_bytes_and_compressed_protocol() {
        assert_eq!(ppp(&with(&[0xff, 0x03, 0x00, 0x21])), Ok(IP));
        assert_eq!(ppp(&with(&[0x00, 0x21])), Ok(IP));
        assert_eq!(ppp(&with(&[0x21])), Ok(IP));
        assert_eq!(ppp(&with(&[0xff, 0x03, 0x57])), Ok(IP));
        // Cisco HDLC under the PPP link type (BSD/OS), and MPLS over PPP.
        assert_eq!(ppp(&with(&[0x0f, 0x00, 0x08, 0x00])), Ok(IP));
        assert_eq!(
            ppp(&with(&[0xff, 0x03, 0x02, 0x81, 0x00, 0x01, 0x21, 0xff])),
            Ok(IP)
        );
        // LCP (0xc021) and Van Jacobson compressed TCP (0x002d): no IP packet.
        assert_eq!(
            ppp(&with(&[0xff, 0x03, 0xc0, 0x21])),
            Err(DecodeError::NotIp)
        );
        assert_eq!(ppp(&with(&[0x00, 0x2d])), Err(DecodeError::NotIp));
        assert_eq!(ppp(&[]), Err(DecodeError::NotIp));
        assert_eq!(ppp(&[0xff]), Err(DecodeError::NotIp));
    }

    #[test]
    fn framings_with_direction_pppoe_and_cisco_hdlc() {
        assert_eq!(ppp_with_dir(&with(&[0x01, 0xff, 0x03, 0x00, 0x21])), Ok(IP));
        assert_eq!(ppp_with_dir(&with(&[0x00, 0x00, 0x57])), Ok(IP));
        assert_eq!(ppp_pppd(&with(&[0x00, 0x03, 0x00, 0x21])), Ok(IP));
        assert_eq!(
            ppp_pppd(&with(&[0x00, 0x04, 0x00, 0x21])),
            Err(DecodeError::NotIp)
        );
        assert_eq!(ppp_hdlc(&with(&[0xff, 0x03, 0x00, 0x21])), Ok(IP));
        assert_eq!(ppp_hdlc(&with(&[0x0f, 0x00, 0x08, 0x00])), Ok(IP));
        assert_eq!(
            ppp_ether(&with(&[0x11, 0, 0x12, 0x34, 0, 24, 0x00, 0x21])),
            Ok(IP)
        );
        // A discovery packet (code 0x09, PADI) carries no IP.
        assert_eq!(
            ppp_ether(&with(&[0x11, 0x09, 0, 0, 0, 24, 0x00, 0x21])),
            Err(DecodeError::NotIp)
        );
        assert_eq!(c_hdlc(&with(&[0x8f, 0x00, 0x86, 0xdd])), Ok(IP));
        assert_eq!(
            c_hdlc(&with(&[0x0f, 0x00, 0x88, 0x47, 0x00, 0x01, 0x2d, 0xfe])),
            Ok(IP)
        );
        // SLARP keepalives (0x8035) are not IP.
        assert_eq!(
            c_hdlc(&with(&[0x8f, 0x00, 0x80, 0x35])),
            Err(DecodeError::NotIp)
        );
        assert_eq!(
            c_hdlc_with_dir(&with(&[0x01, 0x0f, 0x00, 0x08, 0x00])),
            Ok(IP)
        );
        for f in [
            ppp_with_dir,
            ppp_pppd,
            ppp_hdlc,
            ppp_ether,
            c_hdlc,
            c_hdlc_with_dir,
        ] {
            assert_eq!(f(&[]), Err(DecodeError::NotIp));
        }
    }
}
