//! The one-pass matcher against [`ReferenceMatcher`], which checks every
//! signature on its own: both must give the same verdict, the same hits, the
//! same locations and offsets, on the server streams of the lab captures and on
//! responses made from the signatures themselves. (The `signature_match` fuzz
//! target compares the two on arbitrary signatures and responses.)

use std::path::Path;

use tamperscope::Analyzer;
use tamperscope::capture::Capture;
use tamperscope::flow::TO_CLIENT;
use tamperscope::proto::{http_response, is_status_line};
use tamperscope::signatures::{
    HttpVerdict, Location, Pattern, ReferenceMatcher, Signature, SignatureSet, Signatures,
    add_censoredplanet, builtin_sets, from_ooni_csv,
};

fn server_streams(path: &Path, out: &mut Vec<Vec<u8>>) {
    let Ok(cap) = Capture::open(path, 1 << 32) else {
        return;
    };
    for f in Analyzer::default().flows(&cap) {
        let s = f.dirs[TO_CLIENT].stream.bytes();
        if !s.is_empty() {
            out.push(s.to_vec());
        }
    }
}

/// A pattern's text with regex escapes dropped: for most published regexes,
/// a string it matches.
fn sample(p: &Pattern) -> Option<String> {
    match p {
        Pattern::Contains(t) | Pattern::Prefix(t) | Pattern::Full(t) => Some(t.clone()),
        Pattern::Regex(r) => Some(r.replace('\\', "").replace(".*", " x ")),
        _ => None,
    }
}

/// Responses that carry each signature's text in its location, alone, padded,
/// and several together.
fn made_responses(sigs: &[Signature]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut together = String::new();
    for (i, s) in sigs.iter().enumerate() {
        let Some(t) = sample(&s.pattern) else {
            continue;
        };
        let r = match &s.location {
            Location::Header(h) => {
                format!("HTTP/1.1 302 Found\r\n{h}: {t}\r\nX-A: b\r\n{h}: {t}\r\n\r\n{t}")
            }
            Location::Body => format!("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n{t}"),
            _ => format!("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n<html>{t}{t}</html>"),
        };
        out.push(r.into_bytes());
        out.push(format!("  {t}\r\n").into_bytes());
        if i % 7 == 0 {
            together.push_str(&t);
            together.push_str(" <p> ");
        }
    }
    out.push(format!("HTTP/1.1 200 OK\r\n\r\n{together}").into_bytes());
    out.push(format!("{together}{together}").into_bytes());
    out
}

/// Corner cases: overlapping and nested literals, an empty `full`, a body-only
/// regex whose literals are in the head, several headers of one name.
fn corner_cases() -> SignatureSet {
    let mut set = SignatureSet::new("corner");
    let mut add = |id: &str, fp: bool, location: Location, pattern: Pattern| {
        set.entries.push(Signature {
            id: id.into(),
            set: "corner".into(),
            country: None,
            source: "test".into(),
            false_positive: fp,
            location,
            pattern,
        })
    };
    add(
        "ab",
        false,
        Location::Body,
        Pattern::Contains("abab".into()),
    );
    add(
        "bab",
        false,
        Location::Body,
        Pattern::Contains("bab".into()),
    );
    add(
        "ba",
        false,
        Location::Response,
        Pattern::Contains("ba".into()),
    );
    add("blank", false, Location::Body, Pattern::Full(String::new()));
    add("pre", false, Location::Body, Pattern::Prefix("abab".into()));
    add(
        "rpre",
        false,
        Location::Response,
        Pattern::Prefix("HTTP/1.1 2".into()),
    );
    add("fullb", false, Location::Body, Pattern::Full("abab".into()));
    add(
        "alt",
        false,
        Location::Body,
        Pattern::Regex("zzzz|abab|bab".into()),
    );
    add(
        "cat",
        false,
        Location::Body,
        Pattern::Regex("Server.*abab".into()),
    );
    add(
        "cat2",
        true,
        Location::Response,
        Pattern::Regex("Via: [a-z]+.*abab".into()),
    );
    add(
        "noli",
        false,
        Location::Body,
        Pattern::Regex(r"\d\d".into()),
    );
    add(
        "via",
        false,
        Location::Header("via".into()),
        Pattern::Contains("proxy".into()),
    );
    add(
        "viaf",
        false,
        Location::Header("via".into()),
        Pattern::Full("1.1 proxy".into()),
    );
    add(
        "loc",
        false,
        Location::Header("location".into()),
        Pattern::Regex("^https?://blk[0-9]".into()),
    );
    set
}

fn corner_responses() -> Vec<Vec<u8>> {
    [
        &b"HTTP/1.1 200 OK\r\nServer: abab\r\n\r\nxx bababab 12"[..],
        b"HTTP/1.1 200 OK\r\nServer: abab\r\nVia: 1.0 a\r\nVia: 1.1 proxy\r\n\r\n  abab \r\n",
        b"HTTP/1.1 302 Found\r\nLocation: http://blk7/\r\nLocation: https://blk8/\r\nVia: abab\r\n\r\n\r\n \t",
        b"HTTP/1.1 404 Not Found\r\nVia: proxy\r\n\r\nabab",
        b"  abab  ",
        b"",
        b"bab",
    ]
    .iter()
    .map(|r| r.to_vec())
    .collect()
}

fn check(sets: Vec<SignatureSet>, responses: &[Vec<u8>]) -> usize {
    let sigs = Signatures::from_sets(sets).expect("signatures compile");
    let naive = ReferenceMatcher::new(sigs.db().signatures()).expect("regexes compile");
    let mut matched = 0;
    for r in responses {
        let head = http_response(r);
        let headers = head.as_ref().map(|h| h.headers.clone()).unwrap_or_default();
        let starts = [
            head.as_ref().and_then(|h| h.head_len),
            head.as_ref().map(|h| h.head_len.unwrap_or(r.len())),
            None,
        ];
        for start in starts {
            let got = sigs.db().match_http(r, start, &headers);
            let want = naive.verdict(r, start, &headers);
            assert_eq!(
                got,
                want,
                "response {:?} (body from {start:?})",
                String::from_utf8_lossy(r)
            );
            matched += usize::from(got != HttpVerdict::Clean);
        }
    }
    matched
}

#[test]
fn corner_cases_match_the_naive_matcher() {
    let matched = check(vec![corner_cases()], &corner_responses());
    assert!(matched >= 10, "{matched}");
}

#[test]
fn published_sets_match_the_naive_matcher() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sets = builtin_sets();
    let data = root.join("../shared/signature-data");
    let cp = data.join("censoredplanet__censoredplanet-analysis");
    if let (Ok(fp), Ok(bp)) = (
        std::fs::read_to_string(cp.join("false_positive_signatures.json")),
        std::fs::read_to_string(cp.join("blockpage_signatures.json")),
    ) {
        let mut set = SignatureSet::new("cp");
        add_censoredplanet(&mut set, &fp, true);
        add_censoredplanet(&mut set, &bp, false);
        sets.push(set);
    } else {
        eprintln!("SKIPPED (Censored Planet part): signature data not found");
    }
    if let Ok(t) =
        std::fs::read_to_string(data.join("ooni__blocking-fingerprints/fingerprints_http.csv"))
    {
        sets.push(from_ooni_csv("ooni", &t));
    }
    sets.push(corner_cases());
    let all: Vec<Signature> = sets.iter().flat_map(|s| s.entries.clone()).collect();
    let mut responses = made_responses(&all);
    responses.extend(corner_responses());
    let mut files: Vec<_> = std::fs::read_dir(root.join("testdata/lab/captures"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    for f in files {
        server_streams(&f, &mut responses);
    }
    let http = responses.iter().filter(|r| is_status_line(r)).count();
    let matched = check(sets, &responses);
    eprintln!(
        "{} signatures, {} responses ({http} HTTP), {matched} verdicts not clean",
        all.len(),
        responses.len()
    );
    assert!(matched > 0);
}
