//! One pass per response over thousands of signatures.
//!
//! Every literal (a `contains`, `prefix` or `full` text, the strings an escaped
//! regex matches, and the literal sets every match of any other regex must
//! contain, see [`super::literals`]) goes into one automaton per search space:
//! the server stream (head and body), and each header name that has
//! signatures. A response's stream and each header value are scanned once; a
//! literal occurrence either is the match (`contains`), is checked for its
//! position (`prefix`), or selects a regex. Only a regex's most selective
//! literal set is in the scan; once one of its literals has occurred, its
//! other sets are looked for with `memmem`, and the regex runs only when all
//! of them occur. (A second set in the scan was measured: the common strings
//! such sets hold, `</title>`, `domain=.`, `URL `, were most of the scan's
//! reports, each a restart of the SIMD search.) A `full` pattern is not
//! searched for at all: the trimmed location is compared with the `full` texts
//! of its length. Regexes without any usable literal run on every response,
//! and the published sets have none. So the cost per response grows with the
//! response, hardly with the number of signatures.
//!
//! A signature's hit is its leftmost occurrence in its location (the first of
//! several headers of one name that matches).

use memchr::memmem;
use regex::bytes::Regex;

use super::literals::{Needs, compile_regex, needs};
use super::model::{Location, Pattern, Signature};
use super::space::{Check, Entry, Space};

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

/// A regex signature that needs to run (its literals do not say it all).
struct RegexSig {
    re: Regex,
    sig: usize,
    body_only: bool,
    /// The literal sets besides the scanned one, each a set of alternatives:
    /// the regex runs only if, for every set, one of its literals occurs in
    /// the regex's text (looked for only after the scanned set occurred).
    others: Vec<Vec<memmem::Finder<'static>>>,
}

impl RegexSig {
    /// Whether each of the other literal sets occurs in `hay`.
    fn others_occur(&self, hay: &[u8]) -> bool {
        self.others
            .iter()
            .all(|set| set.iter().any(|f| f.find(hay).is_some()))
    }
}

/// The compiled HTTP signatures.
#[derive(Default)]
pub(crate) struct HttpMatcher {
    stream: Space,
    /// One space per header name (as the signatures spell it; matched with
    /// any case): a handful, so a list compared byte-wise beats hashing each
    /// header name of each response.
    headers: Vec<(String, Space)>,
    regexes: Vec<RegexSig>,
}

fn entry_for(
    space: &mut Space,
    regexes: &mut Vec<RegexSig>,
    sig: usize,
    pattern: &Pattern,
    body_only: bool,
) -> Result<(), String> {
    let entry = |check| Entry {
        sig,
        check,
        body_only,
    };
    let (lit, check) = match pattern {
        Pattern::Contains(t) => (t.as_bytes(), Check::Contains),
        Pattern::Prefix(t) => (t.as_bytes(), Check::Prefix),
        Pattern::Full(t) => {
            space.add_full(t.as_bytes(), entry(Check::Contains));
            return Ok(());
        }
        Pattern::Regex(r) => {
            let re = compile_regex(r).map_err(|e| e.to_string())?;
            let idx = u32::try_from(regexes.len()).map_err(|e| e.to_string())?;
            let mut rs = RegexSig {
                re,
                sig,
                body_only,
                others: Vec::new(),
            };
            match needs(r) {
                Needs::Exact(lits) => {
                    lits.iter()
                        .for_each(|l| space.add_literal(l, entry(Check::Contains)));
                    return Ok(());
                }
                Needs::Factors(sets) => {
                    // The most selective set (first) is scanned for.
                    let mut sets = sets.into_iter();
                    if let Some(first) = sets.next() {
                        let e = entry(Check::Factor { regex: idx });
                        first.iter().for_each(|l| space.add_literal(l, e));
                    }
                    rs.others = sets
                        .map(|set| {
                            set.iter()
                                .map(|l| memmem::Finder::new(l).into_owned())
                                .collect()
                        })
                        .collect();
                }
                Needs::Nothing => space.always.push(idx),
            }
            regexes.push(rs);
            return Ok(());
        }
        Pattern::Network(..) | Pattern::Name(_) => {
            return Err("a DNS answer pattern outside DNS".into());
        }
    };
    space.add_literal(lit, entry(check));
    Ok(())
}

/// Records a hit of `sig` at `offset`, keeping the leftmost one of this scan;
/// a hit from an earlier scan (an earlier header of the same name) stands.
fn record(
    out: &mut Vec<Hit>,
    scan_start: usize,
    sig: usize,
    offset: usize,
    loc: impl Fn() -> String,
) {
    if out[..scan_start].iter().any(|h| h.sig == sig) {
        return;
    }
    match out[scan_start..].iter_mut().find(|h| h.sig == sig) {
        Some(h) => h.offset = h.offset.min(offset),
        None => out.push(Hit {
            sig,
            location: loc(),
            offset,
        }),
    }
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
                    let at = match m.headers.iter().position(|(n, _)| n == h) {
                        Some(at) => at,
                        None => {
                            m.headers.push((h.clone(), Space::default()));
                            m.headers.len() - 1
                        }
                    };
                    let (_, sp) = &mut m.headers[at];
                    entry_for(sp, &mut m.regexes, i, &s.pattern, false)?
                }
                _ => {}
            }
        }
        m.stream.build().map_err(|e| e.to_string())?;
        for (_, sp) in &mut m.headers {
            sp.build().map_err(|e| e.to_string())?;
        }
        Ok(m)
    }

    /// Regexes that run on every response (no literal to look for first).
    pub fn unfiltered_regexes(&self) -> usize {
        self.stream.always.len()
            + self
                .headers
                .iter()
                .map(|(_, s)| s.always.len())
                .sum::<usize>()
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
        if raw || self.headers.is_empty() {
            return;
        }
        for (name, value) in headers {
            for (h, sp) in &self.headers {
                if h.as_bytes().eq_ignore_ascii_case(name) {
                    self.scan(sp, value, 0, false, h, out);
                }
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
        let scan_start = out.len();
        let body = &text[body_start..];
        let loc = |body_only: bool| {
            move || -> String {
                if !header.is_empty() {
                    format!("header.{header}")
                } else if body_only {
                    "body".into()
                } else {
                    "response".into()
                }
            }
        };
        // `full` patterns: the location, trimmed, is compared (a raw stream is
        // its own body).
        for (body_only, (a, b)) in [
            (false, trim_range(text)),
            (true, shift(trim_range(body), body_start)),
        ] {
            for e in sp.full_entries(&text[a..b]) {
                if e.body_only == body_only {
                    let base = if body_only { body_start } else { 0 };
                    record(out, scan_start, e.sig, a - base, loc(body_only));
                }
            }
        }
        if raw {
            // Only `full` body patterns apply to a stream that is not HTTP.
            return;
        }
        // Regexes whose scanned literal set occurred.
        let mut seen: Vec<u32> = Vec::new();
        let mut on_literal = |start: usize, entries: &[Entry]| {
            for e in entries {
                if e.body_only && start < body_start {
                    continue;
                }
                let base = if e.body_only { body_start } else { 0 };
                let ok = match e.check {
                    Check::Contains => true,
                    Check::Prefix => start == base,
                    Check::Factor { regex } => {
                        if !seen.contains(&regex) {
                            seen.push(regex);
                        }
                        false
                    }
                };
                if ok {
                    record(out, scan_start, e.sig, start - base, loc(e.body_only));
                }
            }
        };
        for e in sp.empty_entries() {
            let at = if e.body_only { body_start } else { 0 };
            on_literal(at, std::slice::from_ref(e));
        }
        sp.scan(text, |start, _end, entries| on_literal(start, entries));
        for r in seen.into_iter().chain(sp.always.iter().copied()) {
            let Some(rs) = self.regexes.get(r as usize) else {
                continue;
            };
            let hay = if rs.body_only { body } else { text };
            if !rs.others_occur(hay) {
                continue;
            }
            if let Some(start) = first_match(&rs.re, hay) {
                record(out, scan_start, rs.sig, start, loc(rs.body_only));
            }
        }
    }
}

/// `r` moved `by` bytes on.
fn shift(r: (usize, usize), by: usize) -> (usize, usize) {
    (r.0 + by, r.1 + by)
}

/// Where the first match of `re` in `hay` to end starts: the leftmost-first
/// match of the text up to that end.
///
/// The published patterns are compiled with a dot that matches newlines, so
/// the leftmost-first match of `Set-Cookie:.*domain=\.` runs to the last
/// `domain=.` of the response: finding it means scanning the whole response.
/// The earliest end is found by a search that stops there, and the match is
/// then looked for in the text before it only. A signature hit needs a match,
/// not the longest one; the offset is evidence of where.
fn first_match(re: &Regex, hay: &[u8]) -> Option<usize> {
    let end = re.shortest_match(hay)?;
    // An assertion at the cut (`\B`, `$`) can fail there though it held in the
    // whole text: then the whole text is searched after all.
    re.find(&hay[..end])
        .or_else(|| re.find(hay))
        .map(|m| m.start())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_match_stops_at_the_first_end() {
        let re = super::super::literals::compile_regex(r"Set-Cookie:.*domain=\.").unwrap();
        let hay = b"X\r\nSet-Cookie: a=1; domain=.x.org\r\nSet-Cookie: b=2; domain=.y.org\r\n";
        assert_eq!(first_match(&re, hay), Some(3));
        assert_eq!(first_match(&re, b"Set-Cookie: a=1"), None);
    }

    fn sig(location: Location, pattern: Pattern) -> Signature {
        Signature {
            id: "t".into(),
            set: "t".into(),
            country: None,
            source: "test".into(),
            false_positive: false,
            location,
            pattern,
        }
    }

    /// A literal looked for on its own (a one-literal tier) is found at every
    /// start, overlapping ones too: a `prefix` of the body needs the occurrence
    /// that starts there, not the one a byte earlier.
    #[test]
    fn overlapping_occurrences_of_a_searched_literal() {
        let m = HttpMatcher::new(&[sig(Location::Body, Pattern::Prefix("a".repeat(10)))]).unwrap();
        let mut out = Vec::new();
        m.matches(&b"a".repeat(11), Some(1), &[], &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].offset, 0);
        out.clear();
        m.matches(&b"a".repeat(11), Some(2), &[], &mut out);
        assert!(out.is_empty(), "ten bytes of body cannot start with eleven");
    }

    /// `full` is a comparison of the trimmed location, in the body and in a
    /// raw (non-HTTP) stream alike.
    #[test]
    fn full_compares_the_trimmed_location() {
        let m = HttpMatcher::new(&[sig(
            Location::Body,
            Pattern::Full("Object not found".into()),
        )])
        .unwrap();
        let head = b"HTTP/1.1 404 Not Found\r\n\r\n";
        let mut out = Vec::new();
        let mut resp = head.to_vec();
        resp.extend_from_slice(b"\n  Object not found \r\n");
        m.matches(&resp, Some(head.len()), &[], &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].offset, 3);
        out.clear();
        resp.truncate(head.len());
        resp.extend_from_slice(b"<p>Object not found!</p>");
        m.matches(&resp, Some(head.len()), &[], &mut out);
        assert!(out.is_empty());
        m.matches(b" Object not found", None, &[], &mut out);
        assert_eq!(out.len(), 1);
    }

    /// An assertion that fails at the cut: the whole text decides.
    #[test]
    fn first_match_assertion_at_the_cut() {
        let re = super::super::literals::compile_regex(r"ab\B").unwrap();
        assert_eq!(first_match(&re, b"xx abc"), Some(3));
        assert_eq!(first_match(&re, b"xx ab."), None);
    }
}
