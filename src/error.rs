//! The crate's error type.
//!
//! Errors that stop an analysis before it starts (the file cannot be opened, its header
//! is not a capture format we know) are [`Error`]s. Damage *inside* a capture is not an
//! error: the walk stops at the damage, what came before is analysed, and the reason is
//! counted in [`crate::report::Stats`] so nothing the user gave is silently lost.

use std::path::PathBuf;

/// Why an analysis could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened, mapped or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file the user named.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The input does not start with a pcap, pcapng or gzip header we understand.
    #[error("not a capture file: {0}")]
    Format(#[from] crate::capture::FormatError),
    /// A compressed capture decompresses to more than the configured cap.
    #[error(
        "decompressed capture exceeds the limit of {limit} bytes (Config::max_decompressed_bytes)"
    )]
    DecompressedTooLarge {
        /// The configured cap in bytes.
        limit: u64,
    },
    /// A compressed capture is corrupt before any packet could be read.
    #[error("corrupt compressed capture: {0}")]
    Decompress(std::io::Error),
}

/// Result alias used across the crate.
pub type Result<T> = std::result::Result<T, Error>;
