//! A flow table: one shard of the flow state.
//!
//! Flows are spread over a fixed number of shards by a seeded hash of their key,
//! whatever the thread count, and each shard sees its packets in capture order, so
//! what a shard decides (new connection on a reused 5-tuple, idle expiry, eviction
//! under the flow cap) never depends on how many threads ran. Time inside a shard
//! is the latest capture time that shard has seen.

use hashbrown::hash_table::Entry;

use super::connection::Flow;
use super::expiry::{Entry as Due, ExpiryQueues, Timeout};
use super::key::{Endpoint, FlowKey};
use super::map::FlowMap;
use crate::capture::Timestamp;
use crate::config::Config;
use crate::decode::{Packet, Transport};

/// The number of shards. Fixed, so that results are the same for any thread count.
pub const SHARDS: usize = 16;

/// The shard a key belongs to.
#[inline]
pub fn shard_of(key: &FlowKey) -> usize {
    shard_of_hash(key.stable_hash())
}

/// The shard of a key whose [`FlowKey::stable_hash`] is `stable`.
#[inline]
pub fn shard_of_hash(stable: u64) -> usize {
    (stable % SHARDS as u64) as usize
}

/// The shard of a packet.
#[inline]
pub fn shard_of_packet(p: &Packet<'_>) -> usize {
    shard_of(&FlowKey::of(p).0)
}

/// The timeout that applies to a flow in its current state.
fn timeout_of(f: &Flow<'_>) -> Timeout {
    match f.key.proto {
        6 if f.closed => Timeout::TcpLinger,
        6 => Timeout::TcpIdle,
        // A DNS exchange that was answered is over once late answers (an injected
        // answer's genuine twin) have had time to arrive.
        17 if (f.server.port == 53 || f.client.port == 53) && f.dirs[1].pkts > 0 => {
            Timeout::DnsAnswered
        }
        _ => Timeout::OtherIdle,
    }
}

/// Whether a flow idle for `idle` ns is over.
fn over(l: &Limits, f: &Flow<'_>, idle: u64) -> bool {
    idle > l.ns(timeout_of(f))
}

/// Limits a table applies.
#[derive(Clone, Copy, Debug)]
struct Limits {
    max_flows: usize,
    tcp_idle: u64,
    other_idle: u64,
    dns_answered: u64,
    linger: u64,
    stream_cap: u32,
}

impl Limits {
    /// The length of a timeout, in ns.
    fn ns(&self, t: Timeout) -> u64 {
        match t {
            Timeout::TcpIdle => self.tcp_idle,
            Timeout::TcpLinger => self.linger.min(self.tcp_idle),
            Timeout::DnsAnswered => self.dns_answered,
            Timeout::OtherIdle => self.other_idle,
        }
    }

    /// When a flow last active at `last` is due to end under `t`.
    fn due(&self, t: Timeout, last: Timestamp) -> i64 {
        last.0
            .saturating_add(i64::try_from(self.ns(t)).unwrap_or(i64::MAX))
    }
}

/// One shard's flows.
pub struct FlowTable<'c> {
    /// Flows are boxed: a flow is 912 B (a TCP flow has 740 more in boxes of
    /// its own), and the table, the finished list and the emitter's sort
    /// would otherwise move it around.
    map: FlowMap<'c>,
    limits: Limits,
    now: Timestamp,
    /// When the flows are due to time out.
    expiry: ExpiryQueues,
    #[allow(clippy::vec_box)] // moved whole into the emitter; the box saves moving 912 B flows
    finished: Vec<Box<Flow<'c>>>,
    /// Judged flows handed back for reuse (see [`Flow::reuse`]), at most
    /// [`MAX_SPARE`].
    #[allow(clippy::vec_box)] // the boxes are what is reused
    spare: Vec<Box<Flow<'c>>>,
    /// Judged flows handed back ([`FlowTable::give_back`]) and not yet sorted
    /// into `spare`.
    #[allow(clippy::vec_box)]
    returned: Vec<Box<Flow<'c>>>,
    /// Flows forced out by the flow cap.
    pub evicted: u64,
}

/// Most judged flows a shard keeps for reuse: a few times what a shard ends
/// per window in a busy capture (more are freed; a burst of flows ending
/// together is not worth holding memory for). At 64, 256 and 1,024 the bench
/// capture ran equally fast; 1,024 held 4 MiB more once the pools had filled
/// (a capture twice as long).
const MAX_SPARE: usize = 256;

/// Queues a flow under its timeout when that changed (or it is new).
#[inline]
fn queue(expiry: &mut ExpiryQueues, limits: &Limits, f: &mut Flow<'_>, stable: u64) {
    let t = timeout_of(f);
    if f.queued != Some(t) {
        f.queued = Some(t);
        let due = limits.due(t, f.last_ts);
        expiry.push(
            t,
            Due {
                due,
                stable,
                id: f.id,
            },
        );
    }
}

/// A new flow, in a reused box when one is spare.
#[allow(clippy::vec_box)]
fn fresh<'c>(
    spare: &mut Vec<Box<Flow<'c>>>,
    key: FlowKey,
    src: Endpoint,
    dst: Endpoint,
    p: &Packet<'_>,
) -> Box<Flow<'c>> {
    match spare.pop() {
        Some(mut f) => {
            f.reuse(key, src, dst, p);
            f
        }
        None => Box::new(Flow::new(key, src, dst, p)),
    }
}

impl<'c> FlowTable<'c> {
    /// An empty shard; the flow cap is split evenly between shards.
    pub fn new(cfg: &Config) -> FlowTable<'c> {
        FlowTable {
            map: FlowMap::new(),
            limits: Limits {
                max_flows: (cfg.max_flows / SHARDS).max(1),
                tcp_idle: cfg.tcp_idle_timeout_ns,
                other_idle: cfg.udp_idle_timeout_ns,
                dns_answered: cfg.dns_answered_timeout_ns,
                linger: cfg.tcp_close_linger_ns,
                stream_cap: cfg.stream_buffer_bytes,
            },
            now: Timestamp(i64::MIN),
            expiry: ExpiryQueues::default(),
            finished: Vec::new(),
            spare: Vec::new(),
            returned: Vec::new(),
            evicted: 0,
        }
    }

    /// Flows currently tracked.
    pub fn live(&self) -> usize {
        self.map.len()
    }

    /// Flows held in memory: tracked, or ended and not yet taken.
    pub fn held(&self) -> usize {
        self.map.len() + self.finished.len()
    }

    /// Takes the flows that have ended since the last call.
    pub fn take_finished(&mut self) -> Vec<Box<Flow<'c>>> {
        std::mem::take(&mut self.finished)
    }

    /// The flows that have ended since they were last taken or judged.
    pub fn finished(&self) -> &[Box<Flow<'c>>] {
        &self.finished
    }

    /// Hands every ended flow back for reuse (once judged).
    pub fn recycle_finished(&mut self) {
        let mut finished = std::mem::take(&mut self.finished);
        for f in finished.drain(..) {
            self.recycle(f);
        }
        self.finished = finished;
    }

    /// Hands back a judged flow for reuse by a later one.
    pub fn recycle(&mut self, f: Box<Flow<'c>>) {
        if self.spare.len() < MAX_SPARE {
            self.spare.push(f);
        }
    }

    /// Hands back judged flows, to be reused or freed by
    /// [`reuse_returned`](FlowTable::reuse_returned): on the parallel path
    /// that is done as the shard replays its next packets, on its own pool
    /// thread (the one that allocated most of them), rather than on the
    /// thread that releases the records while the pool waits.
    #[allow(clippy::vec_box)]
    pub(crate) fn give_back(&mut self, flows: Vec<Box<Flow<'c>>>) {
        if self.returned.is_empty() {
            self.returned = flows;
        } else {
            self.returned.extend(flows);
        }
    }

    /// Sorts the flows handed back into the spare pool (the ones beyond it
    /// are freed).
    pub(crate) fn reuse_returned(&mut self) {
        let returned = std::mem::take(&mut self.returned);
        for f in returned {
            self.recycle(f);
        }
    }

    /// Ends every flow (end of capture).
    pub fn finish_all(&mut self) {
        self.finished.extend(self.map.drain());
        self.expiry.rebuild(std::iter::empty());
    }

    /// Accounts for one packet.
    pub fn process(&mut self, p: &Packet<'c>) {
        let (keyed, stable) = FlowKey::of_hashed(p);
        self.process_keyed(p, keyed, stable);
    }

    /// Accounts for a packet that does not live in the capture (a datagram
    /// reassembled from fragments): what the flow keeps of it is copied.
    pub fn process_transient(&mut self, p: &Packet<'_>) {
        let (keyed, stable) = FlowKey::of_hashed(p);
        self.account(p, keyed, stable, None);
    }

    /// Accounts for one packet whose [`FlowKey::of_hashed`] the caller
    /// already computed (to pick the shard).
    pub fn process_keyed(
        &mut self,
        p: &Packet<'c>,
        keyed: (FlowKey, Endpoint, Endpoint),
        stable: u64,
    ) {
        self.account(p, keyed, stable, Some(p.payload));
    }

    fn account(
        &mut self,
        p: &Packet<'_>,
        keyed: (FlowKey, Endpoint, Endpoint),
        mut stable: u64,
        in_capture: Option<&'c [u8]>,
    ) {
        self.now = self.now.max(p.ts);
        let (mut key, mut src, mut dst) = keyed;
        if let Transport::Icmp(i) = p.transport {
            if i.quoted.is_some_and(|q| matches!(q.proto, 6 | 17)) {
                if let Some(f) = self.map.get_mut(&key) {
                    f.add_icmp_error(p);
                    return;
                }
                // An error about a flow we never saw: an ICMP flow of its own.
                src = Endpoint {
                    addr: p.ip.src,
                    port: 0,
                };
                dst = Endpoint {
                    addr: p.ip.dst,
                    port: 0,
                };
                key = FlowKey::new(src, dst, p.ip.proto);
                stable = key.stable_hash();
            }
        }
        self.expire();
        if self.map.len() >= self.limits.max_flows && !self.map.contains_key(&key) {
            self.evict_oldest();
        }
        let stream_cap = self.limits.stream_cap;
        // One lookup per packet.
        match self.map.entry(&key, stable) {
            Entry::Occupied(mut e) => {
                let f = e.get_mut();
                let restart = over(&self.limits, f, p.ts.nanos_since(f.last_ts))
                    || matches!(p.transport, Transport::Tcp(t) if f.is_reuse(&t, &src));
                if restart {
                    let new = fresh(&mut self.spare, key, src, dst, p);
                    self.finished.push(std::mem::replace(f, new));
                }
                f.update(p, &src, stream_cap, in_capture);
                queue(&mut self.expiry, &self.limits, f, stable);
            }
            Entry::Vacant(e) => {
                let mut e = e.insert(fresh(&mut self.spare, key, src, dst, p));
                let f = e.get_mut();
                f.update(p, &src, stream_cap, in_capture);
                queue(&mut self.expiry, &self.limits, f, stable);
            }
        }
        if self.expiry.len() > 2 * self.map.len() + 512 {
            // Mostly entries of flows that ended or moved to a shorter timeout.
            let limits = self.limits;
            self.expiry.rebuild(self.map.values().filter_map(|f| {
                let t = f.queued?;
                let due = limits.due(t, f.last_ts);
                Some((
                    t,
                    Due {
                        due,
                        stable: f.key.stable_hash(),
                        id: f.id,
                    },
                ))
            }));
        }
    }

    /// Ends the flows whose timeout has passed.
    fn expire(&mut self) {
        let now = self.now;
        while let Some((t, e)) = self.expiry.pop_due(now.0) {
            let Some(f) = self.map.get_id(e.stable, e.id) else {
                // Ended, or replaced by a later flow on the 5-tuple.
                continue;
            };
            if f.queued != Some(t) {
                // Now under another timeout.
                continue;
            }
            if over(&self.limits, f, now.nanos_since(f.last_ts)) {
                if let Some(f) = self.map.remove_id(e.stable, e.id) {
                    self.finished.push(f);
                }
            } else {
                let due = self.limits.due(t, f.last_ts);
                self.expiry.push(t, Due { due, ..e });
            }
        }
    }

    /// Evicts the least recently active sixteenth of the table (at least one flow).
    fn evict_oldest(&mut self) {
        let n = (self.map.len() / 16).max(1);
        let mut order: Vec<(Timestamp, u64, FlowKey)> = self
            .map
            .values()
            .map(|f| (f.last_ts, f.id, f.key))
            .collect();
        order.select_nth_unstable_by(n - 1, |a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for (_, _, k) in order.into_iter().take(n) {
            if let Some(f) = self.map.remove(&k) {
                self.finished.push(f);
                self.evicted += 1;
            }
        }
    }
}
