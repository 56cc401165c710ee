//! `conn_state` (and `history`) agree with Zeek's conn.log for the TCP flows of the
//! traces Zeek's own test baselines cover
//! (`zeek__zeek/conn-baselines.tsv` maps each Baseline folder to its traces).
//!
//! Flows are matched by 5-tuple (either orientation) and start time within 1 ms;
//! most baselines mask timestamps (`XXXXXXXXXX.XXXXXX`), and there the n-th
//! conn.log row of a tuple is paired with our n-th flow of that tuple.

mod common;

use std::collections::HashMap;

use tamperscope::{Analyzer, Config};

#[derive(Debug)]
struct ZeekRow {
    ts: Option<f64>,
    key: (String, u16, String, u16),
    state: String,
    history: String,
}

fn read_conn_log(text: &str) -> Vec<ZeekRow> {
    let mut fields: Vec<&str> = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = f.split('\t').collect();
            continue;
        }
        if line.starts_with('#') || fields.is_empty() {
            continue;
        }
        let c: Vec<&str> = line.split('\t').collect();
        let get = |name: &str| {
            fields
                .iter()
                .position(|f| *f == name)
                .and_then(|i| c.get(i))
                .copied()
        };
        if get("proto") != Some("tcp") {
            continue;
        }
        let (Some(oh), Some(op), Some(rh), Some(rp)) = (
            get("id.orig_h"),
            get("id.orig_p"),
            get("id.resp_h"),
            get("id.resp_p"),
        ) else {
            continue;
        };
        rows.push(ZeekRow {
            ts: get("ts").and_then(|t| t.parse().ok()),
            key: (
                oh.to_string(),
                op.parse().unwrap_or(0),
                rh.to_string(),
                rp.parse().unwrap_or(0),
            ),
            state: get("conn_state").unwrap_or("-").to_string(),
            history: get("history").unwrap_or("-").to_string(),
        });
    }
    rows
}

type Tuple = (String, u16, String, u16);
/// Our flows of one tuple: (start time, conn_state, history, already matched).
type Ours = Vec<(f64, String, String, bool)>;

fn canon(k: &Tuple) -> Tuple {
    if (&k.0, k.1) <= (&k.2, k.3) {
        k.clone()
    } else {
        (k.2.clone(), k.3, k.0.clone(), k.1)
    }
}

#[test]
fn conn_state_agrees_with_zeek() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let zeek = corpus.join("zeek__zeek");
    let map = std::fs::read_to_string(zeek.join("conn-baselines.tsv")).expect("conn-baselines.tsv");
    let analyzer = Analyzer::new(Config::default().threads(1));
    let (mut matched, mut agree, mut hist_agree, mut unmatched, mut total) = (0, 0, 0, 0, 0);
    let mut disagreements: Vec<String> = Vec::new();
    for line in map.lines().skip(1) {
        let Some((dir, traces)) = line.split_once('\t') else {
            continue;
        };
        let Ok(log) =
            std::fs::read_to_string(zeek.join("testing/btest").join(dir).join("conn.log"))
        else {
            continue;
        };
        let rows = read_conn_log(&log);
        if rows.is_empty() {
            continue;
        }
        // Our TCP flows of all the traces, by canonical tuple, in time order.
        let mut ours: HashMap<Tuple, Ours> = HashMap::new();
        for t in traces.split_whitespace() {
            let Ok(rep) = analyzer.analyze_path(&zeek.join("testing/btest/Traces").join(t)) else {
                continue;
            };
            for f in rep.flows.iter().filter(|f| f.proto == "tcp") {
                let k = (
                    f.src_ip.to_string(),
                    f.src_port,
                    f.dest_ip.to_string(),
                    f.dest_port,
                );
                ours.entry(canon(&k)).or_default().push((
                    f.timestamp.as_secs_f64(),
                    f.conn_state.to_string(),
                    f.history.to_string(),
                    false,
                ));
            }
        }
        for v in ours.values_mut() {
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        for row in &rows {
            total += 1;
            let Some(cands) = ours.get_mut(&canon(&row.key)) else {
                unmatched += 1;
                disagreements.push(format!(
                    "{dir}: {:?} {} {} — no such flow of ours",
                    row.key, row.state, row.history
                ));
                continue;
            };
            let pick = match row.ts {
                Some(ts) => cands.iter_mut().find(|c| !c.3 && (c.0 - ts).abs() <= 0.001),
                None => cands.iter_mut().find(|c| !c.3),
            };
            let Some(c) = pick else {
                unmatched += 1;
                disagreements.push(format!(
                    "{dir}: {:?} {} {} — unmatched (tuple reused)",
                    row.key, row.state, row.history
                ));
                continue;
            };
            c.3 = true;
            matched += 1;
            if c.1 == row.state {
                agree += 1;
            } else {
                disagreements.push(format!(
                    "{dir}: {:?} zeek {} {} / ours {} {}",
                    row.key, row.state, row.history, c.1, c.2
                ));
            }
            if c.2 == row.history || (c.2.is_empty() && row.history == "-") {
                hist_agree += 1;
            }
        }
    }
    let pct = |a: usize, b: usize| {
        if b == 0 {
            100.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    eprintln!(
        "Zeek TCP flows: {total}; matched {matched} ({:.1}%), unmatched {unmatched}; conn_state agrees on {agree}/{matched} ({:.1}%); history on {hist_agree}/{matched} ({:.1}%)",
        pct(matched, total),
        pct(agree, matched),
        pct(hist_agree, matched)
    );
    for d in &disagreements {
        eprintln!("  {d}");
    }
    assert!(total > 0, "no Zeek TCP rows read");
    assert!(
        pct(agree, matched) >= 90.0,
        "conn_state agreement below 90%"
    );
    assert!(
        pct(matched, total) >= 80.0,
        "fewer than 80% of Zeek's flows matched"
    );
}
