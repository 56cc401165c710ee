//! The human summary (`analyze` without `--jsonl`) says what a reader needs
//! without the JSON: a verdict line, and for each finding what it means, the
//! name that triggered it, the frames to open in Wireshark and the evidence.

use std::path::Path;

use tamperscope::report::summary;
use tamperscope::{Analyzer, Config};

fn render(capture: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(capture);
    let r = Analyzer::new(Config::default().threads(1))
        .analyze_path(&p)
        .expect("capture");
    summary::render(&r)
}

#[test]
fn a_tampered_capture_is_explained() {
    let s = render("testdata/lab/captures/tls-sni-reset.pcap");
    eprintln!("{s}");
    assert!(s.contains(
        "verdict: evidence of tampering, shown by 1 of 2 flows (tcp.injected_rst, tls.interference)"
    ));
    assert!(s.contains("a TLS handshake killed after the ClientHello"));
    assert!(s.contains("sni cont-ws.example"));
    assert!(s.contains("frames 19, 21, 22"));
    assert!(s.contains("OONI: connection_reset"));
    assert!(s.contains("ttl_seen: 255"), "every evidence field is shown");
    assert!(s.contains("signals: multiple_stacks, no_timestamp_option, ttl_mismatch"));
}

#[test]
fn a_clean_capture_says_so() {
    let s = render("testdata/lab/captures/benign-traps.pcap");
    eprintln!("{s}");
    assert!(s.contains("verdict: no evidence of tampering in"), "{s}");
}

#[test]
fn many_findings_are_counted_and_the_first_explained() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/lab/captures/tls-sni-reset.pcap");
    let mut r = Analyzer::new(Config::default().threads(1))
        .analyze_path(&p)
        .expect("capture");
    let mut first = r.findings[0].clone();
    first.frames = (1..=100).collect();
    r.findings = vec![first; 130];
    let s = summary::render(&r);
    assert!(
        s.contains("tcp.injected_rst             130  (highest confidence 0.84)"),
        "{s}"
    );
    assert_eq!(s.matches("a TCP reset not sent by").count(), 50);
    assert!(s.contains("... 80 more findings: `--jsonl` lists them all"));
    assert!(s.contains("frames 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24 ... (100 in all)"));
}
