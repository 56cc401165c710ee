//! Whole DNS messages: header, questions, answers (A, AAAA, CNAME), TTLs, EDNS.
//!
//! DNS injection is judged by comparing answers to one query, and injectors are
//! told apart by how they write them: the flag word, the answer TTL, whether the
//! answer name is a compression pointer, how many pointer jumps a name takes
//! (Geedge's injector is documented to follow at most 17). The parser keeps
//! those facts. Names follow compression pointers at most
//! [`MAX_POINTER_JUMPS`] times, so a pointer loop ends the parse instead of the
//! program. DNS over TCP is split into messages by [`tcp_messages`].

use std::net::{Ipv4Addr, Ipv6Addr};

/// Most compression pointers followed while reading one name.
pub const MAX_POINTER_JUMPS: u8 = 32;
/// Most questions or records read from one section.
const MAX_RECORDS: usize = 64;

/// Why a message could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The message ends inside a field.
    #[error("DNS message truncated")]
    Truncated,
    /// A label length byte uses the reserved 0x40/0x80 forms.
    #[error("bad label type")]
    BadLabel,
    /// A name follows more than [`MAX_POINTER_JUMPS`] pointers.
    #[error("compression pointer loop")]
    PointerLoop,
    /// A name longer than 255 bytes.
    #[error("name too long")]
    NameTooLong,
}

/// A question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsQuestion {
    /// The name, lower-cased, without the trailing dot.
    pub name: String,
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
}

/// Record data we read.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RData {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Canonical name (lower-cased).
    Cname(String),
    /// Another type: its length only.
    Other(u16),
}

/// An answer record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsRecord {
    /// Owner name (lower-cased).
    pub name: String,
    /// TYPE.
    pub rtype: u16,
    /// CLASS.
    pub class: u16,
    /// TTL in seconds.
    pub ttl: u32,
    /// The data.
    pub data: RData,
    /// The owner name was written as a compression pointer.
    pub name_compressed: bool,
}

/// The EDNS OPT pseudo-record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns {
    /// Advertised UDP payload size.
    pub udp_size: u16,
    /// EDNS version.
    pub version: u8,
    /// DNSSEC OK bit.
    pub dnssec_ok: bool,
}

/// A parsed message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsMessage {
    /// Transaction id.
    pub id: u16,
    /// The flag word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE).
    pub flags: u16,
    /// Questions.
    pub questions: Vec<DnsQuestion>,
    /// Answer section.
    pub answers: Vec<DnsRecord>,
    /// Authority records (counted from the header).
    pub authority_count: u16,
    /// Additional records (counted from the header).
    pub additional_count: u16,
    /// The OPT record, when present and readable.
    pub edns: Option<Edns>,
    /// The most pointer jumps any name of the message needed.
    pub max_pointer_jumps: u8,
    /// Bytes after the last section (some injectors echo the query's tail).
    pub trailing_bytes: usize,
}

impl DnsMessage {
    /// A response (QR set).
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    /// Authoritative Answer.
    pub fn aa(&self) -> bool {
        self.flags & 0x0400 != 0
    }
    /// Recursion Desired.
    pub fn rd(&self) -> bool {
        self.flags & 0x0100 != 0
    }
    /// Recursion Available.
    pub fn ra(&self) -> bool {
        self.flags & 0x0080 != 0
    }
    /// Response code (the low 4 bits).
    pub fn rcode(&self) -> u8 {
        (self.flags & 0x000f) as u8
    }
    /// The first question.
    pub fn question(&self) -> Option<&DnsQuestion> {
        self.questions.first()
    }
    /// The A and AAAA addresses of the answer section.
    pub fn addresses(&self) -> impl Iterator<Item = std::net::IpAddr> + '_ {
        self.answers.iter().filter_map(|r| match r.data {
            RData::A(a) => Some(a.into()),
            RData::Aaaa(a) => Some(a.into()),
            _ => None,
        })
    }
}

struct Reader<'a> {
    m: &'a [u8],
    pos: usize,
    max_jumps: u8,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DnsError> {
        let s = self
            .m
            .get(self.pos..self.pos + n)
            .ok_or(DnsError::Truncated)?;
        self.pos += n;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, DnsError> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, DnsError> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    /// Reads a name at the cursor; returns it and whether it started with a pointer.
    fn name(&mut self) -> Result<(String, bool), DnsError> {
        let mut name = Vec::with_capacity(64);
        let (next, jumps, compressed) = read_name(self.m, self.pos, Some(&mut name))?;
        let name = ascii_text(name);
        self.pos = next;
        self.max_jumps = self.max_jumps.max(jumps);
        Ok((name, compressed))
    }

    /// Checks and steps over a name that is not kept (authority and additional
    /// records): the same errors as [`name`](Reader::name), no allocation.
    fn skip_name(&mut self) -> Result<bool, DnsError> {
        let (next, jumps, compressed) = read_name(self.m, self.pos, None)?;
        self.pos = next;
        self.max_jumps = self.max_jumps.max(jumps);
        Ok(compressed)
    }
}

/// Appends a label with bytes that are not printable ASCII, each of those as
/// `\ddd` so that the name stays readable and unambiguous.
fn push_escaped_label(label: &[u8], text_len: &mut usize, mut out: Option<&mut Vec<u8>>) {
    for &c in label {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_graphic() {
            *text_len += 1;
            if let Some(name) = out.as_deref_mut() {
                name.push(c);
            }
        } else {
            *text_len += 4;
            if let Some(name) = out.as_deref_mut() {
                name.extend_from_slice(&[b'\\', b'0' + c / 100, b'0' + c / 10 % 10, b'0' + c % 10]);
            }
        }
    }
}

/// A name read by [`read_name`] as text: it holds printable ASCII only.
fn ascii_text(name: Vec<u8>) -> String {
    String::from_utf8(name).unwrap_or_default()
}

/// Reads the name at `start` into `out` (when given): returns the offset after
/// it, the pointer jumps, and whether the first label was a pointer.
fn read_name(
    m: &[u8],
    start: usize,
    mut out: Option<&mut Vec<u8>>,
) -> Result<(usize, u8, bool), DnsError> {
    // Length of the text form, counted even when it is not built.
    let mut text_len = 0usize;
    let mut i = start;
    let mut after = None;
    let mut jumps = 0u8;
    let compressed = m.get(start).is_some_and(|b| b & 0xc0 == 0xc0);
    loop {
        let len = *m.get(i).ok_or(DnsError::Truncated)?;
        match len {
            0 => {
                after.get_or_insert(i + 1);
                break;
            }
            l if l & 0xc0 == 0xc0 => {
                jumps += 1;
                if jumps > MAX_POINTER_JUMPS {
                    return Err(DnsError::PointerLoop);
                }
                let lo = *m.get(i + 1).ok_or(DnsError::Truncated)?;
                after.get_or_insert(i + 2);
                i = (usize::from(l & 0x3f) << 8) | usize::from(lo);
            }
            l if l < 64 => {
                let l = usize::from(l);
                let label = m.get(i + 1..i + 1 + l).ok_or(DnsError::Truncated)?;
                if text_len > 0 {
                    text_len += 1;
                    if let Some(name) = out.as_deref_mut() {
                        name.push(b'.');
                    }
                }
                if label.iter().all(u8::is_ascii_graphic) {
                    // The usual label: copied lower-cased (lower-casing keeps a
                    // byte printable), with no per-byte escaping decisions.
                    text_len += l;
                    if let Some(name) = out.as_deref_mut() {
                        name.extend(label.iter().map(u8::to_ascii_lowercase));
                    }
                } else {
                    push_escaped_label(label, &mut text_len, out.as_deref_mut());
                }
                if text_len > 255 {
                    return Err(DnsError::NameTooLong);
                }
                i += 1 + l;
            }
            _ => return Err(DnsError::BadLabel),
        }
    }
    Ok((after.unwrap_or(i + 1), jumps, compressed))
}

/// Parses one DNS message (without the TCP length prefix).
pub fn parse_dns(m: &[u8]) -> Result<DnsMessage, DnsError> {
    let mut r = Reader {
        m,
        pos: 0,
        max_jumps: 0,
    };
    let id = r.u16()?;
    let flags = r.u16()?;
    let qd = r.u16()?;
    let an = r.u16()?;
    let ns = r.u16()?;
    let ar = r.u16()?;
    let mut questions = Vec::new();
    for _ in 0..qd {
        let (name, _) = r.name()?;
        let qtype = r.u16()?;
        let qclass = r.u16()?;
        if questions.len() < MAX_RECORDS {
            questions.push(DnsQuestion {
                name,
                qtype,
                qclass,
            });
        }
    }
    let mut answers = Vec::new();
    let mut edns = None;
    let total = usize::from(an) + usize::from(ns) + usize::from(ar);
    for i in 0..total {
        let (name, name_compressed) = if i < usize::from(an) {
            r.name()?
        } else {
            (String::new(), r.skip_name()?)
        };
        let rtype = r.u16()?;
        let class = r.u16()?;
        let ttl = r.u32()?;
        let rdlen = r.u16()?;
        let rd_start = r.pos;
        let rdata = r.take(usize::from(rdlen))?;
        if i < usize::from(an) {
            let data = match (rtype, rdlen) {
                (1, 4) => RData::A(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3])),
                (28, 16) => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(rdata);
                    RData::Aaaa(Ipv6Addr::from(a))
                }
                (5, _) => {
                    let mut cname = Vec::with_capacity(64);
                    read_name(m, rd_start, Some(&mut cname))?;
                    let cname = ascii_text(cname);
                    RData::Cname(cname)
                }
                _ => RData::Other(rdlen),
            };
            if answers.len() < MAX_RECORDS {
                answers.push(DnsRecord {
                    name,
                    rtype,
                    class,
                    ttl,
                    data,
                    name_compressed,
                });
            }
        } else if rtype == 41 && i >= usize::from(an) + usize::from(ns) && edns.is_none() {
            edns = Some(Edns {
                udp_size: class,
                version: (ttl >> 16) as u8,
                dnssec_ok: ttl & 0x8000 != 0,
            });
        }
    }
    Ok(DnsMessage {
        id,
        flags,
        questions,
        answers,
        authority_count: ns,
        additional_count: ar,
        edns,
        max_pointer_jumps: r.max_jumps,
        trailing_bytes: m.len().saturating_sub(r.pos),
    })
}

/// Splits a DNS-over-TCP byte stream into messages: `(stream offset of the
/// message, message bytes)`. Stops at the first message cut by the buffer.
pub fn tcp_messages(stream: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(len) = stream.get(pos..pos + 2) {
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let Some(m) = stream.get(pos + 2..pos + 2 + len) else {
            break;
        };
        out.push((pos, m));
        pos += 2 + len;
        if out.len() >= MAX_RECORDS {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESP: &[u8] = b"\x5c\x1e\x81\x80\x00\x01\x00\x02\x00\x00\x00\x01\
\x05360tv\x07example\x00\x00\x01\x00\x01\
\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x06\x03cdn\xc0\x12\
\xc0\x2b\x00\x01\x00\x01\x00\x00\x00\xea\x00\x04\xc6\x33\x64\x9d\
\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x00";

    #[test]
    fn full_response() {
        let m = parse_dns(RESP).unwrap();
        assert_eq!((m.id, m.flags), (0x5c1e, 0x8180));
        assert!(m.is_response() && m.rd() && m.ra() && !m.aa());
        assert_eq!(m.question().unwrap().name, "360tv.example");
        assert_eq!(m.answers.len(), 2);
        assert_eq!(m.answers[0].data, RData::Cname("cdn.example".into()));
        assert!(m.answers[0].name_compressed);
        assert_eq!(m.answers[1].name, "cdn.example");
        assert_eq!(m.answers[1].ttl, 234);
        assert_eq!(
            m.answers[1].data,
            RData::A(Ipv4Addr::new(198, 51, 100, 157))
        );
        assert_eq!(m.max_pointer_jumps, 2);
        assert_eq!(
            m.edns,
            Some(Edns {
                udp_size: 1232,
                version: 0,
                dnssec_ok: true
            })
        );
        assert_eq!(m.trailing_bytes, 0);
    }

    /// Names are lower-cased, and bytes that are not printable ASCII are
    /// written `\ddd`, in a label of their own or among plain ones.
    #[test]
    fn names_lower_cased_and_escaped() {
        let q = b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\
\x03WwW\x04a b\x01\x07ExAmPlE\x00\x00\x01\x00\x01";
        let m = parse_dns(q).unwrap();
        assert_eq!(m.question().unwrap().name, "www.a\\032b\\001.example");
        let mut long = b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00".to_vec();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'A'; 63]);
        }
        long.extend_from_slice(b"\x00\x00\x01\x00\x01");
        assert_eq!(parse_dns(&long).err(), Some(DnsError::NameTooLong));
    }

    #[test]
    fn loops_and_prefixes_end_cleanly() {
        let looped = b"\x12\x34\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01";
        assert_eq!(parse_dns(looped), Err(DnsError::PointerLoop));
        for n in 0..RESP.len() {
            assert!(parse_dns(&RESP[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn tcp_framing() {
        let mut s = vec![0, RESP.len() as u8];
        s.extend_from_slice(RESP);
        s.extend_from_slice(&[0, 50, 1, 2]);
        let v = tcp_messages(&s);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].1, RESP);
    }
}
