//! TLS key log files (the NSS `SSLKEYLOGFILE` format browsers, curl and
//! OpenSSL write): with the client's key log, the part of a TLS 1.3
//! handshake the server encrypts (its certificate chain) can be read, and an
//! interception certificate shown ([`super::tls13`]).
//!
//! Each line is `LABEL CLIENT_RANDOM SECRET` in hex; `#` starts a comment.
//! Only the servers' handshake traffic secrets are kept: they open the
//! server's handshake records and nothing after them.

use std::collections::HashMap;
use std::path::Path;

/// The server handshake traffic secrets of a key log, by client random.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsKeyLog {
    server_handshake: HashMap<[u8; 32], Vec<u8>>,
    /// Lines that were neither a key nor a comment (not hex, wrong lengths).
    pub rejected: usize,
}

/// The labels of TLS 1.3 (and 1.2's `CLIENT_RANDOM`) key log lines.
const LABELS: &[&str] = &[
    "CLIENT_RANDOM",
    "CLIENT_EARLY_TRAFFIC_SECRET",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
    "EARLY_EXPORTER_SECRET",
    "EXPORTER_SECRET",
];

fn hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl TlsKeyLog {
    /// Reads a key log's text; lines it cannot read are counted in
    /// [`TlsKeyLog::rejected`].
    pub fn parse(text: &str) -> TlsKeyLog {
        let mut log = TlsKeyLog::default();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut f = line.split_ascii_whitespace();
            let (Some(label), Some(random), Some(secret), None) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                log.rejected += 1;
                continue;
            };
            let random: Option<[u8; 32]> = hex(random).and_then(|r| r.try_into().ok());
            let secret = hex(secret).filter(|s| matches!(s.len(), 32 | 48));
            match (LABELS.contains(&label), random, secret) {
                (true, Some(r), Some(s)) => {
                    if label == "SERVER_HANDSHAKE_TRAFFIC_SECRET" {
                        log.server_handshake.insert(r, s);
                    }
                }
                _ => log.rejected += 1,
            }
        }
        log
    }

    /// Adds `other`'s keys (and its rejected-line count) to this log.
    pub fn merge(&mut self, other: TlsKeyLog) {
        self.server_handshake.extend(other.server_handshake);
        self.rejected += other.rejected;
    }

    /// Reads a key log file.
    pub fn from_file(path: &Path) -> std::io::Result<TlsKeyLog> {
        Ok(TlsKeyLog::parse(&std::fs::read_to_string(path)?))
    }

    /// How many connections' server handshake secrets it holds.
    pub fn len(&self) -> usize {
        self.server_handshake.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.server_handshake.is_empty()
    }

    /// The server handshake traffic secret of the connection whose
    /// ClientHello carried `client_random`.
    pub(crate) fn server_handshake_secret(&self, client_random: &[u8]) -> Option<&[u8]> {
        let r: [u8; 32] = client_random.try_into().ok()?;
        self.server_handshake.get(&r).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_server_handshake_secrets_and_counts_bad_lines() {
        let r = "11".repeat(32);
        let text = format!(
            "# comment\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {r} {}\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {r} {}\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {} {}\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {r} zz\n\
             NOT_A_LABEL {r} {}\n\
             garbage\n",
            "22".repeat(32),
            "33".repeat(32),
            "44".repeat(31),
            "55".repeat(48),
            "66".repeat(32),
        );
        let log = TlsKeyLog::parse(&text);
        assert_eq!(log.len(), 1);
        assert_eq!(log.rejected, 4);
        assert_eq!(
            log.server_handshake_secret(&[0x11; 32]),
            Some(&[0x22; 32][..])
        );
        assert_eq!(log.server_handshake_secret(&[0x12; 32]), None);
        assert_eq!(log.server_handshake_secret(&[0x11; 31]), None);
    }
}
