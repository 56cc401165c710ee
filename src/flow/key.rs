//! Flow keys: a symmetric 5-tuple, and the shard a flow belongs to.

use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;

use crate::decode::{Packet, Transport};

/// One side of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// IP address.
    pub addr: IpAddr,
    /// Port (0 for protocols without ports).
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

/// A direction-free flow key: the two endpoints in canonical order and the IP
/// protocol. Both directions of a flow map to the same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// The lower endpoint.
    pub lo: Endpoint,
    /// The higher endpoint.
    pub hi: Endpoint,
    /// IP protocol number.
    pub proto: u8,
}

impl FlowKey {
    /// Key of a source → destination pair.
    #[inline]
    pub fn new(src: Endpoint, dst: Endpoint, proto: u8) -> FlowKey {
        if src <= dst {
            FlowKey {
                lo: src,
                hi: dst,
                proto,
            }
        } else {
            FlowKey {
                lo: dst,
                hi: src,
                proto,
            }
        }
    }

    /// The flow a packet belongs to, with its source and destination endpoints.
    ///
    /// ICMP errors belong to the flow of the packet they quote (so a port
    /// unreachable or a time-exceeded lands beside the probe that caused it); other
    /// ICMP messages form a flow per host pair.
    #[inline]
    pub fn of(p: &Packet<'_>) -> (FlowKey, Endpoint, Endpoint) {
        if let Transport::Icmp(icmp) = p.transport {
            if let Some(q) = icmp.quoted {
                if matches!(q.proto, 6 | 17) {
                    // Seen from the quoted packet's direction.
                    let src = Endpoint {
                        addr: q.src,
                        port: q.sport,
                    };
                    let dst = Endpoint {
                        addr: q.dst,
                        port: q.dport,
                    };
                    return (FlowKey::new(src, dst, q.proto), dst, src);
                }
            }
        }
        let (sp, dp) = p.ports();
        let src = Endpoint {
            addr: p.ip.src,
            port: sp,
        };
        let dst = Endpoint {
            addr: p.ip.dst,
            port: dp,
        };
        (FlowKey::new(src, dst, p.ip.proto), src, dst)
    }

    /// [`FlowKey::of`] and the key's [`stable_hash`](FlowKey::stable_hash):
    /// the hash picks the packet's shard and, in it, the table slot, so it is
    /// computed once.
    #[inline]
    pub fn of_hashed(p: &Packet<'_>) -> ((FlowKey, Endpoint, Endpoint), u64) {
        let keyed = FlowKey::of(p);
        let stable = keyed.0.stable_hash();
        (keyed, stable)
    }

    /// Hash with a fixed seed: the same key lands in the same shard on every run
    /// and with any thread count.
    #[inline]
    pub fn stable_hash(&self) -> u64 {
        let mut h = foldhash::fast::FixedState::with_seed(0x7a3b_5c1d).build_hasher();
        self.hash(&mut h);
        std::hash::Hasher::finish(&h)
    }
}
