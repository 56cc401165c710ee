//! Decoding frames into packet views: link layer, IPv4/IPv6, TCP/UDP/ICMP.
//!
//! Link layers: `link` (Ethernet and the header types of capturing hosts),
//! `ppp` (point-to-point links), `wifi` (802.11 data frames); each ends at the
//! first byte of the IP header.
//!
//! A [`Packet`] borrows everything from its frame: addresses and the header
//! fields that evidence needs (TTL, IP ID, DF, TCP seq/ack/flags/window/options)
//! are read once into plain values, and the L4 payload stays a slice of the map.
//! etherparse's lax slicers do the parsing, so a frame cut by the snap length is
//! decoded as far as it goes and a bad checksum never drops a packet.
//!
//! Port mirrors and operator tunnels (VXLAN, Geneve, GTP-U, ERSPAN, GRE
//! Ethernet bridging) are read through in `tunnel`: the packet inside is the
//! packet, marked with [`Tunnel`]; users' own tunnels are left whole for the
//! VPN detectors.
//!
//! IP fragments are returned as [`Transport::Fragment`]; [`Defragmenter`]
//! reassembles them (bounded memory) into an owned datagram that
//! [`decode_reassembled`] turns back into a `Packet` borrowing from it.

mod defrag;
mod icmp;
mod ip;
mod link;
mod packet;
mod ppp;
mod tunnel;
mod wifi;

pub use defrag::{Defragmenter, Reassembled};
pub use icmp::Quoted;
pub use ip::decode_reassembled;
pub use link::decode;
pub use packet::{
    DecodeError, IcmpInfo, IpInfo, Packet, TcpFlags, TcpHeader, TcpOptions, Transport, UdpHeader,
};
pub use tunnel::Tunnel;
