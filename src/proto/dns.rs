//! DNS: the query name of a message.

/// The first question's name of the DNS message `m`, lower-cased, following
/// compression pointers at most 32 times.
pub fn dns_qname(m: &[u8]) -> Option<String> {
    if m.len() < 12 {
        return None;
    }
    let qd = u16::from_be_bytes([m[4], m[5]]);
    if qd == 0 || m[2] & 0x78 != 0 {
        // No question, or an opcode other than QUERY.
        return None;
    }
    let mut name = String::new();
    let mut i = 12;
    let mut jumps = 0;
    loop {
        let len = usize::from(*m.get(i)?);
        match len {
            0 => break,
            l if l & 0xc0 == 0xc0 => {
                jumps += 1;
                if jumps > 32 {
                    return None;
                }
                i = ((l & 0x3f) << 8) | usize::from(*m.get(i + 1)?);
            }
            l if l < 64 => {
                let label = m.get(i + 1..i + 1 + l)?;
                if !name.is_empty() {
                    name.push('.');
                }
                for &c in label {
                    if !c.is_ascii_graphic() {
                        return None;
                    }
                    name.push(c.to_ascii_lowercase() as char);
                }
                if name.len() > 253 {
                    return None;
                }
                i += 1 + l;
            }
            _ => return None,
        }
    }
    // The root name is legitimate but names nothing a censor keys on.
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qname_and_pointer_loop() {
        let q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07Example\x03com\x00\x00\x01\x00\x01";
        assert_eq!(dns_qname(q).as_deref(), Some("example.com"));
        let looped = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c";
        assert_eq!(dns_qname(looped), None);
    }
}
