//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use tamperscope::report::{Record, write_line};
use tamperscope::{Analyzer, Config};

/// The public capture corpus: `$TAMPERSCOPE_CORPUS`, default `../shared/corpus`.
/// `None` (with a printed reason) when it is absent.
pub fn corpus() -> Option<PathBuf> {
    let p = std::env::var_os("TAMPERSCOPE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if p.join("MANIFEST.tsv").is_file() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: public corpus not found at {} (set TAMPERSCOPE_CORPUS)",
            p.display()
        );
        None
    }
}

/// One row of `MANIFEST.tsv`.
#[derive(Debug, Clone)]
pub struct Row {
    pub path: String,
    pub format: String,
    pub link_type: String,
    pub packets: Option<u64>,
}

pub fn manifest(corpus: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("MANIFEST.tsv readable");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c.len() >= 8).then(|| Row {
                path: c[0].to_string(),
                format: c[5].to_string(),
                link_type: c[6].to_string(),
                packets: c[7].trim().parse().ok(),
            })
        })
        .collect()
}

/// The JSON Lines of an analysis, with `elapsed_s` blanked.
pub fn jsonl(path: &Path, cfg: Config) -> Result<String, String> {
    let a = Analyzer::new(cfg);
    let cap = a.open(path).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for mut rec in a.records(&cap) {
        if let Record::Stats(s) = &mut rec {
            s.elapsed_s = 0.0;
        }
        write_line(&mut out, &rec).map_err(|e| e.to_string())?;
    }
    String::from_utf8(out).map_err(|e| e.to_string())
}

/// The `analyze` example binary that `cargo test` built beside the test binary.
pub fn analyze_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    dir.join("examples")
        .join(format!("analyze{}", std::env::consts::EXE_SUFFIX))
}

/// The benign public captures (nDPI's default set, Zeek's traces, suricata-verify),
/// minus the traces that are about injection.
pub fn benign_captures(corpus: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    fn walk(d: &Path, v: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, v);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng" | "trace" | "gz")
            ) {
                v.push(p);
            }
        }
    }
    walk(&corpus.join("ntop__nDPI/tests/cfgs/default/pcap"), &mut v);
    walk(&corpus.join("zeek__zeek/testing/btest/Traces"), &mut v);
    walk(&corpus.join("OISF__suricata-verify/tests"), &mut v);
    v.retain(|p| {
        let s = p.to_string_lossy();
        !s.contains("rst-inject") && !s.contains("qi_internet")
    });
    v.sort();
    v
}

/// Analyses a capture on one thread (the tests' reference path).
pub fn analyze(path: &Path) -> tamperscope::report::Report {
    Analyzer::new(Config::default().threads(1))
        .analyze_path(path)
        .expect("capture readable")
}

/// The lab's truth files: the committed set, plus `$TAMPERSCOPE_LAB` (another
/// seed's run) when set; sorted per directory.
pub fn lab_truth_files() -> Vec<PathBuf> {
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/lab/captures")];
    if let Some(extra) = std::env::var_os("TAMPERSCOPE_LAB") {
        dirs.push(PathBuf::from(extra));
    }
    let mut out = Vec::new();
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("lab dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".truth.json"))
            .collect();
        files.sort();
        out.extend(files);
    }
    out
}
