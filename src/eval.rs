//! Scoring an analysis against a ground-truth file.
//!
//! Truth files (`<capture>.truth.json`, format in `DESIGN.md`) are written by
//! whatever produced a capture — our lab, or a user's own experiment — never by the
//! analyzer. A flow with `expected` kinds is a hit when at least one of them is
//! reported for it (extra kinds on a tampered flow are not false alarms); a flow
//! with `expected: []` is a false alarm when anything is reported for it. Flows
//! are matched by client and server ip:port (either orientation), and by time when
//! a 5-tuple was reused.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

use crate::report::Report;

/// A truth file.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Truth {
    /// The capture's file name (relative to the truth file).
    pub capture: String,
    /// What happened.
    #[serde(default)]
    pub scenario: String,
    /// The flows of interest.
    #[serde(default)]
    pub flows: Vec<TruthFlow>,
}

/// One flow of a truth file.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct TruthFlow {
    /// `ip:port` of the client.
    pub client: String,
    /// `ip:port` of the server.
    pub server: String,
    /// `tcp` or `udp`.
    #[serde(default)]
    pub proto: String,
    /// Finding kinds any of which is a right answer; empty = must stay clean.
    #[serde(default)]
    pub expected: Vec<String>,
    /// When the flow started (RFC 3339), to tell reused 5-tuples apart.
    #[serde(default)]
    pub started: Option<String>,
    /// Free text.
    #[serde(default)]
    pub note: Option<String>,
}

impl Truth {
    /// Reads a truth file.
    pub fn load(path: &Path) -> Result<Truth, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The outcome for one truth flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowOutcome {
    /// `client -> server`.
    pub flow: String,
    /// What the truth expects.
    pub expected: Vec<String>,
    /// What was reported (None: no such flow in the analysis).
    pub reported: Option<Vec<String>>,
    /// Hit (tampered flow found), correct rejection, miss or false alarm.
    pub verdict: Verdict,
    /// The truth's note.
    pub note: Option<String>,
}

/// The verdict on one flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Verdict {
    /// Tampered, and one of the expected kinds was reported.
    Hit,
    /// Tampered, and none of the expected kinds was reported.
    Miss,
    /// Clean, and nothing was reported.
    Clean,
    /// Clean, and something was reported.
    FalseAlarm,
    /// The flow is not in the analysis.
    Absent,
}

/// Per-kind counts over many captures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KindScore {
    /// Flows expecting this kind where one of their expected kinds was reported.
    pub hits: u32,
    /// Flows expecting this kind where none was reported.
    pub misses: u32,
    /// Reports of this kind on flows that must stay clean.
    pub false_alarms: u32,
    /// Reports of this kind on tampered flows.
    pub reported_on_tampered: u32,
}

impl KindScore {
    /// Recall (1.0 when nothing was expected).
    pub fn recall(&self) -> f64 {
        let n = self.hits + self.misses;
        if n == 0 {
            1.0
        } else {
            f64::from(self.hits) / f64::from(n)
        }
    }

    /// Precision (1.0 when nothing was reported).
    pub fn precision(&self) -> f64 {
        let n = self.reported_on_tampered + self.false_alarms;
        if n == 0 {
            1.0
        } else {
            f64::from(self.reported_on_tampered) / f64::from(n)
        }
    }
}

fn split_ep(s: &str) -> (String, u16) {
    match s.rsplit_once(':') {
        Some((a, p)) => (
            a.trim_matches(|c| c == '[' || c == ']').to_string(),
            p.parse().unwrap_or(0),
        ),
        None => (s.to_string(), 0),
    }
}

/// Scores a report against a truth file; adds per-kind counts to `kinds`.
pub fn score(
    report: &Report,
    truth: &Truth,
    kinds: &mut BTreeMap<String, KindScore>,
) -> Vec<FlowOutcome> {
    // Reported kinds per flow id.
    let mut by_flow: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for f in &report.findings {
        by_flow
            .entry(f.flow_id)
            .or_default()
            .insert(f.kind.to_string());
    }
    let mut used = BTreeSet::new();
    let mut out = Vec::new();
    for t in &truth.flows {
        let (ca, cp) = split_ep(&t.client);
        let (sa, sp) = split_ep(&t.server);
        let (ca, sa) = (ca.parse::<IpAddr>().ok(), sa.parse::<IpAddr>().ok());
        let candidates: Vec<_> = report
            .flows
            .iter()
            .filter(|f| t.proto.is_empty() || f.proto == t.proto)
            .filter(|f| {
                let (src, dest) = (Some(f.src_ip), Some(f.dest_ip));
                (src == ca && f.src_port == cp && dest == sa && f.dest_port == sp)
                    || (src == sa && f.src_port == sp && dest == ca && f.dest_port == cp)
            })
            .filter(|f| !used.contains(&f.flow_id))
            .collect();
        let pick = match &t.started {
            Some(s) => candidates
                .iter()
                .min_by_key(|f| f.timestamp.rfc3339().as_str().cmp(s.as_str()) as i8 + 1)
                .copied(),
            None => candidates.first().copied(),
        };
        let tampered = !t.expected.is_empty();
        let (reported, verdict) = match pick {
            None => (None, Verdict::Absent),
            Some(f) => {
                used.insert(f.flow_id);
                let rep: Vec<String> = by_flow
                    .get(&f.flow_id)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default();
                let v = match (tampered, rep.is_empty()) {
                    (true, _) if rep.iter().any(|k| t.expected.contains(k)) => Verdict::Hit,
                    (true, _) => Verdict::Miss,
                    (false, true) => Verdict::Clean,
                    (false, false) => Verdict::FalseAlarm,
                };
                (Some(rep), v)
            }
        };
        for k in &t.expected {
            let e = kinds.entry(k.clone()).or_default();
            if verdict == Verdict::Hit {
                e.hits += 1;
            } else {
                e.misses += 1;
            }
        }
        for k in reported.iter().flatten() {
            let e = kinds.entry(k.clone()).or_default();
            if tampered {
                e.reported_on_tampered += 1;
            } else {
                e.false_alarms += 1;
            }
        }
        out.push(FlowOutcome {
            flow: format!("{} -> {}", t.client, t.server),
            expected: t.expected.clone(),
            reported,
            verdict,
            note: t.note.clone(),
        });
    }
    out
}
