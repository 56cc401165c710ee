//! TLS ClientHello: recognising one and reading its server name.
//!
//! Reads the handshake message from the reassembled stream, across TLS records
//! (a post-quantum ClientHello often spans two records and several segments).

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

/// Concatenates the handshake bytes of consecutive records until the first
/// message is complete; returns the message body (after its 4-byte header).
fn handshake_message(b: &[u8]) -> Option<Vec<u8>> {
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
                return Some(hs.split_off(4));
            }
        }
        if end < i + 5 + len {
            return None;
        }
        i = end;
    }
    None
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
    let body = handshake_message(b)?;
    let mut r = Reader { b: &body };
    r.take(2 + 32)?; // version, random
    let sid = r.u8()?;
    r.take(sid)?;
    let cs = r.u16()?;
    r.take(cs)?;
    let comp = r.u8()?;
    r.take(comp)?;
    let ext_len = r.u16()?;
    let mut ext = Reader {
        b: r.take(ext_len.min(r.b.len()))?,
    };
    while let (Some(ty), Some(len)) = (ext.u16(), ext.u16()) {
        let data = ext.take(len)?;
        if ty == 0 {
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
        }
    }
    None
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
}
