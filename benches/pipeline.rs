//! The whole pipeline (walk + decode + flow tables + records) on one thread and
//! on the parallel path, and the flow-table update alone.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tamperscope::capture::Capture;
use tamperscope::decode::decode;
use tamperscope::flow::{FlowTable, SHARDS, shard_of_packet};
use tamperscope::{Analyzer, Config};

fn pipeline(c: &mut Criterion) {
    let path = common::bench_capture();
    let cap = Capture::open(&path, 1 << 32).expect("bench capture");
    let frames = cap.frames().count() as u64;
    let len = cap.bytes().len() as u64;
    let packets: Vec<_> = cap.frames().filter_map(|f| decode(&f).ok()).collect();
    for (unit, thr) in [
        ("bytes", Throughput::Bytes(len)),
        ("frames", Throughput::Elements(frames)),
    ] {
        let mut g = c.benchmark_group(format!("pipeline_{unit}"));
        g.throughput(thr);
        g.bench_function("analyze_1_thread", |b| {
            let a = Analyzer::new(Config::default().threads(1));
            b.iter(|| a.analyze(&cap).stats.flows)
        });
        g.bench_function("analyze_2_threads_parallel", |b| {
            let a = Analyzer::new(Config::default().threads(2).force_parallel(true));
            b.iter(|| a.analyze(&cap).stats.flows)
        });
        g.bench_function("flow_update_only", |b| {
            let cfg = Config::default();
            b.iter(|| {
                let mut tables: Vec<FlowTable> =
                    (0..SHARDS).map(|_| FlowTable::new(&cfg)).collect();
                for p in &packets {
                    tables[shard_of_packet(p)].process(p);
                }
                tables.iter().map(|t| t.live()).sum::<usize>()
            })
        });
        g.finish();
    }
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
