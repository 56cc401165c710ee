//! When flows time out: one first-in, first-out queue per timeout.
//!
//! A flow ends when it has been idle longer than its timeout, and the timeout
//! depends on its state (an open TCP connection waits minutes, a closed one a few
//! seconds, an answered DNS exchange ten). Scanning the table for idle flows
//! costs a visit to every flow, most of which are busy; instead each flow is
//! queued under its timeout with the time it is due, and only the heads of the
//! queues are looked at per packet. Entries are never moved: a flow that was
//! active since it was queued is queued again when its entry comes due, and an
//! entry whose flow has ended or changed timeout is dropped when it comes up.
//! Because every timeout has its own queue and time only moves forward, each
//! queue is (nearly) sorted by due time without any sorting.

use std::collections::VecDeque;

/// The timeouts, each with its own queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timeout {
    /// An open TCP connection.
    TcpIdle = 0,
    /// A TCP connection closed by FINs from both sides or a RST: late packets
    /// of it still belong to it for a moment.
    TcpLinger = 1,
    /// An answered DNS exchange: it waits for late (genuine or injected) answers.
    DnsAnswered = 2,
    /// Everything else (UDP, ICMP, other protocols).
    OtherIdle = 3,
}

/// Number of [`Timeout`] kinds.
pub(crate) const TIMEOUTS: usize = 4;

/// One queued flow: 24 bytes. It names its flow by the key's stable hash
/// (where the flow sits in its table) and the flow's id (which flow there),
/// not by the 42-byte key: a table queues an entry per flow and more, and
/// with the key an entry took 64 bytes, which the queues' growth copied and
/// first-touched page by page.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    /// Capture time (ns) after which the flow is over unless it was active.
    pub due: i64,
    /// The flow key's [`stable_hash`](super::FlowKey::stable_hash).
    pub stable: u64,
    /// The flow's id: an entry outlives its flow when the 5-tuple is reused.
    pub id: u64,
}

/// The queues of one flow table.
#[derive(Debug)]
pub(crate) struct ExpiryQueues {
    queues: [VecDeque<Entry>; TIMEOUTS],
    /// The earliest due time among the queues' heads (`i64::MAX` when every
    /// queue is empty): most packets find nothing due with one comparison.
    earliest_head: i64,
}

impl Default for ExpiryQueues {
    fn default() -> ExpiryQueues {
        ExpiryQueues {
            queues: Default::default(),
            earliest_head: i64::MAX,
        }
    }
}

const ALL: [Timeout; TIMEOUTS] = [
    Timeout::TcpIdle,
    Timeout::TcpLinger,
    Timeout::DnsAnswered,
    Timeout::OtherIdle,
];

impl ExpiryQueues {
    /// Queues a flow under `timeout`.
    #[inline]
    pub fn push(&mut self, timeout: Timeout, e: Entry) {
        let q = &mut self.queues[timeout as usize];
        if q.is_empty() {
            // The entry becomes its queue's head.
            self.earliest_head = self.earliest_head.min(e.due);
        }
        q.push_back(e);
    }

    /// Takes the next entry due before `now` (any queue), if there is one.
    #[inline]
    pub fn pop_due(&mut self, now: i64) -> Option<(Timeout, Entry)> {
        debug_assert_eq!(self.earliest_head, self.heads_min());
        if self.earliest_head >= now {
            return None;
        }
        for t in ALL {
            let q = &mut self.queues[t as usize];
            if q.front().is_some_and(|e| e.due < now) {
                let e = q.pop_front();
                self.earliest_head = self.heads_min();
                return e.map(|e| (t, e));
            }
        }
        None
    }

    /// The earliest due time among the queues' heads.
    fn heads_min(&self) -> i64 {
        self.queues
            .iter()
            .filter_map(|q| q.front().map(|e| e.due))
            .min()
            .unwrap_or(i64::MAX)
    }

    /// Entries held (live and stale).
    pub fn len(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    /// Replaces every queue's entries with `fresh` (one per live flow), sorted by
    /// due time and then id so the result does not depend on where they came
    /// from. Drops the stale entries of flows that ended or changed timeout.
    pub fn rebuild(&mut self, fresh: impl Iterator<Item = (Timeout, Entry)>) {
        for q in &mut self.queues {
            q.clear();
        }
        for (t, e) in fresh {
            self.queues[t as usize].push_back(e);
        }
        for q in &mut self.queues {
            q.make_contiguous().sort_unstable_by_key(|e| (e.due, e.id));
            if q.capacity() > 4 * q.len().max(1024) {
                q.shrink_to(2 * q.len());
            }
        }
        self.earliest_head = self.heads_min();
    }
}
