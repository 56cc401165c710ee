//! A small RFC 4180 CSV reader (quoted fields, doubled quotes, newlines inside
//! quotes): enough for OONI's fingerprint files without another dependency.

/// Splits `text` into records of fields.
pub(crate) fn records(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rec = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => rec.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                rec.push(std::mem::take(&mut field));
                out.push(std::mem::take(&mut rec));
                any = false;
            }
            _ => field.push(c),
        }
    }
    if any {
        rec.push(field);
        out.push(rec);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_and_newlines() {
        let r = super::records("a,b,c\r\n1,\"x,y\",\"say \"\"hi\"\"\nthere\"\n2,,\n");
        assert_eq!(r.len(), 3);
        assert_eq!(r[1], vec!["1", "x,y", "say \"hi\"\nthere"]);
        assert_eq!(r[2], vec!["2", "", ""]);
    }
}
