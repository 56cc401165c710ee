//! How far the one-pass goal of issue 5 (2,000 signatures at most 3× the cost
//! of 1) is from what the reference multi-pattern engine does on this machine.
//!
//! Hyperscan (Intel; what Suricata matches its rules with) compiles the same
//! 2,000 published signatures — Censored Planet's false positives and block
//! pages, then OONI's HTTP fingerprints, as `benches/signatures.rs` loads
//! them — into one database, and scans the same server streams (lab captures
//! and Zeek's HTTP traces). Every figure is per response, the median of
//! alternating rounds, measured side by side in one run:
//!
//! - tamperscope: head parse + `match_http`, with 1 signature and with 2,000;
//! - Hyperscan: the same head parse + one scan of the response, with the one
//!   literal and with every pattern it compiles (a `contains`, `prefix` or
//!   `full` as a literal, a regex as itself with dot-all; header patterns are
//!   scanned over the whole response, which is no more work than a scan per
//!   header; patterns Hyperscan refuses are counted and left out).
//!
//! Run: `apt-get install libhyperscan-dev && cargo run --release` here.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hyperscan::prelude::*;
use tamperscope::proto::http_response;
use tamperscope::signatures::{
    Location, Pattern as SigPattern, Signature, SignatureSet, Signatures,
};

#[path = "../../../common/signature_inputs.rs"]
mod signature_inputs;

const ROUNDS: usize = 9;
const REPEAT: usize = 30;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

fn one_signature() -> Signature {
    Signature {
        id: "one".into(),
        set: "one".into(),
        country: None,
        source: "bench".into(),
        false_positive: false,
        location: Location::Body,
        pattern: SigPattern::Contains("Страница заблокирована".into()),
    }
}

/// A literal as a Hyperscan expression: every byte escaped.
fn literal(s: &str) -> String {
    s.bytes().map(|b| format!("\\x{b:02x}")).collect()
}

/// One Hyperscan database of every HTTP pattern it accepts; returns it and
/// how many it refused.
fn hyperscan_db(sigs: &[Signature]) -> (BlockDatabase, usize) {
    let mut ok = Vec::new();
    let mut refused = 0;
    for (i, s) in sigs.iter().enumerate() {
        if !matches!(
            s.location,
            Location::Response | Location::Body | Location::Header(_)
        ) {
            continue;
        }
        let expr = match &s.pattern {
            SigPattern::Contains(t) | SigPattern::Prefix(t) | SigPattern::Full(t) => {
                if t.trim().is_empty() {
                    continue;
                }
                literal(t)
            }
            SigPattern::Regex(r) => r.clone(),
            _ => continue,
        };
        let Ok(mut p) = Pattern::with_flags(expr, CompileFlags::DOTALL) else {
            refused += 1;
            continue;
        };
        p.id = Some(i);
        // A pattern Hyperscan cannot compile (back-references, some
        // look-arounds) is counted and left out.
        let alone: Result<BlockDatabase, _> = p.build();
        if alone.is_err() {
            refused += 1;
            continue;
        }
        ok.push(p);
    }
    let db = Patterns(ok)
        .build()
        .expect("patterns that compiled alone compile together");
    (db, refused)
}

fn theirs(db: &BlockDatabase, scratch: &Scratch, resps: &[Vec<u8>], parse: bool) -> usize {
    let mut n = 0;
    for r in resps {
        if parse {
            std::hint::black_box(http_response(r));
        }
        db.scan(r, scratch, |_, _, _, _| {
            n += 1;
            Matching::Continue
        })
        .expect("scan");
    }
    n
}

/// ns per response of `f` over `REPEAT` passes of `resps`.
fn per_response(resps: &[Vec<u8>], mut f: impl FnMut() -> usize) -> f64 {
    let t = Instant::now();
    for _ in 0..REPEAT {
        std::hint::black_box(f());
    }
    t.elapsed().as_nanos() as f64 / (REPEAT * resps.len()) as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let resps = signature_inputs::responses(&root());
    let Some(set) = signature_inputs::published(&root()) else {
        println!("skipped: ../shared/signature-data (Censored Planet and OONI sets) is absent");
        return;
    };
    if resps.is_empty() {
        println!("skipped: no HTTP responses in testdata/lab/captures or the Zeek corpus");
        return;
    }
    let bytes: usize = resps.iter().map(Vec::len).sum();
    let one = vec![one_signature()];
    let our_one = Signatures::from_sets(vec![SignatureSet {
        entries: one.clone(),
        ..SignatureSet::new("one")
    }])
    .expect("one signature");
    let our_many = Signatures::from_sets(vec![set.clone()]).expect("2,000 signatures");
    let (hs_one, _) = hyperscan_db(&one);
    let (hs_many, refused) = hyperscan_db(&set.entries);
    let s_one = hs_one.alloc_scratch().expect("scratch");
    let s_many = hs_many.alloc_scratch().expect("scratch");
    println!(
        "{} responses ({} bytes, {} on average); {} signatures; Hyperscan refused {}",
        resps.len(),
        bytes,
        bytes / resps.len(),
        set.entries.len(),
        refused
    );
    // Warm up every side once, then alternate.
    let mut rows: Vec<[f64; 6]> = Vec::new();
    for round in 0..=ROUNDS {
        let r = [
            per_response(&resps, || signature_inputs::match_all(&our_one, &resps)),
            per_response(&resps, || signature_inputs::match_all(&our_many, &resps)),
            per_response(&resps, || theirs(&hs_one, &s_one, &resps, true)),
            per_response(&resps, || theirs(&hs_many, &s_many, &resps, true)),
            per_response(&resps, || theirs(&hs_one, &s_one, &resps, false)),
            per_response(&resps, || theirs(&hs_many, &s_many, &resps, false)),
        ];
        if round > 0 {
            rows.push(r);
        }
    }
    let col = |i: usize| median(rows.iter().map(|r| r[i]).collect());
    let ratio = |a: usize, b: usize| median(rows.iter().map(|r| r[a] / r[b]).collect());
    println!("per response, median of {ROUNDS} alternating rounds (ns):");
    println!(
        "  tamperscope (head parse + match_http): 1 signature {:.0}, 2,000 {:.0}: 2,000 / 1 = {:.2}",
        col(0),
        col(1),
        ratio(1, 0)
    );
    println!(
        "  Hyperscan   (head parse + one scan):   1 signature {:.0}, 2,000 {:.0}: 2,000 / 1 = {:.2}",
        col(2),
        col(3),
        ratio(3, 2)
    );
    println!(
        "  Hyperscan   (scan only):               1 signature {:.0}, 2,000 {:.0}: 2,000 / 1 = {:.2}",
        col(4),
        col(5),
        ratio(5, 4)
    );
    println!(
        "  Hyperscan's 2,000-signature scan alone / tamperscope's whole 1-signature match = {:.2} (the 3x goal leaves 3.00 for parse and scan together)",
        ratio(5, 0)
    );
    println!(
        "  tamperscope 2,000 / Hyperscan 2,000 (both with head parse) = {:.2}",
        ratio(1, 3)
    );
}
