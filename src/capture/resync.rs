//! Finding a record boundary from an arbitrary byte offset.
//!
//! The parallel path splits the mapped file into byte ranges and starts a walker in
//! each; this finds where the first whole record of a range begins. A wrong guess
//! costs time, never correctness: the planner checks that the previous range's walk
//! ends exactly where this one starts (with the same state) and re-walks it otherwise.

use super::format::MAX_CAPLEN;
use super::walker::WalkState;

/// How far past the nominal split point to look for a boundary.
const SEARCH: usize = 1 << 20;
/// How many consecutive plausible records make a boundary.
const CHAIN: usize = 8;

/// The first offset in `from..` (bounded search) where `CHAIN` plausible records
/// follow one another (or reach the end of the input).
pub(crate) fn resync(bytes: &[u8], from: usize, state: &WalkState) -> Option<usize> {
    let stop = from.saturating_add(SEARCH).min(bytes.len());
    match state {
        WalkState::Legacy(p) => {
            let hl = p.record_header_len();
            let rd = |o: usize| -> u32 {
                let a = [bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]];
                if p.big_endian {
                    u32::from_be_bytes(a)
                } else {
                    u32::from_le_bytes(a)
                }
            };
            let frac_max = if p.nanos { 1_000_000_000 } else { 1_000_000 };
            let plausible = |o: usize| -> Option<(usize, u32)> {
                if o + hl > bytes.len() {
                    return None;
                }
                let (sec, frac, cap, orig) = (rd(o), rd(o + 4), rd(o + 8), rd(o + 12));
                if frac >= frac_max || cap > p.max_caplen().max(MAX_CAPLEN) || cap > orig {
                    return None;
                }
                if orig > 0x0010_0000 || cap < 14.min(orig) {
                    return None;
                }
                Some((o + hl + cap as usize, sec))
            };
            (from..stop).find(|&start| {
                let mut o = start;
                let mut prev_sec: Option<u32> = None;
                for _ in 0..CHAIN {
                    if o == bytes.len() {
                        return true;
                    }
                    let Some((next, sec)) = plausible(o) else {
                        return false;
                    };
                    if let Some(ps) = prev_sec {
                        // Captures are roughly in time order: a day's jump between
                        // neighbours is not a real boundary.
                        if sec.abs_diff(ps) > 86_400 {
                            return false;
                        }
                    }
                    prev_sec = Some(sec);
                    if next > bytes.len() {
                        return false;
                    }
                    o = next;
                }
                true
            })
        }
        WalkState::PcapNg(ng) => {
            let be = ng.big_endian();
            let rd = |o: usize| -> u32 {
                let a = [bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]];
                if be {
                    u32::from_be_bytes(a)
                } else {
                    u32::from_le_bytes(a)
                }
            };
            let known = |t: u32| matches!(t, 2..=10) || t == 0x0A0D_0D0A;
            let block = |o: usize| -> Option<usize> {
                if o + 12 > bytes.len() {
                    return None;
                }
                let (t, len) = (rd(o), rd(o + 4) as usize);
                if !known(t) || len < 12 || len % 4 != 0 || o + len > bytes.len() {
                    return None;
                }
                (rd(o + len - 4) as usize == len).then_some(o + len)
            };
            let first = from.next_multiple_of(4);
            (first..stop).step_by(4).find(|&start| {
                let mut o = start;
                for _ in 0..CHAIN {
                    if o == bytes.len() {
                        return true;
                    }
                    match block(o) {
                        Some(n) => o = n,
                        None => return false,
                    }
                }
                true
            })
        }
    }
}
