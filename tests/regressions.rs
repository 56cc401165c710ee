//! Inputs that broke a dependency or an earlier version of ours.

use tamperscope::capture::Capture;
use tamperscope::{Analyzer, Config};

fn testdata(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// pcap-parser 0.17 underflows `block_len1 - 12` on a Process Information Block
/// shorter than 12 bytes and panics in debug builds. The saved repro (49 bytes)
/// is rejected cleanly: its section header's length is not a multiple of 4.
#[test]
fn pcap_parser_pib_underflow_repro_is_rejected_cleanly() {
    let path = testdata("regressions/pcap-parser-0.17.0-pib-underflow.pcapng");
    match Analyzer::new(Config::default()).analyze_path(&path) {
        Err(tamperscope::Error::Format(e)) => assert!(e.to_string().contains("section header")),
        other => panic!("expected a format error, got {other:?}"),
    }
}

/// The same short Process Information Block after a valid section header: the
/// walk stops at it as `corrupt` (the block never reaches pcap-parser).
#[test]
fn short_pib_after_valid_section_is_a_clean_stop() {
    let mut b = Vec::new();
    // SHB: type, len 28, BOM, v1.0, section length -1, len.
    for w in [0x0A0D_0D0Au32, 28, 0x1A2B_3C4D, 1] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    b.extend_from_slice(&(-1i64).to_le_bytes());
    b.extend_from_slice(&28u32.to_le_bytes());
    // PIB (0x80000001) claiming 8 bytes.
    b.extend_from_slice(&0x8000_0001u32.to_le_bytes());
    b.extend_from_slice(&8u32.to_le_bytes());
    b.extend_from_slice(&[0xff; 12]);
    let r = Analyzer::new(Config::default())
        .analyze(&Capture::from_bytes(b, 1 << 20).expect("header ok"));
    assert_eq!(r.stats.frames, 0);
    assert!(r.stats.skipped.contains_key("corrupt"));
    assert!(
        r.stats
            .error
            .as_deref()
            .unwrap_or("")
            .contains("block total length 8")
    );
}

/// A capture cut in the middle of a record: every complete record before it is
/// analysed and the cut is reported.
#[test]
fn truncated_tail_keeps_what_came_before() {
    let bytes = std::fs::read(testdata("sample.pcap")).expect("sample");
    let whole = Analyzer::new(Config::default())
        .analyze(&Capture::from_bytes(bytes.clone(), 1 << 30).expect("whole"));
    let cut = &bytes[..bytes.len() - 10];
    let part = Analyzer::new(Config::default())
        .analyze(&Capture::from_bytes(cut.to_vec(), 1 << 30).expect("cut"));
    assert_eq!(part.stats.frames, whole.stats.frames - 1);
    let t = part
        .stats
        .skipped
        .get("truncated")
        .expect("truncated counted");
    assert!(t.bytes > 0 && t.bytes < 2000);
    assert!(part.stats.error.is_some());
    assert!(whole.stats.error.is_none());
}

/// A gzip-compressed capture reads like the plain one; a cut gzip stream keeps
/// what it could decompress.
#[test]
fn gzip_is_read_transparently() {
    use std::io::Write;
    let bytes = std::fs::read(testdata("sample.pcap")).expect("sample");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let a = Analyzer::new(Config::default());
    let plain = a.analyze(&Capture::from_bytes(bytes, 1 << 30).expect("plain"));
    let zipped = a.analyze(&Capture::from_bytes(gz.clone(), 1 << 30).expect("gz"));
    assert_eq!(plain.flows, zipped.flows);
    assert_eq!(plain.stats.frames, zipped.stats.frames);
    // The cap is enforced.
    assert!(Capture::from_bytes(gz.clone(), 100).is_err());
    // A cut stream keeps the frames before the cut.
    let cut = Capture::from_bytes(gz[..gz.len() * 2 / 3].to_vec(), 1 << 30).expect("cut gz");
    let r = a.analyze(&cut);
    assert!(r.stats.frames > 0 && r.stats.frames < plain.stats.frames);
    assert!(r.stats.error.is_some());
}

/// Garbage is rejected with a typed error, not a panic.
#[test]
fn garbage_is_a_format_error() {
    for junk in [
        &b""[..],
        b"\x00\x01",
        b"hello world, not a pcap",
        b"\x0a\x0d\x0d\x0a\xff\xff\xff\xff",
    ] {
        match Capture::from_bytes(junk.to_vec(), 1 << 20) {
            Err(tamperscope::Error::Format(_)) => {}
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("accepted {junk:?}"),
        }
    }
}

/// A capture whose clock jumps back six days and forward again (found by the
/// `capture_reader` fuzz target): flows time out in the middle of the capture,
/// so they are released window by window. With the same windows, the sequential
/// and the parallel path release the same records in the same order.
#[test]
fn time_jump_releases_alike_on_both_paths() {
    let path = testdata("regressions/fuzz-time-jump-window-order.pcap");
    for window in [512, 4096, 8 << 20] {
        let seq = Analyzer::new(Config::default().threads(1).window_bytes(window))
            .analyze_path(&path)
            .expect("readable");
        let par = Analyzer::new(
            Config::default()
                .threads(2)
                .force_parallel(true)
                .window_bytes(window),
        )
        .analyze_path(&path)
        .expect("readable");
        assert!(
            seq.flows.len() > 3,
            "window {window}: {} flows",
            seq.flows.len()
        );
        assert_eq!(seq.flows, par.flows, "window {window}");
        assert_eq!(seq.findings, par.findings, "window {window}");
    }
}
