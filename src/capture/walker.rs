//! The record walker: yields frames from a byte range of a capture.
//!
//! The same walker serves the sequential path (one walker over the whole file) and
//! the parallel path (one walker per byte range, started at a re-synchronised record
//! boundary with a copy of the walk state), so both see exactly the same frames.

use serde::Serialize;

use super::format::LegacyParams;
use super::frame::Frame;
use super::{pcap, pcapng};

/// What a walk needs to know to interpret the next record.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WalkState {
    /// Legacy pcap: fixed for the whole file.
    Legacy(LegacyParams),
    /// pcapng: the current section's byte order and interfaces.
    PcapNg(pcapng::NgState),
}

impl WalkState {
    pub(crate) fn pcapng_start() -> WalkState {
        WalkState::PcapNg(pcapng::NgState::default())
    }
}

/// Why some input was not analysed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// The file ends in the middle of a record.
    Truncated,
    /// A record's header is impossible (absurd length, unknown interface...).
    Corrupt,
    /// A frame of a link type the decoder does not handle.
    UnsupportedLinkType,
    /// A frame whose network layer is not IPv4/IPv6 (ARP, LLDP, ...), or too short
    /// to hold one.
    NotIp,
    /// A gzip stream that was cut or corrupt: the rest of it could not be read.
    CorruptCompression,
    /// A frame whose link layer encrypts its packet (802.11 with WPA).
    Encrypted,
}

impl SkipReason {
    /// The stable name used in the `skipped` map of the stats record.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Truncated => "truncated",
            SkipReason::Corrupt => "corrupt",
            SkipReason::UnsupportedLinkType => "unsupported_link_type",
            SkipReason::NotIp => "not_ip",
            SkipReason::CorruptCompression => "corrupt_compression",
            SkipReason::Encrypted => "encrypted",
        }
    }
}

/// Where and why a walk stopped before the end of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkStop {
    /// File offset of the record that could not be read.
    pub offset: u64,
    /// Truncated or corrupt.
    pub reason: SkipReason,
    /// Human-readable detail.
    pub detail: String,
    /// Bytes from `offset` to the end of the input, which were not analysed.
    pub bytes_skipped: u64,
}

impl std::fmt::Display for WalkStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} record at byte offset {}: {} ({} bytes not read)",
            self.reason.as_str(),
            self.offset,
            self.detail,
            self.bytes_skipped
        )
    }
}

/// One step of the walk.
pub(crate) enum Step<'a> {
    /// A packet record.
    Frame(Frame<'a>),
    /// A record that carries no packet (pcapng SHB, IDB, statistics...).
    Other,
    /// A pcapng Decryption Secrets Block holding a TLS key log (its text).
    Secrets(&'a [u8]),
    /// The walk cannot go on.
    Stop(SkipReason, String),
}

/// Iterator over the frames of a byte range of a capture.
pub struct Walker<'a> {
    bytes: &'a [u8],
    pos: usize,
    end: usize,
    state: WalkState,
    next_index: u64,
    stop: Option<WalkStop>,
    /// The TLS key logs of the Decryption Secrets Blocks walked over, with
    /// their byte offsets, until taken.
    secrets: Vec<(usize, &'a [u8])>,
}

impl<'a> Walker<'a> {
    /// A walker over records starting at `pos`, up to the first record that starts
    /// at or after `end`; frames are numbered from `first_index`.
    pub(crate) fn new(
        bytes: &'a [u8],
        pos: usize,
        end: usize,
        state: WalkState,
        first_index: u64,
    ) -> Walker<'a> {
        Walker {
            bytes,
            pos,
            end,
            state,
            next_index: first_index,
            stop: None,
            secrets: Vec::new(),
        }
    }

    /// The TLS key logs of the pcapng Decryption Secrets Blocks walked over
    /// since last taken, each with the byte offset of its block.
    pub(crate) fn take_secrets(&mut self) -> Vec<(usize, &'a [u8])> {
        std::mem::take(&mut self.secrets)
    }

    /// Offset of the next record to read.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Why the walk stopped early, if it did.
    pub fn stop(&self) -> Option<&WalkStop> {
        self.stop.as_ref()
    }

    /// The state (byte order, interfaces) at the current position.
    pub fn state(&self) -> &WalkState {
        &self.state
    }

    /// The index the next frame will get.
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// Whether the walk reached the end of its range or of the input.
    pub fn finished(&self) -> bool {
        self.stop.is_some() || self.pos >= self.end || self.pos >= self.bytes.len()
    }

    /// Reads one record; `None` at the end of the range.
    pub(crate) fn step(&mut self) -> Option<Step<'a>> {
        if self.finished() {
            return None;
        }
        let rest = &self.bytes[self.pos..];
        let (step, used) = match &mut self.state {
            WalkState::Legacy(p) => pcap::read_record(rest, p),
            WalkState::PcapNg(ng) => pcapng::read_block(rest, ng),
        };
        match step {
            Step::Stop(reason, detail) => {
                self.stop = Some(WalkStop {
                    offset: self.pos as u64,
                    reason,
                    detail: detail.clone(),
                    bytes_skipped: rest.len() as u64,
                });
                Some(Step::Stop(reason, detail))
            }
            Step::Frame(mut f) => {
                self.pos += used;
                f.index = self.next_index;
                self.next_index += 1;
                Some(Step::Frame(f))
            }
            Step::Other => {
                self.pos += used;
                Some(Step::Other)
            }
            Step::Secrets(text) => {
                self.secrets.push((self.pos, text));
                self.pos += used;
                Some(Step::Secrets(text))
            }
        }
    }
}

impl<'a> Iterator for Walker<'a> {
    type Item = Frame<'a>;

    #[inline]
    fn next(&mut self) -> Option<Frame<'a>> {
        loop {
            match self.step()? {
                Step::Frame(f) => return Some(f),
                Step::Other | Step::Secrets(_) => continue,
                Step::Stop(..) => return None,
            }
        }
    }
}
