//! The capture the benches read: `$TAMPERSCOPE_BENCH_CAPTURE`, else a real mixed
//! capture from the public corpus, else the bundled sample.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn bench_capture() -> PathBuf {
    if let Some(p) = std::env::var_os("TAMPERSCOPE_BENCH_CAPTURE") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = std::env::var_os("TAMPERSCOPE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/corpus"));
    let real = corpus.join("jmhIcoding__flowcontainer/1592993485_noise.pcap");
    if real.is_file() {
        return real;
    }
    eprintln!("bench: corpus capture absent, using testdata/sample.pcap");
    root.join("testdata/sample.pcap")
}
