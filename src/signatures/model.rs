//! What a signature is: an id, where it looks, how it matches, and whether it
//! marks a known false positive.

use std::net::IpAddr;

/// Where in a response (or DNS answer) a signature looks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Location {
    /// The whole response as received: head and body (Censored Planet's scope).
    Response,
    /// The body after the head; for a server stream that is not HTTP at all (an
    /// injected literal), the whole stream.
    Body,
    /// The value of one header; the name is lower-case.
    Header(String),
    /// An A/AAAA address of a DNS answer.
    DnsAnswer,
    /// A field of any certificate of a TLS server's chain.
    Certificate(CertField),
}

/// Which field of a certificate a [`Location::Certificate`] signature
/// compares (always whole: fingerprints in lower-case hex, names in
/// [`crate::proto::canonical_name`] form).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CertField {
    /// SHA-256 of the DER certificate (`certificate.sha256`).
    Sha256,
    /// SHA-256 of its SubjectPublicKeyInfo (`certificate.spki_sha256`), as
    /// Chromium's blocklist lists interception roots.
    SpkiSha256,
    /// Its issuer's name (`certificate.issuer`): signed by that authority.
    Issuer,
    /// Its subject's name (`certificate.subject`): that authority itself.
    Subject,
}

impl CertField {
    fn label(self) -> &'static str {
        match self {
            CertField::Sha256 => "sha256",
            CertField::SpkiSha256 => "spki_sha256",
            CertField::Issuer => "issuer",
            CertField::Subject => "subject",
        }
    }
}

impl Location {
    /// The name used in evidence and data files: `response`, `body`,
    /// `header.<name>`, `dns`, `certificate.<field>`.
    pub fn label(&self) -> String {
        match self {
            Location::Response => "response".into(),
            Location::Body => "body".into(),
            Location::Header(h) => format!("header.{h}"),
            Location::DnsAnswer => "dns".into(),
            Location::Certificate(f) => format!("certificate.{}", f.label()),
        }
    }

    /// Reads a location name (see [`Location::label`]).
    pub fn parse(s: &str) -> Option<Location> {
        let s = s.trim();
        match s {
            "response" => Some(Location::Response),
            "body" => Some(Location::Body),
            "dns" => Some(Location::DnsAnswer),
            "certificate.sha256" => Some(Location::Certificate(CertField::Sha256)),
            "certificate.spki_sha256" => Some(Location::Certificate(CertField::SpkiSha256)),
            "certificate.issuer" => Some(Location::Certificate(CertField::Issuer)),
            "certificate.subject" => Some(Location::Certificate(CertField::Subject)),
            _ => {
                let h = s.strip_prefix("header.")?.trim();
                (!h.is_empty()).then(|| Location::Header(h.to_ascii_lowercase()))
            }
        }
    }
}

/// How a signature matches.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Pattern {
    /// The text occurs anywhere.
    Contains(String),
    /// The text starts the location.
    Prefix(String),
    /// The text is the whole location (surrounding whitespace ignored).
    Full(String),
    /// A regular expression (dot matches newline, as Censored Planet compiles
    /// theirs).
    Regex(String),
    /// A network (an exact address is a /32 or /128).
    Network(IpAddr, u8),
    /// A DNS name a CNAME answer points to (lower-case, no trailing dot).
    Name(String),
}

/// One fingerprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Its id in its set (ids may repeat: several patterns of one fingerprint).
    pub id: String,
    /// The set it came from.
    pub set: String,
    /// Countries it was seen in (ISO codes, comma-separated), if known.
    pub country: Option<String>,
    /// Who published it.
    pub source: String,
    /// A known false positive: a page that looks like a block page but is not.
    pub false_positive: bool,
    /// Where it looks.
    pub location: Location,
    /// How it matches.
    pub pattern: Pattern,
}

/// A row of a signature file that was not taken, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// 1-based line (JSON Lines) or record (CSV) number, or the entry's index (TOML).
    pub line: usize,
    /// The row's id, when it had one.
    pub id: Option<String>,
    /// Why it was rejected.
    pub reason: String,
}

/// Signatures read from one source, with what was rejected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignatureSet {
    /// The set's name (shown in evidence as `signature_set`).
    pub name: String,
    /// The signatures.
    pub entries: Vec<Signature>,
    /// Rows that could not be used.
    pub rejected: Vec<Rejected>,
    /// Rows dropped because an entry with the same id, location and pattern was
    /// already in the set.
    pub duplicates: usize,
}

impl SignatureSet {
    /// An empty set.
    pub fn new(name: impl Into<String>) -> SignatureSet {
        SignatureSet {
            name: name.into(),
            ..SignatureSet::default()
        }
    }

    /// Adds an entry unless the same (id, location, pattern, false-positive flag)
    /// is already there. A repeated id with another pattern is kept: upstream
    /// files use that for fingerprints with several patterns.
    pub fn push(&mut self, s: Signature) {
        if self.entries.iter().any(|e| {
            e.id == s.id
                && e.location == s.location
                && e.pattern == s.pattern
                && e.false_positive == s.false_positive
        }) {
            self.duplicates += 1;
        } else {
            self.entries.push(s);
        }
    }

    /// Records a rejected row.
    pub fn reject(&mut self, line: usize, id: Option<&str>, reason: impl Into<String>) {
        self.rejected.push(Rejected {
            line,
            id: id.map(str::to_string),
            reason: reason.into(),
        });
    }

    /// Block-page (or block-address) signatures.
    pub fn block_count(&self) -> usize {
        self.entries.iter().filter(|e| !e.false_positive).count()
    }

    /// Known-false-positive signatures.
    pub fn false_positive_count(&self) -> usize {
        self.entries.iter().filter(|e| e.false_positive).count()
    }
}

/// Parses `a.b.c.d`, an IPv6 address, or either with `/len`.
pub fn parse_network(s: &str) -> Option<(IpAddr, u8)> {
    let s = s.trim();
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    (len <= max).then_some((ip, len))
}

/// Whether `ip` is in `net/len`.
pub fn in_network(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}
