//! The inputs of the block-page matching benches (real HTTP responses, the
//! published signature sets) and the operation they time. One definition, included by path into
//! `benches/signatures.rs` and the Hyperscan comparison
//! (`benches/peers/hyperscan`), so that both measure the same thing.

use std::path::{Path, PathBuf};

use tamperscope::Analyzer;
use tamperscope::capture::Capture;
use tamperscope::flow::TO_CLIENT;
use tamperscope::proto::{http_response, is_status_line};
use tamperscope::signatures::{
    HttpVerdict, SignatureSet, Signatures, add_censoredplanet, from_ooni_csv,
};

/// The server streams that start with an HTTP status line, from the lab
/// captures and Zeek's HTTP traces (when the corpus is beside the crate at
/// `root`), at most 400.
pub fn responses(root: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [
        root.join("testdata/lab/captures"),
        root.join("../shared/corpus/zeek__zeek/testing/btest/Traces/http"),
    ] {
        if let Ok(rd) = std::fs::read_dir(dir) {
            files.extend(rd.flatten().map(|e| e.path()).filter(|p| {
                p.extension()
                    .is_some_and(|e| e == "pcap" || e == "trace" || e == "pcapng")
            }));
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let Ok(cap) = Capture::open(&f, 1 << 32) else {
            continue;
        };
        for fl in Analyzer::default().flows(&cap) {
            let s = fl.dirs[TO_CLIENT].stream.bytes();
            if is_status_line(s) {
                out.push(s.to_vec());
            }
        }
    }
    out.truncate(400);
    out
}

/// Up to 2,000 published HTTP signatures: Censored Planet's false positives
/// and block pages, then OONI's HTTP fingerprints; `None` when the data is
/// not beside the crate at `root`.
pub fn published(root: &Path) -> Option<SignatureSet> {
    let data = root.join("../shared/signature-data");
    let cp = data.join("censoredplanet__censoredplanet-analysis");
    let fp = std::fs::read_to_string(cp.join("false_positive_signatures.json")).ok()?;
    let bp = std::fs::read_to_string(cp.join("blockpage_signatures.json")).ok()?;
    let mut set = SignatureSet::new("bench");
    add_censoredplanet(&mut set, &fp, true);
    add_censoredplanet(&mut set, &bp, false);
    if let Ok(t) =
        std::fs::read_to_string(data.join("ooni__blocking-fingerprints/fingerprints_http.csv"))
    {
        let o = from_ooni_csv("ooni", &t);
        let room = 2000usize.saturating_sub(set.entries.len());
        set.entries.extend(o.entries.into_iter().take(room));
    }
    set.entries.truncate(2000);
    Some(set)
}

/// What the benches time per response: the head parsed, then one
/// `match_http`; returns how many responses matched something.
pub fn match_all(sigs: &Signatures, resps: &[Vec<u8>]) -> usize {
    let mut n = 0;
    for r in resps {
        let head = http_response(r);
        let (start, headers) = match &head {
            Some(h) => (Some(h.head_len.unwrap_or(r.len())), h.headers.clone()),
            None => (None, Vec::new()),
        };
        if !matches!(sigs.db().match_http(r, start, &headers), HttpVerdict::Clean) {
            n += 1;
        }
    }
    n
}
