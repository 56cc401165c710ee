//! The analysis pipeline: walk → decode → flow tables → records.
//!
//! Two paths feed the same flow shards:
//! - [`sequential`]: one walker, each packet decoded and handed to its shard;
//! - [`parallel`]: the mapped file is cut into byte ranges re-synchronised to
//!   record boundaries; ranges are walked and decoded in parallel, each into
//!   one packet list with the indices of every shard's packets, checked to chain
//!   exactly (a range whose start was guessed wrong is re-walked), and then
//!   every shard replays its packets in capture order, shards in parallel.
//!
//! Each shard sees the same packets in the same order on both paths, IP
//! fragments are reassembled by one defragmenter in frame order on both, and
//! finished flows are emitted in order of first frame once no live flow can
//! precede them — so the output is byte-identical for any thread count.

mod counts;
mod emit;
mod parallel;
mod sequential;
mod workers;

pub(crate) use counts::Counts;
pub(crate) use emit::Emitter;
pub(crate) use parallel::run_window as run_parallel;
pub(crate) use sequential::run_window as run_sequential;
pub(crate) use workers::Workers;

use crate::config::Config;
use crate::decode::{Defragmenter, Packet, Transport, decode_reassembled};
use crate::flow::{FlowKey, FlowTable, SHARDS, shard_of_hash, shard_of_packet};

/// The flow state shared by both paths.
pub(crate) struct Shards<'c> {
    pub tables: Vec<FlowTable<'c>>,
    pub defrag: Defragmenter,
    /// The parallel path's per-range packet lists, reused from window to window.
    pub spare_buckets: Vec<parallel::Buckets<'c>>,
}

impl<'c> Shards<'c> {
    pub fn new(cfg: &Config) -> Shards<'c> {
        Shards {
            tables: (0..SHARDS).map(|_| FlowTable::new(cfg)).collect(),
            defrag: Defragmenter::default(),
            spare_buckets: Vec::new(),
        }
    }

    /// Hands one packet to its shard (reassembling fragments first; a
    /// reassembled datagram read through a tunnel is counted in `counts`).
    #[inline]
    pub fn dispatch(&mut self, p: &Packet<'c>, counts: &mut Counts) {
        if matches!(p.transport, Transport::Fragment { .. }) {
            if let Some(r) = self.defrag.push(p) {
                let q = decode_reassembled(&r);
                counts.packet(&q);
                self.tables[shard_of_packet(&q)].process_transient(&q);
            }
            return;
        }
        let (keyed, stable) = FlowKey::of_hashed(p);
        self.tables[shard_of_hash(stable)].process_keyed(p, keyed, stable);
    }
}
