//! Analyse a capture: a human summary, or JSON Lines with `--jsonl`.
//!
//! ```text
//! cargo run --release --example analyze -- [--jsonl] [-j N] [FILE]
//! ```
//! With no FILE it analyses the small capture bundled in `testdata/`.
//! Exit codes: 0 done, 1 runtime error (unreadable or unrecognised file),
//! 2 usage error.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tamperscope::report::{Record, Report, summary, write_record};
use tamperscope::{Analyzer, Config};

/// The analysis allocates per flow (a flow, its stream heads, its records) and
/// frees them in bursts as windows of flows end, often on another thread than
/// the one that allocated them; mimalloc does that with less work than glibc's
/// malloc (alternating runs on the bench capture: `-j 1` ~8%, `-j 2` ~4%
/// faster). Its transparent huge pages are off (`no_thp`): with them, some
/// runs spent most of their time in the kernel clearing 2 MiB pages. The
/// library itself leaves the choice of allocator to the program.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Records handed from the analysis thread to the writer at a time.
const BATCH: usize = 512;

/// Where records go: JSON Lines on stdout, or a report for the summary.
struct Sink {
    jsonl: bool,
    report: Report,
    error: Option<String>,
}

impl Sink {
    fn take<W: Write>(&mut self, out: &mut W, rec: Record) -> std::io::Result<()> {
        if let Record::Stats(s) = &rec {
            self.error = s.error.clone();
        }
        if self.jsonl {
            return write_record(out, &rec);
        }
        match rec {
            Record::Flow(f) => self.report.flows.push(f),
            Record::Tamper(t) => self.report.findings.push(t),
            Record::Stats(s) => self.report.stats = s,
            _ => {}
        }
        Ok(())
    }
}

/// The capture analysed when no FILE is given.
const BUNDLED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sample.pcap");

#[derive(Parser)]
#[command(about = "Detect network tampering in a packet capture")]
struct Args {
    /// pcap or pcapng file (optionally gzip-compressed); default: the bundled sample.
    file: Option<PathBuf>,
    /// Print JSON Lines (flow, tamper and stats records) to stdout.
    #[arg(long)]
    jsonl: bool,
    /// Worker threads; 0 = one per core.
    #[arg(short = 'j', long = "threads", default_value_t = 0)]
    threads: usize,
    /// Extra signature sets (Censored Planet JSON Lines, OONI CSV, or our TOML),
    /// added to the built-in ones; repeatable.
    #[arg(long = "signatures", value_name = "FILE")]
    signatures: Vec<PathBuf>,
    /// The clients' TLS key log (SSLKEYLOGFILE): TLS 1.3 certificate chains
    /// are then read and checked for interception too.
    #[arg(long = "keylog", value_name = "FILE")]
    keylog: Option<PathBuf>,
    /// Use the parallel path even for a small capture (for testing).
    #[arg(long, hide = true)]
    force_parallel: bool,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let path = args.file.clone().unwrap_or_else(|| PathBuf::from(BUNDLED));
    let mut cfg = Config::default()
        .threads(args.threads)
        .force_parallel(args.force_parallel);
    if let Some(k) = &args.keylog {
        match tamperscope::proto::TlsKeyLog::from_file(k) {
            Ok(keys) => {
                if keys.rejected > 0 {
                    eprintln!(
                        "warning: {}: {} lines not read as keys",
                        k.display(),
                        keys.rejected
                    );
                }
                cfg = cfg.tls_keys(keys);
            }
            Err(e) => {
                eprintln!("error: keylog {}: {e}", k.display());
                return ExitCode::from(1);
            }
        }
    }
    if !args.signatures.is_empty() {
        let paths: Vec<&std::path::Path> = args.signatures.iter().map(PathBuf::as_path).collect();
        match tamperscope::signatures::Signatures::with_files(&paths) {
            Ok(s) => cfg = cfg.signatures(s),
            Err(e) => {
                eprintln!("error: signatures: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let analyzer = Analyzer::new(cfg);
    let cap = match analyzer.open(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(1);
        }
    };
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(cap.bytes().len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut analysis = analyzer.records(&cap);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut sink = Sink {
        jsonl: args.jsonl,
        report: Report::default(),
        error: None,
    };
    let written: std::io::Result<()> = if args.jsonl && args.threads != 1 {
        // With more than one thread, the records are written on this thread
        // while the analysis goes on on another, in batches: writing JSON is then
        // no longer a serial step between windows.
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Record>>(4);
            // The written batches go back to be filled again: a batch made on
            // the analysis thread and freed on this one was not handed back to
            // the analysis thread's allocator pages until the end (15 MiB of
            // them held on the benchmark capture, twice that on it doubled).
            let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<Record>>();
            let bar = &bar;
            scope.spawn(move || {
                let mut batch = Vec::with_capacity(BATCH);
                while let Some(rec) = analysis.next() {
                    batch.push(rec);
                    if batch.len() == BATCH {
                        if let Some(b) = bar {
                            b.set_position(analysis.progress().0 as u64);
                        }
                        let empty = back_rx
                            .try_recv()
                            .unwrap_or_else(|_| Vec::with_capacity(BATCH));
                        let full = std::mem::replace(&mut batch, empty);
                        if tx.send(full).is_err() {
                            return; // the writer stopped (closed pipe)
                        }
                    }
                }
                let _ = tx.send(batch);
                // The process ends once the records are written: freeing tens of
                // thousands of flows one by one would only delay it.
                std::mem::forget(analysis);
            });
            for mut batch in rx {
                for rec in batch.drain(..) {
                    sink.take(&mut out, rec)?;
                }
                // (The analysis may have ended: then the batch is dropped.)
                let _ = back_tx.send(batch);
            }
            Ok(())
        })
    } else {
        (|| {
            while let Some(rec) = analysis.next() {
                if let Some(b) = &bar {
                    b.set_position(analysis.progress().0 as u64);
                }
                sink.take(&mut out, rec)?;
            }
            // As above: the flows are not freed one by one before exiting.
            std::mem::forget(analysis);
            Ok(())
        })()
    };
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return ExitCode::SUCCESS;
        }
        eprintln!("error: writing output: {e}");
        return ExitCode::from(1);
    }
    let (report, error) = (sink.report, sink.error);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if !args.jsonl {
        let _ = write!(out, "{}", summary::render(&report));
    }
    if let Err(e) = out.flush() {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing output: {e}");
            return ExitCode::from(1);
        }
    }
    if let Some(e) = error {
        eprintln!("warning: {}: {e}", path.display());
    }
    ExitCode::SUCCESS
}
