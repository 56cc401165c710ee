//! The parallel path: byte ranges walked and decoded in parallel, shards replayed
//! in parallel.

use super::{Counts, Shards};
use crate::capture::{WalkState, WalkStop, Walker, resync};
use crate::decode::{Packet, Reassembled, Transport, decode, decode_reassembled};
use crate::flow::{FlowKey, SHARDS, shard_of_hash, shard_of_packet};
use std::sync::{Mutex, PoisonError};

/// One range's walk: its packets by shard, and where it ended.
struct RangeOut<'a> {
    end: usize,
    end_pos: usize,
    end_state: WalkState,
    stop: Option<WalkStop>,
    /// Frames of this range (to number the next range's frames).
    frames: u64,
    counts: Counts,
    buckets: Buckets<'a>,
    frags: Vec<Packet<'a>>,
    secrets: Vec<(usize, &'a [u8])>,
}

/// A decoded packet and its key's [`FlowKey::stable_hash`]: the walk hashes
/// the key to pick the shard, and the shard's table finds the flow's slot with
/// the same hash rather than hashing the key again. The key itself is rebuilt
/// from the packet there: carrying it too made the packet lists a third larger
/// and `-j 2` 4.5% slower.
pub(crate) type Hashed<'a> = (Packet<'a>, u64);

/// One range's decoded packets, in walk order, and for each shard the indices
/// of its packets there; kept from window to window so that their memory is
/// allocated once.
///
/// One list for the range rather than one per shard: sixteen lists each kept
/// at the largest size it ever reached held 10.6 MB of packets at `-j 2` on the
/// benchmark capture, whose largest chunk held 23,000 (3.5 MB).
#[derive(Default)]
pub(crate) struct Buckets<'a> {
    packets: Vec<Hashed<'a>>,
    by_shard: Vec<Vec<u32>>,
}

impl Buckets<'_> {
    fn clear(&mut self) {
        self.packets.clear();
        self.by_shard.iter_mut().for_each(Vec::clear);
    }
}

fn walk_range<'a>(
    bytes: &'a [u8],
    start: usize,
    end: usize,
    state: WalkState,
    mut buckets: Buckets<'a>,
) -> RangeOut<'a> {
    let mut w = Walker::new(bytes, start, end, state, 1);
    buckets.by_shard.resize_with(SHARDS, Vec::new);
    let mut counts = Counts::default();
    let mut frags = Vec::new();
    for frame in w.by_ref() {
        counts.frame(&frame);
        let d = decode(&frame);
        if let Ok(p) = &d {
            counts.packet(p);
        }
        match d {
            Ok(p) if matches!(p.transport, Transport::Fragment { .. }) => frags.push(p),
            Ok(p) => {
                let stable = FlowKey::of(&p).0.stable_hash();
                // (A range is at most a chunk, 8 MiB of capture: fewer than
                // 2^32 records.)
                let i = buckets.packets.len() as u32;
                buckets.packets.push((p, stable));
                if let Some(list) = buckets.by_shard.get_mut(shard_of_hash(stable)) {
                    list.push(i);
                }
            }
            Err(e) => counts.skip(e, &frame),
        }
    }
    RangeOut {
        end,
        end_pos: w.offset(),
        end_state: w.state().clone(),
        stop: w.stop().cloned(),
        frames: w.next_index() - 1,
        counts,
        buckets,
        frags,
        secrets: w.take_secrets(),
    }
}

/// `f` of every item, item `i` on pool thread `i % threads` (`rayon::broadcast`);
/// the results come back in item order.
///
/// Work stealing would hand the same shard or byte range to either thread from
/// one window to the next; pinned, a shard's flows stay in one core's cache and
/// are allocated and freed in one thread's allocator arena, and a range's packet
/// lists stay with the thread that fills them (measured at `-j 2`: a quarter to a
/// half fewer context switches, 5-10% less wall time).
fn map_pinned<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = rayon::current_num_threads().max(1);
    let n = items.len();
    let mut groups: Vec<Vec<(usize, T)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        groups[i % threads].push((i, item));
    }
    let groups: Vec<Mutex<Vec<(usize, T)>>> = groups.into_iter().map(Mutex::new).collect();
    let done: Vec<Mutex<Vec<(usize, R)>>> = (0..threads).map(|_| Mutex::default()).collect();
    let run = |g: usize| {
        let (Some(group), Some(out)) = (groups.get(g), done.get(g)) else {
            return;
        };
        let mine = std::mem::take(&mut *group.lock().unwrap_or_else(PoisonError::into_inner));
        let results: Vec<(usize, R)> = mine.into_iter().map(|(i, t)| (i, f(t))).collect();
        out.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(results);
    };
    rayon::broadcast(|ctx| run(ctx.index()));
    // Every thread took its group; any group left (none is) is done here, so
    // that no item is ever skipped.
    (0..threads).for_each(run);
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(n).collect();
    for out in done {
        for (i, r) in out.into_inner().unwrap_or_else(PoisonError::into_inner) {
            if let Some(slot) = slots.get_mut(i) {
                *slot = Some(r);
            }
        }
    }
    slots.into_iter().flatten().collect()
}

/// What one window did.
pub(crate) struct WindowEnd<'c> {
    pub pos: usize,
    pub state: WalkState,
    pub next_index: u64,
    pub stop: Option<WalkStop>,
    /// The TLS key logs of the Decryption Secrets Blocks walked over, in
    /// file order.
    pub secrets: Vec<(usize, &'c [u8])>,
}

/// Walks and analyses the records starting in `[pos, window_end)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_window<'c>(
    bytes: &'c [u8],
    pos: usize,
    window_end: usize,
    state: &WalkState,
    next_index: u64,
    parts: usize,
    shards: &mut Shards<'c>,
    counts: &mut Counts,
) -> WindowEnd<'c> {
    // Split points, each moved forward to a plausible record boundary.
    let span = window_end - pos;
    let mut starts = vec![pos];
    for i in 1..parts {
        let nominal = pos + span * i / parts;
        if let Some(b) = resync(bytes, nominal, state) {
            if b > *starts.last().unwrap_or(&pos) && b < window_end {
                starts.push(b);
            }
        }
    }
    let ranges: Vec<(usize, usize)> = starts
        .iter()
        .enumerate()
        .map(|(i, &s)| (s, starts.get(i + 1).copied().unwrap_or(window_end)))
        .collect();
    // The spare sets were pushed in range order: reversed, each range gets the
    // packet lists it filled last time, on the same thread.
    let mut sets: Vec<Buckets<'c>> = ranges
        .iter()
        .map(|_| shards.spare_buckets.pop().unwrap_or_default())
        .collect();
    sets.reverse();
    let work: Vec<((usize, usize), Buckets<'c>)> = ranges.iter().copied().zip(sets).collect();
    let mut outs: Vec<RangeOut<'_>> = map_pinned(work, |((s, e), b)| {
        walk_range(bytes, s, e, state.clone(), b)
    });

    // Check the chain: each range must start exactly where the previous one ended,
    // in the state it ended in. Re-walk any range that does not.
    let mut i = 1;
    while i < outs.len() {
        let prev = &outs[i - 1];
        if prev.stop.is_some() {
            outs.truncate(i);
            break;
        }
        let start_i = ranges[i].0;
        if prev.end_pos != start_i || prev.end_state != *state {
            let (p, st, end) = (prev.end_pos, prev.end_state.clone(), outs[i].end);
            let mut b = std::mem::take(&mut outs[i].buckets);
            b.clear();
            outs[i] = walk_range(bytes, p, end, st, b);
        }
        i += 1;
    }

    // Count, and reassemble fragments in frame order. A range numbered its frames
    // from 1; `bases` says what to add (the packets themselves are renumbered as
    // they are replayed, on the shards' threads).
    let mut base = next_index - 1;
    let mut bases = Vec::with_capacity(outs.len());
    let mut reassembled: Vec<Reassembled> = Vec::new();
    for out in &mut outs {
        bases.push(base);
        for f in &mut out.frags {
            f.frame += base;
            if let Some(r) = shards.defrag.push(f) {
                reassembled.push(r);
            }
        }
        base += out.frames;
        counts.add(&out.counts);
    }
    let mut extra: Vec<Vec<Packet<'_>>> = (0..SHARDS).map(|_| Vec::new()).collect();
    for r in &reassembled {
        let q = decode_reassembled(r);
        counts.packet(&q);
        extra[shard_of_packet(&q)].push(q);
    }

    // Replay every shard's packets in capture order, shards in parallel. Each
    // shard's task reads its packets from every range's list (with the range's
    // frame base) and renumbers its copy of each as it replays it.
    let ranges: Vec<(&Buckets<'c>, u64)> = outs
        .iter()
        .zip(&bases)
        .map(|(out, &base)| (&out.buckets, base))
        .collect();
    // Shard `s` is replayed on thread `s % threads`, every window.
    let work: Vec<_> = shards
        .tables
        .iter_mut()
        .enumerate()
        .zip(extra.iter())
        .collect();
    map_pinned(work, |((s, table), extra)| {
        table.reuse_returned();
        let mut ex = extra.iter().peekable();
        for (range, base) in &ranges {
            let Some(mine) = range.by_shard.get(s) else {
                continue;
            };
            for &i in mine {
                let Some(&(mut p, stable)) = range.packets.get(i as usize) else {
                    continue;
                };
                p.frame += *base;
                while let Some(q) = ex.next_if(|q| q.frame < p.frame) {
                    table.process_transient(q);
                }
                table.process_keyed(&p, FlowKey::of(&p), stable);
            }
        }
        for q in ex {
            table.process_transient(q);
        }
    });
    drop(ranges);

    let last = outs.last();
    let end = WindowEnd {
        pos: last.map(|o| o.end_pos).unwrap_or(pos),
        state: last
            .map(|o| o.end_state.clone())
            .unwrap_or_else(|| state.clone()),
        next_index: base + 1,
        stop: last.and_then(|o| o.stop.clone()),
        secrets: outs
            .iter_mut()
            .flat_map(|o| std::mem::take(&mut o.secrets))
            .collect(),
    };
    // Keep the packet lists' memory for the next window.
    for out in outs {
        let mut b = out.buckets;
        b.clear();
        shards.spare_buckets.push(b);
    }
    end
}
