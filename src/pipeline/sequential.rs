//! The one-thread path: walk, decode, dispatch.

use super::{Counts, Shards};
use crate::capture::Walker;
use crate::decode::decode;

/// Walks frames until the walker passes `until` (a byte offset) or ends.
pub(crate) fn run_window<'c>(
    walker: &mut Walker<'c>,
    until: usize,
    shards: &mut Shards<'c>,
    counts: &mut Counts,
) {
    while walker.offset() < until {
        let Some(frame) = walker.next() else { return };
        counts.frame(&frame);
        // Matched by reference: moving the packet out of the `Result` cost a
        // 144-byte copy per packet.
        match &decode(&frame) {
            Ok(p) => {
                counts.packet(p);
                shards.dispatch(p, counts)
            }
            Err(e) => counts.skip(*e, &frame),
        }
    }
}
