//! # tamperscope
//!
//! Reads packet captures and says, with packet-level evidence, whether and how
//! traffic was tampered with: injected TCP resets, block pages, DNS injection, TLS
//! interference, QUIC and VPN blocking, throttling, blackouts.
//!
//! ## Architecture: the folders mirror the data flow
//!
//! ```text
//! file ─mmap─▶ capture ─Frame<'a>─▶ decode ─Packet<'a>─▶ flow ─Flow─▶ proto + detect ─▶ report
//! ```
//!
//! - [`capture`] owns the bytes: a read-only memory map of the file (or a buffer
//!   when it was gzip-compressed, decompressed under a cap). A [`capture::Walker`]
//!   walks pcap records or pcapng blocks with `pcap-parser`'s per-record parsers,
//!   behind our own length guards, and yields [`capture::Frame`]s: `&'a [u8]`
//!   views into the map numbered as Wireshark numbers them. Damage stops the walk
//!   with a [`capture::WalkStop`]; everything before it is analysed.
//! - [`decode`] turns a frame into a [`decode::Packet`] view with etherparse's lax
//!   slicers (truncated frames decode as far as they go; checksums are not
//!   checked), from any of the link layers users capture on (Ethernet with its
//!   tags, Linux cooked, loopback, raw IP, NFLOG, PPP and Cisco HDLC, 802.11
//!   bare or behind radiotap/PPI, macOS PKTAP; see [`decode::decode`]): the fields evidence needs (TTL, IP ID, DF, TCP seq/ack/flags/window,
//!   options on demand), the quoted header of ICMP errors, and the payload as a
//!   slice. Port mirrors and operator tunnels (VXLAN, Geneve, GTP-U, ERSPAN,
//!   GRE Ethernet bridging) are read through to the packet inside, marked with
//!   its [`decode::Tunnel`] (which its flow and flow record keep) and counted
//!   in the stats; users' own tunnels (GRE
//!   with IP, PPTP, IPsec...) stay whole for the VPN detectors. Fragments are
//!   reassembled by a bounded [`decode::Defragmenter`] (a fragmented tunnel
//!   packet is opened once whole).
//! - [`flow`] groups packets into flows in [`flow::SHARDS`] fixed shards
//!   ([`flow::FlowTable`]), keyed by a symmetric 5-tuple; a reused 5-tuple starts
//!   a new flow. Each direction keeps the facts evidence is made of: TTL groups and
//!   IP-ID history of the sender's genuine packets, its SYN options, every RST and
//!   FIN with the packets just before and after it, TCP sequence tracking
//!   (retransmissions, holes, overlaps whose bytes differ, retransmissions of data
//!   the peer already acknowledged) and a bounded buffer of its first bytes (the
//!   first datagrams, for UDP). [`flow::zeek`] reproduces Zeek's `conn_state` and
//!   `history`. This is the only per-packet state; it is bounded per flow.
//!   Timeouts depend on a flow's state (open or closed TCP, answered DNS, other)
//!   and each kind has its own first-in-first-out queue of due times, so a
//!   packet only compares its time with the earliest of the queues' heads
//!   instead of the table being swept (a queue entry names its flow by the
//!   key's hash and the flow's id: 24 bytes). A packet's key is hashed once: the
//!   stable hash picks the shard and, its bits turned, the slot in the shard's
//!   table.
//!   The stream buffers hold views into the map, not copies; a judged flow's
//!   allocations are reused by the next flow of its shard. Memory is per live
//!   flow, so a flow is kept small: the table's slots are only the boxed flows
//!   (the key is read from the flow), a second TTL group and the TCP sequence
//!   and handshake state are allocated only when used ([`flow::Lazy`]: a DNS
//!   exchange, most of a busy capture's live flows, never needs them).
//! - When a flow ends (FIN/RST and linger, idle timeout, eviction, end of
//!   capture) it is judged once: [`proto`] names its application protocol from
//!   the buffered first bytes (assembled, when they span segments, in one
//!   scratch buffer per judging thread, and for a TLS stream only up to its
//!   first encrypted record; one file per protocol, cheapest checks first) and
//!   extracts the names that trigger censorship (SNI — of QUIC too, from its
//!   Initials decrypted with the keys their connection id gives anyone —
//!   HTTP Host, DNS name, and whether a ClientHello carries ECH or ESNI, which
//!   censors block by);
//!   [`detect`] runs one small detector per mechanism over the finished flow and a
//!   little capture-wide context ([`detect::CaptureContext`]), and emits findings
//!   with the frames that prove them. Capture-wide judgements (blackout
//!   windows; residual blocks and unanswered QUIC flows whose name is shown
//!   blocked elsewhere: the judged flows' records pass through
//!   [`detect::ResidualTracker`] and [`detect::QuicNameTracker`] in release
//!   order) are made once at the end. Block-page and DNS detectors match responses
//!   against [`signatures`]: our own TOML data plus, optionally, Censored
//!   Planet's and OONI's fingerprint sets, compiled into one multi-pattern
//!   matcher with false positives checked first, which tests and a fuzz target
//!   hold to a slow reference that checks each signature alone
//!   ([`signatures::ReferenceMatcher`]). The TLS interception detector reads
//!   the server's certificate chain from the plaintext handshake (TLS 1.2 and
//!   older; TLS 1.3 hides it unless the clients' key log is given,
//!   [`Config::tls_keys`] or pcapng Decryption Secrets Blocks, read as the
//!   walk reaches them, when
//!   [`proto::tls13_server_certificates`] opens the server's encrypted
//!   handshake records), parses each certificate with `x509-parser` and
//!   looks its SHA-256, SPKI SHA-256 and issuer and subject names up in the
//!   interception-authority entries of the same database (Kazakhstan's Qaznet
//!   and ISCA roots are built in). QUIC and VPN-over-UDP blocking is told from a server
//!   that is down by the capture-wide context: a handshake retransmitted
//!   without an answer counts only when the same server answered other flows;
//!   throttling likewise needs another transfer of the capture that ran far
//!   faster (the context keeps each server's best goodput); a TLS handshake
//!   killed after its ClientHello names a flow in which the same server
//!   completed one (the context keeps the first per server and port, with and
//!   without an ECH/ESNI extension in its hello), so that the hello's name or
//!   extension, not the server, is shown to be what was blocked.
//! - `pipeline` drives the walk on one thread or, for large captures, cuts the map
//!   into byte ranges (one per thread per chunk: 8 MiB, or less where the last
//!   chunk held more than 16,384 packets) re-synchronised to record boundaries,
//!   walks and decodes them in parallel into one packet list per range with an
//!   index list per shard (each packet with its key's hash, so that its shard
//!   does not hash the key again),
//!   verifies that the ranges chain exactly, and replays every shard in capture
//!   order, each shard always on the same pool thread (shard `s` on thread
//!   `s % threads`, so its flows stay in one core's cache and one allocator
//!   arena). The pool is the analysis' own, and its threads are joined when
//!   the analysis is dropped. Shards, timeouts, window
//!   boundaries and output order never depend on the thread count, so output is
//!   identical for any `-j`. Flows that ended in a window are released after
//!   the window in order of first frame, each followed by its findings, and
//!   judged a batch at a time as the records are read (on the parallel path,
//!   a window's flows are put in that order, added to the capture-wide
//!   context and judged on the pool while the next window is read, and then
//!   handed back to their shards, which reuse or free them on their own
//!   threads): nothing
//!   waits for a long-lived flow, and a burst of flows ending together (a long
//!   gap in the capture, its end) does not hold all their records at once, so
//!   memory is bounded by the flows alive at once.
//! - [`report`] owns the output: owned, serde-serialisable records, written as the
//!   JSON Lines of `DESIGN.md` (one `flow` per flow, `tamper` findings, a final
//!   `stats`), or as a human summary ([`report::summary`]: a verdict, findings
//!   by kind, the first ones explained with their frames and evidence). A flow record's fields are typed (time,
//!   addresses, an inline Zeek history, the verdict) and become text only as
//!   the line is written, so making one costs no allocation of its own.
//!   [`eval`] scores a report against a ground-truth file (the lab's
//!   `*.truth.json`).
//!
//! Per-packet work borrows from the map and allocates nothing but flow state;
//! what outlives the walk is copied into the small records of [`report`]. The
//! interference lab (`testdata/lab/`) makes the labelled captures every detector
//! is developed and tested against; `examples/evaluate.rs` prints precision and
//! recall per finding kind on them.
//!
//! ## Use
//!
//! ```no_run
//! use tamperscope::{Analyzer, Config};
//! let analyzer = Analyzer::new(Config::default());
//! let report = analyzer.analyze_path("capture.pcap".as_ref())?;
//! for flow in &report.flows {
//!     println!("{}:{} -> {}:{} {}", flow.src_ip, flow.src_port, flow.dest_ip, flow.dest_port, flow.conn_state);
//! }
//! println!("{} frames, {} skipped reasons", report.stats.frames, report.stats.skipped.len());
//! # Ok::<(), tamperscope::Error>(())
//! ```
//!
//! For captures too large to hold every record, iterate:
//! `analyzer.records(&capture)` yields records as flows end.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod analyzer;
pub mod capture;
mod config;
pub mod decode;
pub mod detect;
mod error;
pub mod eval;
pub mod flow;
mod pipeline;
pub mod proto;
pub mod report;
pub mod signatures;

pub use analyzer::{Analysis, Analyzer};
pub use config::Config;
pub use error::{Error, Result};
