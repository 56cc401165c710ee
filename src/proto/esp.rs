//! ESP in UDP (RFC 3948, IPsec NAT traversal on port 4500). ESP carried directly
//! over IP (protocol 50) needs no probe: the IP header says it.
//!
//! On port 4500 IKE messages start with a four-byte zero "non-ESP marker"; any
//! other datagram of at least an ESP header and IV is ESP: a non-zero SPI and a
//! sequence number. A lone 0xFF byte is a NAT-keepalive.

use super::{Confidence, View, be32};

/// `Some((spi, seq))` if `b` is an ESP-in-UDP packet.
fn esp_header(b: &[u8]) -> Option<(u32, u32)> {
    let spi = be32(b, 0)?;
    let seq = be32(b, 4)?;
    // SPIs 1..=255 are reserved (RFC 4303 §2.1); a real packet also carries an
    // IV and an integrity check value.
    (spi > 255 && seq != 0 && b.len() >= 8 + 8 + 12).then_some((spi, seq))
}

/// ESP on UDP 4500: certain when both sides send ESP, or one side several
/// packets of one SPI with growing sequence numbers.
pub(super) fn probe_udp(v: &View<'_>) -> Option<Confidence> {
    if !v.port(4500) {
        return None;
    }
    let side = |it: &mut dyn Iterator<Item = &[u8]>| -> Option<(u32, bool)> {
        let mut first: Option<(u32, u32)> = None;
        let mut consistent = false;
        for d in it {
            if d.len() == 1 && d[0] == 0xff {
                continue;
            }
            let (spi, seq) = esp_header(d)?;
            match first {
                None => first = Some((spi, seq)),
                Some((s0, q0)) => {
                    if s0 != spi {
                        return None;
                    }
                    consistent |= seq > q0;
                }
            }
        }
        first.map(|(s, _)| (s, consistent))
    };
    let up = side(&mut v.up_dgrams());
    let down = side(&mut v.down_dgrams());
    match (up, down) {
        (Some(_), Some(_)) | (Some((_, true)), None) | (None, Some((_, true))) => {
            Some(Confidence::Certain)
        }
        (Some(_), None) | (None, Some(_)) => Some(Confidence::Likely),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esp_and_ike_marker() {
        let mut p = vec![0xc0, 0x01, 0x02, 0x03, 0, 0, 0, 1];
        p.resize(64, 0xaa);
        assert_eq!(esp_header(&p), Some((0xc001_0203, 1)));
        // IKE behind the non-ESP marker is not ESP.
        let ike = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/bol-van__zapret/files/fake/isakmp_initiator_request.bin"
        ));
        if let Ok(ike) = ike {
            assert_eq!(esp_header(&ike), None);
        }
    }
}
