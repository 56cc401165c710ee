//! The packet view types.

use std::net::IpAddr;

use crate::capture::Timestamp;

use super::icmp::Quoted;
use super::tunnel::Tunnel;

/// Why a frame yields no packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The link type is not one we decode.
    UnsupportedLinkType,
    /// No IPv4/IPv6 header could be read (ARP, LLDP, a runt frame...).
    NotIp,
    /// The link layer encrypts what it carries (an 802.11 data frame with the
    /// Protected bit: WPA). Decrypting needs the network's keys: Wireshark
    /// can, and can export the decrypted frames for analysis.
    Encrypted,
}

/// Network-layer fields of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpInfo {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// 4 or 6.
    pub version: u8,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification; for IPv6 the fragment header's identification, else 0.
    pub ip_id: u32,
    /// IPv4 Don't Fragment.
    pub df: bool,
    /// The transport protocol number (after IPv6 extension headers).
    pub proto: u8,
    /// Length of the IP datagram as its header says (IPv4 total length; IPv6
    /// payload length + 40): what Zeek counts as IP bytes.
    pub ip_len: u32,
}

/// TCP flags, as the low 9 bits of the header's flags field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    /// FIN.
    pub const FIN: u16 = 0x01;
    /// SYN.
    pub const SYN: u16 = 0x02;
    /// RST.
    pub const RST: u16 = 0x04;
    /// PSH.
    pub const PSH: u16 = 0x08;
    /// ACK.
    pub const ACK: u16 = 0x10;
    /// URG.
    pub const URG: u16 = 0x20;

    /// Whether all bits of `mask` are set.
    #[inline]
    pub fn has(self, mask: u16) -> bool {
        self.0 & mask == mask
    }
    /// SYN set.
    #[inline]
    pub fn syn(self) -> bool {
        self.has(Self::SYN)
    }
    /// ACK set.
    #[inline]
    pub fn ack(self) -> bool {
        self.has(Self::ACK)
    }
    /// FIN set.
    #[inline]
    pub fn fin(self) -> bool {
        self.has(Self::FIN)
    }
    /// RST set.
    #[inline]
    pub fn rst(self) -> bool {
        self.has(Self::RST)
    }

    /// Wireshark-style text, e.g. `SYN,ACK` or `RST,ACK`.
    pub fn describe(self) -> String {
        const NAMES: [(u16, &str); 6] = [
            (TcpFlags::FIN, "FIN"),
            (TcpFlags::SYN, "SYN"),
            (TcpFlags::RST, "RST"),
            (TcpFlags::PSH, "PSH"),
            (TcpFlags::ACK, "ACK"),
            (TcpFlags::URG, "URG"),
        ];
        let v: Vec<&str> = NAMES
            .iter()
            .filter(|(b, _)| self.has(*b))
            .map(|(_, n)| *n)
            .collect();
        v.join(",")
    }
}

/// TCP options we read (others are skipped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift.
    pub wscale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
    /// Number of SACK blocks.
    pub sack_blocks: u8,
    /// Timestamps (TSval, TSecr).
    pub timestamps: Option<(u32, u32)>,
}

/// TCP header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpHeader<'a> {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Advertised window (unscaled).
    pub window: u16,
    /// Raw option bytes; parse with [`TcpHeader::options`] when needed.
    pub options_raw: &'a [u8],
    /// Whether the options carry a timestamp (worked out while the header is in
    /// cache: the parallel path reads packets again long after decoding them).
    pub has_ts_option: bool,
}

impl TcpHeader<'_> {
    /// Parses the options (kind/length walk, bounded by the option bytes).
    pub fn options(&self) -> TcpOptions {
        let mut o = TcpOptions::default();
        let b = self.options_raw;
        // The layout of nearly every established-flow segment: NOP, NOP,
        // timestamps (Linux, BSD, macOS).
        if b.len() == 12 && b[0] == 1 && b[1] == 1 && b[2] == 8 && b[3] == 10 {
            o.timestamps = Some((
                u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            ));
            return o;
        }
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                0 => break,
                1 => i += 1,
                kind => {
                    let Some(&len) = b.get(i + 1) else { break };
                    let len = len as usize;
                    if len < 2 || i + len > b.len() {
                        break;
                    }
                    let v = &b[i + 2..i + len];
                    match (kind, v.len()) {
                        (2, 2) => o.mss = Some(u16::from_be_bytes([v[0], v[1]])),
                        (3, 1) => o.wscale = Some(v[0]),
                        (4, 0) => o.sack_permitted = true,
                        (5, n) => o.sack_blocks = (n / 8) as u8,
                        (8, 8) => {
                            o.timestamps = Some((
                                u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
                                u32::from_be_bytes([v[4], v[5], v[6], v[7]]),
                            ))
                        }
                        _ => {}
                    }
                    i += len;
                }
            }
        }
        o
    }

    /// Whether the TCP timestamp option is present (cheaper than [`Self::options`]).
    pub fn has_timestamps(&self) -> bool {
        self.has_ts_option
    }
}

/// Whether option bytes carry a well-formed timestamp option: what
/// `TcpHeader::options().timestamps.is_some()` says, without filling in the
/// other options (this runs on every TCP packet).
pub(super) fn carries_timestamps(b: &[u8]) -> bool {
    if b.len() == 12 && b[..4] == [1, 1, 8, 10] {
        return true;
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            0 => return false,
            1 => i += 1,
            kind => {
                let Some(&len) = b.get(i + 1) else {
                    return false;
                };
                let len = usize::from(len);
                if len < 2 || i + len > b.len() {
                    return false;
                }
                if kind == 8 && len == 10 {
                    return true;
                }
                i += len;
            }
        }
    }
    false
}

/// UDP header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpHeader {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
}

/// ICMP / ICMPv6 fields, with the quoted packet of error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpInfo {
    /// ICMPv6 rather than ICMPv4.
    pub v6: bool,
    /// Type.
    pub icmp_type: u8,
    /// Code.
    pub code: u8,
    /// For unreachables, time-exceeded and similar errors: the header of the packet
    /// that caused it.
    pub quoted: Option<Quoted>,
}

impl IcmpInfo {
    /// Whether this is an error message that quotes the offending packet.
    pub fn is_error(&self) -> bool {
        if self.v6 {
            self.icmp_type < 128
        } else {
            matches!(self.icmp_type, 3 | 4 | 5 | 11 | 12)
        }
    }
}

/// The transport layer of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport<'a> {
    /// TCP.
    Tcp(TcpHeader<'a>),
    /// UDP.
    Udp(UdpHeader),
    /// ICMP or ICMPv6.
    Icmp(IcmpInfo),
    /// An IP fragment awaiting reassembly (payload is the fragment's bytes).
    Fragment {
        /// Offset of this fragment in the datagram, in bytes.
        offset: u32,
        /// More fragments follow.
        more: bool,
    },
    /// Another protocol (GRE, ESP, SCTP...) or a transport header cut short.
    Other,
}

/// A decoded packet: views into one frame (or into a reassembled datagram).
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// The frame number (for reassembled datagrams: the last fragment's).
    pub frame: u64,
    /// Capture time.
    pub ts: Timestamp,
    /// Frame length on the wire.
    pub wire_len: u32,
    /// Network layer.
    pub ip: IpInfo,
    /// Transport layer.
    pub transport: Transport<'a>,
    /// Transport payload, as far as it was captured.
    pub payload: &'a [u8],
    /// The payload is shorter than the headers say (snap length).
    pub truncated: bool,
    /// The outermost tunnel the packet was read through, when the frame
    /// carried it encapsulated (see [`Tunnel`]); its frame number, time
    /// and wire length are the frame's.
    pub tunnel: Option<Tunnel>,
}

impl Packet<'_> {
    /// Source and destination ports for TCP/UDP, `(0, 0)` otherwise.
    pub fn ports(&self) -> (u16, u16) {
        match self.transport {
            Transport::Tcp(t) => (t.sport, t.dport),
            Transport::Udp(u) => (u.sport, u.dport),
            _ => (0, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(options_raw: &[u8]) -> TcpHeader<'_> {
        TcpHeader {
            sport: 1,
            dport: 2,
            seq: 0,
            ack: 0,
            flags: TcpFlags(0x10),
            window: 0,
            options_raw,
            has_ts_option: false,
        }
    }

    /// The quick check agrees with the full option parse on every short option
    /// string over the bytes that matter (EOL, NOP, kinds 2 and 8, lengths 0-3
    /// and 10) and on pseudo-random longer ones.
    #[test]
    fn carries_timestamps_agrees_with_the_full_parse() {
        let alphabet = [0u8, 1, 2, 3, 8, 10];
        let mut checked = 0;
        for len in 0..=6u32 {
            for mut n in 0..alphabet.len().pow(len) {
                let mut b = Vec::new();
                for _ in 0..len {
                    b.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                let full = header(&b).options().timestamps.is_some();
                assert_eq!(carries_timestamps(&b), full, "{b:?}");
                checked += 1;
            }
        }
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            let mut b = Vec::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for i in 0..(x % 41) as usize {
                // Mostly option kinds and lengths that occur, some noise.
                let r = (x >> (i % 56)) as u8;
                b.push([1, 8, 10, 2, 4, 3, 5, 0, r][usize::from(r) % 9]);
            }
            let full = header(&b).options().timestamps.is_some();
            assert_eq!(carries_timestamps(&b), full, "{b:?}");
            checked += 1;
        }
        assert!(checked > 50_000);
        assert!(carries_timestamps(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]));
        assert!(carries_timestamps(&[
            2, 4, 5, 180, 4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8
        ]));
        assert!(!carries_timestamps(&[8, 9, 0, 0, 0, 0, 0, 0, 0]));
    }
}
