//! Signature data: block pages (body, `Location`, `Server`, `Via`), block
//! addresses in DNS answers, TLS interception authorities (certificate
//! fingerprints and names), and the known false positives that look like them.
//!
//! The built-in sets are our own TOML files under `src/signatures/data/`,
//! written from published facts (see each entry's `source`), embedded in the
//! binary. Users add sets — more TOML, Censored Planet's JSON Lines, OONI's CSV —
//! with [`Signatures::with_files`] or [`Signatures::from_sets`] and hand the
//! result to [`crate::Config::signatures`].
//!
//! Matching follows upstream precedence: when a known false positive matches, the
//! response is not a block page, whatever else matches (Censored Planet checks
//! its false positives first; OONI's `fp` scope serves the same purpose).

mod background;
mod cert_matcher;
mod csv;
mod dns_matcher;
mod literals;
mod loaders;
mod matcher;
mod model;
mod reference;
mod sampled;
mod space;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub use cert_matcher::CertHit;
pub use loaders::{add_censoredplanet, from_ooni_csv, from_toml, load_path};
pub use matcher::Hit;
pub use model::{
    CertField, Location, Pattern, Rejected, Signature, SignatureSet, in_network, parse_network,
};
pub use reference::ReferenceMatcher;

use cert_matcher::CertMatcher;
use dns_matcher::DnsMatcher;
use matcher::HttpMatcher;

/// Why signatures could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A TOML file is malformed.
    #[error("signature TOML: {0}")]
    Toml(String),
    /// A file name whose format we do not know.
    #[error("unknown signature file format: {0} (expected .toml, .json/.jsonl or .csv)")]
    UnknownFormat(PathBuf),
    /// The signatures could not be compiled together.
    #[error("cannot compile signatures: {0}")]
    Compile(String),
}

/// The built-in data files.
const BUILTIN: [(&str, &str); 4] = [
    ("blockpages.toml", include_str!("data/blockpages.toml")),
    ("dns.toml", include_str!("data/dns.toml")),
    ("interception.toml", include_str!("data/interception.toml")),
    ("lab.toml", include_str!("data/lab.toml")),
];

/// The built-in signature sets, as read from the embedded files.
pub fn builtin_sets() -> Vec<SignatureSet> {
    BUILTIN
        .iter()
        .map(|(name, text)| {
            from_toml(text).unwrap_or_else(|e| {
                // Our own data; a test keeps it well-formed.
                let mut s = SignatureSet::new(*name);
                s.reject(0, None, e.to_string());
                s
            })
        })
        .collect()
}

/// Counts of one loaded set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetSummary {
    /// Set name.
    pub name: String,
    /// Block-page or block-address signatures.
    pub blocks: usize,
    /// Known false positives.
    pub false_positives: usize,
    /// Rows rejected.
    pub rejected: usize,
    /// Duplicate rows dropped.
    pub duplicates: usize,
}

/// The outcome of matching one HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpVerdict {
    /// Nothing matched.
    Clean,
    /// A known false positive matched (the first one, in database order): not a
    /// block page, whatever else matched.
    FalsePositive(Hit),
    /// Block-page signatures matched (in database order), no false positive did.
    BlockPage(Vec<Hit>),
}

/// Compiled signatures, ready to match.
pub struct SignatureDb {
    sigs: Vec<Signature>,
    sets: Vec<SetSummary>,
    http: HttpMatcher,
    dns: DnsMatcher,
    cert: CertMatcher,
}

impl std::fmt::Debug for SignatureDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureDb")
            .field("signatures", &self.sigs.len())
            .field("sets", &self.sets)
            .finish()
    }
}

impl SignatureDb {
    /// Compiles `sets` (in order; a signature's index is its position over all).
    pub fn new(sets: Vec<SignatureSet>) -> Result<SignatureDb, SignatureError> {
        let mut sigs = Vec::new();
        let mut summaries = Vec::new();
        for s in sets {
            summaries.push(SetSummary {
                name: s.name.clone(),
                blocks: s.block_count(),
                false_positives: s.false_positive_count(),
                rejected: s.rejected.len(),
                duplicates: s.duplicates,
            });
            sigs.extend(s.entries);
        }
        let http = HttpMatcher::new(&sigs).map_err(SignatureError::Compile)?;
        let dns = DnsMatcher::new(&sigs);
        let cert = CertMatcher::new(&sigs);
        Ok(SignatureDb {
            sigs,
            sets: summaries,
            http,
            dns,
            cert,
        })
    }

    /// Every signature, in matching order.
    pub fn signatures(&self) -> &[Signature] {
        &self.sigs
    }

    /// The signature at `i` (as named by a [`Hit`]).
    pub fn get(&self, i: usize) -> Option<&Signature> {
        self.sigs.get(i)
    }

    /// What was loaded, per set.
    pub fn sets(&self) -> &[SetSummary] {
        &self.sets
    }

    /// HTTP regexes that have no literal to search for first and so run on every
    /// response.
    pub fn unfiltered_regexes(&self) -> usize {
        self.http.unfiltered_regexes()
    }

    /// Matches a server stream: `body_start` is where the body starts (`None` when
    /// the stream is not HTTP), `headers` the response head's headers.
    pub fn match_http(
        &self,
        stream: &[u8],
        body_start: Option<usize>,
        headers: &[(&[u8], &[u8])],
    ) -> HttpVerdict {
        let mut hits = Vec::new();
        self.http.matches(stream, body_start, headers, &mut hits);
        hits.sort_by_key(|h| h.sig);
        if let Some(fp) = hits.iter().find(|h| self.sigs[h.sig].false_positive) {
            return HttpVerdict::FalsePositive(fp.clone());
        }
        if hits.is_empty() {
            HttpVerdict::Clean
        } else {
            HttpVerdict::BlockPage(hits)
        }
    }

    /// The block-address signatures a DNS answer matches (none when a
    /// false-positive entry covers it).
    pub fn match_dns(&self, ip: IpAddr) -> Vec<&Signature> {
        let v: Vec<&Signature> = self
            .dns
            .matches(ip)
            .into_iter()
            .map(|i| &self.sigs[i])
            .collect();
        if v.iter().any(|s| s.false_positive) {
            return Vec::new();
        }
        v
    }

    /// The interception-authority signatures a server's certificate chain
    /// matches, in database order (none when a false-positive entry matches
    /// any of its certificates).
    pub fn match_certificates(&self, chain: &[crate::proto::CertFacts]) -> Vec<CertHit> {
        let mut hits = Vec::new();
        self.cert.matches(chain, &mut hits);
        if hits.iter().any(|h| self.sigs[h.sig].false_positive) {
            return Vec::new();
        }
        hits.sort_by_key(|h| (h.sig, h.cert));
        hits
    }

    /// The block-host signatures a CNAME target (lower-case) matches.
    pub fn match_dns_name(&self, name: &str) -> Vec<&Signature> {
        let v: Vec<&Signature> = self
            .dns
            .matches_name(name)
            .into_iter()
            .map(|i| &self.sigs[i])
            .collect();
        if v.iter().any(|s| s.false_positive) {
            return Vec::new();
        }
        v
    }
}

/// A shared handle on compiled signatures: cheap to clone, compared by identity.
#[derive(Clone)]
pub struct Signatures(Arc<SignatureDb>);

impl Signatures {
    /// The built-in sets (compiled once per process).
    pub fn builtin() -> Signatures {
        static DB: OnceLock<Arc<SignatureDb>> = OnceLock::new();
        Signatures(
            DB.get_or_init(|| {
                Arc::new(
                    SignatureDb::new(builtin_sets()).unwrap_or_else(|_| SignatureDb {
                        sigs: Vec::new(),
                        sets: Vec::new(),
                        http: HttpMatcher::default(),
                        dns: DnsMatcher::default(),
                        cert: CertMatcher::default(),
                    }),
                )
            })
            .clone(),
        )
    }

    /// Exactly these sets.
    pub fn from_sets(sets: Vec<SignatureSet>) -> Result<Signatures, SignatureError> {
        Ok(Signatures(Arc::new(SignatureDb::new(sets)?)))
    }

    /// The built-in sets plus the files given (see [`load_path`] for formats).
    pub fn with_files(paths: &[&Path]) -> Result<Signatures, SignatureError> {
        let mut sets = builtin_sets();
        for p in paths {
            sets.push(load_path(p)?);
        }
        Signatures::from_sets(sets)
    }

    /// The compiled database.
    pub fn db(&self) -> &SignatureDb {
        &self.0
    }
}

impl Default for Signatures {
    fn default() -> Signatures {
        Signatures::builtin()
    }
}

impl PartialEq for Signatures {
    fn eq(&self, other: &Signatures) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Signatures {}

impl std::fmt::Debug for Signatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
