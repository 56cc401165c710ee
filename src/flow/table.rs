//! A flow table: one shard of the flow state.
//!
//! Flows are spread over a fixed number of shards by a seeded hash of their key,
//! whatever the thread count, and each shard sees its packets in capture order, so
//! what a shard decides (new connection on a reused 5-tuple, idle expiry, eviction
//! under the flow cap) never depends on how many threads ran. Time inside a shard
//! is the latest capture time that shard has seen.

use hashbrown::HashMap;
use hashbrown::hash_map::Entry;

use super::connection::Flow;
use super::key::{Endpoint, FlowKey, StableState};
use crate::capture::Timestamp;
use crate::config::Config;
use crate::decode::{Packet, Transport};

/// The number of shards. Fixed, so that results are the same for any thread count.
pub const SHARDS: usize = 16;

/// The shard a key belongs to.
#[inline]
pub fn shard_of(key: &FlowKey) -> usize {
    (key.stable_hash() % SHARDS as u64) as usize
}

/// The shard of a packet.
#[inline]
pub fn shard_of_packet(p: &Packet<'_>) -> usize {
    shard_of(&FlowKey::of(p).0)
}

/// Whether a flow idle for `idle` ns is over.
fn over(l: &Limits, f: &Flow<'_>, idle: u64) -> bool {
    match f.key.proto {
        6 => idle > l.tcp_idle || (f.closed && idle > l.linger),
        // A DNS exchange that was answered is over once late answers (an injected
        // answer's genuine twin) have had time to arrive.
        17 if (f.server.port == 53 || f.client.port == 53) && f.dirs[1].pkts > 0 => {
            idle > l.dns_answered
        }
        _ => idle > l.other_idle,
    }
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

/// One shard's flows.
pub struct FlowTable<'c> {
    /// Flows are boxed: a flow is a couple of KiB, and the table, the finished
    /// list and the emitter's sort would otherwise move it around.
    map: HashMap<FlowKey, Box<Flow<'c>>, StableState>,
    limits: Limits,
    now: Timestamp,
    since_sweep: usize,
    last_sweep: Timestamp,
    #[allow(clippy::vec_box)] // moved whole into the emitter; the box saves moving 2 KiB flows
    finished: Vec<Box<Flow<'c>>>,
    /// Flows forced out by the flow cap.
    pub evicted: u64,
}

impl<'c> FlowTable<'c> {
    /// An empty shard; the flow cap is split evenly between shards.
    pub fn new(cfg: &Config) -> FlowTable<'c> {
        FlowTable {
            map: HashMap::with_hasher(StableState::with_seed(0x51ab_c0de)),
            limits: Limits {
                max_flows: (cfg.max_flows / SHARDS).max(1),
                tcp_idle: cfg.tcp_idle_timeout_ns,
                other_idle: cfg.udp_idle_timeout_ns,
                dns_answered: cfg.dns_answered_timeout_ns,
                linger: cfg.tcp_close_linger_ns,
                stream_cap: cfg.stream_buffer_bytes,
            },
            now: Timestamp(i64::MIN),
            since_sweep: 0,
            last_sweep: Timestamp(i64::MIN),
            finished: Vec::new(),
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

    /// The smallest first frame of the flows still tracked.
    pub fn min_live_first_frame(&self) -> Option<u64> {
        self.map.values().map(|f| f.first_frame).min()
    }

    /// Takes the flows that have ended since the last call.
    pub fn take_finished(&mut self) -> Vec<Box<Flow<'c>>> {
        std::mem::take(&mut self.finished)
    }

    /// Ends every flow (end of capture).
    pub fn finish_all(&mut self) {
        self.finished.extend(self.map.drain().map(|(_, f)| f));
    }

    fn expired(&self, f: &Flow<'_>, now: Timestamp) -> bool {
        over(&self.limits, f, now.nanos_since(f.last_ts))
    }

    /// Accounts for one packet.
    pub fn process(&mut self, p: &Packet<'c>) {
        self.process_keyed(p, FlowKey::of(p));
    }

    /// Accounts for a packet that does not live in the capture (a datagram
    /// reassembled from fragments): what the flow keeps of it is copied.
    pub fn process_transient(&mut self, p: &Packet<'_>) {
        self.account(p, FlowKey::of(p), None);
    }

    /// Accounts for one packet whose [`FlowKey::of`] the caller already computed.
    pub fn process_keyed(&mut self, p: &Packet<'c>, keyed: (FlowKey, Endpoint, Endpoint)) {
        self.account(p, keyed, Some(p.payload));
    }

    fn account(
        &mut self,
        p: &Packet<'_>,
        keyed: (FlowKey, Endpoint, Endpoint),
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
            }
        }
        self.since_sweep += 1;
        if self.since_sweep >= self.map.len().max(4096)
            && self.now.nanos_since(self.last_sweep) >= 1_000_000_000
        {
            self.sweep();
        }
        if !self.map.contains_key(&key) && self.map.len() >= self.limits.max_flows {
            self.sweep();
            if self.map.len() >= self.limits.max_flows {
                self.evict_oldest();
            }
        }
        let now = p.ts;
        let stream_cap = self.limits.stream_cap;
        let restart = match self.map.get(&key) {
            Some(f) => {
                self.expired(f, now)
                    || matches!(p.transport, Transport::Tcp(t) if f.is_reuse(&t, &src))
            }
            None => false,
        };
        match self.map.entry(key) {
            Entry::Occupied(mut e) => {
                if restart {
                    let old = std::mem::replace(e.get_mut(), Box::new(Flow::new(key, src, dst, p)));
                    self.finished.push(old);
                }
                e.get_mut().update(p, &src, stream_cap, in_capture);
            }
            Entry::Vacant(e) => {
                e.insert(Box::new(Flow::new(key, src, dst, p)))
                    .update(p, &src, stream_cap, in_capture);
            }
        }
    }

    /// Ends flows that are idle past their timeout.
    fn sweep(&mut self) {
        self.since_sweep = 0;
        self.last_sweep = self.now;
        let now = self.now;
        let limits = self.limits;
        let ended = self
            .map
            .extract_if(|_, f| over(&limits, f, now.nanos_since(f.last_ts)));
        self.finished.extend(ended.map(|(_, f)| f));
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
