//! TLS ClientHello: recognising one and reading its server name.
//!
//! Reads the handshake message from the reassembled stream, across TLS records
//! (a post-quantum ClientHello often spans two records and several segments).

use std::borrow::Cow;

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16};

use super::{Confidence, View};

/// TLS on a TCP flow: a ClientHello from the client (certain when whole, likely
/// when cut by the capture), or, when the capture missed the client's first
/// bytes, a ServerHello from the server.
pub(super) fn probe(v: &View<'_>) -> Option<Confidence> {
    if let Some(whole) = probe_client_hello(v.up) {
        return Some(if whole {
            Confidence::Certain
        } else {
            Confidence::Likely
        });
    }
    // The server answered a hello we did not see (capture started late, or the
    // client's segments were lost): a ServerHello is as telling.
    if v.up.is_empty() || record_chain(v.up) {
        let d = v.down;
        if starts_with_server_hello(d) && d[2] <= 0x04 {
            return Some(Confidence::Likely);
        }
    }
    // Mid-stream (the capture started after the handshake): the held bytes of
    // a side are whole TLS records, and the other side's too, or empty.
    let (up, down) = (record_chain(v.up), record_chain(v.down));
    if (up && (down || v.down.is_empty())) || (down && v.up.is_empty()) {
        return Some(Confidence::Likely);
    }
    None
}

/// Whether `b` is a sequence of TLS records (the last may be cut), at least one.
fn record_chain(b: &[u8]) -> bool {
    let mut i = 0;
    let mut n = 0;
    while i + 5 <= b.len() {
        let (t, maj, min) = (b[i], b[i + 1], b[i + 2]);
        if !(0x14..=0x18).contains(&t) || maj != 3 || min > 4 {
            return false;
        }
        let len = usize::from(u16::from_be_bytes([b[i + 3], b[i + 4]]));
        if len == 0 || len > 18432 {
            return false;
        }
        i += 5 + len;
        n += 1;
    }
    // The records cover the bytes exactly, or the last one was cut by the buffer.
    n > 0 && i >= b.len()
}

/// Most records [`plaintext_extent`] reads before keeping the whole stream.
const EXTENT_RECORDS: usize = 256;

/// Where the bytes a TLS parser can use end, in a stream that starts with TLS
/// records: after the plaintext ones (handshake, alert, ChangeCipherSpec) and
/// the 5-byte header of the first record that is encrypted (application data,
/// or any record after a ChangeCipherSpec). The stream cut there still reads
/// as whole records (the last one cut, as [`record_chain`] allows) with every
/// hello and a TLS 1.2 certificate chain in it, while the encrypted bytes that
/// follow (most of a TLS 1.3 server's first 16 KiB) are neither copied nor
/// scanned when the flow is judged.
///
/// `peek(at)` gives the 5 stream bytes at `at`. `None` (keep everything) when
/// the stream is not TLS records up to an encrypted one: a stream that only
/// looks like TLS at first is judged whole, as before.
pub(crate) fn plaintext_extent(peek: impl Fn(usize) -> Option<[u8; 5]>) -> Option<usize> {
    let mut at = 0usize;
    let mut after_ccs = false;
    for _ in 0..EXTENT_RECORDS {
        let [t, maj, min, hi, lo] = peek(at)?;
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if !(0x14..=0x18).contains(&t) || maj != 3 || min > 4 || len == 0 || len > 18432 {
            return None;
        }
        if t == 0x17 || after_ccs {
            return Some(at + 5);
        }
        after_ccs = t == 0x14;
        at += 5 + len;
    }
    None
}

/// `Some(true)` if `b` starts with a whole ClientHello, `Some(false)` if it starts
/// like one (a handshake record) but is cut, `None` if it is not TLS.
pub(super) fn probe_client_hello(b: &[u8]) -> Option<bool> {
    if b.len() < 6 || b[0] != 0x16 || b[1] != 0x03 || b[2] > 0x04 {
        return None;
    }
    if b[5] != 0x01 {
        // A handshake record that is not a ClientHello (e.g. a server speaking first).
        return None;
    }
    Some(handshake_message(b).is_some())
}

/// One TLS record header: content type, version, length.
fn record_header(i: &[u8]) -> IResult<&[u8], (u8, u16, u16)> {
    (be_u8, be_u16, be_u16).parse(i)
}

/// The body of the first handshake message (after its 4-byte header). Borrowed
/// from `b` when the message sits in one record (the common case); handshake
/// bytes of consecutive records are joined only when it spans several (a
/// post-quantum ClientHello often does).
pub(super) fn handshake_message(b: &[u8]) -> Option<Cow<'_, [u8]>> {
    let (rest, (ty, _, len)) = record_header(b).ok()?;
    if ty != 0x16 {
        return None;
    }
    let len = usize::from(len);
    let frag = rest.get(..len.min(rest.len()))?;
    if frag.len() >= 4 {
        let need =
            4 + ((usize::from(frag[1]) << 16) | (usize::from(frag[2]) << 8) | usize::from(frag[3]));
        if frag.len() >= need {
            return frag.get(4..need).map(Cow::Borrowed);
        }
    }
    if frag.len() < len {
        return None;
    }
    let mut hs = Vec::new();
    let mut i = 0;
    while i + 5 <= b.len() && b[i] == 0x16 {
        let len = usize::from(u16::from_be_bytes([b[i + 3], b[i + 4]]));
        let end = (i + 5 + len).min(b.len());
        hs.extend_from_slice(&b[i + 5..end]);
        if hs.len() >= 4 {
            let need =
                4 + ((usize::from(hs[1]) << 16) | (usize::from(hs[2]) << 8) | usize::from(hs[3]));
            if hs.len() >= need {
                hs.truncate(need);
                return Some(Cow::Owned(hs.split_off(4)));
            }
        }
        if end < i + 5 + len {
            return None;
        }
        i = end;
    }
    None
}

/// Skips a u8-length-prefixed vector.
fn skip8(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let (i, n) = be_u8(i)?;
    take(n).parse(i)
}

/// Skips a u16-length-prefixed vector.
fn skip16(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let (i, n) = be_u16(i)?;
    take(n).parse(i)
}

/// The extensions block of a ClientHello body.
pub(super) fn hello_extensions(body: &[u8]) -> Option<&[u8]> {
    let (i, _) = take::<_, _, nom::error::Error<&[u8]>>(34usize)
        .parse(body)
        .ok()?;
    let (i, _) = skip8(i).ok()?;
    let (i, _) = skip16(i).ok()?;
    let (i, _) = skip8(i).ok()?;
    let (i, n) = be_u16::<_, nom::error::Error<&[u8]>>(i).ok()?;
    Some(&i[..usize::from(n).min(i.len())])
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.b.len() < n {
            return None;
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Some(h)
    }
    fn u8(&mut self) -> Option<usize> {
        self.take(1).map(|x| usize::from(x[0]))
    }
    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|x| usize::from(u16::from_be_bytes([x[0], x[1]])))
    }
}

/// The server name of the ClientHello at the start of `b`.
pub fn client_hello_sni(b: &[u8]) -> Option<String> {
    client_hello_body_sni(&handshake_message(b)?)
}

/// The type and data of each extension of a ClientHello body, in order, up
/// to one that is cut short.
fn hello_extension_list(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut ext = Reader {
        b: hello_extensions(body).unwrap_or_default(),
    };
    std::iter::from_fn(move || {
        let (ty, len) = (ext.u16()?, ext.u16()?);
        Some((ty, ext.take(len)?))
    })
}

/// The server name of a ClientHello's body (after its 4-byte handshake
/// header), wherever it was carried (a TLS record, QUIC CRYPTO frames).
pub(super) fn client_hello_body_sni(body: &[u8]) -> Option<String> {
    let (_, data) = hello_extension_list(body).find(|&(ty, _)| ty == 0)?;
    let mut d = Reader { b: data };
    let list = d.u16()?;
    let mut l = Reader { b: d.take(list)? };
    while let Some(kind) = l.u8() {
        let n = l.u16()?;
        let name = l.take(n)?;
        if kind == 0 {
            return std::str::from_utf8(name).ok().map(str::to_string);
        }
    }
    None
}

/// Whether `b` (a server's stream) starts with a handshake record holding a
/// ServerHello: the server answered the ClientHello.
pub fn starts_with_server_hello(b: &[u8]) -> bool {
    b.len() >= 6 && b[0] == 0x16 && b[1] == 0x03 && b[5] == 0x02
}

/// An extension of a ClientHello that encrypts or hides the name it is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HiddenName {
    /// Encrypted Client Hello (`encrypted_client_hello`, 0xfe0d; the drafts'
    /// 0xfe08-0xfe0c too). Browsers send a GREASE one when they have no ECH
    /// key for the server, with the real name in the outer SNI; a real one
    /// carries the provider's public name there (`cloudflare-ech.com`).
    Ech,
    /// Encrypted SNI, ECH's predecessor (`encrypted_server_name`, 0xffce),
    /// which the GFW blocked outright in 2020.
    Esni,
}

impl HiddenName {
    /// The name in the evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            HiddenName::Ech => "ech",
            HiddenName::Esni => "esni",
        }
    }
}

/// Whether the ClientHello at the start of `b` carries an ECH or ESNI
/// extension: censors that key on them (Russia's on ECH to Cloudflare's
/// public name, as reported from November 2024; China's on ESNI, from
/// 2020) block by it.
pub fn client_hello_hidden_name(b: &[u8]) -> Option<HiddenName> {
    client_hello_body_hidden_name(&handshake_message(b)?)
}

/// [`client_hello_hidden_name`] of a ClientHello's body (after its 4-byte
/// handshake header), wherever it was carried (a TLS record, QUIC CRYPTO
/// frames).
pub(super) fn client_hello_body_hidden_name(body: &[u8]) -> Option<HiddenName> {
    hello_extension_list(body).find_map(|(ty, _)| match ty {
        0xfe08..=0xfe0d => Some(HiddenName::Ech),
        0xffce => Some(HiddenName::Esni),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(sni: &str) -> Vec<u8> {
        let name = sni.as_bytes();
        let mut sn = vec![0u8];
        sn.extend_from_slice(&(name.len() as u16).to_be_bytes());
        sn.extend_from_slice(name);
        let mut ext = vec![0, 0];
        ext.extend_from_slice(&((sn.len() + 2) as u16).to_be_bytes());
        ext.extend_from_slice(&(sn.len() as u16).to_be_bytes());
        ext.extend_from_slice(&sn);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        hs
    }

    #[test]
    fn sni_in_one_record_and_across_two() {
        let hs = hello("blocked.example");
        let mut one = vec![0x16, 3, 1];
        one.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        one.extend_from_slice(&hs);
        assert_eq!(client_hello_sni(&one).as_deref(), Some("blocked.example"));
        assert_eq!(probe_client_hello(&one), Some(true));
        let (a, b) = hs.split_at(20);
        let mut two = vec![0x16, 3, 1, 0, a.len() as u8];
        two.extend_from_slice(a);
        two.extend_from_slice(&[0x16, 3, 1]);
        two.extend_from_slice(&(b.len() as u16).to_be_bytes());
        two.extend_from_slice(b);
        assert_eq!(client_hello_sni(&two).as_deref(), Some("blocked.example"));
        assert_eq!(probe_client_hello(&one[..30]), Some(false));
        assert_eq!(client_hello_sni(&one[..30]), None);
    }

    fn record(t: u8, len: usize) -> Vec<u8> {
        let mut r = vec![t, 3, 3];
        r.extend_from_slice(&(len as u16).to_be_bytes());
        r.extend(std::iter::repeat_n(0xab, len));
        r
    }

    fn extent(b: &[u8]) -> Option<usize> {
        plaintext_extent(|at| b.get(at..at + 5)?.try_into().ok())
    }

    #[test]
    fn plaintext_extent_ends_at_the_first_encrypted_record() {
        // TLS 1.3 server: ServerHello, ChangeCipherSpec, then encrypted records.
        let mut s = record(0x16, 122);
        s.extend(record(0x14, 1));
        let cut = s.len() + 5;
        s.extend(record(0x17, 4000));
        s.extend(record(0x17, 300));
        assert_eq!(extent(&s), Some(cut));
        assert!(
            record_chain(&s[..cut]),
            "the cut stream still reads as records"
        );
        // TLS 1.2 server: the flight, ChangeCipherSpec, an encrypted Finished
        // (a handshake record) and application data.
        let mut s = record(0x16, 3000);
        s.extend(record(0x16, 300));
        s.extend(record(0x14, 1));
        let cut = s.len() + 5;
        s.extend(record(0x16, 40));
        s.extend(record(0x17, 900));
        assert_eq!(extent(&s), Some(cut));
        // Mid-stream: the first record is already encrypted.
        assert_eq!(extent(&record(0x17, 900)), Some(5));
    }

    #[test]
    fn plaintext_extent_keeps_streams_that_are_not_plainly_tls() {
        // Only plaintext records held (nothing encrypted yet): all kept.
        assert_eq!(extent(&record(0x16, 200)), None);
        // A header that is not TLS after a record, an HTTP response, a bad
        // version, an empty or oversized record: all kept.
        let mut s = record(0x16, 20);
        s.extend_from_slice(b"HTTP/1.1 403 Forbidden\r\n\r\n");
        assert_eq!(extent(&s), None);
        assert_eq!(extent(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(extent(&[0x17, 2, 0, 0, 5, 1, 2, 3, 4, 5]), None);
        assert_eq!(extent(&[0x17, 3, 3, 0, 0]), None);
        assert_eq!(extent(&[0x17, 3, 3, 0x48, 0x01]), None);
        assert_eq!(extent(&[]), None);
    }
}
