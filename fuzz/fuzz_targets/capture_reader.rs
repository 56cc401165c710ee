//! A whole capture file (pcap, pcapng or gzip) through the full analysis, on both
//! the sequential and the parallel path: nothing may panic, and both paths must
//! agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tamperscope::capture::Capture;
use tamperscope::{Analyzer, Config};

fuzz_target!(|data: &[u8]| {
    let Ok(cap) = Capture::from_bytes(data.to_vec(), 1 << 24) else {
        return;
    };
    let seq = Analyzer::new(Config::default().threads(1)).analyze(&cap);
    let par = Analyzer::new(Config::default().threads(2).force_parallel(true).window_bytes(512)).analyze(&cap);
    assert_eq!(seq.flows, par.flows);
    assert_eq!(seq.stats.frames, par.stats.frames);
});
