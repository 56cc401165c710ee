//! The output does not depend on the thread count: `-j 1` (sequential path) and
//! `-j 2` with the parallel path forced give identical JSON Lines, `elapsed_s`
//! aside, on the bundled captures and on every corpus capture the tests use.

mod common;

use std::path::PathBuf;

use tamperscope::Config;

fn captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = Vec::new();
    let td = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    for dir in [td.clone(), td.join("lab/captures")] {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let p = e.path();
                if matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("pcap" | "pcapng" | "gz")
                ) {
                    v.push(p);
                }
            }
        }
    }
    if let Some(corpus) = common::corpus() {
        for row in common::manifest(&corpus) {
            if row.packets.is_some() {
                v.push(corpus.join(&row.path));
            }
        }
    }
    v.sort();
    v
}

#[test]
fn one_thread_and_two_threads_agree() {
    let mut checked = 0;
    let mut diffs = Vec::new();
    for path in captures() {
        let seq = common::jsonl(&path, Config::default().threads(1));
        let par = common::jsonl(&path, Config::default().threads(2).force_parallel(true));
        match (seq, par) {
            (Ok(a), Ok(b)) if a == b => checked += 1,
            (Err(a), Err(b)) if a == b => checked += 1,
            (a, b) => {
                let a = a.unwrap_or_else(|e| e);
                let b = b.unwrap_or_else(|e| e);
                let line = a
                    .lines()
                    .zip(b.lines())
                    .find(|(x, y)| x != y)
                    .map(|(x, y)| format!("\n    -j1: {x}\n    -j2: {y}"))
                    .unwrap_or_else(|| {
                        format!(" ({} vs {} lines)", a.lines().count(), b.lines().count())
                    });
                diffs.push(format!("{}{line}", path.display()));
            }
        }
    }
    eprintln!("{checked} captures identical with -j 1 and -j 2 (parallel path forced)");
    for d in &diffs {
        eprintln!("  DIFF {d}");
    }
    assert!(diffs.is_empty(), "{} captures differ", diffs.len());
}

#[test]
fn tiny_windows_force_many_ranges() {
    // Windows of 4 KiB cut every capture into many windows and ranges, which
    // exercises the boundary search, the chain check and cross-window flows.
    let Some(corpus) = common::corpus() else {
        return;
    };
    let picks = [
        "zeek__zeek/testing/btest/Traces/http/get.trace",
        "ntop__nDPI/tests/cfgs/default/pcap/shadowsocks.pcap",
        "jmhIcoding__flowcontainer/pptp.pcap",
    ];
    for p in picks {
        let path = corpus.join(p);
        if !path.is_file() {
            continue;
        }
        let seq =
            common::jsonl(&path, Config::default().threads(1).window_bytes(4096)).expect("seq");
        let par = common::jsonl(
            &path,
            Config::default()
                .threads(2)
                .force_parallel(true)
                .window_bytes(4096),
        )
        .expect("par");
        assert_eq!(seq, par, "{p}");
    }
}
