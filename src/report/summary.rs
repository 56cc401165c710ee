//! The human summary: flows by protocol and state, then the counters.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::Report;

/// Renders a short text summary of a report.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let s = &r.stats;
    let _ = writeln!(
        out,
        "frames: {}  bytes: {}  flows: {}",
        s.frames, s.bytes, s.flows
    );
    if !s.link_types.is_empty() {
        let lt: Vec<String> = s
            .link_types
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let _ = writeln!(out, "link types (DLT: frames): {}", lt.join(", "));
    }
    for (reason, c) in &s.skipped {
        let _ = writeln!(
            out,
            "skipped ({reason}): {} frames, {} bytes",
            c.frames, c.bytes
        );
    }
    if let Some(e) = &s.error {
        let _ = writeln!(out, "walk stopped early: {e}");
    }
    let mut table: BTreeMap<(String, &str), BTreeMap<&str, u64>> = BTreeMap::new();
    for f in &r.flows {
        *table
            .entry((f.proto.to_string(), f.app_proto))
            .or_default()
            .entry(f.conn_state)
            .or_default() += 1;
    }
    if !table.is_empty() {
        let _ = writeln!(out, "\nflows by protocol and state:");
        for ((proto, app), states) in &table {
            let total: u64 = states.values().sum();
            let st: Vec<String> = states.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(
                out,
                "  {proto:<10} {app:<10} {total:>7}  ({})",
                st.join(", ")
            );
        }
    }
    let _ = writeln!(
        out,
        "\nfindings: {}  (flows evicted: {}, peak live flows: {}, {:.3} s)",
        r.findings.len(),
        s.flows_evicted,
        s.peak_live_flows,
        s.elapsed_s
    );
    for f in &r.findings {
        let _ = writeln!(
            out,
            "  {} {}:{} -> {}:{} frames {:?} confidence {:.2}",
            f.kind, f.src_ip, f.src_port, f.dest_ip, f.dest_port, f.frames, f.confidence
        );
    }
    out
}
