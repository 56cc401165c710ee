//! HTTP/1.x request heads (httparse), enough to name the Host a censor keyed on.

/// The parts of a request head we keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: String,
    /// Request target.
    pub path: String,
    /// Host header (or the authority of an absolute target).
    pub host: Option<String>,
}

const METHODS: [&[u8]; 24] = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"CONNECT ",
    b"PATCH ",
    b"TRACE ",
    // WebDAV, CalDAV, UPnP/GENA and streaming extensions.
    b"PROPFIND ",
    b"PROPPATCH ",
    b"MKCOL ",
    b"COPY ",
    b"MOVE ",
    b"LOCK ",
    b"UNLOCK ",
    b"REPORT ",
    b"SEARCH ",
    b"MKCALENDAR ",
    b"NOTIFY ",
    b"SUBSCRIBE ",
    b"UNSUBSCRIBE ",
    b"M-SEARCH ",
    b"SOURCE ",
];

/// Parses the request head at the start of `b`; `None` if it is not HTTP/1.x.
/// A head cut by the buffer still yields the method, target and any Host seen.
pub fn http_request(b: &[u8]) -> Option<HttpRequest> {
    if !METHODS.iter().any(|m| b.starts_with(m)) {
        return None;
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let complete = req.parse(b);
    let (method, path) = match (&complete, req.method, req.path) {
        (Ok(_), Some(m), Some(p)) => (m.to_string(), p.to_string()),
        _ => {
            // Partial or malformed head: read the request line by hand.
            let line_end = memchr::memchr(b'\n', b).unwrap_or(b.len());
            let line = std::str::from_utf8(&b[..line_end]).ok()?;
            let mut it = line.split(' ');
            let (m, p, v) = (it.next()?, it.next()?, it.next()?);
            if !v.trim_end().starts_with("HTTP/1.") {
                return None;
            }
            (m.to_string(), p.to_string())
        }
    };
    let mut host = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("host"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .map(|v| v.trim().to_string());
    if host.is_none() {
        // A head that httparse could not finish: look for the header line itself.
        host = find_host_line(b);
    }
    if host.is_none() {
        if let Some(rest) = path
            .strip_prefix("http://")
            .or_else(|| path.strip_prefix("https://"))
        {
            host = rest.split('/').next().map(str::to_string);
        }
    }
    Some(HttpRequest { method, path, host })
}

/// Whether `d` starts with an HTTP/1.x status line (`HTTP/1.1 200 `).
fn status_line(d: &[u8]) -> bool {
    d.starts_with(b"HTTP/1.")
        && d.get(8..13)
            .is_some_and(|c| c[0] == b' ' && c[1..4].iter().all(u8::is_ascii_digit) && c[4] == b' ')
}

/// A request line whose target httparse would not take (spaces, control bytes:
/// attacks and broken clients) but that names a method and an HTTP/1.x version.
pub(super) fn loose_request_line(b: &[u8]) -> bool {
    if !METHODS.iter().any(|m| b.starts_with(m)) {
        return false;
    }
    let line = &b[..memchr::memchr(b'\n', b).unwrap_or(b.len()).min(8192)];
    memchr::memmem::rfind(line, b" HTTP/1.").is_some()
}

/// HTTP when the request head was not readable from the client's side: a
/// response head from either side (the capture may have started after the
/// request, making the server look like the client), or a request sent by the
/// side that looks like the server.
pub(super) fn probe_response(v: &super::View<'_>) -> Option<super::Confidence> {
    (status_line(v.down) || status_line(v.up) || loose_request_line(v.up))
        .then_some(super::Confidence::Likely)
}

fn find_host_line(b: &[u8]) -> Option<String> {
    let head_end = memchr::memmem::find(b, b"\r\n\r\n").unwrap_or(b.len());
    for line in b[..head_end].split(|&c| c == b'\n').skip(1) {
        if line.len() > 5 && line[..5].eq_ignore_ascii_case(b"host:") {
            let v = std::str::from_utf8(&line[5..]).ok()?.trim();
            return (!v.is_empty()).then(|| v.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_from_whole_and_cut_heads() {
        let r = http_request(b"GET /x HTTP/1.1\r\nHost: blocked.example\r\nUser-Agent: c\r\n\r\n")
            .unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/x"));
        assert_eq!(r.host.as_deref(), Some("blocked.example"));
        let r = http_request(b"GET / HTTP/1.1\r\nhost: a.example\r\nAcc").unwrap();
        assert_eq!(r.host.as_deref(), Some("a.example"));
        assert!(http_request(b"\x16\x03\x01\x02\x00").is_none());
        assert!(http_request(b"GETTING").is_none());
    }
}
