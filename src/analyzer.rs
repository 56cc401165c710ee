//! The public entry point: [`Analyzer`] and its streaming [`Analysis`].

use std::collections::VecDeque;
use std::path::Path;
use std::time::Instant;

use crate::capture::{Capture, WalkState, WalkStop, Walker};
use crate::config::Config;
use crate::error::Result;
use crate::pipeline::{Counts, Emitter, Shards, Workers};
use crate::report::{Record, Report, Stats};

/// Most bytes of capture the parallel path walks and decodes at a time (see
/// [`Analysis::advance`]): the default window's size, so that a window of
/// ordinary traffic is one walk and one replay, two waits for the pool's
/// threads. Chunks of 4 MiB were 3% slower at `-j 2` (21 alternating pairs on
/// the benchmark capture).
const PARALLEL_CHUNK: usize = 8 << 20;

/// Decoded packets a parallel chunk is sized to hold: the packets of a chunk
/// are held until its shards have replayed them (152 bytes each), so a chunk
/// is cut to the bytes that held about this many packets in the chunk before.
/// 8 MiB of DNS exchanges (100-byte frames) would hold 80,000 of them, 12 MB.
/// Ordinary traffic (500 bytes a frame and more) still walks whole 8 MiB
/// chunks.
const CHUNK_PACKETS: usize = 16 * 1024;

/// The smallest parallel chunk (a capture of minimum-size frames).
const MIN_PARALLEL_CHUNK: usize = 512 << 10;

/// The size of the next parallel chunk, from what the last one held.
fn next_chunk(bytes: usize, frames: u64) -> usize {
    let frames = usize::try_from(frames).unwrap_or(usize::MAX).max(1);
    (bytes / frames)
        .saturating_mul(CHUNK_PACKETS)
        .clamp(MIN_PARALLEL_CHUNK, PARALLEL_CHUNK)
}

/// Analyses captures with one [`Config`].
#[derive(Clone, Debug, Default)]
pub struct Analyzer {
    cfg: Config,
}

impl Analyzer {
    /// An analyzer with these settings.
    pub fn new(cfg: Config) -> Analyzer {
        Analyzer { cfg }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Opens a capture with this analyzer's decompression cap.
    pub fn open(&self, path: &Path) -> Result<Capture> {
        Capture::open(path, self.cfg.max_decompressed_bytes)
    }

    /// Opens and analyses a capture file.
    pub fn analyze_path(&self, path: &Path) -> Result<Report> {
        let cap = self.open(path)?;
        Ok(self.analyze(&cap))
    }

    /// Analyses an opened capture and collects every record.
    pub fn analyze(&self, cap: &Capture) -> Report {
        let mut report = Report::default();
        for rec in self.records(cap) {
            match rec {
                Record::Flow(f) => report.flows.push(f),
                Record::Tamper(t) => report.findings.push(t),
                Record::Stats(s) => report.stats = s,
            }
        }
        report
    }

    /// Analyses a capture as a stream of records: flows as soon as they are over
    /// (window by window, and within a window in order of first frame), each
    /// followed by its findings, and the `stats` record last. Memory
    /// stays bounded by the flows alive at once, not by the capture's size.
    pub fn records<'c>(&self, cap: &'c Capture) -> Analysis<'c> {
        Analysis::new(cap, self.cfg.clone())
    }

    /// Every flow of a capture as tracked, ended and not judged, on one thread
    /// and all in memory: for tools, tests and benchmarks that read flow state
    /// directly (the stream starts, the baselines) rather than records.
    pub fn flows<'c>(&self, cap: &'c Capture) -> Vec<Box<crate::flow::Flow<'c>>> {
        let mut tables: Vec<crate::flow::FlowTable<'c>> = (0..crate::flow::SHARDS)
            .map(|_| crate::flow::FlowTable::new(&self.cfg))
            .collect();
        for f in cap.frames() {
            if let Ok(p) = crate::decode::decode(&f) {
                tables[crate::flow::shard_of_packet(&p)].process(&p);
            }
        }
        let mut out = Vec::new();
        for t in &mut tables {
            t.finish_all();
            out.extend(t.take_finished());
        }
        out
    }
}

enum Mode<'c> {
    Sequential {
        walker: Walker<'c>,
        /// Where the first window starts (after the pcapng header blocks).
        origin: usize,
    },
    Parallel {
        pos: usize,
        state: WalkState,
        next_index: u64,
        parts: usize,
        /// Bytes the next chunk walks (see [`CHUNK_PACKETS`]).
        chunk: usize,
    },
    Done,
}

/// A running analysis: an iterator over output records.
pub struct Analysis<'c> {
    cap: &'c Capture,
    cfg: Config,
    mode: Mode<'c>,
    shards: Shards<'c>,
    /// The worker threads (parallel path only), joined when the analysis is
    /// dropped.
    pool: Option<Workers>,
    counts: Counts,
    emitter: Emitter,
    ready: VecDeque<Record>,
    stop: Option<WalkStop>,
    started: Instant,
    /// Bytes of the capture handled so far (for progress reporting).
    progress: usize,
    stage: Stage,
    /// TLS key logs of the pcapng Decryption Secrets Blocks read (with their
    /// offsets), to join the keys before the flows of the window they were
    /// read in are judged.
    secrets: Vec<(usize, &'c [u8])>,
}

/// Where an [`Analysis`] is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Reading packets, window by window.
    Reading,
    /// Every packet read; the flows still tracked end next.
    Ending,
    /// Every packet read and every flow ended; the capture-wide records are
    /// next, once the flows' are out.
    Closing,
    /// The stats record is out.
    Done,
}

impl<'c> Analysis<'c> {
    fn new(cap: &'c Capture, cfg: Config) -> Analysis<'c> {
        let threads = cfg.effective_threads();
        let len = cap.bytes().len();
        let parallel = cfg.force_parallel || (threads > 1 && len as u64 >= cfg.parallel_min_bytes);
        // Read the blocks before the first packet (pcapng section and interface
        // descriptions): every parallel range starts with them known, and both paths
        // count their windows from the same origin, so that the flows finished in
        // each window (and what the detectors know then) are the same on both.
        let mut probe = cap.frames();
        let mut origin = cap.data_start();
        let mut state = probe.state().clone();
        while let Some(step) = probe.step() {
            if matches!(step, crate::capture::Step::Frame(_)) {
                break;
            }
            origin = probe.offset();
            state = probe.state().clone();
        }
        let pool = parallel.then(|| Workers::new(threads)).flatten();
        let mode = match &pool {
            Some(_) => Mode::Parallel {
                pos: origin,
                state,
                next_index: 1,
                // One byte range per thread per chunk: fewer ranges are fewer
                // packet lists for the shards to replay, and the replay (by
                // shard) balances the threads whatever each range holds. Four
                // per thread were measured 5% slower at `-j 2`.
                parts: threads,
                chunk: PARALLEL_CHUNK,
            },
            None => Mode::Sequential {
                walker: cap.frames(),
                origin,
            },
        };
        // TLS key logs the capture carries (pcapng Decryption Secrets Blocks)
        // join the ones the caller gave: those before the first packet (read
        // by the probe above) before anything is judged, the others as each
        // window that holds one is read.
        let secrets = probe.take_secrets();
        let emitter = Emitter::new(cfg.signatures.clone(), cfg.tls_keys.clone());
        Analysis {
            cap,
            pool,
            shards: Shards::new(&cfg),
            cfg,
            mode,
            counts: Counts::default(),
            emitter,
            ready: VecDeque::new(),
            stop: None,
            started: Instant::now(),
            progress: 0,
            stage: Stage::Reading,
            secrets,
        }
    }

    /// Bytes of the capture processed so far, and the total.
    pub fn progress(&self) -> (usize, usize) {
        (self.progress, self.cap.bytes().len())
    }

    /// Processes one window of the capture and collects the flows that ended
    /// in it. Returns false when the walk is over.
    fn advance(&mut self) -> bool {
        if matches!(self.mode, Mode::Done) {
            return false;
        }
        let more = read_window(
            self.cap,
            &self.cfg,
            &mut self.mode,
            &mut self.shards,
            &mut self.counts,
            self.pool.as_ref().and_then(Workers::pool),
            &mut self.progress,
            &mut self.stop,
            &mut self.secrets,
        );
        self.emitter.add_key_logs(std::mem::take(&mut self.secrets));
        self.emitter.note(&self.shards);
        more
    }

    /// Whether the flows collected last can be judged while the next window
    /// is read: on the parallel path, before any of them is judged, and when
    /// they are few enough for their records to be held together.
    fn can_overlap(&self) -> bool {
        self.pool.is_some()
            && self.stage == Stage::Reading
            && matches!(self.mode, Mode::Parallel { .. })
            && self.emitter.overlappable()
    }

    /// Judges the flows that ended in the last window on some of the pool's
    /// threads while the others read the next window, then notes the flows
    /// that ended in that one. The records are the same as in turn: judging
    /// reads only the ended flows (taken out of their shards meanwhile) and
    /// the capture-wide context, which grows only as a window's ended flows
    /// are put in order, before any of them is judged.
    fn overlapped_advance(&mut self) {
        let Analysis {
            cap,
            cfg,
            mode,
            shards,
            counts,
            emitter,
            pool,
            ready,
            progress,
            stop,
            stage,
            secrets,
            ..
        } = self;
        let Some(pool) = pool.as_ref().and_then(Workers::pool) else {
            return;
        };
        let taken: Vec<Vec<Box<crate::flow::Flow<'c>>>> = shards
            .tables
            .iter_mut()
            .map(|t| t.take_finished())
            .collect();
        // Putting the ended flows in order and into the capture-wide context
        // is the first step of judging them, on the pool while the next window
        // is read (the read touches neither those flows nor the context).
        let ((), more) = pool.install(|| {
            rayon::join(
                || emitter.judge_taken(&taken),
                || {
                    read_window(
                        cap,
                        cfg,
                        mode,
                        shards,
                        counts,
                        Some(pool),
                        progress,
                        stop,
                        secrets,
                    )
                },
            )
        });
        emitter.release(ready);
        // The judged flows go back to their shards, which reuse (or free) them
        // on their own threads as the next window is replayed.
        for (t, flows) in shards.tables.iter_mut().zip(taken) {
            t.give_back(flows);
        }
        // Keys read in this window serve its flows, not the ones judged
        // meanwhile.
        emitter.add_key_logs(std::mem::take(secrets));
        emitter.note(shards);
        if !more {
            *stage = Stage::Ending;
        }
    }

    /// Ends every flow still tracked (end of capture).
    fn finish_flows(&mut self) {
        for t in &mut self.shards.tables {
            t.finish_all();
        }
        self.emitter.capture_ended = true;
        self.emitter.note(&self.shards);
    }

    /// The capture-wide findings and the stats record, once every flow's
    /// records are out.
    fn finish(&mut self) {
        self.emitter.finish(&mut self.ready);
        let mut s = Stats::default();
        self.counts.fill_stats(&mut s);
        if let Some(e) = self.cap.compression_error() {
            s.skip("corrupt_compression", 0, 0);
            s.error = Some(format!("gzip stream damaged: {e}"));
        }
        if let Some(stop) = &self.stop {
            s.skip(stop.reason.as_str(), 0, stop.bytes_skipped);
            s.error = Some(stop.to_string());
        }
        s.flows = self.emitter.flows;
        s.flows_evicted = self.emitter.evicted;
        s.peak_live_flows = self.emitter.peak_live;
        s.elapsed_s = self.started.elapsed().as_secs_f64();
        self.ready.push_back(Record::Stats(s));
    }
}

/// Reads one window of the capture into the shards. Returns false when the
/// walk is over.
#[allow(clippy::too_many_arguments)]
fn read_window<'c>(
    cap: &'c Capture,
    cfg: &Config,
    mode: &mut Mode<'c>,
    shards: &mut Shards<'c>,
    counts: &mut Counts,
    pool: Option<&rayon::ThreadPool>,
    progress: &mut usize,
    stop: &mut Option<WalkStop>,
    secrets: &mut Vec<(usize, &'c [u8])>,
) -> bool {
    let window = usize::try_from(cfg.window_bytes)
        .unwrap_or(usize::MAX)
        .max(1);
    let bytes = cap.bytes();
    match mode {
        Mode::Sequential { walker: w, origin } => {
            let until = w.offset().max(*origin).saturating_add(window);
            crate::pipeline::run_sequential(w, until, shards, counts);
            // (The ones before the first packet were read when it started.)
            let origin = *origin;
            secrets.extend(w.take_secrets().into_iter().filter(|&(at, _)| at >= origin));
            *progress = w.offset().min(bytes.len());
            if w.finished() {
                *stop = w.stop().cloned();
                *mode = Mode::Done;
            }
        }
        Mode::Parallel {
            pos,
            state,
            next_index,
            parts,
            chunk,
        } => {
            let Some(pool) = pool else {
                *mode = Mode::Done;
                return false;
            };
            if *pos >= bytes.len() {
                *mode = Mode::Done;
            } else {
                let end = pos.saturating_add(window).min(bytes.len());
                // The window is walked in chunks: the decoded packets of a
                // chunk are held until its shards have replayed them, and a
                // window of small packets (DNS) holds ten times more of them
                // than its bytes suggest, so a chunk is sized in packets. The
                // records still end at `end`.
                loop {
                    let (p, st, ni, parts) = (*pos, state.clone(), *next_index, *parts);
                    let chunk_end = p.saturating_add(*chunk).min(end);
                    let r = pool.install(|| {
                        crate::pipeline::run_parallel(
                            bytes, p, chunk_end, &st, ni, parts, shards, counts,
                        )
                    });
                    secrets.extend(r.secrets);
                    *pos = r.pos;
                    *state = r.state;
                    *chunk = next_chunk(r.pos.saturating_sub(p), r.next_index.saturating_sub(ni));
                    *next_index = r.next_index;
                    *progress = r.pos.min(bytes.len());
                    if r.stop.is_some() || r.pos >= bytes.len() || r.pos <= p {
                        *stop = r.stop;
                        *mode = Mode::Done;
                        break;
                    }
                    if r.pos >= end {
                        break;
                    }
                }
            }
        }
        Mode::Done => return false,
    }
    !matches!(mode, Mode::Done)
}

impl Iterator for Analysis<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        loop {
            if let Some(r) = self.ready.pop_front() {
                return Some(r);
            }
            if self.can_overlap() {
                self.overlapped_advance();
                continue;
            }
            // The ended flows' records come out before any more packets are read.
            if self.emitter.emit(
                &mut self.shards,
                self.pool.as_ref().and_then(Workers::pool),
                &mut self.ready,
            ) {
                continue;
            }
            match self.stage {
                Stage::Reading => {
                    if !self.advance() {
                        self.stage = Stage::Ending;
                    }
                }
                Stage::Ending => {
                    // The last window's records are out: end the flows left.
                    self.finish_flows();
                    self.stage = Stage::Closing;
                }
                Stage::Closing => {
                    self.finish();
                    self.stage = Stage::Done;
                }
                Stage::Done => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_sized_by_the_packets_they_held() {
        // Ordinary traffic (800 bytes a frame) walks whole chunks.
        assert_eq!(next_chunk(8 << 20, 10_000), PARALLEL_CHUNK);
        // DNS-sized frames: about CHUNK_PACKETS of them.
        assert_eq!(next_chunk(100 * 80_000, 80_000), 100 * CHUNK_PACKETS);
        // Frames smaller than any real one, and a chunk that held nothing,
        // still walk a useful chunk.
        assert_eq!(next_chunk(1 << 20, 50_000), MIN_PARALLEL_CHUNK);
        assert_eq!(next_chunk(0, 0), MIN_PARALLEL_CHUNK);
        assert_eq!(next_chunk(usize::MAX, 1), PARALLEL_CHUNK);
    }
}
