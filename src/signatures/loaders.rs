//! Reading signature sets: our TOML files, Censored Planet's JSON Lines and
//! OONI's CSV. Every row that cannot be used is kept in
//! [`SignatureSet::rejected`] with its reason, never dropped silently; a regex
//! that does not compile is rejected here, not at match time.

use std::path::Path;

use serde::Deserialize;

use super::SignatureError;
use super::model::{CertField, Location, Pattern, Signature, SignatureSet, parse_network};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    set: TomlSetHeader,
    #[serde(default)]
    signature: Vec<TomlEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlSetHeader {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlEntry {
    id: String,
    #[serde(default)]
    country: Option<String>,
    source: String,
    location: String,
    #[serde(rename = "match")]
    how: String,
    pattern: String,
    #[serde(default)]
    false_positive: bool,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

/// Builds the pattern of `how` (`contains`, `prefix`, `full`, `regex`/`regexp`,
/// `address`/`network`) for `location`, checking regexes and addresses.
pub(crate) fn make_pattern(location: &Location, how: &str, text: &str) -> Result<Pattern, String> {
    if *location == Location::DnsAnswer {
        return match how {
            "full" | "address" | "network" | "cidr" => match parse_network(text) {
                Some((a, l)) => Ok(Pattern::Network(a, l)),
                // OONI lists block hosts that censors' answers alias (CNAME).
                None if how != "network" && is_dns_name(text) => Ok(Pattern::Name(
                    text.trim().trim_end_matches('.').to_ascii_lowercase(),
                )),
                None => Err(format!("not an address, network or name: {text:?}")),
            },
            "name" if is_dns_name(text) => Ok(Pattern::Name(
                text.trim().trim_end_matches('.').to_ascii_lowercase(),
            )),
            _ => Err(format!("match {how:?} is not supported for DNS answers")),
        };
    }
    if let Location::Certificate(field) = location {
        return certificate_pattern(*field, how, text);
    }
    if text.is_empty() {
        return Err("empty pattern".into());
    }
    match how {
        "contains" => Ok(Pattern::Contains(text.into())),
        "prefix" => Ok(Pattern::Prefix(text.into())),
        "full" => Ok(Pattern::Full(text.trim().into())),
        "regex" | "regexp" => {
            super::literals::compile_regex(text).map_err(|e| format!("regex: {e}"))?;
            Ok(Pattern::Regex(text.into()))
        }
        _ => Err(format!("unknown match type {how:?}")),
    }
}

/// A certificate signature: a whole fingerprint (hex, colons and case
/// ignored) or a whole distinguished name.
fn certificate_pattern(field: CertField, how: &str, text: &str) -> Result<Pattern, String> {
    if how != "full" {
        return Err(format!(
            "match {how:?} is not supported for certificates (use \"full\")"
        ));
    }
    match field {
        CertField::Sha256 | CertField::SpkiSha256 => {
            let h: String = text
                .trim()
                .chars()
                .filter(|c| *c != ':')
                .map(|c| c.to_ascii_lowercase())
                .collect();
            if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(Pattern::Full(h))
            } else {
                Err(format!("not a SHA-256 fingerprint: {text:?}"))
            }
        }
        _ => {
            let n = crate::proto::canonical_name(text);
            if n.is_empty() {
                Err(format!("not a distinguished name: {text:?}"))
            } else {
                Ok(Pattern::Full(n))
            }
        }
    }
}

fn is_dns_name(s: &str) -> bool {
    let s = s.trim().trim_end_matches('.');
    !s.is_empty()
        && s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Reads one of our TOML signature files.
pub fn from_toml(text: &str) -> Result<SignatureSet, SignatureError> {
    let f: TomlFile = toml::from_str(text).map_err(|e| SignatureError::Toml(e.to_string()))?;
    let mut set = SignatureSet::new(f.set.name);
    for (i, e) in f.signature.into_iter().enumerate() {
        let Some(location) = Location::parse(&e.location) else {
            set.reject(
                i + 1,
                Some(&e.id),
                format!("unknown location {:?}", e.location),
            );
            continue;
        };
        match make_pattern(&location, &e.how, &e.pattern) {
            Ok(pattern) => set.push(Signature {
                id: e.id,
                set: set.name.clone(),
                country: e.country,
                source: e.source,
                false_positive: e.false_positive,
                location,
                pattern,
            }),
            Err(r) => set.reject(i + 1, Some(&e.id), r),
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    #[test]
    fn python_braces() {
        use super::python_regex_compat as c;
        assert_eq!(c(r#"{"msg":.*"id":"#), r#"\{"msg":.*"id":"#);
        assert_eq!(c(r#"{"error":"x"}"#), r#"\{"error":"x"\}"#);
        assert_eq!(c("a{2,3}b[{}]"), "a{2,3}b[{}]");
        assert_eq!(c(r"\{x"), r"\{x");
    }
}

#[derive(Deserialize)]
struct CpRow {
    fingerprint: String,
    pattern: String,
}

/// Adds Censored Planet JSON Lines (`{"fingerprint": id, "pattern": regex}`) to
/// `set`: regexes over the whole response, dot matching newline;
/// `false_positive` for their `false_positive_signatures.json`.
pub fn add_censoredplanet(set: &mut SignatureSet, text: &str, false_positive: bool) {
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: CpRow = match serde_json::from_str(line) {
            Ok(r) => r,
            Err(e) => {
                set.reject(i + 1, None, format!("JSON: {e}"));
                continue;
            }
        };
        match make_pattern(
            &Location::Response,
            "regex",
            &python_regex_compat(&row.pattern),
        ) {
            Ok(pattern) => set.push(Signature {
                country: cp_country(&row.fingerprint),
                id: row.fingerprint,
                set: set.name.clone(),
                source: "censoredplanet".into(),
                false_positive,
                location: Location::Response,
                pattern,
            }),
            Err(r) => set.reject(i + 1, Some(&row.fingerprint), r),
        }
    }
}

/// Rewrites the Python `re` idioms that Rust's regex syntax reads otherwise: a
/// `{` or `}` that does not form a repetition (`{n}`, `{n,}`, `{n,m}`) is a
/// literal brace in Python and an error here, so it is escaped.
pub(crate) fn python_regex_compat(p: &str) -> String {
    let b: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let (mut i, mut in_class) = (0, false);
    while i < b.len() {
        let c = b[i];
        match c {
            '\\' => {
                out.push(c);
                if let Some(&n) = b.get(i + 1) {
                    out.push(n);
                }
                i += 2;
                continue;
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '{' if !in_class => {
                let close = b[i + 1..].iter().position(|&x| x == '}').map(|k| i + 1 + k);
                let is_rep = close.is_some_and(|e| {
                    let inner: String = b[i + 1..e].iter().collect();
                    let mut parts = inner.splitn(2, ',');
                    let first = parts.next().unwrap_or("");
                    let second = parts.next();
                    !first.is_empty()
                        && first.bytes().all(|d| d.is_ascii_digit())
                        && second.is_none_or(|s| s.bytes().all(|d| d.is_ascii_digit()))
                        && i > 0
                });
                if let (true, Some(e)) = (is_rep, close) {
                    out.extend(&b[i..=e]);
                    i = e + 1;
                    continue;
                }
                out.push_str("\\{");
                i += 1;
                continue;
            }
            '}' if !in_class => {
                out.push_str("\\}");
                i += 1;
                continue;
            }
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Censored Planet ids read `<x>_<scope>_<cc>_<name>`; the third part is a
/// country when it is two letters.
fn cp_country(id: &str) -> Option<String> {
    let cc = id.split('_').nth(2)?;
    (cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_lowercase())).then(|| cc.to_ascii_uppercase())
}

/// Reads OONI's blocking-fingerprints CSV (`fingerprints_http.csv` or
/// `fingerprints_dns.csv`): scope `fp` marks known false positives.
pub fn from_ooni_csv(name: &str, text: &str) -> SignatureSet {
    let mut set = SignatureSet::new(name);
    let recs = super::csv::records(text);
    let Some(head) = recs.first() else {
        return set;
    };
    let col = |n: &str| head.iter().position(|h| h.trim() == n);
    let (Some(c_name), Some(c_scope), Some(c_loc), Some(c_type), Some(c_pat)) = (
        col("name"),
        col("scope"),
        col("location_found"),
        col("pattern_type"),
        col("pattern"),
    ) else {
        set.reject(
            1,
            None,
            "header lacks name/scope/location_found/pattern_type/pattern",
        );
        return set;
    };
    let c_cc = col("expected_countries");
    let c_src = col("source");
    for (i, r) in recs.iter().enumerate().skip(1) {
        if r.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let get = |c: usize| r.get(c).map(String::as_str).unwrap_or("");
        let id = get(c_name).trim();
        if id.is_empty() {
            set.reject(i + 1, None, "no name");
            continue;
        }
        let Some(location) = Location::parse(get(c_loc)) else {
            set.reject(
                i + 1,
                Some(id),
                format!("unknown location {:?}", get(c_loc)),
            );
            continue;
        };
        let how = get(c_type).trim();
        let pat = if how == "regexp" {
            python_regex_compat(get(c_pat))
        } else {
            get(c_pat).to_string()
        };
        match make_pattern(&location, how, &pat) {
            Ok(pattern) => set.push(Signature {
                id: id.to_string(),
                set: set.name.clone(),
                country: c_cc
                    .map(|c| get(c).trim().to_string())
                    .filter(|s| !s.is_empty()),
                source: c_src
                    .map(|c| get(c).trim().to_string())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "ooni".into()),
                false_positive: get(c_scope).trim() == "fp",
                location,
                pattern,
            }),
            Err(reason) => set.reject(i + 1, Some(id), reason),
        }
    }
    set
}

/// Reads a signature file by its name: `*.toml` (ours), `*.json`/`*.jsonl`
/// (Censored Planet; a name containing `false_positive` holds false positives),
/// `*.csv` (OONI).
pub fn load_path(path: &Path) -> Result<SignatureSet, SignatureError> {
    let text = std::fs::read_to_string(path).map_err(|source| SignatureError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "toml" => from_toml(&text),
        "json" | "jsonl" => {
            let mut set = SignatureSet::new(name.clone());
            add_censoredplanet(&mut set, &text, name.contains("false_positive"));
            Ok(set)
        }
        "csv" => Ok(from_ooni_csv(&name, &text)),
        _ => Err(SignatureError::UnknownFormat(path.to_path_buf())),
    }
}
