//! Detectors: one small file per tampering mechanism.
//!
//! Per-flow detectors look at a finished [`Flow`] — its per-direction baselines,
//! the RSTs and FINs it received with the packets around them, its sequence
//! tracking — and at what [`crate::proto`] identified, and emit
//! [`Finding`]s whose `frames` a person can open in Wireshark. A little
//! capture-wide context ([`CaptureContext`]: which servers answered at all) lets a
//! detector tell "this server was silenced" from "the network was down".
//!
//! Every detector prefers a missed detection to a false accusation: a finding
//! needs a strong signal (a header field the claimed sender never used, the
//! claimed sender still talking after its own reset, a reply faster than the path
//! allows), and benign explanations (a server resetting, a NAT timing out, a route
//! change, a capture that starts mid-connection) are ruled out first.

mod blackhole;
mod blackout;
mod dns_exchange;
mod dns_injection;
mod dns_manipulation;
mod finding;
mod http_blockpage;
mod http_injected;
mod injected_rst;
mod quic_interference;
mod quic_name;
mod residual;
mod throttling;
mod tls_interference;
mod tls_mitm;
mod udp_silence;
mod vpn_interference;

pub use blackout::BlackoutTracker;
pub use finding::FindingBuilder;
pub use quic_name::QuicNameTracker;
pub use residual::ResidualTracker;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::flow::{Flow, TO_CLIENT, TO_SERVER};
use crate::proto::AppInfo;
use crate::report::Finding;

/// A finished flow and what it carried.
pub struct FlowView<'f> {
    /// The flow.
    pub flow: &'f Flow<'f>,
    /// Its application protocol and trigger names.
    pub app: &'f AppInfo,
    /// The contiguous start of the client → server stream (TCP) or the first
    /// datagrams back to back.
    pub up: &'f [u8],
    /// The same for server → client.
    pub down: &'f [u8],
    /// The DNS exchanges, parsed once for every detector that reads them.
    dns: std::cell::OnceCell<Vec<dns_exchange::Exchange>>,
    /// The HTTP response head of `down`, parsed once for the detectors that
    /// read it.
    response: std::cell::OnceCell<Option<crate::proto::HttpResponse<'f>>>,
}

impl<'f> FlowView<'f> {
    /// A finished flow, its protocol, and its assembled stream starts.
    pub fn new(flow: &'f Flow<'f>, app: &'f AppInfo, up: &'f [u8], down: &'f [u8]) -> Self {
        FlowView {
            flow,
            app,
            up,
            down,
            dns: std::cell::OnceCell::new(),
            response: std::cell::OnceCell::new(),
        }
    }

    /// The HTTP response head at the start of `down`, if it starts with one.
    fn http_response(&self) -> Option<&crate::proto::HttpResponse<'f>> {
        self.response
            .get_or_init(|| crate::proto::http_response(self.down))
            .as_ref()
    }

    /// The DNS exchanges of the flow (none unless it is a flow to port 53).
    fn dns_exchanges(&self) -> &[dns_exchange::Exchange] {
        self.dns.get_or_init(|| dns_exchange::exchanges(self))
    }
}

/// The TLS handshakes a server completed (a ServerHello came back): the
/// first flow whose ClientHello had no ECH or ESNI extension, and the first
/// whose ClientHello had one, each as (flow id, frame of the ServerHello).
/// A handshake killed after its ClientHello is told apart with them: the
/// server works, and for which kind of hello.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlsServed {
    /// A completed handshake whose ClientHello hid no name.
    pub plain: Option<(u64, u64)>,
    /// A completed handshake whose ClientHello had an ECH or ESNI extension.
    pub hidden: Option<(u64, u64)>,
    /// The quickest handshake the client saw end (flow id, ns from its
    /// ClientHello to its answer to the server's flight).
    pub fastest: Option<(u64, u64)>,
}

/// What the analysis knows about the rest of the capture when it judges a flow.
#[derive(Debug, Default)]
pub struct CaptureContext {
    /// Servers that completed a TCP handshake or answered over UDP (at most
    /// [`CaptureContext::MAX_SERVERS`]).
    answering_servers: BTreeSet<IpAddr>,
    /// Per client: (TCP connection attempts, attempts nobody answered), for at
    /// most [`CaptureContext::MAX_CLIENTS`] clients.
    attempts: BTreeMap<IpAddr, (u32, u32)>,
    /// Per server address, transport and port: how many flows it answered
    /// (UDP: any datagram back; TCP: payload back), for at most
    /// [`CaptureContext::MAX_ANSWERING`] of them.
    answers: hashbrown::HashMap<(IpAddr, u8, u16), u32>,
    /// The same per server address and transport, all ports together.
    host_answers: hashbrown::HashMap<(IpAddr, u8), u32>,
    /// Best server → client TCP goodput (bit/s) per server address, for at
    /// most [`CaptureContext::MAX_ANSWERING`] servers, and over all.
    goodput: hashbrown::HashMap<IpAddr, f64>,
    best_goodput: f64,
    /// Per TLS server address and port, the handshakes it completed, for at
    /// most [`CaptureContext::MAX_ANSWERING`] of them.
    tls_served: hashbrown::HashMap<(IpAddr, u16), TlsServed>,
    /// The client stream start of the flow being noted, when it spans
    /// segments.
    scratch: Vec<u8>,
    /// Connection outcomes over time, for the capture-wide blackout judgement.
    pub blackouts: BlackoutTracker,
    /// The signatures (block pages, block addresses, false positives) from the
    /// analysis' [`crate::Config`].
    pub signatures: crate::signatures::Signatures,
    /// The clients' TLS key logs, from the analysis' [`crate::Config`].
    pub tls_keys: std::sync::Arc<crate::proto::TlsKeyLog>,
}

impl CaptureContext {
    /// Bound on the servers remembered: a detector only needs to know whether some
    /// *other* server answered.
    pub const MAX_SERVERS: usize = 64;
    /// Bound on the clients whose connection attempts are counted.
    pub const MAX_CLIENTS: usize = 4096;
    /// Bound on the servers whose answered flows are counted.
    pub const MAX_ANSWERING: usize = 4096;

    /// An empty context whose detectors match against `signatures`.
    pub fn with_signatures(signatures: crate::signatures::Signatures) -> CaptureContext {
        CaptureContext {
            signatures,
            ..CaptureContext::default()
        }
    }

    /// [`CaptureContext::with_signatures`], with the clients' TLS key logs.
    pub fn with_keys(
        signatures: crate::signatures::Signatures,
        tls_keys: std::sync::Arc<crate::proto::TlsKeyLog>,
    ) -> CaptureContext {
        CaptureContext {
            signatures,
            tls_keys,
            ..CaptureContext::default()
        }
    }

    /// Notes a finished flow.
    pub fn observe(&mut self, f: &Flow) {
        self.blackouts.observe(f);
        let answered = f.dirs[TO_CLIENT].pkts > 0 && f.dirs[TO_CLIENT].payload_bytes > 0;
        if answered && self.answering_servers.len() < Self::MAX_SERVERS {
            self.answering_servers.insert(f.server.addr);
        }
        if answered_flow(f) {
            let (a, p) = (f.server.addr, f.key.proto);
            if self.answers.len() < Self::MAX_ANSWERING
                || self.answers.contains_key(&(a, p, f.server.port))
            {
                *self.answers.entry((a, p, f.server.port)).or_default() += 1;
                *self.host_answers.entry((a, p)).or_default() += 1;
            }
        }
        if let Some((rate, _)) = throttling::goodput(f) {
            self.best_goodput = self.best_goodput.max(rate);
            if self.goodput.len() < Self::MAX_ANSWERING || self.goodput.contains_key(&f.server.addr)
            {
                let g = self.goodput.entry(f.server.addr).or_default();
                *g = g.max(rate);
            }
        }
        if f.key.proto == 6 {
            self.observe_tls(f);
        }
        if f.key.proto == 6 && f.dirs[TO_SERVER].baseline.tcp.syn.is_some() {
            let n = self.attempts.len();
            if let Some(e) = match self.attempts.get_mut(&f.client.addr) {
                Some(e) => Some(e),
                None if n < Self::MAX_CLIENTS => {
                    Some(self.attempts.entry(f.client.addr).or_default())
                }
                None => None,
            } {
                e.0 += 1;
                if f.dirs[TO_CLIENT].pkts == 0 {
                    e.1 += 1;
                }
            }
        }
    }

    /// Notes a TCP flow whose server answered its ClientHello with a
    /// ServerHello.
    fn observe_tls(&mut self, f: &Flow) {
        let down = &f.dirs[TO_CLIENT];
        let Some(frame) = down.first_payload_frame else {
            return;
        };
        if !down
            .stream
            .peek::<6>(0)
            .is_some_and(|b| crate::proto::starts_with_server_hello(&b))
        {
            return;
        }
        let k = (f.server.addr, f.server.port);
        if self.tls_served.len() >= Self::MAX_ANSWERING && !self.tls_served.contains_key(&k) {
            return;
        }
        let up = crate::proto::judged_start(&f.dirs[TO_SERVER].stream, true, &mut self.scratch);
        let hidden = crate::proto::client_hello_hidden_name(up).is_some();
        let served = self.tls_served.entry(k).or_default();
        let slot = if hidden {
            &mut served.hidden
        } else {
            &mut served.plain
        };
        slot.get_or_insert((f.id, frame));
        if let Some(h) = throttling::tls_handshake(f) {
            if served.fastest.is_none_or(|(_, ns)| h.ns < ns) {
                served.fastest = Some((f.id, h.ns));
            }
        }
    }

    /// The TLS handshakes the server of `f` completed on its port in other
    /// flows of the capture, as far as it has been read.
    pub fn tls_served(&self, f: &Flow) -> TlsServed {
        let mut s = self
            .tls_served
            .get(&(f.server.addr, f.server.port))
            .copied()
            .unwrap_or_default();
        for slot in [&mut s.plain, &mut s.hidden, &mut s.fastest] {
            if slot.is_some_and(|(id, _)| id == f.id) {
                *slot = None;
            }
        }
        s
    }

    /// Whether a client tried many peers that never answered (peer-to-peer
    /// software, scanners): its unanswered SYNs say nothing about blocking.
    pub fn client_probes_many_dead_peers(&self, client: IpAddr) -> bool {
        self.attempts
            .get(&client)
            .is_some_and(|&(all, dead)| dead >= 5 && dead * 2 >= all)
    }

    /// How many flows of the capture other than `f` (same transport) the
    /// server of `f` answered on its port, as far as the capture has been read.
    pub fn server_answered_elsewhere(&self, f: &Flow) -> u32 {
        let k = (f.server.addr, f.key.proto, f.server.port);
        self.answers
            .get(&k)
            .map_or(0, |n| n.saturating_sub(u32::from(answered_flow(f))))
    }

    /// How many flows other than `f` the server's address answered over
    /// `proto` on any port.
    pub fn host_answered_elsewhere(&self, f: &Flow, proto: u8) -> u32 {
        let all = self
            .host_answers
            .get(&(f.server.addr, proto))
            .copied()
            .unwrap_or(0);
        let this = u32::from(f.key.proto == proto && answered_flow(f));
        all.saturating_sub(this)
    }

    /// The best server → client goodput (bit/s) of the transfers seen so far:
    /// from `addr`, and from any server.
    pub fn best_goodput(&self, addr: IpAddr) -> (f64, f64) {
        (
            self.goodput.get(&addr).copied().unwrap_or(0.0),
            self.best_goodput,
        )
    }

    /// Whether a server other than `addr` answered somewhere in the capture.
    pub fn other_server_answered(&self, addr: IpAddr) -> bool {
        self.answering_servers.iter().any(|a| *a != addr)
    }
}

/// Whether the server of `f` answered it: any datagram back (UDP and
/// others), payload back (TCP: a handshake alone may be a middlebox's).
fn answered_flow(f: &Flow) -> bool {
    let (up, down) = (&f.dirs[TO_SERVER], &f.dirs[TO_CLIENT]);
    match f.key.proto {
        6 => down.payload_bytes > 0 && up.pkts > 0,
        _ => down.pkts > 0 && up.pkts > 0,
    }
}

/// A per-flow detector.
pub trait Detector: Send + Sync {
    /// The finding kind it reports.
    fn kind(&self) -> &'static str;
    /// Adds its findings for one flow to `out`.
    fn inspect(&self, v: &FlowView<'_>, cx: &CaptureContext, out: &mut Vec<Finding>);
}

/// The per-flow detectors, in the order they run. Later ones may read the
/// findings of earlier ones (TLS interference builds on resets and drops).
static DETECTORS: &[&dyn Detector] = &[
    &injected_rst::InjectedRst,
    &blackhole::Blackhole,
    &tls_interference::TlsInterference,
    &tls_mitm::TlsMitm,
    &quic_interference::QuicInterference,
    &vpn_interference::VpnInterference,
    &throttling::Throttling,
    &http_blockpage::HttpBlockpage,
    &http_injected::HttpInjectedResponse,
    &dns_injection::DnsInjection,
    &dns_manipulation::DnsManipulation,
];

/// The kinds the built-in detectors report.
pub fn kinds() -> Vec<&'static str> {
    DETECTORS.iter().map(|d| d.kind()).collect()
}

/// Runs every detector on a finished flow.
pub fn inspect_flow(v: &FlowView<'_>, cx: &CaptureContext) -> Vec<Finding> {
    let mut out = Vec::new();
    for d in DETECTORS {
        d.inspect(v, cx, &mut out);
    }
    out
}
