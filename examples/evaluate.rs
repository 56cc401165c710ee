//! Scores the analyzer against ground truth: every `*.truth.json` under the given
//! files or directories (default: the lab captures), with per-flow outcomes and
//! per-kind precision and recall.
//!
//! ```text
//! cargo run --release --example evaluate -- [TRUTH_OR_DIR ...]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tamperscope::eval::{KindScore, Truth, Verdict, score};
use tamperscope::{Analyzer, Config};

fn truth_files(arg: &Path, out: &mut Vec<PathBuf>) {
    if arg.is_dir() {
        if let Ok(rd) = std::fs::read_dir(arg) {
            let mut v: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            v.sort();
            for p in v {
                truth_files(&p, out);
            }
        }
    } else if arg.to_string_lossy().ends_with(".truth.json") {
        out.push(arg.to_path_buf());
    }
}

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let roots = if args.is_empty() {
        vec![PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/lab/captures"
        ))]
    } else {
        args
    };
    let mut files = Vec::new();
    for r in &roots {
        truth_files(r, &mut files);
    }
    if files.is_empty() {
        eprintln!("error: no *.truth.json found");
        return ExitCode::from(2);
    }
    let analyzer = Analyzer::new(Config::default());
    let mut kinds: BTreeMap<String, KindScore> = BTreeMap::new();
    let mut counts: BTreeMap<Verdict, u32> = BTreeMap::new();
    for tf in &files {
        let truth = match Truth::load(tf) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        let cap = tf.with_file_name(&truth.capture);
        let report = match analyzer.analyze_path(&cap) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {}: {e}", cap.display());
                return ExitCode::from(1);
            }
        };
        println!("== {} ({})", truth.capture, truth.scenario);
        for o in score(&report, &truth, &mut kinds) {
            *counts.entry(o.verdict).or_default() += 1;
            let rep = o
                .reported
                .map(|r| format!("{r:?}"))
                .unwrap_or_else(|| "(flow absent)".into());
            println!(
                "  {:<11} {:<42} expected {:?} reported {rep}{}",
                format!("{:?}", o.verdict),
                o.flow,
                o.expected,
                o.note.map(|n| format!("  # {n}")).unwrap_or_default()
            );
        }
    }
    println!(
        "\n{:<24} {:>6} {:>6} {:>8} {:>9} {:>9}",
        "kind", "hits", "misses", "f.alarm", "recall", "precision"
    );
    for (k, s) in &kinds {
        println!(
            "{k:<24} {:>6} {:>6} {:>8} {:>9.3} {:>9.3}",
            s.hits,
            s.misses,
            s.false_alarms,
            s.recall(),
            s.precision()
        );
    }
    println!("\nflows: {counts:?}");
    ExitCode::SUCCESS
}
