//! Releasing finished flows as records, in order of first frame.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::Shards;
use crate::report::{FlowRecord, Record};

/// Collects finished flows from the shards and releases their records in order of
/// first frame, as soon as no flow still tracked can come before them.
#[derive(Default)]
pub(crate) struct Emitter {
    pending: Vec<FlowRecord>,
    /// Last frames of the flows released so far that may still overlap later ones.
    live_ends: BinaryHeap<Reverse<u64>>,
    pub peak_live: u64,
    pub flows: u64,
    pub evicted: u64,
}

impl Emitter {
    /// Takes the finished flows of every shard.
    pub fn collect(&mut self, shards: &mut Shards) {
        for t in &mut shards.tables {
            for f in t.take_finished() {
                self.pending
                    .push(FlowRecord::from_flow(&f, &crate::proto::identify(&f)));
            }
        }
    }

    /// Moves the records that can no longer be preceded into `out`; with `all`,
    /// every pending record (end of capture).
    pub fn release(&mut self, shards: &Shards, out: &mut VecDeque<Record>, all: bool) {
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
            .sort_unstable_by_key(|r| (r.first_frame, r.flow_id));
        let n = self.pending.partition_point(|r| r.first_frame < limit);
        for r in self.pending.drain(..n) {
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
        }
        self.evicted = shards.tables.iter().map(|t| t.evicted).sum();
    }
}
