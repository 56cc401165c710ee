//! One pass per response over thousands of signatures.
//!
//! Every literal (a `contains`, `prefix` or `full` text, and the required
//! literals of each regex, found with regex-syntax's literal extractor) goes into
//! one index per search space (a sampled gram index for long literals, an
//! Aho-Corasick automaton for short ones): the server stream (head and
//! body), and each header name that has signatures. A response is scanned once
//! per space; a literal hit either is the match (contains), is checked for its
//! position (prefix, full), or makes its regex a candidate that is then run
//! alone. Only regexes without any usable literal run on every response, and
//! the published sets have few. So the cost per response grows with the
//! response, not with the number of signatures.

use std::collections::HashMap;
use std::net::IpAddr;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::bytes::{Regex, RegexBuilder};
use regex_syntax::hir::literal::{ExtractKind, Extractor};

use super::model::{Location, Pattern, Signature, in_network};

/// Compiles a signature regex the way Censored Planet does (dot matches newline).
pub(crate) fn compile_regex(p: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(p)
        .dot_matches_new_line(true)
        .size_limit(4 << 20)
        .build()
}

/// Literals of which every match of `p` contains at least one, if there is a
/// short, selective set of them; `true` when they are exactly the strings the
/// regex matches (most published patterns are escaped literals), so that a
/// literal hit is the match and the regex need not run.
fn required_literals(p: &str) -> Option<(Vec<Vec<u8>>, bool)> {
    let hir = regex_syntax::ParserBuilder::new()
        .dot_matches_new_line(true)
        .utf8(false)
        .build()
        .parse(p)
        .ok()?;
    for kind in [ExtractKind::Prefix, ExtractKind::Suffix] {
        let mut ex = Extractor::new();
        ex.kind(kind);
        let seq = ex.extract(&hir);
        if let Some(lits) = seq.literals() {
            if !lits.is_empty() && lits.len() <= 64 && lits.iter().all(|l| l.as_bytes().len() >= 3)
            {
                let exact = seq.is_exact();
                return Some((lits.iter().map(|l| l.as_bytes().to_vec()).collect(), exact));
            }
        }
    }
    None
}

#[derive(Clone, Copy, Debug)]
enum Check {
    Contains,
    Prefix,
    Full,
    /// Index into [`HttpMatcher::regexes`].
    Regex(usize),
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    sig: usize,
    check: Check,
    /// Looks at the body only (else the whole space).
    body_only: bool,
}

/// Literals at least this long are found through the sampled gram index
/// ([`Sampled`]); shorter ones through an Aho-Corasick automaton, which with a
/// few dozen patterns runs on a SIMD prefilter.
const LONG: usize = 10;
/// Gram length of the sampled index.
const GRAM: usize = 4;
/// Every `STRIDE`-th text position is probed: an occurrence of a long literal
/// covers `LONG` bytes, so exactly one probe falls on one of its first
/// `STRIDE` grams.
const STRIDE: usize = LONG - GRAM + 1;
/// Hash bits of the sampled index.
const BITS: u32 = 18;

/// A Wu-Manber-style sampled index of the long literals: each literal's first
/// `STRIDE` grams, hashed. Scanning probes one gram every `STRIDE` bytes and
/// compares candidate literals whole, so the cost per byte stays a fraction of
/// an automaton's and hardly grows with the number of literals.
struct Sampled {
    /// One bit per hash: whether any gram has it (32 KiB, stays in L1/L2 cache;
    /// most probes end here).
    present: Vec<u64>,
    /// `offsets[h]..offsets[h + 1]` indexes `entries` for hash `h`.
    offsets: Vec<u32>,
    /// (literal index, offset of the gram in the literal).
    entries: Vec<(u32, u8)>,
}

fn gram_hash(g: &[u8]) -> usize {
    let v = u32::from_le_bytes([g[0], g[1], g[2], g[3]]);
    (v.wrapping_mul(0x9e37_79b1) >> (32 - BITS)) as usize
}

impl Sampled {
    fn new(literals: &[Vec<u8>], long: &[usize]) -> Sampled {
        let mut buckets: Vec<Vec<(u32, u8)>> = vec![Vec::new(); 1 << BITS];
        for &li in long {
            let lit = &literals[li];
            for k in 0..STRIDE {
                buckets[gram_hash(&lit[k..k + GRAM])].push((li as u32, k as u8));
            }
        }
        let mut offsets = Vec::with_capacity(buckets.len() + 1);
        let mut entries = Vec::new();
        for b in &buckets {
            offsets.push(entries.len() as u32);
            entries.extend_from_slice(b);
        }
        offsets.push(entries.len() as u32);
        let mut present = vec![0u64; (1 << BITS) / 64];
        for (h, b) in buckets.iter().enumerate() {
            if !b.is_empty() {
                present[h / 64] |= 1 << (h % 64);
            }
        }
        Sampled {
            present,
            offsets,
            entries,
        }
    }

    /// Calls `f(start, literal)` for every occurrence of a long literal.
    fn scan(&self, literals: &[Vec<u8>], text: &[u8], mut f: impl FnMut(usize, usize)) {
        let mut p = 0;
        while p + GRAM <= text.len() {
            let h = gram_hash(&text[p..p + GRAM]);
            if self.present[h / 64] & (1 << (h % 64)) == 0 {
                p += STRIDE;
                continue;
            }
            let (a, b) = (self.offsets[h] as usize, self.offsets[h + 1] as usize);
            for &(li, k) in &self.entries[a..b] {
                let Some(start) = p.checked_sub(usize::from(k)) else {
                    continue;
                };
                if text[start..].starts_with(&literals[li as usize]) {
                    f(start, li as usize);
                }
            }
            p += STRIDE;
        }
    }
}

/// The literals of one search space and what each one stands for.
#[derive(Default)]
struct Space {
    literals: Vec<Vec<u8>>,
    entries: Vec<Vec<Entry>>,
    index: HashMap<Vec<u8>, usize>,
    /// SIMD (Teddy) searcher over the short literals, when the CPU and their
    /// number allow; its pattern ids index `short`.
    packed: Option<aho_corasick::packed::Searcher>,
    /// Automaton over the short literals otherwise.
    ac: Option<AhoCorasick>,
    short: Vec<usize>,
    long: Option<Sampled>,
    /// Regex entries without a usable literal: run on every text.
    always: Vec<Entry>,
}

impl Space {
    fn add_literal(&mut self, lit: &[u8], e: Entry) {
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

    fn build(&mut self) -> Result<(), aho_corasick::BuildError> {
        let (long, short): (Vec<usize>, Vec<usize>) =
            (0..self.literals.len()).partition(|&i| self.literals[i].len() >= LONG);
        if !short.is_empty() {
            let pats: Vec<&[u8]> = short.iter().map(|&i| self.literals[i].as_slice()).collect();
            self.packed = aho_corasick::packed::Config::new()
                .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
                .builder()
                .extend(&pats)
                .build();
            if self.packed.is_none() {
                self.ac = Some(
                    AhoCorasick::builder()
                        .match_kind(MatchKind::Standard)
                        .build(&pats)?,
                );
            }
        }
        if !long.is_empty() {
            self.long = Some(Sampled::new(&self.literals, &long));
        }
        self.short = short;
        self.index = HashMap::new();
        Ok(())
    }
}

/// Where a signature matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Index of the signature in [`super::SignatureDb::signatures`].
    pub sig: usize,
    /// `response`, `body` or `header.<name>`.
    pub location: String,
    /// Byte offset of the match in that location.
    pub offset: usize,
}

/// The compiled HTTP signatures.
#[derive(Default)]
pub(crate) struct HttpMatcher {
    stream: Space,
    headers: HashMap<String, Space>,
    regexes: Vec<Regex>,
}

/// The compiled DNS-answer signatures.
#[derive(Default)]
pub(crate) struct DnsMatcher {
    exact: HashMap<IpAddr, Vec<usize>>,
    networks: Vec<(IpAddr, u8, usize)>,
    names: HashMap<String, Vec<usize>>,
}

fn entry_for(
    space: &mut Space,
    regexes: &mut Vec<Regex>,
    sig: usize,
    pattern: &Pattern,
    body_only: bool,
) -> Result<(), String> {
    let (lit, check) = match pattern {
        Pattern::Contains(t) => (t.as_bytes(), Check::Contains),
        Pattern::Prefix(t) => (t.as_bytes(), Check::Prefix),
        Pattern::Full(t) => (t.as_bytes(), Check::Full),
        Pattern::Regex(r) => {
            let re = compile_regex(r).map_err(|e| e.to_string())?;
            let lits = required_literals(r);
            if let Some((lits, true)) = &lits {
                let e = Entry {
                    sig,
                    check: Check::Contains,
                    body_only,
                };
                lits.iter().for_each(|l| space.add_literal(l, e));
                return Ok(());
            }
            regexes.push(re);
            let e = Entry {
                sig,
                check: Check::Regex(regexes.len() - 1),
                body_only,
            };
            match lits {
                Some((lits, _)) => lits.iter().for_each(|l| space.add_literal(l, e)),
                None => space.always.push(e),
            }
            return Ok(());
        }
        Pattern::Network(..) | Pattern::Name(_) => {
            return Err("a DNS answer pattern outside DNS".into());
        }
    };
    space.add_literal(
        lit,
        Entry {
            sig,
            check,
            body_only,
        },
    );
    Ok(())
}

impl HttpMatcher {
    /// Compiles the HTTP signatures of `sigs` (the others are skipped).
    pub fn new(sigs: &[Signature]) -> Result<HttpMatcher, String> {
        let mut m = HttpMatcher::default();
        for (i, s) in sigs.iter().enumerate() {
            match &s.location {
                Location::Response => {
                    entry_for(&mut m.stream, &mut m.regexes, i, &s.pattern, false)?
                }
                Location::Body => entry_for(&mut m.stream, &mut m.regexes, i, &s.pattern, true)?,
                Location::Header(h) => {
                    let sp = m.headers.entry(h.clone()).or_default();
                    entry_for(sp, &mut m.regexes, i, &s.pattern, false)?
                }
                _ => {}
            }
        }
        m.stream.build().map_err(|e| e.to_string())?;
        for sp in m.headers.values_mut() {
            sp.build().map_err(|e| e.to_string())?;
        }
        Ok(m)
    }

    /// Regexes that run on every response (no literal to look for first).
    pub fn unfiltered_regexes(&self) -> usize {
        self.stream.always.len() + self.headers.values().map(|s| s.always.len()).sum::<usize>()
    }

    /// Every signature that matches a server stream whose body starts at
    /// `body_start` (`None`: the stream is not HTTP, only `full` body signatures
    /// apply, to the whole stream), with `headers` from its head.
    pub fn matches(
        &self,
        stream: &[u8],
        body_start: Option<usize>,
        headers: &[(&[u8], &[u8])],
        out: &mut Vec<Hit>,
    ) {
        let raw = body_start.is_none();
        let body_start = body_start.unwrap_or(0).min(stream.len());
        self.scan(&self.stream, stream, body_start, raw, "", out);
        if raw {
            return;
        }
        for (name, value) in headers {
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            let lower = name.to_ascii_lowercase();
            if let Some(sp) = self.headers.get(&lower) {
                self.scan(sp, value, 0, false, &lower, out);
            }
        }
    }

    /// Scans one text. `header` is empty for the stream space.
    fn scan(
        &self,
        sp: &Space,
        text: &[u8],
        body_start: usize,
        raw: bool,
        header: &str,
        out: &mut Vec<Hit>,
    ) {
        let body = &text[body_start..];
        let body_trim = trim_range(body);
        let mut candidates: Vec<Entry> = Vec::new();
        let loc = |body_only: bool| -> String {
            if !header.is_empty() {
                format!("header.{header}")
            } else if body_only {
                "body".into()
            } else {
                "response".into()
            }
        };
        let mut on_literal = |start: usize, li: usize| {
            let end = start + sp.literals[li].len();
            for e in &sp.entries[li] {
                if raw && !matches!(e.check, Check::Full) {
                    continue;
                }
                if e.body_only && start < body_start {
                    continue;
                }
                let base = if e.body_only { body_start } else { 0 };
                let ok = match e.check {
                    Check::Contains => true,
                    Check::Prefix => start == base,
                    Check::Full => {
                        let (a, b) = if e.body_only {
                            (body_start + body_trim.0, body_start + body_trim.1)
                        } else {
                            trim_range(text)
                        };
                        start == a && end == b
                    }
                    Check::Regex(_) => {
                        candidates.push(*e);
                        false
                    }
                };
                if ok && !out.iter().any(|h| h.sig == e.sig) {
                    out.push(Hit {
                        sig: e.sig,
                        location: loc(e.body_only),
                        offset: start - base,
                    });
                }
            }
        };
        if let Some(pk) = &sp.packed {
            // Leftmost-first finds one literal per start: resume one byte later,
            // and compare the other short literals at each start found, so that
            // overlapping and same-start occurrences are all seen.
            let mut at = 0;
            while let Some(m) = pk.find_in(text, aho_corasick::Span::from(at..text.len())) {
                let st = m.start();
                for &li in &sp.short {
                    if text[st..].starts_with(&sp.literals[li]) {
                        on_literal(st, li);
                    }
                }
                at = st + 1;
            }
        } else if let Some(ac) = &sp.ac {
            for m in ac.find_overlapping_iter(text) {
                on_literal(m.start(), sp.short[m.pattern().as_usize()]);
            }
        }
        if let Some(long) = &sp.long {
            long.scan(&sp.literals, text, &mut on_literal);
        }
        if raw {
            return;
        }
        candidates.extend(sp.always.iter().copied());
        candidates.sort_unstable_by_key(|e| e.sig);
        candidates.dedup_by_key(|e| e.sig);
        for e in candidates {
            if out.iter().any(|h| h.sig == e.sig) {
                continue;
            }
            let Check::Regex(ri) = e.check else { continue };
            let hay = if e.body_only { body } else { text };
            if let Some(m) = self.regexes[ri].find(hay) {
                out.push(Hit {
                    sig: e.sig,
                    location: loc(e.body_only),
                    offset: m.start(),
                });
            }
        }
    }
}

/// The range of `b` without leading and trailing ASCII whitespace.
fn trim_range(b: &[u8]) -> (usize, usize) {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    (start, end)
}

impl DnsMatcher {
    /// Compiles the DNS-answer signatures of `sigs`.
    pub fn new(sigs: &[Signature]) -> DnsMatcher {
        let mut m = DnsMatcher::default();
        for (i, s) in sigs.iter().enumerate() {
            if let (Location::DnsAnswer, Pattern::Name(n)) = (&s.location, &s.pattern) {
                m.names.entry(n.clone()).or_default().push(i);
            }
            if let (Location::DnsAnswer, Pattern::Network(a, l)) = (&s.location, &s.pattern) {
                let full = if a.is_ipv4() { 32 } else { 128 };
                if *l == full {
                    m.exact.entry(*a).or_default().push(i);
                } else {
                    m.networks.push((*a, *l, i));
                }
            }
        }
        m
    }

    /// The signatures a CNAME target matches.
    pub fn matches_name(&self, name: &str) -> Vec<usize> {
        self.names.get(name).cloned().unwrap_or_default()
    }

    /// The signatures an answer address matches.
    pub fn matches(&self, ip: IpAddr) -> Vec<usize> {
        let mut v: Vec<usize> = self.exact.get(&ip).cloned().unwrap_or_default();
        v.extend(
            self.networks
                .iter()
                .filter(|(n, l, _)| in_network(ip, *n, *l))
                .map(|(_, _, i)| *i),
        );
        v.sort_unstable();
        v
    }
}
