//! `blackout`: a time window in which (nearly) all connectivity failed.
//!
//! A capture-wide judgement, made once at the end: connection attempts that got
//! no answer at all (TCP SYNs without SYN-ACK, RST or ICMP; UDP requests without
//! a reply) cluster in time, to several servers, while attempts before and after
//! the window succeed. One server failing is `tcp.blackhole`; everything failing
//! at once, and only for a while, is a blackout. Each failed flow in the window
//! gets a finding, so the evidence is per flow and the window is in `evidence`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Map, json};

use crate::capture::Timestamp;
use crate::flow::{Flow, TO_CLIENT, TO_SERVER};
use crate::report::{Finding, proto_name};

/// Failures further apart than this belong to different windows.
const GAP_NS: i64 = 15_000_000_000;
/// Resolution of the record of successful attempts.
const BUCKET_NS: i64 = 100_000_000;
/// Most failed attempts remembered (the oldest are kept).
const MAX_FAILURES: usize = 100_000;
/// Most findings per window.
const MAX_PER_WINDOW: usize = 64;

#[derive(Clone, Debug)]
struct Failure {
    ts: i64,
    last_ts: i64,
    flow_id: u64,
    first_frame: u64,
    last_frame: u64,
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    proto: u8,
}

/// Connection outcomes over time.
#[derive(Debug, Default)]
pub struct BlackoutTracker {
    failures: Vec<Failure>,
    /// Successful attempts per 100 ms bucket of their start time.
    successes: BTreeMap<i64, u32>,
    /// Servers that answered some attempt (at most `MAX_FAILURES`).
    answered: std::collections::BTreeSet<IpAddr>,
}

impl BlackoutTracker {
    /// Notes the outcome of a finished flow.
    pub fn observe(&mut self, f: &Flow) {
        let (up, down) = (&f.dirs[TO_SERVER], &f.dirs[TO_CLIENT]);
        let attempt = match f.key.proto {
            6 => up.baseline.tcp.syn.is_some(),
            17 => up.pkts > 0 && up.payload_bytes > 0,
            _ => false,
        };
        if !attempt {
            return;
        }
        if down.pkts > 0 {
            *self
                .successes
                .entry(f.first_ts.0.div_euclid(BUCKET_NS))
                .or_default() += 1;
            if self.answered.len() < MAX_FAILURES {
                self.answered.insert(f.server.addr);
            }
        } else if f.icmp_errors.is_empty()
            && up.closes.is_empty()
            && self.failures.len() < MAX_FAILURES
        {
            self.failures.push(Failure {
                ts: f.first_ts.0,
                last_ts: f.last_ts.0,
                flow_id: f.id,
                first_frame: f.first_frame,
                last_frame: f.last_frame,
                client: (f.client.addr, f.client.port),
                server: (f.server.addr, f.server.port),
                proto: f.key.proto,
            });
        }
    }

    fn successes_between(&self, from: i64, to: i64) -> u32 {
        let (a, b) = (from.div_euclid(BUCKET_NS), to.div_euclid(BUCKET_NS));
        if a > b {
            // A window shorter than a bucket (failures within 100 ms).
            return 0;
        }
        self.successes.range(a..=b).map(|(_, n)| *n).sum()
    }

    /// The blackout findings of the whole capture.
    pub fn findings(&mut self) -> Vec<Finding> {
        let mut out = Vec::new();
        // Only servers known to work at other times count: a peer that never
        // answered anyone (dead peer-to-peer contacts, scans, one-sided captures)
        // says nothing about the network.
        let answered = std::mem::take(&mut self.answered);
        self.failures.retain(|x| answered.contains(&x.server.0));
        // A blackout is lived by one host: its attempts to several servers fail
        // together. Group by client, then by time.
        self.failures.sort_by_key(|x| (x.client.0, x.ts, x.flow_id));
        let mut i = 0;
        while i < self.failures.len() {
            let mut j = i + 1;
            while j < self.failures.len()
                && self.failures[j].client.0 == self.failures[i].client.0
                && self.failures[j].ts - self.failures[j - 1].ts <= GAP_NS
            {
                j += 1;
            }
            self.judge_window(i, j, &mut out);
            i = j;
        }
        out.sort_by_key(|f| (f.frames.first().copied(), f.flow_id));
        out
    }

    fn judge_window(&self, i: usize, j: usize, out: &mut Vec<Finding>) {
        let w = &self.failures[i..j];
        let (start, end) = (
            w[0].ts,
            w.iter().map(|x| x.last_ts).max().unwrap_or(w[0].ts),
        );
        let mut servers: Vec<IpAddr> = w.iter().map(|x| x.server.0).collect();
        servers.sort_unstable();
        servers.dedup();
        if w.len() < 3 || servers.len() < 2 {
            return;
        }
        // Successes are recorded per 100 ms: a burst shorter than that cannot
        // show that nothing else worked meanwhile.
        if w[w.len() - 1].ts - start < BUCKET_NS {
            return;
        }
        // Nothing started and worked inside the window; things worked before and after.
        let inside = self.successes_between(start + BUCKET_NS, w[w.len() - 1].ts);
        let before = self
            .successes
            .range(..start.div_euclid(BUCKET_NS))
            .next_back()
            .map(|(b, _)| b * BUCKET_NS);
        let after = self
            .successes
            .range((end.div_euclid(BUCKET_NS) + 1)..)
            .next()
            .map(|(b, _)| b * BUCKET_NS);
        let (Some(before), Some(after)) = (before, after) else {
            return;
        };
        if inside > 0 {
            return;
        }
        let frames: Vec<u64> = w.iter().map(|x| x.first_frame).collect();
        let confidence = (0.5 + 0.05 * (w.len() as f64) + 0.05 * (servers.len() as f64)).min(0.9);
        for x in w.iter().take(MAX_PER_WINDOW) {
            let mut ev = Map::new();
            ev.insert("window_start".into(), json!(Timestamp(start).to_rfc3339()));
            ev.insert("window_end".into(), json!(Timestamp(end).to_rfc3339()));
            ev.insert("failed_attempts".into(), json!(w.len()));
            ev.insert("servers".into(), json!(servers.len()));
            ev.insert(
                "window_frames".into(),
                json!(frames.iter().take(MAX_PER_WINDOW).collect::<Vec<_>>()),
            );
            ev.insert(
                "last_success_before".into(),
                json!(Timestamp(before).to_rfc3339()),
            );
            ev.insert(
                "first_success_after".into(),
                json!(Timestamp(after).to_rfc3339()),
            );
            out.push(Finding {
                event_type: "tamper",
                timestamp: Timestamp(x.ts).to_rfc3339(),
                flow_id: x.flow_id,
                src_ip: x.client.0.to_string(),
                src_port: x.client.1,
                dest_ip: x.server.0.to_string(),
                dest_port: x.server.1,
                proto: proto_name(x.proto).into_owned(),
                app_proto: "unknown",
                kind: "blackout",
                confidence: (confidence * 100.0).round() / 100.0,
                frames: vec![x.first_frame, x.last_frame],
                evidence: ev,
                trigger: None,
                profile: None,
                ooni_failure: Some("generic_timeout_error"),
                blocking: Some("tcp_ip"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(ts: i64, server: u8) -> Failure {
        Failure {
            ts,
            last_ts: ts + 1,
            flow_id: ts as u64,
            first_frame: 1,
            last_frame: 2,
            client: ("10.0.0.1".parse().unwrap(), 40000),
            server: (IpAddr::from([10, 0, 1, server]), 443),
            proto: 6,
        }
    }

    const T0: i64 = 1_000_000_000_000;

    /// Failed attempts at `T0 + offsets` (ns) to two servers in turn, both of
    /// which answered at other times; a success 5 s before and `after`
    /// buckets after `T0`.
    fn tracker(offsets: &[i64], after: i64) -> BlackoutTracker {
        let mut b = BlackoutTracker::default();
        for s in [1, 2] {
            b.answered.insert(IpAddr::from([10, 0, 1, s]));
        }
        b.successes.insert(T0 / BUCKET_NS - 50, 1);
        b.successes.insert(T0 / BUCKET_NS + after, 1);
        b.failures = offsets
            .iter()
            .enumerate()
            .map(|(i, &o)| failure(T0 + o, 1 + (i % 2) as u8))
            .collect();
        b
    }

    /// Failures within one 100 ms bucket used to ask the success record for a
    /// reversed range (a panic); such a burst is too short to judge.
    #[test]
    fn burst_shorter_than_a_bucket_is_not_judged() {
        let mut b = tracker(&[0, 10, 20], 50);
        assert!(b.findings().is_empty());
        assert_eq!(b.successes_between(T0 + BUCKET_NS, T0), 0);
    }

    /// The same failures spread over two seconds, with nothing working
    /// meanwhile and things working before and after, are a blackout.
    #[test]
    fn spread_burst_is_judged() {
        let mut b = tracker(&[0, 1_000_000_000, 2_000_000_000], 100);
        assert_eq!(b.findings().len(), 3);
    }
}
