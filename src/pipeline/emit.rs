//! Running the detectors on finished flows and releasing their records.
//!
//! Records are released as flows end, window by window (a window is
//! `Config::window_bytes` of capture), and within a window in order of first
//! frame. Windows end at the same records whatever the thread count, so the
//! output is the same for any `-j`; and nothing waits for a long-lived flow to
//! end, so memory is bounded by the flows alive at once rather than by the
//! capture's length.

use std::collections::VecDeque;

use rayon::prelude::*;

use super::Shards;
use crate::detect::{self, CaptureContext, FlowView};
use crate::flow::{Flow, TO_CLIENT, TO_SERVER};
use crate::report::{Finding, FlowRecord, Record};

/// Buffers one judging thread reuses for every flow: the stream starts that span
/// several segments are assembled here rather than in memory each flow keeps.
#[derive(Default)]
struct Scratch {
    up: Vec<u8>,
    down: Vec<u8>,
}

/// A judged flow's records: its flow record and its findings.
type Judged = (FlowRecord, Vec<Finding>);

/// Identifies a finished flow, runs the detectors on it and makes its records.
fn judge(f: &Flow<'_>, context: &CaptureContext, s: &mut Scratch) -> Judged {
    let up = f.dirs[TO_SERVER].stream.assemble(&mut s.up);
    let down = f.dirs[TO_CLIENT].stream.assemble(&mut s.down);
    let app = crate::proto::identify_streams(f, up, down);
    let view = FlowView::new(f, &app, up, down);
    let findings = detect::inspect_flow(&view, context);
    drop(view);
    let mut rec = FlowRecord::from_flow(f, app);
    if !findings.is_empty() {
        let mut kinds: Vec<&str> = findings.iter().map(|x| x.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        rec.verdict = serde_json::json!(kinds);
    }
    (rec, findings)
}

/// Collects finished flows from the shards, runs the detectors on them, and
/// releases their records (each flow followed by its findings).
#[derive(Default)]
pub(crate) struct Emitter {
    context: CaptureContext,
    scratch: Scratch,
    pub peak_live: u64,
    pub flows: u64,
    pub evicted: u64,
}

impl Emitter {
    /// An emitter whose detectors match against `signatures`.
    pub fn new(signatures: crate::signatures::Signatures) -> Emitter {
        Emitter {
            context: CaptureContext::with_signatures(signatures),
            ..Emitter::default()
        }
    }

    /// Takes the finished flows of every shard, judges them, and appends their
    /// records to `out` in order of first frame.
    pub fn collect(
        &mut self,
        shards: &mut Shards<'_>,
        pool: Option<&rayon::ThreadPool>,
        out: &mut VecDeque<Record>,
    ) {
        // Memory is driven by the flows held; windows end at the same records on
        // every path, so this sample is the same for any thread count.
        let held: usize = shards.tables.iter().map(|t| t.held()).sum();
        self.peak_live = self.peak_live.max(held as u64);
        // Capture-wide context first, in a fixed order (first frame, then id), so
        // that what a detector knows never depends on which shard a flow was in.
        let mut order: Vec<(u64, u64, usize, usize)> = Vec::new();
        for (s, t) in shards.tables.iter().enumerate() {
            for (i, f) in t.finished().iter().enumerate() {
                order.push((f.first_frame, f.id, s, i));
            }
        }
        order.sort_unstable();
        for &(_, _, s, i) in &order {
            if let Some(f) = shards.tables[s].finished().get(i) {
                self.context.observe(f);
            }
        }
        // Judging a flow reads only the flow and the context: on the parallel path
        // the shards are judged on every core, and each keeps its judged flows'
        // memory for its next flows.
        let context = &self.context;
        let mut judged: Vec<Vec<Option<Judged>>> = match pool {
            Some(pool) => pool.install(|| {
                shards
                    .tables
                    .par_iter_mut()
                    .map_init(Scratch::default, |s, t| {
                        t.judge_finished(|f| Some(judge(f, context, s)))
                    })
                    .collect()
            }),
            None => {
                let s = &mut self.scratch;
                shards
                    .tables
                    .iter_mut()
                    .map(|t| t.judge_finished(|f| Some(judge(f, context, s))))
                    .collect()
            }
        };
        self.evicted = shards.tables.iter().map(|t| t.evicted).sum();
        for (_, _, s, i) in order {
            let Some((r, findings)) = judged.get_mut(s).and_then(|v| v.get_mut(i)?.take()) else {
                continue;
            };
            self.flows += 1;
            out.push_back(Record::Flow(r));
            out.extend(findings.into_iter().map(Record::Tamper));
        }
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
    }
}
