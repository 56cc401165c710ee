//! Opening a capture: memory map, or decompress gzip into memory under a cap.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use memmap2::Mmap;

use super::format::{self, LegacyParams, Magic};
use super::walker::{WalkState, Walker};
use crate::error::{Error, Result};

/// The container format of an opened capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaptureFormat {
    /// libpcap format (any byte order, micro- or nanosecond, or "modified").
    Legacy(LegacyParams),
    /// pcapng.
    PcapNg,
}

enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

/// An opened capture file. Owns the bytes every [`super::Frame`] borrows from.
pub struct Capture {
    bytes: Bytes,
    format: CaptureFormat,
    /// Offset of the first record (after the legacy header; 0 for pcapng).
    data_start: usize,
    /// When a gzip stream was cut or corrupt: what the decompressor said. The
    /// bytes decompressed before the damage are still analysed.
    compression_error: Option<String>,
}

impl Capture {
    /// Opens a capture file: memory-mapped, or decompressed into memory when it is
    /// gzip-compressed (at most `max_decompressed` bytes).
    pub fn open(path: &Path, max_decompressed: u64) -> Result<Capture> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let bytes = if len == 0 {
            Bytes::Owned(Vec::new())
        } else {
            // SAFETY: the map is read-only and private to this process. If another
            // process truncates the file while we read it, access past the new end
            // faults (SIGBUS); that is the documented limit of reading captures by
            // mmap, shared with every mmap-based reader. Nothing else in the crate is
            // `unsafe`.
            #[allow(unsafe_code)]
            let map = unsafe { Mmap::map(&file) }.map_err(io)?;
            #[cfg(unix)]
            {
                let _ = map.advise(memmap2::Advice::Sequential);
            }
            Bytes::Mapped(map)
        };
        Capture::from_storage(bytes, max_decompressed)
    }

    /// Wraps bytes already in memory (decompressing gzip under the same cap).
    pub fn from_bytes(bytes: Vec<u8>, max_decompressed: u64) -> Result<Capture> {
        Capture::from_storage(Bytes::Owned(bytes), max_decompressed)
    }

    fn from_storage(bytes: Bytes, max_decompressed: u64) -> Result<Capture> {
        let raw: &[u8] = match &bytes {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        };
        match format::sniff(raw)? {
            Magic::Gzip => {
                let (plain, err) = gunzip(raw, max_decompressed)?;
                let mut cap = Capture::from_storage(Bytes::Owned(plain), max_decompressed)
                    .map_err(|e| match (e, &err) {
                        (Error::Format(_), Some(msg)) => {
                            Error::Decompress(std::io::Error::other(msg.clone()))
                        }
                        (e, _) => e,
                    })?;
                cap.compression_error = err;
                Ok(cap)
            }
            Magic::Legacy => {
                let params = format::legacy_header(raw)?;
                Ok(Capture {
                    bytes,
                    format: CaptureFormat::Legacy(params),
                    data_start: 24,
                    compression_error: None,
                })
            }
            Magic::PcapNg => {
                super::pcapng::check_first_section(raw)?;
                Ok(Capture {
                    bytes,
                    format: CaptureFormat::PcapNg,
                    data_start: 0,
                    compression_error: None,
                })
            }
        }
    }

    /// All bytes of the (decompressed) capture.
    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }

    /// The container format.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// What the decompressor reported if a gzip stream ended early or was corrupt.
    pub fn compression_error(&self) -> Option<&str> {
        self.compression_error.as_deref()
    }

    /// Offset of the first record.
    pub(crate) fn data_start(&self) -> usize {
        self.data_start
    }

    /// The walk state at the first record.
    pub(crate) fn initial_state(&self) -> WalkState {
        match self.format {
            CaptureFormat::Legacy(p) => WalkState::Legacy(p),
            CaptureFormat::PcapNg => WalkState::pcapng_start(),
        }
    }

    /// A walker over every frame, from the first record to the end.
    pub fn frames(&self) -> Walker<'_> {
        Walker::new(
            self.bytes(),
            self.data_start,
            usize::MAX,
            self.initial_state(),
            1,
        )
    }
}

/// Decompresses a gzip stream (all members, as `capinfos` does). A stream that is
/// cut or corrupt keeps what was decompressed before the damage.
fn gunzip(raw: &[u8], cap: u64) -> Result<(Vec<u8>, Option<String>)> {
    let mut dec = flate2::read::MultiGzDecoder::new(raw);
    let mut out = Vec::with_capacity(raw.len().saturating_mul(3).min(cap as usize));
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match dec.read(&mut buf) {
            Ok(0) => return Ok((out, None)),
            Ok(n) => {
                if out.len() as u64 + n as u64 > cap {
                    return Err(Error::DecompressedTooLarge { limit: cap });
                }
                out.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                if out.is_empty() {
                    return Err(Error::Decompress(e));
                }
                return Ok((out, Some(e.to_string())));
            }
        }
    }
}
