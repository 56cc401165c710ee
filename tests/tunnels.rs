//! Port mirrors and operator tunnels on the public corpus (VXLAN, Geneve,
//! GTP-U, ERSPAN I/II/III, GRE Ethernet bridging): the packets inside are the
//! ones analysed, as many as Wireshark reads an inner IP packet in; GTP and
//! VXLAN look-alikes stay what they are; users' own tunnels (GRE carrying IP)
//! stay whole for the VPN detectors; and the records do not depend on the
//! thread count.

mod common;

use tamperscope::{Analyzer, Config};

/// (capture, tunnel, packets read through it). The counts are Wireshark's:
/// frames whose `frame.protocols` has an IP layer after the tunnel's
/// (`tshark -r F -T fields -e frame.protocols`), a tunnel datagram
/// reassembled from outer fragments counting once.
const CAPTURES: &[(&str, &str, u64)] = &[
    (
        "zeek__zeek/testing/btest/Traces/tunnels/vxlan-encapsulated-http.pcap",
        "vxlan",
        12,
    ),
    // VXLAN inside VXLAN inside VXLAN.
    (
        "zeek__zeek/testing/btest/Traces/tunnels/vxlan-triple-v2.pcap",
        "vxlan",
        1,
    ),
    (
        "ntop__nDPI/tests/cfgs/default/pcap/vxlan.pcap",
        "vxlan",
        127,
    ),
    (
        "OISF__suricata-verify/tests/vxlan-decoder-02/vxlan.pcap",
        "vxlan",
        8,
    ),
    (
        "zeek__zeek/testing/btest/Traces/tunnels/geneve-many-options.pcap",
        "geneve",
        10,
    ),
    ("the-tcpdump-group__tcpdump/tests/geneve.pcap", "geneve", 39),
    // Outer IP fragments: the GTP datagram is read once reassembled.
    (
        "zeek__zeek/testing/btest/Traces/tunnels/gtp/gtp1_gn_normal_incl_fragmentation.pcap",
        "gtp-u",
        68,
    ),
    (
        "zeek__zeek/testing/btest/Traces/tunnels/gtp/gtp7_ipv6.pcap",
        "gtp-u",
        2,
    ),
    (
        "the-tcpdump-group__tcpdump/tests/erspan-type-i-4.pcap",
        "erspan",
        88,
    ),
    (
        "the-tcpdump-group__tcpdump/tests/erspan-type-ii-2.pcap",
        "erspan",
        16,
    ),
    (
        "the-tcpdump-group__tcpdump/tests/erspan-type-iii-ft-0.pcap",
        "erspan",
        9,
    ),
    // Outer fragments again: here Wireshark's `frame.protocols` shows 222
    // (some reassembled datagrams keep `ip:data`), while its conversations
    // (`-z conv,tcp`, `-z conv,udp`, and the ICMP echoes) hold 106 + 48 + 84
    // = 238 packets, each one ours too.
    (
        "zeek__zeek/testing/btest/Traces/erspan.pcap",
        "gre-ethernet",
        238,
    ),
];

/// Captures of UDP 2152 that is not GTP-U user data (signalling, a false
/// GTP header, a message type other than T-PDU): nothing is opened.
const NOT_OPENED: &[&str] = &[
    "zeek__zeek/testing/btest/Traces/tunnels/gtp/gtp3_false_gtp.pcap",
    "zeek__zeek/testing/btest/Traces/tunnels/gtp/gtp10_not_0xff.pcap",
    "zeek__zeek/testing/btest/Traces/tunnels/gtp/gtp_create_pdp_ctx.pcap",
    "ntop__nDPI/tests/cfgs/default/pcap/gtp_false_positive.pcapng",
    "ntop__nDPI/tests/cfgs/default/pcap/gtp_c.pcap",
];

#[test]
fn tunnelled_packets_are_read_as_wireshark_reads_them() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let analyzer = Analyzer::new(Config::default().threads(1));
    let mut failures = Vec::new();
    for &(path, kind, expected) in CAPTURES {
        let r = match analyzer.analyze_path(&corpus.join(path)) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{path}: {e}"));
                continue;
            }
        };
        eprintln!(
            "{path}: tunnels {:?} (tshark: {expected} {kind}), {} flows",
            r.stats.tunnels,
            r.flows.len()
        );
        let want = std::collections::BTreeMap::from([(kind, expected)]);
        if r.stats.tunnels != want {
            failures.push(format!("{path}: {:?}, expected {want:?}", r.stats.tunnels));
        }
    }
    for path in NOT_OPENED {
        match analyzer.analyze_path(&corpus.join(path)) {
            Ok(r) if r.stats.tunnels.is_empty() => {}
            Ok(r) => failures.push(format!("{path}: opened {:?}", r.stats.tunnels)),
            Err(e) => failures.push(format!("{path}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn flows_are_the_inner_connections() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let analyzer = Analyzer::new(Config::default().threads(1));
    let report = |p: &str| analyzer.analyze_path(&corpus.join(p)).expect(p);
    // HTTP in VXLAN: the inner connection, its host, Zeek's state.
    let r = report("zeek__zeek/testing/btest/Traces/tunnels/vxlan-encapsulated-http.pcap");
    assert_eq!(r.flows.len(), 1, "{:?}", r.flows);
    let f = &r.flows[0];
    assert_eq!(f.src_ip.to_string(), "172.16.11.201");
    assert_eq!(f.dest_ip.to_string(), "54.86.237.188");
    assert_eq!(f.http_host.as_deref(), Some("eu.httpbin.org"));
    assert_eq!((f.pkts_toserver, f.pkts_toclient), (7, 5));
    assert_eq!(
        f.tunnel,
        Some("vxlan"),
        "the record says what it came through"
    );
    // HTTP in GTP-U whose outer packets were fragmented: tshark's inner
    // conversation (`-z conv,tcp`), 27 packets up and 41 down.
    let r = report(
        "zeek__zeek/testing/btest/Traces/tunnels/gtp/gtp1_gn_normal_incl_fragmentation.pcap",
    );
    assert_eq!(r.flows.len(), 1, "{:?}", r.flows);
    let f = &r.flows[0];
    assert_eq!(
        (f.src_ip.to_string().as_str(), f.src_port, f.dest_port),
        ("10.131.47.185", 1923, 80)
    );
    assert_eq!((f.pkts_toserver, f.pkts_toclient), (27, 41));
    assert_eq!(f.tunnel, Some("gtp-u"));
    // The human summary says what the flows were read inside.
    let text = tamperscope::report::summary::render(&r);
    assert!(
        text.contains(
            "read inside tunnels (packets; the flows are the inner connections): gtp-u 68"
        ),
        "{text}"
    );
    // A user's GRE tunnel carrying IP stays a GRE flow.
    for p in [
        "zeek__zeek/testing/btest/Traces/tunnels/gre-sample.pcap",
        "the-tcpdump-group__tcpdump/tests/wccp_redirect_gre.pcap",
    ] {
        let r = report(p);
        assert!(r.stats.tunnels.is_empty(), "{p}: {:?}", r.stats.tunnels);
        assert!(
            r.flows
                .iter()
                .all(|f| f.proto == "gre" && f.tunnel.is_none()),
            "{p}: {:?}",
            r.flows
        );
    }
}

#[test]
fn tunnel_records_do_not_depend_on_the_thread_count() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for &(path, _, _) in CAPTURES {
        let p = corpus.join(path);
        let one = common::jsonl(&p, Config::default().threads(1)).expect(path);
        let two = common::jsonl(&p, Config::default().threads(2).force_parallel(true)).expect(path);
        assert_eq!(one, two, "{path}");
    }
}
