//! The parse floor: the bare walk every performance comparison is made against.
//!
//! ```text
//! cargo run --release --example floor -- [--prefetch] [--flows] FILE
//! ```
//! pcap-parser's slice iterator over a read-only memory map of FILE (pcap or
//! pcapng), and etherparse's `SlicedPacket` down to TCP/UDP for each frame,
//! counting protocols on one thread. Nothing else: no flow state, no output but
//! one line of counts. With `--prefetch` it issues a software prefetch 8 KiB
//! ahead of each record (x86_64 only), which turns the walk's dependent-load
//! chain into a streaming read (`shared/research/performance.md` §3).
//!
//! With `--flows` it is the *flow-tracking floor* instead (`parse flow` in
//! that research): each TCP/UDP packet's canonical 5-tuple is also counted
//! (packets and bytes) in a hashbrown map with foldhash, and nothing else —
//! no connection states, no timeouts, no payload. It is the least any tool
//! that follows flows pays, so that what the analysis costs beyond tracking
//! flows at all can be read off the same run.
//!
//! `benches/compare.sh` builds this in the same run as `analyze` and reports
//! every command as a median of per-pair ratios to it.

use std::fs::File;
use std::process::ExitCode;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_parser::pcapng::Block;
use pcap_parser::{Linktype, PcapBlockOwned};

/// How far ahead of the current record to prefetch.
const PREFETCH_AHEAD: usize = 8 * 1024;

/// A canonical 5-tuple: the lower endpoint first.
type FlowTuple = ([u8; 16], [u8; 16], u16, u16, u8);

#[derive(Default)]
struct Counts {
    /// With `--flows`: packets and bytes per flow.
    flows: Option<hashbrown::HashMap<FlowTuple, (u64, u64), foldhash::fast::RandomState>>,
    frames: u64,
    bytes: u64,
    ipv4: u64,
    ipv6: u64,
    tcp: u64,
    udp: u64,
    other: u64,
    undecodable: u64,
    errors: u64,
}

impl Counts {
    fn packet(&mut self, link: Linktype, data: &[u8]) {
        self.frames += 1;
        self.bytes += data.len() as u64;
        let sliced = match link {
            Linktype::ETHERNET => SlicedPacket::from_ethernet(data),
            Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 => SlicedPacket::from_ip(data),
            Linktype::LINUX_SLL => SlicedPacket::from_linux_sll(data),
            _ => {
                self.other += 1;
                return;
            }
        };
        let Ok(p) = sliced else {
            self.undecodable += 1;
            return;
        };
        match p.net {
            Some(NetSlice::Ipv4(_)) => self.ipv4 += 1,
            Some(NetSlice::Ipv6(_)) => self.ipv6 += 1,
            _ => {}
        }
        let ports = match &p.transport {
            Some(TransportSlice::Tcp(t)) => {
                self.tcp += 1;
                Some((t.source_port(), t.destination_port(), 6))
            }
            Some(TransportSlice::Udp(u)) => {
                self.udp += 1;
                Some((u.source_port(), u.destination_port(), 17))
            }
            _ => {
                self.other += 1;
                None
            }
        };
        if let (Some(flows), Some((sp, dp, proto))) = (self.flows.as_mut(), ports) {
            let (a, b) = match &p.net {
                Some(NetSlice::Ipv4(v4)) => (
                    v4.header().source_addr().to_ipv6_mapped().octets(),
                    v4.header().destination_addr().to_ipv6_mapped().octets(),
                ),
                Some(NetSlice::Ipv6(v6)) => (
                    v6.header().source_addr().octets(),
                    v6.header().destination_addr().octets(),
                ),
                _ => return,
            };
            let key = if (a, sp) <= (b, dp) {
                (a, b, sp, dp, proto)
            } else {
                (b, a, dp, sp, proto)
            };
            let e = flows.entry(key).or_default();
            e.0 += 1;
            e.1 += data.len() as u64;
        }
    }
}

/// Prefetch the cache line `PREFETCH_AHEAD` bytes past `data` if it is inside `map`.
#[inline(always)]
fn prefetch(map: &[u8], data: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        let off = (data.as_ptr() as usize).wrapping_sub(map.as_ptr() as usize) + PREFETCH_AHEAD;
        if let Some(b) = map.get(off) {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            // SAFETY: SSE is part of the x86_64 baseline, and a prefetch of an
            // address inside the map never faults; it only changes timing.
            #[allow(unsafe_code)]
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(b).cast::<i8>());
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (map, data);
}

fn walk_pcap(map: &[u8], pf: bool, c: &mut Counts) -> Result<(), String> {
    let it = pcap_parser::LegacyPcapSlice::from_slice(map).map_err(|e| format!("{e:?}"))?;
    // The file header is the first 24 bytes; its linktype is the last field.
    let raw = u32::from_le_bytes([map[20], map[21], map[22], map[23]]);
    let link = if raw >> 16 != 0 {
        Linktype(raw.swap_bytes() as i32)
    } else {
        Linktype(raw as i32)
    };
    for b in it {
        match b {
            Ok(PcapBlockOwned::Legacy(b)) => {
                if pf {
                    prefetch(map, b.data);
                }
                c.packet(link, b.data);
            }
            Ok(_) => {}
            Err(_) => {
                c.errors += 1;
                break;
            }
        }
    }
    Ok(())
}

fn walk_pcapng(map: &[u8], pf: bool, c: &mut Counts) -> Result<(), String> {
    let it = pcap_parser::PcapNGSlice::from_slice(map).map_err(|e| format!("{e:?}"))?;
    let mut links: Vec<Linktype> = Vec::new();
    for b in it {
        match b {
            Ok(PcapBlockOwned::NG(b)) => match b {
                Block::SectionHeader(_) => links.clear(),
                Block::InterfaceDescription(idb) => links.push(idb.linktype),
                Block::EnhancedPacket(epb) => {
                    if pf {
                        prefetch(map, epb.data);
                    }
                    let link = links
                        .get(epb.if_id as usize)
                        .copied()
                        .unwrap_or(Linktype::NULL);
                    let n = (epb.caplen as usize).min(epb.data.len());
                    c.packet(link, &epb.data[..n]);
                }
                Block::SimplePacket(spb) => {
                    let link = links.first().copied().unwrap_or(Linktype::NULL);
                    c.packet(link, spb.data);
                }
                _ => {}
            },
            Ok(_) => {}
            Err(_) => {
                c.errors += 1;
                break;
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut prefetch = false;
    let mut flows = false;
    let mut path = None;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--prefetch" => prefetch = true,
            "--flows" => flows = true,
            "-h" | "--help" => {
                println!("usage: floor [--prefetch] [--flows] FILE");
                return ExitCode::SUCCESS;
            }
            _ if path.is_none() && !a.starts_with('-') => path = Some(a),
            _ => {
                eprintln!("usage: floor [--prefetch] [--flows] FILE");
                return ExitCode::from(2);
            }
        }
    }
    let Some(path) = path else {
        eprintln!("usage: floor [--prefetch] [--flows] FILE");
        return ExitCode::from(2);
    };
    let map = match File::open(&path).and_then(|f| {
        // SAFETY: the file is mapped read-only; like every mmap reader we assume
        // nobody truncates it while we walk it (the benchmark's own files).
        #[allow(unsafe_code)]
        unsafe {
            memmap2::Mmap::map(&f)
        }
    }) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {path}: {e}");
            return ExitCode::from(1);
        }
    };
    let _ = map.advise(memmap2::Advice::Sequential);
    let mut c = Counts {
        flows: flows.then(Default::default),
        ..Counts::default()
    };
    let r = match map.get(..4) {
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => walk_pcapng(&map, prefetch, &mut c),
        Some(_) if map.len() >= 24 => walk_pcap(&map, prefetch, &mut c),
        _ => Err("not a pcap or pcapng file".into()),
    };
    if let Err(e) = r {
        eprintln!("error: {path}: {e}");
        return ExitCode::from(1);
    }
    println!(
        "frames {} bytes {} ipv4 {} ipv6 {} tcp {} udp {} other {} undecodable {} errors {}{}",
        c.frames,
        c.bytes,
        c.ipv4,
        c.ipv6,
        c.tcp,
        c.udp,
        c.other,
        c.undecodable,
        c.errors,
        c.flows
            .map(|f| format!(" flows {}", f.len()))
            .unwrap_or_default()
    );
    ExitCode::SUCCESS
}
