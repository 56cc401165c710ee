//! The capture the benches read: `$TAMPERSCOPE_BENCH_CAPTURE`, else the big
//! benchmark capture `benches/data/bench.pcap` when it was made
//! (`benches/data/make-capture.sh`), else the committed slice of it
//! (`benches/data/slice.pcap`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn bench_capture() -> PathBuf {
    if let Some(p) = std::env::var_os("TAMPERSCOPE_BENCH_CAPTURE") {
        return PathBuf::from(p);
    }
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data");
    let big = data.join("bench.pcap");
    if big.is_file() {
        return big;
    }
    eprintln!(
        "bench: benches/data/bench.pcap absent (see benches/data/make-capture.sh), using the slice"
    );
    data.join("slice.pcap")
}
