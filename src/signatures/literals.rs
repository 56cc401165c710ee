//! What a signature regex needs to find before it is worth running: literal
//! sets found with regex-syntax's extractor, so that one automaton pass over a
//! response decides which few regexes run at all.

use regex::bytes::{Regex, RegexBuilder};
use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};
use regex_syntax::hir::{Hir, HirKind};

/// Compiles a signature regex the way Censored Planet does (dot matches newline).
pub(crate) fn compile_regex(p: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(p)
        .dot_matches_new_line(true)
        .size_limit(4 << 20)
        .build()
}

/// Literals shorter than this are not used to select regexes: they occur too
/// often in ordinary pages to select anything, and would only add work to the
/// automaton pass.
const MIN_LITERAL: usize = 3;
/// More alternatives than this in one set make it a poor selector.
const MAX_ALTERNATIVES: usize = 64;
/// At most this many sets are collected per regex.
const MAX_FACTORS: usize = 16;
/// The most selective this many sets are kept: the first is scanned for, the
/// others are looked for only once it has occurred.
const SELECTING: usize = 2;

/// What the literals of a regex say about its matches.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Needs {
    /// The regex matches exactly these strings (most published patterns are
    /// escaped literals): a literal occurrence is the match, the regex never runs.
    Exact(Vec<Vec<u8>>),
    /// Every match contains a string of each set (a conjunction of
    /// alternatives): the regex runs only on a text in which every set occurs.
    Factors(Vec<Vec<Vec<u8>>>),
    /// No usable literal: the regex runs on every text.
    Nothing,
}

/// The literal sets of `seq` when they select: finite, few and long enough.
fn usable(seq: &Seq) -> Option<Vec<Vec<u8>>> {
    let lits = seq.literals()?;
    let ok = !lits.is_empty()
        && lits.len() <= MAX_ALTERNATIVES
        && lits.iter().all(|l| l.as_bytes().len() >= MIN_LITERAL);
    ok.then(|| lits.iter().map(|l| l.as_bytes().to_vec()).collect())
}

fn extract(kind: ExtractKind, hir: &Hir) -> Seq {
    let mut ex = Extractor::new();
    ex.kind(kind);
    ex.extract(hir)
}

/// Parses `p` as [`compile_regex`] does and says which literals it needs.
///
/// The sets are: every match starts with a literal of the prefix set, ends with
/// one of the suffix set, and, when the regex is a concatenation, contains a
/// prefix of each part. Requiring all of them (not just the first usable one)
/// keeps patterns like `<meta name=.*twitter:card` from running on every HTML
/// page that has a `<meta name=`.
pub(crate) fn needs(p: &str) -> Needs {
    let Ok(hir) = regex_syntax::ParserBuilder::new()
        .dot_matches_new_line(true)
        .utf8(false)
        .build()
        .parse(p)
    else {
        return Needs::Nothing;
    };
    let prefix = extract(ExtractKind::Prefix, &hir);
    if prefix.is_exact() {
        if let Some(lits) = usable(&prefix) {
            return Needs::Exact(lits);
        }
    }
    let mut sets: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut add = |s: Option<Vec<Vec<u8>>>| {
        if let Some(mut s) = s {
            s.sort();
            s.dedup();
            if !sets.contains(&s) && sets.len() < MAX_FACTORS {
                sets.push(s);
            }
        }
    };
    add(usable(&prefix));
    add(usable(&extract(ExtractKind::Suffix, &hir)));
    let mut top = &hir;
    while let HirKind::Capture(c) = top.kind() {
        top = &c.sub;
    }
    if let HirKind::Concat(parts) = top.kind() {
        for part in parts {
            add(usable(&extract(ExtractKind::Prefix, part)));
        }
    }
    if sets.is_empty() {
        return Needs::Nothing;
    }
    // Every set is necessary, so any of them selects soundly; the few most
    // selective (longest shortest literal) do nearly all the selecting, and the
    // others would only add checks for common strings (`</p>`, `URL `).
    sets.sort_by_key(|s| std::cmp::Reverse(s.iter().map(Vec::len).min().unwrap_or(0)));
    sets.truncate(SELECTING);
    Needs::Factors(sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    #[test]
    fn escaped_literal_is_exact() {
        assert_eq!(
            needs(r"fortinet\.net"),
            Needs::Exact(vec![b("fortinet.net")])
        );
    }

    #[test]
    fn concatenation_needs_every_part() {
        let Needs::Factors(f) = needs("<meta name=.*twitter:card") else {
            panic!("not factors");
        };
        assert!(f.contains(&vec![b("<meta name=")]));
        assert!(f.contains(&vec![b("twitter:card")]));
        let Needs::Factors(f) = needs("URL .* Sp.*er Gate") else {
            panic!("not factors");
        };
        assert_eq!(f, vec![vec![b("er Gate")], vec![b("URL ")]]);
    }

    #[test]
    fn no_literal_is_nothing() {
        assert_eq!(needs(r"\d+.*x"), Needs::Nothing);
    }
}
