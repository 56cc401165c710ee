//! The human summary: counters, flows by protocol and state, a verdict, and
//! each finding explained (what it means, its trigger, the frames to open in
//! Wireshark, the evidence in plain values).

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
            .map(|(&k, v)| match crate::capture::LinkType(k).name() {
                Some(name) => format!("{k} ({name}): {v}"),
                None => format!("{k} (not read): {v}"),
            })
            .collect();
        let _ = writeln!(out, "link types (DLT: frames): {}", lt.join(", "));
    }
    if !s.tunnels.is_empty() {
        let t: Vec<String> = s.tunnels.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            out,
            "read inside tunnels (packets; the flows are the inner connections): {}",
            t.join(", ")
        );
    }
    for (reason, c) in &s.skipped {
        let _ = writeln!(
            out,
            "skipped ({reason}): {} frames, {} bytes",
            c.frames, c.bytes
        );
        if *reason == "encrypted" {
            let _ = writeln!(
                out,
                "  (Wi-Fi frames encrypted by the network: decrypt them with its key in Wireshark, \
                 IEEE 802.11 decryption keys, and export the decrypted packets to analyse them)"
            );
        }
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
    let _ = writeln!(out, "{}", verdict(r));
    let mut by_kind: BTreeMap<&str, (u64, f64)> = BTreeMap::new();
    for f in &r.findings {
        let e = by_kind.entry(f.kind).or_default();
        e.0 += 1;
        e.1 = e.1.max(f.confidence);
    }
    for (kind, (n, best)) in &by_kind {
        let _ = writeln!(out, "  {kind:<24} {n:>7}  (highest confidence {best:.2})");
    }
    for f in r.findings.iter().take(DETAILED_FINDINGS) {
        finding(&mut out, f);
    }
    if r.findings.len() > DETAILED_FINDINGS {
        let _ = writeln!(
            out,
            "\n  ... {} more findings: `--jsonl` lists them all",
            r.findings.len() - DETAILED_FINDINGS
        );
    }
    out
}

/// Findings explained one by one (the rest are counted above).
const DETAILED_FINDINGS: usize = 50;

/// One line saying what the capture shows, for a reader who reads nothing else.
fn verdict(r: &Report) -> String {
    // Flows that show a finding (a capture-wide one, such as a blackout, names
    // the flow that shows it first).
    let mut shown: Vec<u64> = r.findings.iter().map(|f| f.flow_id).collect();
    shown.sort_unstable();
    shown.dedup();
    let tampered = shown.len();
    if r.findings.is_empty() {
        return format!(
            "verdict: no evidence of tampering in {} flows",
            r.flows.len()
        );
    }
    let mut kinds: Vec<&str> = r.findings.iter().map(|f| f.kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    format!(
        "verdict: evidence of tampering, shown by {tampered} of {} flows ({})",
        r.flows.len(),
        kinds.join(", ")
    )
}

/// What a finding kind means (the output contract's table, in short).
fn meaning(kind: &str) -> &'static str {
    match kind {
        "tcp.injected_rst" => "a TCP reset not sent by the endpoint it claims to come from",
        "tcp.blackhole" => "packets silently dropped after a trigger, or a SYN never answered",
        "http.blockpage" => "an HTTP response that matches a known block page",
        "http.injected_response" => "an HTTP response forged on the path",
        "dns.injection" => "a forged DNS answer raced the real one",
        "dns.manipulation" => "a DNS answer pointing to a block address or a bogon",
        "tls.interference" => "a TLS handshake killed after the ClientHello",
        "tls.mitm" => "a certificate chain from an interception authority, or forged",
        "quic.interference" => "QUIC handshake unanswered while the server works otherwise",
        "vpn.interference" => "a VPN or proxy handshake blocked, reset or stalled",
        "throttling" => "a transfer held far below the rate the path carries",
        "residual_block" => "a server blocked after an earlier trigger",
        "blackout" => "a time window in which nearly all connectivity failed",
        _ => "",
    }
}

/// Most evidence fields printed per finding (the JSON Lines carry all).
const EVIDENCE_FIELDS: usize = 16;
/// Most frame numbers printed per finding.
const SHOWN_FRAMES: usize = 24;
/// Longest evidence value printed, in characters.
const EVIDENCE_WIDTH: usize = 110;

/// An evidence value as a reader wants it: strings without quotes, lists of
/// plain values joined by commas, anything else as compact JSON.
fn plain(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) if a.iter().all(|x| !x.is_array() && !x.is_object()) => {
            a.iter().map(plain).collect::<Vec<_>>().join(", ")
        }
        _ => v.to_string(),
    }
}

/// A finding: what, where, why, and how to check it in Wireshark.
fn finding(out: &mut String, f: &super::Finding) {
    let trigger = f.trigger.as_ref().and_then(|t| {
        t.iter()
            .next()
            .map(|(k, v)| format!(", {k} {}", v.as_str().map_or(v.to_string(), str::to_owned)))
    });
    let _ = writeln!(
        out,
        "\n  {} (confidence {:.2}): {}:{} -> {}:{} {} {}{}",
        f.kind,
        f.confidence,
        f.src_ip,
        f.src_port,
        f.dest_ip,
        f.dest_port,
        f.proto,
        f.app_proto,
        trigger.unwrap_or_default()
    );
    let what = meaning(f.kind);
    if !what.is_empty() {
        let _ = writeln!(out, "    {what}");
    }
    let frames: Vec<String> = f
        .frames
        .iter()
        .take(SHOWN_FRAMES)
        .map(u64::to_string)
        .collect();
    let mut refs = format!("    frames {}", frames.join(", "));
    if f.frames.len() > SHOWN_FRAMES {
        let _ = write!(refs, " ... ({} in all)", f.frames.len());
    }
    if let Some(p) = &f.profile {
        let _ = write!(refs, "; matches {p}");
    }
    if let Some(o) = f.ooni_failure {
        let _ = write!(refs, "; OONI: {o}");
    }
    let _ = writeln!(out, "{refs}");
    for (k, v) in f.evidence.iter().take(EVIDENCE_FIELDS) {
        let text = plain(v);
        let shown: String = text.chars().take(EVIDENCE_WIDTH).collect();
        let cut = if shown.len() < text.len() { " …" } else { "" };
        let _ = writeln!(out, "    {k}: {shown}{cut}");
    }
    if f.evidence.len() > EVIDENCE_FIELDS {
        let _ = writeln!(
            out,
            "    (+{} more evidence fields in --jsonl)",
            f.evidence.len() - EVIDENCE_FIELDS
        );
    }
}
