//! Block pages, injected HTTP responses, DNS injection and DNS manipulation:
//! recall on the lab (and on `TAMPERSCOPE_LAB`), real censorship (CenTrace), real
//! benign traces that look alike (Zeek's two DNS responses, censorlab's
//! requests without answers), and the false-alarm rate on benign public traffic.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use tamperscope::eval::{KindScore, Truth, Verdict, score};
use tamperscope::signatures::Signatures;
use tamperscope::{Analyzer, Config};

const KINDS: [&str; 4] = [
    "http.blockpage",
    "http.injected_response",
    "dns.injection",
    "dns.manipulation",
];

/// Every block page, injected response, DNS injection and DNS manipulation of
/// the lab is found; no flow the lab marks clean gets any finding.
#[test]
fn lab_blockpages_and_dns_found_without_false_alarms() {
    let mut kinds: BTreeMap<String, KindScore> = BTreeMap::new();
    let mut problems = Vec::new();
    for tf in common::lab_truth_files() {
        let truth = Truth::load(&tf).expect("truth");
        let report = common::analyze(&tf.with_file_name(&truth.capture));
        for o in score(&report, &truth, &mut kinds) {
            let ours = o.expected.iter().any(|k| KINDS.contains(&k.as_str()));
            // Our kinds must each be reported where expected, not just one of
            // the expected kinds.
            if ours {
                for k in o.expected.iter().filter(|k| KINDS.contains(&k.as_str())) {
                    if !o.reported.as_ref().is_some_and(|r| r.contains(k)) {
                        problems.push(format!(
                            "{}: {} lacks {k} (reported {:?})",
                            truth.capture, o.flow, o.reported
                        ));
                    }
                }
            }
            if o.verdict == Verdict::FalseAlarm {
                problems.push(format!(
                    "{}: false alarm {} {:?}",
                    truth.capture, o.flow, o.reported
                ));
            }
        }
    }
    for k in KINDS {
        let s = kinds.get(k).cloned().unwrap_or_default();
        eprintln!(
            "{k:<24} hits {:>3} misses {:>3} false alarms {:>3}",
            s.hits, s.misses, s.false_alarms
        );
        assert!(s.hits > 0, "{k}: no lab flow found");
    }
    for p in &problems {
        eprintln!("  {p}");
    }
    assert!(problems.is_empty(), "{} problems", problems.len());
}

/// CenTrace's bglad.com capture (a forged 302 to a block page, TTL 46-47 where
/// the handshake had 42-43, DF cleared) is flagged; its control (a genuine 302
/// to another site, then FIN) is not.
#[test]
fn centrace_bglad_redirect() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("censoredplanet__CenTrace/testdata");
    let r = common::analyze(&dir.join("62.28.164.41_www.bglad.com_www.bglad.com.pcap"));
    let inj: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.kind == "http.injected_response")
        .collect();
    for f in &inj {
        eprintln!("{} {:?} {:?}", f.kind, f.frames, f.evidence);
    }
    assert!(!inj.is_empty(), "bglad.com redirect not flagged");
    assert!(inj.iter().all(|f| {
        f.evidence["status"] == 302
            && f.evidence["location"]
                .as_str()
                .is_some_and(|l| l.contains("redirect.cgi"))
            && f.trigger
                .as_ref()
                .is_some_and(|t| t["http_host"] == "www.bglad.com")
    }));
    let control = common::analyze(&dir.join("62.28.164.41_www.bglad.com_example.com.pcap"));
    let ours: Vec<_> = control
        .findings
        .iter()
        .filter(|f| KINDS.contains(&f.kind))
        .collect();
    assert!(ours.is_empty(), "control flagged: {ours:?}");
}

/// Traces that look like injection but are not: Zeek's two identical DNS
/// answers, censorlab's keyword and DNS captures (requests without answers,
/// connections joined mid-stream).
#[test]
fn lookalike_traces_stay_clean() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mut paths = vec![corpus.join("zeek__zeek/testing/btest/Traces/dns-two-responses.pcap")];
    for e in [
        "01_http_keyword",
        "02_dns_injection",
        "03_tls_sni",
        "04_shadowsocks",
    ] {
        paths.push(corpus.join(format!(
            "SPIN-UMass__censorlab/experiments/{e}/pcap/test.pcap"
        )));
    }
    for p in paths {
        if !p.is_file() {
            eprintln!("SKIPPED: {} absent", p.display());
            continue;
        }
        let r = common::analyze(&p);
        let ours: Vec<_> = r
            .findings
            .iter()
            .filter(|f| KINDS.contains(&f.kind))
            .collect();
        eprintln!(
            "{}: {} flows, {} findings of ours",
            p.display(),
            r.flows.len(),
            ours.len()
        );
        assert!(ours.is_empty(), "{}: {ours:?}", p.display());
    }
}

/// On benign public traffic (nDPI, Zeek, suricata-verify) these detectors raise
/// at most 1 finding per 1,000 HTTP/DNS flows; every finding is printed for
/// review.
#[test]
fn benign_corpus_false_alarm_rate() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let analyzer = Analyzer::new(Config::default().threads(1));
    let (mut flows, mut files) = (0u64, 0u64);
    let mut found: Vec<String> = Vec::new();
    for p in common::benign_captures(&corpus) {
        let Ok(r) = analyzer.analyze_path(&p) else {
            continue;
        };
        files += 1;
        flows += r
            .flows
            .iter()
            .filter(|f| matches!(f.app_proto, "http" | "dns"))
            .count() as u64;
        for f in r.findings.iter().filter(|f| KINDS.contains(&f.kind)) {
            found.push(format!(
                "{} {} {}:{} frames {:?} {}",
                f.kind,
                p.strip_prefix(&corpus).unwrap_or(&p).display(),
                f.dest_ip,
                f.dest_port,
                f.frames,
                serde_json::Value::Object(f.evidence.clone())
            ));
        }
    }
    let rate = 1000.0 * found.len() as f64 / flows.max(1) as f64;
    eprintln!(
        "{files} benign captures, {flows} HTTP/DNS flows, {} findings ({rate:.2} per 1,000)",
        found.len()
    );
    for l in &found {
        eprintln!("  {l}");
    }
    assert!(flows > 2000, "too few HTTP/DNS flows: {flows}");
    assert!(
        rate <= 1.0,
        "false-alarm rate {rate:.2} per 1,000 HTTP/DNS flows"
    );
}

/// With Censored Planet's and OONI's sets loaded too, the lab's block pages are
/// still found and its clean flows stay clean.
#[test]
fn published_sets_leave_the_lab_verdicts_alone() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/signature-data");
    if !data.is_dir() {
        eprintln!("SKIPPED: signature data absent");
        return;
    }
    let cp = data.join("censoredplanet__censoredplanet-analysis");
    let ooni = data.join("ooni__blocking-fingerprints");
    let sigs = Signatures::with_files(&[
        &cp.join("false_positive_signatures.json"),
        &cp.join("blockpage_signatures.json"),
        &ooni.join("fingerprints_http.csv"),
        &ooni.join("fingerprints_dns.csv"),
    ])
    .expect("signature files load");
    let a = Analyzer::new(Config::default().threads(1).signatures(sigs));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/lab/captures");
    let mut kinds: BTreeMap<String, KindScore> = BTreeMap::new();
    for name in [
        "http-blockpage",
        "http-dnat",
        "dns-injection",
        "dns-manipulation",
    ] {
        let truth = Truth::load(&dir.join(format!("{name}.truth.json"))).expect("truth");
        let report = a.analyze_path(&dir.join(&truth.capture)).expect("capture");
        for o in score(&report, &truth, &mut kinds) {
            assert!(
                matches!(o.verdict, Verdict::Hit | Verdict::Clean),
                "{name}: {} {:?} {:?}",
                o.flow,
                o.verdict,
                o.reported
            );
        }
    }
}
