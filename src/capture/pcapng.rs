//! pcapng blocks.
//!
//! Block lengths are validated here before any block reaches pcap-parser: 0.17
//! underflows (and panics in debug builds) on blocks shorter than 12 bytes. Only
//! the block types that matter (SHB, IDB, EPB, SPB) are handed to it at all; the
//! Obsolete Packet Block, which it does not know, is read here.

use pcap_parser::pcapng::{
    parse_enhancedpacketblock_be, parse_enhancedpacketblock_le, parse_interfacedescriptionblock_be,
    parse_interfacedescriptionblock_le, parse_sectionheaderblock, parse_simplepacketblock_be,
    parse_simplepacketblock_le,
};

use super::LinkType;
use super::format::{FormatError, PCAPNG_SHB};
use super::frame::{Frame, Timestamp};
use super::walker::{SkipReason, Step};

const BOM: u32 = 0x1A2B_3C4D;
const IDB: u32 = 1;
const OPB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
/// Decryption Secrets Block, and its secrets type for a TLS key log ("TLSK").
const DSB: u32 = 0x0A;
const DSB_TLS_KEY_LOG: u32 = 0x544c_534b;

/// One interface of the current section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    link_type: LinkType,
    fcs_len: u8,
    snaplen: u32,
    /// Timestamp units per second (`if_tsresol`).
    units_per_sec: u64,
    /// Seconds added to every timestamp (`if_tsoffset`).
    offset_secs: i64,
}

impl Interface {
    fn timestamp(&self, high: u32, low: u32) -> Timestamp {
        let ticks = (u64::from(high) << 32) | u64::from(low);
        let nanos = match self.units_per_sec {
            1_000_000_000 => i128::from(ticks),
            u if u != 0 && 1_000_000_000 % u == 0 => {
                i128::from(ticks) * i128::from(1_000_000_000 / u)
            }
            u => i128::from(ticks) * 1_000_000_000 / i128::from(u.max(1)),
        };
        let total = nanos + i128::from(self.offset_secs) * 1_000_000_000;
        Timestamp(total.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
    }
}

/// The byte order and interface table of the current section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NgState {
    big_endian: bool,
    interfaces: Vec<Interface>,
}

impl NgState {
    /// Whether the section is big-endian.
    pub fn big_endian(&self) -> bool {
        self.big_endian
    }
}

#[inline]
fn rd32(b: &[u8], off: usize, be: bool) -> u32 {
    let a = [b[off], b[off + 1], b[off + 2], b[off + 3]];
    if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

/// Checks that a pcapng file starts with a usable Section Header Block.
pub(crate) fn check_first_section(b: &[u8]) -> Result<(), FormatError> {
    if b.len() < 12 {
        return Err(FormatError::TooShort(b.len()));
    }
    let bom = rd32(b, 8, false);
    let be = match bom {
        BOM => false,
        x if x.swap_bytes() == BOM => true,
        _ => return Err(FormatError::BadSectionHeader("byte-order magic")),
    };
    let len = rd32(b, 4, be);
    if len < 28 || len % 4 != 0 {
        return Err(FormatError::BadSectionHeader("block length"));
    }
    Ok(())
}

fn stop(reason: SkipReason, detail: String) -> (Step<'static>, usize) {
    (Step::Stop(reason, detail), 0)
}

/// Reads the block at the start of `rest`. Returns the step and the bytes used.
#[inline]
pub(crate) fn read_block<'a>(rest: &'a [u8], st: &mut NgState) -> (Step<'a>, usize) {
    if rest.len() < 12 {
        return stop(
            SkipReason::Truncated,
            format!("block header cut after {} bytes", rest.len()),
        );
    }
    let is_shb = rd32(rest, 0, false) == PCAPNG_SHB;
    let be = if is_shb {
        match rd32(rest, 8, false) {
            BOM => false,
            x if x.swap_bytes() == BOM => true,
            _ => {
                return stop(
                    SkipReason::Corrupt,
                    "section header with unknown byte-order magic".into(),
                );
            }
        }
    } else {
        st.big_endian
    };
    let len = rd32(rest, 4, be) as usize;
    if len < 12 || len % 4 != 0 {
        return stop(
            SkipReason::Corrupt,
            format!("block total length {len} (must be >= 12 and a multiple of 4)"),
        );
    }
    if len > rest.len() {
        return stop(
            SkipReason::Truncated,
            format!("block of {len} bytes cut after {} bytes", rest.len()),
        );
    }
    let blk = &rest[..len];
    if rd32(blk, len - 4, be) as usize != len {
        return stop(
            SkipReason::Corrupt,
            "block trailer length differs from its header".into(),
        );
    }
    if is_shb {
        return match parse_sectionheaderblock(blk) {
            Ok(_) => {
                st.big_endian = be;
                st.interfaces.clear();
                (Step::Other, len)
            }
            Err(_) => stop(SkipReason::Corrupt, "malformed section header block".into()),
        };
    }
    match rd32(blk, 0, be) {
        IDB => {
            let parsed = if be {
                parse_interfacedescriptionblock_be(blk)
            } else {
                parse_interfacedescriptionblock_le(blk)
            };
            match parsed {
                Ok((_, idb)) => {
                    let (link_type, fcs) = LinkType::from_raw(idb.linktype.0 as u32);
                    // if_fcslen (option 13) overrides the link-type bits.
                    let fcs_len = idb
                        .options
                        .iter()
                        .find(|o| o.code.0 == 13)
                        .and_then(|o| o.value.first().copied())
                        .unwrap_or(fcs);
                    st.interfaces.push(Interface {
                        link_type,
                        fcs_len,
                        snaplen: idb.snaplen,
                        units_per_sec: idb.ts_resolution().unwrap_or(1_000_000),
                        offset_secs: idb.if_tsoffset,
                    });
                    (Step::Other, len)
                }
                Err(_) => stop(
                    SkipReason::Corrupt,
                    "malformed interface description block".into(),
                ),
            }
        }
        EPB => {
            let parsed = if be {
                parse_enhancedpacketblock_be(blk)
            } else {
                parse_enhancedpacketblock_le(blk)
            };
            let Ok((_, epb)) = parsed else {
                return stop(
                    SkipReason::Corrupt,
                    "malformed enhanced packet block".into(),
                );
            };
            let Some(iface) = st.interfaces.get(epb.if_id as usize) else {
                return stop(
                    SkipReason::Corrupt,
                    format!("packet on undeclared interface {}", epb.if_id),
                );
            };
            let d: &'a [u8] = epb.data;
            let caplen = (epb.caplen as usize).min(d.len());
            let frame = packet(
                iface,
                &d[..caplen],
                epb.caplen,
                epb.origlen,
                epb.ts_high,
                epb.ts_low,
            );
            (Step::Frame(frame), len)
        }
        SPB => {
            let parsed = if be {
                parse_simplepacketblock_be(blk)
            } else {
                parse_simplepacketblock_le(blk)
            };
            let Ok((_, spb)) = parsed else {
                return stop(SkipReason::Corrupt, "malformed simple packet block".into());
            };
            let Some(iface) = st.interfaces.first() else {
                return stop(
                    SkipReason::Corrupt,
                    "simple packet block before any interface".into(),
                );
            };
            let d: &'a [u8] = spb.data;
            let mut caplen = (spb.origlen as usize).min(d.len());
            if iface.snaplen > 0 {
                caplen = caplen.min(iface.snaplen as usize);
            }
            // SPBs carry no timestamp.
            let mut f = packet(iface, &d[..caplen], caplen as u32, spb.origlen, 0, 0);
            f.ts = Timestamp(0);
            (Step::Frame(f), len)
        }
        OPB => {
            // if_id u16, drops u16, ts_high, ts_low, caplen, len, data, options.
            if len < 32 {
                return stop(SkipReason::Corrupt, "short obsolete packet block".into());
            }
            let if_id = if be {
                u16::from_be_bytes([blk[8], blk[9]])
            } else {
                u16::from_le_bytes([blk[8], blk[9]])
            };
            let Some(iface) = st.interfaces.get(if_id as usize) else {
                return stop(
                    SkipReason::Corrupt,
                    format!("packet on undeclared interface {if_id}"),
                );
            };
            let caplen = rd32(blk, 20, be);
            let origlen = rd32(blk, 24, be);
            let body = &blk[28..len - 4];
            let n = (caplen as usize).min(body.len());
            let f = packet(
                iface,
                &body[..n],
                caplen,
                origlen,
                rd32(blk, 12, be),
                rd32(blk, 16, be),
            );
            (Step::Frame(f), len)
        }
        DSB if len >= 20 && rd32(blk, 8, be) == DSB_TLS_KEY_LOG => {
            // Secrets type, secrets length, the secrets (padded), options.
            let n = rd32(blk, 12, be) as usize;
            match blk.get(16..len - 4).and_then(|d| d.get(..n)) {
                Some(d) => (Step::Secrets(d), len),
                None => (Step::Other, len),
            }
        }
        _ => (Step::Other, len),
    }
}

#[inline]
fn packet<'a>(
    iface: &Interface,
    data: &'a [u8],
    caplen: u32,
    origlen: u32,
    hi: u32,
    lo: u32,
) -> Frame<'a> {
    let fcs = usize::from(iface.fcs_len);
    let data = if fcs > 0 && caplen >= origlen && data.len() >= fcs {
        &data[..data.len() - fcs]
    } else {
        data
    };
    Frame {
        index: 0,
        ts: iface.timestamp(hi, lo),
        link_type: iface.link_type,
        data,
        orig_len: origlen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Little-endian block: type, total length, body, total length.
    fn block(t: u32, body: &[u8]) -> Vec<u8> {
        let len = (12 + body.len()) as u32;
        let mut b = t.to_le_bytes().to_vec();
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(body);
        b.extend_from_slice(&len.to_le_bytes());
        b
    }

    /// The TLS key logs of the walk's secrets.
    fn walked_secrets(file: &[u8]) -> Vec<&[u8]> {
        let mut st = NgState::default();
        let mut at = 0;
        let mut out = Vec::new();
        while at < file.len() {
            let (step, used) = read_block(&file[at..], &mut st);
            match step {
                Step::Secrets(d) => out.push(d),
                Step::Stop(..) => break,
                _ => {}
            }
            at += used;
        }
        out
    }

    #[test]
    fn key_logs_wherever_they_are() {
        let mut shb_body = BOM.to_le_bytes().to_vec();
        shb_body.extend_from_slice(&[1, 0, 0, 0]);
        shb_body.extend_from_slice(&[0xff; 8]);
        let shb = block(PCAPNG_SHB, &shb_body);
        let mut dsb_body = DSB_TLS_KEY_LOG.to_le_bytes().to_vec();
        dsb_body.extend_from_slice(&5u32.to_le_bytes());
        dsb_body.extend_from_slice(b"keys\n\0\0\0");
        let dsb = block(DSB, &dsb_body);
        let mut other = 0x5753_4b47u32.to_le_bytes().to_vec(); // WireGuard keys
        other.extend_from_slice(&5u32.to_le_bytes());
        other.extend_from_slice(b"wgkey\0\0\0");
        let file = [shb.clone(), dsb.clone(), block(DSB, &other), dsb.clone()].concat();
        assert_eq!(walked_secrets(&file), vec![&b"keys\n"[..], &b"keys\n"[..]]);
        // A secrets length past its block, a block longer than the file, and
        // cut files: nothing, no panic.
        let mut bad = dsb_body.clone();
        bad[4..8].copy_from_slice(&500u32.to_le_bytes());
        assert!(walked_secrets(&[shb.clone(), block(DSB, &bad)].concat()).is_empty());
        let mut long = dsb.clone();
        long[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(walked_secrets(&[shb.clone(), long].concat()).is_empty());
        for n in 0..file.len() {
            let _ = walked_secrets(&file[..n]);
        }
    }
}
