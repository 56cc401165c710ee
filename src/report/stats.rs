//! The final `stats` record.

use std::collections::BTreeMap;

use serde::Serialize;

/// Frames and bytes not analysed for one reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SkipCount {
    /// Frames (0 when the damage was not in a record, e.g. a cut file tail).
    pub frames: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Counters of a whole run. Everything but `elapsed_s` is deterministic.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[non_exhaustive]
pub struct Stats {
    /// Always `"stats"`.
    pub event_type: &'static str,
    /// Complete packet records (pcap records; pcapng EPB, SPB and OPB), as
    /// Wireshark's capinfos counts them.
    pub frames: u64,
    /// Captured bytes of those frames.
    pub bytes: u64,
    /// Frames per link type.
    pub link_types: BTreeMap<u16, u64>,
    /// What was not analysed, by reason (`truncated`, `corrupt`,
    /// `unsupported_link_type`, `not_ip`, `corrupt_compression`).
    pub skipped: BTreeMap<&'static str, SkipCount>,
    /// Packets read inside a tunnel (`vxlan`, `geneve`, `gtp-u`, `erspan`,
    /// `gre-ethernet`: see `decode::Tunnel`), by the outermost one: frames,
    /// and datagrams reassembled from fragments of a tunnel packet (one
    /// each). Empty when none was.
    pub tunnels: BTreeMap<&'static str, u64>,
    /// Flows reported.
    pub flows: u64,
    /// Flows forced out of the table by the flow cap before they ended.
    pub flows_evicted: u64,
    /// The most flows held in memory at once (tracked, or ended and awaiting
    /// judgement), sampled at every window boundary (`Config::window_bytes`) and
    /// at the end of the capture: what the analysis' memory grows with.
    pub peak_live_flows: u64,
    /// Where the walk stopped early and why, or null when it read to the end.
    pub error: Option<String>,
    /// Wall-clock seconds of the analysis.
    pub elapsed_s: f64,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            event_type: "stats",
            frames: 0,
            bytes: 0,
            link_types: BTreeMap::new(),
            skipped: BTreeMap::new(),
            tunnels: BTreeMap::new(),
            flows: 0,
            flows_evicted: 0,
            peak_live_flows: 0,
            error: None,
            elapsed_s: 0.0,
        }
    }
}

impl Stats {
    /// Adds `frames`/`bytes` to a skip reason.
    pub fn skip(&mut self, reason: &'static str, frames: u64, bytes: u64) {
        let e = self.skipped.entry(reason).or_default();
        e.frames += frames;
        e.bytes += bytes;
    }
}
