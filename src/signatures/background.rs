//! What ordinary HTTP responses are made of, as 4-byte grams: the sampled
//! index ([`super::sampled`]) avoids indexing a literal by a gram that fills
//! every page, because each occurrence of an indexed gram costs a bucket
//! load and a comparison. Byte classes alone do not know that `Cont` starts
//! a header of every response or that `<span` opens half the markup of the
//! web; this text does.
//!
//! Written for this purpose: the header names and values servers send most,
//! the skeleton of an HTML page, and the commonest English words of page
//! text. It is a ranking aid only: a gram missing here is merely not
//! penalised, so no signature can be lost by what this text holds.

/// How often a byte is expected in an HTTP response, roughly: markup,
/// lower-case letters, spaces and digits fill pages; other bytes are rarer.
pub(crate) fn commonness(b: u8) -> u32 {
    match b {
        b' ' | b'<' | b'>' | b'/' | b'"' | b'=' | b'e' | b't' | b'a' | b'o' | b'i' | b'n' => 4,
        b'a'..=b'z' | b'.' | b':' | b'-' | b'\r' | b'\n' | b'\t' => 3,
        b'0'..=b'9' | b'_' | b'\'' | b';' | b',' | b'&' | b'#' => 2,
        _ => 1,
    }
}

/// Where to anchor the search for a short literal: the offset of its
/// `ANCHOR`-byte substring least expected in ordinary responses (ties: the
/// earliest). A SIMD literal search (Teddy) tests a few leading bytes of each
/// of its patterns at every position and checks a pattern wherever they fit;
/// `<br><br>`, `er Gate` or `var xu =` searched from their start fit in
/// every page, while `Gate` or ` xu ` rarely do.
pub(crate) fn anchor_offset(lit: &[u8]) -> usize {
    if lit.len() <= ANCHOR {
        return 0;
    }
    let text = TEXT.as_bytes();
    (0..=lit.len() - ANCHOR)
        .min_by_key(|&k| {
            let g = &lit[k..k + ANCHOR];
            let seen = text.windows(ANCHOR).filter(|w| w == &g).count() as u32;
            seen * 64 + g.iter().map(|&b| commonness(b)).sum::<u32>()
        })
        .unwrap_or(0)
}

/// The length of the substring [`anchor_offset`] ranks: the bytes Teddy
/// fingerprints. It tests as many leading bytes of each pattern as its
/// shortest pattern has, up to 4; with 3, ordinary HTML let it through to its
/// verification so often that the short-literal pass took about a third of
/// the matching time with the published sets (4 bytes: 0.81× the time of the
/// whole match with 2,000 signatures, measured side by side). Literals
/// shorter than this are kept out of its patterns when they are few
/// ([`super::space::Space::build`]).
pub(crate) const ANCHOR: usize = 4;

/// Typical response text. Each gram that occurs in it is treated as common.
pub(crate) const TEXT: &str = concat!(
    "HTTP/1.1 200 OK\r\nHTTP/1.0 302 Found\r\nHTTP/1.1 301 Moved Permanently\r\n",
    "HTTP/1.1 404 Not Found\r\nHTTP/1.1 403 Forbidden\r\nHTTP/1.1 304 Not Modified\r\n",
    "HTTP/1.1 500 Internal Server Error\r\nHTTP/1.1 503 Service Unavailable\r\n",
    "Date: Mon, Tue, Wed, Thu, Fri, Sat, Sun, 01 Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec 2024 12:34:56 GMT\r\n",
    "Server: nginx/1.24.0 Apache/2.4.57 (Debian) (Ubuntu) Microsoft-IIS/10.0 cloudflare\r\n",
    "Content-Type: text/html; charset=utf-8; charset=UTF-8; charset=iso-8859-1\r\n",
    "Content-Type: application/json application/javascript text/css text/plain image/png image/jpeg\r\n",
    "Content-Length: 1234\r\nContent-Encoding: gzip\r\nContent-Language: en\r\n",
    "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\nConnection: close\r\nKeep-Alive: timeout=5, max=100\r\n",
    "Cache-Control: no-cache, no-store, must-revalidate, max-age=0, private, public\r\nPragma: no-cache\r\n",
    "Expires: Thu, 01 Jan 1970 00:00:00 GMT\r\nLast-Modified: \r\nETag: \"5e1f-6b2\"\r\nAccept-Ranges: bytes\r\n",
    "Vary: Accept-Encoding\r\nLocation: http://www.example.com/index.html\r\nLocation: https://\r\n",
    "Set-Cookie: session=abc; path=/; domain=.example.com; expires=; HttpOnly; Secure; SameSite=Lax\r\n",
    "X-Powered-By: PHP/8.2 X-Frame-Options: SAMEORIGIN X-Content-Type-Options: nosniff\r\n",
    "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\nAccess-Control-Allow-Origin: *\r\n",
    "<!DOCTYPE html>\n<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" \"http://www.w3.org/TR/html4/loose.dtd\">\n",
    "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
    "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\n",
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    "<meta name=\"description\" content=\"\">\n<title>Welcome</title>\n",
    "<link rel=\"stylesheet\" type=\"text/css\" href=\"/css/style.css\">\n",
    "<script type=\"text/javascript\" src=\"/js/main.js\"></script>\n<script>window.location.href = document.getElementById(\"\");</script>\n",
    "<style type=\"text/css\">body { margin: 0; padding: 0; font-family: Arial, Helvetica, sans-serif; font-size: 14px; color: #333; background-color: #fff; text-align: center; width: 100%; height: auto; border: none; display: block; }</style>\n",
    "</head>\n<body>\n<div class=\"container\" id=\"main\">\n<div class=\"header\">\n",
    "<span style=\"font-weight: bold\">\n<p>\n<br>\n<br/>\n<h1>Error</h1>\n<h2>\n<h3>\n",
    "<a href=\"https://www.example.org/\" target=\"_blank\">\n<img src=\"/images/logo.png\" alt=\"\" width=\"100\" height=\"50\" />\n",
    "<ul>\n<li>\n</li>\n</ul>\n<table border=\"0\" cellpadding=\"0\" cellspacing=\"0\">\n<tr>\n<td>\n</td>\n</tr>\n</table>\n",
    "<form method=\"post\" action=\"\">\n<input type=\"hidden\" name=\"\" value=\"\">\n</form>\n",
    "<!-- comment -->\n</span>\n</div>\n</div>\n</body>\n</html>\n",
    " the of and to in is that for it as with was on be by this are at from or an have not you your",
    " which all can will more page site information please contact here click home about this",
    " The This Please You Your Page Site Home Error Not Found Forbidden Access Server Service",
    " http://www. https://www. .com .org .net .html .php index",
);
