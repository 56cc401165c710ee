//! A whole capture file (pcap, pcapng or gzip) through the full analysis, on both
//! the sequential and the parallel path: nothing may panic, and both paths must
//! agree. Both walk the same small windows: records are released window by
//! window (flows that time out mid-capture go out with their window), so the
//! window size, unlike the path, may change their order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tamperscope::capture::Capture;
use tamperscope::{Analyzer, Config};

fuzz_target!(|data: &[u8]| {
    let Ok(cap) = Capture::from_bytes(data.to_vec(), 1 << 24) else {
        return;
    };
    let seq = Analyzer::new(Config::default().threads(1).window_bytes(512)).analyze(&cap);
    let par = Analyzer::new(Config::default().threads(2).force_parallel(true).window_bytes(512)).analyze(&cap);
    assert_eq!(seq.flows, par.flows);
    assert_eq!(seq.findings, par.findings);
    assert_eq!(seq.stats.frames, par.stats.frames);
});
