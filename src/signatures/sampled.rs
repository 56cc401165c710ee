//! A Wu-Manber-style sampled index of long literals: the scan probes one gram
//! every `STRIDE` bytes, so its cost per byte is a fraction of an automaton's
//! and hardly grows with the number of literals.
//!
//! An occurrence of a literal of at least `WINDOW` bytes covers `STRIDE`
//! consecutive gram positions of any `WINDOW`-byte window of it (`STRIDE` is
//! `WINDOW - GRAM + 1`), so exactly one probe falls on one of the window's
//! grams. Each literal is indexed by the window whose grams are least shared
//! with other literals and least found in ordinary pages
//! ([`super::background`]): otherwise the hundreds of published patterns that
//! start with `<title>` or `http://` would all be compared at every `<title>`
//! of every page.
//!
//! Two tiers ([`Narrow`], [`Wide`]): most published literals are long, and an
//! 8-byte gram of a long literal is rarely found in a page that does not hold
//! the literal, while a 4-byte one (`olor`, `Erro`) often is; a wide window
//! also lets the probes lie further apart. Literals too short for the wide
//! window go to the narrow one.

use std::collections::HashMap;

use super::background::{self, commonness};

/// Literals at least this long are indexed here; shorter ones go to an
/// automaton.
pub(crate) const LONG: usize = 10;

/// The tier for literals of [`LONG`] bytes or more: 4-byte grams, a probe every
/// 7 bytes.
pub(crate) type Narrow = Sampled<4, LONG>;
/// The tier for literals of [`WIDE`] bytes or more: 8-byte grams, a probe every
/// 17 bytes.
pub(crate) type Wide = Sampled<8, WIDE>;
/// Literals at least this long go to the [`Wide`] tier.
pub(crate) const WIDE: usize = 24;

/// The presence filter is a bitmap indexed by the top bits of a gram's hash,
/// sized for about one bit set in 128 (so a probe of a gram no literal has
/// passes about once in 128), between 4 KiB and 256 KiB. A probe is a shift,
/// a load and a bit test; a two-bit Bloom filter of 32 KiB was measured:
/// twice the instructions per probe, and more false passes at the published
/// sets' ~18,000 wide grams.
const FILTER_BITS: (u32, u32) = (15, 21);
/// Filter bits per gram, as a power of two.
const FILTER_SPARSENESS: u32 = 7;
/// Most bucket bits (fewer for tiers with fewer grams, so that the bucket
/// offsets of a small tier stay in cache).
const MAX_BUCKET_BITS: u32 = 16;

/// The `G` bytes at `at`, little-endian, in a `u64`.
fn gram_at<const G: usize>(b: &[u8], at: usize) -> Option<u64> {
    let g = b.get(at..at + G)?;
    let mut a = [0u8; 8];
    a[..G].copy_from_slice(g);
    Some(u64::from_le_bytes(a))
}

/// The hash of a gram: its top bits pick the filter bit and the bucket.
fn hash(g: u64) -> u64 {
    g.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The cost of each occurrence of a gram in [`background::TEXT`]: such a
/// gram occurs in most pages, so a window with one costs more than any number
/// of literals sharing the others, and one that occurs there more often
/// (`HTTP`) costs more than a rarer one (`Erro`).
const COMMON: u64 = 1 << 16;

/// One indexed gram of one literal.
#[derive(Clone, Copy)]
struct Probe {
    gram: u64,
    literal: u32,
    /// Offset of the gram in the literal.
    at: u32,
    /// The literal's first 8 bytes: compared before the whole literal, so
    /// that a gram shared with ordinary text rarely costs a `memcmp`.
    head: u64,
}

fn head_at(b: &[u8], at: usize) -> Option<u64> {
    gram_at::<8>(b, at)
}

/// The index of one tier: grams of `GRAM` bytes (4 or 8), windows of `WINDOW`
/// bytes.
pub(crate) struct Sampled<const GRAM: usize, const WINDOW: usize> {
    /// One bit per filter hash: whether any gram has it (most probes end here).
    present: Vec<u64>,
    /// 64 minus the filter bits: a hash shifted right by it is its filter bit.
    filter_shift: u32,
    /// 64 minus the bucket bits: a hash shifted right by it is the bucket.
    shift: u32,
    /// `offsets[h]..offsets[h + 1]` indexes `probes` for bucket `h`.
    offsets: Vec<u32>,
    probes: Vec<Probe>,
}

impl<const GRAM: usize, const WINDOW: usize> Sampled<GRAM, WINDOW> {
    /// Distance between probes: the number of grams in a window.
    const STRIDE: usize = WINDOW - GRAM + 1;

    /// Indexes `literals[i]` for each `i` of `long` (each at least `WINDOW`
    /// bytes).
    pub fn new(literals: &[Vec<u8>], long: &[usize]) -> Self {
        let mut background: HashMap<u64, u64> = HashMap::new();
        for k in 0..background::TEXT.len() {
            if let Some(g) = gram_at::<GRAM>(background::TEXT.as_bytes(), k) {
                *background.entry(g).or_default() += 1;
            }
        }
        let grams = long.len() * Self::STRIDE;
        let bits = (usize::BITS - grams.leading_zeros()).clamp(8, MAX_BUCKET_BITS);
        let shift = 64 - bits;
        let mut shared: HashMap<u64, u32> = HashMap::new();
        let filter_bits = (usize::BITS - grams.leading_zeros() + FILTER_SPARSENESS)
            .clamp(FILTER_BITS.0, FILTER_BITS.1);
        let filter_shift = 64 - filter_bits;
        let mut present = vec![0u64; 1 << (filter_bits - 6)];
        let mut buckets: Vec<Vec<Probe>> = vec![Vec::new(); 1 << bits];
        // Literals with few windows choose first, so longer ones steer clear.
        let mut order: Vec<usize> = long.to_vec();
        order.sort_by_key(|&i| literals[i].len());
        for li in order {
            let lit = &literals[li];
            let cost = |w: usize| -> u64 {
                (w..w + Self::STRIDE)
                    .filter_map(|k| gram_at::<GRAM>(lit, k))
                    .map(|g| {
                        let bytes: u32 =
                            g.to_le_bytes()[..GRAM].iter().map(|&b| commonness(b)).sum();
                        let common = background.get(&g).map_or(0, |&n| n * COMMON);
                        common
                            + u64::from(shared.get(&g).copied().unwrap_or(0)) * 64
                            + u64::from(bytes)
                    })
                    .sum()
            };
            let Some(best) = (0..=lit.len().saturating_sub(WINDOW)).min_by_key(|&w| cost(w)) else {
                continue;
            };
            let Some(head) = head_at(lit, 0) else {
                continue;
            };
            for at in best..best + Self::STRIDE {
                let Some(gram) = gram_at::<GRAM>(lit, at) else {
                    continue;
                };
                *shared.entry(gram).or_default() += 1;
                let p = Probe {
                    gram,
                    literal: li as u32,
                    at: at as u32,
                    head,
                };
                let h = hash(gram);
                let f = h >> filter_shift;
                present[(f >> 6) as usize] |= 1 << (f & 63);
                buckets[(h >> shift) as usize].push(p);
            }
        }
        let mut offsets = Vec::with_capacity(buckets.len() + 1);
        let mut probes = Vec::new();
        for b in &buckets {
            offsets.push(probes.len() as u32);
            probes.extend_from_slice(b);
        }
        offsets.push(probes.len() as u32);
        Sampled {
            present,
            filter_shift,
            shift,
            offsets,
            probes,
        }
    }

    /// Calls `f(start, literal)` for every occurrence of an indexed literal,
    /// once each, roughly in text order.
    pub fn scan(&self, literals: &[Vec<u8>], text: &[u8], mut f: impl FnMut(usize, usize)) {
        let mut p = 0;
        while let Some(g) = gram_at::<GRAM>(text, p) {
            let h = hash(g);
            let bit = h >> self.filter_shift;
            if self.present[(bit >> 6) as usize] >> (bit & 63) & 1 != 0 {
                let h = (h >> self.shift) as usize;
                let (a, b) = (self.offsets[h] as usize, self.offsets[h + 1] as usize);
                for q in &self.probes[a..b] {
                    if q.gram != g {
                        continue;
                    }
                    let li = q.literal as usize;
                    let Some(start) = p.checked_sub(q.at as usize) else {
                        continue;
                    };
                    if head_at(text, start) == Some(q.head)
                        && text[start..].starts_with(&literals[li])
                    {
                        f(start, li);
                    }
                }
            }
            p += Self::STRIDE;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every literal of each length from [`LONG`] to beyond [`WIDE`], placed
    /// at every offset of a text (probes fall on all phases), is found exactly
    /// once where it is, by the tier its length picks.
    #[test]
    fn finds_every_literal_at_every_offset() {
        let lit: Vec<u8> = b"Qz#7kW!pX^2mB&9vL@4nR*6tY%8cJ$0hF+"[..].to_vec();
        for len in LONG..lit.len() {
            let literals = vec![lit[..len].to_vec()];
            for off in 0..40 {
                let mut text = vec![b'.'; off];
                text.extend_from_slice(&literals[0]);
                text.extend_from_slice(b" tail");
                let mut found = Vec::new();
                if len >= WIDE {
                    Wide::new(&literals, &[0]).scan(&literals, &text, |s, l| found.push((s, l)));
                } else {
                    Narrow::new(&literals, &[0]).scan(&literals, &text, |s, l| found.push((s, l)));
                }
                assert_eq!(found, vec![(off, 0)], "length {len}, offset {off}");
            }
        }
    }

    /// A literal at the very end of the text, and texts shorter than a gram.
    #[test]
    fn edges() {
        let literals = vec![
            b"blocked-by-the-filter-xyz".to_vec(),
            b"Forbidden!".to_vec(),
        ];
        let wide = Wide::new(&literals, &[0]);
        let narrow = Narrow::new(&literals, &[1]);
        let text = b"HTTP/1.1 403 Forbidden!\r\n\r\nblocked-by-the-filter-xyz";
        let mut found = Vec::new();
        wide.scan(&literals, text, |s, l| found.push((s, l)));
        narrow.scan(&literals, text, |s, l| found.push((s, l)));
        assert_eq!(found, vec![(27, 0), (13, 1)]);
        for short in [&b""[..], b"abc", b"Forbidden"] {
            wide.scan(&literals, short, |_, _| panic!("nothing to find"));
            narrow.scan(&literals, short, |_, _| panic!("nothing to find"));
        }
    }
}
