//! A slow matcher that checks every signature on its own (`memmem`,
//! `starts_with`, a trimmed comparison, a regex search up to the first match
//! end): the reference the one-pass matcher ([`super::SignatureDb::match_http`])
//! is tested and fuzzed against. Both must give the same verdict, hits,
//! locations and offsets for any signatures and any response. It shares only
//! the signature model and the regex flags with the matcher, on purpose: its
//! trimming and its false-positive precedence are written again here, so that
//! a slip in the matcher's own helpers is not repeated by its reference.

use regex::bytes::Regex;

use super::HttpVerdict;
use super::literals::compile_regex;
use super::matcher::Hit;
use super::model::{Location, Pattern, Signature};

/// Each HTTP signature checked alone, in database order.
pub struct ReferenceMatcher {
    sigs: Vec<Signature>,
    regexes: Vec<Option<Regex>>,
}

/// The offset and text of `b` without leading and trailing ASCII whitespace.
fn trim(b: &[u8]) -> (usize, &[u8]) {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |i| i + 1);
    (s, &b[s..e])
}

impl ReferenceMatcher {
    /// The reference for `sigs` (a database's [`super::SignatureDb::signatures`]).
    /// Fails on a regex that does not compile, as the one-pass matcher does.
    pub fn new(sigs: &[Signature]) -> Result<ReferenceMatcher, regex::Error> {
        let regexes = sigs
            .iter()
            .map(|s| match &s.pattern {
                Pattern::Regex(r) => compile_regex(r).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<_, _>>()?;
        Ok(ReferenceMatcher {
            sigs: sigs.to_vec(),
            regexes,
        })
    }

    /// Where signature `i` matches `hay`, as an offset (`raw`: the stream is
    /// not HTTP, only `full` patterns apply).
    fn find(&self, i: usize, hay: &[u8], raw: bool) -> Option<usize> {
        match &self.sigs[i].pattern {
            Pattern::Full(t) => {
                let (s, v) = trim(hay);
                (v == t.as_bytes()).then_some(s)
            }
            _ if raw => None,
            Pattern::Contains(t) => memchr::memmem::find(hay, t.as_bytes()),
            Pattern::Prefix(t) => hay.starts_with(t.as_bytes()).then_some(0),
            // The start of the first match to end (a hit needs a match, not
            // the longest one).
            Pattern::Regex(_) => {
                let re = self.regexes.get(i)?.as_ref()?;
                let end = re.shortest_match(hay)?;
                re.find(&hay[..end])
                    .or_else(|| re.find(hay))
                    .map(|m| m.start())
            }
            _ => None,
        }
    }

    /// The verdict for a server stream, as [`super::SignatureDb::match_http`]
    /// takes it.
    pub fn verdict(
        &self,
        stream: &[u8],
        body_start: Option<usize>,
        headers: &[(&[u8], &[u8])],
    ) -> HttpVerdict {
        let raw = body_start.is_none();
        let bs = body_start.unwrap_or(0).min(stream.len());
        let mut hits = Vec::new();
        for (i, s) in self.sigs.iter().enumerate() {
            let hit = match &s.location {
                Location::Response => self
                    .find(i, stream, raw)
                    .map(|o| ("response".to_string(), o)),
                Location::Body => self
                    .find(i, &stream[bs..], raw)
                    .map(|o| ("body".to_string(), o)),
                Location::Header(h) if !raw => headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(h.as_bytes()))
                    .find_map(|(_, v)| self.find(i, v, false))
                    .map(|o| (format!("header.{h}"), o)),
                _ => None,
            };
            if let Some((location, offset)) = hit {
                hits.push(Hit {
                    sig: i,
                    location,
                    offset,
                });
            }
        }
        if let Some(fp) = hits.iter().find(|h| self.sigs[h.sig].false_positive) {
            return HttpVerdict::FalsePositive(fp.clone());
        }
        if hits.is_empty() {
            HttpVerdict::Clean
        } else {
            HttpVerdict::BlockPage(hits)
        }
    }
}
