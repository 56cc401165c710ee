//! The signature database: built-in data, Censored Planet's and OONI's published
//! sets (every row loads or is counted as rejected), false-positive precedence,
//! duplicate ids.

use std::path::{Path, PathBuf};

use tamperscope::proto::http_response;
use tamperscope::signatures::{
    HttpVerdict, Location, SignatureSet, Signatures, add_censoredplanet, builtin_sets,
    from_ooni_csv, from_toml, load_path,
};

fn signature_data() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/signature-data");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("SKIPPED: signature data not found at {}", p.display());
        None
    }
}

fn verdict(sigs: &Signatures, response: &[u8]) -> HttpVerdict {
    let r = http_response(response);
    let headers = r.as_ref().map(|r| r.headers.clone()).unwrap_or_default();
    sigs.db()
        .match_http(response, r.as_ref().and_then(|r| r.head_len), &headers)
}

fn ids(sigs: &Signatures, v: &HttpVerdict) -> Vec<String> {
    match v {
        HttpVerdict::BlockPage(h) => h
            .iter()
            .map(|h| {
                sigs.db()
                    .get(h.sig)
                    .map(|s| s.id.clone())
                    .unwrap_or_default()
            })
            .collect(),
        HttpVerdict::FalsePositive(h) => {
            vec![format!(
                "fp:{}",
                sigs.db()
                    .get(h.sig)
                    .map(|s| s.id.clone())
                    .unwrap_or_default()
            )]
        }
        _ => vec![],
    }
}

#[test]
fn builtin_data_loads_without_rejections() {
    for s in builtin_sets() {
        eprintln!(
            "{}: {} block, {} false positives",
            s.name,
            s.block_count(),
            s.false_positive_count()
        );
        assert!(s.rejected.is_empty(), "{}: {:?}", s.name, s.rejected);
        assert_eq!(s.duplicates, 0, "{}", s.name);
        for e in &s.entries {
            assert!(!e.source.is_empty() && !e.id.is_empty());
        }
    }
    let db = Signatures::builtin();
    assert!(db.db().signatures().len() >= 20);
    assert_eq!(db.db().unfiltered_regexes(), 0);
}

#[test]
fn builtin_matches_where_it_should() {
    let s = Signatures::builtin();
    let v = verdict(
        &s,
        b"HTTP/1.1 302 Found\r\nLocation: http://10.10.34.34/?type=Invalid\r\n\r\n",
    );
    assert_eq!(ids(&s, &v), vec!["ir_national_redirect_34"]);
    // The injected literal of Uzbekistan's legacy blocks, raw or as a body.
    let raw = s.db().match_http(b"Object not found\r\n", None, &[]);
    assert!(matches!(raw, HttpVerdict::BlockPage(_)));
    // A real 404 page that says it inside HTML is not the literal.
    let v = verdict(
        &s,
        b"HTTP/1.1 404 Not Found\r\n\r\n<html><h1>Object not found!</h1></html>",
    );
    assert_eq!(v, HttpVerdict::Clean);
    // Raw bytes never match `contains` signatures (they may be anything).
    let raw = s
        .db()
        .match_http(b"\x16\x03\x01 http://10.10.34.34", None, &[]);
    assert_eq!(raw, HttpVerdict::Clean);
    let v = verdict(
        &s,
        "HTTP/1.1 200 OK\r\n\r\n<h1>Страница заблокирована</h1>".as_bytes(),
    );
    assert_eq!(ids(&s, &v), vec!["kz_corp_page_blocked"]);
    let ok = verdict(
        &s,
        b"HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n<html>hello</html>",
    );
    assert_eq!(ok, HttpVerdict::Clean);
}

#[test]
fn false_positives_take_precedence() {
    let text = r#"
[set]
name = "t"
[[signature]]
id = "block"
source = "test"
location = "body"
match = "contains"
pattern = "Access denied"
[[signature]]
id = "block"
source = "test"
location = "body"
match = "contains"
pattern = "Access denied"
[[signature]]
id = "block"
source = "test"
location = "header.server"
match = "full"
pattern = "BlockOS"
[[signature]]
id = "cdn_error"
source = "test"
location = "body"
match = "regex"
pattern = "Reference #[0-9a-f.]+"
false_positive = true
"#;
    let set = from_toml(text).expect("toml");
    // The same id twice with the same pattern is one entry; with another
    // pattern (another location) it is a second pattern of that fingerprint.
    assert_eq!(set.duplicates, 1);
    assert_eq!(set.entries.len(), 3);
    let s = Signatures::from_sets(vec![set]).expect("compiles");
    let v = verdict(&s, b"HTTP/1.1 403 Forbidden\r\n\r\nAccess denied");
    assert_eq!(ids(&s, &v), vec!["block"]);
    let v = verdict(
        &s,
        b"HTTP/1.1 403 Forbidden\r\n\r\nAccess denied. Reference #18.2a3c.9",
    );
    assert_eq!(ids(&s, &v), vec!["fp:cdn_error"]);
    let v = verdict(&s, b"HTTP/1.1 200 OK\r\nServer: BlockOS\r\n\r\n");
    assert_eq!(ids(&s, &v), vec!["block"]);
    let v = verdict(&s, b"HTTP/1.1 200 OK\r\nServer: BlockOS 2\r\n\r\n");
    assert_eq!(v, HttpVerdict::Clean);
}

/// Every Censored Planet pattern (622 block pages, 460 false positives) and every
/// OONI row loads; rejected rows are counted and printed.
#[test]
fn published_sets_load() {
    let Some(dir) = signature_data() else { return };
    let cp = dir.join("censoredplanet__censoredplanet-analysis");
    let mut set = SignatureSet::new("censoredplanet");
    let bp = std::fs::read_to_string(cp.join("blockpage_signatures.json")).expect("cp");
    let fp = std::fs::read_to_string(cp.join("false_positive_signatures.json")).expect("cp");
    add_censoredplanet(&mut set, &fp, true);
    add_censoredplanet(&mut set, &bp, false);
    let rows_bp = bp.lines().filter(|l| !l.trim().is_empty()).count();
    let rows_fp = fp.lines().filter(|l| !l.trim().is_empty()).count();
    eprintln!(
        "Censored Planet: {rows_bp} block-page rows, {rows_fp} false-positive rows -> {} block, {} fp, {} duplicates, {} rejected",
        set.block_count(),
        set.false_positive_count(),
        set.duplicates,
        set.rejected.len()
    );
    for r in &set.rejected {
        eprintln!("  rejected line {} {:?}: {}", r.line, r.id, r.reason);
    }
    assert_eq!((rows_bp, rows_fp), (622, 460));
    assert_eq!(
        set.block_count() + set.false_positive_count() + set.duplicates + set.rejected.len(),
        622 + 460
    );
    assert!(set.rejected.is_empty(), "{} rejected", set.rejected.len());
    // Duplicate fingerprint ids (several patterns per id) are all kept.
    let dup_ids = set
        .entries
        .iter()
        .filter(|e| e.id == "e_unk_ru_blocked")
        .count();
    assert_eq!(dup_ids, 3);

    let ooni = dir.join("ooni__blocking-fingerprints");
    let mut all = vec![set];
    for f in ["fingerprints_http.csv", "fingerprints_dns.csv"] {
        let text = std::fs::read_to_string(ooni.join(f)).expect("ooni");
        let s = from_ooni_csv(f, &text);
        eprintln!(
            "OONI {f}: {} block, {} fp, {} duplicates, {} rejected",
            s.block_count(),
            s.false_positive_count(),
            s.duplicates,
            s.rejected.len()
        );
        for r in &s.rejected {
            eprintln!("  rejected record {} {:?}: {}", r.line, r.id, r.reason);
        }
        assert!(s.rejected.is_empty());
        if f.contains("dns") {
            assert_eq!(s.entries.len() + s.duplicates, 226);
            assert!(s.entries.iter().all(|e| e.location == Location::DnsAnswer));
        } else {
            assert_eq!(s.entries.len() + s.duplicates, 1729);
            assert_eq!(s.false_positive_count(), 475);
        }
        all.push(s);
    }
    all.extend(builtin_sets());
    let sigs = Signatures::from_sets(all).expect("all compile together");
    eprintln!(
        "{} signatures compiled, {} regexes without a literal prefilter",
        sigs.db().signatures().len(),
        sigs.db().unfiltered_regexes()
    );
    // Upstream precedence: nginx's default page is a Censored Planet false
    // positive, FortiGuard's page a block page.
    let v = verdict(
        &sigs,
        b"HTTP/1.1 200 OK\r\n\r\n<p><em>Thank you for using nginx.</em></p>",
    );
    assert!(matches!(v, HttpVerdict::FalsePositive(_)), "{v:?}");
    let v = verdict(
        &sigs,
        b"HTTP/1.1 200 OK\r\n\r\n<title>FortiGuard Web Filtering</title>",
    );
    assert!(
        ids(&sigs, &v).contains(&"a_prod_fortinet_1".to_string()),
        "{v:?}"
    );
    // Paths load by extension too.
    let s = load_path(&cp.join("false_positive_signatures.json")).expect("load");
    assert_eq!(s.false_positive_count() + s.duplicates, 460);
    assert!(Signatures::with_files(&[&ooni.join("fingerprints_dns.csv")]).is_ok());
}
