//! Checks of the interference-lab captures (`testdata/lab/captures`, made by `testdata/lab/run.sh`), read
//! with the crate's own capture reader and decoder: every truth file is well-formed and names flows that
//! exist in its capture, and per scenario the mechanism really happened on the wire (a lab that silently
//! failed is caught). `testdata/lab/check.py` runs the same checks (and more) at the end of every lab run.
//! `TAMPERSCOPE_LAB` points at another capture directory (e.g. a run with another seed).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tamperscope::capture::Capture;
use tamperscope::decode::{self, Transport};

#[derive(Clone, Debug)]
#[allow(dead_code)]
struct Pkt {
    frame: u64,
    ts: f64,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    udp: bool,
    ttl: u8,
    seq: u32,
    ack: u32,
    flags: u16,
    win: u16,
    data: Vec<u8>,
}

const FIN: u16 = 0x01;
const SYN: u16 = 0x02;
const RST: u16 = 0x04;
const ACKF: u16 = 0x10;

fn lab_dir() -> PathBuf {
    std::env::var_os("TAMPERSCOPE_LAB")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/lab/captures"))
}

fn load(path: &Path) -> Vec<Pkt> {
    let cap =
        Capture::open(path, 1 << 30).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut out = Vec::new();
    for frame in cap.frames() {
        let Ok(p) = decode::decode(&frame) else {
            continue;
        };
        let (sport, dport, udp, seq, ack, flags, win) = match p.transport {
            Transport::Tcp(t) => (t.sport, t.dport, false, t.seq, t.ack, t.flags.0, t.window),
            Transport::Udp(u) => (u.sport, u.dport, true, 0, 0, 0, 0),
            _ => continue,
        };
        out.push(Pkt {
            frame: frame.index,
            ts: frame.ts.as_secs_f64(),
            src: p.ip.src,
            dst: p.ip.dst,
            sport,
            dport,
            udp,
            ttl: p.ip.ttl,
            seq,
            ack,
            flags,
            win,
            data: p.payload.to_vec(),
        });
    }
    out
}

fn endpoint(s: &str) -> (IpAddr, u16) {
    let (h, p) = s.rsplit_once(':').expect("ip:port");
    (h.parse().expect("ip"), p.parse().expect("port"))
}

struct Flow {
    up: Vec<Pkt>,
    down: Vec<Pkt>,
}

impl Flow {
    fn of(pkts: &[Pkt], fl: &Value) -> Flow {
        let (c, cp) = endpoint(fl["client"].as_str().unwrap());
        let (s, sp) = endpoint(fl["server"].as_str().unwrap());
        let udp = fl["proto"] == "udp";
        let m = |p: &&Pkt, a: IpAddr, ap: u16, b: IpAddr, bp: u16| {
            p.udp == udp && p.src == a && p.sport == ap && p.dst == b && p.dport == bp
        };
        Flow {
            up: pkts
                .iter()
                .filter(|p| m(p, c, cp, s, sp))
                .cloned()
                .collect(),
            down: pkts
                .iter()
                .filter(|p| m(p, s, sp, c, cp))
                .cloned()
                .collect(),
        }
    }
    fn rsts(&self) -> Vec<&Pkt> {
        self.down.iter().filter(|p| p.flags & RST != 0).collect()
    }
    fn down_data(&self) -> Vec<&Pkt> {
        self.down.iter().filter(|p| !p.data.is_empty()).collect()
    }
    fn synack(&self) -> Option<&Pkt> {
        self.down
            .iter()
            .find(|p| p.flags & SYN != 0 && p.flags & ACKF != 0)
    }
    fn goodput_kbit(&self) -> f64 {
        let d = self.down_data();
        if d.len() < 2 {
            return 0.0;
        }
        let lo = d.iter().map(|p| p.seq).min().unwrap() as f64;
        let hi = d
            .iter()
            .map(|p| p.seq as u64 + p.data.len() as u64)
            .max()
            .unwrap() as f64;
        (hi - lo) * 8.0 / 1000.0 / (d[d.len() - 1].ts - d[0].ts)
    }
}

struct Lab {
    truth: Value,
    pkts: Vec<Pkt>,
}

impl Lab {
    fn flows(&self) -> Vec<(Value, Flow)> {
        self.truth["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f.clone(), Flow::of(&self.pkts, f)))
            .collect()
    }
    fn expected(fl: &Value) -> bool {
        !fl["expected"].as_array().unwrap().is_empty()
    }
    fn lab_u8(&self, k: &str) -> u8 {
        self.truth["lab"][k].as_u64().unwrap() as u8
    }
}

/// Every lab capture with its truth, or None (with a message) when the directory is absent.
fn all() -> Option<HashMap<String, Lab>> {
    let dir = lab_dir();
    let Ok(rd) = std::fs::read_dir(&dir) else {
        eprintln!("skipping: no lab captures at {}", dir.display());
        return None;
    };
    let mut out = HashMap::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(".truth.json") else {
            continue;
        };
        let truth: Value =
            serde_json::from_slice(&std::fs::read(e.path()).unwrap()).expect("truth is JSON");
        let pcap = dir.join(truth["capture"].as_str().expect("capture name"));
        out.insert(
            stem.to_string(),
            Lab {
                pkts: load(&pcap),
                truth,
            },
        );
    }
    Some(out)
}

fn get<'a>(labs: &'a HashMap<String, Lab>, name: &str) -> &'a Lab {
    labs.get(name)
        .unwrap_or_else(|| panic!("lab capture {name} missing"))
}

/// "2026-11-28T09:20:10.123456Z" -> Unix seconds.
fn rfc3339(s: &str) -> f64 {
    let (y, mo, d) = (
        s[0..4].parse::<i64>().unwrap(),
        s[5..7].parse::<i64>().unwrap(),
        s[8..10].parse::<i64>().unwrap(),
    );
    let (h, mi, sec) = (
        s[11..13].parse::<i64>().unwrap(),
        s[14..16].parse::<i64>().unwrap(),
        s[17..s.len() - 1].parse::<f64>().unwrap(),
    );
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    (days * 86400 + h * 3600 + mi * 60) as f64 + sec
}

const KINDS: &[&str] = &[
    "tcp.injected_rst",
    "tcp.blackhole",
    "http.blockpage",
    "http.injected_response",
    "dns.injection",
    "dns.manipulation",
    "tls.interference",
    "tls.mitm",
    "quic.interference",
    "vpn.interference",
    "throttling",
    "residual_block",
    "blackout",
];

#[test]
fn truth_files_are_well_formed_and_flows_exist() {
    let Some(labs) = all() else { return };
    assert!(
        labs.len() >= 17,
        "expected the whole lab set, found {}",
        labs.len()
    );
    for (name, lab) in &labs {
        let t = &lab.truth;
        for k in ["capture", "scenario", "seed", "censor", "flows", "windows"] {
            assert!(t.get(k).is_some(), "{name}: truth lacks {k}");
        }
        assert!(!lab.pkts.is_empty(), "{name}: empty capture");
        for (fl, f) in lab.flows() {
            for k in fl["expected"].as_array().unwrap() {
                assert!(
                    KINDS.contains(&k.as_str().unwrap()),
                    "{name}: unknown kind {k}"
                );
            }
            if let Some(tr) = fl.get("trigger") {
                assert!(
                    tr.as_object()
                        .unwrap()
                        .keys()
                        .all(|k| ["sni", "http_host", "dns_qname"].contains(&k.as_str()))
                );
            }
            assert!(
                !f.up.is_empty(),
                "{name}: flow {} -> {} not in the capture",
                fl["client"],
                fl["server"]
            );
        }
        for w in t["windows"].as_array().unwrap() {
            assert!(rfc3339(w["start"].as_str().unwrap()) < rfc3339(w["end"].as_str().unwrap()));
        }
    }
}

#[test]
fn gfw_rst_bursts_have_gfw_offsets_and_nonzero_windows() {
    let Some(labs) = all() else { return };
    let lab = get(&labs, "gfw-rst");
    let server_ttl = lab.lab_u8("server_ttl_at_client");
    let mut bursts = 0;
    for (fl, f) in lab.flows().iter().filter(|(fl, _)| Lab::expected(fl)) {
        let r = f.rsts();
        assert_eq!(
            r.len(),
            3,
            "{}: {:?}",
            fl["client"],
            r.iter().map(|p| p.frame).collect::<Vec<_>>()
        );
        let d: Vec<u32> = r.iter().map(|p| p.seq.wrapping_sub(r[0].seq)).collect();
        assert_eq!(d, vec![0, 1460, 4380]);
        assert!(r.iter().all(|p| p.win != 0 && p.ttl != server_ttl));
        assert_eq!(
            r[0].seq,
            f.synack().unwrap().seq.wrapping_add(1),
            "first RST in window"
        );
        assert!(f.down_data().is_empty(), "the forged RSTs won the race");
        bursts += 1;
    }
    assert_eq!(bursts, 2);
    // the server-side capture shows the bursts sent towards the server
    let srv = get(&labs, "gfw-rst.server");
    for (fl, f) in srv.flows().iter().filter(|(fl, _)| Lab::expected(fl)) {
        let r: Vec<&Pkt> =
            f.up.iter()
                .filter(|p| p.flags & RST != 0 && p.win != 0)
                .collect();
        assert_eq!(r.len(), 3, "{}", fl["client"]);
        let d: Vec<u32> = r.iter().map(|p| p.seq.wrapping_sub(r[0].seq)).collect();
        assert_eq!(d, vec![0, 1460, 4380]);
    }
}

#[test]
fn netfilter_resets_carry_the_censor_ttl() {
    let Some(labs) = all() else { return };
    for name in ["http-host-rst", "tls-sni-reset"] {
        let lab = get(&labs, name);
        let censor_ttl = lab.truth["censor"]["ttl"].as_u64().unwrap() as u8;
        for (fl, f) in lab.flows() {
            if Lab::expected(&fl) {
                let r = f.rsts();
                assert!(
                    !r.is_empty() && r.iter().all(|p| p.ttl == censor_ttl && p.win == 0),
                    "{name} {}",
                    fl["client"]
                );
                assert_eq!(f.synack().unwrap().ttl, lab.lab_u8("server_ttl_at_client"));
                assert!(f.down_data().is_empty());
            } else {
                assert!(
                    f.rsts().is_empty() && !f.down_data().is_empty(),
                    "{name} control {}",
                    fl["client"]
                );
            }
        }
    }
}

#[test]
fn sni_silent_drop_leaves_only_retransmitted_client_hellos() {
    let Some(labs) = all() else { return };
    let lab = get(&labs, "tls-sni-drop");
    for (fl, f) in lab.flows() {
        if Lab::expected(&fl) {
            let ch: Vec<&Pkt> = f.up.iter().filter(|p| !p.data.is_empty()).collect();
            assert!(ch.len() >= 3, "ClientHello retransmitted");
            assert!(
                f.down.iter().all(|p| p.ts < ch[0].ts),
                "nothing from the server after the ClientHello"
            );
            assert!(f.rsts().is_empty());
        } else {
            assert!(
                f.down_data().iter().any(|p| p.data[0] == 0x16),
                "control got a ServerHello"
            );
        }
    }
}

#[test]
fn injected_http_responses_arrive_before_the_genuine_ones() {
    let Some(labs) = all() else { return };
    let lab = get(&labs, "http-blockpage");
    let server_ttl = lab.lab_u8("server_ttl_at_client");
    for (fl, f) in lab.flows().iter().filter(|(fl, _)| Lab::expected(fl)) {
        let d = f.down_data();
        assert!(
            d[0].ttl != server_ttl && d[0].data.starts_with(b"HTTP/1.1 "),
            "{}",
            fl["client"]
        );
        let genuine = d.iter().find(|p| p.seq == d[0].seq && p.ttl == server_ttl);
        assert!(
            genuine.is_some_and(|g| g.ts > d[0].ts),
            "{}: genuine response later",
            fl["client"]
        );
    }
}

#[test]
fn dns_injection_answers_first_with_gfw_flags() {
    let Some(labs) = all() else { return };
    let lab = get(&labs, "dns-injection");
    let pool: Vec<IpAddr> = lab.truth["censor"]["pool"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect();
    for (fl, f) in lab.flows() {
        if Lab::expected(&fl) {
            assert_eq!(f.down.len(), 2, "{}: forged + genuine", fl["client"]);
            let (a, b) = (&f.down[0], &f.down[1]);
            assert_eq!(a.data[..2], b.data[..2], "same txid");
            let flags = u16::from_be_bytes([a.data[2], a.data[3]]);
            assert!(flags == 0x8180 || flags == 0x8400, "flags {flags:#06x}");
            let n = a.data.len();
            let ans = IpAddr::from([a.data[n - 4], a.data[n - 3], a.data[n - 2], a.data[n - 1]]);
            assert!(pool.contains(&ans), "forged answer {ans} from the pool");
            assert!(a.ttl != b.ttl && b.ts > a.ts);
        } else {
            assert_eq!(f.down.len(), 1);
        }
    }
}

#[test]
fn policer_holds_the_flow_near_128_kbit_while_the_control_is_fast() {
    let Some(labs) = all() else { return };
    let lab = get(&labs, "throttle");
    let flows = lab.flows();
    let pol = flows
        .iter()
        .find(|(fl, _)| Lab::expected(fl))
        .unwrap()
        .1
        .goodput_kbit();
    let ctl = flows
        .iter()
        .find(|(fl, _)| fl["note"].as_str().unwrap_or("").contains("control"))
        .unwrap()
        .1
        .goodput_kbit();
    assert!(
        (110.0..=150.0).contains(&pol),
        "policed goodput {pol:.1} kbit/s"
    );
    assert!(ctl >= 10.0 * pol, "control {ctl:.0} kbit/s");
}

#[test]
fn nothing_comes_back_during_the_blackout() {
    let Some(labs) = all() else { return };
    let lab = get(&labs, "blackout");
    let w = &lab.truth["windows"][0];
    let (s, e) = (
        rfc3339(w["start"].as_str().unwrap()),
        rfc3339(w["end"].as_str().unwrap()),
    );
    let client: IpAddr = lab.truth["lab"]["client"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let inside: Vec<u64> = lab
        .pkts
        .iter()
        .filter(|p| p.ts > s + 0.05 && p.ts < e - 0.05 && p.src != client)
        .map(|p| p.frame)
        .collect();
    assert!(
        inside.is_empty(),
        "server-side frames inside the blackout: {inside:?}"
    );
    assert!(
        lab.pkts
            .iter()
            .filter(|p| p.ts > s && p.ts < e && p.src == client)
            .count()
            >= 3
    );
}

#[test]
fn mitm_chain_is_from_the_qaznet_named_root() {
    let Some(labs) = all() else { return };
    let lab = get(&labs, "tls-mitm");
    let has = |f: &Flow, needle: &[u8]| {
        f.down
            .iter()
            .flat_map(|p| p.data.clone())
            .collect::<Vec<u8>>()
            .windows(needle.len())
            .any(|w| w == needle)
    };
    for (fl, f) in lab.flows() {
        assert_eq!(
            has(&f, b"Qaznet Trust Network"),
            Lab::expected(&fl),
            "{}",
            fl["client"]
        );
    }
}

#[test]
fn blocked_quic_and_wireguard_handshakes_go_unanswered() {
    let Some(labs) = all() else { return };
    for (fl, f) in get(&labs, "quic-sni").flows() {
        assert!(
            f.up.iter()
                .any(|p| p.data.len() >= 1200 && p.data[0] & 0xF0 == 0xC0),
            "Initial"
        );
        assert_eq!(f.down.is_empty(), Lab::expected(&fl), "{}", fl["client"]);
    }
    for (fl, f) in get(&labs, "vpn-wireguard").flows() {
        let inits =
            f.up.iter()
                .filter(|p| p.data.len() == 148 && p.data[0] == 1)
                .count();
        if Lab::expected(&fl) {
            assert!(inits >= 3 && f.down.is_empty());
        } else {
            assert!(f.down.iter().any(|p| p.data.len() == 92 && p.data[0] == 2));
        }
    }
    for (fl, f) in get(&labs, "vpn-openvpn").flows() {
        if fl["proto"] == "tcp" {
            assert!(f.rsts().len() == 1 && f.down_data().is_empty());
        }
    }
}

#[test]
fn benign_traps_show_their_real_causes() {
    let Some(labs) = all() else { return };
    let lab = get(&labs, "benign-traps");
    let rc = &lab.truth["censor"]["route_change"];
    let (before, after) = (
        rc["ttl_before"].as_u64().unwrap() as u8,
        rc["ttl_after"].as_u64().unwrap() as u8,
    );
    let server_ttl = lab.lab_u8("server_ttl_at_client");
    for (fl, f) in lab.flows() {
        assert!(!Lab::expected(&fl));
        let note = fl["note"].as_str().unwrap_or("");
        let ttls: std::collections::BTreeSet<u8> = f.down.iter().map(|p| p.ttl).collect();
        if note.contains("route change in the middle") {
            assert_eq!(ttls.into_iter().collect::<Vec<_>>(), vec![after, before]);
        } else if note.contains("closed port") || note.contains("unread data") {
            assert!(!f.rsts().is_empty() && f.rsts().iter().all(|p| p.ttl == server_ttl));
        } else if note == "normal FIN close" {
            assert!(f.rsts().is_empty() && f.down.iter().any(|p| p.flags & FIN != 0));
        } else if note.contains("capture starts") {
            assert!(f.up[0].flags & SYN == 0 && f.down[0].flags & SYN == 0);
        }
    }
}
