//! The parse floor and the first two stages: the record walk alone, the bare
//! pcap-parser + etherparse loop every comparison is made against, and our walk +
//! decode.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tamperscope::capture::Capture;
use tamperscope::decode::decode;

fn bare_floor(bytes: &[u8]) -> u64 {
    use pcap_parser::{LegacyPcapSlice, PcapBlockOwned};
    let mut n = 0u64;
    let Ok(it) = LegacyPcapSlice::from_slice(bytes) else {
        return 0;
    };
    for b in it {
        let Ok(PcapBlockOwned::Legacy(b)) = b else {
            continue;
        };
        if let Ok(p) = etherparse::SlicedPacket::from_ethernet(b.data) {
            n += u64::from(p.transport.is_some());
        }
    }
    n
}

fn walk(c: &mut Criterion) {
    let path = common::bench_capture();
    let cap = Capture::open(&path, 1 << 32).expect("bench capture");
    let frames = cap.frames().count() as u64;
    let len = cap.bytes().len() as u64;
    eprintln!(
        "bench capture {}: {len} bytes, {frames} frames",
        path.display()
    );
    for (unit, thr) in [
        ("bytes", Throughput::Bytes(len)),
        ("frames", Throughput::Elements(frames)),
    ] {
        let mut g = c.benchmark_group(format!("capture_{unit}"));
        g.throughput(thr);
        g.bench_function("walk", |b| {
            b.iter(|| cap.frames().map(|f| f.data.len() as u64).sum::<u64>())
        });
        g.bench_function("walk_decode", |b| {
            b.iter(|| cap.frames().filter(|f| decode(f).is_ok()).count())
        });
        if matches!(cap.format(), tamperscope::capture::CaptureFormat::Legacy(_)) {
            g.bench_function("bare_floor_pcap_parser_etherparse", |b| {
                b.iter(|| bare_floor(black_box(cap.bytes())))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, walk);
criterion_main!(benches);
