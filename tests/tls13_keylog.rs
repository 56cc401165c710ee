//! TLS 1.3 interception read with the client's key log: `testdata/tls13/`
//! holds two TLS 1.3 connections made by OpenSSL on loopback
//! (`testdata/tls13/make.sh`), one whose server presents a leaf under a root
//! named like Kazakhstan's interception root, one with an ordinary test
//! chain (both TLS_AES_128_GCM_SHA256), and the first again with
//! TLS_AES_256_GCM_SHA384 and with TLS_CHACHA20_POLY1305_SHA256, each with the
//! client's SSLKEYLOGFILE. Wireshark, given the same key
//! logs, shows the same certificates in frame 6 of each.

use std::path::{Path, PathBuf};

use tamperscope::flow::{TO_CLIENT, TO_SERVER};
use tamperscope::proto::{TlsKeyLog, tls13_server_certificates};
use tamperscope::report::{Finding, Report};
use tamperscope::{Analyzer, Config};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/tls13")
        .join(name)
}

fn keys(name: &str) -> TlsKeyLog {
    let k = TlsKeyLog::from_file(&data(name)).expect(name);
    assert_eq!(k.rejected, 0, "{name}");
    assert_eq!(k.len(), 1, "{name}: one connection's keys");
    k
}

fn analyze(capture: &str, keylog: Option<&str>) -> Report {
    let mut cfg = Config::default().threads(1);
    if let Some(k) = keylog {
        cfg = cfg.tls_keys(keys(k));
    }
    Analyzer::new(cfg)
        .analyze_path(&data(capture))
        .expect(capture)
}

fn mitm(r: &Report) -> Vec<&Finding> {
    r.findings.iter().filter(|f| f.kind == "tls.mitm").collect()
}

#[test]
fn interception_is_found_with_the_key_log_only() {
    let without = analyze("intercepted-tls13.pcap", None);
    assert!(
        mitm(&without).is_empty(),
        "no keys, no claim: {:?}",
        without.findings
    );

    let with = analyze("intercepted-tls13.pcap", Some("intercepted-tls13.keys"));
    let found = mitm(&with);
    assert_eq!(found.len(), 1, "{:?}", with.findings);
    let f = found[0];
    assert_eq!(
        f.frames,
        vec![6],
        "the frame Wireshark shows the Certificate in"
    );
    let ev = &f.evidence;
    assert_eq!(ev["decrypted_with"], "tls_key_log");
    let chain = ev["chain"].as_array().expect("chain");
    assert_eq!(chain.len(), 2, "leaf and root: {chain:?}");
    assert_eq!(chain[0]["subject"], "CN=blocked.example");
    assert_eq!(chain[0]["issuer"], "C=KZ, CN=Qaznet Trust Network");
    assert_eq!(chain[1]["subject"], "C=KZ, CN=Qaznet Trust Network");
    assert_eq!(ev["matched"][0]["signature_id"], "kz_qaznet_2019_root_name");

    // The same with TLS_AES_256_GCM_SHA384 (SHA-384 key schedule, AES-256)
    // and with TLS_CHACHA20_POLY1305_SHA256.
    for suite in ["aes256", "chacha20"] {
        let r = analyze(
            &format!("intercepted-tls13-{suite}.pcap"),
            Some(&format!("intercepted-tls13-{suite}.keys")),
        );
        let found = mitm(&r);
        assert_eq!(found.len(), 1, "{suite}: {:?}", r.findings);
        assert_eq!(
            found[0].evidence["chain"][1]["subject"],
            "C=KZ, CN=Qaznet Trust Network"
        );
    }

    // After a HelloRetryRequest (and its change_cipher_spec) the real
    // ServerHello comes a round trip later; the chain is read past both.
    let r = analyze(
        "intercepted-tls13-hrr.pcap",
        Some("intercepted-tls13-hrr.keys"),
    );
    let found = mitm(&r);
    assert_eq!(found.len(), 1, "hrr: {:?}", r.findings);
    assert_eq!(found[0].frames, vec![9], "as Wireshark shows it");
    assert_eq!(
        found[0].evidence["chain"][0]["subject"],
        "CN=blocked.example"
    );
    assert!(
        mitm(&analyze("intercepted-tls13-hrr.pcap", None)).is_empty(),
        "no keys, no claim"
    );

    // Another connection's keys open nothing.
    let wrong = analyze("intercepted-tls13.pcap", Some("genuine-tls13.keys"));
    assert!(mitm(&wrong).is_empty(), "{:?}", wrong.findings);
}

/// The key log inside the capture (a pcapng Decryption Secrets Block, as
/// `editcap --inject-secrets` writes it) is used without `--keylog`.
#[test]
fn keys_in_the_capture_are_used() {
    let r = analyze("intercepted-tls13-dsb.pcapng", None);
    let found = mitm(&r);
    assert_eq!(found.len(), 1, "{:?}", r.findings);
    assert_eq!(found[0].evidence["decrypted_with"], "tls_key_log");
}

/// A Decryption Secrets Block after the first packets (`mergecap -a` of the
/// genuine connection and the one above keeps it in place) is read as the
/// walk reaches it, before the flows of its window are judged: on one thread
/// and on the parallel path, in one window or in windows of 2 KiB, the
/// intercepted connection is found and the genuine one is not.
#[test]
fn keys_later_in_the_capture_are_used() {
    let mut seen = Vec::new();
    for cfg in [
        Config::default().threads(1),
        Config::default().threads(2).force_parallel(true),
        Config::default().threads(1).window_bytes(2048),
        Config::default()
            .threads(2)
            .force_parallel(true)
            .window_bytes(2048),
    ] {
        let r = Analyzer::new(cfg)
            .analyze_path(&data("keys-mid-capture.pcapng"))
            .expect("capture");
        let found = mitm(&r);
        assert_eq!(found.len(), 1, "{:?}", r.findings);
        assert_eq!(found[0].evidence["decrypted_with"], "tls_key_log");
        assert_eq!(
            found[0].evidence["chain"][0]["subject"],
            "CN=blocked.example"
        );
        assert_eq!(r.findings.len(), 1, "the genuine chain is not flagged");
        seen.push((r.flows.clone(), r.findings.clone()));
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "same records on every path"
    );
}

#[test]
fn a_genuine_chain_is_read_and_not_flagged() {
    let r = analyze("genuine-tls13.pcap", Some("genuine-tls13.keys"));
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    // The chain was read, not skipped: the same records open directly.
    let cfg = Config::default().threads(1);
    let a = Analyzer::new(cfg);
    let cap = a.open(&data("genuine-tls13.pcap")).expect("capture");
    let flows = a.flows(&cap);
    let f = flows
        .iter()
        .find(|f| f.key.proto == 6)
        .expect("the TLS flow");
    let up = f.dirs[TO_SERVER].stream.bytes();
    let down = f.dirs[TO_CLIENT].stream.bytes();
    let chain = tls13_server_certificates(up, down, &keys("genuine-tls13.keys")).expect("opened");
    assert_eq!(chain.certificates.len(), 2);
    let leaf = tamperscope::proto::cert_facts(&chain.certificates[0]);
    assert_eq!(leaf.subject.as_deref(), Some("CN=allowed.example"));
    assert!(tls13_server_certificates(up, down, &keys("intercepted-tls13.keys")).is_none());
}
