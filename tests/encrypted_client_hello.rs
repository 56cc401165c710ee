//! ClientHellos that hide their name (ECH, ESNI) are told apart from others:
//! censors block by the extension itself (Russia by ECH to Cloudflare's
//! public name, China by ESNI), so a blocked handshake's evidence says when
//! its ClientHello carried one. The expectations are Wireshark's
//! (`tshark -Y tls.handshake.type==1 -e tls.handshake.extension.type`:
//! 65037 is ECH, 65486 ESNI).

mod common;

use tamperscope::flow::{Flow, TO_SERVER};
use tamperscope::proto::{
    HiddenName, client_hello_hidden_name, client_hello_sni, initial_client_hello,
};
use tamperscope::{Analyzer, Config};

/// A ClientHello: its client port, its (outer) SNI, the extension it has.
type Hello = (u16, &'static str, Option<HiddenName>);

/// (capture, every ClientHello in it; none: none of them has one).
const CAPTURES: &[(&str, &[Hello])] = &[
    // Chrome's GREASE ECH: the real name outside.
    (
        "ntop__nDPI/tests/cfgs/default/pcap/tls_ech.pcapng",
        &[(
            47460,
            "performance.radar.cloudflare.com",
            Some(HiddenName::Ech),
        )],
    ),
    // Real ECH: Cloudflare's public name outside.
    (
        "zeek__zeek/testing/btest/Traces/tls/tls13-ech.pcap",
        &[
            (51066, "cloudflare-ech.com", Some(HiddenName::Ech)),
            (51071, "cloudflare-ech.com", Some(HiddenName::Ech)),
        ],
    ),
    (
        "ntop__nDPI/tests/cfgs/default/pcap/tls_esni_sni_both.pcap",
        &[
            (
                55500,
                "these-are-not-the-droids-youre-looking-for.com",
                Some(HiddenName::Esni),
            ),
            (
                55514,
                "you-think-thats-normal-tls-traffic-youre-seeing.com",
                Some(HiddenName::Esni),
            ),
        ],
    ),
    // Ordinary ClientHellos (Chrome 34, 2014).
    (
        "zeek__zeek/testing/btest/Traces/tls/chrome-34-google.pcap",
        &[],
    ),
];

#[test]
fn hidden_names_are_told_apart() {
    check_hellos(CAPTURES, |f| {
        let up = f.dirs[TO_SERVER].stream.bytes();
        Some((client_hello_sni(up)?, client_hello_hidden_name(up)))
    });
}

/// For each capture of `list` in the corpus (skipped with a line when
/// absent): the ClientHellos `read` finds in its flows, (client port, SNI,
/// extension), against the listed ones; a capture listed with none must have
/// hellos, none of which hides its name.
fn check_hellos(
    list: &[(&str, &[Hello])],
    read: impl Fn(&Flow<'_>) -> Option<(String, Option<HiddenName>)>,
) {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let analyzer = Analyzer::new(Config::default().threads(1));
    for &(path, want) in list {
        let p = corpus.join(path);
        if !p.is_file() {
            println!("SKIPPED {path}: not in this corpus");
            continue;
        }
        let cap = analyzer.open(&p).expect(path);
        let mut seen: Vec<_> = analyzer
            .flows(&cap)
            .iter()
            .filter_map(|f| read(f).map(|(sni, hidden)| (f.client.port, sni, hidden)))
            .collect();
        assert!(!seen.is_empty(), "{path}: no ClientHello read");
        seen.sort_by_key(|s| s.0);
        if want.is_empty() {
            assert!(seen.iter().all(|s| s.2.is_none()), "{path}: {seen:?}");
        } else {
            let want: Vec<(u16, String, Option<HiddenName>)> = want
                .iter()
                .map(|&(p, s, h)| (p, s.to_string(), h))
                .collect();
            assert_eq!(seen, want, "{path}");
        }
        println!("{path}: {} ClientHellos as expected", seen.len());
    }
}

/// QUIC ClientHellos, read from the decrypted Initials, against Wireshark's
/// (`tshark -Y 'quic && tls.handshake.type == 1' -e udp.srcport
/// -e tls.handshake.extensions_server_name -e tls.handshake.extension.type`):
/// Chrome sends ECH over QUIC too; Firefox, aioquic and quic-go did not.
const QUIC_CAPTURES: &[(&str, &[Hello])] = &[
    (
        "zeek__zeek/testing/btest/Traces/quic/quic-multiple-initial-fragmented-crypto.pcap",
        &[(45945, "googleads.g.doubleclick.net", Some(HiddenName::Ech))],
    ),
    (
        "zeek__zeek/testing/btest/Traces/quic/quic-39264-rand.pcap",
        &[(39264, "tr6.snapchat.com", Some(HiddenName::Ech))],
    ),
    (
        "ntop__nDPI/tests/cfgs/default/pcap/quic_frags_different_dcid.pcapng",
        &[(37229, "cdnjs.cloudflare.com", Some(HiddenName::Ech))],
    ),
    (
        "stanford-esrg__retina/traces/quic_kyber.pcapng",
        &[(46069, "encrypted-tbn0.gstatic.com", Some(HiddenName::Ech))],
    ),
    (
        "stanford-esrg__retina/traces/quic.pcap",
        &[
            (51641, "b1.nel.goog", Some(HiddenName::Ech)),
            (53236, "csp.withgoogle.com", Some(HiddenName::Ech)),
            (60164, "beacons.gvt2.com", Some(HiddenName::Ech)),
        ],
    ),
    (
        "zeek__zeek/testing/btest/Traces/quic/quic_win11_firefox_google.pcap",
        &[(49369, "www.google.com", None)],
    ),
    (
        "ntop__nDPI/tests/cfgs/default/pcap/quic-v2.pcapng",
        &[(42086, "test", None)],
    ),
];

#[test]
fn quic_hellos_that_carry_ech() {
    check_hellos(QUIC_CAPTURES, |f| {
        if f.key.proto != 17 {
            return None;
        }
        let h = initial_client_hello(f.dirs[TO_SERVER].stream.datagrams().map(|(_, d)| d))?;
        Some((h.sni.unwrap_or_default(), h.hidden_name))
    });
}

/// None of the lab's TLS ClientHellos (curl and OpenSSL, which send neither)
/// is taken for one.
#[test]
fn ordinary_client_hellos_hide_nothing() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/lab/captures");
    let analyzer = Analyzer::new(Config::default().threads(1));
    let mut hellos = 0;
    for name in [
        "tls-sni-reset.pcap",
        "tls-sni-drop.pcap",
        "tls-mitm.pcap",
        "gfw-rst.pcap",
    ] {
        let cap = analyzer.open(&dir.join(name)).expect(name);
        for f in analyzer.flows(&cap) {
            let up = f.dirs[TO_SERVER].stream.bytes();
            if client_hello_sni(up).is_some() {
                hellos += 1;
                assert_eq!(client_hello_hidden_name(up), None, "{name}");
            }
        }
    }
    assert!(hellos >= 6, "{hellos} ClientHellos");
}

/// The lab's ECH block (`tls-ech-drop`: a ClientHello with ECH and the public
/// name `cloudflare-ech.com` dropped, as Russia's TSPU does): the finding says
/// the hello carried ECH and names the flow in which the same server answered
/// the same name without ECH; that one, and ECH with another name, went
/// through and are not accused. An SNI block's finding (`tls-sni-drop`) does
/// not say ECH, and names a handshake of another name as its control.
#[test]
fn a_blocked_hello_says_it_carried_ech() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/lab/captures");
    let analyzer = Analyzer::new(Config::default().threads(1));
    let r = analyzer
        .analyze_path(&dir.join("tls-ech-drop.pcap"))
        .expect("capture");
    let tls: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.kind == "tls.interference")
        .collect();
    assert_eq!(tls.len(), 1, "{:?}", r.findings);
    assert_eq!(tls[0].evidence["encrypted_client_hello"], "ech");
    assert_eq!(
        tls[0].trigger.as_ref().map(|t| t["sni"].clone()),
        Some("cloudflare-ech.com".into())
    );
    let accused: std::collections::BTreeSet<u64> = r.findings.iter().map(|f| f.flow_id).collect();
    assert_eq!(accused.len(), 1, "only the ECH hello to the public name");
    // The control: the same server answered the same name without ECH (its
    // ServerHello in frame 6, as Wireshark shows): the extension was the
    // trigger.
    let flow = control_flow(&r, tls[0], 6);
    assert_eq!(
        tls[0].evidence["server_completed_handshake"]["encrypted_client_hello"],
        false
    );
    assert_eq!(flow.sni.as_deref(), Some("cloudflare-ech.com"));
    assert_eq!(flow.verdict, tamperscope::report::FlowVerdict::Ok);
    let r = analyzer
        .analyze_path(&dir.join("tls-sni-drop.pcap"))
        .expect("capture");
    let f = r
        .findings
        .iter()
        .find(|f| f.kind == "tls.interference")
        .expect("the SNI block");
    assert!(f.evidence.get("encrypted_client_hello").is_none());
    // The control before it, another name on the same server.
    let flow = control_flow(&r, f, 6);
    assert_ne!(flow.sni, Some("ukraina.example".into()));
}

/// The flow record a `tls.interference` finding names as its control, whose
/// ServerHello it says is in `frame`.
fn control_flow<'r>(
    r: &'r tamperscope::report::Report,
    f: &tamperscope::report::Finding,
    frame: u64,
) -> &'r tamperscope::report::FlowRecord {
    let control = &f.evidence["server_completed_handshake"];
    assert_eq!(control["server_hello_frame"], frame, "{control}");
    let id = control["flow_id"].as_u64().expect("flow id");
    r.flows
        .iter()
        .find(|x| x.flow_id == id)
        .expect("control flow")
}

/// A QUIC Initial with ECH dropped (`testdata/quic-ech/make.py`: QUIC v1
/// Initials built and protected as a client's; the one with ECH to the public
/// name `cloudflare-ech.com` gets no answer, a plain one to the same server
/// does, and a plain one to another name is dropped too): the ECH flow's
/// `quic.interference` says its hello carried ECH, in the frames Wireshark
/// decrypts it in (5-7); the plain dropped one's does not; the answered one is
/// not accused.
#[test]
fn a_dropped_quic_hello_says_it_carried_ech() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/quic-ech/quic-ech-drop.pcap");
    for threads in [1, 2] {
        let analyzer = Analyzer::new(Config::default().threads(threads));
        let r = analyzer.analyze_path(&path).expect("capture");
        let quic = |port: u16| {
            let flow = r
                .flows
                .iter()
                .find(|f| f.src_port == port)
                .expect("the flow");
            r.findings
                .iter()
                .find(|f| f.kind == "quic.interference" && f.flow_id == flow.flow_id)
        };
        assert!(quic(51001).is_none(), "the answered control");
        let ech = quic(51002).expect("the ECH Initial dropped");
        assert_eq!(ech.evidence["encrypted_client_hello"], "ech");
        assert_eq!(ech.frames, vec![5, 6, 7]);
        assert_eq!(ech.evidence["same_server_answered_other_flows"], 1);
        let plain = quic(51003).expect("the plain Initial dropped");
        assert!(plain.evidence.get("encrypted_client_hello").is_none());
    }
}
