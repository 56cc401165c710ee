//! `analyze` on every capture of the public corpus (over 3,000 files, many
//! malformed): within 10 s and 512 MiB each, exit 0 when the header parsed and 1
//! with a one-line error otherwise — never a panic.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TIME_LIMIT: Duration = Duration::from_secs(10);
const RSS_LIMIT_KIB: i64 = 512 * 1024;

#[test]
fn analyze_survives_every_corpus_file() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let bin = common::analyze_bin();
    assert!(bin.is_file(), "example binary missing at {}", bin.display());
    let rows = common::manifest(&corpus);
    let mut failures = Vec::new();
    let (mut ok, mut rejected) = (0, 0);
    let mut slowest = (Duration::ZERO, String::new());
    for row in &rows {
        let path = corpus.join(&row.path);
        let start = Instant::now();
        let mut child = Command::new(&bin)
            .args(["--jsonl", "-q", "-j", "2"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn analyze");
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break Some(s);
            }
            if start.elapsed() > TIME_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let took = start.elapsed();
        if took > slowest.0 {
            slowest = (took, row.path.clone());
        }
        let stderr = {
            use std::io::Read;
            let mut s = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut s);
            }
            s
        };
        let Some(status) = status else {
            failures.push(format!("{}: exceeded {TIME_LIMIT:?}", row.path));
            continue;
        };
        match status.code() {
            Some(0) => ok += 1,
            Some(1) if row.packets.is_none() && stderr.trim_end().lines().count() == 1 => {
                rejected += 1
            }
            Some(1) if row.packets.is_none() => failures.push(format!(
                "{}: exit 1 but error is not one line: {stderr:?}",
                row.path
            )),
            other => failures.push(format!(
                "{} (capinfos packets {:?}): exit {other:?}: {}",
                row.path,
                row.packets,
                stderr.lines().next().unwrap_or("")
            )),
        }
    }
    // SAFETY-free: getrusage only fills the struct we pass.
    let max_rss_kib = max_child_rss_kib();
    eprintln!(
        "{} files: {ok} analysed, {rejected} rejected with an error; slowest {:?} ({}); peak RSS of any run {} MiB",
        rows.len(),
        slowest.0,
        slowest.1,
        max_rss_kib / 1024
    );
    for f in &failures {
        eprintln!("  FAIL {f}");
    }
    assert!(failures.is_empty(), "{} files failed", failures.len());
    assert!(max_rss_kib <= RSS_LIMIT_KIB, "a run used {max_rss_kib} KiB");
}

#[allow(unsafe_code)]
fn max_child_rss_kib() -> i64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage; RUSAGE_CHILDREN covers every
    // child this process has waited for.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    ru.ru_maxrss
}
