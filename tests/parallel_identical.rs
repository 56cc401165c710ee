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

/// A capture of `n` minimum-size UDP exchanges (a query and its answer on
/// port 53, client ports cycling over 4,096 flows), as classic pcap bytes.
fn small_frames_pcap(n: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + n as usize * 2 * 102);
    // Global header: magic, v2.4, zone 0, sigfigs 0, snaplen 65535, Ethernet.
    for w in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, 1] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    let frame = |out: &mut Vec<u8>, i: u32, answer: bool| {
        let (client, server) = ([10, 0, (i % 7) as u8, 2], [10, 9, 9, 9]);
        let cport = 20_000 + (i % 4096) as u16;
        let (src, dst, sport, dport) = if answer {
            (server, client, 53, cport)
        } else {
            (client, server, cport, 53)
        };
        // A DNS header and one question for "a.example" (type A, class IN).
        let mut dns = Vec::new();
        dns.extend_from_slice(&(i as u16).to_be_bytes());
        dns.extend_from_slice(if answer { &[0x81, 0x80] } else { &[0x01, 0x00] });
        dns.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        dns.extend_from_slice(b"\x01a\x07example\x00\x00\x01\x00\x01");
        let udp_len = 8 + dns.len() as u16;
        let ip_len = 20 + udp_len;
        let mut f = Vec::new();
        f.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00]);
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&ip_len.to_be_bytes());
        f.extend_from_slice(&(i as u16).to_be_bytes());
        f.extend_from_slice(&[0x40, 0, 64, 17, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&udp_len.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&dns);
        let micros = u64::from(i) * 200 + u64::from(answer) * 50;
        out.extend_from_slice(&(1_700_000_000 + (micros / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&f);
    };
    for i in 0..n {
        frame(&mut out, i, false);
        frame(&mut out, i, true);
    }
    out
}

#[test]
fn small_frames_walk_in_smaller_chunks_alike() {
    // 11 MB of 90-byte frames: more than one parallel chunk holds, so the
    // parallel path walks the default 8 MiB window in chunks sized by the
    // packets they held, and the output must not change with it.
    let bytes = small_frames_pcap(64 * 1024);
    assert!(bytes.len() > 9 << 20, "{} bytes", bytes.len());
    let path = std::env::temp_dir().join(format!(
        "tamperscope-small-frames-{}.pcap",
        std::process::id()
    ));
    std::fs::write(&path, &bytes).expect("write the capture");
    let seq = common::jsonl(&path, Config::default().threads(1));
    let par = common::jsonl(&path, Config::default().threads(2).force_parallel(true));
    let _ = std::fs::remove_file(&path);
    let (seq, par) = (seq.expect("-j 1"), par.expect("-j 2"));
    assert!(
        seq.lines().count() > 4096,
        "{} records",
        seq.lines().count()
    );
    assert_eq!(seq, par);
}
