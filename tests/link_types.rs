//! Point-to-point and wireless link types (PPP and its framings, Cisco HDLC,
//! 802.11 bare, behind radiotap and PPI, Apple's PKTAP) on the public corpus:
//! every frame Wireshark reads an IP or IPv6 packet in (`tshark -Y "ip or
//! ipv6"`) is decoded, the others are counted as not IP, none as an
//! unsupported link type, and what the flows carry (an HTTP host, a QUIC
//! server name, a DNS name) is read through the new headers.

mod common;

use tamperscope::{Analyzer, Config};

/// (capture, link type, frames with an IP packet as tshark counts them).
const CAPTURES: &[(&str, u16, u64)] = &[
    (
        "OISF__suricata-verify/tests/defrag/bug-6887-defrag-ppp-ipv4-tcp-syn/frag-ppp-ip-tcp-syn.pcap",
        9,
        3,
    ),
    (
        "OISF__suricata-verify/tests/defrag/bug-6887-defrag-ppp-ipv6-tcp/frag-ppp-ipv6-tcp.pcap",
        9,
        3,
    ),
    // Cisco HDLC frames under the PPP link type.
    (
        "ntop__nDPI/tests/cfgs/default/pcap/BGP_Cisco_hdlc_slarp.pcap",
        9,
        14,
    ),
    ("ntop__nDPI/tests/cfgs/default/pcap/dlt_ppp.pcap", 9, 1),
    // MPLS over PPP.
    (
        "the-tcpdump-group__tcpdump/tests/lspping-fec-ldp.pcap",
        9,
        13,
    ),
    (
        "the-tcpdump-group__tcpdump/tests/mpls-traceroute.pcap",
        9,
        18,
    ),
    (
        "zeek__zeek/testing/btest/Traces/quic/interop/quic-go_quic-go/zerortt.pcap",
        9,
        104,
    ),
    (
        "OISF__suricata-verify/tests/decode-chdlc-01/hdlc-http_1tx.pcap",
        104,
        17,
    ),
    // MPLS over Cisco HDLC.
    ("ntop__nDPI/tests/cfgs/default/pcap/BGP_redist.pcap", 104, 2),
    ("the-tcpdump-group__tcpdump/tests/HDLC.pcap", 104, 10),
    ("zeek__zeek/testing/btest/Traces/wlanmon.pcap", 105, 3),
    ("zeek__zeek/testing/btest/Traces/radiotap.pcap", 127, 3),
    (
        "the-tcpdump-group__tcpdump/tests/ieee802.11_htc.pcap",
        127,
        1,
    ),
    (
        "ntop__nDPI/tests/cfgs/default/pcap/someip_sd_sample.pcap",
        192,
        6,
    ),
    (
        "the-tcpdump-group__tcpdump/tests/LINKTYPE_PKTAP.pcap",
        258,
        1,
    ),
    (
        "the-tcpdump-group__tcpdump/tests/LINKTYPE_USER2_PKTAP.pcap",
        149,
        1,
    ),
];

#[test]
fn ip_frames_are_decoded_as_wireshark_decodes_them() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let analyzer = Analyzer::new(Config::default().threads(1));
    let mut failures = Vec::new();
    for &(path, link, ip_frames) in CAPTURES {
        let r = match analyzer.analyze_path(&corpus.join(path)) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{path}: {e}"));
                continue;
            }
        };
        let s = &r.stats;
        let skipped: u64 = s.skipped.values().map(|c| c.frames).sum();
        let not_ip = s.skipped.get("not_ip").map_or(0, |c| c.frames);
        eprintln!(
            "{path}: link {link}, {} frames, {} decoded (tshark: {ip_frames} with IP), skipped {:?}",
            s.frames,
            s.frames - skipped,
            s.skipped.keys().collect::<Vec<_>>()
        );
        if s.link_types.keys().ne([link].iter()) {
            failures.push(format!(
                "{path}: link types {:?}, expected {link}",
                s.link_types
            ));
        }
        if s.frames - skipped != ip_frames || not_ip != skipped {
            failures.push(format!(
                "{path}: {} decoded, {skipped} skipped ({not_ip} not IP); tshark: {ip_frames} with IP",
                s.frames - skipped
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn names_are_read_through_the_link_headers() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let analyzer = Analyzer::new(Config::default().threads(1));
    let report = |p: &str| analyzer.analyze_path(&corpus.join(p)).expect(p);
    // HTTP over Cisco HDLC (a serial WAN link).
    let r = report("OISF__suricata-verify/tests/decode-chdlc-01/hdlc-http_1tx.pcap");
    assert!(
        r.flows.iter().any(|f| f.http_host.is_some()),
        "no HTTP host over C-HDLC: {:?}",
        r.flows
    );
    // QUIC over PPP: the server name tshark reads from the same Initial.
    let r = report("zeek__zeek/testing/btest/Traces/quic/interop/quic-go_quic-go/handshake.pcap");
    assert!(
        r.flows
            .iter()
            .any(|f| f.sni.as_deref() == Some("server4:443")),
        "no QUIC SNI over PPP: {:?}",
        r.flows
    );
    // DNS in 802.11 data frames, bare and behind radiotap.
    for p in [
        "zeek__zeek/testing/btest/Traces/wlanmon.pcap",
        "zeek__zeek/testing/btest/Traces/radiotap.pcap",
    ] {
        let r = report(p);
        assert!(
            r.flows.iter().any(|f| f.dns_qname.is_some()),
            "{p}: no DNS name: {:?}",
            r.flows
        );
    }
}

/// WPA-protected 802.11 data frames are counted as `encrypted` (as many as
/// `tshark -Y "wlan.fc.protected==1 && wlan.fc.type==2"` finds), so that a user
/// learns the capture needs decrypting rather than that it held no IP.
#[test]
fn protected_wifi_frames_are_counted_as_encrypted() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let p = corpus.join("the-tcpdump-group__tcpdump/tests/ieee802.11_rx-stbc.pcap");
    let r = Analyzer::new(Config::default().threads(1))
        .analyze_path(&p)
        .expect("capture");
    let enc = r.stats.skipped.get("encrypted").map_or(0, |c| c.frames);
    assert_eq!(enc, 3, "{:?}", r.stats.skipped);
}
