//! Reading capture files: memory-mapped pcap and pcapng, walked record by record.
//!
//! [`Capture`] owns the bytes (a read-only memory map, or a buffer when the file was
//! gzip-compressed) and hands out [`Walker`]s that yield [`Frame`]s borrowing from
//! it. Nothing is copied per frame: `Frame::data` is a view into the map.
//!
//! Records are parsed with `pcap-parser`'s per-record functions (the same ones its
//! slice iterators use), behind our own length guards: pcap-parser 0.17 panics on a
//! pcapng block whose total length is below 12 (see `tests/regressions.rs`), so
//! every block length is checked before a block is handed to it.
//!
//! Damage ends a walk: the walker stops at the first record it cannot trust and
//! records why in a [`WalkStop`]; everything before it has been yielded.

mod format;
mod frame;
mod linktype;
mod open;
mod pcap;
mod pcapng;
mod resync;
mod walker;

pub use format::{FormatError, LegacyParams};
pub use frame::{Frame, Rfc3339, Timestamp};
pub use linktype::LinkType;
pub use open::{Capture, CaptureFormat};
pub use walker::{SkipReason, WalkState, WalkStop, Walker};

pub(crate) use resync::resync;
pub(crate) use walker::Step;
