//! TCP tampering detectors (`tcp.injected_rst`, `tcp.blackhole`, `blackout`):
//! recall on the lab, real censorship (CenTrace), Zeek's injected-RST trace, the
//! suricata-verify map, and the false-alarm rate on benign public traffic.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use tamperscope::eval::{KindScore, Truth, Verdict, score};
use tamperscope::{Analyzer, Config};

const TCP_KINDS: [&str; 3] = ["tcp.injected_rst", "tcp.blackhole", "blackout"];

/// Every injected reset and silent drop of the lab is found, and no flow the lab
/// marks clean gets any finding.
#[test]
fn lab_resets_and_drops_found_without_false_alarms() {
    let mut kinds: BTreeMap<String, KindScore> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut truths = 0;
    for tf in common::lab_truth_files() {
        truths += 1;
        let truth = Truth::load(&tf).expect("truth");
        let report = common::analyze(&tf.with_file_name(&truth.capture));
        for o in score(&report, &truth, &mut kinds) {
            let tcp_expected = o.expected.iter().any(|k| TCP_KINDS.contains(&k.as_str()));
            match o.verdict {
                Verdict::FalseAlarm => problems.push(format!(
                    "{}: false alarm {} {:?}",
                    truth.capture, o.flow, o.reported
                )),
                Verdict::Miss if tcp_expected => problems.push(format!(
                    "{}: missed {} expected {:?}",
                    truth.capture, o.flow, o.expected
                )),
                Verdict::Absent => problems.push(format!(
                    "{}: flow {} not in the analysis",
                    truth.capture, o.flow
                )),
                _ => {}
            }
        }
    }
    for k in TCP_KINDS {
        if let Some(s) = kinds.get(k) {
            eprintln!(
                "{k:<18} hits {:>3} misses {:>3} false alarms {:>3}",
                s.hits, s.misses, s.false_alarms
            );
        }
    }
    for p in &problems {
        eprintln!("  {p}");
    }
    assert!(truths > 0, "no truth files found");
    assert!(problems.is_empty(), "{} problems", problems.len());
}

/// CenTrace's real censorship captures: every `tamper` capture gets a finding, every
/// `clean` one none.
#[test]
fn centrace_labels() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("censoredplanet__CenTrace");
    let labels = std::fs::read_to_string(dir.join("labels.tsv")).expect("labels.tsv");
    let mut wrong = Vec::new();
    eprintln!("{:<70} {:<9} findings", "capture", "label");
    for line in labels.lines().filter(|l| !l.starts_with('#')) {
        let c: Vec<&str> = line.split('\t').collect();
        if c.len() < 2 {
            continue;
        }
        let r = common::analyze(&dir.join(c[0]));
        let kinds: std::collections::BTreeSet<&str> = r.findings.iter().map(|f| f.kind).collect();
        eprintln!("{:<70} {:<9} {} {:?}", c[0], c[1], r.findings.len(), kinds);
        match c[1] {
            "tamper" if r.findings.is_empty() => wrong.push(format!("{}: no finding", c[0])),
            "clean" if !r.findings.is_empty() => wrong.push(format!("{}: {:?}", c[0], kinds)),
            _ => {}
        }
    }
    assert!(wrong.is_empty(), "{wrong:?}");
}

/// Zeek's rst-inject-rae.pcap: frame 2 (TTL 46 where the server's packets have 49,
/// IP ID equal to the client's SYN) is flagged; the genuine server resets, frames
/// 7 and 9 (TTL 49, window 0), are not.
#[test]
fn zeek_rst_inject_rae() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let r =
        common::analyze(&corpus.join("zeek__zeek/testing/btest/Traces/tcp/rst-inject-rae.pcap"));
    let f = r
        .findings
        .iter()
        .find(|f| f.kind == "tcp.injected_rst")
        .expect("finding");
    let forged: Vec<u64> =
        serde_json::from_value(f.evidence["forged_frames"].clone()).expect("forged_frames");
    eprintln!(
        "frames {:?} forged {forged:?} evidence {:?}",
        f.frames, f.evidence
    );
    assert_eq!(forged, vec![2]);
    assert!(f.frames.contains(&2) && !f.frames.contains(&7) && !f.frames.contains(&9));
    assert_eq!(f.evidence["ttl_seen"], serde_json::json!([46]));
}

/// The suricata-verify test directories map to the kinds committed in
/// `testdata/suricata-verify-expected.tsv`.
#[test]
fn suricata_verify_map() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let base = corpus.join("OISF__suricata-verify/tests");
    let tsv = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/suricata-verify-expected.tsv"),
    )
    .expect("tsv");
    let (mut checked, mut wrong) = (0, Vec::new());
    for line in tsv.lines().filter(|l| !l.starts_with('#')) {
        let c: Vec<&str> = line.split('\t').collect();
        assert_eq!(c.len(), 3, "bad row {line}");
        assert!(!c[2].trim().is_empty(), "row without reason: {line}");
        let dir = base.join(c[0]);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let expected: Vec<&str> = if c[1] == "-" {
            vec![]
        } else {
            c[1].split(',').collect()
        };
        let mut got = std::collections::BTreeSet::new();
        for p in rd.flatten().map(|e| e.path()) {
            if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            ) {
                if let Ok(r) = Analyzer::new(Config::default().threads(1)).analyze_path(&p) {
                    got.extend(
                        r.findings
                            .iter()
                            .map(|f| f.kind)
                            .filter(|k| TCP_KINDS.contains(k)),
                    );
                }
            }
        }
        checked += 1;
        let got: Vec<&str> = got.into_iter().collect();
        if got != expected {
            wrong.push(format!("{}: expected {expected:?}, got {got:?}", c[0]));
        }
    }
    eprintln!("{checked} suricata-verify directories checked");
    for w in &wrong {
        eprintln!("  {w}");
    }
    assert!(checked > 300);
    assert!(wrong.is_empty(), "{} directories differ", wrong.len());
}

/// On benign public traffic the injected-RST detector raises at most 1 finding per
/// 1,000 TCP flows; every finding is printed for review.
#[test]
fn benign_corpus_false_alarm_rate() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let analyzer = Analyzer::new(Config::default().threads(1));
    let (mut tcp_flows, mut files) = (0u64, 0u64);
    let mut by_kind: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for p in common::benign_captures(&corpus) {
        let Ok(r) = analyzer.analyze_path(&p) else {
            continue;
        };
        files += 1;
        tcp_flows += r.flows.iter().filter(|f| f.proto == "tcp").count() as u64;
        for f in &r.findings {
            if TCP_KINDS.contains(&f.kind) {
                by_kind.entry(f.kind).or_default().push(format!(
                    "{} frames {:?} {}",
                    p.strip_prefix(&corpus).unwrap_or(&p).display(),
                    f.frames,
                    serde_json::Value::Object(f.evidence.clone())
                ));
            }
        }
    }
    eprintln!("{files} benign captures, {tcp_flows} TCP flows");
    for (k, list) in &by_kind {
        eprintln!(
            "{k}: {} findings ({:.2} per 1,000 TCP flows)",
            list.len(),
            1000.0 * list.len() as f64 / tcp_flows as f64
        );
        for l in list {
            eprintln!("  {l}");
        }
    }
    let rst = by_kind.get("tcp.injected_rst").map_or(0, Vec::len) as f64;
    assert!(tcp_flows > 5000);
    assert!(
        rst * 1000.0 / tcp_flows as f64 <= 1.0,
        "injected-RST false-alarm rate above 1 per 1,000 TCP flows"
    );
}
