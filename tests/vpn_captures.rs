//! VPN and circumvention flows of real captures are identified: the public
//! flowcontainer captures (L2TP/IPsec, PPTP, OpenVPN) and the lab's VPN
//! blocking captures, whose truth files say which flow is which.

mod common;

use std::path::Path;

use tamperscope::report::FlowRecord;
use tamperscope::{Analyzer, Config};

fn flows(path: &Path) -> Vec<FlowRecord> {
    let a = Analyzer::new(Config::default().threads(1));
    a.analyze_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .flows
}

fn show(name: &str, flows: &[FlowRecord]) {
    eprintln!("{name}:");
    for f in flows {
        eprintln!(
            "  {} {}:{} -> {}:{} {} {:?} pkts {}/{}",
            f.proto,
            f.src_ip,
            f.src_port,
            f.dest_ip,
            f.dest_port,
            f.app_proto,
            f.app_proto_confidence,
            f.pkts_toserver,
            f.pkts_toclient
        );
    }
}

#[test]
fn flowcontainer_vpn_captures() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("jmhIcoding__flowcontainer");
    if !dir.is_dir() {
        eprintln!("SKIPPED: {} not found", dir.display());
        return;
    }
    // l2tp.pcap: L2TP/IPsec joined mid-session, one NAT-T flow on 4500 of ESP
    // with a few IKE informational exchanges; pptp.pcap: PPTP's GRE data
    // channel (the TCP 1723 control connection, where present, is `pptp`);
    // ssl.pcapng: an OpenVPN/UDP session joined after its handshake.
    for (file, want) in [
        ("l2tp.pcap", &["esp", "ike"][..]),
        ("pptp.pcap", &["gre", "pptp"][..]),
        ("ssl.pcapng", &["openvpn"][..]),
    ] {
        let fl = flows(&dir.join(file));
        show(file, &fl);
        assert!(
            fl.iter().any(|f| f.app_proto == want[0]),
            "{file}: no {} flow",
            want[0]
        );
        for f in &fl {
            if f.proto == "tcp" && (f.dest_port == 1723 || f.src_port == 1723) {
                assert_eq!(f.app_proto, "pptp", "{file}: {f:?}");
            }
            if f.proto == "udp" && (f.dest_port == 500 || f.dest_port == 4500) {
                assert!(matches!(f.app_proto, "ike" | "esp"), "{file}: {f:?}");
            }
        }
        // Nothing in these VPN captures is taken for fully encrypted traffic
        // or for a VPN it is not.
        for f in &fl {
            assert_ne!(f.app_proto, "fet", "{file}: {f:?}");
            if matches!(
                f.app_proto,
                "openvpn" | "wireguard" | "ike" | "esp" | "pptp" | "gre"
            ) {
                assert!(
                    want.contains(&f.app_proto),
                    "{file}: unexpected {}",
                    f.app_proto
                );
            }
        }
    }
}

/// The lab's truth files: which flow carries which VPN.
#[test]
fn lab_vpn_captures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/lab/captures");
    if !dir.join("vpn-openvpn.pcap").is_file() {
        eprintln!("SKIPPED: lab captures not found in {}", dir.display());
        return;
    }
    for (file, app) in [
        ("vpn-openvpn.pcap", "openvpn"),
        ("vpn-wireguard.pcap", "wireguard"),
        ("vpn-shadowsocks.pcap", "fet"),
    ] {
        let fl = flows(&dir.join(file));
        show(file, &fl);
        let truth: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(file.replace(".pcap", ".truth.json")))
                .expect("truth file"),
        )
        .expect("truth JSON");
        let mut checked = 0;
        for t in truth["flows"].as_array().expect("flows") {
            let (client, server) = (t["client"].as_str().unwrap(), t["server"].as_str().unwrap());
            let ours: Vec<&FlowRecord> = fl
                .iter()
                .filter(|f| {
                    format!("{}:{}", f.src_ip, f.src_port) == client
                        && format!("{}:{}", f.dest_ip, f.dest_port) == server
                })
                .collect();
            assert!(!ours.is_empty(), "{file}: no flow {client} -> {server}");
            let vpn_port = !server.ends_with(":80");
            for f in ours {
                if !vpn_port {
                    assert_eq!(f.app_proto, "http", "{file}: control {client} -> {server}");
                } else if f.app_proto == "unknown" && file == "vpn-shadowsocks.pcap" {
                    // A connection whose SYN was dropped carried no byte to judge.
                    assert!(
                        t["expected"]
                            .as_array()
                            .is_some_and(|e| e.iter().any(|k| k == "residual_block")),
                        "{file}: {client} -> {server} not identified"
                    );
                } else {
                    assert_eq!(f.app_proto, app, "{file}: {client} -> {server}");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 2, "{file}: only {checked} flows checked");
        // No other flow of the capture (DNS, controls) is taken for this VPN
        // unless the truth names it.
        let named: Vec<String> = truth["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| format!("{} {}", t["client"], t["server"]).replace('"', ""))
            .collect();
        for f in &fl {
            let k = format!("{}:{} {}:{}", f.src_ip, f.src_port, f.dest_ip, f.dest_port);
            if f.app_proto == app {
                assert!(named.contains(&k), "{file}: {k} taken for {app}");
            }
        }
    }
}
