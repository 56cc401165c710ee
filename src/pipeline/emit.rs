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

/// Identifies a finished flow, runs the detectors on it and makes its records.
fn judge(f: &Flow<'_>, context: &CaptureContext, s: &mut Scratch) -> (FlowRecord, Vec<Finding>) {
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
        let mut batch: Vec<Box<Flow<'_>>> = Vec::new();
        for t in &mut shards.tables {
            batch.extend(t.take_finished());
        }
        // Capture-wide context first, in a fixed order, so that what a detector
        // knows never depends on which shard finished first.
        batch.sort_unstable_by_key(|f| (f.first_frame, f.id));
        for f in &batch {
            self.context.observe(f);
        }
        // Judging a flow reads only the flow and the context: on the parallel path
        // the batch is judged on every core, in order.
        let context = &self.context;
        let judged: Vec<(FlowRecord, Vec<Finding>)> = match pool {
            Some(pool) => pool.install(|| {
                batch
                    .par_iter()
                    .map_init(Scratch::default, |s, f| judge(f, context, s))
                    .collect()
            }),
            None => {
                let s = &mut self.scratch;
                batch.iter().map(|f| judge(f, context, s)).collect()
            }
        };
        self.evicted = shards.tables.iter().map(|t| t.evicted).sum();
        for (r, findings) in judged {
            self.flows += 1;
            out.push_back(Record::Flow(r));
            out.extend(findings.into_iter().map(Record::Tamper));
        }
        // The judged flows' memory serves the next flows of their shard.
        for f in batch {
            shards.tables[crate::flow::shard_of(&f.key)].recycle(f);
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
