//! Writing records as JSON Lines.
//!
//! Flow records are the bulk of the output (one per flow, tens of thousands a
//! second), so they are written field by field here rather than through serde,
//! into a line buffer each thread reuses and hands to the writer whole: the
//! field names are constants, integers go through `itoa`, and strings are
//! copied as they are unless they hold a byte JSON must escape, in which case
//! serde_json writes that one string. The bytes are the same as serde_json's
//! (tested below). Findings and the stats record go through serde.

use std::io::{self, Write};

use std::net::IpAddr;

use super::{FlowRecord, FlowVerdict, Record};

/// Writes one record as a JSON line.
pub fn write_record<W: Write>(w: &mut W, rec: &Record) -> io::Result<()> {
    match rec {
        Record::Flow(f) => write_flow(w, f),
        other => super::write_line(w, other),
    }
}

thread_local! {
    /// The line a flow record is put together in (kept from record to record):
    /// the writer then gets one call per record instead of one per field.
    static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Writes a flow record as a JSON line, byte for byte what serde_json writes.
pub fn write_flow<W: Write>(w: &mut W, r: &FlowRecord) -> io::Result<()> {
    LINE.with_borrow_mut(|line| {
        line.clear();
        flow_line(line, r)?;
        w.write_all(line)
    })
}

/// Puts a flow record's JSON line together in `line`.
fn flow_line(line: &mut Vec<u8>, r: &FlowRecord) -> io::Result<()> {
    let mut o = Out {
        w: line,
        n: itoa::Buffer::new(),
    };
    o.raw(b"{\"event_type\":")?;
    o.str(r.event_type)?;
    o.raw(b",\"timestamp\":\"")?;
    o.raw(r.timestamp.rfc3339().as_str().as_bytes())?;
    o.raw(b"\"")?;
    o.raw(b",\"flow_id\":")?;
    o.int(r.flow_id)?;
    o.raw(b",\"src_ip\":")?;
    o.ip(r.src_ip)?;
    o.raw(b",\"src_port\":")?;
    o.int(u64::from(r.src_port))?;
    o.raw(b",\"dest_ip\":")?;
    o.ip(r.dest_ip)?;
    o.raw(b",\"dest_port\":")?;
    o.int(u64::from(r.dest_port))?;
    o.raw(b",\"proto\":")?;
    o.str(&r.proto)?;
    if let Some(t) = r.tunnel {
        o.raw(b",\"tunnel\":")?;
        o.str(t)?;
    }
    o.raw(b",\"app_proto\":")?;
    o.str(r.app_proto)?;
    o.raw(b",\"app_proto_confidence\":")?;
    o.opt(r.app_proto_confidence)?;
    o.raw(b",\"first_frame\":")?;
    o.int(r.first_frame)?;
    o.raw(b",\"last_frame\":")?;
    o.int(r.last_frame)?;
    o.raw(b",\"pkts_toserver\":")?;
    o.int(r.pkts_toserver)?;
    o.raw(b",\"pkts_toclient\":")?;
    o.int(r.pkts_toclient)?;
    o.raw(b",\"bytes_toserver\":")?;
    o.int(r.bytes_toserver)?;
    o.raw(b",\"bytes_toclient\":")?;
    o.int(r.bytes_toclient)?;
    o.raw(b",\"conn_state\":")?;
    o.str(r.conn_state)?;
    o.raw(b",\"history\":")?;
    o.str(r.history.as_str())?;
    o.raw(b",\"sni\":")?;
    o.opt(r.sni.as_deref())?;
    o.raw(b",\"http_host\":")?;
    o.opt(r.http_host.as_deref())?;
    o.raw(b",\"dns_qname\":")?;
    o.opt(r.dns_qname.as_deref())?;
    o.raw(b",\"verdict\":")?;
    match &r.verdict {
        FlowVerdict::Tampered(kinds) => {
            o.raw(b"[")?;
            for (i, k) in kinds.iter().enumerate() {
                if i > 0 {
                    o.raw(b",")?;
                }
                o.str(k)?;
            }
            o.raw(b"]")?;
        }
        _ => o.raw(b"\"ok\"")?,
    }
    o.raw(b"}\n")
}

struct Out<'w> {
    w: &'w mut Vec<u8>,
    n: itoa::Buffer,
}

impl Out<'_> {
    #[inline]
    fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.extend_from_slice(b);
        Ok(())
    }

    #[inline]
    fn int(&mut self, v: u64) -> io::Result<()> {
        let s = self.n.format(v);
        self.w.extend_from_slice(s.as_bytes());
        Ok(())
    }

    fn str(&mut self, s: &str) -> io::Result<()> {
        if needs_escape(s.as_bytes()) {
            return serde_json::to_writer(&mut *self.w, s).map_err(io::Error::other);
        }
        self.w.push(b'"');
        self.w.extend_from_slice(s.as_bytes());
        self.w.push(b'"');
        Ok(())
    }

    /// An address in quotes (IPv4 digit by digit, straight into the line).
    fn ip(&mut self, a: IpAddr) -> io::Result<()> {
        self.w.push(b'"');
        match a {
            IpAddr::V4(v4) => {
                for (i, o) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        self.w.push(b'.');
                    }
                    if o >= 100 {
                        self.w.push(b'0' + o / 100);
                    }
                    if o >= 10 {
                        self.w.push(b'0' + o / 10 % 10);
                    }
                    self.w.push(b'0' + o % 10);
                }
            }
            IpAddr::V6(v6) => write!(self.w, "{v6}")?,
        }
        self.w.push(b'"');
        Ok(())
    }

    fn opt(&mut self, s: Option<&str>) -> io::Result<()> {
        match s {
            Some(s) => self.str(s),
            None => self.raw(b"null"),
        }
    }
}

/// Whether `b` holds a byte JSON escapes (a control character, `"` or `\\`),
/// eight bytes at a time. It may say yes for a string that needs nothing (the
/// word tricks can carry into a neighbouring byte); such a string just goes
/// through serde_json. It never says no for one that needs escaping.
fn needs_escape(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        let v = u64::from_le_bytes(a);
        let control = v.wrapping_sub(ONES * 0x20) & !v & HIGH != 0;
        if control
            || has_zero(v ^ (ONES * u64::from(b'"')))
            || has_zero(v ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&c| c < 0x20 || c == b'"' || c == b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(odd: &str, some: bool) -> FlowRecord {
        FlowRecord {
            event_type: "flow",
            timestamp: crate::capture::Timestamp(1_795_861_204_921_681_000),
            flow_id: u64::MAX >> 11,
            src_ip: "2001:db8::1".parse().expect("address"),
            src_port: 0,
            dest_ip: if some {
                "10.200.0.1".parse().expect("address")
            } else {
                "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
                    .parse()
                    .expect("address")
            },
            dest_port: 65535,
            proto: "ip-253".into(),
            tunnel: some.then_some("gtp-u"),
            app_proto: "dns",
            app_proto_confidence: some.then_some("certain"),
            first_frame: 1,
            last_frame: 1 << 40,
            pkts_toserver: 0,
            pkts_toclient: 7,
            bytes_toserver: 1500,
            bytes_toclient: 99,
            conn_state: "SF",
            history: super::super::History::new("ShADadFf"),
            sni: some.then(|| odd.to_string()),
            http_host: some.then(|| format!("{odd}.example")),
            dns_qname: None,
            verdict: if some {
                FlowVerdict::Tampered(vec!["dns.injection", "tcp.injected_rst"])
            } else {
                FlowVerdict::Ok
            },
        }
    }

    #[test]
    fn escape_check_never_misses() {
        for i in 0..300usize {
            for bad in [0x00u8, 0x1f, b'"', b'\\', b'\n'] {
                let mut s = vec![b'a'; i % 23 + 1];
                let at = i % s.len();
                s[at] = bad;
                assert!(needs_escape(&s), "{s:?}");
            }
            let fine: Vec<u8> = (0..(i % 40)).map(|k| b' ' + (k as u8 % 60)).collect();
            let expected = fine.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\');
            if expected {
                assert!(needs_escape(&fine));
            }
        }
        assert!(!needs_escape(b"2026-11-28T10:13:24.921681Z"));
        assert!(!needs_escape("ünïcødé.example".as_bytes()));
    }

    /// IPv4 addresses are written digit by digit: every octet width, against
    /// std's formatting.
    #[test]
    fn ipv4_digits_match_display() {
        for o in [0u8, 1, 9, 10, 42, 99, 100, 101, 199, 200, 249, 250, 255] {
            for a in [
                std::net::Ipv4Addr::new(o, o, o, o),
                std::net::Ipv4Addr::new(o, 0, 255, o.wrapping_add(7)),
            ] {
                let mut line = Vec::new();
                let mut out = Out {
                    w: &mut line,
                    n: itoa::Buffer::new(),
                };
                out.ip(IpAddr::V4(a)).expect("ip");
                assert_eq!(String::from_utf8_lossy(&line), format!("\"{a}\""));
            }
        }
    }

    #[test]
    fn same_bytes_as_serde_json() {
        for odd in [
            "plain",
            "quote\"d",
            "back\\slash",
            "tab\there\nnl\u{1}\u{1f}",
            "ünï/cødé\u{7f}",
            "",
        ] {
            for some in [true, false] {
                let r = record(odd, some);
                let mut ours = Vec::new();
                write_flow(&mut ours, &r).expect("write");
                let mut theirs = serde_json::to_vec(&r).expect("serde");
                theirs.push(b'\n');
                assert_eq!(
                    String::from_utf8_lossy(&ours),
                    String::from_utf8_lossy(&theirs)
                );
                let mut via_record = Vec::new();
                write_record(&mut via_record, &Record::Flow(r)).expect("write");
                assert_eq!(via_record, theirs);
            }
        }
    }
}
