//! TLS interception (`tls.mitm`): the lab's Qaznet-style proxy is found on
//! every intercepted flow and on none of its controls; the benign public
//! captures' certificate chains (read, and counted, so the test cannot pass by
//! reading none) give no finding; a user's fingerprint and false-positive
//! entries work on a real chain whose fingerprint was computed independently.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use tamperscope::capture::Capture;
use tamperscope::eval::{KindScore, Truth, Verdict, score};
use tamperscope::flow::TO_CLIENT;
use tamperscope::proto::server_chain;
use tamperscope::signatures::{Signatures, from_toml};
use tamperscope::{Analyzer, Config};

const KIND: &str = "tls.mitm";

#[test]
fn lab_interception_found_without_false_alarms() {
    let mut kinds: BTreeMap<String, KindScore> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut rejected_seen = false;
    for tf in common::lab_truth_files() {
        let truth = Truth::load(&tf).expect("truth");
        let report = common::analyze(&tf.with_file_name(&truth.capture));
        for o in score(&report, &truth, &mut kinds) {
            if o.expected.iter().any(|k| k == KIND)
                && !o
                    .reported
                    .as_ref()
                    .is_some_and(|r| r.iter().any(|k| k == KIND))
            {
                problems.push(format!("{}: {} lacks {KIND}", truth.capture, o.flow));
            }
            if o.verdict == Verdict::FalseAlarm {
                problems.push(format!(
                    "{}: false alarm {} {:?}",
                    truth.capture, o.flow, o.reported
                ));
            }
        }
        for f in report.findings.iter().filter(|f| f.kind == KIND) {
            let e = &f.evidence;
            assert!(!e["matched"].as_array().unwrap().is_empty() || f.confidence < 0.9);
            assert!(f.frames.contains(&e["certificate_frame"].as_u64().unwrap()));
            assert!(e["chain"].as_array().is_some_and(|c| !c.is_empty()));
            if e["client_alert"] == "unknown_ca" {
                assert_eq!(e["client_rejected_chain"], true);
                assert_eq!(f.frames.len(), 2, "the alert's frame too");
                rejected_seen = true;
            }
        }
    }
    let s = kinds.get(KIND).cloned().unwrap_or_default();
    eprintln!(
        "{KIND}: hits {} misses {} false alarms {}",
        s.hits, s.misses, s.false_alarms
    );
    for p in &problems {
        eprintln!("  {p}");
    }
    assert!(s.hits >= 2, "lab interception not found");
    assert!(rejected_seen, "the lab flow whose client rejects the chain");
    assert!(problems.is_empty(), "{} problems", problems.len());
}

/// Server chains in the benign corpus: how many were read, and no finding.
#[test]
fn benign_chains_stay_clean() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let analyzer = Analyzer::new(Config::default().threads(1));
    let (mut chains, mut certs, mut tls_flows) = (0usize, 0usize, 0usize);
    let mut found = Vec::new();
    for p in common::benign_captures(&corpus) {
        let Ok(r) = analyzer.analyze_path(&p) else {
            continue;
        };
        let tls = r.flows.iter().filter(|f| f.app_proto == "tls").count();
        if tls == 0 {
            continue;
        }
        tls_flows += tls;
        if let Ok(cap) = Capture::open(&p, 1 << 32) {
            for f in analyzer.flows(&cap) {
                if let Some(c) = server_chain(f.dirs[TO_CLIENT].stream.bytes()) {
                    chains += 1;
                    certs += c.certificates.len();
                }
            }
        }
        for f in r.findings.iter().filter(|f| f.kind == KIND) {
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
        "{tls_flows} TLS flows, {chains} server chains read ({certs} certificates), {} {KIND} findings",
        found.len()
    );
    for l in &found {
        eprintln!("  {l}");
    }
    assert!(chains > 100, "too few chains read: {chains}");
    assert!(found.is_empty());
}

/// A user's list: the SHA-256 of the leaf Google served in Zeek's
/// `chrome-34-google.pcap` (computed with `tshark -e
/// tls.handshake.certificate | xxd -r -p | sha256sum`, written with colons
/// and in upper case as browsers show it) is found, at the frame that starts
/// the Certificate message; a false-positive entry for its issuer silences
/// it.
#[test]
fn user_fingerprint_and_false_positive() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let cap = corpus.join("zeek__zeek/testing/btest/Traces/tls/chrome-34-google.pcap");
    if !cap.exists() {
        eprintln!("skipped: {} absent", cap.display());
        return;
    }
    let fp = "EE:62:3E:2C:27:00:FE:20:DD:9F:B1:AC:6E:D5:20:3A:C7:57:34:90:B5:31:C8:B8:E9:B6:B4:8D:3D:DF:5B:8B";
    let sig = format!(
        "[set]\nname = \"user\"\n\n[[signature]]\nid = \"my_leaf\"\nsource = \"test\"\nlocation = \"certificate.sha256\"\nmatch = \"full\"\npattern = \"{fp}\"\n"
    );
    let run = |text: &str| {
        let set = from_toml(text).expect("toml");
        assert!(set.rejected.is_empty(), "{:?}", set.rejected);
        let s = Signatures::from_sets(vec![set]).expect("compile");
        let a = Analyzer::new(Config::default().threads(1).signatures(s));
        a.analyze_path(Path::new(&cap)).expect("capture")
    };
    let r = run(&sig);
    let f: Vec<_> = r.findings.iter().filter(|f| f.kind == KIND).collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].confidence, 0.97);
    assert_eq!(f[0].frames, vec![6]);
    assert_eq!(
        f[0].evidence["matched"][0]["matched_in"],
        "certificate.sha256"
    );
    assert_eq!(f[0].evidence["matched"][0]["certificate"], 0);
    assert_eq!(f[0].trigger.as_ref().unwrap()["sni"], "google.de");

    let silenced = format!(
        "{sig}\n[[signature]]\nid = \"google_ia\"\nsource = \"test\"\nfalse_positive = true\nlocation = \"certificate.issuer\"\nmatch = \"full\"\npattern = \"CN=Google Internet Authority G2, O=Google Inc, C=US\"\n"
    );
    let r = run(&silenced);
    assert!(r.findings.iter().all(|f| f.kind != KIND));
}
