//! Application protocols: what a flow carries, and the names that can trigger
//! interference (TLS SNI, HTTP Host, DNS query name).
//!
//! Censors identify VPNs and circumvention tools before they block them, so to
//! say "this VPN was blocked" we must first know, from the first packets, that the
//! flow was that VPN. Each protocol lives in its own small file and exposes a
//! probe that starts with the cheapest checks (a byte, a length, a port) and
//! gives up early, as nDPI's dissectors do: most flows are rejected in a few
//! comparisons. Probes read the bounded buffers of a finished flow
//! ([`crate::flow::StreamBuf`]): for TCP the first bytes of each direction,
//! reassembled (a ClientHello or request head split over segments is seen whole);
//! for UDP and other IP protocols the first datagrams of each direction. Probes
//! borrow from those buffers and copy nothing but the names they return.
//!
//! Order matters only where two protocols could claim the same bytes; it goes
//! from the most structured (a parsed handshake) to the least (the
//! fully-encrypted heuristic, which only speaks when nothing else did).

mod certificate;
mod dns;
mod dns_message;
mod dtls;
mod esp;
mod fet;
mod gre;
mod http;
mod http_response;
mod ike;
mod keylog;
mod l2tp;
mod openvpn;
mod pptp;
mod quic;
mod quic_initial;
mod ssh;
mod stun;
mod tls;
mod tls13;
mod tls_handshake;
mod tor;
mod wireguard;

pub use certificate::{CertFacts, canonical_name, cert_facts, sha256_hex};
pub use dns::dns_qname;
pub use dns_message::{
    DnsError, DnsMessage, DnsQuestion, DnsRecord, Edns, MAX_POINTER_JUMPS, RData, parse_dns,
    tcp_messages,
};
pub use fet::{FetVerdict, fet_verdict};
pub use http::{HttpRequest, http_request};
pub use http_response::{HttpResponse, http_response, is_status_line};
pub use keylog::TlsKeyLog;
pub use quic_initial::{InitialHello, initial_client_hello, initial_sni};
pub use tls::{HiddenName, client_hello_hidden_name, client_hello_sni, starts_with_server_hello};
pub use tls_handshake::{ClientAlert, ServerChain, client_alert, server_chain};
pub use tls13::{Tls13Chain, server_certificates as tls13_server_certificates};

use crate::flow::{Direction, Flow, StreamBuf, TO_CLIENT, TO_SERVER};

/// An application protocol (the `app_proto` of a flow record).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AppProto {
    /// HTTP/1.x.
    Http,
    /// TLS.
    Tls,
    /// DNS over UDP or TCP.
    Dns,
    /// QUIC (IETF v1, v2 and drafts; Google QUIC).
    Quic,
    /// SSH.
    Ssh,
    /// OpenVPN over UDP or TCP.
    OpenVpn,
    /// WireGuard.
    WireGuard,
    /// IKEv1 / IKEv2 (ISAKMP), on UDP 500 or 4500.
    Ike,
    /// IPsec ESP: IP protocol 50, or in UDP on 4500 (NAT traversal).
    Esp,
    /// L2TP.
    L2tp,
    /// PPTP control connection (TCP 1723).
    Pptp,
    /// GRE (IP protocol 47), e.g. PPTP's data channel.
    Gre,
    /// Tor (a TLS connection with Tor's randomly generated names).
    Tor,
    /// Fully encrypted: a first client packet with no structure that passes none
    /// of the GFW's exemptions (Shadowsocks, VMess, obfs4 and the like).
    Fet,
    /// obfs4. Reserved: by its first bytes obfs4 cannot be told from other fully
    /// encrypted protocols without the bridge's key, so such flows are [`Fet`].
    ///
    /// [`Fet`]: AppProto::Fet
    Obfs4,
    /// DTLS.
    Dtls,
    /// STUN (and TURN).
    Stun,
    /// Not identified.
    Unknown,
}

impl AppProto {
    /// The name used in the output (`app_proto`).
    pub fn as_str(self) -> &'static str {
        match self {
            AppProto::Http => "http",
            AppProto::Tls => "tls",
            AppProto::Dns => "dns",
            AppProto::Quic => "quic",
            AppProto::Ssh => "ssh",
            AppProto::OpenVpn => "openvpn",
            AppProto::WireGuard => "wireguard",
            AppProto::Ike => "ike",
            AppProto::Esp => "esp",
            AppProto::L2tp => "l2tp",
            AppProto::Pptp => "pptp",
            AppProto::Gre => "gre",
            AppProto::Tor => "tor",
            AppProto::Fet => "fet",
            AppProto::Obfs4 => "obfs4",
            AppProto::Dtls => "dtls",
            AppProto::Stun => "stun",
            AppProto::Unknown => "unknown",
        }
    }

    /// Whether this is a VPN, tunnel or circumvention protocol (what the VPN
    /// blocking detectors watch).
    pub fn is_tunnel(self) -> bool {
        matches!(
            self,
            AppProto::OpenVpn
                | AppProto::WireGuard
                | AppProto::Ike
                | AppProto::Esp
                | AppProto::L2tp
                | AppProto::Pptp
                | AppProto::Gre
                | AppProto::Tor
                | AppProto::Fet
                | AppProto::Obfs4
        )
    }
}

/// How sure an identification is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Confidence {
    /// The first bytes fit, but not enough was seen to parse it (a handshake cut
    /// short, one side only, a heuristic).
    Likely,
    /// The protocol's own structure was parsed (and, where it has one, its
    /// exchange was seen from both sides).
    Certain,
}

impl Confidence {
    /// The name used in the output.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Certain => "certain",
            Confidence::Likely => "likely",
        }
    }
}

/// What a flow carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppInfo {
    /// The protocol.
    pub proto: AppProto,
    /// How sure (`None` for [`AppProto::Unknown`]).
    pub confidence: Option<Confidence>,
    /// TLS server name.
    pub sni: Option<String>,
    /// HTTP Host.
    pub http_host: Option<String>,
    /// DNS query name.
    pub dns_qname: Option<String>,
}

impl AppInfo {
    fn unknown() -> AppInfo {
        AppInfo {
            proto: AppProto::Unknown,
            confidence: None,
            sni: None,
            http_host: None,
            dns_qname: None,
        }
    }

    fn is(proto: AppProto, c: Confidence) -> AppInfo {
        AppInfo {
            proto,
            confidence: Some(c),
            ..AppInfo::unknown()
        }
    }
}

/// The two directions of a flow as the probes see them.
pub(crate) struct View<'a> {
    /// Client → server bytes (TCP stream or datagrams back to back).
    pub up: &'a [u8],
    /// Server → client bytes.
    pub down: &'a [u8],
    /// Client → server direction (datagram boundaries, counters).
    pub up_dir: &'a Direction<'a>,
    /// Server → client direction.
    pub down_dir: &'a Direction<'a>,
    /// Client port.
    pub cport: u16,
    /// Server port.
    pub sport: u16,
}

impl<'a> View<'a> {
    /// Whether either side uses `port`.
    pub fn port(&self, port: u16) -> bool {
        self.cport == port || self.sport == port
    }

    /// The client's datagrams.
    pub fn up_dgrams(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.up_dir.stream.datagrams().map(|(_, d)| d)
    }

    /// The server's datagrams.
    pub fn down_dgrams(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.down_dir.stream.datagrams().map(|(_, d)| d)
    }

    /// The client's first TCP segment's payload (what the GFW's fully-encrypted
    /// rule looks at), or the whole held stream if its end is unknown.
    pub fn up_first_segment(&self) -> &'a [u8] {
        first_segment(self.up_dir, self.up)
    }

    /// The server's first TCP segment's payload.
    pub fn down_first_segment(&self) -> &'a [u8] {
        first_segment(self.down_dir, self.down)
    }
}

/// The first segment's payload of a direction whose contiguous start is
/// `stream` (all of it when the segment boundaries are unknown).
fn first_segment<'a>(d: &Direction<'_>, stream: &'a [u8]) -> &'a [u8] {
    let mut marks = d.stream.marks();
    match (marks.next(), marks.next()) {
        (Some(first), Some(m)) if first.offset == 0 => {
            stream.get(..m.offset as usize).unwrap_or(stream)
        }
        _ => stream,
    }
}

/// Identifies a flow's application protocol from its first bytes.
pub fn identify(f: &Flow) -> AppInfo {
    identify_streams(
        f,
        f.dirs[TO_SERVER].stream.bytes(),
        f.dirs[TO_CLIENT].stream.bytes(),
    )
}

/// The start of a stream as the judging of its flow reads it, assembled in
/// `scratch` when it spans segments: whole, except that a TLS stream (`tcp`)
/// ends where its records become encrypted ([`tls::plaintext_extent`]).
pub(crate) fn judged_start<'a>(
    s: &'a StreamBuf<'_>,
    tcp: bool,
    scratch: &'a mut Vec<u8>,
) -> &'a [u8] {
    let limit = tcp
        .then(|| tls::plaintext_extent(|at| s.peek::<5>(at)))
        .flatten()
        .unwrap_or(usize::MAX);
    s.assemble_upto(scratch, limit)
}

/// Like [`identify`], with the flow's contiguous stream starts (client → server,
/// server → client) already assembled by the caller (see
/// [`StreamBuf::assemble`](crate::flow::StreamBuf::assemble); the analysis
/// hands in a TLS stream only up to where its records become encrypted).
pub fn identify_streams(f: &Flow, up: &[u8], down: &[u8]) -> AppInfo {
    let v = View {
        up,
        down,
        up_dir: &f.dirs[TO_SERVER],
        down_dir: &f.dirs[TO_CLIENT],
        cport: f.client.port,
        sport: f.server.port,
    };
    match f.key.proto {
        6 => identify_tcp(&v),
        17 => identify_udp(&v),
        // The IP protocol number says it all; the header behind it is opaque
        // (ESP) or carries another protocol (GRE: PPTP's PPP, or an IP tunnel).
        50 => AppInfo::is(AppProto::Esp, Confidence::Certain),
        47 => AppInfo::is(AppProto::Gre, gre::probe(&v).unwrap_or(Confidence::Likely)),
        // L2TPv3 directly over IP.
        115 => AppInfo::is(AppProto::L2tp, Confidence::Likely),
        _ => AppInfo::unknown(),
    }
}

fn identify_tcp(v: &View<'_>) -> AppInfo {
    let (up, down) = (v.up, v.down);
    if up.is_empty() && down.is_empty() {
        return AppInfo::unknown();
    }
    if let Some(c) = tls::probe(v) {
        let sni = client_hello_sni(up);
        let proto = match tor::probe(v, sni.as_deref()) {
            Some(_) => AppProto::Tor,
            None => AppProto::Tls,
        };
        return AppInfo {
            sni,
            ..AppInfo::is(proto, c)
        };
    }
    if let Some(req) = http_request(up) {
        return AppInfo {
            http_host: req.host,
            ..AppInfo::is(AppProto::Http, Confidence::Certain)
        };
    }
    if http::loose_request_line(up) {
        return AppInfo::is(AppProto::Http, Confidence::Likely);
    }
    if let Some(c) = http::probe_response(v) {
        // The request may sit in the other buffer when the capture started
        // after the client's SYN.
        let host = http_request(down).and_then(|r| r.host);
        return AppInfo {
            http_host: host,
            ..AppInfo::is(AppProto::Http, c)
        };
    }
    if let Some(c) = ssh::probe(v) {
        return AppInfo::is(AppProto::Ssh, c);
    }
    if let Some((c, q)) = dns::probe_tcp(v) {
        return AppInfo {
            dns_qname: q,
            ..AppInfo::is(AppProto::Dns, c)
        };
    }
    if let Some(c) = pptp::probe(v) {
        return AppInfo::is(AppProto::Pptp, c);
    }
    if let Some(c) = openvpn::probe_tcp(v) {
        return AppInfo::is(AppProto::OpenVpn, c);
    }
    if let Some(c) = stun::probe_tcp(v) {
        return AppInfo::is(AppProto::Stun, c);
    }
    if let Some(c) = fet::probe(v) {
        return AppInfo::is(AppProto::Fet, c);
    }
    AppInfo::unknown()
}

fn identify_udp(v: &View<'_>) -> AppInfo {
    if v.up.is_empty() && v.down.is_empty() {
        return AppInfo::unknown();
    }
    if let Some((c, q)) = dns::probe_udp(v) {
        return AppInfo {
            dns_qname: q,
            ..AppInfo::is(AppProto::Dns, c)
        };
    }
    if let Some(c) = quic::probe(v) {
        return AppInfo {
            sni: quic_initial::initial_sni(v.up_dgrams()),
            ..AppInfo::is(AppProto::Quic, c)
        };
    }
    // WebRTC runs STUN first, then DTLS on the same ports: the DTLS handshake
    // names the flow, as nDPI does.
    if let Some(c) = dtls::probe(v) {
        return AppInfo::is(AppProto::Dtls, c);
    }
    if let Some(c) = stun::probe_udp(v) {
        return AppInfo::is(AppProto::Stun, c);
    }
    if let Some(c) = wireguard::probe(v) {
        return AppInfo::is(AppProto::WireGuard, c);
    }
    if let Some(p) = ike::probe(v) {
        return p;
    }
    if let Some(c) = l2tp::probe(v) {
        return AppInfo::is(AppProto::L2tp, c);
    }
    if let Some(c) = openvpn::probe_udp(v) {
        return AppInfo::is(AppProto::OpenVpn, c);
    }
    AppInfo::unknown()
}

/// Reads a big-endian u16 at `i`.
#[inline]
pub(crate) fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// Reads a big-endian u32 at `i`.
#[inline]
pub(crate) fn be32(b: &[u8], i: usize) -> Option<u32> {
    let s = b.get(i..i + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// A real first-flight payload from zapret's collection in the public corpus
/// (`$TAMPERSCOPE_CORPUS`, default `../shared/corpus`); `None` when absent.
#[cfg(test)]
pub(crate) fn test_payload(name: &str) -> Option<Vec<u8>> {
    let corpus = std::env::var_os("TAMPERSCOPE_CORPUS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
        });
    std::fs::read(corpus.join("bol-van__zapret/files/fake").join(name)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::StreamBuf;

    fn dir<'a>(dgrams: &[&'a [u8]]) -> Direction<'a> {
        let mut d = Direction {
            stream: StreamBuf::new(16384),
            ..Direction::default()
        };
        for (i, g) in dgrams.iter().enumerate() {
            d.stream.push_datagram(g, i as u64 + 1);
        }
        d
    }

    fn run(up: &Direction, down: &Direction, port: u16) -> (AppInfo, AppInfo) {
        let v = View {
            up: up.stream.bytes(),
            down: down.stream.bytes(),
            up_dir: up,
            down_dir: down,
            cport: 40000,
            sport: port,
        };
        (identify_udp(&v), identify_tcp(&v))
    }

    /// Every prefix of real payloads, on every probe, in both directions and on
    /// the ports that switch probes on: no panic, and the whole payloads are
    /// named right.
    #[test]
    fn real_payloads_and_all_their_prefixes() {
        let dir_path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/bol-van__zapret/files/fake"
        );
        let Ok(entries) = std::fs::read_dir(dir_path) else {
            eprintln!("SKIPPED: zapret fake payloads not found");
            return;
        };
        let mut named = 0;
        for e in entries.flatten() {
            let Ok(b) = std::fs::read(e.path()) else {
                continue;
            };
            let name = e.file_name().to_string_lossy().into_owned();
            for n in 0..=b.len().min(600) {
                let (a, empty) = (dir(&[&b[..n]]), dir(&[]));
                for port in [53, 443, 500, 1194, 1701, 1723, 4500, 51820] {
                    let _ = run(&a, &empty, port);
                    let _ = run(&empty, &a, port);
                }
            }
            let whole = dir(&[&b]);
            let (udp, tcp) = run(&whole, &dir(&[]), 443);
            let want_udp = match name.split('_').next() {
                Some("quic") if name.contains("initial") => Some(AppProto::Quic),
                Some("dtls") => Some(AppProto::Dtls),
                Some("stun") => Some(AppProto::Stun),
                Some("wireguard") => Some(AppProto::WireGuard),
                _ => None,
            };
            if let Some(w) = want_udp {
                assert_eq!(udp.proto, w, "{name}");
                named += 1;
            }
            if name.starts_with("tls_clienthello") {
                assert_eq!(tcp.proto, AppProto::Tls, "{name}");
                assert!(tcp.sni.is_some(), "{name}");
                named += 1;
            }
            if name.starts_with("http") {
                assert_eq!(tcp.proto, AppProto::Http, "{name}");
                named += 1;
            }
            if name.starts_with("isakmp") {
                let (udp, _) = run(&whole, &dir(&[]), 4500);
                assert_eq!(udp.proto, AppProto::Ike, "{name}");
                named += 1;
            }
        }
        assert!(named >= 15, "only {named} payloads named");
    }
}
