//! Legacy pcap records.

use pcap_parser::{LegacyPcapBlock, PcapError};

use super::format::LegacyParams;
use super::frame::{Frame, Timestamp};
use super::walker::{SkipReason, Step};

#[inline]
fn rd32(b: &[u8], off: usize, be: bool) -> u32 {
    let a = [b[off], b[off + 1], b[off + 2], b[off + 3]];
    if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

/// Reads the record at the start of `rest`. Returns the step and the bytes used.
#[inline]
pub(crate) fn read_record<'a>(rest: &'a [u8], p: &LegacyParams) -> (Step<'a>, usize) {
    let hl = p.record_header_len();
    if rest.len() < hl {
        return (
            Step::Stop(
                SkipReason::Truncated,
                format!("record header cut after {} of {hl} bytes", rest.len()),
            ),
            0,
        );
    }
    let caplen = rd32(rest, 8, p.big_endian);
    if caplen > p.max_caplen() {
        return (
            Step::Stop(
                SkipReason::Corrupt,
                format!("captured length {caplen} exceeds {}", p.max_caplen()),
            ),
            0,
        );
    }
    let parsed = match (p.modified, p.big_endian) {
        (false, false) => pcap_parser::parse_pcap_frame(rest),
        (false, true) => pcap_parser::parse_pcap_frame_be(rest),
        (true, false) => pcap_parser::parse_pcap_frame_modified(rest),
        (true, true) => modified_be(rest),
    };
    let (remaining, blk) = match parsed {
        Ok(ok) => ok,
        Err(_) => {
            return (
                Step::Stop(
                    SkipReason::Truncated,
                    format!(
                        "record of {caplen} bytes cut after {} bytes",
                        rest.len() - hl
                    ),
                ),
                0,
            );
        }
    };
    let used = rest.len() - remaining.len();
    let sub = if p.nanos {
        i64::from(blk.ts_usec)
    } else {
        i64::from(blk.ts_usec) * 1000
    };
    let mut data = blk.data;
    let fcs = usize::from(p.fcs_len);
    if fcs > 0 && blk.caplen >= blk.origlen && data.len() >= fcs {
        data = &data[..data.len() - fcs];
    }
    let frame = Frame {
        index: 0,
        ts: Timestamp::from_parts(i64::from(blk.ts_sec), sub),
        link_type: p.link_type,
        data,
        orig_len: blk.origlen,
    };
    (Step::Frame(frame), used)
}

/// The byte-swapped "modified" record, which pcap-parser does not read.
fn modified_be(i: &[u8]) -> nom::IResult<&[u8], LegacyPcapBlock<'_>, PcapError<&[u8]>> {
    let caplen = rd32(i, 8, true);
    let end = 24usize.saturating_add(caplen as usize);
    if i.len() < end {
        return Err(nom::Err::Incomplete(nom::Needed::Unknown));
    }
    Ok((
        &i[end..],
        LegacyPcapBlock {
            ts_sec: rd32(i, 0, true),
            ts_usec: rd32(i, 4, true),
            caplen,
            origlen: rd32(i, 12, true),
            data: &i[24..end],
        },
    ))
}
