//! The analysis cut off after each stage, so that `benches/compare.sh` can say
//! where the time between the parse floor and `analyze --jsonl` goes.
//!
//! ```text
//! cargo run --release --example stages -- STAGE FILE
//! ```
//! Each STAGE runs everything before it too, on one thread:
//! - `walk`: the record walk over the memory-mapped capture (`Capture::frames`);
//! - `decode`: and each frame decoded to its transport header and payload;
//! - `count`: a reference rung, not a stage of the analysis: each decoded
//!   packet counted (packets and bytes each way) in a map from its flow key,
//!   with nothing else kept and nothing expired; the least any flow tracking
//!   costs, to set the `flows` stage against;
//! - `flows`: and each packet accounted to its flow (the sharded flow tables:
//!   Zeek states, stream heads, baselines, expiry), ended flows dropped a
//!   window at a time without being judged (fragments are not reassembled
//!   here);
//! - `judge`: the whole analysis (`Analyzer::records`, detectors included), its
//!   records counted but not formatted.
//!
//! `analyze --jsonl -j 1` adds the JSON Lines output to the last. One line of
//! counts is printed, so that no stage's work can be optimised away.

use std::path::PathBuf;
use std::process::ExitCode;

use tamperscope::flow::{FlowKey, FlowTable, SHARDS, shard_of_hash};
use tamperscope::{Analyzer, Config};

/// The allocator `analyze` runs on (see `examples/analyze.rs`), so that the
/// stages add up to it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Frames between two hand-backs of the ended flows in the `flows` stage.
const WINDOW: usize = 8192;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [stage, file] = args.as_slice() else {
        eprintln!("usage: stages walk|decode|count|flows|judge FILE");
        return ExitCode::from(2);
    };
    let cfg = Config::default().threads(1);
    let analyzer = Analyzer::new(cfg.clone());
    let cap = match analyzer.open(&PathBuf::from(file)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stages: {file}: {e}");
            return ExitCode::from(1);
        }
    };
    let (mut units, mut bytes) = (0u64, 0u64);
    match stage.as_str() {
        "walk" => {
            for f in cap.frames() {
                units += 1;
                bytes += f.data.len() as u64;
            }
        }
        "decode" => {
            for f in cap.frames() {
                if let Ok(p) = tamperscope::decode::decode(&f) {
                    units += 1;
                    bytes += p.payload.len() as u64;
                }
            }
        }
        "count" => {
            // Per flow: packets and bytes from the lower endpoint and from the
            // higher one.
            let mut counts: hashbrown::HashTable<(FlowKey, [u64; 4])> = Default::default();
            for f in cap.frames() {
                if let Ok(p) = &tamperscope::decode::decode(&f) {
                    let ((key, src, _), stable) = FlowKey::of_hashed(p);
                    let (_, c) = counts
                        .entry(stable, |(k, _)| *k == key, |(k, _)| k.stable_hash())
                        .or_insert((key, [0; 4]))
                        .into_mut();
                    let from_hi = usize::from(src == key.hi);
                    c[from_hi] += 1;
                    c[2 + from_hi] += u64::from(p.wire_len);
                }
            }
            units = counts.len() as u64;
            bytes = counts.iter().map(|(_, c)| c[2] + c[3]).sum();
        }
        "flows" => {
            let mut tables: Vec<FlowTable<'_>> =
                (0..SHARDS).map(|_| FlowTable::new(&cfg)).collect();
            for (i, f) in cap.frames().enumerate() {
                // As the one-thread pipeline dispatches: one key and hash per
                // packet pick the shard and are handed to it.
                if let Ok(p) = &tamperscope::decode::decode(&f) {
                    let (keyed, stable) = FlowKey::of_hashed(p);
                    tables[shard_of_hash(stable)].process_keyed(p, keyed, stable);
                }
                if i % WINDOW == WINDOW - 1 {
                    for t in &mut tables {
                        units += t.finished().len() as u64;
                        t.recycle_finished();
                    }
                }
            }
            for t in &mut tables {
                t.finish_all();
                units += t.finished().len() as u64;
            }
            // Not freed flow by flow before exiting, as `analyze` does not.
            std::mem::forget(tables);
        }
        "judge" => {
            let mut analysis = analyzer.records(&cap);
            for r in analysis.by_ref() {
                std::hint::black_box(r);
                units += 1;
            }
            std::mem::forget(analysis);
        }
        _ => {
            eprintln!("stages: unknown stage {stage:?} (walk, decode, count, flows, judge)");
            return ExitCode::from(2);
        }
    }
    println!("{stage}: {units} units, {bytes} bytes");
    ExitCode::SUCCESS
}
