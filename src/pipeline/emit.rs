//! Running the detectors on finished flows and releasing their records, in order
//! of first frame.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::Shards;
use crate::detect::{self, CaptureContext, FlowView};
use crate::flow::Flow;
use crate::report::{Finding, FlowRecord, Record};

/// Collects finished flows from the shards, runs the detectors on them, and
/// releases their records (each flow followed by its findings) in order of first
/// frame, as soon as no flow still tracked can come before them.
#[derive(Default)]
pub(crate) struct Emitter {
    pending: Vec<(FlowRecord, Vec<Finding>)>,
    context: CaptureContext,
    /// Last frames of the flows released so far that may still overlap later ones.
    live_ends: BinaryHeap<Reverse<u64>>,
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

    /// Takes the finished flows of every shard and judges them.
    pub fn collect(&mut self, shards: &mut Shards) {
        let mut batch: Vec<Flow> = Vec::new();
        for t in &mut shards.tables {
            batch.extend(t.take_finished());
        }
        // Capture-wide context first, in a fixed order, so that what a detector
        // knows never depends on which shard finished first.
        batch.sort_unstable_by_key(|f| (f.first_frame, f.id));
        for f in &batch {
            self.context.observe(f);
        }
        for f in &batch {
            let app = crate::proto::identify(f);
            let findings = detect::inspect_flow(&FlowView { flow: f, app: &app }, &self.context);
            let mut rec = FlowRecord::from_flow(f, &app);
            if !findings.is_empty() {
                let mut kinds: Vec<&str> = findings.iter().map(|x| x.kind).collect();
                kinds.sort_unstable();
                kinds.dedup();
                rec.verdict = serde_json::json!(kinds);
            }
            self.pending.push((rec, findings));
        }
    }

    /// Moves the records that can no longer be preceded into `out`; with `all`,
    /// every pending record (end of capture).
    pub fn release(&mut self, shards: &Shards, out: &mut VecDeque<Record>, all: bool) {
        self.evicted = shards.tables.iter().map(|t| t.evicted).sum();
        let limit = if all {
            u64::MAX
        } else {
            shards
                .tables
                .iter()
                .filter_map(|t| t.min_live_first_frame())
                .min()
                .unwrap_or(u64::MAX)
        };
        if self.pending.is_empty() {
            return;
        }
        self.pending
            .sort_unstable_by_key(|(r, _)| (r.first_frame, r.flow_id));
        let n = self.pending.partition_point(|(r, _)| r.first_frame < limit);
        for (r, findings) in self.pending.drain(..n) {
            // Peak concurrency: flows whose [first, last] frame spans overlap.
            while self
                .live_ends
                .peek()
                .is_some_and(|Reverse(e)| *e < r.first_frame)
            {
                self.live_ends.pop();
            }
            self.live_ends.push(Reverse(r.last_frame));
            self.peak_live = self.peak_live.max(self.live_ends.len() as u64);
            self.flows += 1;
            out.push_back(Record::Flow(r));
            out.extend(findings.into_iter().map(Record::Tamper));
        }
        if all {
            // Capture-wide findings, once every flow is known.
            out.extend(
                self.context
                    .blackouts
                    .findings()
                    .into_iter()
                    .map(Record::Tamper),
            );
        }
    }
}
