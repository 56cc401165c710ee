//! Frame counts agree with Wireshark's capinfos on every capture of the public
//! corpus whose MANIFEST row has a packet count.

mod common;

use tamperscope::{Analyzer, Config};

/// Captures where our count differs from capinfos on purpose, with the reason.
const EXCEPTIONS: &[(&str, &str)] = &[(
    "ntop__nDPI/tests/cfgs/default/pcap/fuzz-2021-10-13.pcap",
    "a fuzzed 239-byte file whose only record claims 524,501 captured bytes (and a \
     nanosecond field above 10^9): the record is not complete, so it is not a frame; \
     we stop with `corrupt` and report the 215 unread bytes",
)];

#[test]
fn frame_counts_match_capinfos() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let rows = common::manifest(&corpus);
    let analyzer = Analyzer::new(Config::default().threads(1));
    let (mut agree, mut total) = (0, 0);
    let mut failures = Vec::new();
    for row in rows.iter().filter(|r| r.packets.is_some()) {
        let expected = row.packets.unwrap_or_default();
        total += 1;
        let path = corpus.join(&row.path);
        let got = match analyzer.analyze_path(&path) {
            Ok(r) => r.stats.frames,
            Err(e) => {
                failures.push(format!("{}: error {e} (capinfos: {expected})", row.path));
                continue;
            }
        };
        if got == expected {
            agree += 1;
        } else if let Some((_, why)) = EXCEPTIONS.iter().find(|(p, _)| *p == row.path) {
            eprintln!(
                "exception {}: ours {got}, capinfos {expected}: {why}",
                row.path
            );
            agree += 1;
        } else {
            failures.push(format!(
                "{} [{}]: ours {got}, capinfos {expected}",
                row.path, row.format
            ));
        }
    }
    eprintln!("frame counts: {agree}/{total} agree with capinfos");
    for f in &failures {
        eprintln!("  MISMATCH {f}");
    }
    assert!(failures.is_empty(), "{} captures disagree", failures.len());
}
