//! HTTP/1.x response heads, read from the reassembled server stream.
//!
//! Block pages and forged redirects are recognised by what a response says: its
//! status, the `Location`, `Server` and `Via` headers, the first bytes of the
//! body. The head is read from the flow's reassembled stream buffer, so a head
//! split over segments is read whole; a head cut by the buffer yields the lines
//! seen so far. The parser is our own and tolerant (bare `\n` line ends, odd
//! header names): censors' injectors write sloppy HTTP, and sloppiness must not
//! hide them. It borrows from the buffer and allocates only the header list.

/// Most header lines read from one head.
const MAX_HEADERS: usize = 64;

/// A response head and where its body starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse<'a> {
    /// Minor version (`HTTP/1.x`).
    pub version_minor: u8,
    /// Status code.
    pub status: u16,
    /// Reason phrase (may be empty).
    pub reason: &'a [u8],
    /// Header lines as `(name, value)`, values trimmed, in order.
    pub headers: Vec<(&'a [u8], &'a [u8])>,
    /// Length of the head including the blank line, when the head was complete.
    pub head_len: Option<usize>,
    /// The body bytes held after the head (empty when the head was cut).
    pub body: &'a [u8],
}

impl<'a> HttpResponse<'a> {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| *v)
    }

    /// `Location`, as text when it is UTF-8.
    pub fn location(&self) -> Option<&'a str> {
        self.header("location")
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Whether the status is a redirect (301, 302, 303, 307, 308).
    pub fn is_redirect(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
    }
}

/// Whether `b` starts with a status line `HTTP/1.x NNN`.
pub fn is_status_line(b: &[u8]) -> bool {
    b.len() >= 12
        && b.starts_with(b"HTTP/1.")
        && b[7].is_ascii_digit()
        && b[8] == b' '
        && b[9..12].iter().all(u8::is_ascii_digit)
        && b.get(12).is_none_or(|c| matches!(c, b' ' | b'\r' | b'\n'))
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = v {
        if first.is_ascii_whitespace() {
            v = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = v {
        if last.is_ascii_whitespace() {
            v = rest;
        } else {
            break;
        }
    }
    v
}

/// Parses the response head at the start of `b`; `None` if `b` does not start
/// with an HTTP/1.x status line.
pub fn http_response(b: &[u8]) -> Option<HttpResponse<'_>> {
    if !is_status_line(b) {
        return None;
    }
    let status = b[9..12]
        .iter()
        .fold(0u16, |a, d| a * 10 + u16::from(d - b'0'));
    let mut pos = memchr::memchr(b'\n', b).map_or(b.len(), |i| i + 1);
    let reason = trim(b.get(13..pos).unwrap_or(&[]));
    let mut headers = Vec::new();
    let mut head_len = None;
    while pos < b.len() {
        let end = memchr::memchr(b'\n', &b[pos..]).map(|i| pos + i);
        let line = &b[pos..end.unwrap_or(b.len())];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if let Some(e) = end {
                head_len = Some(e + 1);
            }
            break;
        }
        let Some(e) = end else {
            // A line cut by the buffer: keep it if it is a whole `name: value`.
            break;
        };
        if let Some(colon) = memchr::memchr(b':', line) {
            if headers.len() < MAX_HEADERS {
                headers.push((trim(&line[..colon]), trim(&line[colon + 1..])));
            }
        }
        pos = e + 1;
    }
    Some(HttpResponse {
        version_minor: b[7] - b'0',
        status,
        reason,
        headers,
        head_len,
        body: head_len.map_or(&[][..], |h| &b[h..]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_and_cut_heads() {
        let r = http_response(
            b"HTTP/1.1 302 Found\r\nLocation: http://10.10.34.34/?x\r\nServer:  nginx \r\n\r\n<html>",
        )
        .unwrap();
        assert_eq!(r.status, 302);
        assert!(r.is_redirect());
        assert_eq!(r.location(), Some("http://10.10.34.34/?x"));
        assert_eq!(r.header("SERVER"), Some(&b"nginx"[..]));
        assert_eq!(r.body, b"<html>");
        assert_eq!(r.head_len, Some(72));
        // Bare newlines, a head cut mid-line.
        let r = http_response(b"HTTP/1.0 200 OK\nVia: 1.1 proxy\nContent-Ty").unwrap();
        assert_eq!(r.header("via"), Some(&b"1.1 proxy"[..]));
        assert_eq!(r.headers.len(), 1);
        assert!(r.head_len.is_none() && r.body.is_empty());
        assert!(http_response(b"HTTP/1.1 2000").is_none());
        assert!(http_response(b"GET / HTTP/1.1\r\n").is_none());
        assert!(http_response(b"HTTP/1.1 404").is_some());
    }

    #[test]
    fn every_prefix_is_safe() {
        let b = b"HTTP/1.1 200 OK\r\nA: b\r\nC:\r\n\r\nbody";
        for n in 0..=b.len() {
            let _ = http_response(&b[..n]);
        }
    }
}
