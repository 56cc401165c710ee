//! Throttling: the lab's policed download (128 kbit/s, drops above the rate)
//! is found against the same server's unthrottled download, while the server
//! that sends slowly by itself (its own rate limit, no loss) is not; in the
//! benign public captures the long transfers (counted, so the test cannot pass
//! by seeing none) are not accused, slow or lossy as some are.

mod common;

use std::path::Path;

use tamperscope::{Analyzer, Config};

#[test]
fn lab_policer_found_slow_server_not() {
    let cap = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/lab/captures/throttle.pcap");
    let r = common::analyze(&cap);
    let t: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.kind == "throttling")
        .collect();
    for f in &t {
        eprintln!("{}:{} {:?}", f.src_ip, f.src_port, f.evidence);
    }
    assert_eq!(t.len(), 1, "one policed flow");
    let e = &t[0].evidence;
    assert_eq!(t[0].src_port, 27064);
    assert_eq!(e["path_reference"], "same_server");
    let g = e["goodput_kbit_s"].as_f64().unwrap();
    assert!((100.0..160.0).contains(&g), "policed at ~128 kbit/s: {g}");
    assert!(e["slower_by"].as_f64().unwrap() >= 8.0);
    assert_eq!(t[0].trigger.as_ref().unwrap()["sni"], "xakep.example");
}

#[test]
fn benign_transfers_are_not_accused() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let analyzer = Analyzer::new(Config::default().threads(1));
    let mut transfers = 0usize;
    let mut found = Vec::new();
    for p in common::benign_captures(&corpus) {
        let Ok(r) = analyzer.analyze_path(&p) else {
            continue;
        };
        transfers += r
            .flows
            .iter()
            .filter(|f| f.proto == "tcp" && f.bytes_toclient >= 32 * 1024)
            .count();
        for f in r.findings.iter().filter(|f| f.kind == "throttling") {
            found.push(format!(
                "{} {}:{} {}",
                p.strip_prefix(&corpus).unwrap_or(&p).display(),
                f.dest_ip,
                f.dest_port,
                serde_json::Value::Object(f.evidence.clone())
            ));
        }
    }
    eprintln!(
        "{transfers} TCP transfers of 32 KiB or more, {} throttling findings",
        found.len()
    );
    for l in &found {
        eprintln!("  {l}");
    }
    assert!(transfers >= 100, "too few transfers: {transfers}");
    assert!(found.is_empty());
}
