//! Flows: packets grouped into connections, with per-direction baselines.
//!
//! A flow is keyed by a symmetric 5-tuple ([`FlowKey`]); its client is the side
//! that sent the first SYN (or the first packet, for UDP). A 5-tuple reused after
//! FIN/RST, after a new SYN with another initial sequence number, or after an idle
//! gap starts a new flow. Per direction, a flow keeps counters, the TTL / IP ID /
//! window / option baselines that forged packets are compared against, TCP
//! sequence tracking (retransmissions, holes, overlaps and overlaps whose bytes
//! differ) and a bounded buffer of the stream's first bytes. [`zeek`] keeps
//! Zeek-compatible `conn_state` and `history`.

mod connection;
mod expiry;
mod key;
pub(crate) mod lazy;
mod map;
mod stream;
mod table;
mod track;
pub mod zeek;

pub use connection::{Direction, Flow, IcmpError, TO_CLIENT, TO_SERVER};
pub use key::{Endpoint, FlowKey};
pub use lazy::{Blank, Lazy};
pub use stream::{Insert, SegmentMark, StreamBuf};
pub use table::{FlowTable, SHARDS, shard_of, shard_of_hash, shard_of_packet};
pub use track::{
    Baseline, CloseInfo, IpIdTrack, PktBrief, SegKind, SeqTrack, SynInfo, TcpBaseline, TtlCounts,
    TtlTrack,
};
