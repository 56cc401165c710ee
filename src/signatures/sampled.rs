//! A Wu-Manber-style sampled index of long literals: the scan probes one 4-byte
//! gram every `STRIDE` bytes, so its cost per byte is a fraction of an
//! automaton's and hardly grows with the number of literals.
//!
//! An occurrence of a literal of at least [`LONG`] bytes covers `STRIDE`
//! consecutive gram positions of any `LONG`-byte window of it, so exactly one
//! probe falls on one of the window's grams. Each literal is indexed by the
//! window whose grams are least shared with other literals and least made of
//! bytes that fill ordinary pages: otherwise the hundreds of published
//! patterns that start with `<title>` or `http://` would all be compared at
//! every `<title>` of every page.

use std::collections::HashMap;

/// Literals at least this long are indexed here; shorter ones go to an
/// automaton.
pub(crate) const LONG: usize = 10;
/// Gram length.
const GRAM: usize = 4;
/// Distance between probes: the number of grams in a `LONG`-byte window.
const STRIDE: usize = LONG - GRAM + 1;
/// Hash bits of the buckets.
const BITS: u32 = 16;
/// Hash bits of the presence filter: more than the buckets', so that most
/// probes of ordinary text end in its 32 KiB (cache-resident) instead of
/// loading a bucket.
const FILTER_BITS: u32 = 18;

fn gram_at(b: &[u8], at: usize) -> Option<u32> {
    let g = b.get(at..at + GRAM)?;
    Some(u32::from_le_bytes([g[0], g[1], g[2], g[3]]))
}

/// The filter hash; its top `BITS` bits are the bucket.
fn hash(g: u32) -> usize {
    (g.wrapping_mul(0x9e37_79b1) >> (32 - FILTER_BITS)) as usize
}

fn bucket(h: usize) -> usize {
    h >> (FILTER_BITS - BITS)
}

/// How often a byte is expected in an HTTP response, roughly: markup,
/// lower-case letters, spaces and digits fill pages; other bytes are rarer.
fn commonness(b: u8) -> u32 {
    match b {
        b' ' | b'<' | b'>' | b'/' | b'"' | b'=' | b'e' | b't' | b'a' | b'o' | b'i' | b'n' => 4,
        b'a'..=b'z' | b'.' | b':' | b'-' | b'\r' | b'\n' | b'\t' => 3,
        b'0'..=b'9' | b'_' | b'\'' | b';' | b',' | b'&' | b'#' => 2,
        _ => 1,
    }
}

/// One indexed gram of one literal.
#[derive(Clone, Copy)]
struct Probe {
    gram: u32,
    literal: u32,
    /// Offset of the gram in the literal.
    at: u32,
    /// The literal's first 8 bytes: compared before the whole literal, so
    /// that a gram shared with ordinary text rarely costs a `memcmp`.
    head: u64,
}

fn head_at(b: &[u8], at: usize) -> Option<u64> {
    let h = b.get(at..at + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(h);
    Some(u64::from_le_bytes(a))
}

/// The index.
pub(crate) struct Sampled {
    /// One bit per filter hash: whether any gram has it (most probes end here).
    present: Vec<u64>,
    /// `offsets[h]..offsets[h + 1]` indexes `probes` for hash `h`.
    offsets: Vec<u32>,
    probes: Vec<Probe>,
}

impl Sampled {
    /// Indexes `literals[i]` for each `i` of `long` (each at least [`LONG`] bytes).
    pub fn new(literals: &[Vec<u8>], long: &[usize]) -> Sampled {
        let mut shared: HashMap<u32, u32> = HashMap::new();
        let mut present = vec![0u64; (1 << FILTER_BITS) / 64];
        let mut buckets: Vec<Vec<Probe>> = vec![Vec::new(); 1 << BITS];
        // Literals with few windows choose first, so longer ones steer clear.
        let mut order: Vec<usize> = long.to_vec();
        order.sort_by_key(|&i| literals[i].len());
        for li in order {
            let lit = &literals[li];
            let cost = |w: usize| -> u64 {
                (w..w + STRIDE)
                    .filter_map(|k| gram_at(lit, k))
                    .map(|g| {
                        let bytes: u32 = g.to_le_bytes().iter().map(|&b| commonness(b)).sum();
                        u64::from(shared.get(&g).copied().unwrap_or(0)) * 64 + u64::from(bytes)
                    })
                    .sum()
            };
            let Some(best) = (0..=lit.len().saturating_sub(LONG)).min_by_key(|&w| cost(w)) else {
                continue;
            };
            let Some(head) = head_at(lit, 0) else {
                continue;
            };
            for at in best..best + STRIDE {
                let Some(gram) = gram_at(lit, at) else {
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
                present[h / 64] |= 1 << (h % 64);
                buckets[bucket(h)].push(p);
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
            offsets,
            probes,
        }
    }

    /// Calls `f(start, literal)` for every occurrence of an indexed literal,
    /// once each, roughly in text order.
    pub fn scan(&self, literals: &[Vec<u8>], text: &[u8], mut f: impl FnMut(usize, usize)) {
        let mut p = 0;
        while let Some(g) = gram_at(text, p) {
            let h = hash(g);
            if self.present[h / 64] & (1 << (h % 64)) != 0 {
                let h = bucket(h);
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
            p += STRIDE;
        }
    }
}
