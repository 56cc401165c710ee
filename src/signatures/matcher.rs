//! One pass per response over thousands of signatures.
//!
//! Every literal (a `contains`, `prefix` or `full` text, and the required
//! literals of each regex, found with regex-syntax's literal extractor) goes into
//! one Aho-Corasick automaton per search space: the server stream (head and
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
/// short, selective set of them.
fn required_literals(p: &str) -> Option<Vec<Vec<u8>>> {
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
                return Some(lits.iter().map(|l| l.as_bytes().to_vec()).collect());
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

/// The literals of one search space and what each one stands for.
#[derive(Default)]
struct Space {
    literals: Vec<Vec<u8>>,
    entries: Vec<Vec<Entry>>,
    index: HashMap<Vec<u8>, usize>,
    ac: Option<AhoCorasick>,
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
        if !self.literals.is_empty() {
            self.ac = Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&self.literals)?,
            );
        }
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
            regexes.push(re);
            let e = Entry {
                sig,
                check: Check::Regex(regexes.len() - 1),
                body_only,
            };
            match required_literals(r) {
                Some(lits) => lits.iter().for_each(|l| space.add_literal(l, e)),
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
        if let Some(ac) = &sp.ac {
            for m in ac.find_overlapping_iter(text) {
                for e in &sp.entries[m.pattern().as_usize()] {
                    let in_body = m.start() >= body_start;
                    if raw && !matches!(e.check, Check::Full) {
                        continue;
                    }
                    if e.body_only && !in_body {
                        continue;
                    }
                    let base = if e.body_only { body_start } else { 0 };
                    let ok = match e.check {
                        Check::Contains => true,
                        Check::Prefix => m.start() == base,
                        Check::Full => {
                            let (a, b) = if e.body_only {
                                (body_start + body_trim.0, body_start + body_trim.1)
                            } else {
                                let t = trim_range(text);
                                (t.0, t.1)
                            };
                            m.start() == a && m.end() == b
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
                            offset: m.start() - base,
                        });
                    }
                }
            }
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
