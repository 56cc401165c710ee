//! Owned output records and their formats.
//!
//! Everything the analysis keeps is copied into these small owned records; the
//! borrowed views of the capture never outlive the walk. The records serialise to
//! the JSON Lines contract of `DESIGN.md` (field names follow Suricata's EVE), and
//! [`summary`] renders the human summary the `analyze` example prints.

mod jsonl;
mod record;
mod stats;
pub mod summary;

pub use jsonl::{write_flow, write_record};
pub use record::{Finding, FlowRecord, FlowVerdict, History, Record, proto_name};
pub use stats::{SkipCount, Stats};

use std::io::Write;

/// Everything an analysis produced.
#[derive(Clone, Debug, Default, serde::Serialize)]
#[non_exhaustive]
pub struct Report {
    /// One record per flow, in the order they ended.
    pub flows: Vec<FlowRecord>,
    /// Tamper findings.
    pub findings: Vec<Finding>,
    /// Counters of the whole run.
    pub stats: Stats,
}

impl Report {
    /// Writes the JSON Lines: flow records, then findings, then the stats record.
    pub fn write_jsonl<W: Write>(&self, mut w: W) -> std::io::Result<()> {
        for f in &self.flows {
            write_flow(&mut w, f)?;
        }
        for f in &self.findings {
            write_line(&mut w, f)?;
        }
        write_line(&mut w, &self.stats)
    }
}

/// Writes one record as a JSON line.
pub fn write_line<W: Write, T: serde::Serialize>(w: &mut W, rec: &T) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, rec).map_err(std::io::Error::other)?;
    w.write_all(b"\n")
}
