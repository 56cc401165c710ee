//! Throttling: the lab's policed download (128 kbit/s, drops above the rate)
//! is found against the same server's unthrottled download, while the server
//! that sends slowly by itself (its own rate limit, no loss) is not; in the
//! benign public captures the long transfers (counted, so the test cannot pass
//! by seeing none) are not accused, slow or lossy as some are. The lab's
//! policed TLS handshake (a page too small to have a rate) is found in its
//! handshake, and the benign captures' TLS handshakes (counted too) are not.

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

/// The lab's policed handshake (`tls-throttle`: a small page under a listed
/// name, the server's data segments above one every 2 s dropped, as
/// Kazakhstan's 2022 throttling showed in OONI's handshake times): found in
/// the TLS handshake, with the frames Wireshark shows (ClientHello 23,
/// ServerHello 25, the client's answer 29 once the dropped half of the flight
/// came back 3.3 s later), against the same server's handshake under another
/// name; the two controls, before and after, are not accused.
#[test]
fn lab_policed_handshake_found() {
    let cap = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/lab/captures/tls-throttle.pcap");
    for threads in [1, 2] {
        let r = Analyzer::new(Config::default().threads(threads))
            .analyze_path(&cap)
            .expect("capture");
        assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
        let t = &r.findings[0];
        assert_eq!((t.kind, t.src_port), ("throttling", 25554));
        assert_eq!(t.frames, vec![23, 25, 29]);
        let e = &t.evidence;
        assert_eq!(e["stage"], "tls_handshake");
        assert!(e["handshake_s"].as_f64().unwrap() >= 2.0, "{e:?}");
        assert!(e["server_flight_stall_s"].as_f64().unwrap() >= 1.0, "{e:?}");
        assert!(e["slower_by"].as_f64().unwrap() >= 8.0);
        let control = e["same_server_handshake"]["flow_id"].as_u64().unwrap();
        let control = r.flows.iter().find(|f| f.flow_id == control).unwrap();
        assert_eq!(control.src_port, 25459, "the handshake before it");
        assert_eq!(t.trigger.as_ref().unwrap()["sni"], "astrakhan-news.example");
    }
}

#[test]
fn benign_transfers_are_not_accused() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let analyzer = Analyzer::new(Config::default().threads(1));
    let mut transfers = 0usize;
    let mut handshakes = 0usize;
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
        // TLS flows whose server answered: each one's handshake is judged.
        handshakes += r
            .flows
            .iter()
            .filter(|f| f.app_proto == "tls" && f.pkts_toclient > 2)
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
        "{transfers} TCP transfers of 32 KiB or more, {handshakes} answered TLS flows, {} throttling findings",
        found.len()
    );
    for l in &found {
        eprintln!("  {l}");
    }
    assert!(transfers >= 100, "too few transfers: {transfers}");
    assert!(handshakes >= 100, "too few TLS handshakes: {handshakes}");
    assert!(found.is_empty());
}
