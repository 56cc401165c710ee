//! Network and transport layers, from etherparse's lax slices.

use std::net::IpAddr;

use etherparse::{LaxIpv4Slice, LaxIpv6Slice, TransportSlice};

use super::defrag::Reassembled;
use super::icmp;
use super::packet::{
    DecodeError, IcmpInfo, IpInfo, Packet, TcpFlags, TcpHeader, Transport, UdpHeader,
    carries_timestamps,
};
use super::tunnel::{self, Tunnel};
use crate::capture::Timestamp;

/// Decodes the IP packet at the start of `d` (IPv4 or IPv6 by its version nibble)
/// and its transport header.
#[inline]
pub(super) fn from_ip<'a>(
    d: &'a [u8],
    frame: u64,
    ts: Timestamp,
    wire_len: u32,
) -> Result<Packet<'a>, DecodeError> {
    from_ip_at(d, frame, ts, wire_len, 0)
}

/// Most tunnels read through, one inside another.
const MAX_TUNNELS: u8 = 4;

/// [`from_ip`] for a packet inside `depth` tunnels. Inlining is left to the
/// compiler: forced into both callers, `analyze -j 1` on the bench capture
/// ran 1.7% more instructions than before tunnels were read (callgrind), as
/// chosen by the compiler 0.65% more.
#[inline]
fn from_ip_at(
    d: &[u8],
    frame: u64,
    ts: Timestamp,
    wire_len: u32,
    depth: u8,
) -> Result<Packet<'_>, DecodeError> {
    let (ip, pl, frag) = match d.first().map(|b| b >> 4) {
        Some(4) => {
            let (v4, _) = LaxIpv4Slice::from_slice(d).map_err(|_| DecodeError::NotIp)?;
            let h = v4.header();
            let pl = v4.payload().clone();
            let ip = IpInfo {
                src: IpAddr::V4(h.source_addr()),
                dst: IpAddr::V4(h.destination_addr()),
                version: 4,
                ttl: h.ttl(),
                ip_id: u32::from(h.identification()),
                df: h.dont_fragment(),
                proto: pl.ip_number.0,
                ip_len: u32::from(h.total_len()),
            };
            let frag = pl.fragmented.then(|| {
                (
                    u32::from(h.fragments_offset().value()) * 8,
                    h.more_fragments(),
                )
            });
            (ip, pl, frag)
        }
        Some(6) => {
            let (v6, _) = LaxIpv6Slice::from_slice(d).map_err(|_| DecodeError::NotIp)?;
            let h = v6.header();
            let pl = v6.payload().clone();
            let (ip_id, frag) = v6_fragment(h.next_header().0, v6.extensions().slice());
            let ip = IpInfo {
                src: IpAddr::V6(h.source_addr()),
                dst: IpAddr::V6(h.destination_addr()),
                version: 6,
                ttl: h.hop_limit(),
                ip_id,
                df: false,
                proto: pl.ip_number.0,
                ip_len: u32::from(h.payload_length()) + 40,
            };
            (ip, pl, frag)
        }
        _ => return Err(DecodeError::NotIp),
    };
    if let Some((offset, more)) = frag {
        return Ok(Packet {
            frame,
            ts,
            wire_len,
            ip,
            transport: Transport::Fragment { offset, more },
            payload: pl.payload,
            truncated: pl.incomplete,
            tunnel: None,
        });
    }
    let (transport, payload) = transport_from(ip.proto, pl.payload);
    if depth < MAX_TUNNELS && may_carry_tunnel(ip.proto, &transport) {
        if let Some(p) = decapsulate(&transport, payload, frame, ts, wire_len, depth) {
            return Ok(p);
        }
    }
    Ok(Packet {
        frame,
        ts,
        wire_len,
        ip,
        transport,
        payload,
        truncated: pl.incomplete,
        tunnel: None,
    })
}

/// [`from_ip_at`] out of line, for the packet inside a tunnel: the recursion
/// through [`decapsulate`] stays a call, never inlined into the decoder of
/// every packet.
#[inline(never)]
fn from_ip_nested(
    d: &[u8],
    frame: u64,
    ts: Timestamp,
    wire_len: u32,
    depth: u8,
) -> Result<Packet<'_>, DecodeError> {
    from_ip_at(d, frame, ts, wire_len, depth)
}

/// The cheap test, on every packet, for what [`decapsulate`] reads.
#[inline(always)]
fn may_carry_tunnel(proto: u8, t: &Transport<'_>) -> bool {
    match t {
        Transport::Udp(u) => tunnel::udp_port(u.sport, u.dport),
        Transport::Other => proto == 47,
        _ => false,
    }
}

/// The packet inside a tunnel ([`super::tunnel`]), marked with the outermost
/// tunnel it came through; `None` when the payload is not a tunnel we read
/// or what it holds does not decode (then the outer packet stands).
#[cold]
#[inline(never)]
fn decapsulate<'a>(
    t: &Transport<'a>,
    payload: &'a [u8],
    frame: u64,
    ts: Timestamp,
    wire_len: u32,
    depth: u8,
) -> Option<Packet<'a>> {
    let (kind, inner): (Tunnel, &[u8]) = match t {
        Transport::Udp(u) => tunnel::in_udp(u.sport, u.dport, payload)?,
        Transport::Other => tunnel::in_gre(payload)?,
        _ => return None,
    };
    let mut p = from_ip_nested(inner, frame, ts, wire_len, depth + 1).ok()?;
    p.tunnel = Some(kind);
    Some(p)
}

/// The transport header of an IP payload, and the transport payload.
#[inline]
fn transport_from(proto: u8, data: &[u8]) -> (Transport<'_>, &[u8]) {
    match proto {
        6 => match etherparse::TcpSlice::from_slice(data) {
            Ok(t) => transport_of(&TransportSlice::Tcp(t)),
            Err(_) => (Transport::Other, data),
        },
        17 => match etherparse::UdpSlice::from_slice_lax(data) {
            Ok(u) => transport_of(&TransportSlice::Udp(u)),
            Err(_) => (Transport::Other, data),
        },
        1 => match etherparse::Icmpv4Slice::from_slice(data) {
            Ok(i) => transport_of(&TransportSlice::Icmpv4(i)),
            Err(_) => (Transport::Other, data),
        },
        58 => match etherparse::Icmpv6Slice::from_slice(data) {
            Ok(i) => transport_of(&TransportSlice::Icmpv6(i)),
            Err(_) => (Transport::Other, data),
        },
        _ => (Transport::Other, data),
    }
}

fn transport_of<'a>(t: &TransportSlice<'a>) -> (Transport<'a>, &'a [u8]) {
    match t {
        TransportSlice::Tcp(tcp) => {
            let hs = tcp.header_slice();
            let flags = u16::from_be_bytes([hs[12], hs[13]]) & 0x01ff;
            let options_raw = hs.get(20..).unwrap_or(&[]);
            let h = TcpHeader {
                sport: tcp.source_port(),
                dport: tcp.destination_port(),
                seq: tcp.sequence_number(),
                ack: tcp.acknowledgment_number(),
                flags: TcpFlags(flags),
                window: tcp.window_size(),
                options_raw,
                has_ts_option: carries_timestamps(options_raw),
            };
            (Transport::Tcp(h), tcp.payload())
        }
        TransportSlice::Udp(udp) => (
            Transport::Udp(UdpHeader {
                sport: udp.source_port(),
                dport: udp.destination_port(),
            }),
            udp.payload(),
        ),
        TransportSlice::Icmpv4(i) => (
            Transport::Icmp(IcmpInfo {
                v6: false,
                icmp_type: i.type_u8(),
                code: i.code_u8(),
                quoted: icmp::quoted(i.type_u8(), false, i.payload()),
            }),
            i.payload(),
        ),
        TransportSlice::Icmpv6(i) => (
            Transport::Icmp(IcmpInfo {
                v6: true,
                icmp_type: i.type_u8(),
                code: i.code_u8(),
                quoted: icmp::quoted(i.type_u8(), true, i.payload()),
            }),
            i.payload(),
        ),
        _ => (Transport::Other, &[]),
    }
}

/// Decodes the transport layer of a reassembled datagram; the packet borrows the
/// datagram's buffer.
pub fn decode_reassembled(r: &Reassembled) -> Packet<'_> {
    let (transport, payload) = transport_from(r.ip.proto, &r.data);
    if may_carry_tunnel(r.ip.proto, &transport) {
        // A tunnel packet the network fragmented: the packet inside, unless
        // that is itself a fragment (fragments are reassembled from frames,
        // and this one lives in the reassembly buffer).
        if let Some(p) = decapsulate(&transport, payload, r.frame, r.ts, r.wire_len, 0)
            .filter(|p| !matches!(p.transport, Transport::Fragment { .. }))
        {
            return p;
        }
    }
    Packet {
        frame: r.frame,
        ts: r.ts,
        wire_len: r.wire_len,
        ip: r.ip,
        transport,
        payload,
        truncated: false,
        tunnel: None,
    }
}

/// The identification and (offset, more) of an IPv6 fragment header, walking the
/// extension headers ourselves (etherparse 0.21's extension iterator reads out of
/// bounds on some truncated chains).
fn v6_fragment(mut next: u8, mut ext: &[u8]) -> (u32, Option<(u32, bool)>) {
    for _ in 0..16 {
        let len = match next {
            0 | 43 | 60 | 135 | 139 | 140 => (usize::from(*ext.get(1).unwrap_or(&0)) + 1) * 8,
            51 => (usize::from(*ext.get(1).unwrap_or(&0)) + 2) * 4,
            44 => {
                if ext.len() < 8 {
                    return (0, None);
                }
                let off_m = u16::from_be_bytes([ext[2], ext[3]]);
                let id = u32::from_be_bytes([ext[4], ext[5], ext[6], ext[7]]);
                let (offset, more) = (u32::from(off_m >> 3) * 8, off_m & 1 == 1);
                return (id, (offset != 0 || more).then_some((offset, more)));
            }
            _ => return (0, None),
        };
        if ext.len() < len || len == 0 {
            return (0, None);
        }
        next = ext[0];
        ext = &ext[len..];
    }
    (0, None)
}
