//! The one-pass HTTP matcher against the reference that checks each signature
//! on its own ([`ReferenceMatcher`]): for any handful of signatures (literals of
//! every tier's length, prefixes, `full` texts, regexes with one or two
//! literal parts, false positives, in the body, the whole response or a
//! header) and any response, both must give the same verdict, hits and
//! offsets. A difference is a crash.
//!
//! Input: one byte for the number of signatures (1-16); per signature a kind
//! byte (top bit: false positive), a location byte and a length byte, then
//! that many bytes of pattern text; the rest is the response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tamperscope::proto::http_response;
use tamperscope::signatures::{
    Location, Pattern, ReferenceMatcher, Signature, SignatureSet, Signatures,
};

fn signature(i: usize, kind: u8, location: u8, text: String) -> Signature {
    let half = text.char_indices().nth(text.chars().count() / 2).map_or(0, |(b, _)| b);
    let pattern = match kind & 0x7f {
        0 => Pattern::Contains(text),
        1 => Pattern::Prefix(text),
        2 => Pattern::Full(text),
        3 => Pattern::Regex(regex::escape(&text)),
        4 => Pattern::Regex(text),
        _ => Pattern::Regex(format!(
            "{}.*{}",
            regex::escape(&text[..half]),
            regex::escape(&text[half..])
        )),
    };
    let location = match location % 5 {
        0 => Location::Response,
        1 => Location::Body,
        2 => Location::Header("location".into()),
        3 => Location::Header("server".into()),
        // A header name as a user may spell it: responses' names match in any case.
        _ => Location::Header("Location".into()),
    };
    Signature {
        id: format!("fuzz_{i}"),
        set: "fuzz".into(),
        country: None,
        source: "fuzz".into(),
        false_positive: kind & 0x80 != 0,
        location,
        pattern,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, mut rest)) = data.split_first() else {
        return;
    };
    let mut set = SignatureSet::new("fuzz");
    for i in 0..usize::from(n % 16) + 1 {
        let [kind, location, len, tail @ ..] = rest else {
            return;
        };
        let len = usize::from(*len % 48).min(tail.len());
        let (text, tail) = tail.split_at(len);
        set.entries.push(signature(
            i,
            *kind % 6 | *kind & 0x80,
            *location,
            String::from_utf8_lossy(text).into_owned(),
        ));
        rest = tail;
    }
    let Ok(sigs) = Signatures::from_sets(vec![set]) else {
        return;
    };
    let Ok(reference) = ReferenceMatcher::new(sigs.db().signatures()) else {
        return;
    };
    let response = rest;
    let head = http_response(response);
    let headers = head.as_ref().map(|h| h.headers.clone()).unwrap_or_default();
    for start in [
        head.as_ref().and_then(|h| h.head_len),
        head.as_ref().map(|h| h.head_len.unwrap_or(response.len())),
        None,
    ] {
        let got = sigs.db().match_http(response, start, &headers);
        let want = reference.verdict(response, start, &headers);
        assert_eq!(got, want, "body from {start:?}");
    }
});
