//! Running the detectors on finished flows and releasing their records.
//!
//! Records are released as flows end, window by window (a window is
//! `Config::window_bytes` of capture), and within a window in order of first
//! frame. Windows end at the same records whatever the thread count, so the
//! output is the same for any `-j`; and nothing waits for a long-lived flow to
//! end, so memory is bounded by the flows alive at once rather than by the
//! capture's length. A window's flows are judged [`EMIT_BATCH`] at a time, as
//! the records are read, so that the records of a burst of ended flows are not
//! all held at once.

use std::collections::VecDeque;

use rayon::prelude::*;

use super::Shards;
use crate::detect::{self, CaptureContext, FlowView, QuicNameTracker, ResidualTracker};
use crate::flow::{Flow, TO_CLIENT, TO_SERVER};
use crate::proto::judged_start;
use crate::report::{Finding, FlowRecord, FlowVerdict, Record};

/// Buffers one judging thread reuses for every flow: the stream starts that span
/// several segments are assembled here rather than in memory each flow keeps.
#[derive(Default)]
struct Scratch {
    up: Vec<u8>,
    down: Vec<u8>,
}

/// Flows judged per [`Emitter::emit`] call.
const EMIT_BATCH: usize = 2048;

thread_local! {
    /// The judging scratch of each judging thread, kept from flow to flow.
    static THREAD_SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// A judged flow's records: its flow record and its findings.
pub(crate) type Judged = (FlowRecord, Vec<Finding>);

/// Identifies a finished flow, runs the detectors on it and makes its records.
fn judge(f: &Flow<'_>, context: &CaptureContext, s: &mut Scratch) -> Judged {
    let tcp = f.key.proto == 6;
    let up = judged_start(&f.dirs[TO_SERVER].stream, tcp, &mut s.up);
    let down = judged_start(&f.dirs[TO_CLIENT].stream, tcp, &mut s.down);
    let app = crate::proto::identify_streams(f, up, down);
    let view = FlowView::new(f, &app, up, down);
    let findings = detect::inspect_flow(&view, context);
    drop(view);
    let mut rec = FlowRecord::from_flow(f, app);
    if !findings.is_empty() {
        let mut kinds: Vec<&str> = findings.iter().map(|x| x.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        rec.verdict = FlowVerdict::Tampered(kinds);
    }
    (rec, findings)
}

/// Judges `flows` on the current rayon pool's threads, appending their
/// records to `out` in the order of `flows`.
pub(crate) fn judge_all(context: &CaptureContext, flows: &[&Flow<'_>], out: &mut Vec<Judged>) {
    out.par_extend(flows.par_iter().map(|f| judge_here(f, context)));
}

/// [`judge`] with this thread's scratch (one per thread rather than one per
/// rayon job, which grew its buffers anew each time).
fn judge_here(f: &Flow<'_>, context: &CaptureContext) -> Judged {
    THREAD_SCRATCH.with_borrow_mut(|sc| judge(f, context, sc))
}

/// Appends each judged flow's record, then its findings, to `out`; returns
/// how many flows.
fn push_records(
    judged: impl IntoIterator<Item = Judged>,
    late: &mut LateJudgements,
    out: &mut VecDeque<Record>,
) -> u64 {
    let mut n = 0;
    for (r, findings) in judged {
        n += 1;
        if !findings.is_empty() {
            late.residual.note(&r, &findings);
        }
        late.quic_names.note(&r, &findings);
        out.push_back(Record::Flow(r));
        out.extend(findings.into_iter().map(Record::Tamper));
    }
    n
}

/// The capture-wide judgements made from the judged records, in release
/// order, and released at the end of the capture.
#[derive(Default)]
struct LateJudgements {
    residual: ResidualTracker,
    quic_names: QuicNameTracker,
}

/// A collected flow: (first frame, id, shard, index in the shard's finished
/// list); sorted, these are the release order.
pub(crate) type Collected = (u64, u64, u32, u32);

/// Flows collected in one window that may be judged together, their records
/// held at once, while the next window is read.
const OVERLAP_MAX: usize = 2 * EMIT_BATCH;

/// Collects finished flows from the shards, runs the detectors on them, and
/// releases their records (each flow followed by its findings).
#[derive(Default)]
pub(crate) struct Emitter {
    context: CaptureContext,
    /// The judged flows' records and findings, in release order, for the
    /// capture-wide residual-block and QUIC-name judgements.
    late: LateJudgements,
    /// The collected flows, in release order: (first frame, id, shard, index
    /// in the shard's finished list).
    pending: Vec<Collected>,
    /// How many of `pending` are judged.
    next: usize,
    /// The records of the batch being released.
    judged: Vec<Option<Judged>>,
    /// The records of the flows judged while the next window is read
    /// ([`judge_taken`](Emitter::judge_taken)). Kept from window to window:
    /// made anew each time, it was allocated on a pool thread and freed on
    /// the reading one, and mimalloc's peak of large blocks at `-j 2` on the
    /// benchmark capture was 3.8 MiB higher.
    taken_judged: Vec<Judged>,
    /// The shards' ended flows are in `pending`, in release order, and known
    /// to `context` (see [`Emitter::note`]).
    ordered: bool,
    /// How many ended flows the shards held when last noted.
    waiting: usize,
    /// Every packet is read: the flows collected last are the capture's last.
    pub capture_ended: bool,
    pub peak_live: u64,
    pub flows: u64,
    pub evicted: u64,
}

impl Emitter {
    /// An emitter whose detectors match against `signatures`.
    pub fn new(
        signatures: crate::signatures::Signatures,
        tls_keys: std::sync::Arc<crate::proto::TlsKeyLog>,
    ) -> Emitter {
        Emitter {
            context: CaptureContext::with_keys(signatures, tls_keys),
            ..Emitter::default()
        }
    }

    /// Adds the TLS key logs read from the capture (pcapng Decryption Secrets
    /// Blocks) to the keys the detectors have: called after a window is read
    /// and before its flows are judged, on every path alike.
    pub fn add_key_logs(&mut self, logs: Vec<(usize, &[u8])>) {
        if logs.is_empty() {
            return;
        }
        let mut keys = (*self.context.tls_keys).clone();
        for (_, text) in logs {
            keys.merge(crate::proto::TlsKeyLog::parse(&String::from_utf8_lossy(
                text,
            )));
        }
        self.context.tls_keys = std::sync::Arc::new(keys);
    }

    /// Takes note of the flows that have ended, as each window ends: samples
    /// the flows held and counts the ended ones. Putting them in release
    /// order and into the capture-wide context ([`order`](Emitter::order))
    /// waits until they are judged, which on the parallel path happens on a
    /// pool thread while the next window is read.
    pub fn note(&mut self, shards: &Shards<'_>) {
        // Memory is driven by the flows held; windows end at the same records on
        // every path, so this sample is the same for any thread count.
        let held: usize = shards.tables.iter().map(|t| t.held()).sum();
        self.peak_live = self.peak_live.max(held as u64);
        self.evicted = shards.tables.iter().map(|t| t.evicted).sum();
        self.waiting = shards.tables.iter().map(|t| t.finished().len()).sum();
        self.pending.clear();
        self.next = 0;
        self.ordered = false;
    }

    /// Puts the noted flows (`finished(s)`: shard `s`'s ended flows, as
    /// noted) in release order and adds them to the capture-wide context, in
    /// that order, so that what a detector knows never depends on which shard
    /// a flow was in.
    #[allow(clippy::vec_box)]
    pub fn order<'f, 'c: 'f>(&mut self, finished: impl Fn(usize) -> &'f [Box<Flow<'c>>]) {
        if self.ordered {
            return;
        }
        self.pending.clear();
        self.next = 0;
        for s in 0..crate::flow::SHARDS {
            for (i, f) in finished(s).iter().enumerate() {
                self.pending.push((f.first_frame, f.id, s as u32, i as u32));
            }
        }
        self.pending.sort_unstable();
        for &(_, _, s, i) in &self.pending {
            if let Some(f) = finished(s as usize).get(i as usize) {
                self.context.observe(f);
            }
        }
        self.ordered = true;
    }

    /// Whether the collected flows, none judged yet, are few enough to be
    /// judged all at once while the next window is read.
    pub fn overlappable(&self) -> bool {
        let n = if self.ordered {
            self.pending.len()
        } else {
            self.waiting
        };
        self.next == 0 && n > 0 && n <= OVERLAP_MAX
    }

    /// The collected flows not yet judged: (first frame, id, shard, index in
    /// the shard's finished list), in release order.
    pub fn pending(&self) -> &[Collected] {
        self.pending.get(self.next..).unwrap_or(&[])
    }

    /// Judges the noted flows, taken out of their shards (`taken[s]` is
    /// shard `s`'s ended flows as noted), on the current rayon pool: puts them
    /// in order and into the context first if that is still to do. The
    /// records come back in release order, for [`release`](Emitter::release).
    #[allow(clippy::vec_box)]
    pub fn judge_taken(&mut self, taken: &[Vec<Box<Flow<'_>>>]) {
        self.order(|s| taken.get(s).map_or(&[], Vec::as_slice));
        let order: Vec<&Flow<'_>> = self
            .pending()
            .iter()
            .filter_map(|&(_, _, s, i)| Some(&**taken.get(s as usize)?.get(i as usize)?))
            .collect();
        self.taken_judged.clear();
        judge_all(&self.context, &order, &mut self.taken_judged);
    }

    /// Appends the records of the collected flows, judged elsewhere in
    /// [`pending`](Emitter::pending) order by
    /// [`judge_taken`](Emitter::judge_taken), to `out`; the collected flows
    /// are then done with.
    pub fn release(&mut self, out: &mut VecDeque<Record>) {
        self.flows += push_records(self.taken_judged.drain(..), &mut self.late, out);
        self.pending.clear();
        self.next = 0;
        self.waiting = 0;
    }

    /// Judges the next batch of collected flows and appends their records to
    /// `out`; once every collected flow is judged, hands the flows back to
    /// their shards for reuse. False when nothing was pending.
    ///
    /// Records are made a batch at a time, as they are read: when a long gap
    /// in the capture, or its end, ends tens of thousands of flows at once,
    /// their records are not all held together with the flows.
    pub fn emit(
        &mut self,
        shards: &mut Shards<'_>,
        pool: Option<&rayon::ThreadPool>,
        out: &mut VecDeque<Record>,
    ) -> bool {
        self.order(|s| shards.tables.get(s).map_or(&[], |t| t.finished()));
        if self.next >= self.pending.len() {
            if !self.pending.is_empty() {
                self.pending.clear();
                self.next = 0;
                // The flows the end of the capture ended have no successors to
                // reuse them: they stay where they are and go with the analysis
                // (a program that exits then skips freeing them one by one).
                // On the parallel path the shards sort them into their spare
                // pools (and free the rest) on their own threads, as they replay
                // the next window: a burst of tens of thousands of ended flows
                // is not freed here while the pool waits.
                if !self.capture_ended {
                    for t in &mut shards.tables {
                        if pool.is_some() {
                            let judged = t.take_finished();
                            t.give_back(judged);
                        } else {
                            t.recycle_finished();
                        }
                    }
                }
            }
            return false;
        }
        let end = (self.next + EMIT_BATCH).min(self.pending.len());
        let batch = &self.pending[self.next..end];
        self.next = end;
        // Judging a flow reads only the flow and the context: on the parallel
        // path a batch is judged on every core.
        let (context, tables) = (&self.context, &shards.tables);
        let flow = |&(_, _, s, i): &Collected| {
            tables
                .get(s as usize)
                .and_then(|t| t.finished().get(i as usize))
        };
        // The batch's records go through one buffer kept from batch to batch
        // (it is too large for the allocator to keep for us).
        let judged = &mut self.judged;
        judged.clear();
        let judge_one = |e: &Collected| flow(e).map(|f| judge_here(f, context));
        match pool {
            Some(pool) => pool.install(|| judged.par_extend(batch.par_iter().map(judge_one))),
            None => judged.extend(batch.iter().map(judge_one)),
        }
        self.flows += push_records(judged.drain(..).flatten(), &mut self.late, out);
        true
    }

    /// Releases the capture-wide findings, once every flow is known (end of
    /// capture).
    pub fn finish(&mut self, out: &mut VecDeque<Record>) {
        out.extend(
            self.context
                .blackouts
                .findings()
                .into_iter()
                .map(Record::Tamper),
        );
        out.extend(
            self.late
                .residual
                .findings()
                .into_iter()
                .map(Record::Tamper),
        );
        out.extend(
            self.late
                .quic_names
                .findings()
                .into_iter()
                .map(Record::Tamper),
        );
    }
}
