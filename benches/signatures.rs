//! Cost of block-page matching per HTTP response: head parse plus one pass of
//! the signature matcher, with 1 signature loaded and with 2,000 (Censored
//! Planet's block pages and false positives, then OONI's HTTP fingerprints; or
//! generated literals and regexes when those files are absent), and with the
//! built-in sets alone (the default). The matcher is
//! meant to cost about the same either way: it scans each response once.
//!
//! The responses are the server streams of the HTTP flows of the lab captures
//! and of Zeek's HTTP traces (when the corpus is present).

#[path = "common/signature_inputs.rs"]
mod signature_inputs;

use std::path::Path;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tamperscope::signatures::{Location, Pattern, Signature, SignatureSet, Signatures};

/// The responses, with a generated page when none is found.
fn responses() -> Vec<Vec<u8>> {
    let mut out = signature_inputs::responses(Path::new(env!("CARGO_MANIFEST_DIR")));
    if out.is_empty() {
        let body = "<p>ordinary page text</p>".repeat(80);
        out.push(format!("HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n{body}").into_bytes());
    }
    out
}

fn sig(i: usize, location: Location, pattern: Pattern) -> Signature {
    Signature {
        id: format!("gen_{i}"),
        set: "generated".into(),
        country: None,
        source: "bench".into(),
        false_positive: false,
        location,
        pattern,
    }
}

/// 2,000 HTTP signatures: the published sets when present, else generated.
fn many() -> Vec<SignatureSet> {
    let mut set = signature_inputs::published(Path::new(env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|| SignatureSet::new("bench"));
    let mut i = set.entries.len();
    while set.entries.len() < 2000 {
        let p = match i % 4 {
            0 => sig(
                i,
                Location::Body,
                Pattern::Contains(format!("blocked by filter {i:05}")),
            ),
            1 => sig(
                i,
                Location::Response,
                Pattern::Regex(format!("Access denied \\(code {i}\\).*policy")),
            ),
            2 => sig(
                i,
                Location::Header("location".into()),
                Pattern::Prefix(format!("http://10.{}.{}.1/", i % 250, i / 250)),
            ),
            _ => sig(
                i,
                Location::Header("server".into()),
                Pattern::Full(format!("Filter{i}")),
            ),
        };
        set.entries.push(p);
        i += 1;
    }
    set.entries.truncate(2000);
    vec![set]
}

fn one() -> Vec<SignatureSet> {
    let mut set = SignatureSet::new("one");
    set.entries.push(sig(
        0,
        Location::Body,
        Pattern::Contains("Страница заблокирована".into()),
    ));
    vec![set]
}

fn per_response_ns(sigs: &Signatures, resps: &[Vec<u8>]) -> f64 {
    let rounds = 50;
    let t = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(signature_inputs::match_all(sigs, resps));
    }
    t.elapsed().as_nanos() as f64 / (rounds * resps.len()) as f64
}

fn bench(c: &mut Criterion) {
    let resps = responses();
    let bytes: usize = resps.iter().map(Vec::len).sum();
    let one = Signatures::from_sets(one()).expect("one signature");
    let many = Signatures::from_sets(many()).expect("2,000 signatures");
    eprintln!(
        "{} responses ({} bytes); {} signatures, {} regexes without a literal",
        resps.len(),
        bytes,
        many.db().signatures().len(),
        many.db().unfiltered_regexes()
    );
    // Warm up, then a direct ratio from alternating rounds (the median of
    // nine: this machine is shared and noisy; criterion's numbers below say
    // the same more slowly).
    per_response_ns(&one, &resps);
    per_response_ns(&many, &resps);
    let mut rounds: Vec<(f64, f64)> = (0..9)
        .map(|_| {
            (
                per_response_ns(&one, &resps),
                per_response_ns(&many, &resps),
            )
        })
        .collect();
    let least = |f: fn(&(f64, f64)) -> f64| rounds.iter().map(f).fold(f64::INFINITY, f64::min);
    let (min_a, min_b) = (least(|r| r.0), least(|r| r.1));
    rounds.sort_by(|x, y| (x.1 / x.0).total_cmp(&(y.1 / y.0)));
    let (a, b) = rounds[rounds.len() / 2];
    eprintln!(
        "per response (median of {} alternating rounds): {a:.0} ns with 1 signature, {b:.0} ns with 2,000: ratio {:.2} (rounds {:.2}..{:.2}; fastest rounds {min_a:.0} and {min_b:.0} ns: {:.2}); {:.0} ns with the built-in sets",
        rounds.len(),
        b / a,
        rounds[0].1 / rounds[0].0,
        rounds[rounds.len() - 1].1 / rounds[rounds.len() - 1].0,
        min_b / min_a,
        per_response_ns(&Signatures::builtin(), &resps)
    );
    let mut g = c.benchmark_group("signatures");
    g.throughput(Throughput::Elements(resps.len() as u64));
    g.bench_function("match_1", |bch| {
        bch.iter(|| signature_inputs::match_all(&one, &resps))
    });
    g.bench_function("match_2000", |bch| {
        bch.iter(|| signature_inputs::match_all(&many, &resps))
    });
    // The default: the built-in sets only (what `analyze` matches without
    // `--signatures`).
    let builtin = Signatures::builtin();
    g.bench_function("match_builtin", |bch| {
        bch.iter(|| signature_inputs::match_all(&builtin, &resps))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
