//! Recognising the container format from the first bytes of a capture.

use super::LinkType;

/// Why the first bytes are not a capture we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Shorter than any capture file header.
    #[error("file too short for a capture header ({0} bytes)")]
    TooShort(usize),
    /// The magic number is not pcap, pcapng or gzip.
    #[error("unknown magic number {0:#010x} (not pcap, pcapng or gzip)")]
    UnknownMagic(u32),
    /// A pcapng file whose first Section Header Block is unusable.
    #[error("pcapng section header block is malformed: {0}")]
    BadSectionHeader(&'static str),
    /// A legacy pcap header that pcap-parser rejected.
    #[error("pcap file header is malformed")]
    BadPcapHeader,
}

/// Parameters of a legacy (libpcap) file, read from its 24-byte header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegacyParams {
    /// Multi-byte fields are big-endian.
    pub big_endian: bool,
    /// Timestamps carry nanoseconds rather than microseconds.
    pub nanos: bool,
    /// Kuznetzov's "modified" format: 24-byte record headers.
    pub modified: bool,
    /// Link type of every frame.
    pub link_type: LinkType,
    /// Bytes of FCS at the end of every frame.
    pub fcs_len: u8,
    /// The file's snap length.
    pub snaplen: u32,
}

impl LegacyParams {
    /// Length of a record header.
    pub fn record_header_len(&self) -> usize {
        if self.modified { 24 } else { 16 }
    }

    /// Largest captured length we accept for one record before calling the record
    /// corrupt (Wireshark's limit is 256 KiB for most link types; a larger snap
    /// length in the header raises it).
    pub fn max_caplen(&self) -> u32 {
        MAX_CAPLEN.max(self.snaplen.min(MAX_SNAPLEN_HEADER))
    }
}

/// Wireshark's `WTAP_MAX_PACKET_SIZE_STANDARD`.
pub(crate) const MAX_CAPLEN: u32 = 262_144;
/// A header snap length above this is not trusted to widen the record limit.
const MAX_SNAPLEN_HEADER: u32 = 16 * 1024 * 1024;

/// The container kind, from the magic number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Magic {
    Legacy,
    PcapNg,
    Gzip,
}

pub(crate) const PCAPNG_SHB: u32 = 0x0A0D_0D0A;

pub(crate) fn sniff(bytes: &[u8]) -> Result<Magic, FormatError> {
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        return Ok(Magic::Gzip);
    }
    if bytes.len() < 4 {
        return Err(FormatError::TooShort(bytes.len()));
    }
    let m = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    match m {
        PCAPNG_SHB => Ok(Magic::PcapNg),
        0xa1b2_c3d4 | 0xa1b2_3c4d | 0xa1b2_cd34 | 0xd4c3_b2a1 | 0x4d3c_b2a1 | 0x34cd_b2a1 => {
            Ok(Magic::Legacy)
        }
        _ => Err(FormatError::UnknownMagic(u32::from_be_bytes([
            bytes[0], bytes[1], bytes[2], bytes[3],
        ]))),
    }
}

/// Reads a legacy pcap header.
pub(crate) fn legacy_header(bytes: &[u8]) -> Result<LegacyParams, FormatError> {
    if bytes.len() < 24 {
        return Err(FormatError::TooShort(bytes.len()));
    }
    let magic = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    // pcap-parser does not know the byte-swapped "modified" magic; read it ourselves.
    let (big_endian, nanos, modified, snaplen, network) = if magic == 0x34cd_b2a1 {
        let rd =
            |o: usize| u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        (true, false, true, rd(16), rd(20))
    } else {
        let (_, h) =
            pcap_parser::parse_pcap_header(bytes).map_err(|_| FormatError::BadPcapHeader)?;
        (
            h.is_bigendian(),
            h.is_nanosecond_precision(),
            h.is_modified_format(),
            h.snaplen,
            h.network.0 as u32,
        )
    };
    let (link_type, fcs_len) = LinkType::from_raw(network);
    Ok(LegacyParams {
        big_endian,
        nanos,
        modified,
        link_type,
        fcs_len,
        snaplen,
    })
}
