//! One search space (the server stream, or the value of one header name): every
//! literal any signature of that space looks for, indexed once, so that a text
//! is scanned once however many signatures there are: long literals through a
//! sampled gram index ([`super::sampled`]), short ones through one Aho-Corasick
//! automaton.
//!
//! One automaton over all literals was tried and measured: its DFA for the
//! published sets is tens of MB, and HTML keeps it away from its start state
//! (hundreds of patterns begin with `<title>` or `http://`), so it ran at ~5 ns
//! a byte, slower than the sampled index. The short literals are few, and their
//! automaton small.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};
use memchr::memmem;

use super::background;
use super::sampled::{LONG, Narrow, WIDE, Wide};

/// A `full` text and the entries that want it.
type FullText = (Vec<u8>, Vec<Entry>);

/// Most literals of a tier looked for one by one instead (see [`Space::build`]).
const SEARCHED: usize = 2;

/// Most literals of a space that all go to the SIMD pass, long ones too.
const FEW: usize = 16;

/// What a literal occurrence is checked for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Check {
    /// The occurrence is the match.
    Contains,
    /// The occurrence must start the location.
    Prefix,
    /// The occurrence is of the scanned literal set of the regex at this
    /// index of [`super::matcher::HttpMatcher`]'s regex table.
    Factor {
        /// Index into the regex table.
        regex: u32,
    },
}

/// One signature's interest in a literal.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    /// Index of the signature in the database.
    pub sig: usize,
    /// What an occurrence must satisfy.
    pub check: Check,
    /// Looks at the body only (else the whole space).
    pub body_only: bool,
}

/// A tail of one or more short literals, searched for in their place.
struct Anchor {
    bytes: Vec<u8>,
    /// The literals it is the tail of: (literal index, offset of the tail).
    of: Vec<(usize, usize)>,
}

/// Literals of one space and the entries each stands for.
#[derive(Default)]
pub(crate) struct Space {
    literals: Vec<Vec<u8>>,
    entries: Vec<Vec<Entry>>,
    /// Literal → its index, while building.
    index: HashMap<Vec<u8>, usize>,
    /// SIMD (Teddy) searcher over the anchors of the short non-empty
    /// literals, when the CPU and their number allow (Aho-Corasick's own
    /// automaton uses it as a prefilter only for leftmost semantics, not for
    /// the overlapping search that reporting every occurrence needs). Its
    /// pattern ids index `anchors`.
    packed: Option<aho_corasick::packed::Searcher>,
    /// What the packed searcher looks for: a tail of each short literal that
    /// starts with its least common bytes ([`background::anchor_offset`]).
    anchors: Vec<Anchor>,
    /// For each anchor (by pattern id), the other anchors of which it is a
    /// prefix or that are a prefix of it: the only ones that can occur at the
    /// same start.
    related: Vec<Vec<usize>>,
    /// Automaton over the short literals otherwise; standard semantics with
    /// overlapping iteration reports every occurrence of every literal.
    ac: Option<AhoCorasick>,
    /// Pattern id → literal index.
    pattern_literal: Vec<usize>,
    /// The long literals, by tier.
    narrow: Option<Narrow>,
    wide: Option<Wide>,
    /// Long literals of a tier too small to be worth its index, each looked
    /// for on its own.
    searched: Vec<(memmem::Finder<'static>, usize)>,
    /// The empty literal (a `full` pattern that was only whitespace, say): it
    /// occurs everywhere, so it is checked apart instead of in the automaton.
    empty: Option<usize>,
    /// Regexes without a usable literal, run on every text: indexes into the
    /// regex table.
    pub always: Vec<u32>,
    /// `full` patterns by length: a location matches one when, surrounding
    /// whitespace aside, it is that text. That is a comparison, not a search:
    /// these literals are not in the scan.
    full: HashMap<usize, Vec<FullText>>,
}

impl Space {
    /// Records that `e` matches a location that is `lit`, surrounding
    /// whitespace aside.
    pub fn add_full(&mut self, lit: &[u8], e: Entry) {
        let same = self.full.entry(lit.len()).or_default();
        match same.iter_mut().find(|(l, _)| l == lit) {
            Some((_, entries)) => entries.push(e),
            None => same.push((lit.to_vec(), vec![e])),
        }
    }

    /// The `full` entries whose text is `trimmed` (a location without its
    /// surrounding whitespace).
    pub fn full_entries(&self, trimmed: &[u8]) -> &[Entry] {
        self.full
            .get(&trimmed.len())
            .and_then(|same| same.iter().find(|(l, _)| l == trimmed))
            .map_or(&[], |(_, e)| e)
    }

    /// Records that `e` looks for `lit`.
    pub fn add_literal(&mut self, lit: &[u8], e: Entry) {
        let i = match self.index.get(lit) {
            Some(&i) => i,
            None => {
                self.literals.push(lit.to_vec());
                self.entries.push(Vec::new());
                self.index.insert(lit.to_vec(), self.literals.len() - 1);
                self.literals.len() - 1
            }
        };
        self.entries[i].push(e);
    }

    /// Builds the automaton once every literal is in.
    pub fn build(&mut self) -> Result<(), aho_corasick::BuildError> {
        self.index = HashMap::new();
        self.empty = self.literals.iter().position(Vec::is_empty);
        let (long, short): (Vec<usize>, Vec<usize>) = (0..self.literals.len())
            .filter(|&i| !self.literals[i].is_empty())
            .partition(|&i| self.literals[i].len() >= LONG);
        let (wide, narrow): (Vec<usize>, Vec<usize>) =
            long.iter().partition(|&&i| self.literals[i].len() >= WIDE);
        // A tier of one or two literals is slower than looking for each with
        // `memmem` (SIMD, on the literal's rarest bytes): the built-in sets,
        // and a user's handful of patterns, take that path.
        let mut searched = |tier: Vec<usize>| -> Vec<usize> {
            if tier.len() <= SEARCHED {
                self.searched.extend(
                    tier.iter()
                        .map(|&i| (memmem::Finder::new(&self.literals[i]).into_owned(), i)),
                );
                Vec::new()
            } else {
                tier
            }
        };
        // A handful of literals in all (the built-in sets, a user's own few):
        // one SIMD pass finds them all, each by its least common bytes, at a
        // fraction of the cost of a sampled index's probe every 17th byte.
        let (narrow, wide, short) = if narrow.len() + wide.len() > SEARCHED
            && narrow.len() + wide.len() + short.len() <= FEW
        {
            (Vec::new(), Vec::new(), [short, narrow, wide].concat())
        } else {
            (searched(narrow), searched(wide), short)
        };
        // One literal shorter than an anchor would shorten every pattern's
        // SIMD fingerprint (see `background::ANCHOR`): a few are looked for
        // with `memmem` instead; more stay in the SIMD pass.
        let (tiny, short): (Vec<usize>, Vec<usize>) = short
            .iter()
            .partition(|&&i| self.literals[i].len() < background::ANCHOR);
        let tiny = searched(tiny);
        let short = if tiny.is_empty() {
            short
        } else {
            [short, tiny].concat()
        };
        if !narrow.is_empty() {
            self.narrow = Some(Narrow::new(&self.literals, &narrow));
        }
        if !wide.is_empty() {
            self.wide = Some(Wide::new(&self.literals, &wide));
        }
        if !short.is_empty() {
            for &li in &short {
                let k = background::anchor_offset(&self.literals[li]);
                let tail = &self.literals[li][k..];
                match self.anchors.iter_mut().find(|a| a.bytes == tail) {
                    Some(a) => a.of.push((li, k)),
                    None => self.anchors.push(Anchor {
                        bytes: tail.to_vec(),
                        of: vec![(li, k)],
                    }),
                }
            }
            let pats: Vec<&[u8]> = self.anchors.iter().map(|a| a.bytes.as_slice()).collect();
            self.packed = aho_corasick::packed::Config::new()
                .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
                .builder()
                .extend(&pats)
                .build();
            if self.packed.is_some() {
                self.related = pats
                    .iter()
                    .enumerate()
                    .map(|(a, pa)| {
                        (0..pats.len())
                            .filter(|&b| {
                                b != a && (pa.starts_with(pats[b]) || pats[b].starts_with(pa))
                            })
                            .collect()
                    })
                    .collect();
            } else {
                self.anchors = Vec::new();
                let pats: Vec<&[u8]> = short.iter().map(|&i| self.literals[i].as_slice()).collect();
                self.ac = Some(
                    AhoCorasick::builder()
                        .match_kind(MatchKind::Standard)
                        .build(&pats)?,
                );
            }
        }
        self.pattern_literal = short;
        Ok(())
    }

    /// The entries of the empty literal (it occurs everywhere; where it counts
    /// depends on each entry's check, so the caller places it).
    pub fn empty_entries(&self) -> &[Entry] {
        self.empty.map_or(&[], |i| &self.entries[i])
    }

    /// Calls `f(start, end, entries)` for every occurrence of every non-empty
    /// literal of the space in `text` (short literals first).
    pub fn scan(&self, text: &[u8], mut f: impl FnMut(usize, usize, &[Entry])) {
        if let Some(pk) = &self.packed {
            // Leftmost-first finds one anchor per start: resume one byte
            // later, and try the anchors related to the one found, so that
            // overlapping and same-start occurrences are all seen; then each
            // literal of a found anchor is compared where it would start.
            let mut at = 0;
            while let Some(m) = pk.find_in(text, aho_corasick::Span::from(at..text.len())) {
                let st = m.start();
                let pid = m.pattern().as_usize();
                for &p in std::iter::once(&pid).chain(&self.related[pid]) {
                    let a = &self.anchors[p];
                    if !text[st..].starts_with(&a.bytes) {
                        continue;
                    }
                    for &(li, k) in &a.of {
                        let lit = &self.literals[li];
                        if let Some(start) = st.checked_sub(k) {
                            if text[start..].starts_with(lit) {
                                f(start, start + lit.len(), &self.entries[li]);
                            }
                        }
                    }
                }
                at = st + 1;
            }
        } else if let Some(ac) = &self.ac {
            for m in ac.find_overlapping_iter(text) {
                let li = self.pattern_literal[m.pattern().as_usize()];
                f(m.start(), m.end(), &self.entries[li]);
            }
        }
        for (finder, li) in &self.searched {
            // Every occurrence, overlapping ones too (a `prefix` needs the one
            // at the start of its location).
            let mut at = 0;
            while let Some(i) = text.get(at..).and_then(|t| finder.find(t)) {
                let start = at + i;
                f(start, start + self.literals[*li].len(), &self.entries[*li]);
                at = start + 1;
            }
        }
        if let Some(narrow) = &self.narrow {
            narrow.scan(&self.literals, text, |start, li| {
                f(start, start + self.literals[li].len(), &self.entries[li])
            });
        }
        if let Some(wide) = &self.wide {
            wide.scan(&self.literals, text, |start, li| {
                f(start, start + self.literals[li].len(), &self.entries[li])
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(sp: &Space, text: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        sp.scan(text, |start, _end, entries| {
            out.extend(entries.iter().map(|e| (start, e.sig)))
        });
        out.sort();
        out
    }

    /// A space in which signature `i` contains `lits[i]`, built.
    fn contains_space(lits: &[&[u8]]) -> Space {
        let mut sp = Space::default();
        for (sig, l) in lits.iter().enumerate() {
            let e = Entry {
                sig,
                check: Check::Contains,
                body_only: false,
            };
            sp.add_literal(l, e);
        }
        sp.build().unwrap();
        sp
    }

    /// `lit` placed at each offset from 0 to 19 of a text is found there, as
    /// signature `sig` only.
    fn found_at_every_offset(sp: &Space, lit: &[u8], sig: usize) {
        for off in 0..20 {
            let mut text = vec![b'.'; off];
            text.extend_from_slice(lit);
            text.extend_from_slice(b" tail");
            assert_eq!(found(sp, &text), vec![(off, sig)], "{lit:?} at {off}");
        }
    }

    /// Short literals searched by an anchor inside them (not their first
    /// bytes) are found at every offset, at the very start of the text too,
    /// each once, including two literals that share their anchor and one
    /// whose occurrences overlap.
    #[test]
    fn anchored_short_literals_at_every_offset() {
        let lits: [&[u8]; 6] = [
            b"<br>Qz#",
            b"er Gate",
            b"xx_Qz#",
            b"yy_Qz#",
            b"abab",
            b"aaaaaa#Qz",
        ];
        let sp = contains_space(&lits);
        assert!(
            lits.iter().any(|l| background::anchor_offset(l) > 3),
            "some literal is anchored well past its start"
        );
        for (sig, l) in lits.iter().enumerate() {
            found_at_every_offset(&sp, l, sig);
        }
        assert_eq!(found(&sp, b"ababab"), vec![(0, 4), (2, 4)]);
        assert_eq!(found(&sp, b"xx_Qz#yy_Qz#"), vec![(0, 2), (6, 3)]);
    }

    /// A handful of long literals (the built-in sets' shape) go to the SIMD
    /// pass with the short ones, not to a sampled index: each is found at
    /// every offset, once, and a long literal that holds a short one is found
    /// beside it.
    #[test]
    fn few_long_literals_join_the_simd_pass() {
        let lits: [&[u8]; 5] = [
            "Страница заблокирована".as_bytes(),
            b"http://www.example.in/dot/",
            b"http://10.10.34.34",
            b"<title>Attention Required! | Cloudflare</title>",
            b"Required!",
        ];
        let sp = contains_space(&lits);
        if sp.packed.is_none() {
            eprintln!("no SIMD searcher on this CPU: the automaton takes them");
        }
        assert!(sp.narrow.is_none() && sp.wide.is_none() && sp.searched.is_empty());
        for (sig, l) in lits.iter().enumerate().take(3) {
            found_at_every_offset(&sp, l, sig);
        }
        let both = found(&sp, lits[3]);
        assert_eq!(both, vec![(0, 3), (17, 4)]);
    }

    /// Literals shorter than an anchor, two of them (looked for apart) and
    /// three (kept in the SIMD pass), beside anchored ones: each is found at
    /// every offset, overlapping occurrences too.
    #[test]
    fn literals_shorter_than_an_anchor() {
        for tiny in [
            &[&b"\xef\xbf\xbd"[..], b"Qz"][..],
            &[b"\xef\xbf\xbd", b"Qz", b"#!&"],
        ] {
            let mut lits: Vec<&[u8]> = vec![b"<br>Qz#x", b"er Gate"];
            lits.extend_from_slice(tiny);
            let sp = contains_space(&lits);
            assert_eq!(
                sp.searched.len() == 2,
                tiny.len() == 2,
                "{} tiny",
                tiny.len()
            );
            for (sig, l) in lits.iter().enumerate().skip(2) {
                found_at_every_offset(&sp, l, sig);
            }
            assert_eq!(found(&sp, b"QzQz"), vec![(0, 3), (2, 3)]);
            let both = found(&sp, b"<br>Qz#x");
            assert_eq!(both, vec![(0, 0), (4, 3)]);
        }
    }
}
