//! Per-flow cost of protocol identification: `proto::identify` over finished
//! flows (their buffers already filled), so only the probes are measured. The
//! flows come from the bench capture plus, when the corpus is present, a set
//! of nDPI's VPN, QUIC, DTLS and STUN captures, so every probe is exercised.

mod common;

use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tamperscope::Analyzer;
use tamperscope::capture::Capture;
use tamperscope::flow::Flow;
use tamperscope::proto::identify;

/// The finished flows of a capture (they borrow its bytes).
fn finished_flows(cap: &Capture) -> Vec<Box<Flow<'_>>> {
    Analyzer::default().flows(cap)
}

fn captures() -> Vec<PathBuf> {
    let mut v = vec![common::bench_capture()];
    let corpus = std::env::var_os("TAMPERSCOPE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    let ndpi = corpus.join("ntop__nDPI/tests/cfgs/default/pcap");
    for f in [
        "openvpn.pcap",
        "wireguard.pcap",
        "ipsec_isakmp_esp.pcap",
        "pptp.pcap",
        "tor.pcap",
        "quic.pcap",
        "dtls.pcap",
        "stun.pcap",
        "shadowsocks.pcap",
        "ssh.pcap",
    ] {
        let p = ndpi.join(f);
        if p.is_file() {
            v.push(p);
        }
    }
    v
}

fn proto(c: &mut Criterion) {
    let caps: Vec<Capture> = captures()
        .iter()
        .filter_map(|p| Capture::open(p, 1 << 32).ok())
        .collect();
    let flows: Vec<Box<Flow<'_>>> = caps.iter().flat_map(finished_flows).collect();
    let tcp: Vec<&Box<Flow<'_>>> = flows.iter().filter(|f| f.key.proto == 6).collect();
    let udp: Vec<&Box<Flow<'_>>> = flows.iter().filter(|f| f.key.proto == 17).collect();
    eprintln!(
        "proto bench: {} flows ({} tcp, {} udp)",
        flows.len(),
        tcp.len(),
        udp.len()
    );
    let mut g = c.benchmark_group("identify");
    for (name, set) in [
        ("all_flows", flows.iter().collect::<Vec<_>>()),
        ("tcp_flows", tcp),
        ("udp_flows", udp),
    ] {
        if set.is_empty() {
            continue;
        }
        g.throughput(Throughput::Elements(set.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                set.iter()
                    .map(|f| identify(f).proto.as_str().len())
                    .sum::<usize>()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, proto);
criterion_main!(benches);
